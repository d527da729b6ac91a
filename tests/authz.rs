//! The trust boundary over real mutual TLS with real certificates (made here with
//! rcgen): every RPC × every kind of caller, generated from one table, each cell
//! asserting the exact code and reason; scope filtering of List, Export, Watch and
//! Aggregate; per-caller rate limits; and the audit trail those calls leave.

use std::path::PathBuf;
use std::time::Duration;

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_stream::StreamExt;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use tonic::{Code, Status};
use tonic_types::StatusExt;

use nianbao::pb::report_admin_client::ReportAdminClient;
use nianbao::pb::report_registry_client::ReportRegistryClient;
use nianbao::pb::report_validator_client::ReportValidatorClient;
use nianbao::pb::{
    submit_report_request, validate_report_request, Agency, AggregateReportsRequest, AnnualReport,
    ExportAuditRecordsRequest, ExportReportsRequest, FormatVersion, GetReportRequest,
    ListReportRevisionsRequest, ListReportsRequest, ListRulesRequest, ParseReportRequest,
    PublishedText, ReportFilter, SubmitReportRequest, ValidateReportRequest, WatchReportsRequest,
    WithdrawReportRequest,
};
use nianbao::service::transport::TlsFiles;
use nianbao::service::{serve_on, Config};

// ---------------------------------------------------------------------------------
// Certificates

struct Ca {
    params: CertificateParams,
    key: KeyPair,
    pem: String,
}

fn ca(name: &str) -> Ca {
    let key = KeyPair::generate().expect("a CA key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let pem = params.self_signed(&key).expect("a CA certificate").pem();
    Ca { params, key, pem }
}

/// A certificate signed by `ca` for `name` (a DNS SAN), valid over `years`.
fn leaf(ca: &Ca, name: &str, server: bool, years: (i32, i32)) -> (String, String) {
    let key = KeyPair::generate().expect("a key");
    let mut params = CertificateParams::new(vec![name.to_string()]).expect("params");
    params.distinguished_name.push(DnType::CommonName, name);
    params.extended_key_usages = vec![if server {
        ExtendedKeyUsagePurpose::ServerAuth
    } else {
        ExtendedKeyUsagePurpose::ClientAuth
    }];
    params.not_before = date_time_ymd(years.0, 1, 1);
    params.not_after = date_time_ymd(years.1, 1, 1);
    let issuer = Issuer::from_params(&ca.params, &ca.key);
    let cert = params.signed_by(&key, &issuer).expect("a certificate");
    (cert.pem(), key.serialize_pem())
}

const VALID: (i32, i32) = (2020, 2090);

// ---------------------------------------------------------------------------------
// Callers

/// Every kind of caller the matrix tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    NoCertificate,
    OtherCa,
    Expired,
    NotYetValid,
    Unknown,
    Validator,
    ReaderIn,
    ReaderOut,
    SubmitterIn,
    SubmitterOut,
    Admin,
}

const KINDS: [Kind; 11] = [
    Kind::NoCertificate,
    Kind::OtherCa,
    Kind::Expired,
    Kind::NotYetValid,
    Kind::Unknown,
    Kind::Validator,
    Kind::ReaderIn,
    Kind::ReaderOut,
    Kind::SubmitterIn,
    Kind::SubmitterOut,
    Kind::Admin,
];

impl Kind {
    /// The identity its certificate names (a DNS SAN).
    fn identity(self) -> String {
        format!("{}.callers.test", format!("{self:?}").to_lowercase())
    }

    /// Its short tag, for the names of the reports it touches.
    fn tag(self) -> String {
        format!("{self:?}").to_lowercase()
    }
}

