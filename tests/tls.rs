//! TLS and mutual TLS with real certificates made here (rcgen): the server started
//! with `serve_reloadable` on 127.0.0.1:0, called by tonic clients (`ClientTlsConfig`)
//! and by raw tokio-rustls clients where a handshake must be seen to fail; the
//! acceptor alone (`Incoming::tls`) for the caller's identity; reloads; and the
//! binary's `pki init` and `serve` flags.
//!
//! No test decides on the clock: timeouts only guard against hangs.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls_pki_types::pem::PemObject;
use time::OffsetDateTime;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio_stream::StreamExt;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

use nianbao::pb::report_registry_client::ReportRegistryClient;
use nianbao::pb::report_validator_client::ReportValidatorClient;
use nianbao::pb::{ListReportsRequest, ListRulesRequest};
use nianbao::service::transport::Incoming;
use nianbao::service::{
    identity_of, serve_reloadable, Config, PeerInfo, Reload, ReloadableTls, ServeError, Shutdown,
    TlsFiles,
};

const BIN: &str = env!("CARGO_BIN_EXE_nianbao");

/// A guard against hangs, never a measure.
const GUARD: Duration = Duration::from_secs(120);

async fn guarded<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(GUARD, f).await {
        Ok(v) => v,
        Err(_) => panic!("{what} did not finish"),
    }
}

// ------------------------------------------------------------------ certificates

/// A private CA.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

/// One certificate and its key, PEM and DER.
struct Leaf {
    cert_pem: String,
    key_pem: String,
    der: Vec<u8>,
}

/// What a leaf certificate says.
struct Spec {
    cn: Option<&'static str>,
    sans: Vec<SanType>,
    server: bool,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
}

impl Spec {
    fn server(cn: &'static str) -> Spec {
        Spec {
            cn: Some(cn),
            sans: vec![dns("localhost"), SanType::IpAddress([127, 0, 0, 1].into())],
            server: true,
            ..Spec::client(None, vec![])
        }
    }

    fn client(cn: Option<&'static str>, sans: Vec<SanType>) -> Spec {
        let now = OffsetDateTime::now_utc();
        Spec {
            cn,
            sans,
            server: false,
            not_before: now - time::Duration::hours(1),
            not_after: now + time::Duration::days(1),
        }
    }
}

fn dns(s: &str) -> SanType {
    SanType::DnsName(s.try_into().expect("an IA5 string"))
}

fn uri(s: &str) -> SanType {
    SanType::URI(s.try_into().expect("an IA5 string"))
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = KeyPair::generate().expect("a key");
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).expect("a CA certificate");
        Ca {
            issuer: Issuer::new(params, key),
            pem: cert.pem(),
        }
    }

    fn leaf(&self, spec: Spec) -> Leaf {
        let key = KeyPair::generate().expect("a key");
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        if let Some(cn) = spec.cn {
            params.distinguished_name.push(DnType::CommonName, cn);
        }
        params.subject_alt_names = spec.sans;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![if spec.server {
            ExtendedKeyUsagePurpose::ServerAuth
        } else {
            ExtendedKeyUsagePurpose::ClientAuth
        }];
        params.not_before = spec.not_before;
        params.not_after = spec.not_after;
        let cert = params.signed_by(&key, &self.issuer).expect("a certificate");
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }
}

fn write(path: &Path, contents: &str) {
    std::fs::write(path, contents).expect("write a test file");
}

/// The server's files in `dir`: its certificate and key, and the client CA.
fn server_files(dir: &Path, ca: &Ca, server: &Leaf) -> TlsFiles {
    let files = TlsFiles {
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
        client_ca: Some(dir.join("ca.pem")),
    };
    write(&files.cert, &server.cert_pem);
    write(&files.key, &server.key_pem);
    write(files.client_ca.as_ref().expect("set"), &ca.pem);
    files
}

// ------------------------------------------------------------------ clients

fn client_config(ca_pem: &str, identity: Option<&Leaf>) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("a CA certificate")).expect("a root");
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_root_certificates(roots);
    let mut config = match identity {
        Some(leaf) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from(leaf.der.clone())],
                PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes()).expect("a key"),
            )
            .expect("a client identity"),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    config
}

