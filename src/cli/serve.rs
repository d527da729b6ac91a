//! `nianbao serve`: the gRPC server (`nianbao::service`). Every setting is a flag
//! with a `NIANBAO_*` environment twin; with none, it listens on 127.0.0.1:50051
//! with its store in `./data`. SIGTERM or SIGINT drains and stops it, waiting for open
//! connections at most `--shutdown-grace-secs` (a second signal stops the wait); SIGHUP
//! reloads the TLS certificates and the access policy.
//!
//! Plaintext is served on loopback addresses only: another address needs TLS
//! (`--tls-cert`, `--tls-key`, and `--client-ca` for mutual TLS) or `--insecure`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use nianbao::service::{serve, Config, Reload, Shutdown, TlsFiles, WorkLimits};

use super::Status;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "NIANBAO_ADDR", default_value = "127.0.0.1:50051")]
    addr: SocketAddr,

    /// Directory of the sled store (created when missing).
    #[arg(long, env = "NIANBAO_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,

    /// Largest request message, in bytes (larger: RESOURCE_EXHAUSTED).
    #[arg(long, env = "NIANBAO_MAX_REQUEST_BYTES", default_value_t = 4 * 1024 * 1024)]
    max_request_bytes: usize,

    /// Largest response message, in bytes.
    #[arg(long, env = "NIANBAO_MAX_RESPONSE_BYTES", default_value_t = 64 * 1024 * 1024)]
    max_response_bytes: usize,

    /// Page size of a list request that names none.
    #[arg(long, env = "NIANBAO_DEFAULT_PAGE_SIZE", default_value_t = 50)]
    default_page_size: u32,

    /// Largest page size (larger requests are lowered to it).
    #[arg(long, env = "NIANBAO_MAX_PAGE_SIZE", default_value_t = 1000)]
    max_page_size: u32,

    /// HTTP/2 streams one connection may have open at once.
    #[arg(long, env = "NIANBAO_MAX_CONCURRENT_STREAMS", default_value_t = 256)]
    max_concurrent_streams: u32,

    /// Export and watch streams open at once, over all connections.
    #[arg(long, env = "NIANBAO_MAX_OPEN_STREAMS", default_value_t = 256)]
    max_open_streams: usize,

    /// Deadline, in seconds, of a request that states none (`grpc-timeout` wins when shorter).
    #[arg(long, env = "NIANBAO_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    request_timeout_secs: u64,

    /// sled page cache, in MiB.
    #[arg(long, env = "NIANBAO_CACHE_MB", default_value_t = 1024)]
    cache_mb: u64,

    /// Decoded revisions kept in memory for reads (0: none).
    #[arg(long, env = "NIANBAO_DECODED_CACHE", default_value_t = 4096)]
    decoded_cache: usize,

    /// Microseconds a flush waits, when several writes wait for it, so that the writes
    /// committing meanwhile share its fdatasync (0: never wait).
    #[arg(long, env = "NIANBAO_COMMIT_DELAY_US", default_value_t = 3000)]
    commit_delay_us: u64,

    /// MiB the store's disk must keep free: writes finding less are refused
    /// (RESOURCE_EXHAUSTED, reason STORAGE_FULL) and resume once space is freed (0: no
    /// check).
    #[arg(long, env = "NIANBAO_RESERVED_SPACE_MB", default_value_t = 64)]
    reserved_space_mb: u64,

    /// Hours a request_id is remembered for idempotent retries.
    #[arg(long, env = "NIANBAO_IDEMPOTENCY_HOURS", default_value_t = 24)]
    idempotency_hours: u64,

    /// Change events a watcher may be behind before it waits on the log.
    #[arg(long, env = "NIANBAO_WATCH_BUFFER", default_value_t = 256)]
    watch_buffer: usize,

    /// Access policy file (TOML): who may call what, in which divisions, how often
    /// (`nianbao pki init` writes a sample). Reloaded on SIGHUP. Without it, every
    /// caller may call every method.
    #[arg(long, env = "NIANBAO_POLICY")]
    policy: Option<PathBuf>,

    /// Calls served at once over all callers; more are refused at once with
    /// RESOURCE_EXHAUSTED and RetryInfo rather than queued.
    #[arg(long, env = "NIANBAO_MAX_IN_FLIGHT", default_value_t = 1024)]
    max_in_flight: usize,
    /// The server's certificate chain (PEM), for TLS; with --tls-key. Reloaded on SIGHUP.
    #[arg(
        long,
        env = "NIANBAO_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    tls_cert: Option<PathBuf>,

    /// The server's private key (PEM), for TLS; with --tls-cert. Reloaded on SIGHUP.
    #[arg(
        long,
        env = "NIANBAO_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    tls_key: Option<PathBuf>,

    /// CA certificates (PEM) that client certificates must chain to: every caller must
    /// present one (mutual TLS); its identity is the first URI name, else the first DNS
    /// name, else the common name of its certificate. Needs --tls-cert and --tls-key.
    #[arg(
        long,
        env = "NIANBAO_CLIENT_CA",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    client_ca: Option<PathBuf>,

    /// Serve plaintext even on an address that is not a loopback address (without TLS,
    /// `serve` refuses to).
    #[arg(long, env = "NIANBAO_INSECURE", value_parser = clap::builder::BoolishValueParser::new())]
    insecure: bool,

    /// Seconds shutdown (SIGTERM, SIGINT) waits for open connections to finish their
    /// requests before closing them; a second signal stops the wait at once.
    #[arg(long, env = "NIANBAO_SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    shutdown_grace_secs: u64,

    /// Seconds a new connection has to finish its TLS handshake and send the HTTP/2
    /// preface; a connection still silent then is closed.
    #[arg(long, env = "NIANBAO_HANDSHAKE_TIMEOUT_SECS", default_value_t = 10)]
    handshake_timeout_secs: u64,

    /// Seconds a connection may have no request open before it is closed (GOAWAY);
    /// 0: never.
    #[arg(long, env = "NIANBAO_IDLE_TIMEOUT_SECS", default_value_t = 300)]
    idle_timeout_secs: u64,

    /// Seconds between HTTP/2 pings on every connection, to find dead peers; 0: no pings.
    #[arg(long, env = "NIANBAO_KEEPALIVE_INTERVAL_SECS", default_value_t = 60)]
    keepalive_interval_secs: u64,

    /// Seconds a ping may go unanswered before its connection is closed.
    #[arg(long, env = "NIANBAO_KEEPALIVE_TIMEOUT_SECS", default_value_t = 20)]
    keepalive_timeout_secs: u64,

    /// Connections open at once; one beyond them is closed at once (logged at most
    /// every 10 seconds).
    #[arg(long, env = "NIANBAO_MAX_CONNECTIONS", default_value_t = 10_000)]
    max_connections: usize,

    /// Worker threads that parse, validate texts, prepare submissions and aggregate
    /// (default: one per core).
    #[arg(long, env = "NIANBAO_WORKERS")]
    workers: Option<usize>,

    /// Jobs that may wait for a worker; past them (and the workers) calls are refused
    /// at once with RESOURCE_EXHAUSTED and RetryInfo rather than queued.
    #[arg(long, env = "NIANBAO_WORK_QUEUE", default_value_t = nianbao::service::work::DEFAULT_WORK_QUEUE)]
    work_queue: usize,

    /// MiB of request text the running and waiting jobs may hold together; a text
    /// beyond it is refused at once with RESOURCE_EXHAUSTED and RetryInfo.
    #[arg(long, env = "NIANBAO_PARSE_BUDGET_MB", default_value_t = 256)]
    parse_budget_mb: usize,

    /// Log format on stderr.
    #[arg(long, env = "NIANBAO_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

