//! The accept loops: the stream of connections `serve` hands to tonic, plaintext or
//! TLS, each a [`Conn`] carrying its [`PeerInfo`].
//!
//! One task accepts (TCP_NODELAY on every connection: Nagle held responses back up to
//! 40 ms); with TLS, every handshake runs in a task of its own, bounded by the handshake
//! timeout ([`AcceptLimits`]), so a slow or failed one holds up no other. A failed
//! handshake is logged with the peer's address and the reason and the connection
//! dropped; the stream never yields an error, since tonic ends its server on an error it
//! does not know to be transient. Dropping the stream (the server does when shutdown
//! begins) stops the accept task and closes the listening socket.
//!
//! Hostile peers: at most `max_connections` connections are open at once (counted from
//! accept to close, handshakes included); one beyond them is closed at once. When accept
//! itself fails (out of file descriptors, or anything else not about one connection),
//! the loop waits 10 ms, doubling to 1 s while it keeps failing, and never spins. Both
//! are logged at most once per [`LOG_EVERY`], with the count of what was not logged.
//! Every [`Conn`] knows when its handshake time runs out
//! ([`Conn::handshake_deadline`]) and whether the peer has sent the whole HTTP/2 client
//! preface yet ([`Conn::preface`]): the server closes it at the deadline if not.

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};

use super::identity::identity_of;
use super::tls::ReloadableTls;
use super::PeerInfo;

/// How long, by default, a connection may take from accept to the end of the HTTP/2
/// client preface (its TLS handshake included) before it is closed.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections open at once by default.
pub const MAX_CONNECTIONS: usize = 10_000;

/// Accept errors and refused connections are logged at most once per this period.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// TLS handshakes in progress at once; a connection arriving beyond them is dropped.
pub const MAX_PENDING_HANDSHAKES: usize = 1024;

/// Connections accepted (and through their handshake) that tonic has not taken yet.
const QUEUE: usize = 64;

/// After an accept error that is not about one connection (out of file descriptors),
/// how long the loop waits before accepting again: the first wait, doubled after each
/// further error up to the longest.
const ACCEPT_BACKOFF_FIRST: Duration = Duration::from_millis(10);
const ACCEPT_BACKOFF_LONGEST: Duration = Duration::from_secs(1);

/// What the accept loop allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AcceptLimits {
    /// From accept to the end of the HTTP/2 client preface, TLS handshake included.
    pub handshake_timeout: Duration,
    /// Connections open at once; one beyond them is closed at once.
    pub max_connections: usize,
}

impl Default for AcceptLimits {
    fn default() -> Self {
        AcceptLimits {
            handshake_timeout: HANDSHAKE_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
        }
    }
}

/// One accepted connection, plaintext or TLS, with who is at the other end.
pub struct Conn {
    io: Io,
    peer: PeerInfo,
    handshake_deadline: Instant,
    preface: Preface,
    _slot: Slot,
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

    /// When the peer's time to finish its handshake (TLS and the HTTP/2 client
    /// preface) runs out.
    pub fn handshake_deadline(&self) -> Instant {
        self.handshake_deadline
    }

    /// Tells whether the peer has sent its whole HTTP/2 client preface (the magic and
    /// its SETTINGS frame), as the bytes read from the connection show.
    pub fn preface(&self) -> PrefaceSeen {
        PrefaceSeen(self.preface.done.clone())
    }
}

/// Whether a connection's HTTP/2 client preface has been read ([`Conn::preface`]).
#[derive(Clone, Debug)]
pub struct PrefaceSeen(Arc<AtomicBool>);

