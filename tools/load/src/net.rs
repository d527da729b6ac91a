//! Runtimes and connections: the tokio runtime each command runs on, the client's
//! HTTP/2 channels (with the nianbao server's flow-control windows, which the echo
//! server uses too), plaintext or (mutual) TLS ([`client_tls`]: tonic's client TLS,
//! rustls with ring), the submitter header sent with every submission and the
//! declared identity (`--identity`) sent with every call.

use std::path::Path;
use std::time::Duration;

use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::cli::ClientTlsArgs;
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

/// The value of `x-nianbao-submitter` for `--identity NAME` (plaintext servers with an
/// access policy take the caller's identity from it).
pub fn identity_header(name: &str) -> Fallible<MetadataValue<Ascii>> {
    MetadataValue::try_from(name)
        .map_err(|_| format!("--identity {name:?} cannot be sent as a header (ASCII only)"))
}

/// The client's TLS settings of `--tls-ca`, `--tls-cert`, `--tls-key` and
/// `--tls-domain`: `None` (plaintext) without `--tls-ca`.
pub fn client_tls(args: &ClientTlsArgs) -> Fallible<Option<ClientTlsConfig>> {
    let Some(ca) = &args.tls_ca else {
        return Ok(None);
    };
    let mut config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read(ca)?));
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        config = config.identity(Identity::from_pem(read(cert)?, read(key)?));
    }
    if let Some(domain) = &args.tls_domain {
        config = config.domain_name(domain.clone());
    }
    Ok(Some(config))
}

/// The bytes of a PEM file given on the command line.
pub fn read(path: &Path) -> Fallible<Vec<u8>> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// A server address as an URL: `host:port` is `http://host:port`, or `https://host:port`
/// with TLS. An URL is kept, but its scheme must agree with `tls`.
fn url(addr: &str, tls: bool) -> Fallible<String> {
    let scheme = if tls { "https" } else { "http" };
    match addr.split_once("://") {
        None => Ok(format!("{scheme}://{addr}")),
        Some((s, _)) if s.eq_ignore_ascii_case(scheme) => Ok(addr.to_string()),
        Some(("https", _)) => Err(format!(
            "{addr} is an https address: give --tls-ca (and --tls-cert, --tls-key for mutual TLS)"
        )),
        Some(_) => Err(format!(
            "{addr} is not an https address, but TLS options were given"
        )),
    }
}

/// One HTTP/2 connection to `addr`, each request on it limited to `timeout`; over TLS
/// with `tls`.
pub async fn connect(
    addr: &str,
    timeout: Duration,
    tls: Option<&ClientTlsConfig>,
) -> Fallible<Channel> {
    let mut endpoint = Endpoint::from_shared(url(addr, tls.is_some())?)
        .map_err(|e| format!("`{addr}` is not a server address: {e}"))?;
    if let Some(config) = tls {
        endpoint = endpoint
            .tls_config(config.clone())
            .map_err(|e| format!("cannot set up TLS for {addr}: {e}"))?;
    }
    let endpoint = endpoint
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
    fn a_bare_address_is_plain_http_or_https_with_tls() {
        assert_eq!(
            url("127.0.0.1:50051", false).unwrap(),
            "http://127.0.0.1:50051"
        );
        assert_eq!(url("localhost:1", false).unwrap(), "http://localhost:1");
        assert_eq!(
            url("127.0.0.1:50051", true).unwrap(),
            "https://127.0.0.1:50051"
        );
    }

    #[test]
    fn an_url_is_kept_as_it_is_when_its_scheme_agrees() {
        assert_eq!(
            url("http://127.0.0.1:50051", false).unwrap(),
            "http://127.0.0.1:50051"
        );
        assert_eq!(
            url("https://example.org:443", true).unwrap(),
            "https://example.org:443"
        );
        let err = url("https://example.org:443", false).unwrap_err();
        assert!(err.contains("give --tls-ca"), "{err}");
        let err = url("http://example.org:80", true).unwrap_err();
        assert!(err.contains("not an https address"), "{err}");
    }

    #[test]
    fn plaintext_without_a_ca() {
        assert!(client_tls(&ClientTlsArgs::default()).unwrap().is_none());
        let missing = ClientTlsArgs {
            tls_ca: Some("/nonexistent/ca.pem".into()),
            ..ClientTlsArgs::default()
        };
        assert!(client_tls(&missing).unwrap_err().contains("cannot read"));
    }

    #[test]
    fn an_identity_must_be_a_header_value() {
        assert_eq!(identity_header("bench").unwrap().to_str().unwrap(), "bench");
        assert!(identity_header("bench\n").is_err());
    }

    #[test]
    fn the_submitter_header_is_the_tool_name() {
        assert_eq!(submitter().to_str().unwrap(), "nianbao-load");
    }
}
