//! The gRPC server in-process, driven by the generated tonic clients: the
//! registry's behaviour over the wire (names, etags, idempotency, limits, health
//! when the store cannot open, draining on shutdown). The independent Python
//! client in `tests/interop/` covers the same contract from another stack.

use std::path::Path;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::transport::Channel;
use tonic::Code;
use tonic_types::StatusExt;

use nianbao::pb::report_admin_client::ReportAdminClient;
use nianbao::pb::report_registry_client::ReportRegistryClient;
use nianbao::pb::report_validator_client::ReportValidatorClient;
use nianbao::pb::{
    submit_report_request, AggregateReportsRequest, ExportAuditRecordsRequest, GetReportRequest,
    GroupBy, ListReportsRequest, ParseReportRequest, PublishedText, ReportFilter, RuleOutcome,
    SubmitReportRequest, ValidateReportRequest, WatchReportsRequest, WithdrawReportRequest,
};
use nianbao::service::{serve_on, Config, WorkLimits, WorkPool};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus");

fn corpus(name: &str) -> Vec<u8> {
    let path = Path::new(CORPUS).join(name);
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("the corpus file {} is missing: {e}", path.display()))
}

/// A running server and a way to stop it.
struct Server {
    addr: String,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<Result<(), nianbao::service::ServeError>>,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start(configure: impl FnOnce(&mut Config, &Path)) -> Server {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut config = Config {
            data_dir: dir.path().join("data"),
            ..Config::default()
        };
        configure(&mut config, dir.path());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let addr = format!("http://{}", listener.local_addr().expect("its address"));
        let (stop, stopped) = oneshot::channel::<()>();
        let done = tokio::spawn(serve_on(listener, config, async {
            let _ = stopped.await;
        }));
        Server {
            addr,
            stop: Some(stop),
            done,
            _dir: dir,
        }
    }

