//! The gRPC server (spec/api.md): `ReportValidator` and `ReportRegistry` of package
//! `nianbao.v1`, `grpc.health.v1.Health`, and server reflection (v1 and v1alpha).
//!
//! Handlers are thin: check the request ([`input`]), call the domain or the store,
//! map errors to statuses with rich details ([`status`]). Everything about the
//! transport — limits, compression, deadlines, shutdown — is set up here; the
//! connections themselves (plaintext or TLS, reloadable certificates, the caller's
//! [`PeerInfo`]) are [`transport`]'s.

mod edge;
pub mod input;
pub mod registry;
pub mod registry_server;
pub mod status;
pub mod stored;
pub mod transport;
pub mod validator;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tonic::codec::CompressionEncoding;
use tonic::transport::Server;

use crate::pb::report_registry_server::ReportRegistryServer;
use crate::pb::report_validator_server::ReportValidatorServer;
use crate::store::{Store, StoreConfig};
use registry::Registry;
use transport::Incoming;
pub use transport::{identity_of, PeerInfo, Reload, ReloadableTls, TlsError, TlsFiles};
use validator::Validator;

/// HTTP/2 flow-control window of one stream: a request of 1 MiB goes in one window.
const STREAM_WINDOW_BYTES: u32 = 1024 * 1024;
/// HTTP/2 flow-control window of one connection, shared by its streams.
const CONNECTION_WINDOW_BYTES: u32 = 8 * 1024 * 1024;

/// Everything the server can be told (each a `serve` flag with a `NIANBAO_*` twin).
#[derive(Clone, Debug)]
pub struct Config {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    /// Largest request message accepted; larger ones get RESOURCE_EXHAUSTED.
    pub max_request_bytes: usize,
    /// Largest response message sent (exports and big reports).
    pub max_response_bytes: usize,
    /// Page size when a list request gives none.
    pub default_page_size: u32,
    /// Largest page size; larger requests are lowered to it.
    pub max_page_size: u32,
    /// HTTP/2 streams one connection may have open at once.
    pub max_concurrent_streams: u32,
    /// Open `WatchReports` and `ExportReports` streams, over all connections.
    pub max_open_streams: usize,
    /// Deadline of a request that states none (a stated `grpc-timeout` wins when shorter).
    pub request_timeout: Duration,
    /// sled page cache, in bytes.
    pub cache_bytes: u64,
    /// Decoded revisions kept in memory (exports, replays, previous years).
    pub decoded_cache: usize,
    /// How long a `request_id` is remembered for idempotent retries.
    pub idempotency_window: Duration,
    /// Group commit: how long a flush waits for more writers when several wait for it.
    pub commit_delay: Duration,
    /// Events a watcher may be behind before its stream is refilled from the log.
    pub watch_buffer: usize,
    /// TLS: the server's certificate and key, and the CA client certificates must chain
    /// to (mutual TLS). `None`: plaintext, which is served on loopback addresses only
    /// unless `insecure` says otherwise.
    pub tls: Option<TlsFiles>,
    /// Serve plaintext on an address that is not a loopback address.
    pub insecure: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 50051)),
            data_dir: PathBuf::from("data"),
            max_request_bytes: 4 * 1024 * 1024,
            max_response_bytes: 64 * 1024 * 1024,
            default_page_size: 50,
            max_page_size: 1000,
            max_concurrent_streams: 256,
            max_open_streams: 256,
            request_timeout: Duration::from_secs(30),
            cache_bytes: crate::store::DEFAULT_CACHE_CAPACITY,
            decoded_cache: crate::store::DEFAULT_DECODED_CACHE,
            idempotency_window: crate::store::DEFAULT_IDEMPOTENCY_WINDOW,
            commit_delay: crate::store::DEFAULT_COMMIT_DELAY,
            watch_buffer: 256,
            tls: None,
            insecure: false,
        }
    }
}

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("cannot build the reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("cannot set up TLS: {0}")]
    Tls(#[from] TlsError),
    #[error(
        "refusing to serve plaintext on {addr}, which is not a loopback address: configure \
         TLS (--tls-cert and --tls-key, and --client-ca for client certificates), or allow \
         plaintext with --insecure"
    )]
    PlaintextNotLoopback { addr: SocketAddr },
}

/// Binds `config.addr` and runs the server until `shutdown` resolves, reloading its
/// files on each `reload` (see [`serve_reloadable`]).
pub async fn serve(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
    reload: Reload,
) -> Result<(), ServeError> {
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.addr,
            source,
        })?;
    serve_reloadable(listener, config, shutdown, reload).await
}

/// [`serve_reloadable`] with a reload signal that never fires.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    serve_reloadable(listener, config, shutdown, Reload::new()).await
}

