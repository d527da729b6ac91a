//! The server's transport: the connections `serve` takes, plaintext or TLS, each with
//! the one description of its caller the layers above read ([`PeerInfo`]).
//!
//! - [`incoming`]: the accept loops. They count the open connections (closing one
//!   beyond the limit at once) and back off when accept fails. [`Incoming::plain`]
//!   hands TCP connections on as they come; [`Incoming::tls`] runs every TLS handshake in a task of its own (with a
//!   timeout, at most [`MAX_PENDING_HANDSHAKES`] at once), so that one slow or failed
//!   handshake never holds up another, and hands on only the connections whose
//!   handshake succeeded. Failed handshakes are logged (peer address and reason), never
//!   passed to tonic as errors: an error from the incoming stream would end its server.
//! - [`tls`]: the server's TLS configuration read from PEM files ([`TlsFiles`]), held
//!   by a [`ReloadableTls`] that builds a new configuration from the files on
//!   [`ReloadableTls::reload`] and swaps it in: new connections use it, open ones
//!   keep theirs; a file that does not load leaves the configuration in force.
//! - [`identity`]: the caller's identity read from its certificate ([`identity_of`]).
//! - [`reload`]: [`Reload`], the "reload your files now" signal (SIGHUP) that every
//!   reloadable part of the server subscribes to.
//! - [`shutdown`]: [`Shutdown`], the "stop" signal (SIGTERM, SIGINT): the first drains,
//!   a second cuts the drain's grace period short.
//! - [`connections`]: the connection loop, [`serve_connections`]: each connection
//!   served by hyper's HTTP/2 in a task of its own, closed when its preface does not
//!   come by its handshake deadline, told to go away when idle, pinged to find dead
//!   peers; at shutdown, drained for at most the grace period, then closed.
//!
//! tonic copies each connection's [`PeerInfo`] into the extensions of every request on
//! it (the `Connected` trait): `request.extensions().get::<PeerInfo>()`.

mod connections;
mod identity;
mod incoming;
mod reload;
mod shutdown;
mod tls;

use std::net::SocketAddr;

pub use connections::{
    serve_connections, BoxError, ConnectionSettings, Counted, HttpService, Stopped,
};
pub use identity::identity_of;
pub use incoming::{
    AcceptLimits, Conn, Incoming, PrefaceSeen, HANDSHAKE_TIMEOUT, LOG_EVERY, MAX_CONNECTIONS,
    MAX_PENDING_HANDSHAKES,
};
pub use reload::Reload;
pub use shutdown::Shutdown;
pub use tls::{ReloadableTls, TlsError, TlsFiles};

/// Who is at the other end of a connection, the same for both transports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerInfo {
    /// The peer's address, when the socket knows it.
    pub remote: Option<SocketAddr>,
    /// The caller's identity from its verified client certificate ([`identity_of`]);
    /// `None` on plaintext connections and on TLS without client certificates.
    pub identity: Option<String>,
}