/// How a raw TLS connection to the server went.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// The handshake held and the server spoke HTTP/2 (its SETTINGS frame came).
    Served { server_cert: Vec<u8> },
    /// The handshake failed, or the server closed the connection instead of serving.
    Refused(String),
}

/// Connects with a raw tokio-rustls client and waits for the server's first bytes:
/// in TLS 1.3 the client's side of the handshake ends before the server has checked
/// its certificate, so only what comes next tells a refusal from a connection served.
async fn raw_connect(addr: SocketAddr, config: rustls::ClientConfig) -> Outcome {
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await.expect("TCP connect");
    let name = ServerName::try_from("localhost").expect("a server name");
    let mut tls = match guarded("a handshake", connector.connect(name, tcp)).await {
        Ok(tls) => tls,
        Err(e) => return Outcome::Refused(e.to_string()),
    };
    let server_cert = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec())
        .unwrap_or_default();
    let mut buf = [0u8; 64];
    match guarded("the server's first bytes", tls.read(&mut buf)).await {
        Ok(0) => Outcome::Refused("closed".into()),
        Ok(_) => Outcome::Served { server_cert },
        Err(e) => Outcome::Refused(e.to_string()),
    }
}

fn tonic_tls(ca: &Ca, identity: Option<&Leaf>) -> ClientTlsConfig {
    let config = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&ca.pem))
        .domain_name("localhost");
    match identity {
        Some(leaf) => config.identity(Identity::from_pem(&leaf.cert_pem, &leaf.key_pem)),
        None => config,
    }
}

async fn tonic_channel(addr: SocketAddr, tls: ClientTlsConfig) -> Result<Channel, String> {
    let endpoint = Endpoint::from_shared(format!("https://{addr}"))
        .expect("a URI")
        .tls_config(tls)
        .expect("a TLS config");
    guarded("connecting", endpoint.connect())
        .await
        .map_err(|e| format!("{e:?}"))
}

// ------------------------------------------------------------------ the server

