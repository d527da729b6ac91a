//! The gRPC server (spec/api.md): `ReportValidator`, `ReportRegistry` and `ReportAdmin`
//! of package `nianbao.v1`, `grpc.health.v1.Health`, and server reflection (v1 and
//! v1alpha); the audit log ([`audit::AuditLog`]) that batches records into the store.
//!
//! Handlers are thin: check the request ([`input`]), call the domain or the store,
//! map errors to statuses with rich details ([`status`]). Everything about the
//! transport — limits, compression, deadlines, shutdown — is set up here; the
//! connections themselves (plaintext or TLS, reloadable certificates, the caller's
//! [`PeerInfo`]) are [`transport`]'s.

pub mod admin;
pub mod audit;
pub mod auth;
mod edge;
pub mod input;
pub mod registry;
pub mod registry_server;
pub mod status;
pub mod stored;
pub mod transport;
pub mod validator;
pub mod work;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tonic::codec::CompressionEncoding;
use tonic::service::{RecoverErrorLayer, Routes};
use tower::{ServiceBuilder, ServiceExt};

use crate::pb::report_admin_server::ReportAdminServer;
use crate::pb::report_registry_server::ReportRegistryServer;
use crate::pb::report_validator_server::ReportValidatorServer;
use crate::store::{Store, StoreConfig};
use admin::Admin;
use audit::AuditLog;
use registry::Registry;
pub use transport::{identity_of, PeerInfo, Reload, ReloadableTls, Shutdown, TlsError, TlsFiles};
use transport::{AcceptLimits, ConnectionSettings, HttpService, Incoming};
use validator::Validator;
pub use work::{WorkLimits, WorkPool, WorkPoolError};

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
    /// Open `WatchReports`, `ExportReports` and `ExportAuditRecords` streams, over all
    /// connections.
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
    /// Free bytes the store's disk must keep; writes finding less are refused
    /// (RESOURCE_EXHAUSTED, `STORAGE_FULL`) until space is freed.
    pub reserved_space: u64,
    /// Events a watcher may be behind before its stream is refilled from the log.
    pub watch_buffer: usize,
    /// The access policy file (`auth::policy`); `None`: every caller may do everything.
    pub policy: Option<PathBuf>,
    /// Calls served at once over all callers; more are refused (RESOURCE_EXHAUSTED).
    pub max_in_flight: usize,
    /// TLS: the server's certificate and key, and the CA client certificates must chain
    /// to (mutual TLS). `None`: plaintext, which is served on loopback addresses only
    /// unless `insecure` says otherwise.
    pub tls: Option<TlsFiles>,
    /// Serve plaintext on an address that is not a loopback address.
    pub insecure: bool,
    /// How long shutdown waits for open connections to finish before closing them.
    pub shutdown_grace: Duration,
    /// How long a connection may take from accept to the end of its HTTP/2 client
    /// preface (its TLS handshake included) before it is closed.
    pub handshake_timeout: Duration,
    /// How long a connection may have no open stream before it is closed (GOAWAY);
    /// `None`: no limit.
    pub idle_timeout: Option<Duration>,
    /// How often every connection is pinged (HTTP/2 PING); `None`: never.
    pub keepalive_interval: Option<Duration>,
    /// How long a ping may go unanswered before its connection is closed.
    pub keepalive_timeout: Duration,
    /// Connections open at once; one beyond them is closed at once.
    pub max_connections: usize,
    /// The pool CPU work runs on (parsing, validating a text, preparing a submission,
    /// aggregating): its workers, its queue and its parse budget; past them calls are
    /// refused at once (`OVERLOADED`, with `RetryInfo`).
    pub work: WorkLimits,
    /// A pool to run that work on instead of starting one of `work`'s sizes (servers
    /// in one process may share one; tests hold its workers).
    pub work_pool: Option<WorkPool>,
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
            reserved_space: crate::store::DEFAULT_RESERVED_SPACE,
            watch_buffer: 256,
            policy: None,
            max_in_flight: 1024,
            tls: None,
            insecure: false,
            shutdown_grace: Duration::from_secs(30),
            handshake_timeout: transport::HANDSHAKE_TIMEOUT,
            idle_timeout: Some(Duration::from_secs(300)),
            keepalive_interval: Some(Duration::from_secs(60)),
            keepalive_timeout: Duration::from_secs(20),
            max_connections: transport::MAX_CONNECTIONS,
            work: WorkLimits::default(),
            work_pool: None,
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
    #[error("cannot build the reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error(transparent)]
    Policy(#[from] auth::PolicyError),
    #[error("cannot set up TLS: {0}")]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Workers(#[from] WorkPoolError),
    #[error(
        "refusing to serve plaintext on {addr}, which is not a loopback address: configure \
         TLS (--tls-cert and --tls-key, and --client-ca for client certificates), or allow \
         plaintext with --insecure"
    )]
    PlaintextNotLoopback { addr: SocketAddr },
    #[error(
        "mutual TLS (--client-ca) without an access policy would let every certified caller \
         do everything: give --policy FILE (`nianbao pki init` writes a sample)"
    )]
    PolicyRequired,
}

