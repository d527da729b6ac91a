//! Runtimes and connections: the tokio runtime each command runs on, the client's
//! HTTP/2 channels (with the nianbao server's flow-control windows, which the echo
//! server uses too), and the submitter header sent with every submission.

use std::time::Duration;

use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Channel, Endpoint};

use crate::Fallible;

/// HTTP/2 flow-control windows, the nianbao server's (`src/service/mod.rs`).
pub const STREAM_WINDOW_BYTES: u32 = 1024 * 1024;
pub const CONNECTION_WINDOW_BYTES: u32 = 8 * 1024 * 1024;

/// Submitter name sent with every submission (`x-nianbao-submitter`).
pub const SUBMITTER: &str = "nianbao-load";

/// The value of the submitter header.
pub fn submitter() -> MetadataValue<Ascii> {
    MetadataValue::from_static(SUBMITTER)
}

/// A multi-threaded runtime with `threads` workers (default: one per core).
pub fn runtime(threads: Option<usize>) -> Fallible<tokio::runtime::Runtime> {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = threads {
        b.worker_threads(n.max(1));
    }
    b.enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// A server address as an URL: `host:port` is `http://host:port`.
fn url(addr: &str) -> String {
    if addr.contains("://") {
        addr.to_string()
    } else {
        format!("http://{addr}")
    }
}

/// One HTTP/2 connection to `addr`, each request on it limited to `timeout`.
pub async fn connect(addr: &str, timeout: Duration) -> Fallible<Channel> {
    let endpoint = Endpoint::from_shared(url(addr))
        .map_err(|e| format!("`{addr}` is not a server address: {e}"))?
        .tcp_nodelay(true)
        // As the nianbao server does: HTTP/2's default 64 KiB windows would make a
        // connection's concurrent 9 KB responses wait for WINDOW_UPDATE round trips.
        .initial_stream_window_size(STREAM_WINDOW_BYTES)
        .initial_connection_window_size(CONNECTION_WINDOW_BYTES)
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(5));
    endpoint
        .connect()
        .await
        .map_err(|e| format!("cannot connect to {addr}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_address_is_plain_http() {
        assert_eq!(url("127.0.0.1:50051"), "http://127.0.0.1:50051");
        assert_eq!(url("localhost:1"), "http://localhost:1");
    }

    #[test]
    fn an_url_is_kept_as_it_is() {
        assert_eq!(url("http://127.0.0.1:50051"), "http://127.0.0.1:50051");
        assert_eq!(url("https://example.org:443"), "https://example.org:443");
    }

    #[test]
    fn the_submitter_header_is_the_tool_name() {
        assert_eq!(submitter().to_str().unwrap(), "nianbao-load");
    }
}
