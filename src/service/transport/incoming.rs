//! The accept loops: the stream of connections `serve` hands to tonic, plaintext or
//! TLS, each a [`Conn`] carrying its [`PeerInfo`].
//!
//! One task accepts (TCP_NODELAY on every connection: Nagle held responses back up to
//! 40 ms); with TLS, every handshake runs in a task of its own, bounded by
//! [`HANDSHAKE_TIMEOUT`], so a slow or failed one holds up no other. A failed handshake
//! is logged with the peer's address and the reason and the connection dropped; the
//! stream never yields an error, since tonic ends its server on an error it does not
//! know to be transient. Dropping the stream (tonic does when shutdown begins) stops the
//! accept task and closes the listening socket.

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};

use super::identity::identity_of;
use super::tls::ReloadableTls;
use super::PeerInfo;

/// How long a TLS handshake may take before its connection is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// TLS handshakes in progress at once; a connection arriving beyond them is dropped.
pub const MAX_PENDING_HANDSHAKES: usize = 1024;

/// Connections accepted (and through their handshake) that tonic has not taken yet.
const QUEUE: usize = 64;

/// After an accept error that is not about one connection (out of file descriptors),
/// how long the loop waits before accepting again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// One accepted connection, plaintext or TLS, with who is at the other end.
pub struct Conn {
    io: Io,
    peer: PeerInfo,
}

enum Io {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl Conn {
    /// Who is at the other end.
    pub fn peer(&self) -> &PeerInfo {
        &self.peer
    }

    /// Whether the connection is TLS.
    pub fn is_tls(&self) -> bool {
        matches!(self.io, Io::Tls(_))
    }
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("tls", &self.is_tls())
            .field("peer", &self.peer)
            .finish()
    }
}

impl tonic::transport::server::Connected for Conn {
    type ConnectInfo = PeerInfo;

    fn connect_info(&self) -> PeerInfo {
        self.peer.clone()
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.io {
            Io::Plain(s) => s.is_write_vectored(),
            Io::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_flush(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The connections of a listener, for `Server::serve_with_incoming_shutdown`. It never
/// yields an error (its error type is [`Infallible`]) and ends only when dropped.
pub struct Incoming {
    rx: mpsc::Receiver<Conn>,
    accept: tokio::task::JoinHandle<()>,
}

impl Incoming {
    /// Plaintext connections: `identity` is always `None`. Call within a tokio runtime.
    pub fn plain(listener: TcpListener) -> Incoming {
        Incoming::start(listener, None)
    }

    /// TLS connections, each through its handshake with the configuration `tls` has in
    /// force when it starts. Call within a tokio runtime.
    pub fn tls(listener: TcpListener, tls: Arc<ReloadableTls>) -> Incoming {
        Incoming::start(listener, Some(tls))
    }

    fn start(listener: TcpListener, tls: Option<Arc<ReloadableTls>>) -> Incoming {
        let (tx, rx) = mpsc::channel(QUEUE);
        let accept = tokio::spawn(accept_loop(listener, tls, tx));
        Incoming { rx, accept }
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        // Closes the listening socket now; handshakes in flight find the queue gone.
        self.accept.abort();
    }
}

impl tokio_stream::Stream for Incoming {
    type Item = Result<Conn, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx).map(|conn| conn.map(Ok))
    }
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<Arc<ReloadableTls>>,
    tx: mpsc::Sender<Conn>,
) {
    let handshakes = Arc::new(Semaphore::new(MAX_PENDING_HANDSHAKES));
    loop {
        let accepted = tokio::select! {
            _ = tx.closed() => return,
            accepted = listener.accept() => accepted,
        };
        let (tcp, remote) = match accepted {
            Ok(accepted) => accepted,
            Err(e) if about_one_connection(&e) => {
                tracing::debug!(error = %e, "a connection failed while being accepted");
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot accept connections; trying again shortly");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(%remote, error = %e, "cannot set TCP_NODELAY");
        }
        let Some(tls) = &tls else {
            let conn = Conn {
                io: Io::Plain(tcp),
                peer: PeerInfo {
                    remote: Some(remote),
                    identity: None,
                },
            };
            if tx.send(conn).await.is_err() {
                return;
            }
            continue;
        };
        let Ok(permit) = handshakes.clone().try_acquire_owned() else {
            tracing::info!(%remote, "too many TLS handshakes in progress: connection dropped");
            continue;
        };
        let acceptor = tls.acceptor();
        let tx = tx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => {
                    let identity = stream
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|chain| chain.first())
                        .and_then(|leaf| identity_of(leaf));
                    let conn = Conn {
                        io: Io::Tls(Box::new(stream)),
                        peer: PeerInfo {
                            remote: Some(remote),
                            identity,
                        },
                    };
                    // Err: the server is shutting down; the connection is dropped.
                    let _ = tx.send(conn).await;
                }
                Ok(Err(e)) => tracing::info!(%remote, reason = %e, "TLS handshake failed"),
                Err(_) => {
                    tracing::info!(%remote, timeout = ?HANDSHAKE_TIMEOUT, "TLS handshake timed out")
                }
            }
        });
    }
}

/// Accept errors that concern only the connection being accepted (as tonic and hyper
/// count them): the next accept may well succeed at once.
fn about_one_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
            | io::ErrorKind::TimedOut
    )
}