struct Server {
    addr: SocketAddr,
    files: TlsFiles,
    reload: Reload,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<Result<(), ServeError>>,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start(ca: &Ca, server: &Leaf) -> Server {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let files = server_files(dir.path(), ca, server);
        // Mutual TLS needs an access policy: the clients of these tests may validate.
        let policy = dir.path().join("policy.toml");
        let callers: String = [
            "spiffe://test/loader",
            "spiffe://test/reader",
            "good",
            "loader",
        ]
        .iter()
        .map(|id| format!("[[caller]]\nidentity = \"{id}\"\nroles = [\"validator\"]\n\n"))
        .collect();
        std::fs::write(&policy, callers).expect("the policy");
        let config = Config {
            data_dir: dir.path().join("data"),
            tls: Some(files.clone()),
            policy: Some(policy),
            ..Config::default()
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let addr = listener.local_addr().expect("its address");
        let (stop, stopped) = oneshot::channel::<()>();
        let reload = Reload::new();
        let done = tokio::spawn(serve_reloadable(
            listener,
            config,
            Shutdown::when(async {
                let _ = stopped.await;
            }),
            reload.clone(),
        ));
        Server {
            addr,
            files,
            reload,
            stop: Some(stop),
            done,
            _dir: dir,
        }
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        guarded("the server's stop", self.done)
            .await
            .expect("the server task")
            .expect("the server ran");
    }
}

async fn list_rules(channel: Channel) -> Result<usize, tonic::Status> {
    let mut client = ReportValidatorClient::new(channel);
    let rules = client.list_rules(ListRulesRequest::default()).await?;
    Ok(rules.into_inner().rules.len())
}

// ------------------------------------------------------------------ handshakes

#[tokio::test]
async fn a_client_with_a_good_certificate_is_served() {
    let ca = Ca::new("test CA");
    let server = Server::start(&ca, &ca.leaf(Spec::server("server"))).await;
    let client = ca.leaf(Spec::client(None, vec![uri("spiffe://test/loader")]));
    let channel = tonic_channel(server.addr, tonic_tls(&ca, Some(&client)))
        .await
        .expect("a channel");
    let rules = list_rules(channel.clone()).await.expect("ListRules");
    assert!(rules > 0);
    let health = HealthClient::new(channel)
        .check(HealthCheckRequest::default())
        .await
        .expect("a health check");
    assert_eq!(health.into_inner().status, 1, "SERVING");
    server.stop().await;
}

#[tokio::test]
async fn handshakes_without_a_valid_client_certificate_are_refused() {
    let ca = Ca::new("test CA");
    let server = Server::start(&ca, &ca.leaf(Spec::server("server"))).await;
    let now = OffsetDateTime::now_utc();
    let good = ca.leaf(Spec::client(Some("good"), vec![]));
    let other_ca = Ca::new("another CA");
    let foreign = other_ca.leaf(Spec::client(Some("foreign"), vec![]));
    let expired = ca.leaf(Spec {
        not_before: now - time::Duration::days(10),
        not_after: now - time::Duration::days(1),
        ..Spec::client(Some("expired"), vec![])
    });
    let early = ca.leaf(Spec {
        not_before: now + time::Duration::days(1),
        not_after: now + time::Duration::days(10),
        ..Spec::client(Some("early"), vec![])
    });

    let served = raw_connect(server.addr, client_config(&ca.pem, Some(&good))).await;
    assert!(matches!(served, Outcome::Served { .. }), "{served:?}");
    for (what, leaf, alert) in [
        ("no certificate", None, "CertificateRequired"),
        ("another CA's", Some(&foreign), "UnknownCA"),
        ("an expired one", Some(&expired), "CertificateExpired"),
        ("a not-yet-valid one", Some(&early), "CertificateExpired"),
    ] {
        match raw_connect(server.addr, client_config(&ca.pem, leaf)).await {
            Outcome::Refused(reason) => assert!(reason.contains(alert), "{what}: {reason}"),
            served => panic!("{what}: {served:?}"),
        }
    }
    // The refusals did not stop the server.
    let channel = tonic_channel(server.addr, tonic_tls(&ca, Some(&good)))
        .await
        .expect("a channel");
    list_rules(channel).await.expect("ListRules after refusals");
    // Nor does tonic's client get through without its certificate.
    if let Ok(channel) = tonic_channel(server.addr, tonic_tls(&ca, None)).await {
        assert!(list_rules(channel).await.is_err());
    }
    server.stop().await;
}

// ------------------------------------------------------------------ identity

/// Accepts one connection with `Incoming::tls` while a raw client connects with
/// `client`, and returns what the acceptor knows of the peer.
async fn accepted_peer(ca: &Ca, client: &Leaf) -> PeerInfo {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let files = server_files(dir.path(), ca, &ca.leaf(Spec::server("server")));
    let tls = Arc::new(ReloadableTls::load(files).expect("the TLS files load"));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let addr = listener.local_addr().expect("its address");
    let mut incoming = Incoming::tls(listener, tls);
    let config = Arc::new(client_config(&ca.pem, Some(client)));
    let connect = async move {
        let tcp = TcpStream::connect(addr).await.expect("TCP connect");
        let name = ServerName::try_from("localhost").expect("a server name");
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .expect("a handshake");
        let local = tls.get_ref().0.local_addr().expect("the client's address");
        (tls, local)
    };
    let (conn, (_client, local)) = guarded("accepting", async {
        tokio::join!(incoming.next(), connect)
    })
    .await;
    let conn = conn.expect("a connection").expect("infallible");
    assert!(conn.is_tls());
    assert_eq!(conn.peer().remote, Some(local));
    conn.peer().clone()
}

#[tokio::test]
async fn the_identity_is_the_uri_name_else_the_dns_name_else_the_common_name() {
    let ca = Ca::new("test CA");
    let cases = [
        (
            Spec::client(
                Some("cn"),
                vec![
                    dns("loader.example.org"),
                    uri("spiffe://example.org/loader"),
                ],
            ),
            "spiffe://example.org/loader",
        ),
        (
            Spec::client(Some("cn"), vec![dns("loader.example.org")]),
            "loader.example.org",
        ),
        (Spec::client(Some("loader-cn"), vec![]), "loader-cn"),
    ];
    for (spec, expected) in cases {
        let leaf = ca.leaf(spec);
        assert_eq!(identity_of(&leaf.der).as_deref(), Some(expected));
        let peer = accepted_peer(&ca, &leaf).await;
        assert_eq!(peer.identity.as_deref(), Some(expected));
    }
}

/// Serves the health service alone on `incoming` with a layer that keeps the
/// `PeerInfo` of every request it sees.
async fn record_peers(
    incoming: Incoming,
    call: impl std::future::Future<Output = ()>,
) -> Vec<PeerInfo> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let (_reporter, health) = tonic_health::server::health_reporter();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .layer(tower::util::MapRequestLayer::new(
                move |r: http::Request<tonic::body::Body>| {
                    if let Some(peer) = r.extensions().get::<PeerInfo>() {
                        record
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(peer.clone());
                    }
                    r
                },
            ))
            .add_service(health)
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stopped.await;
            }),
    );
    guarded("the call", call).await;
    let _ = stop.send(());
    guarded("the stop", server)
        .await
        .expect("the server task")
        .expect("the server ran");
    let seen = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    seen
}