    async fn channel(&self) -> Channel {
        for _ in 0..100 {
            if let Ok(c) = Channel::from_shared(self.addr.clone())
                .expect("a valid URI")
                .connect()
                .await
            {
                return c;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the server at {} did not come up", self.addr);
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // A guard against a server that never stops, not a timing.
        let result = tokio::time::timeout(Duration::from_secs(300), self.done)
            .await
            .expect("the server drains");
        result
            .expect("the server task")
            .expect("the server stops cleanly");
    }
}

fn text(name: &str) -> Option<submit_report_request::Input> {
    Some(submit_report_request::Input::Text(PublishedText {
        content: corpus(name),
        label: name.to_string(),
        ..Default::default()
    }))
}

fn reason(status: &tonic::Status) -> String {
    status
        .get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_get_list_withdraw_with_etags_and_retries() {
    let server = Server::start(|_, _| {}).await;
    let mut registry = ReportRegistryClient::new(server.channel().await);

    // Two consecutive years of one agency: the later one is checked against the
    // stored earlier one (X1 runs instead of being not applicable).
    for (year_file, agency) in [
        ("003_pingtan_2021.txt", "pingtan"),
        ("004_pingtan_2022.txt", "pingtan"),
    ] {
        let r = registry
            .submit_report(SubmitReportRequest {
                input: text(year_file),
                agency_id: agency.into(),
                ..Default::default()
            })
            .await
            .expect("submitted")
            .into_inner();
        assert_eq!(r.revision.as_ref().map(|r| r.revision), Some(1));
    }
    let got = registry
        .get_report(GetReportRequest {
            name: "agencies/pingtan/reports/2022".into(),
            revision: 0,
        })
        .await
        .expect("found")
        .into_inner();
    let revision = got.revision.expect("a revision");
    let x1 = revision
        .validation
        .as_ref()
        .and_then(|v| v.rules.iter().find(|r| r.code == "X1"))
        .map(|r| r.outcome);
    assert_eq!(
        x1,
        Some(RuleOutcome::Passed as i32),
        "X1 ran against the stored 2021 report"
    );
    let etag = got.state.expect("a state").etag;

    // A stale etag: FAILED_PRECONDITION with PreconditionFailure, nothing stored.
    let stale = registry
        .submit_report(SubmitReportRequest {
            input: text("004_pingtan_2022.txt"),
            agency_id: "pingtan".into(),
            etag: "\"stale\"".into(),
            ..Default::default()
        })
        .await
        .expect_err("a stale etag is refused");
    assert_eq!(stale.code(), Code::FailedPrecondition);
    assert_eq!(reason(&stale), "ETAG_MISMATCH");
    assert!(stale.get_error_details().precondition_failure().is_some());

    // The current etag and a request id: revision 2; the retry replays it.
    let submit = SubmitReportRequest {
        input: text("004_pingtan_2022.txt"),
        agency_id: "pingtan".into(),
        etag: etag.clone(),
        request_id: "retry-1".into(),
        ..Default::default()
    };
    let first = registry
        .submit_report(submit.clone())
        .await
        .expect("stored")
        .into_inner();
    let again = registry
        .submit_report(submit)
        .await
        .expect("replayed")
        .into_inner();
    assert_eq!(first.revision.as_ref().map(|r| r.revision), Some(2));
    assert!(!first.replayed && again.replayed);
    assert_eq!(first.revision, again.revision);
    // The same request id for another input is refused.
    let reused = registry
        .submit_report(SubmitReportRequest {
            input: text("003_pingtan_2021.txt"),
            agency_id: "pingtan".into(),
            request_id: "retry-1".into(),
            ..Default::default()
        })
        .await
        .expect_err("a reused request id is refused");
    assert_eq!(reused.code(), Code::AlreadyExists);
    assert_eq!(reason(&reused), "REQUEST_ID_REUSED");

    // Withdraw: a reason is required; then the listing leaves the report out.
    let no_reason = registry
        .withdraw_report(WithdrawReportRequest {
            name: "agencies/pingtan/reports/2021".into(),
            ..Default::default()
        })
        .await
        .expect_err("a reason is required");
    assert_eq!(no_reason.code(), Code::InvalidArgument);
    let fields: Vec<String> = no_reason
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default();
    assert_eq!(fields, ["reason"]);
    let withdrawn = registry
        .withdraw_report(WithdrawReportRequest {
            name: "agencies/pingtan/reports/2021".into(),
            reason: "published in error".into(),
            ..Default::default()
        })
        .await
        .expect("withdrawn")
        .into_inner();
    assert!(withdrawn.state.and_then(|s| s.withdrawal).is_some());
    let listed = registry
        .list_reports(ListReportsRequest::default())
        .await
        .expect("listed")
        .into_inner();
    let names: Vec<&str> = listed.reports.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["agencies/pingtan/reports/2022"]);

    // A missing report: NOT_FOUND with its reason; a malformed name: a field violation.
    let missing = registry
        .get_report(GetReportRequest {
            name: "agencies/pingtan/reports/2030".into(),
            revision: 0,
        })
        .await
        .expect_err("missing");
    assert_eq!(
        (missing.code(), reason(&missing).as_str()),
        (Code::NotFound, "REPORT_NOT_FOUND")
    );
    let bad = registry
        .get_report(GetReportRequest {
            name: "reports/2023".into(),
            revision: 0,
        })
        .await
        .expect_err("malformed");
    assert_eq!(bad.code(), Code::InvalidArgument);

    server.stop().await;
}

/// GetReport is answered from the stored bytes (`src/service/stored.rs`): what a
/// client decodes must be exactly what SubmitReport answered, for the latest and an
/// earlier revision, compressed or not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_report_answers_exactly_what_was_submitted() {
    let server = Server::start(|_, _| {}).await;
    let mut registry = ReportRegistryClient::new(server.channel().await);
    let mut submitted = Vec::new();
    for file in ["002_pingtan_2020.txt", "002_pingtan_2020.txt"] {
        let r = registry
            .submit_report(SubmitReportRequest {
                input: text(file),
                agency_id: "pingtan".into(),
                ..Default::default()
            })
            .await
            .expect("submitted")
            .into_inner();
        submitted.push(r);
    }
    let name = submitted[1]
        .revision
        .as_ref()
        .expect("a revision")
        .name
        .clone();
    let mut zipped = ReportRegistryClient::new(server.channel().await)
        .send_compressed(tonic::codec::CompressionEncoding::Gzip)
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
    for (revision, index) in [(0, 1), (2, 1), (1, 0)] {
        let request = GetReportRequest {
            name: name.clone(),
            revision,
        };
        let plain = registry
            .get_report(request.clone())
            .await
            .expect("found")
            .into_inner();
        assert_eq!(
            plain.revision, submitted[index].revision,
            "revision {revision}"
        );
        assert_eq!(
            plain.state, submitted[1].state,
            "the report's current state, whichever revision was asked for"
        );
        let compressed = zipped
            .get_report(request)
            .await
            .expect("found")
            .into_inner();
        assert_eq!(compressed, plain, "gzip changes nothing");
    }
    let missing = registry
        .get_report(GetReportRequest { name, revision: 3 })
        .await
        .expect_err("no third revision");
    assert_eq!(
        (missing.code(), reason(&missing).as_str()),
        (Code::NotFound, "REVISION_NOT_FOUND")
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_capped_and_aggregates_count_what_was_stored() {
    let server = Server::start(|c, _| c.max_page_size = 2).await;
    let mut registry = ReportRegistryClient::new(server.channel().await);
    let files = [
        "000_2b6e7661ff84f527.txt",
        "002_pingtan_2020.txt",
        "003_pingtan_2021.txt",
        "004_pingtan_2022.txt",
        "015_shuyangxian_2025.txt",
    ];
    let mut new_received = 0i64;
    for (i, f) in files.iter().enumerate() {
        let r = registry
            .submit_report(SubmitReportRequest {
                input: text(f),
                agency_id: format!("agency-{i}"),
                ..Default::default()
            })
            .await
            .expect("stored")
            .into_inner();
        new_received += r
            .revision
            .and_then(|r| r.report)
            .and_then(|r| r.requests)
            .and_then(|t| t.new_received)
            .and_then(|row| row.total)
            .map_or(0, i64::from);
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = registry
            .list_reports(ListReportsRequest {
                page_size: 100,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .expect("a page")
            .into_inner();
        assert!(page.reports.len() <= 2, "the page size is capped at 2");
        seen.extend(page.reports.into_iter().map(|r| r.name));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), files.len(), "every report once: {seen:?}");

    let agg = registry
        .aggregate_reports(AggregateReportsRequest {
            filter: Some(ReportFilter::default()),
            group_by: GroupBy::Unspecified as i32,
            division_prefix_length: 0,
        })
        .await
        .expect("aggregated")
        .into_inner();
    assert_eq!(agg.reports, files.len() as u32);
    let total = agg.groups[0]
        .cells
        .iter()
        .find(|c| c.field_path == "requests.new_received.total")
        .map(|c| c.sum);
    assert_eq!(total, Some(new_received));

    let bad_group = registry
        .aggregate_reports(AggregateReportsRequest {
            filter: None,
            group_by: GroupBy::DivisionPrefix as i32,
            division_prefix_length: 9,
        })
        .await
        .expect_err("a prefix length of 9 is refused");
    assert_eq!(bad_group.code(), Code::InvalidArgument);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_requests_are_resource_exhausted() {
    let server = Server::start(|c, _| c.max_request_bytes = 1024).await;
    let mut validator = ReportValidatorClient::new(server.channel().await);
    let status = validator
        .parse_report(ParseReportRequest {
            text: Some(PublishedText {
                content: vec![b'x'; 4096],
                ..Default::default()
            }),
        })
        .await
        .expect_err("too large");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_eq!(reason(&status), "REQUEST_TOO_LARGE");
    // A request under the limit is served.
    let ok = validator
        .parse_report(ParseReportRequest {
            text: Some(PublishedText {
                content: "2023年度报告".as_bytes().to_vec(),
                ..Default::default()
            }),
        })
        .await;
    assert!(ok.is_ok(), "{ok:?}");
    server.stop().await;
}

/// Sends arbitrary bytes as a request message, to see what the server makes of
/// bytes that are not one.
#[derive(Clone, Copy, Debug, Default)]
struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }

    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl tonic::codec::Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        use prost::bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        use prost::bytes::Buf;
        let mut out = vec![0; src.remaining()];
        src.copy_to_slice(&mut out);
        Ok(Some(out))
    }
}

async fn raw_call(channel: Channel, path: &'static str, body: Vec<u8>) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("a ready channel");
    let path = http::uri::PathAndQuery::from_static(path);
    grpc.unary(tonic::Request::new(body), path, RawCodec)
        .await
        .expect_err("not a request message")
}

/// The statuses tonic itself answers before a handler runs (an oversize message,
/// plain or gzip; bytes that are not a message) are rewritten into the contract's by
/// `service::edge`, keyed on tonic's wording, which tonic does not type. These go
/// through the real transport, so a tonic upgrade that changes the wording fails
/// here instead of silently answering OUT_OF_RANGE or INTERNAL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_transports_own_statuses_become_the_contracts() {
    let server = Server::start(|c, _| c.max_request_bytes = 1024).await;
    let channel = server.channel().await;
    // 4 KiB of one byte compresses far below the limit and inflates above it.
    let mut gzip = ReportValidatorClient::new(channel.clone())
        .send_compressed(tonic::codec::CompressionEncoding::Gzip);
    let status = gzip
        .parse_report(ParseReportRequest {
            text: Some(PublishedText {
                content: vec![b'x'; 4096],
                ..Default::default()
            }),
        })
        .await
        .expect_err("too large once inflated");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_eq!(reason(&status), "REQUEST_TOO_LARGE");
    // Field 1 (`text`) as a length-delimited field whose length runs past the end.
    let garbage = vec![0x0a, 0xff, 0x01, 0x00];
    for path in [
        "/nianbao.v1.ReportValidator/ParseReport",
        "/nianbao.v1.ReportRegistry/GetReport",
        "/nianbao.v1.ReportRegistry/SubmitReport",
    ] {
        let status = raw_call(channel.clone(), path, garbage.clone()).await;
        assert_eq!(status.code(), Code::InvalidArgument, "{path}: {status:?}");
        assert_eq!(reason(&status), "INVALID_ARGUMENT", "{path}");
        let fields: Vec<String> = status
            .get_error_details()
            .bad_request()
            .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
            .unwrap_or_default();
        assert_eq!(fields, ["request"], "{path}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_store_the_validator_serves_and_the_registry_is_unavailable() {
    // The data directory is a file: the store cannot open.
    let server = Server::start(|c, dir| {
        let file = dir.join("not-a-directory");
        std::fs::write(&file, b"x").expect("a file");
        c.data_dir = file;
    })
    .await;
    let channel = server.channel().await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let status = |service: &str| tonic_health::pb::HealthCheckRequest {
        service: service.to_string(),
    };
    let registry_health = health
        .check(status("nianbao.v1.ReportRegistry"))
        .await
        .expect("health answers")
        .into_inner()
        .status;
    assert_eq!(
        registry_health,
        tonic_health::pb::health_check_response::ServingStatus::NotServing as i32
    );
    let validator_health = health
        .check(status("nianbao.v1.ReportValidator"))
        .await
        .expect("health answers")
        .into_inner()
        .status;
    assert_eq!(
        validator_health,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    let mut registry = ReportRegistryClient::new(channel);
    let unavailable = registry
        .list_reports(ListReportsRequest::default())
        .await
        .expect_err("no store");
    assert_eq!(unavailable.code(), Code::Unavailable);
    assert_eq!(reason(&unavailable), "STORE_UNAVAILABLE");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_get_new_events_and_end_when_the_server_drains() {
    let server = Server::start(|_, _| {}).await;
    let channel = server.channel().await;
    let mut registry = ReportRegistryClient::new(channel.clone());
    let mut stream = registry
        .watch_reports(WatchReportsRequest { after_sequence: 0 })
        .await
        .expect("watching")
        .into_inner();
    let mut submitter = ReportRegistryClient::new(channel);
    submitter
        .submit_report(SubmitReportRequest {
            input: text("000_2b6e7661ff84f527.txt"),
            agency_id: "chongchuan".into(),
            ..Default::default()
        })
        .await
        .expect("stored");
    let event = tokio::time::timeout(Duration::from_secs(300), stream.message())
        .await
        .expect("an event within 10 s")
        .expect("a message")
        .expect("not the end")
        .event
        .expect("an event");
    assert_eq!(event.sequence, 1);
    assert_eq!(event.name, "agencies/chongchuan/reports/2023");

    // Draining ends the stream with UNAVAILABLE (resume from the last sequence).
    let stopping = tokio::spawn(server.stop());
    let end = tokio::time::timeout(Duration::from_secs(300), stream.message())
        .await
        .expect("the stream ends within 10 s");
    match end {
        Err(status) => assert_eq!(status.code(), Code::Unavailable),
        Ok(None) => {}
        Ok(Some(e)) => panic!("unexpected event {e:?}"),
    }
    stopping.await.expect("stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_exports_audit_records_and_follows_until_the_server_drains() {
    use nianbao::store::{AuditEntry, Store, StoreConfig};
    let server = Server::start(|config, _| {
        // Five records in the store before the server opens it.
        let data = config.data_dir.clone();
        std::thread::spawn(move || {
            let store = Store::open(&StoreConfig::new(&data)).expect("a store");
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            let entries = (1..=5)
                .map(|i| AuditEntry {
                    time: std::time::SystemTime::now(),
                    identity: "auditor".into(),
                    peer: "127.0.0.1:9".into(),
                    method: "/nianbao.v1.ReportRegistry/GetReport".into(),
                    resources: vec![],
                    request_id: format!("r-{i}"),
                    code: 0,
                    reason: String::new(),
                })
                .collect();
            rt.block_on(store.append_audit(entries)).expect("appended");
            rt.block_on(store.flush()).expect("flushed");
        })
        .join()
        .expect("the store is prepared");
    })
    .await;
    let mut admin = ReportAdminClient::new(server.channel().await);
    let mut stream = admin
        .export_audit_records(ExportAuditRecordsRequest {
            since_sequence: 2,
            follow: false,
        })
        .await
        .expect("exporting")
        .into_inner();
    let mut got = Vec::new();
    while let Some(r) = stream.message().await.expect("a record") {
        got.push(r.sequence);
        assert_eq!(r.hash.len(), 32);
    }
    assert_eq!(got, vec![3, 4, 5]);

    // Following: the records so far, then the stream stays open until the drain.
    let mut stream = admin
        .export_audit_records(ExportAuditRecordsRequest {
            since_sequence: 0,
            follow: true,
        })
        .await
        .expect("following")
        .into_inner();
    for want in 1..=5 {
        let r = tokio::time::timeout(Duration::from_secs(300), stream.message())
            .await
            .expect("a record")
            .expect("a message")
            .expect("not the end");
        assert_eq!(r.sequence, want);
    }
    let stopping = tokio::spawn(server.stop());
    let end = tokio::time::timeout(Duration::from_secs(300), stream.message())
        .await
        .expect("the stream ends");
    match end {
        Err(status) => assert_eq!(status.code(), Code::Unavailable),
        Ok(None) => {}
        Ok(Some(r)) => panic!("unexpected record {r:?}"),
    }
    stopping.await.expect("stopped");
}

/// Asserts that `result` is INVALID_ARGUMENT with an `ErrorInfo`, a `BadRequest`
/// naming `field`, and a message and details far smaller than the 16 KiB of trailers
/// clients accept.
#[track_caller]
fn assert_bounded_invalid<T: std::fmt::Debug>(result: Result<T, tonic::Status>, field: &str) {
    let status = result.expect_err(field);
    assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
    assert_eq!(reason(&status), "INVALID_ARGUMENT", "{field}");
    let fields: Vec<String> = status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default();
    assert!(fields.iter().any(|f| f == field), "{field}: {fields:?}");
    // On the wire: grpc-message percent-encoded (at most 3 bytes a byte), the
    // details in base64.
    let wire = 3 * status.message().len() + status.details().len().div_ceil(3) * 4;
    assert!(
        wire < 4 * 1024,
        "{field}: {wire} bytes of trailers: {:?}",
        status.message()
    );
}

/// Fields whose value is only valid when short (or not at all): each at 10 kB and at
/// 1 MB is INVALID_ARGUMENT naming it, and its error repeats a short prefix only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_strings_in_any_field_are_refused_with_small_errors() {
    use nianbao::pb::{
        validate_report_request, ExportReportsRequest, ListReportRevisionsRequest,
        ValidateReportRequest,
    };
    let server = Server::start(|_, _| {}).await;
    let channel = server.channel().await;
    let mut registry = ReportRegistryClient::new(channel.clone());
    let mut validator = ReportValidatorClient::new(channel);
    let name = "agencies/long-strings/reports/2021".to_string();
    let published = |charset: &str, url: &str, label: &str| PublishedText {
        content: corpus("003_pingtan_2021.txt"),
        charset: charset.into(),
        url: url.into(),
        label: label.into(),
    };
    for size in [10_000, 1 << 20] {
        // Mixed: ASCII, a control character and CJK, so escaping and character
        // boundaries are exercised too.
        let long: String = "a\u{1b}崇".chars().cycle().take(size).collect();
        let l = || long.clone();

        for (field, r) in [
            (
                "name",
                registry
                    .get_report(GetReportRequest {
                        name: l(),
                        revision: 0,
                    })
                    .await
                    .map(drop),
            ),
            (
                "name",
                registry
                    .list_report_revisions(ListReportRevisionsRequest { name: l() })
                    .await
                    .map(drop),
            ),
        ] {
            assert_bounded_invalid(r, field);
        }

        let withdraw = |f: &dyn Fn(&mut WithdrawReportRequest)| {
            let mut w = WithdrawReportRequest {
                name: name.clone(),
                reason: "a reason".into(),
                ..Default::default()
            };
            f(&mut w);
            w
        };
        for (field, request) in [
            ("name", withdraw(&|w| w.name = l())),
            ("reason", withdraw(&|w| w.reason = l())),
            ("etag", withdraw(&|w| w.etag = l())),
            ("request_id", withdraw(&|w| w.request_id = l())),
        ] {
            assert_bounded_invalid(registry.withdraw_report(request).await, field);
        }

        let submit = |f: &dyn Fn(&mut SubmitReportRequest)| {
            let mut s = SubmitReportRequest {
                input: text("003_pingtan_2021.txt"),
                agency_id: "long-strings".into(),
                ..Default::default()
            };
            f(&mut s);
            s
        };
        let submit_text = |t: PublishedText| {
            submit(&|s| s.input = Some(submit_report_request::Input::Text(t.clone())))
        };
        for (field, request) in [
            ("agency_id", submit(&|s| s.agency_id = l())),
            ("request_id", submit(&|s| s.request_id = l())),
            ("etag", submit(&|s| s.etag = l())),
            ("text.charset", submit_text(published(&long, "", ""))),
            ("text.url", submit_text(published("", &long, ""))),
            ("text.label", submit_text(published("", "", &long))),
        ] {
            assert_bounded_invalid(registry.submit_report(request).await, field);
        }

        for (field, t) in [
            ("text.charset", published(&long, "", "")),
            ("text.url", published("", &long, "")),
            ("text.label", published("", "", &long)),
        ] {
            assert_bounded_invalid(
                validator
                    .parse_report(ParseReportRequest {
                        text: Some(t.clone()),
                    })
                    .await,
                field,
            );
            assert_bounded_invalid(
                validator
                    .validate_report(ValidateReportRequest {
                        input: Some(validate_report_request::Input::Text(t)),
                        previous: None,
                    })
                    .await,
                field,
            );
        }

        let filters = [
            (
                "filter.agency_id",
                ReportFilter {
                    agency_id: l(),
                    ..Default::default()
                },
            ),
            (
                "filter.division_prefix",
                ReportFilter {
                    division_prefix: l(),
                    ..Default::default()
                },
            ),
        ];
        for (field, filter) in filters {
            assert_bounded_invalid(
                registry
                    .list_reports(ListReportsRequest {
                        filter: Some(filter.clone()),
                        ..Default::default()
                    })
                    .await,
                field,
            );
            assert_bounded_invalid(
                registry
                    .aggregate_reports(AggregateReportsRequest {
                        filter: Some(filter.clone()),
                        ..Default::default()
                    })
                    .await,
                field,
            );
            assert_bounded_invalid(
                registry
                    .export_reports(ExportReportsRequest {
                        filter: Some(filter),
                    })
                    .await
                    .map(drop),
                field,
            );
        }
        assert_bounded_invalid(
            registry
                .list_reports(ListReportsRequest {
                    page_token: l(),
                    ..Default::default()
                })
                .await,
            "page_token",
        );
    }
    server.stop().await;
}

/// The strict inputs: negative page sizes, years not written as four digits, chosen
/// ids starting or ending with `-`, control and bidi characters in free text, and a
/// malformed `x-nianbao-submitter`: each INVALID_ARGUMENT naming its field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_inputs_are_refused_naming_their_field() {
    use tonic::metadata::AsciiMetadataValue;
    let server = Server::start(|_, _| {}).await;
    let mut registry = ReportRegistryClient::new(server.channel().await);

    for page_size in [-1, i32::MIN] {
        assert_bounded_invalid(
            registry
                .list_reports(ListReportsRequest {
                    page_size,
                    ..Default::default()
                })
                .await,
            "page_size",
        );
    }
    registry
        .list_reports(ListReportsRequest::default())
        .await
        .expect("page_size 0: the default");

    for name in [
        "agencies/x/reports/02021",
        "agencies/x/reports/+2021",
        "agencies/x/reports/2021 ",
        "agencies/-/reports/2021",
        "agencies/-x/reports/2021",
        "agencies/x-/reports/2021",
    ] {
        let got = registry
            .get_report(GetReportRequest {
                name: name.into(),
                revision: 0,
            })
            .await;
        assert_bounded_invalid(got, "name");
    }
    for agency_id in ["-", "-x", "x-"] {
        let got = registry
            .submit_report(SubmitReportRequest {
                input: text("003_pingtan_2021.txt"),
                agency_id: agency_id.into(),
                ..Default::default()
            })
            .await;
        assert_bounded_invalid(got, "agency_id");
        let got = registry
            .list_reports(ListReportsRequest {
                filter: Some(ReportFilter {
                    agency_id: agency_id.into(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await;
        assert_bounded_invalid(got, "filter.agency_id");
    }

    // Stored, so that a withdrawal gets as far as its reason.
    registry
        .submit_report(SubmitReportRequest {
            input: text("003_pingtan_2021.txt"),
            agency_id: "strict".into(),
            ..Default::default()
        })
        .await
        .expect("stored");
    let name = "agencies/strict/reports/2021";
    for reason in [
        "wrong\0year",
        "\u{1b}[2Jgone",
        "see \u{202e}txt.exe",
        "a\u{2066}b",
        "x\u{85}",
    ] {
        let got = registry
            .withdraw_report(WithdrawReportRequest {
                name: name.into(),
                reason: reason.into(),
                ..Default::default()
            })
            .await;
        assert_bounded_invalid(got, "reason");
    }
    for (field, t) in [
        (
            "text.charset",
            PublishedText {
                charset: "GBK\0".into(),
                ..Default::default()
            },
        ),
        (
            "text.url",
            PublishedText {
                url: "https://x/\u{202e}".into(),
                ..Default::default()
            },
        ),
        (
            "text.label",
            PublishedText {
                label: "a\u{7}b".into(),
                ..Default::default()
            },
        ),
    ] {
        let got = registry
            .submit_report(SubmitReportRequest {
                input: Some(submit_report_request::Input::Text(PublishedText {
                    content: corpus("003_pingtan_2021.txt"),
                    ..t
                })),
                agency_id: "strict".into(),
                ..Default::default()
            })
            .await;
        assert_bounded_invalid(got, field);
    }
    // Line feeds and tabs are allowed in a reason.
    registry
        .withdraw_report(WithdrawReportRequest {
            name: name.into(),
            reason: "submitted twice:\n\tsee 2021-b".into(),
            ..Default::default()
        })
        .await
        .expect("withdrawn");

    let long = "x".repeat(10_000);
    let headers: [&[u8]; 5] = [
        &long.as_bytes()[..257],
        long.as_bytes(),
        b"platform\ta",
        b"platform-\xe5\xb4\x87",
        b"platform-\xff",
    ];
    for header in headers {
        let mut request = tonic::Request::new(ListReportsRequest::default());
        request.metadata_mut().insert(
            "x-nianbao-submitter",
            AsciiMetadataValue::try_from(header).expect("a header value"),
        );
        assert_bounded_invalid(registry.list_reports(request).await, "x-nianbao-submitter");
    }
    let mut request = tonic::Request::new(ListReportsRequest::default());
    request.metadata_mut().insert(
        "x-nianbao-submitter",
        AsciiMetadataValue::from_static("platform a"),
    );
    registry.list_reports(request).await.expect("a good name");
    server.stop().await;
}

/// Holds one job on a work pool until released: (release, the job's result).
fn hold(
    pool: &WorkPool,
    text_bytes: usize,
) -> (std::sync::mpsc::Sender<()>, nianbao::service::work::Job<()>) {
    let (release, wait) = std::sync::mpsc::channel::<()>();
    let job = pool
        .submit(text_bytes, move || {
            let _ = wait.recv();
        })
        .expect("the pool has room");
    (release, job)
}

/// The call was refused at once: RESOURCE_EXHAUSTED, `OVERLOADED`, with RetryInfo.
fn assert_overloaded<T: std::fmt::Debug>(result: Result<T, tonic::Status>, what: &str) {
    let status = result.expect_err(what);
    assert_eq!(status.code(), Code::ResourceExhausted, "{what}: {status:?}");
    assert_eq!(reason(&status), "OVERLOADED", "{what}");
    let retry = status.get_error_details().retry_info().cloned();
    assert!(
        retry.and_then(|r| r.retry_delay).is_some(),
        "{what}: RetryInfo with a delay"
    );
}

fn validate_text(name: &str) -> ValidateReportRequest {
    ValidateReportRequest {
        input: Some(nianbao::pb::validate_report_request::Input::Text(
            PublishedText {
                content: corpus(name),
                label: name.into(),
                ..Default::default()
            },
        )),
        previous: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_work_pool_refuses_cpu_work_at_once_and_serves_again_when_freed() {
    // One worker and a queue of one, both held by jobs the test releases.
    let pool = WorkPool::new(WorkLimits {
        workers: 1,
        queue: 1,
        ..WorkLimits::default()
    })
    .expect("a pool");
    let server = {
        let pool = pool.clone();
        Server::start(move |c, _| c.work_pool = Some(pool)).await
    };
    let channel = server.channel().await;
    let mut validator = ReportValidatorClient::new(channel.clone());
    let mut registry = ReportRegistryClient::new(channel);
    let (release_running, running) = hold(&pool, 0);
    let (release_queued, queued) = hold(&pool, 0);

    let file = "000_2b6e7661ff84f527.txt";
    assert_overloaded(
        validator.validate_report(validate_text(file)).await,
        "ValidateReport of a text",
    );
    assert_overloaded(
        validator
            .parse_report(ParseReportRequest {
                text: Some(PublishedText {
                    content: corpus(file),
                    ..Default::default()
                }),
            })
            .await,
        "ParseReport",
    );
    assert_overloaded(
        registry
            .submit_report(SubmitReportRequest {
                input: text(file),
                agency_id: "held".into(),
                ..Default::default()
            })
            .await,
        "SubmitReport",
    );
    assert_overloaded(
        registry
            .aggregate_reports(AggregateReportsRequest::default())
            .await,
        "AggregateReports",
    );
    // An entity is validated inline (tens of microseconds), not on the pool.
    let entity = nianbao::parse::parse(&corpus(file), &Default::default())
        .report
        .expect("a report");
    validator
        .validate_report(ValidateReportRequest {
            input: Some(nianbao::pb::validate_report_request::Input::Report(entity)),
            previous: None,
        })
        .await
        .expect("an entity is validated without the pool");

    release_running.send(()).expect("the running job holds");
    release_queued.send(()).expect("the queued job holds");
    running.await.expect("the running job ends");
    queued.await.expect("the queued job ends");

    let validated = validator
        .validate_report(validate_text(file))
        .await
        .expect("served again")
        .into_inner();
    assert!(validated.result.is_some());
    registry
        .submit_report(SubmitReportRequest {
            input: text(file),
            agency_id: "freed".into(),
            ..Default::default()
        })
        .await
        .expect("submitted once the pool is free");
    let aggregate = registry
        .aggregate_reports(AggregateReportsRequest::default())
        .await
        .expect("aggregated")
        .into_inner();
    assert_eq!(aggregate.reports, 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn texts_beyond_the_parse_budget_are_refused_at_once() {
    let file = "010_shanghai_shizhengfubangongting_2019.txt";
    let size = corpus(file).len();
    // A budget of twice the text, half of it held: the text does not fit until freed.
    let pool = WorkPool::new(WorkLimits {
        workers: 1,
        queue: 8,
        parse_budget: 2 * size,
    })
    .expect("a pool");
    let server = {
        let pool = pool.clone();
        Server::start(move |c, _| c.work_pool = Some(pool)).await
    };
    let mut validator = ReportValidatorClient::new(server.channel().await);
    let (release, held) = hold(&pool, size + 4096);
    assert_overloaded(
        validator.validate_report(validate_text(file)).await,
        "a text beyond the budget left",
    );
    release.send(()).expect("the job holds");
    held.await.expect("the held job ends");
    validator
        .validate_report(validate_text(file))
        .await
        .expect("the budget is free again");
    server.stop().await;
}