/// `--log-format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (for log collectors).
    Json,
}

impl ServeArgs {
    pub fn log_format(&self) -> LogFormat {
        self.log_format
    }

    fn config(&self) -> Config {
        Config {
            addr: self.addr,
            data_dir: self.data_dir.clone(),
            max_request_bytes: self.max_request_bytes,
            max_response_bytes: self.max_response_bytes,
            default_page_size: self.default_page_size,
            max_page_size: self.max_page_size,
            max_concurrent_streams: self.max_concurrent_streams,
            max_open_streams: self.max_open_streams,
            request_timeout: Duration::from_secs(self.request_timeout_secs.max(1)),
            cache_bytes: self.cache_mb.saturating_mul(1024 * 1024),
            decoded_cache: self.decoded_cache,
            idempotency_window: Duration::from_secs(self.idempotency_hours.saturating_mul(3600)),
            commit_delay: Duration::from_micros(self.commit_delay_us.min(1_000_000)),
            reserved_space: self.reserved_space_mb.saturating_mul(1024 * 1024),
            watch_buffer: self.watch_buffer,
            policy: self.policy.clone(),
            max_in_flight: self.max_in_flight,
            tls: match (&self.tls_cert, &self.tls_key) {
                (Some(cert), Some(key)) => Some(TlsFiles {
                    cert: cert.clone(),
                    key: key.clone(),
                    client_ca: self.client_ca.clone(),
                }),
                // clap requires both or neither.
                _ => None,
            },
            insecure: self.insecure,
            shutdown_grace: Duration::from_secs(self.shutdown_grace_secs),
            handshake_timeout: Duration::from_secs(self.handshake_timeout_secs.max(1)),
            idle_timeout: (self.idle_timeout_secs > 0)
                .then(|| Duration::from_secs(self.idle_timeout_secs)),
            keepalive_interval: (self.keepalive_interval_secs > 0)
                .then(|| Duration::from_secs(self.keepalive_interval_secs)),
            keepalive_timeout: Duration::from_secs(self.keepalive_timeout_secs.max(1)),
            max_connections: self.max_connections.max(1),
            work: WorkLimits {
                workers: self.workers.unwrap_or(0),
                queue: self.work_queue,
                parse_budget: self.parse_budget_mb.saturating_mul(1024 * 1024).max(1),
            },
            work_pool: None,
        }
    }
}

