//! PLACEHOLDER (replaced by the tls branch).
#[derive(Clone, Debug)]
pub struct PeerInfo {
    pub remote: Option<std::net::SocketAddr>,
    pub identity: Option<String>,
}