/// Binds `config.addr` and runs the server until `shutdown` is requested, reloading
/// its files on each `reload` (see [`serve_reloadable`]).
pub async fn serve(config: Config, shutdown: Shutdown, reload: Reload) -> Result<(), ServeError> {
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.addr,
            source,
        })?;
    serve_reloadable(listener, config, shutdown, reload).await
}

/// [`serve_reloadable`] without reloads: runs the server on `listener` until
/// `shutdown` resolves (one stop request: the drain has its whole grace period).
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    serve_reloadable(listener, config, Shutdown::when(shutdown), Reload::new()).await
}

/// Runs the server on `listener` until `shutdown` is requested, then drains: health
/// turns NOT_SERVING, open streams end, no new requests are taken, in-flight ones
/// finish — for at most `config.shutdown_grace`, or until `shutdown` is requested a
/// second time; the connections left are then closed — the audit log is drained, the
/// store is flushed. A store that cannot be
/// opened does not stop the server: validation is served, the registry and the admin
/// service answer UNAVAILABLE and their health says NOT_SERVING.
///
/// With `config.tls` it serves TLS only (mutual with a client CA); without, plaintext,
/// and then only on a loopback address unless `config.insecure`. Each `reload` reads
/// the TLS files again: new connections get the new certificates, open ones keep
/// theirs, and files that do not load leave the old ones in force (logged as an error).
pub async fn serve_reloadable(
    listener: tokio::net::TcpListener,
    config: Config,
    shutdown: Shutdown,
    reload: Reload,
) -> Result<(), ServeError> {
    let local = listener.local_addr().map_err(|source| ServeError::Bind {
        addr: config.addr,
        source,
    })?;
    if config.policy.is_none() && config.tls.as_ref().is_some_and(|t| t.client_ca.is_some()) {
        return Err(ServeError::PolicyRequired);
    }
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
    health.set_not_serving::<ReportAdminServer<Admin>>().await;

    let store_config = StoreConfig {
        cache_capacity: config.cache_bytes,
        idempotency_window: config.idempotency_window,
        decoded_cache: config.decoded_cache,
        commit_delay: config.commit_delay,
        reserved_space: config.reserved_space,
        ..StoreConfig::new(&config.data_dir)
    };
    let store = match Store::open(&store_config) {
        Ok(store) => {
            health.set_serving::<ReportRegistryServer<Registry>>().await;
            health.set_serving::<ReportAdminServer<Admin>>().await;
            tracing::info!(data_dir = %config.data_dir.display(), "store open");
            Some(store)
        }
        Err(e) => {
            tracing::error!(data_dir = %config.data_dir.display(), error = %e, "the store cannot be opened: the registry is NOT_SERVING");
            None
        }
    };
    // Records of calls that are not committed writes; the authorisation layer records
    // into it (it is closed, drained and flushed after the server has drained).
    let audit = AuditLog::start(store.clone());
    let gate = std::sync::Arc::new(auth::Gate::new(
        config.policy.clone(),
        tls.is_some(),
        config.max_in_flight,
        audit.clone(),
    )?);
    let work = match &config.work_pool {
        Some(pool) => pool.clone(),
        None => WorkPool::new(config.work)?,
    };
    tracing::info!(
        workers = work.workers(),
        queue = work.queue(),
        parse_budget_bytes = work.parse_budget(),
        "work pool"
    );
    let (drain, draining) = tokio::sync::watch::channel(false);
    let registry = Registry::new(store.clone(), &config, work.clone(), draining.clone());
    let (streams, max_streams) = registry.stream_limit();
    let admin = Admin::new(store.clone(), streams, max_streams, draining);

    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;

    let validator = ReportValidatorServer::new(Validator::new(work))
        .max_decoding_message_size(config.max_request_bytes)
        .max_encoding_message_size(config.max_response_bytes)
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip);
    let admin = ReportAdminServer::new(admin)
        .max_decoding_message_size(config.max_request_bytes)
        .max_encoding_message_size(config.max_response_bytes)
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip);
    let registry = registry_server::RegistryService::new(
        registry,
        config.max_request_bytes,
        config.max_response_bytes,
    );

    match &config.policy {
        Some(path) => tracing::info!(policy = %path.display(), "access policy in force"),
        None => tracing::warn!("no access policy (--policy): every caller may call every method"),
    }
    // What reloads on `reload`: the TLS certificates and the access policy, each
    // keeping the old state when the new files fail.
    let reloads = {
        let mut changes = reload.subscribe();
        let (tls, gate) = (tls.clone(), gate.clone());
        tokio::spawn(async move {
            while changes.changed().await.is_ok() {
                let (tls, gate) = (tls.clone(), gate.clone());
                let reloaded =
                    tokio::task::spawn_blocking(move || (tls.map(|t| t.reload()), gate.reload()))
                        .await;
                let Ok((tls, policy)) = reloaded else {
                    tracing::error!(
                        "the reload failed: the old certificates and policy stay in force"
                    );
                    continue;
                };
                match tls {
                    Some(Ok(())) => tracing::info!("reloaded TLS certificates"),
                    Some(Err(e)) => {
                        tracing::error!(error = %e, "cannot reload the TLS certificates: the old ones stay in force")
                    }
                    None => {}
                }
                match policy {
                    Ok(Some(callers)) => tracing::info!(callers, "reloaded the access policy"),
                    Ok(None) => {}
                    Err(e) => {
                        tracing::error!(error = %e, "cannot reload the access policy: the old one stays in force")
                    }
                }
            }
        })
    };

    let transport = match &tls {
        Some(tls) if tls.mutual() => "mutual TLS",
        Some(_) => "TLS",
        None => "plaintext",
    };
    tracing::info!(addr = %local, transport, "serving nianbao.v1");
    let limits = AcceptLimits {
        handshake_timeout: config.handshake_timeout,
        max_connections: config.max_connections,
    };
    let incoming = Incoming::with_limits(listener, tls, limits);

    let draining = health.clone();
    let drained = async move {
        tracing::info!("shutting down: draining in-flight requests");
        // Open watch and export streams end; unary requests finish.
        let _ = drain.send(true);
        draining
            .set_not_serving::<ReportValidatorServer<Validator>>()
            .await;
        draining
            .set_not_serving::<ReportRegistryServer<Registry>>()
            .await;
        draining.set_not_serving::<ReportAdminServer<Admin>>().await;
    };

    let mut routes = Routes::builder();
    routes
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(validator)
        .add_service(registry)
        .add_service(admin);
    let max_request_bytes = config.max_request_bytes;
    // The layers, outermost first (as tonic's `Server` stacks them): errors become
    // statuses; the contract's statuses; one span per RPC; the trust boundary; the
    // deadline.
    let service = ServiceBuilder::new()
        .layer(RecoverErrorLayer::new())
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
        .layer(auth::AuthLayer::new(gate))
        .layer(edge::DeadlineLayer {
            default: config.request_timeout,
        })
        .service(routes.routes().prepare());
    let service: HttpService =
        tower::util::BoxCloneService::new(service.map_response(|r| r.map(tonic::body::Body::new)));
    let settings = ConnectionSettings {
        max_concurrent_streams: config.max_concurrent_streams,
        // HTTP/2's default 64 KiB windows hold a connection's reports back after a few
        // concurrent 6-9 KB messages, each released only by a WINDOW_UPDATE round trip.
        stream_window: STREAM_WINDOW_BYTES,
        connection_window: CONNECTION_WINDOW_BYTES,
        keepalive_interval: config.keepalive_interval,
        keepalive_timeout: config.keepalive_timeout,
        idle_timeout: config.idle_timeout,
        shutdown_grace: config.shutdown_grace,
    };
    transport::serve_connections(incoming, service, &settings, &shutdown, drained).await;
    reloads.abort();

    // The audit records of the last calls, then the final flush.
    audit.close().await;
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