/// The access policy of the matrix: Jiangsu (32) is "in", Beijing (11) is "out".
fn policy() -> String {
    let entry = |k: Kind, roles: &str, read: &str, write: &str| {
        format!(
            "[[caller]]\nidentity = \"{}\"\nroles = [{roles}]\nread_scopes = [{read}]\nwrite_scopes = [{write}]\n\n",
            k.identity()
        )
    };
    [
        entry(Kind::Validator, "\"validator\"", "", ""),
        entry(Kind::ReaderIn, "\"reader\"", "\"32\"", ""),
        entry(Kind::ReaderOut, "\"reader\"", "\"11\"", ""),
        entry(Kind::SubmitterIn, "\"submitter\"", "", "\"32\""),
        entry(Kind::SubmitterOut, "\"submitter\"", "", "\"11\""),
        entry(Kind::Admin, "\"admin\"", "\"\"", "\"\""),
        // Expired and not-yet-valid certificates name listed callers: the handshake,
        // not the policy, refuses them.
        entry(Kind::Expired, "\"admin\"", "\"\"", "\"\""),
        entry(Kind::NotYetValid, "\"admin\"", "\"\"", "\"\""),
        "[[caller]]\nidentity = \"limited.callers.test\"\nroles = [\"reader\"]\nread_scopes = [\"\"]\nrate_per_second = 0.001\nburst = 2\n".to_string(),
    ]
    .concat()
}

/// A server over mTLS with the matrix's policy, and every caller's credentials.
struct World {
    port: u16,
    dir: tempfile::TempDir,
    ca: Ca,
    other: Ca,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<Result<(), nianbao::service::ServeError>>,
}

impl World {
    async fn start() -> World {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let ca = ca("nianbao test CA");
        let other = ca_other();
        let write = |name: &str, text: &str| -> PathBuf {
            let path = dir.path().join(name);
            std::fs::write(&path, text).expect("a file");
            path
        };
        let (cert, key) = leaf(&ca, "localhost", true, VALID);
        let config = Config {
            data_dir: dir.path().join("data"),
            tls: Some(TlsFiles {
                cert: write("server.pem", &cert),
                key: write("server.key", &key),
                client_ca: Some(write("ca.pem", &ca.pem)),
            }),
            policy: Some(write("policy.toml", &policy())),
            ..Config::default()
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let port = listener.local_addr().expect("its address").port();
        let (stop, stopped) = oneshot::channel::<()>();
        let done = tokio::spawn(serve_on(listener, config, async {
            let _ = stopped.await;
        }));
        World {
            port,
            dir,
            ca,
            other,
            stop: Some(stop),
            done,
        }
    }

    /// A channel for a caller of `kind` (connected lazily: a refused handshake shows
    /// as the call's status).
    fn channel(&self, kind: Kind) -> Channel {
        let identity = kind.identity();
        let credentials = match kind {
            Kind::NoCertificate => None,
            Kind::OtherCa => Some(leaf(&self.other, &identity, false, VALID)),
            Kind::Expired => Some(leaf(&self.ca, &identity, false, (2020, 2021))),
            Kind::NotYetValid => Some(leaf(&self.ca, &identity, false, (2090, 2095))),
            _ => Some(leaf(&self.ca, &identity, false, VALID)),
        };
        self.channel_with(credentials)
    }

    fn channel_named(&self, identity: &str) -> Channel {
        self.channel_with(Some(leaf(&self.ca, identity, false, VALID)))
    }

    fn channel_with(&self, credentials: Option<(String, String)>) -> Channel {
        let mut tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.ca.pem))
            .domain_name("localhost");
        if let Some((cert, key)) = credentials {
            tls = tls.identity(Identity::from_pem(cert, key));
        }
        Channel::from_shared(format!("https://localhost:{}", self.port))
            .expect("an address")
            .tls_config(tls)
            .expect("a TLS configuration")
            .timeout(Duration::from_secs(30))
            .connect_lazy()
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let done = tokio::time::timeout(Duration::from_secs(60), self.done)
            .await
            .expect("the server stops");
        done.expect("the server task").expect("the server ran");
        let _ = &self.dir;
    }
}

fn ca_other() -> Ca {
    ca("some other CA")
}

// ---------------------------------------------------------------------------------
// Requests