/// Runs the server on `listener` until `shutdown` resolves, then drains: health
/// turns NOT_SERVING, open streams end, no new requests are taken, in-flight ones
/// finish, the store is flushed. A store that cannot be opened does not stop the
/// server: validation is served, the registry answers UNAVAILABLE and its health
/// says NOT_SERVING.
///
/// With `config.tls` it serves TLS only (mutual with a client CA); without, plaintext,
/// and then only on a loopback address unless `config.insecure`. Each `reload` reads
/// the TLS files again: new connections get the new certificates, open ones keep
/// theirs, and files that do not load leave the old ones in force (logged as an error).
pub async fn serve_reloadable(
    listener: tokio::net::TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
    reload: Reload,
) -> Result<(), ServeError> {
    let local = listener.local_addr().map_err(|source| ServeError::Bind {
        addr: config.addr,
        source,
    })?;
    let tls = match &config.tls {
        Some(files) => Some(std::sync::Arc::new(ReloadableTls::load(files.clone())?)),
        None if local.ip().to_canonical().is_loopback() => None,
        None if config.insecure => {
            tracing::warn!(addr = %local, "serving plaintext on a non-loopback address (--insecure): requests and replies can be read and changed on the way, and callers are not authenticated");
            None
        }
        None => return Err(ServeError::PlaintextNotLoopback { addr: local }),
    };

    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<ReportValidatorServer<Validator>>()
        .await;
    health
        .set_not_serving::<ReportRegistryServer<Registry>>()
        .await;

    let store_config = StoreConfig {
        cache_capacity: config.cache_bytes,
        idempotency_window: config.idempotency_window,
        decoded_cache: config.decoded_cache,
        commit_delay: config.commit_delay,
        ..StoreConfig::new(&config.data_dir)
    };
    let store = match Store::open(&store_config) {
        Ok(store) => {
            health.set_serving::<ReportRegistryServer<Registry>>().await;
            tracing::info!(data_dir = %config.data_dir.display(), "store open");
            Some(store)
        }
        Err(e) => {
            tracing::error!(data_dir = %config.data_dir.display(), error = %e, "the store cannot be opened: the registry is NOT_SERVING");
            None
        }
    };
    let (drain, draining) = tokio::sync::watch::channel(false);
    let registry = Registry::new(store.clone(), &config, draining);

    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;

    let validator = ReportValidatorServer::new(Validator)
        .max_decoding_message_size(config.max_request_bytes)
        .max_encoding_message_size(config.max_response_bytes)
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip);
    let registry = registry_server::RegistryService::new(
        registry,
        config.max_request_bytes,
        config.max_response_bytes,
    );

    // What reloads on `reload`: the TLS certificates. Other reloadable parts of the
    // server (an access policy) subscribe here in the same way: `reload.subscribe()`,
    // then reload on each `changed()`, keeping the old state when the new one fails.
    let reloads = tls.clone().map(|tls| {
        let mut changes = reload.subscribe();
        tokio::spawn(async move {
            while changes.changed().await.is_ok() {
                let tls = tls.clone();
                match tokio::task::spawn_blocking(move || tls.reload()).await {
                    Ok(Ok(())) => tracing::info!("reloaded TLS certificates"),
                    Ok(Err(e)) => tracing::error!(error = %e, "cannot reload the TLS certificates: the old ones stay in force"),
                    Err(e) => tracing::error!(error = %e, "the TLS reload failed: the old certificates stay in force"),
                }
            }
        })
    });

    let transport = match &tls {
        Some(tls) if tls.mutual() => "mutual TLS",
        Some(_) => "TLS",
        None => "plaintext",
    };
    tracing::info!(addr = %local, transport, "serving nianbao.v1");
    let incoming = match tls {
        Some(tls) => Incoming::tls(listener, tls),
        None => Incoming::plain(listener),
    };

    let draining = health.clone();
    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down: draining in-flight requests");
        // Open watch and export streams end; unary requests finish.
        let _ = drain.send(true);
        draining
            .set_not_serving::<ReportValidatorServer<Validator>>()
            .await;
        draining
            .set_not_serving::<ReportRegistryServer<Registry>>()
            .await;
    };

    let max_request_bytes = config.max_request_bytes;
    let served = Server::builder()
        .max_concurrent_streams(config.max_concurrent_streams)
        // HTTP/2's default 64 KiB windows hold a connection's reports back after a few
        // concurrent 6-9 KB messages, each released only by a WINDOW_UPDATE round trip.
        .initial_stream_window_size(STREAM_WINDOW_BYTES)
        .initial_connection_window_size(CONNECTION_WINDOW_BYTES)
        .layer(tower::util::MapResponseLayer::new(move |r| {
            edge::caller_errors(r, max_request_bytes)
        }))
        .layer(
            // One span per RPC; a line when it ends (latency) or fails (gRPC status).
            tower_http::trace::TraceLayer::new_for_grpc()
                .make_span_with(rpc_span as fn(&http::Request<tonic::body::Body>) -> tracing::Span)
                .on_request(())
                .on_response(
                    tower_http::trace::DefaultOnResponse::new()
                        .level(tracing::Level::INFO)
                        .latency_unit(tower_http::LatencyUnit::Micros),
                )
                .on_failure(
                    tower_http::trace::DefaultOnFailure::new()
                        .level(tracing::Level::WARN)
                        .latency_unit(tower_http::LatencyUnit::Micros),
                ),
        )
        .layer(edge::DeadlineLayer {
            default: config.request_timeout,
        })
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(validator)
        .add_service(registry)
        // `Server::tcp_nodelay` applies only to listeners tonic binds itself: `Incoming`
        // sets it on the accepted connections (Nagle held responses back up to 40 ms).
        .serve_with_incoming_shutdown(incoming, signal)
        .await;
    if let Some(reloads) = reloads {
        reloads.abort();
    }
    served?;

    if let Some(store) = store {
        match store.flush().await {
            Ok(()) => tracing::info!("store flushed; stopped"),
            Err(e) => tracing::error!(error = %e, "the final flush failed"),
        }
    }
    Ok(())
}

/// The span of one RPC: the method; the handlers add the report name.
fn rpc_span(r: &http::Request<tonic::body::Body>) -> tracing::Span {
    tracing::info_span!("rpc", method = %r.uri().path())
}

/// Runs CPU-bound domain work (parsing, validation, aggregation) off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, status::ApiError> {
    Ok(tokio::task::spawn_blocking(f).await?)
}