#[tokio::test]
async fn every_request_carries_the_peer_info_of_its_connection() {
    let ca = Ca::new("test CA");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let files = server_files(dir.path(), &ca, &ca.leaf(Spec::server("server")));
    let tls = Arc::new(ReloadableTls::load(files).expect("the TLS files load"));
    let client = ca.leaf(Spec::client(None, vec![uri("spiffe://test/reader")]));

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let addr = listener.local_addr().expect("its address");
    let peers = record_peers(Incoming::tls(listener, tls), async {
        let channel = tonic_channel(addr, tonic_tls(&ca, Some(&client)))
            .await
            .expect("a channel");
        HealthClient::new(channel)
            .check(HealthCheckRequest::default())
            .await
            .expect("a health check");
    })
    .await;
    assert_eq!(peers.len(), 1, "{peers:?}");
    assert_eq!(peers[0].identity.as_deref(), Some("spiffe://test/reader"));
    assert!(peers[0].remote.is_some_and(|a| a.ip().is_loopback()));

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let addr = listener.local_addr().expect("its address");
    let peers = record_peers(Incoming::plain(listener), async {
        let channel = Endpoint::from_shared(format!("http://{addr}"))
            .expect("a URI")
            .connect()
            .await
            .expect("a channel");
        HealthClient::new(channel)
            .check(HealthCheckRequest::default())
            .await
            .expect("a health check");
    })
    .await;
    assert_eq!(peers.len(), 1, "{peers:?}");
    assert_eq!(peers[0].identity, None);
    assert!(peers[0].remote.is_some_and(|a| a.ip().is_loopback()));
}

// ------------------------------------------------------------------ reload

/// A tonic channel over our own TLS connector, which records the server certificate
/// of every handshake it makes.
fn recording_channel(
    addr: SocketAddr,
    config: rustls::ClientConfig,
) -> (Channel, Arc<Mutex<Vec<Vec<u8>>>>) {
    let handshakes = Arc::new(Mutex::new(Vec::new()));
    let seen = handshakes.clone();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let connect = tower::service_fn(move |_: http::Uri| {
        let connector = connector.clone();
        let seen = seen.clone();
        async move {
            let tcp = TcpStream::connect(addr).await?;
            let name = ServerName::try_from("localhost").map_err(std::io::Error::other)?;
            let tls = connector.connect(name, tcp).await?;
            if let Some(cert) = tls.get_ref().1.peer_certificates().and_then(|c| c.first()) {
                seen.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(cert.to_vec());
            }
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tls))
        }
    });
    let channel = Endpoint::from_static("http://localhost").connect_with_connector_lazy(connect);
    (channel, handshakes)
}