impl PrefaceSeen {
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// The length of the HTTP/2 client magic, `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`.
const MAGIC_LEN: usize = 24;
/// The magic and the header of the frame after it (the client's SETTINGS).
const HEADER_END: usize = MAGIC_LEN + 9;

/// Follows the first bytes read from a connection until the client preface is whole:
/// the magic, then one frame (the SETTINGS frame) whose length its header states.
/// hyper checks what the bytes say; this only counts them.
#[derive(Debug)]
struct Preface {
    head: [u8; HEADER_END],
    read: usize,
    done: Arc<AtomicBool>,
}

impl Preface {
    fn new() -> Preface {
        Preface {
            head: [0; HEADER_END],
            read: 0,
            done: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Notes bytes just read.
    fn saw(&mut self, bytes: &[u8]) {
        if bytes.is_empty() || self.done.load(Ordering::Relaxed) {
            return;
        }
        if let Some(head) = self.head.get_mut(self.read..) {
            let n = head.len().min(bytes.len());
            head[..n].copy_from_slice(&bytes[..n]);
        }
        self.read = self.read.saturating_add(bytes.len());
        if self.read >= HEADER_END {
            let frame = &self.head[MAGIC_LEN..];
            let length =
                usize::from(frame[0]) << 16 | usize::from(frame[1]) << 8 | usize::from(frame[2]);
            if self.read >= HEADER_END + length {
                self.done.store(true, Ordering::Release);
            }
        }
    }
}

/// One place among the open connections, given back when the connection closes.
#[derive(Debug)]
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
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
        let this = self.get_mut();
        let before = buf.filled().len();
        let read = match &mut this.io {
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        };
        if let Poll::Ready(Ok(())) = read {
            this.preface
                .saw(buf.filled().get(before..).unwrap_or_default());
        }
        read
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

/// The connections of a listener, for the server's connection loop (or tonic's
/// `Server::serve_with_incoming_shutdown`). It never yields an error (its error type is
/// [`Infallible`]) and ends only when dropped.
pub struct Incoming {
    rx: mpsc::Receiver<Conn>,
    accept: tokio::task::JoinHandle<()>,
}

impl Incoming {
    /// Plaintext connections with the default [`AcceptLimits`]: `identity` is always
    /// `None`. Call within a tokio runtime.
    pub fn plain(listener: TcpListener) -> Incoming {
        Incoming::start(listener, None, AcceptLimits::default())
    }

    /// TLS connections with the default [`AcceptLimits`], each through its handshake
    /// with the configuration `tls` has in force when it starts. Call within a tokio
    /// runtime.
    pub fn tls(listener: TcpListener, tls: Arc<ReloadableTls>) -> Incoming {
        Incoming::start(listener, Some(tls), AcceptLimits::default())
    }

    /// [`plain`](Self::plain) or [`tls`](Self::tls) (with `tls`) under `limits`.
    pub fn with_limits(
        listener: TcpListener,
        tls: Option<Arc<ReloadableTls>>,
        limits: AcceptLimits,
    ) -> Incoming {
        Incoming::start(listener, tls, limits)
    }

    fn start(
        listener: TcpListener,
        tls: Option<Arc<ReloadableTls>>,
        limits: AcceptLimits,
    ) -> Incoming {
        let (tx, rx) = mpsc::channel(QUEUE);
        let accept = tokio::spawn(accept_loop(listener, tls, limits, tx));
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

/// Lets a line through at most once per [`LOG_EVERY`], counting the ones held back.
#[derive(Debug, Default)]
struct Throttle {
    last: Option<Instant>,
    held_back: u64,
}

impl Throttle {
    /// `Some(lines held back since the last one)` when this one may be written.
    fn pass(&mut self) -> Option<u64> {
        let now = Instant::now();
        match self.last {
            Some(last) if now.duration_since(last) < LOG_EVERY => {
                self.held_back = self.held_back.saturating_add(1);
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.held_back))
            }
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<Arc<ReloadableTls>>,
    limits: AcceptLimits,
    tx: mpsc::Sender<Conn>,
) {
    let handshakes = Arc::new(Semaphore::new(MAX_PENDING_HANDSHAKES));
    let open = Arc::new(AtomicUsize::new(0));
    let mut backoff = ACCEPT_BACKOFF_FIRST;
    let (mut accept_errors, mut refusals) = (Throttle::default(), Throttle::default());
    loop {
        let accepted = tokio::select! {
            _ = tx.closed() => return,
            accepted = listener.accept() => accepted,
        };
        let (tcp, remote) = match accepted {
            Ok(accepted) => {
                backoff = ACCEPT_BACKOFF_FIRST;
                accepted
            }
            Err(e) if about_one_connection(&e) => {
                tracing::debug!(error = %e, "a connection failed while being accepted");
                continue;
            }
            Err(e) => {
                if let Some(not_logged) = accept_errors.pass() {
                    tracing::warn!(error = %e, retry_in = ?backoff, not_logged, "cannot accept connections; trying again shortly");
                }
                tokio::select! {
                    _ = tx.closed() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(ACCEPT_BACKOFF_LONGEST);
                continue;
            }
        };
        let accepted_at = Instant::now();
        if open.load(Ordering::Acquire) >= limits.max_connections {
            if let Some(not_logged) = refusals.pass() {
                tracing::warn!(%remote, max_connections = limits.max_connections, not_logged, "too many open connections: connection closed");
            }
            drop(tcp);
            continue;
        }
        open.fetch_add(1, Ordering::AcqRel);
        let slot = Slot(open.clone());
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(%remote, error = %e, "cannot set TCP_NODELAY");
        }
        let handshake_deadline = accepted_at + limits.handshake_timeout;
        let peer = PeerInfo {
            remote: Some(remote),
            identity: None,
        };
        let Some(tls) = &tls else {
            let conn = Conn {
                io: Io::Plain(tcp),
                peer,
                handshake_deadline,
                preface: Preface::new(),
                _slot: slot,
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
        let timeout = limits.handshake_timeout;
        tokio::spawn(async move {
            let _permit = permit;
            match tokio::time::timeout_at(handshake_deadline, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => {
                    let identity = stream
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|chain| chain.first())
                        .and_then(|leaf| identity_of(leaf));
                    let conn = Conn {
                        io: Io::Tls(Box::new(stream)),
                        peer: PeerInfo { identity, ..peer },
                        handshake_deadline,
                        preface: Preface::new(),
                        _slot: slot,
                    };
                    // Err: the server is shutting down; the connection is dropped.
                    let _ = tx.send(conn).await;
                }
                Ok(Err(e)) => tracing::info!(%remote, reason = %e, "TLS handshake failed"),
                Err(_) => {
                    tracing::info!(%remote, ?timeout, "TLS handshake timed out")
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

#[cfg(test)]
mod tests {
    use super::*;

    fn preface(settings_len: usize) -> Vec<u8> {
        let mut bytes = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        let len = u32::try_from(settings_len).expect("small");
        bytes.extend_from_slice(&len.to_be_bytes()[1..]);
        bytes.extend_from_slice(&[4, 0, 0, 0, 0, 0]);
        bytes.extend(std::iter::repeat_n(0u8, settings_len));
        bytes
    }

    #[test]
    fn the_preface_is_whole_after_the_magic_and_the_settings_frame() {
        for settings_len in [0, 6, 18] {
            let bytes = preface(settings_len);
            assert_eq!(bytes.len(), HEADER_END + settings_len);
            // Every way of cutting it into two reads, then byte by byte.
            for cut in 0..bytes.len() {
                let mut p = Preface::new();
                p.saw(&bytes[..cut]);
                assert!(
                    !p.done.load(Ordering::Relaxed),
                    "{settings_len} cut at {cut}"
                );
                p.saw(&bytes[cut..]);
                assert!(
                    p.done.load(Ordering::Relaxed),
                    "{settings_len} cut at {cut}"
                );
            }
            let mut p = Preface::new();
            for (i, b) in bytes.iter().enumerate() {
                assert!(!p.done.load(Ordering::Relaxed), "{settings_len} at {i}");
                p.saw(std::slice::from_ref(b));
            }
            assert!(p.done.load(Ordering::Relaxed));
            // More bytes in the same read as the preface.
            let mut p = Preface::new();
            let mut more = bytes.clone();
            more.extend_from_slice(&[0; 100]);
            p.saw(&more);
            assert!(p.done.load(Ordering::Relaxed));
        }
    }

    #[test]
    fn silence_or_part_of_a_preface_is_not_one() {
        let mut p = Preface::new();
        p.saw(&[]);
        p.saw(b"PRI * HTTP/2.0");
        assert!(!p.done.load(Ordering::Relaxed));
    }

    #[test]
    fn the_throttle_lets_the_first_line_through_and_counts_the_rest() {
        let mut t = Throttle::default();
        assert_eq!(t.pass(), Some(0));
        assert_eq!(t.pass(), None);
        assert_eq!(t.pass(), None);
        // Its clock moved past the period (set back rather than waited for).
        t.last = Instant::now().checked_sub(LOG_EVERY);
        assert_eq!(t.pass(), Some(2));
    }
}