fn report(division: &str, agency: &str) -> AnnualReport {
    AnnualReport {
        title: format!("{agency} 2023年政府信息公开工作年度报告"),
        year: 2023,
        format_version: FormatVersion::V2021 as i32,
        agency: Some(Agency {
            name: format!("{agency}人民政府办公室"),
            division_code: Some(division.to_string()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn submit(agency: &str, division: &str) -> SubmitReportRequest {
    SubmitReportRequest {
        input: Some(submit_report_request::Input::Report(report(
            division, agency,
        ))),
        agency_id: agency.to_string(),
        ..Default::default()
    }
}

fn name(agency: &str) -> String {
    format!("agencies/{agency}/reports/2023")
}

/// Every RPC of every nianbao service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rpc {
    ParseReport,
    ValidateReport,
    ListRules,
    SubmitReport,
    GetReport,
    ListReports,
    ListReportRevisions,
    WithdrawReport,
    AggregateReports,
    ExportReports,
    WatchReports,
    ExportAuditRecords,
}

const RPCS: [Rpc; 12] = [
    Rpc::ParseReport,
    Rpc::ValidateReport,
    Rpc::ListRules,
    Rpc::SubmitReport,
    Rpc::GetReport,
    Rpc::ListReports,
    Rpc::ListReportRevisions,
    Rpc::WithdrawReport,
    Rpc::AggregateReports,
    Rpc::ExportReports,
    Rpc::WatchReports,
    Rpc::ExportAuditRecords,
];

/// The Jiangsu report every read asks for.
const JS: &str = "js-seed";

/// Calls `rpc` as a caller of `kind` on `channel`: OK, or the status.
async fn call(rpc: Rpc, kind: Kind, channel: Channel) -> Result<(), Status> {
    let mut validator = ReportValidatorClient::new(channel.clone());
    let mut registry = ReportRegistryClient::new(channel.clone());
    let mut admin = ReportAdminClient::new(channel);
    let tag = kind.tag();
    match rpc {
        Rpc::ParseReport => validator
            .parse_report(ParseReportRequest {
                text: Some(PublishedText {
                    content: "一、总体情况".as_bytes().to_vec(),
                    ..Default::default()
                }),
            })
            .await
            .map(drop),
        Rpc::ValidateReport => validator
            .validate_report(ValidateReportRequest {
                input: Some(validate_report_request::Input::Report(report(
                    "320602", "x",
                ))),
                ..Default::default()
            })
            .await
            .map(drop),
        Rpc::ListRules => validator
            .list_rules(ListRulesRequest::default())
            .await
            .map(drop),
        Rpc::SubmitReport => registry
            .submit_report(submit(&format!("s-{tag}"), "320602"))
            .await
            .map(drop),
        Rpc::GetReport => registry
            .get_report(GetReportRequest {
                name: name(JS),
                ..Default::default()
            })
            .await
            .map(drop),
        Rpc::ListReports => registry
            .list_reports(ListReportsRequest::default())
            .await
            .map(drop),
        Rpc::ListReportRevisions => registry
            .list_report_revisions(ListReportRevisionsRequest { name: name(JS) })
            .await
            .map(drop),
        Rpc::WithdrawReport => registry
            .withdraw_report(WithdrawReportRequest {
                name: name(&format!("w-{tag}")),
                reason: "matrix".into(),
                ..Default::default()
            })
            .await
            .map(drop),
        Rpc::AggregateReports => registry
            .aggregate_reports(AggregateReportsRequest::default())
            .await
            .map(drop),
        Rpc::ExportReports => {
            let mut s = registry
                .export_reports(ExportReportsRequest::default())
                .await?
                .into_inner();
            while let Some(m) = s.next().await {
                m?;
            }
            Ok(())
        }
        // A watch stays open: its answer is the response headers.
        Rpc::WatchReports => registry
            .watch_reports(WatchReportsRequest::default())
            .await
            .map(drop),
        Rpc::ExportAuditRecords => admin
            .export_audit_records(ExportAuditRecordsRequest::default())
            .await
            .map(drop),
    }
}

/// What a cell expects: OK, or a code and an `ErrorInfo` reason ("" for none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Ok,
    Fails(Code, &'static str),
    /// The TLS handshake refused the connection: the call fails without a status from
    /// the server (the client's code depends on when it saw the alert; tests/tls.rs
    /// asserts the alert itself).
    Refused,
}

/// The table: what each kind of caller gets from each kind of method.
fn expect(rpc: Rpc, kind: Kind) -> Expect {
    use Expect::*;
    let validate = matches!(rpc, Rpc::ParseReport | Rpc::ValidateReport | Rpc::ListRules);
    let write = matches!(rpc, Rpc::SubmitReport | Rpc::WithdrawReport);
    let admin = rpc == Rpc::ExportAuditRecords;
    let read = !(validate || write || admin);
    let denied = Fails(Code::PermissionDenied, "METHOD_NOT_ALLOWED");
    // A report outside the read scope does not exist, as far as the caller can tell.
    let hidden = Fails(Code::NotFound, "REPORT_NOT_FOUND");
    match kind {
        Kind::NoCertificate | Kind::OtherCa | Kind::Expired | Kind::NotYetValid => Refused,
        Kind::Unknown => Fails(Code::PermissionDenied, "UNKNOWN_CALLER"),
        Kind::Admin => Ok,
        Kind::Validator if validate => Ok,
        Kind::Validator => denied,
        Kind::ReaderIn if read => Ok,
        Kind::SubmitterIn if read || write => Ok,
        Kind::ReaderOut | Kind::SubmitterOut
            if matches!(rpc, Rpc::GetReport | Rpc::ListReportRevisions) =>
        {
            hidden
        }
        Kind::ReaderOut if read => Ok,
        Kind::SubmitterOut if read => Ok,
        Kind::SubmitterOut if rpc == Rpc::SubmitReport => {
            Fails(Code::PermissionDenied, "OUTSIDE_SCOPE")
        }
        Kind::SubmitterOut if rpc == Rpc::WithdrawReport => hidden,
        Kind::ReaderIn | Kind::ReaderOut | Kind::SubmitterIn | Kind::SubmitterOut => denied,
    }
}

fn outcome(result: &Result<(), Status>) -> (Code, String) {
    match result {
        Ok(()) => (Code::Ok, String::new()),
        Err(s) => (
            s.code(),
            s.get_error_details()
                .error_info()
                .map(|i| i.reason.clone())
                .unwrap_or_default(),
        ),
    }
}

/// Seeds, as admin, the Jiangsu report every read asks for, a Beijing one, and one
/// report per caller for its WithdrawReport cell (Jiangsu).
async fn seed(world: &World) {
    let mut admin = ReportRegistryClient::new(world.channel(Kind::Admin));
    let mut seeds = vec![
        (JS.to_string(), "320602"),
        ("bj-seed".to_string(), "110101"),
    ];
    seeds.extend(KINDS.iter().map(|k| (format!("w-{}", k.tag()), "320602")));
    for (agency, division) in seeds {
        admin
            .submit_report(submit(&agency, division))
            .await
            .unwrap_or_else(|e| panic!("seeding {agency}: {e:?}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_for_every_caller() {
    let world = World::start().await;
    seed(&world).await;
    let mut wrong = Vec::new();
    let mut cells = 0;
    for kind in KINDS {
        let channel = world.channel(kind);
        for rpc in RPCS {
            let want = expect(rpc, kind);
            let got = outcome(&call(rpc, kind, channel.clone()).await);
            let right = match want {
                Expect::Ok => got == (Code::Ok, String::new()),
                Expect::Fails(code, reason) => got == (code, reason.to_string()),
                Expect::Refused => {
                    matches!(got.0, Code::Unavailable | Code::Unknown | Code::Cancelled)
                        && got.1.is_empty()
                }
            };
            cells += 1;
            if !right {
                wrong.push(format!("{kind:?} × {rpc:?}: want {want:?}, got {got:?}"));
            }
        }
    }
    assert_eq!(cells, KINDS.len() * RPCS.len());
    // Health stays open to every certified caller, listed in the policy or not.
    for kind in [Kind::Unknown, Kind::Validator, Kind::ReaderOut] {
        let mut health = tonic_health::pb::health_client::HealthClient::new(world.channel(kind));
        let status = health
            .check(tonic_health::pb::HealthCheckRequest::default())
            .await
            .unwrap_or_else(|e| panic!("{kind:?}: health: {e:?}"))
            .into_inner()
            .status;
        assert_eq!(
            status,
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32,
            "{kind:?}"
        );
    }
    assert!(
        wrong.is_empty(),
        "{} cells wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );

    // What the matrix wrote stayed inside the scopes: the in-scope submitter's report
    // is stored under its identity, the out-of-scope one's is not.
    let mut admin = ReportRegistryClient::new(world.channel(Kind::Admin));
    let stored = admin
        .get_report(GetReportRequest {
            name: name("s-submitterin"),
            ..Default::default()
        })
        .await
        .expect("the in-scope submission")
        .into_inner();
    assert_eq!(
        stored.revision.map(|r| r.submitter),
        Some(Kind::SubmitterIn.identity()),
        "the submitter recorded is the certificate's identity"
    );
    // Nothing was written by a caller that was refused: no submission stored, no
    // withdrawal made.
    for kind in KINDS {
        let may_write = matches!(kind, Kind::SubmitterIn | Kind::Admin);
        let submitted = admin
            .get_report(GetReportRequest {
                name: name(&format!("s-{}", kind.tag())),
                ..Default::default()
            })
            .await;
        assert_eq!(submitted.is_ok(), may_write, "{kind:?}: {submitted:?}");
        let seed = admin
            .get_report(GetReportRequest {
                name: name(&format!("w-{}", kind.tag())),
                ..Default::default()
            })
            .await
            .expect("the seeded report")
            .into_inner();
        let withdrawn = seed.state.and_then(|s| s.withdrawal).is_some();
        assert_eq!(withdrawn, may_write, "{kind:?}: withdrawn");
    }
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scoped_callers_see_only_their_divisions() {
    let world = World::start().await;
    seed(&world).await;
    let mut jiangsu: Vec<String> = {
        let mut v: Vec<String> = [JS.to_string()]
            .into_iter()
            .chain(KINDS.iter().map(|k| format!("w-{}", k.tag())))
            .map(|a| name(&a))
            .collect();
        v.sort();
        v
    };
    let mut beijing = vec![name("bj-seed")];
    for kind in [Kind::ReaderIn, Kind::ReaderOut] {
        let want = if kind == Kind::ReaderIn {
            jiangsu.clone()
        } else {
            beijing.clone()
        };
        let want = &want;
        let channel = world.channel(kind);
        let mut registry = ReportRegistryClient::new(channel);

        // List, page by page (page size 3: the scope holds across pages).
        let mut listed = Vec::new();
        let mut token = String::new();
        loop {
            let page = registry
                .list_reports(ListReportsRequest {
                    page_size: 3,
                    page_token: token.clone(),
                    ..Default::default()
                })
                .await
                .expect("a page")
                .into_inner();
            listed.extend(page.reports.into_iter().map(|r| r.name));
            token = page.next_page_token;
            if token.is_empty() {
                break;
            }
        }
        listed.sort();
        assert_eq!(&listed, want, "{kind:?}: List");

        // A filter naming another division finds nothing, rather than failing.
        let other = registry
            .list_reports(ListReportsRequest {
                filter: Some(ReportFilter {
                    division_prefix: if kind == Kind::ReaderIn { "11" } else { "32" }.into(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .expect("a page")
            .into_inner();
        assert!(other.reports.is_empty(), "{kind:?}: {:?}", other.reports);

        // Export.
        let mut exported = Vec::new();
        let mut s = registry
            .export_reports(ExportReportsRequest::default())
            .await
            .expect("an export")
            .into_inner();
        while let Some(m) = s.next().await {
            exported.push(m.expect("a revision").revision.expect("one").name);
        }
        exported.sort();
        assert_eq!(&exported, want, "{kind:?}: Export");

        // Aggregate.
        let total = registry
            .aggregate_reports(AggregateReportsRequest::default())
            .await
            .expect("an aggregate")
            .into_inner();
        assert_eq!(total.reports as usize, want.len(), "{kind:?}: Aggregate");

        // Watch: the events of the caller's divisions, in order, and no others.
        let mut watch = registry
            .watch_reports(WatchReportsRequest::default())
            .await
            .expect("a watch")
            .into_inner();
        let mut seen = Vec::new();
        while seen.len() < want.len() {
            let event = tokio::time::timeout(Duration::from_secs(30), watch.next())
                .await
                .expect("an event")
                .expect("the stream is open")
                .expect("an event")
                .event
                .expect("one");
            seen.push(event.name);
        }
        // The next event is another division's submission: it must not arrive; one
        // of this caller's division afterwards must.
        let mut admin = ReportRegistryClient::new(world.channel(Kind::Admin));
        let (outside, inside) = if kind == Kind::ReaderIn {
            (("late-bj", "110101"), ("late-js", "320602"))
        } else {
            (("late-js2", "320602"), ("late-bj2", "110101"))
        };
        admin
            .submit_report(submit(outside.0, outside.1))
            .await
            .expect("submitted");
        admin
            .submit_report(submit(inside.0, inside.1))
            .await
            .expect("submitted");
        let next = tokio::time::timeout(Duration::from_secs(30), watch.next())
            .await
            .expect("an event")
            .expect("the stream is open")
            .expect("an event")
            .event
            .expect("one");
        assert_eq!(
            next.name,
            name(inside.0),
            "{kind:?}: Watch skips other divisions"
        );
        seen.sort();
        assert_eq!(&seen, want, "{kind:?}: Watch");
        // The next round sees the reports submitted in this one.
        let (js, bj) = if kind == Kind::ReaderIn {
            (inside.0, outside.0)
        } else {
            (outside.0, inside.0)
        };
        jiangsu.push(name(js));
        beijing.push(name(bj));
        jiangsu.sort();
        beijing.sort();
    }
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_over_its_rate_is_refused_and_others_are_not() {
    let world = World::start().await;
    let mut limited = ReportRegistryClient::new(world.channel_named("limited.callers.test"));
    let mut other = ReportRegistryClient::new(world.channel(Kind::ReaderIn));
    // The policy gives "limited" a burst of 2 and one request per 1000 s after it.
    for _ in 0..2 {
        limited
            .list_reports(ListReportsRequest::default())
            .await
            .expect("inside the burst");
    }
    let refused = limited
        .list_reports(ListReportsRequest::default())
        .await
        .expect_err("over the rate");
    assert_eq!(refused.code(), Code::ResourceExhausted);
    let details = refused.get_error_details();
    assert_eq!(
        details.error_info().map(|i| i.reason.as_str()),
        Some("RATE_LIMITED")
    );
    let retry = details
        .retry_info()
        .and_then(|r| r.retry_delay)
        .expect("RetryInfo says when");
    assert!(retry > Duration::from_secs(100), "{retry:?}");
    for _ in 0..5 {
        other
            .list_reports(ListReportsRequest::default())
            .await
            .expect("another caller is unaffected");
    }
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_leaves_an_audit_record() {
    let world = World::start().await;
    let mut admin_registry = ReportRegistryClient::new(world.channel(Kind::Admin));
    admin_registry
        .submit_report(SubmitReportRequest {
            request_id: "audit-submit-1".into(),
            ..submit("audited", "320602")
        })
        .await
        .expect("submitted");
    let mut reader = ReportRegistryClient::new(world.channel(Kind::ReaderIn));
    reader
        .get_report(GetReportRequest {
            name: name("audited"),
            ..Default::default()
        })
        .await
        .expect("read");
    let denied = reader
        .submit_report(submit("denied", "320602"))
        .await
        .expect_err("a reader may not submit");
    assert_eq!(denied.code(), Code::PermissionDenied);
    let unknown = ReportRegistryClient::new(world.channel(Kind::Unknown))
        .list_reports(ListReportsRequest::default())
        .await
        .expect_err("unknown");
    assert_eq!(unknown.code(), Code::PermissionDenied);

    // Read records are durable within a bounded window; follow until all four are in.
    let mut admin = ReportAdminClient::new(world.channel(Kind::Admin));
    let mut stream = admin
        .export_audit_records(ExportAuditRecordsRequest {
            since_sequence: 0,
            follow: true,
        })
        .await
        .expect("the audit stream")
        .into_inner();
    let mut records = Vec::new();
    let wanted = |records: &Vec<nianbao::pb::AuditRecord>| {
        let has = |identity: &str, method: &str, code: i32| {
            records
                .iter()
                .any(|r| r.identity == identity && r.method.ends_with(method) && r.code == code)
        };
        has(&Kind::Admin.identity(), "/SubmitReport", 0)
            && has(&Kind::ReaderIn.identity(), "/GetReport", 0)
            && has(
                &Kind::ReaderIn.identity(),
                "/SubmitReport",
                Code::PermissionDenied as i32,
            )
            && has(
                &Kind::Unknown.identity(),
                "/ListReports",
                Code::PermissionDenied as i32,
            )
    };
    while !wanted(&records) {
        let r = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .expect("a record in time")
            .expect("the stream is open")
            .expect("a record");
        records.push(r);
    }
    let submit = records
        .iter()
        .find(|r| r.method.ends_with("/SubmitReport") && r.code == 0)
        .expect("the submit's record");
    assert_eq!(submit.request_id, "audit-submit-1");
    assert_eq!(submit.resources, [name("audited")]);
    assert!(submit.peer.starts_with("127.0.0.1:"), "{}", submit.peer);
    let get = records
        .iter()
        .find(|r| r.method.ends_with("/GetReport"))
        .expect("the read's record");
    assert_eq!(get.resources, [name("audited")]);
    let denied = records
        .iter()
        .find(|r| r.identity == Kind::ReaderIn.identity() && r.code != 0)
        .expect("the refusal's record");
    assert_eq!(denied.reason, "METHOD_NOT_ALLOWED");
    // One chain: each record's previous hash is the one before's hash.
    for pair in records.windows(2) {
        assert_eq!(pair[1].sequence, pair[0].sequence + 1);
        assert_eq!(pair[1].previous_hash, pair[0].hash);
    }
    world.stop().await;
}

#[test]
fn the_sample_policy_of_pki_init_is_a_policy_the_server_loads() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nianbao"))
        .args(["pki", "init"])
        .arg(dir.path().join("pki"))
        .args(["--server-name", "localhost", "--client", "platform-a"])
        .args(["--client", "spiffe://gov.example/b"])
        .output()
        .expect("nianbao runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let policy = nianbao::service::auth::Policy::load(&dir.path().join("pki/policy.toml"))
        .expect("the sample policy loads");
    assert_eq!(policy.len(), 2);
    for id in ["platform-a", "spiffe://gov.example/b"] {
        let grant = policy.grant(id).expect("each client is listed");
        assert!(grant.read.is_national() && grant.write.is_national());
    }
}

#[tokio::test]
async fn mutual_tls_without_a_policy_does_not_start() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let ca = ca("nianbao test CA");
    let (cert, key) = leaf(&ca, "localhost", true, VALID);
    let write = |name: &str, text: &str| -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("a file");
        path
    };
    let config = Config {
        data_dir: dir.path().join("data"),
        tls: Some(TlsFiles {
            cert: write("server.pem", &cert),
            key: write("server.key", &key),
            client_ca: Some(write("ca.pem", &ca.pem)),
        }),
        ..Config::default()
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let refused = serve_on(listener, config, std::future::pending())
        .await
        .expect_err("refused");
    assert!(
        matches!(refused, nianbao::service::ServeError::PolicyRequired),
        "{refused}"
    );
    assert!(refused.to_string().contains("--policy"), "{refused}");
}