#[tokio::test]
async fn a_reload_serves_new_connections_the_new_certificate_and_keeps_open_ones() {
    let ca = Ca::new("test CA");
    let first = ca.leaf(Spec::server("first"));
    let server = Server::start(&ca, &first).await;
    let client = ca.leaf(Spec::client(Some("loader"), vec![]));

    let (channel, handshakes) =
        recording_channel(server.addr, client_config(&ca.pem, Some(&client)));
    list_rules(channel.clone()).await.expect("ListRules");
    let recorded =
        |h: &Arc<Mutex<Vec<Vec<u8>>>>| h.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_eq!(recorded(&handshakes), vec![first.der.clone()]);

    let second = ca.leaf(Spec::server("second"));
    write(&server.files.cert, &second.cert_pem);
    write(&server.files.key, &second.key_pem);
    server.reload.trigger();

    // New connections get the new certificate once the reload is done.
    guarded("the new certificate", async {
        loop {
            match raw_connect(server.addr, client_config(&ca.pem, Some(&client))).await {
                Outcome::Served { server_cert } if server_cert == second.der => break,
                Outcome::Served { server_cert } => {
                    assert_eq!(server_cert, first.der, "neither certificate");
                }
                refused => panic!("refused during a reload: {refused:?}"),
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;

    // The open connection went on, on its first handshake.
    list_rules(channel.clone())
        .await
        .expect("ListRules after the reload");
    assert_eq!(recorded(&handshakes), vec![first.der.clone()]);
    // A new channel sees the new certificate.
    let (fresh, fresh_handshakes) =
        recording_channel(server.addr, client_config(&ca.pem, Some(&client)));
    list_rules(fresh)
        .await
        .expect("ListRules on a new connection");
    assert_eq!(recorded(&fresh_handshakes), vec![second.der.clone()]);
    server.stop().await;
}

#[tokio::test]
async fn a_bad_new_file_is_rejected_and_the_old_certificate_still_served() {
    let ca = Ca::new("test CA");
    let first = ca.leaf(Spec::server("first"));
    let dir = tempfile::tempdir().expect("a temporary directory");
    let files = server_files(dir.path(), &ca, &first);
    let tls = Arc::new(ReloadableTls::load(files.clone()).expect("the TLS files load"));
    write(
        &files.cert,
        "-----BEGIN CERTIFICATE-----\ngarbage!\n-----END CERTIFICATE-----\n",
    );
    assert!(tls.reload().is_err(), "garbage PEM reloads");
    write(&files.cert, "not PEM at all");
    assert!(
        tls.reload().is_err(),
        "a file without a certificate reloads"
    );
    let second = ca.leaf(Spec::server("second"));
    write(&files.cert, &second.cert_pem);
    let e = tls
        .reload()
        .expect_err("a certificate that is not the key's");
    assert!(!e.to_string().contains("PRIVATE KEY"), "{e}");

    // New handshakes still get the first certificate.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let addr = listener.local_addr().expect("its address");
    let mut incoming = Incoming::tls(listener, tls);
    let client = ca.leaf(Spec::client(Some("loader"), vec![]));
    let config = Arc::new(client_config(&ca.pem, Some(&client)));
    let connect = async move {
        let tcp = TcpStream::connect(addr).await.expect("TCP connect");
        let name = ServerName::try_from("localhost").expect("a server name");
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .expect("a handshake");
        tls.get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.to_vec())
    };
    let (conn, cert) = guarded("accepting", async {
        tokio::join!(incoming.next(), connect)
    })
    .await;
    assert!(conn.is_some());
    assert_eq!(cert, Some(first.der.clone()));
}

// ------------------------------------------------------------------ the binary

fn utf8(p: &Path) -> String {
    p.to_str().expect("UTF-8 test paths").to_string()
}

/// `nianbao serve` running, with the address it listens on (from its log).
struct Running {
    child: Child,
    addr: SocketAddr,
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve_command(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("serve")
        .args(args)
        .env("RUST_LOG", "info")
        .env_remove("NIANBAO_LOG_FORMAT")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// Starts `nianbao serve` and waits for its "serving" line.
fn start_serving(args: &[&str]) -> Running {
    let mut child = serve_command(args).spawn().expect("start nianbao serve");
    let stderr = child.stderr.take();
    let (tx, lines) = std::sync::mpsc::channel();
    // Killed and waited for when dropped, whatever happens below.
    let mut running = Running {
        child,
        addr: SocketAddr::from(([0, 0, 0, 0], 0)),
        lines,
        seen: Vec::new(),
    };
    let stderr = stderr.expect("piped stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    loop {
        let line = match running.lines.recv_timeout(GUARD) {
            Ok(line) => line,
            Err(e) => panic!(
                "nianbao serve did not start ({e}); it said:\n{}",
                running.seen.join("\n")
            ),
        };
        running.seen.push(line.clone());
        if line.contains("serving nianbao.v1") {
            running.addr = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("addr="))
                .and_then(|a| a.parse().ok())
                .unwrap_or_else(|| panic!("no address in {line:?}"));
            return running;
        }
    }
}

#[test]
fn serve_refuses_plaintext_on_a_non_loopback_address_unless_insecure() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let data = utf8(&dir.path().join("data"));
    let out = serve_command(&["--addr", "0.0.0.0:0", "--data-dir", &data])
        .output()
        .expect("run nianbao serve");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not a loopback address"), "{stderr}");
    assert!(stderr.contains("--insecure"), "{stderr}");

    let mut running = start_serving(&["--addr", "0.0.0.0:0", "--data-dir", &data, "--insecure"]);
    while let Ok(line) = running.lines.try_recv() {
        running.seen.push(line);
    }
    assert!(
        running
            .seen
            .iter()
            .any(|l| l.contains("WARN") && l.contains("non-loopback")),
        "{}",
        running.seen.join("\n")
    );
    assert!(running.addr.ip().is_unspecified());

    // Half a TLS configuration is a usage error.
    let out = serve_command(&["--data-dir", &data, "--tls-cert", "x.pem"])
        .output()
        .expect("run nianbao serve");
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test]
async fn pki_init_makes_files_a_client_uses_against_serve_with_mutual_tls() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let pki = dir.path().join("pki");
    let pki_s = utf8(&pki);
    let ids = [
        "spiffe://nianbao.test/loader",
        "reader.example.org",
        "ops-team_1",
    ];
    let mut args = vec!["pki", "init", &pki_s, "--server-name", "nianbao.test"];
    for id in &ids {
        args.extend(["--client", id]);
    }
    let out = Command::new(BIN)
        .args(&args)
        .output()
        .expect("run pki init");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("--client-ca {pki_s}/ca.pem")),
        "{stdout}"
    );
    assert!(stdout.contains("grpcurl -cacert"), "{stdout}");

    let client_file = |id: &str, ext: &str| -> PathBuf {
        let stem: String = id
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        pki.join("clients").join(format!("{stem}.{ext}"))
    };
    for id in ids {
        let pem = std::fs::read(client_file(id, "pem")).expect("the client certificate");
        let der = CertificateDer::from_pem_slice(&pem).expect("a certificate");
        assert_eq!(identity_of(&der).as_deref(), Some(id));
    }
    let policy = std::fs::read_to_string(pki.join("policy.toml")).expect("policy.toml");
    for id in ids {
        assert!(policy.contains(&format!("identity = \"{id}\"")), "{policy}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for key in [
            pki.join("ca.key"),
            pki.join("server.key"),
            client_file(ids[0], "key"),
        ] {
            let mode = std::fs::metadata(&key)
                .expect("a key file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{}", key.display());
        }
    }

    // Nothing is overwritten, and unsafe IDs are refused.
    let again = Command::new(BIN)
        .args(["pki", "init", &pki_s, "--server-name", "nianbao.test"])
        .output()
        .expect("run pki init");
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("ca.key"), "{stderr}");
    let other = utf8(&dir.path().join("other"));
    let bad = Command::new(BIN)
        .args([
            "pki",
            "init",
            &other,
            "--server-name",
            "x.test",
            "--client",
            "../escape",
        ])
        .output()
        .expect("run pki init");
    assert_eq!(bad.status.code(), Some(2));
    assert!(!dir.path().join("other").join("ca.pem").exists());

    // The server with those files; a client with them.
    let data = utf8(&dir.path().join("data"));
    let running = start_serving(&[
        "--addr",
        "127.0.0.1:0",
        "--data-dir",
        &data,
        "--tls-cert",
        &format!("{pki_s}/server.pem"),
        "--tls-key",
        &format!("{pki_s}/server.key"),
        "--client-ca",
        &format!("{pki_s}/ca.pem"),
        "--policy",
        &format!("{pki_s}/policy.toml"),
    ]);
    assert!(
        running.seen.iter().any(|l| l.contains("mutual TLS")),
        "{}",
        running.seen.join("\n")
    );
    let read = |p: PathBuf| std::fs::read_to_string(&p).expect("a PEM file");
    let ca = read(pki.join("ca.pem"));
    for domain in ["nianbao.test", "localhost"] {
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&ca))
            .identity(Identity::from_pem(
                read(client_file(ids[0], "pem")),
                read(client_file(ids[0], "key")),
            ))
            .domain_name(domain);
        let channel = tonic_channel(running.addr, tls).await.expect("a channel");
        let health = HealthClient::new(channel)
            .check(HealthCheckRequest::default())
            .await
            .expect("a health check");
        assert_eq!(health.into_inner().status, 1, "SERVING");
    }
    // Without a client certificate: refused.
    let outcome = raw_connect(running.addr, client_config(&ca, None)).await;
    assert!(matches!(outcome, Outcome::Refused(_)), "{outcome:?}");
    drop(running);
}

