//! The server's connection loop: every [`Conn`] from [`Incoming`] served over HTTP/2 by
//! hyper in a task of its own, and the connections' lives bounded.
//!
//! - **Handshake.** A connection that has not sent its whole HTTP/2 client preface by
//!   its handshake deadline ([`Conn::handshake_deadline`]) is closed.
//! - **Idle.** A connection with no open stream (no request being answered) for the idle
//!   timeout is told to go away (GOAWAY) and closed.
//! - **Dead peers.** hyper pings every keepalive interval and closes the connection when
//!   a ping is not answered within the keepalive timeout.
//! - **Shutdown.** On the first [`Shutdown`] request the listener closes and every
//!   connection is told to go away, finishing the requests it has open. The loop waits
//!   for them at most the grace period, and no longer once a second request comes; then
//!   it closes the connections left (logged with their number) and returns.
//!
//! Every request carries its connection's [`PeerInfo`] in its extensions, as tonic's
//! own server puts it there.

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body::Body;
use hyper::server::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_stream::StreamExt;
use tower::util::BoxCloneService;
use tower::{Service, ServiceExt};

use super::{Conn, Incoming, PeerInfo, Shutdown};

/// Errors of the services the loop serves (tonic's `BoxError`).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What the loop serves on every connection: all of the server's services and layers.
pub type HttpService =
    BoxCloneService<http::Request<tonic::body::Body>, http::Response<tonic::body::Body>, BoxError>;

/// HTTP/2 settings and the connections' time limits.
#[derive(Clone, Debug)]
pub struct ConnectionSettings {
    /// Streams one connection may have open at once.
    pub max_concurrent_streams: u32,
    /// Flow-control window of one stream.
    pub stream_window: u32,
    /// Flow-control window of one connection.
    pub connection_window: u32,
    /// How often a connection is pinged; `None`: never.
    pub keepalive_interval: Option<Duration>,
    /// How long a ping may go unanswered before its connection is closed.
    pub keepalive_timeout: Duration,
    /// How long a connection may have no open stream before it is closed; `None`: no limit.
    pub idle_timeout: Option<Duration>,
    /// How long shutdown waits for the open connections to finish.
    pub shutdown_grace: Duration,
}

/// How the connection loop ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stopped {
    /// Connections closed because the grace period ran out or a second stop was
    /// asked for; 0 when every connection finished in time.
    pub cut_off: usize,
}