pub fn run(args: ServeArgs) -> Status {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return Status::Failure;
        }
    };
    let served = runtime.block_on(async {
        let reload = Reload::new();
        #[cfg(unix)]
        if let Err(e) = reload.on_sighup() {
            tracing::error!(error = %e, "cannot listen for SIGHUP: certificates will not be reloaded");
        }
        let shutdown = Shutdown::new();
        tokio::spawn(forward_stop_signals(shutdown.clone()));
        serve(args.config(), shutdown, reload).await
    });
    match served {
        Ok(()) => Status::Clean,
        Err(e) => {
            tracing::error!(error = %e, "the server stopped");
            super::fail(&e)
        }
    }
}

/// Asks `shutdown` to stop on every SIGINT (Ctrl-C) or SIGTERM: the first drains, the
/// second stops the drain's wait.
async fn forward_stop_signals(shutdown: Shutdown) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (mut interrupt, mut terminate) = match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(i), Ok(t)) => (i, t),
            (Err(e), _) | (_, Err(e)) => {
                tracing::error!(error = %e, "cannot listen for SIGINT and SIGTERM");
                return;
            }
        };
        loop {
            let name = tokio::select! {
                Some(()) = interrupt.recv() => "SIGINT",
                Some(()) = terminate.recv() => "SIGTERM",
                else => return,
            };
            match shutdown.requests() {
                0 => tracing::info!("{name} received"),
                _ => tracing::warn!("{name} received again: closing the open connections now"),
            }
            shutdown.request();
        }
    }
    #[cfg(not(unix))]
    {
        loop {
            if let Err(e) = tokio::signal::ctrl_c().await {
                tracing::error!(error = %e, "cannot listen for Ctrl-C");
                return;
            }
            tracing::info!("Ctrl-C received");
            shutdown.request();
        }
    }
}