impl Running {
    /// Waits for a log line containing `needle` (and keeps every line seen).
    fn wait_for(&mut self, needle: &str) -> String {
        loop {
            match self.lines.recv_timeout(GUARD) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(e) => panic!(
                    "no line with {needle:?} ({e}); the server said:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }
}

#[cfg(unix)]
#[tokio::test]
async fn sighup_reloads_the_certificates_and_a_bad_file_keeps_the_old_ones() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let pki = dir.path().join("pki");
    let pki_s = utf8(&pki);
    let out = Command::new(BIN)
        .args(["pki", "init", &pki_s, "--server-name", "localhost"])
        .args(["--client", "loader"])
        .output()
        .expect("run pki init");
    assert_eq!(out.status.code(), Some(0));
    let data = utf8(&dir.path().join("data"));
    let (cert, key, ca, policy) = (
        pki.join("server.pem"),
        pki.join("server.key"),
        pki.join("ca.pem"),
        pki.join("policy.toml"),
    );
    let mut running = start_serving(&[
        "--addr",
        "127.0.0.1:0",
        "--data-dir",
        &data,
        "--tls-cert",
        &utf8(&cert),
        "--tls-key",
        &utf8(&key),
        "--client-ca",
        &utf8(&ca),
        "--policy",
        &utf8(&policy),
    ]);
    let read = |p: &Path| std::fs::read_to_string(p).expect("a PEM file");
    let tls = || {
        ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(read(&ca)))
            .identity(Identity::from_pem(
                read(&pki.join("clients/loader.pem")),
                read(&pki.join("clients/loader.key")),
            ))
            .domain_name("localhost")
    };
    let hup = |pid: u32| {
        let status = Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    };
    let good = read(&cert);
    write(
        &cert,
        "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
    );
    hup(running.child.id());
    let line = running.wait_for("cannot reload the TLS certificates");
    assert!(line.contains("ERROR"), "{line}");
    let channel = tonic_channel(running.addr, tls()).await.expect("a channel");
    HealthClient::new(channel)
        .check(HealthCheckRequest::default())
        .await
        .expect("served with the old certificates");

    write(&cert, &good);
    hup(running.child.id());
    let line = running.wait_for("reloaded TLS certificates");
    assert!(line.contains("INFO"), "{line}");
    let channel = tonic_channel(running.addr, tls()).await.expect("a channel");
    HealthClient::new(channel)
        .check(HealthCheckRequest::default())
        .await
        .expect("served after the reload");
    // The access policy follows the same signal: a bad file keeps the old one, a good
    // one without "loader" shuts it out of the registry at once.
    let registry = |channel| ReportRegistryClient::new(channel);
    let sample = read(&policy);
    write(&policy, "[[caller]\n");
    hup(running.child.id());
    let line = running.wait_for("cannot reload the access policy");
    assert!(line.contains("ERROR"), "{line}");
    let channel = tonic_channel(running.addr, tls()).await.expect("a channel");
    registry(channel)
        .list_reports(ListReportsRequest::default())
        .await
        .expect("the old policy lets loader list");
    write(&policy, &sample.replace("\"loader\"", "\"someone-else\""));
    hup(running.child.id());
    let line = running.wait_for("reloaded the access policy");
    assert!(line.contains("INFO"), "{line}");
    let channel = tonic_channel(running.addr, tls()).await.expect("a channel");
    let refused = registry(channel)
        .list_reports(ListReportsRequest::default())
        .await
        .expect_err("loader is no longer in the policy");
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);

    // The server's logs never show a private key.
    let logs = running.seen.join("\n");
    assert!(!logs.contains("PRIVATE KEY"), "{logs}");
}