/// Serves the connections of `incoming` until `shutdown` is requested, then runs
/// `draining` (ends streams, turns health NOT_SERVING), tells every connection to go
/// away and waits for them, for at most `settings.shutdown_grace` (or until a second
/// stop request); the connections left are closed before it returns.
pub async fn serve_connections(
    incoming: Incoming,
    service: HttpService,
    settings: &ConnectionSettings,
    shutdown: &Shutdown,
    draining: impl Future<Output = ()>,
) -> Stopped {
    let mut builder = http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .max_concurrent_streams(settings.max_concurrent_streams)
        .initial_stream_window_size(settings.stream_window)
        .initial_connection_window_size(settings.connection_window)
        .keep_alive_interval(settings.keepalive_interval)
        .keep_alive_timeout(settings.keepalive_timeout);
    let (go_away, going_away) = watch::channel(false);
    let mut connections = JoinSet::new();
    {
        let mut incoming = pin!(incoming);
        let mut stop = pin!(shutdown.requested(1));
        loop {
            tokio::select! {
                _ = &mut stop => break,
                conn = incoming.next() => match conn {
                    Some(Ok(conn)) => {
                        connections.spawn(serve_one(
                            conn,
                            service.clone(),
                            builder.clone(),
                            going_away.clone(),
                            settings.idle_timeout,
                        ));
                    }
                    Some(Err(never)) => match never {},
                    None => break,
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        // `incoming` is dropped here: the listening socket closes.
    }
    draining.await;
    let _ = go_away.send(true);
    let open = connections.len();
    if open > 0 {
        tracing::info!(connections = open, grace = ?settings.shutdown_grace, "waiting for open connections to finish");
    }
    let mut grace = pin!(tokio::time::sleep(settings.shutdown_grace));
    let mut again = pin!(shutdown.requested(2));
    let why = loop {
        tokio::select! {
            next = connections.join_next() => if next.is_none() {
                return Stopped { cut_off: 0 };
            },
            _ = &mut grace => break "the shutdown grace period ended",
            _ = &mut again => break "a second stop signal came",
        }
    };
    let left = connections.len();
    tracing::warn!(
        connections = left,
        reason = why,
        "stopped waiting for {left} connections: closing them"
    );
    connections.shutdown().await;
    Stopped { cut_off: left }
}

/// Serves one connection until it ends, closing it when its preface does not come in
/// time and telling it to go away when idle or when the server shuts down.
async fn serve_one(
    conn: Conn,
    service: HttpService,
    builder: http2::Builder<TokioExecutor>,
    mut going_away: watch::Receiver<bool>,
    idle_timeout: Option<Duration>,
) {
    let remote = conn.peer().remote;
    let preface = conn.preface();
    let handshake_deadline = conn.handshake_deadline();
    let (streams, open_streams) = watch::channel(0usize);
    let service = PerConnection {
        inner: service,
        peer: conn.peer().clone(),
        streams: Arc::new(streams),
    };
    let mut connection =
        pin!(builder.serve_connection(TokioIo::new(conn), TowerToHyperService::new(service)));
    let mut handshake = pin!(tokio::time::sleep_until(handshake_deadline));
    let mut handshake_checked = false;
    let mut idle = pin!(idle(open_streams, idle_timeout));
    let mut closing = false;
    loop {
        tokio::select! {
            served = &mut connection => {
                if let Err(e) = served {
                    tracing::debug!(remote = ?remote, error = %e, "connection ended with an error");
                }
                return;
            }
            _ = &mut handshake, if !handshake_checked => {
                handshake_checked = true;
                if !preface.get() {
                    tracing::info!(remote = ?remote, "no HTTP/2 preface within the handshake timeout: connection closed");
                    return;
                }
            }
            _ = going_away.wait_for(|away| *away), if !closing => {
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
            _ = &mut idle, if !closing => {
                closing = true;
                tracing::debug!(remote = ?remote, "idle connection: going away");
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Resolves once no stream has been open for `timeout` (never without one).
async fn idle(mut open_streams: watch::Receiver<usize>, timeout: Option<Duration>) {
    let Some(timeout) = timeout else {
        return std::future::pending().await;
    };
    loop {
        if open_streams.wait_for(|open| *open == 0).await.is_err() {
            return std::future::pending().await;
        }
        tokio::select! {
            _ = tokio::time::sleep(timeout) => return,
            changed = open_streams.changed() => if changed.is_err() {
                return std::future::pending().await;
            },
        }
    }
}

/// The server's service as one connection sees it: its requests carry its
/// [`PeerInfo`], and its open streams are counted (a stream is open until hyper drops
/// the response body: after the last frame, or when the stream is reset).
#[derive(Clone)]
struct PerConnection {
    inner: HttpService,
    peer: PeerInfo,
    streams: Arc<watch::Sender<usize>>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl Service<http::Request<hyper::body::Incoming>> for PerConnection {
    type Response = http::Response<Counted>;
    type Error = BoxError;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<hyper::body::Incoming>) -> Self::Future {
        let mut request = request.map(tonic::body::Body::new);
        request.extensions_mut().insert(self.peer.clone());
        let open = OpenStream::new(self.streams.clone());
        // `poll_ready` readied `self.inner`: call it, leaving a fresh clone behind.
        let inner = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, inner);
        Box::pin(async move {
            let response = ready.oneshot(request).await?;
            Ok(response.map(|body| Counted { body, _open: open }))
        })
    }
}

/// One open stream of a connection, counted while it lives.
struct OpenStream(Arc<watch::Sender<usize>>);

impl OpenStream {
    fn new(streams: Arc<watch::Sender<usize>>) -> OpenStream {
        streams.send_modify(|open| *open = open.saturating_add(1));
        OpenStream(streams)
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.0.send_modify(|open| *open = open.saturating_sub(1));
    }
}

/// A response body that keeps its stream counted as open until it is dropped.
pub struct Counted {
    body: tonic::body::Body,
    _open: OpenStream,
}

impl Body for Counted {
    type Data = <tonic::body::Body as Body>::Data;
    type Error = <tonic::body::Body as Body>::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
