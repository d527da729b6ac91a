//! `nianbao-load`: a load generator for the nianbao gRPC server (BENCHMARKS.md), and
//! the plain tonic echo server it is compared with.
//!
//! - `run`: drive one scenario (`get`, `list`, `mixed-get-list`, `validate`,
//!   `validate-text`, `submit`, `aggregate`, `echo`) against a server, closed-loop
//!   (`--concurrency` callers, each sending its next request when the last one
//!   answered) or open-loop at a fixed rate (`--rate`: requests are due at fixed
//!   intervals whatever the server does, and each latency is measured from the moment
//!   its request was due, so a stalled server is charged for the requests it delayed:
//!   no coordinated omission). Latencies go to HDR histograms; the result is one
//!   summary line (and JSON with `--json`). With `--baseline ADDR` the same load is
//!   first run against an echo server, and both lines are printed with the ratio.
//! - `seed`: fill a store with generated reports, directly through the library
//!   (`--data-dir`, the server stopped) or through a running server (`--addr`).
//! - `echo-server`: a minimal tonic service (`nianbao.load.Echo/Echo`, one `bytes`
//!   message, no work), the transport's own cost on this machine.
//!
//! The client shares the machine's cores with the server, so what it spends per
//! request is taken from the server. Responses are not decoded by default: the
//! client's cost per request is kept close to the echo client's so that the server is
//! what is measured; a sample is decoded and checked. The nianbao methods are called
//! by path with a codec of this file (`RawCodec`) that hands back each response's
//! protobuf bytes as they arrived; requests that never change (`validate`,
//! `validate-text`) are encoded once before the run, and `submit` requests are put
//! together from the template report encoded once and the few fields each submission
//! changes. A response counts as ok when its status is OK and it has a body where one
//! is expected (GetReport, ValidateReport, SubmitReport); each caller's first response,
//! its first one in the measured window, and then one in `CHECK_EVERY` (256) are also
//! decoded with the `nianbao::pb` types and checked (the report asked for, a
//! validation result with the server's rule-set version, the stored name, a listing
//! that matches its filter, group counts that add up). A response that fails a check
//! is an error (`bad-response`), and the first one is described on stderr.
//! `--decode-responses` decodes (and checks) every response instead, as the generated
//! clients did: a comparison point for the client's cost.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{Args, Parser, Subcommand, ValueEnum};
use hdrhistogram::Histogram;
use prost::bytes::{Buf, BufMut, Bytes, BytesMut};
use prost::encoding::{self, WireType};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{http, BoxFuture, Context, Poll, Service, StdError};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Response, Status};

use nianbao::ingest;
use nianbao::parse::{parse, ParseOptions};
use nianbao::pb::report_registry_client::ReportRegistryClient;
use nianbao::pb::report_validator_client::ReportValidatorClient;
use nianbao::pb::{
    submit_report_request, validate_report_request, Agency, AggregateReportsRequest,
    AggregateReportsResponse, AnnualReport, Date, FormatVersion, GetReportRequest,
    GetReportResponse, GroupBy, ListReportsRequest, ListReportsResponse, ListRulesRequest,
    PublishedText, ReportFilter, SubmitReportRequest, SubmitReportResponse, ValidateReportRequest,
    ValidateReportResponse,
};
use nianbao::store::{Store, StoreConfig};

/// The same allocator as the `nianbao` server, so that the echo server (and the
/// client) are not handicapped or favoured by another one.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const DEFAULT_REPORT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/corpus/000_2b6e7661ff84f527.txt"
);

/// Real county-level division codes (行政区划代码) of ten provinces; generated
/// agency `n` is in `DIVISIONS[n % 20]`.
const DIVISIONS: [(&str, &str); 20] = [
    ("110101", "北京市东城区"),
    ("110105", "北京市朝阳区"),
    ("310101", "上海市黄浦区"),
    ("310115", "上海市浦东新区"),
    ("320106", "南京市鼓楼区"),
    ("320602", "南通市崇川区"),
    ("320508", "苏州市姑苏区"),
    ("321322", "沭阳县"),
    ("330106", "杭州市西湖区"),
    ("330212", "宁波市鄞州区"),
    ("350102", "福州市鼓楼区"),
    ("350128", "平潭县"),
    ("350203", "厦门市思明区"),
    ("370102", "济南市历下区"),
    ("370202", "青岛市市南区"),
    ("420106", "武汉市武昌区"),
    ("440106", "广州市天河区"),
    ("440305", "深圳市南山区"),
    ("510104", "成都市锦江区"),
    ("610113", "西安市雁塔区"),
];

/// Submitter name sent with every submission (`x-nianbao-submitter`).
const SUBMITTER: &str = "nianbao-load";

/// `submit`: years per generated agency, and the first of them.
const SUBMIT_YEARS: u64 = 5;
const SUBMIT_FIRST_YEAR: i32 = 2021;

/// Without `--decode-responses`, one response in this many (besides each caller's
/// first, and its first in the measured window) is decoded and checked.
const CHECK_EVERY: u64 = 256;

/// The errors-by-code entry of responses that fail a check.
const BAD_RESPONSE: &str = "bad-response";

/// The methods called (see proto/nianbao/v1/service.proto).
const GET_REPORT: &str = "/nianbao.v1.ReportRegistry/GetReport";
const LIST_REPORTS: &str = "/nianbao.v1.ReportRegistry/ListReports";
const SUBMIT_REPORT: &str = "/nianbao.v1.ReportRegistry/SubmitReport";
const AGGREGATE_REPORTS: &str = "/nianbao.v1.ReportRegistry/AggregateReports";
const VALIDATE_REPORT: &str = "/nianbao.v1.ReportValidator/ValidateReport";

// ------------------------------------------------------------------ command line

#[derive(Debug, Parser)]
#[command(
    name = "nianbao-load",
    about = "Load generator for the nianbao gRPC server, and the echo server it is compared with"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Drive one scenario against a server and print latency percentiles and rate.
    Run(RunArgs),
    /// Fill a store (directly, or through a running server) with generated reports.
    Seed(SeedArgs),
    /// Serve the minimal echo service (`nianbao.load.Echo/Echo`): the baseline.
    EchoServer(EchoServerArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// GetReport (latest revision) of names picked at random from the store's listing.
    Get,
    /// ListReports pages (random division/year filters, following page tokens).
    List,
    /// GetReport and ListReports mixed (`--get-percent`, default 80/20).
    MixedGetList,
    /// ValidateReport with an AnnualReport entity (the parsed `--report`).
    Validate,
    /// ValidateReport with the published text of `--report` (parsed by the server).
    ValidateText,
    /// SubmitReport of entities under new agency ids and years (durable writes).
    Submit,
    /// AggregateReports over the whole store (each call's latency printed).
    Aggregate,
    /// The echo service (`echo-server`).
    Echo,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Get => "get",
            Scenario::List => "list",
            Scenario::MixedGetList => "mixed-get-list",
            Scenario::Validate => "validate",
            Scenario::ValidateText => "validate-text",
            Scenario::Submit => "submit",
            Scenario::Aggregate => "aggregate",
            Scenario::Echo => "echo",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Grouping {
    None,
    Year,
    Province,
    City,
    Level,
    Kind,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The server (`host:port` or `http://host:port`).
    #[arg(long, default_value = "127.0.0.1:50051")]
    addr: String,

    #[arg(long, value_enum)]
    scenario: Scenario,

    /// Closed loop: concurrent callers (ignored with --rate).
    #[arg(long, short = 'c', default_value_t = 64)]
    concurrency: usize,

    /// Open loop: requests per second, due at fixed intervals; latencies are measured
    /// from the moment each request was due.
    #[arg(long)]
    rate: Option<f64>,

    /// Open loop: most requests outstanding at once (the scheduler waits beyond it;
    /// the wait still counts in the latencies).
    #[arg(long, default_value_t = 20_000)]
    max_in_flight: usize,

    /// Seconds measured.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,

    /// Seconds of load before the measurement starts (not recorded).
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,

    /// HTTP/2 connections the callers share (round robin).
    #[arg(long, default_value_t = 2)]
    connections: usize,

    /// Worker threads of the client's runtime.
    #[arg(long, default_value_t = 2)]
    threads: usize,

    /// Per-request timeout, in seconds.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,

    /// mixed-get-list: percentage of GetReport calls.
    #[arg(long, default_value_t = 80)]
    get_percent: u32,

    /// list, mixed-get-list: page size of ListReports.
    #[arg(long, default_value_t = 50)]
    page_size: i32,

    /// get, mixed-get-list: at most this many names read from the store's listing.
    #[arg(long, default_value_t = 200_000)]
    names: usize,

    /// validate, validate-text, submit: the published report the requests carry.
    #[arg(long, default_value = DEFAULT_REPORT)]
    report: PathBuf,

    /// submit: prefix of the generated agency ids (default: `s` and the run's start
    /// time, so every run creates new reports).
    #[arg(long)]
    agency_prefix: Option<String>,

    /// submit: cycle over this many agencies (× 5 years) so that later submissions
    /// are new revisions of earlier ones; default: every submission a new report.
    #[arg(long)]
    agencies: Option<u64>,

    /// aggregate: grouping.
    #[arg(long, value_enum, default_value_t = Grouping::None)]
    group_by: Grouping,

    /// echo: bytes in each request's payload.
    #[arg(long, default_value_t = 0)]
    echo_bytes: usize,

    /// echo: bytes the server answers with (0: the request's payload back).
    #[arg(long, default_value_t = 0)]
    echo_reply_bytes: u32,

    /// An echo server: run the same load (mode, callers or rate, connections, times)
    /// against it first, and print both results and their ratio.
    #[arg(long)]
    baseline: Option<String>,

    /// The server's process id, to report its CPU use during the measurement.
    #[arg(long)]
    server_pid: Option<u32>,

    /// The baseline echo server's process id, likewise.
    #[arg(long)]
    baseline_pid: Option<u32>,

    /// Also write the results as JSON to this file (`-`: standard output).
    #[arg(long)]
    json: Option<PathBuf>,

    /// A label for the summary line and the JSON.
    #[arg(long)]
    label: Option<String>,

    /// Decode (and check) every response with the generated types, as a comparison
    /// point. By default responses are not decoded: the client's cost per request is
    /// kept close to the echo client's so that the server is what is measured; a
    /// sample is decoded and checked (each caller's first response, then 1 in 256).
    #[arg(long)]
    decode_responses: bool,
}

#[derive(Debug, Args)]
struct SeedArgs {
    /// Build the store directly at this directory (no server may have it open).
    #[arg(long, conflicts_with = "addr", required_unless_present = "addr")]
    data_dir: Option<PathBuf>,

    /// Submit through this running server instead.
    #[arg(long)]
    addr: Option<String>,

    /// Reports to store.
    #[arg(long, default_value_t = 100_000)]
    reports: u64,

    /// Number of the first generated report (to add to an earlier seed).
    #[arg(long, default_value_t = 0)]
    start: u64,

    /// Concurrent submitters.
    #[arg(long, default_value_t = 64)]
    writers: usize,

    /// Prefix of the agency ids: `{prefix}-{n:05}`.
    #[arg(long, default_value = "a")]
    agency_prefix: String,

    /// Years per agency: report `i` is agency `i / years`, year `first-year + i % years`.
    #[arg(long, default_value_t = 5)]
    years: u64,

    #[arg(long, default_value_t = 2021)]
    first_year: i32,

    /// The published report every generated one is derived from.
    #[arg(long, default_value = DEFAULT_REPORT)]
    report: PathBuf,

    /// Worker threads of the runtime.
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

#[derive(Debug, Args)]
struct EchoServerArgs {
    #[arg(long, default_value = "127.0.0.1:50061")]
    addr: std::net::SocketAddr,

    /// Worker threads (default: one per core, as the nianbao server).
    #[arg(long)]
    threads: Option<usize>,
}

type Fallible<T> = Result<T, String>;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::Seed(args) => seed(args),
        Command::EchoServer(args) => echo_server(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nianbao-load: error: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

fn runtime(threads: Option<usize>) -> Fallible<tokio::runtime::Runtime> {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = threads {
        b.worker_threads(n.max(1));
    }
    b.enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

fn url(addr: &str) -> String {
    if addr.contains("://") {
        addr.to_string()
    } else {
        format!("http://{addr}")
    }
}

/// HTTP/2 flow-control windows, the nianbao server's (`src/service/mod.rs`).
const STREAM_WINDOW_BYTES: u32 = 1024 * 1024;
const CONNECTION_WINDOW_BYTES: u32 = 8 * 1024 * 1024;

async fn connect(addr: &str, timeout: Duration) -> Fallible<Channel> {
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

/// A small deterministic generator (splitmix64): request choices, not security.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

// ------------------------------------------------------------------ generated reports

/// The corpus report, parsed once: every generated report is a variation of it.
fn template(path: &Path) -> Fallible<AnnualReport> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse(&bytes, &ParseOptions::default())
        .report
        .ok_or_else(|| format!("{} does not parse into a report", path.display()))
}

/// Generated report `i`: agency `{prefix}-{i / years:05}`, year `first_year + i % years`,
/// division code, agency name, title and publication date to match.
fn generated(
    t: &AnnualReport,
    prefix: &str,
    i: u64,
    years: u64,
    first_year: i32,
) -> (String, AnnualReport) {
    let (agency_id, head) = generated_head(t.agency.as_ref(), prefix, i, years, first_year);
    let report = AnnualReport {
        agency: head.agency,
        year: head.year,
        format_version: head.format_version,
        title: head.title,
        publication_date: head.publication_date,
        ..t.clone()
    };
    (agency_id, report)
}

/// What makes generated report `i` itself: its agency id, and a report holding only
/// the fields `generated` sets (agency, year, format version, title, publication
/// date). `agency` is the template's agency, which the generated one is made from.
fn generated_head(
    agency: Option<&Agency>,
    prefix: &str,
    i: u64,
    years: u64,
    first_year: i32,
) -> (String, AnnualReport) {
    let years = years.max(1);
    let agency_no = i / years;
    let year = first_year + (i % years) as i32;
    let (code, place) = DIVISIONS[(agency_no % DIVISIONS.len() as u64) as usize];
    let agency_id = format!("{prefix}-{agency_no:05}");
    let name = format!("{place}第{agency_no}号行政机关");
    let title = format!("{name}{year}年政府信息公开工作年度报告");
    let mut agency = agency.cloned().unwrap_or_default();
    agency.name = name;
    agency.unified_social_credit_code = None;
    agency.division_code = Some(code.to_string());
    let head = AnnualReport {
        agency: Some(agency),
        year,
        format_version: FormatVersion::V2021 as i32,
        title,
        publication_date: Some(Date {
            year: year + 1,
            month: 1,
            day: 20,
        }),
        ..Default::default()
    };
    (agency_id, head)
}

/// SubmitReport requests put together from pieces: the template report without the
/// fields `generated_head` sets, encoded once, then per submission those fields and
/// the agency id. Protobuf fields may come in any order, and the two parts of the
/// report set disjoint fields, so their concatenation is the encoding of the whole
/// report (`prepare` checks it against the typed request).
struct SubmitBodies {
    /// The template's agency, the generated ones are made from.
    agency: Option<Agency>,
    /// The template report without agency, year, format version, title and date.
    rest: Bytes,
    prefix: String,
}

impl SubmitBodies {
    fn new(t: &AnnualReport, prefix: String) -> SubmitBodies {
        let rest = AnnualReport {
            agency: None,
            year: 0,
            format_version: FormatVersion::Unspecified as i32,
            title: String::new(),
            publication_date: None,
            ..t.clone()
        };
        SubmitBodies {
            agency: t.agency.clone(),
            rest: Bytes::from(prost::Message::encode_to_vec(&rest)),
            prefix,
        }
    }

    /// Submission `i`: the name its report will have, and the encoded request.
    fn request(&self, i: u64) -> Result<(String, Bytes), String> {
        let (agency_id, head) = generated_head(
            self.agency.as_ref(),
            &self.prefix,
            i,
            SUBMIT_YEARS,
            SUBMIT_FIRST_YEAR,
        );
        let report_len = self.rest.len() + prost::Message::encoded_len(&head);
        let mut buf = BytesMut::with_capacity(report_len + agency_id.len() + 24);
        encoding::encode_key(1, WireType::LengthDelimited, &mut buf);
        encoding::encode_varint(report_len as u64, &mut buf);
        buf.put_slice(&self.rest);
        prost::Message::encode(&head, &mut buf)
            .map_err(|e| format!("cannot encode submission {i}: {e}"))?;
        encoding::string::encode(3, &agency_id, &mut buf);
        let name = format!("agencies/{agency_id}/reports/{}", head.year);
        Ok((name, buf.freeze()))
    }
}

// ------------------------------------------------------------------ seed

fn seed(args: SeedArgs) -> Fallible<()> {
    let t = Arc::new(template(&args.report)?);
    let rt = runtime(Some(args.threads))?;
    let started = Instant::now();
    let first = args.start;
    let end = args
        .start
        .checked_add(args.reports)
        .ok_or("--start + --reports overflows")?;
    let next = Arc::new(AtomicU64::new(first));
    let done = Arc::new(AtomicU64::new(0));
    let years = args.years.max(1);
    let prefix = Arc::new(args.agency_prefix.clone());
    if nianbao::names::AgencyId::parse(&format!("{}-00000", args.agency_prefix)).is_err() {
        return Err(format!(
            "`{}` cannot start an agency id (a-z, 0-9 and -)",
            args.agency_prefix
        ));
    }

    enum Target {
        Store(Store),
        Server(ReportRegistryClient<Channel>),
    }
    let target = match (&args.data_dir, &args.addr) {
        (Some(dir), _) => Target::Store(
            Store::open(&StoreConfig::new(dir))
                .map_err(|e| format!("cannot open the store at {}: {e}", dir.display()))?,
        ),
        (None, Some(addr)) => Target::Server(
            ReportRegistryClient::new(rt.block_on(connect(addr, Duration::from_secs(60)))?)
                .max_decoding_message_size(64 * 1024 * 1024),
        ),
        (None, None) => return Err("give --data-dir or --addr".into()),
    };
    let target = Arc::new(target);
    let first_year = args.first_year;

    rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..args.writers.max(1) {
            let (t, next, done, prefix, target) = (
                t.clone(),
                next.clone(),
                done.clone(),
                prefix.clone(),
                target.clone(),
            );
            tasks.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= end {
                        return Ok::<(), String>(());
                    }
                    let (agency, report) = generated(&t, &prefix, i, years, first_year);
                    match target.as_ref() {
                        Target::Store(store) => {
                            ingest::submit(
                                store,
                                ingest::Request {
                                    source: ingest::Source::Entity(Box::new(report)),
                                    agency: Some(agency.clone()),
                                    submitter: SUBMITTER.into(),
                                    request_id: None,
                                    expected_etag: None,
                                    reject_on_error: false,
                                },
                            )
                            .await
                            .map_err(|e| format!("report {i} ({agency}): {e}"))?;
                        }
                        Target::Server(client) => {
                            let mut request = Request::new(SubmitReportRequest {
                                input: Some(nianbao::pb::submit_report_request::Input::Report(
                                    report,
                                )),
                                agency_id: agency.clone(),
                                ..Default::default()
                            });
                            request.metadata_mut().insert(
                                nianbao::service::registry::SUBMITTER_HEADER,
                                SUBMITTER.parse().map_err(|_| "bad header")?,
                            );
                            client.clone().submit_report(request).await.map_err(|s| {
                                format!("report {i} ({agency}): {:?}: {}", s.code(), s.message())
                            })?;
                        }
                    }
                    let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                    if n % 10_000 == 0 {
                        eprintln!(
                            "seed: {n} reports in {:.1} s",
                            started.elapsed().as_secs_f64()
                        );
                    }
                }
            }));
        }
        for task in tasks {
            task.await
                .map_err(|e| format!("a submitter failed: {e}"))??;
        }
        if let Target::Store(store) = target.as_ref() {
            store
                .flush()
                .await
                .map_err(|e| format!("the final flush failed: {e}"))?;
        }
        Ok::<(), String>(())
    })?;
    let took = started.elapsed().as_secs_f64();
    let n = done.load(Ordering::Relaxed);
    let last_agency = (end.saturating_sub(1)) / years;
    println!(
        "seeded {n} reports (agencies {}-{:05}..{}-{:05}, years {}..={}) in {took:.1} s: {:.0} durable submits/s",
        args.agency_prefix,
        first / years,
        args.agency_prefix,
        last_agency,
        first_year,
        first_year + years as i32 - 1,
        n as f64 / took
    );
    if let Target::Store(store) = target.as_ref() {
        let stats = store
            .stats()
            .map_err(|e| format!("cannot read the store's counts: {e}"))?;
        println!(
            "store: {} reports, {} revisions, {} bytes on disk",
            stats.reports, stats.revisions, stats.size_on_disk
        );
    }
    Ok(())
}

// ------------------------------------------------------------------ the echo service

/// The echo service's only message: a payload, and how many bytes to answer with.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EchoMessage {
    #[prost(bytes = "bytes", tag = "1")]
    pub payload: Bytes,
    /// 0: answer with the request's payload.
    #[prost(uint32, tag = "2")]
    pub reply_bytes: u32,
}

const ECHO_PATH: &str = "/nianbao.load.Echo/Echo";
/// Largest reply the echo server makes (a slice of one shared buffer: no work).
const ECHO_MAX_REPLY: usize = 4 * 1024 * 1024;

/// `nianbao.load.Echo`, written by hand: one unary method, no layers.
#[derive(Clone)]
struct EchoService {
    filler: Bytes,
}

impl tonic::server::NamedService for EchoService {
    const NAME: &'static str = "nianbao.load.Echo";
}

struct EchoUnary(Bytes);

impl tonic::server::UnaryService<EchoMessage> for EchoUnary {
    type Response = EchoMessage;
    type Future = std::future::Ready<Result<Response<EchoMessage>, Status>>;

    fn call(&mut self, request: Request<EchoMessage>) -> Self::Future {
        let m = request.into_inner();
        let payload = match m.reply_bytes as usize {
            0 => m.payload,
            n => self.0.slice(..n.min(self.0.len())),
        };
        std::future::ready(Ok(Response::new(EchoMessage {
            payload,
            reply_bytes: 0,
        })))
    }
}

impl<B> Service<http::Request<B>> for EchoService
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if req.uri().path() != ECHO_PATH {
            return Box::pin(async {
                Ok(Status::unimplemented("only nianbao.load.Echo/Echo").into_http())
            });
        }
        let method = EchoUnary(self.filler.clone());
        Box::pin(async move {
            let codec = tonic_prost::ProstCodec::<EchoMessage, EchoMessage>::default();
            let mut grpc = tonic::server::Grpc::new(codec);
            Ok(grpc.unary(method, req).await)
        })
    }
}

fn echo_server(args: EchoServerArgs) -> Fallible<()> {
    let rt = runtime(args.threads)?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", args.addr))?;
        let local = listener
            .local_addr()
            .map_err(|e| format!("cannot read the local address: {e}"))?;
        eprintln!("echo server on {local} ({ECHO_PATH})");
        let service = EchoService {
            filler: Bytes::from(vec![b'x'; ECHO_MAX_REPLY]),
        };
        // The transport settings the nianbao server asks for; none of its layers.
        // (`Server::tcp_nodelay` only applies to a listener tonic binds itself: with
        // an incoming stream the stream must set it.)
        let incoming =
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        tonic::transport::Server::builder()
            .max_concurrent_streams(256)
            .initial_stream_window_size(STREAM_WINDOW_BYTES)
            .initial_connection_window_size(CONNECTION_WINDOW_BYTES)
            .add_service(service)
            .serve_with_incoming_shutdown(incoming, async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(|e| format!("the echo server failed: {e}"))
    })
}

async fn echo_call(
    channel: Channel,
    message: EchoMessage,
) -> Result<Response<EchoMessage>, Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(format!("the connection is not ready: {e}")))?;
    let codec = tonic_prost::ProstCodec::<EchoMessage, EchoMessage>::default();
    grpc.unary(
        Request::new(message),
        http::uri::PathAndQuery::from_static(ECHO_PATH),
        codec,
    )
    .await
}

// ------------------------------------------------------------------ the client codec

/// A request as [`RawCodec`] sends it: a message, encoded on the way out, or bytes
/// encoded before (a request sent again and again is encoded once).
enum Wire<M> {
    Message(M),
    Encoded(Bytes),
}

/// The client's codec for the nianbao methods: requests as [`Wire`], responses as
/// their protobuf bytes, not decoded (the caller decodes what it checks).
struct RawCodec<M>(PhantomData<fn(M)>);

impl<M> Default for RawCodec<M> {
    fn default() -> Self {
        RawCodec(PhantomData)
    }
}

struct RawEncoder<M>(PhantomData<fn(M)>);

struct RawDecoder;

impl<M: prost::Message + 'static> Codec for RawCodec<M> {
    type Encode = Wire<M>;
    type Decode = Bytes;
    type Encoder = RawEncoder<M>;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> RawEncoder<M> {
        RawEncoder(PhantomData)
    }

    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

impl<M: prost::Message> Encoder for RawEncoder<M> {
    type Item = Wire<M>;
    type Error = Status;

    fn encode(&mut self, item: Wire<M>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        match item {
            Wire::Message(m) => m
                .encode(dst)
                .map_err(|e| Status::internal(format!("cannot encode the request: {e}"))),
            Wire::Encoded(bytes) => {
                dst.reserve(bytes.len());
                dst.put_slice(&bytes);
                Ok(())
            }
        }
    }
}

impl Decoder for RawDecoder {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        // The message's bytes as they are (a view of tonic's buffer, no copy).
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// `ListReportsResponse` reduced to its page token: decoding it skips the summaries
/// (field 1) without looking into them.
#[derive(Clone, PartialEq, prost::Message)]
struct ListPageToken {
    #[prost(string, tag = "2")]
    next_page_token: String,
}

/// `AggregateReportsResponse` reduced to its count: decoding it skips the groups.
#[derive(Clone, PartialEq, prost::Message)]
struct AggregateCount {
    #[prost(uint32, tag = "2")]
    reports: u32,
}

fn decoded<M: prost::Message + Default>(body: &Bytes) -> Result<M, CallError> {
    M::decode(body.clone()).map_err(|e| CallError::Bad(format!("it does not decode: {e}")))
}

fn non_empty(body: &Bytes) -> Result<(), CallError> {
    if body.is_empty() {
        Err(CallError::Bad("the response is empty".into()))
    } else {
        Ok(())
    }
}

fn bad<T>(reason: String) -> Result<T, CallError> {
    Err(CallError::Bad(reason))
}

/// A sampled ListReports page: every summary must match the filter it was listed with.
fn check_listing(
    filter: &ReportFilter,
    page_size: i32,
    r: &ListReportsResponse,
) -> Result<(), CallError> {
    if page_size > 0 && r.reports.len() > page_size as usize {
        return bad(format!(
            "{} reports in a page of {page_size}",
            r.reports.len()
        ));
    }
    for s in &r.reports {
        let name = format!("agencies/{}/reports/{}", s.agency_id, s.year);
        if s.name != name {
            return bad(format!("the summary of {:?} is about {name}", s.name));
        }
        if filter.year != 0 && s.year != filter.year {
            return bad(format!("{} listed under year {}", s.name, filter.year));
        }
        if !s.division_code.starts_with(&filter.division_prefix) {
            return bad(format!(
                "{} (division {:?}) listed under division prefix {}",
                s.name, s.division_code, filter.division_prefix
            ));
        }
    }
    Ok(())
}

// ------------------------------------------------------------------ workload

/// What one run sends: everything prepared before the clock starts.
struct Workload {
    scenario: Scenario,
    connections: Vec<Channel>,
    names: Vec<String>,
    filters: Vec<ReportFilter>,
    /// Listings in progress: (filter, next page token).
    tokens: Mutex<Vec<(usize, String)>>,
    page_size: i32,
    get_percent: u32,
    /// validate, validate-text: the ValidateReportRequest, encoded once.
    validate_body: Option<Bytes>,
    /// validate, validate-text: the rule-set version the server announces (ListRules).
    rule_set_version: String,
    /// submit: the requests' pieces.
    submit: Option<SubmitBodies>,
    submit_agencies: Option<u64>,
    submitted: AtomicU64,
    group_by: Grouping,
    echo: EchoMessage,
    /// Decode and check every response (`--decode-responses`), not just a sample.
    decode_responses: bool,
    /// Whether a bad response has been described on stderr (only the first is).
    reported_bad: AtomicBool,
    /// Whether to print each call (aggregate).
    print_each: bool,
    calls: AtomicU64,
}

#[derive(Clone, Copy)]
enum Op {
    Get,
    List,
    Validate,
    ValidateText,
    Submit,
    Aggregate,
    Echo,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Get => "GetReport",
            Op::List => "ListReports",
            Op::Validate => "ValidateReport (entity)",
            Op::ValidateText => "ValidateReport (text)",
            Op::Submit => "SubmitReport",
            Op::Aggregate => "AggregateReports",
            Op::Echo => "Echo",
        }
    }
}

/// Why a call did not count as ok.
enum CallError {
    /// The server answered with this status (or the call failed on the way).
    Status(Status),
    /// Status OK, but the response failed a check: why.
    Bad(String),
}

impl From<Status> for CallError {
    fn from(s: Status) -> Self {
        CallError::Status(s)
    }
}

/// A successful call: a count worth showing (reports aggregated...), and whether its
/// response was decoded and checked.
struct Done {
    count: u64,
    checked: bool,
}

impl Done {
    fn unchecked() -> Done {
        Done {
            count: 0,
            checked: false,
        }
    }

    fn checked(count: u64) -> Done {
        Done {
            count,
            checked: true,
        }
    }
}

impl Workload {
    fn op(&self, rng: &mut Rng) -> Op {
        match self.scenario {
            Scenario::Get => Op::Get,
            Scenario::List => Op::List,
            Scenario::MixedGetList => {
                if (rng.next() % 100) < u64::from(self.get_percent) {
                    Op::Get
                } else {
                    Op::List
                }
            }
            Scenario::Validate => Op::Validate,
            Scenario::ValidateText => Op::ValidateText,
            Scenario::Submit => Op::Submit,
            Scenario::Aggregate => Op::Aggregate,
            Scenario::Echo => Op::Echo,
        }
    }

    fn channel(&self, caller: u64) -> Channel {
        self.connections[(caller % self.connections.len() as u64) as usize].clone()
    }

    /// One unary call of `path`; the response's bytes, undecoded.
    async fn unary<M: prost::Message + 'static>(
        &self,
        caller: u64,
        path: &'static str,
        body: Wire<M>,
        submitter: bool,
    ) -> Result<Bytes, Status> {
        let mut grpc =
            tonic::client::Grpc::new(self.channel(caller)).max_decoding_message_size(256 << 20);
        grpc.ready()
            .await
            .map_err(|e| Status::unavailable(format!("the connection is not ready: {e}")))?;
        let mut request = Request::new(body);
        if submitter {
            request.metadata_mut().insert(
                nianbao::service::registry::SUBMITTER_HEADER,
                tonic::metadata::MetadataValue::from_static(SUBMITTER),
            );
        }
        let response = grpc
            .unary(
                request,
                http::uri::PathAndQuery::from_static(path),
                RawCodec::<M>::default(),
            )
            .await?;
        Ok(response.into_inner())
    }

    /// One request. `sample`: decode and check the response (always done with
    /// `--decode-responses`). A failed check is described on stderr the first time.
    async fn call(&self, caller: u64, rng: &mut Rng, sample: bool) -> Result<Done, CallError> {
        let op = self.op(rng);
        let result = self
            .exchange(op, caller, rng, sample || self.decode_responses)
            .await;
        if let Err(CallError::Bad(reason)) = &result {
            if !self.reported_bad.swap(true, Ordering::Relaxed) {
                eprintln!(
                    "nianbao-load: a bad {} response (counted as `{BAD_RESPONSE}`; only the first is shown): {reason}",
                    op.name()
                );
            }
        }
        result
    }

    async fn exchange(
        &self,
        op: Op,
        caller: u64,
        rng: &mut Rng,
        check: bool,
    ) -> Result<Done, CallError> {
        match op {
            Op::Get => {
                let name = &self.names[rng.below(self.names.len())];
                let request = GetReportRequest {
                    name: name.clone(),
                    revision: 0,
                };
                let body = self
                    .unary(caller, GET_REPORT, Wire::Message(request), false)
                    .await?;
                non_empty(&body)?;
                if !check {
                    return Ok(Done::unchecked());
                }
                let r: GetReportResponse = decoded(&body)?;
                let Some(revision) = r.revision else {
                    return bad(format!("GetReport {name}: no revision"));
                };
                if revision.name != *name {
                    return bad(format!(
                        "GetReport {name} answered with revision {} of {:?}",
                        revision.revision, revision.name
                    ));
                }
                if revision.report.is_none() {
                    return bad(format!(
                        "GetReport {name}: revision {} has no report",
                        revision.revision
                    ));
                }
                Ok(Done::checked(u64::from(revision.revision)))
            }
            Op::List => {
                let resumed = self.tokens.lock().ok().and_then(|mut t| t.pop());
                let (filter, token) = match resumed {
                    Some(x) => x,
                    None => (rng.below(self.filters.len()), String::new()),
                };
                let request = ListReportsRequest {
                    filter: Some(self.filters[filter].clone()),
                    page_size: self.page_size,
                    page_token: token,
                };
                // An empty body is an answer: no reports, last page.
                let body = self
                    .unary(caller, LIST_REPORTS, Wire::Message(request), false)
                    .await?;
                let (next, done) = if check {
                    let r: ListReportsResponse = decoded(&body)?;
                    check_listing(&self.filters[filter], self.page_size, &r)?;
                    (r.next_page_token, Done::checked(r.reports.len() as u64))
                } else {
                    let r: ListPageToken = decoded(&body)?;
                    (r.next_page_token, Done::unchecked())
                };
                if !next.is_empty() {
                    if let Ok(mut t) = self.tokens.lock() {
                        if t.len() < 4096 {
                            t.push((filter, next));
                        }
                    }
                }
                Ok(done)
            }
            Op::Validate | Op::ValidateText => {
                let request = self
                    .validate_body
                    .clone()
                    .ok_or_else(|| Status::internal("no report to send"))?;
                let body = self
                    .unary::<ValidateReportRequest>(
                        caller,
                        VALIDATE_REPORT,
                        Wire::Encoded(request),
                        false,
                    )
                    .await?;
                non_empty(&body)?;
                if !check {
                    return Ok(Done::unchecked());
                }
                let r: ValidateReportResponse = decoded(&body)?;
                let Some(result) = r.result else {
                    return bad("ValidateReport: no result".into());
                };
                if result.rule_set_version.is_empty()
                    || result.rule_set_version != self.rule_set_version
                {
                    return bad(format!(
                        "ValidateReport: rule set {:?}, the server's is {:?}",
                        result.rule_set_version, self.rule_set_version
                    ));
                }
                if r.report.is_none() {
                    return bad("ValidateReport: no report in the response".into());
                }
                Ok(Done::checked(u64::from(result.errors)))
            }
            Op::Submit => {
                let pieces = self
                    .submit
                    .as_ref()
                    .ok_or_else(|| Status::internal("no report to send"))?;
                let mut i = self.submitted.fetch_add(1, Ordering::Relaxed);
                if let Some(a) = self.submit_agencies {
                    i %= a.max(1) * SUBMIT_YEARS;
                }
                let (name, request) = pieces.request(i).map_err(Status::internal)?;
                let body = self
                    .unary::<SubmitReportRequest>(
                        caller,
                        SUBMIT_REPORT,
                        Wire::Encoded(request),
                        true,
                    )
                    .await?;
                non_empty(&body)?;
                if !check {
                    return Ok(Done::unchecked());
                }
                let r: SubmitReportResponse = decoded(&body)?;
                let Some(revision) = r.revision else {
                    return bad(format!("SubmitReport of {name}: no revision"));
                };
                if revision.name != name || revision.revision == 0 {
                    return bad(format!(
                        "SubmitReport of {name} stored revision {} of {:?}",
                        revision.revision, revision.name
                    ));
                }
                Ok(Done::checked(u64::from(revision.revision)))
            }
            Op::Aggregate => {
                let (group_by, division_prefix_length) = match self.group_by {
                    Grouping::None => (GroupBy::Unspecified, 0),
                    Grouping::Year => (GroupBy::Year, 0),
                    Grouping::Province => (GroupBy::DivisionPrefix, 2),
                    Grouping::City => (GroupBy::DivisionPrefix, 4),
                    Grouping::Level => (GroupBy::AgencyLevel, 0),
                    Grouping::Kind => (GroupBy::AgencyKind, 0),
                };
                let request = AggregateReportsRequest {
                    filter: None,
                    group_by: group_by as i32,
                    division_prefix_length,
                };
                // An empty body is an answer: an empty store.
                let body = self
                    .unary(caller, AGGREGATE_REPORTS, Wire::Message(request), false)
                    .await?;
                if !check {
                    // The count is shown for each call: read it, skipping the groups.
                    let r: AggregateCount = decoded(&body)?;
                    return Ok(Done {
                        count: u64::from(r.reports),
                        checked: false,
                    });
                }
                let r: AggregateReportsResponse = decoded(&body)?;
                let grouped: u64 = r.groups.iter().map(|g| u64::from(g.reports)).sum();
                if grouped != u64::from(r.reports) {
                    return bad(format!(
                        "AggregateReports: {} reports, but its groups hold {grouped}",
                        r.reports
                    ));
                }
                Ok(Done::checked(u64::from(r.reports)))
            }
            Op::Echo => {
                let r = echo_call(self.channel(caller), self.echo.clone()).await?;
                Ok(Done {
                    count: r.get_ref().payload.len() as u64,
                    checked: false,
                })
            }
        }
    }
}

/// Every report name of the store's listing (at most `max`), for GetReport.
async fn list_names(channel: &Channel, max: usize) -> Fallible<Vec<String>> {
    let mut client =
        ReportRegistryClient::new(channel.clone()).max_decoding_message_size(256 << 20);
    let mut names = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_reports(ListReportsRequest {
                filter: None,
                page_size: 1000,
                page_token: token,
            })
            .await
            .map_err(|s| {
                format!(
                    "listing the store's reports failed: {:?}: {}",
                    s.code(),
                    s.message()
                )
            })?
            .into_inner();
        names.extend(page.reports.into_iter().map(|r| r.name));
        if page.next_page_token.is_empty() || names.len() >= max {
            names.truncate(max);
            return Ok(names);
        }
        token = page.next_page_token;
    }
}

fn list_filters() -> Vec<ReportFilter> {
    let mut filters = vec![ReportFilter::default()];
    let mut provinces: Vec<&str> = DIVISIONS.iter().map(|(c, _)| &c[..2]).collect();
    provinces.dedup();
    for p in provinces {
        filters.push(ReportFilter {
            division_prefix: p.to_string(),
            ..Default::default()
        });
    }
    for (code, _) in DIVISIONS.iter().step_by(3) {
        filters.push(ReportFilter {
            division_prefix: code[..4].to_string(),
            ..Default::default()
        });
    }
    for year in 2021..=2025 {
        filters.push(ReportFilter {
            year,
            ..Default::default()
        });
    }
    filters
}

// ------------------------------------------------------------------ measurement

/// What the callers record: latencies of successful calls, errors by code.
struct Recorder {
    latency: Histogram<u64>,
    ok: u64,
    /// Of the ok calls, those whose response was decoded and checked.
    checked: u64,
    errors: BTreeMap<String, u64>,
    last_done: Option<Instant>,
}

impl Recorder {
    fn new() -> Fallible<Recorder> {
        Ok(Recorder {
            // Nanoseconds, 1 ns to 10 minutes, 3 significant digits.
            latency: Histogram::new_with_bounds(1, 600_000_000_000, 3)
                .map_err(|e| format!("cannot make a histogram: {e}"))?,
            ok: 0,
            checked: 0,
            errors: BTreeMap::new(),
            last_done: None,
        })
    }

    fn record(&mut self, result: &Result<Done, CallError>, latency: Duration, done: Instant) {
        match result {
            Ok(d) => {
                self.ok += 1;
                self.checked += u64::from(d.checked);
                self.latency
                    .saturating_record(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX));
            }
            Err(CallError::Status(s)) => *self.errors.entry(code_name(s.code())).or_default() += 1,
            Err(CallError::Bad(_)) => *self.errors.entry(BAD_RESPONSE.into()).or_default() += 1,
        }
        self.last_done = Some(self.last_done.map_or(done, |d| d.max(done)));
    }

    fn merge(&mut self, other: &Recorder) {
        let _ = self.latency.add(&other.latency);
        self.ok += other.ok;
        self.checked += other.checked;
        for (k, v) in &other.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
        self.last_done = match (self.last_done, other.last_done) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
}

fn code_name(c: Code) -> String {
    let name = match c {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    };
    name.to_string()
}

/// CPU seconds (user + system) a process has used, from /proc (Linux).
fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the command name (which may hold spaces) start at `) `.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // USER_HZ is 100 on every Linux this runs on.
    Some(ticks / 100.0)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// The settings shared by the scenario and its baseline.
#[derive(Clone, Copy)]
struct Plan {
    concurrency: usize,
    rate: Option<f64>,
    max_in_flight: usize,
    warmup: Duration,
    duration: Duration,
}

struct Outcome {
    label: String,
    scenario: Scenario,
    plan: Plan,
    connections: usize,
    /// Whether every response was decoded (the echo client always decodes its
    /// one-field message).
    decode_responses: bool,
    rec: Recorder,
    elapsed: f64,
    client_cpu: Option<f64>,
    server_cpu: Option<f64>,
    /// Open loop: how late the scheduler sent requests (ns histogram).
    lag: Option<Histogram<u64>>,
    load_before: String,
    load_after: String,
}

impl Outcome {
    fn rps(&self) -> f64 {
        if self.elapsed > 0.0 {
            self.rec.ok as f64 / self.elapsed
        } else {
            0.0
        }
    }

    fn ms(&self, q: f64) -> f64 {
        self.rec.latency.value_at_quantile(q) as f64 / 1e6
    }

    fn mode(&self) -> String {
        match self.plan.rate {
            Some(r) => format!("open-loop {r:.0}/s"),
            None => format!("closed-loop c={}", self.plan.concurrency),
        }
    }

    fn line(&self) -> String {
        let errors: u64 = self.rec.errors.values().sum();
        let mut s = format!(
            "{} [{}, {} conn, {:.1} s]: {} ok, {} errors, {:.1} req/s | p50 {:.3} p90 {:.3} p99 {:.3} p99.9 {:.3} max {:.3} ms",
            self.label,
            self.mode(),
            self.connections,
            self.elapsed,
            self.rec.ok,
            errors,
            self.rps(),
            self.ms(0.5),
            self.ms(0.9),
            self.ms(0.99),
            self.ms(0.999),
            self.rec.latency.max() as f64 / 1e6,
        );
        if !self.rec.errors.is_empty() {
            let e: Vec<String> = self
                .rec
                .errors
                .iter()
                .map(|(k, v)| format!("{k}×{v}"))
                .collect();
            s.push_str(&format!(" | errors {}", e.join(" ")));
        }
        if let Some(c) = self.client_cpu {
            s.push_str(&format!(" | cpu: client {:.0}%", c * 100.0));
        }
        if let Some(c) = self.server_cpu {
            s.push_str(&format!(" server {:.0}%", c * 100.0));
        }
        if let Some(lag) = &self.lag {
            s.push_str(&format!(
                " | send lag p99 {:.3} ms",
                lag.value_at_quantile(0.99) as f64 / 1e6
            ));
        }
        s.push_str(&format!(" | load {}", self.load_after));
        s
    }

    fn json(&self) -> serde_json::Value {
        let q = |x: f64| self.rec.latency.value_at_quantile(x) as f64 / 1e3;
        serde_json::json!({
            "label": self.label,
            "scenario": self.scenario.name(),
            "mode": if self.plan.rate.is_some() { "open-loop" } else { "closed-loop" },
            "concurrency": self.plan.rate.is_none().then_some(self.plan.concurrency),
            "target_rate": self.plan.rate,
            "connections": self.connections,
            "duration_s": self.elapsed,
            "ok": self.rec.ok,
            "errors": self.rec.errors,
            "decode_responses": self.decode_responses,
            "checked_responses": self.rec.checked,
            "requests_per_s": self.rps(),
            "latency_us": {
                "p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "p999": q(0.999),
                "max": self.rec.latency.max() as f64 / 1e3,
                "mean": self.rec.latency.mean() / 1e3,
            },
            "send_lag_us": self.lag.as_ref().map(|l| serde_json::json!({
                "p50": l.value_at_quantile(0.5) as f64 / 1e3,
                "p99": l.value_at_quantile(0.99) as f64 / 1e3,
                "max": l.max() as f64 / 1e3,
            })),
            "client_cpu_cores": self.client_cpu,
            "server_cpu_cores": self.server_cpu,
            "loadavg_before": self.load_before,
            "loadavg_after": self.load_after,
        })
    }
}

/// Runs `workload` under `plan` and measures it.
async fn measure(
    workload: Arc<Workload>,
    plan: Plan,
    label: String,
    server_pid: Option<u32>,
) -> Fallible<Outcome> {
    let shards = 64usize;
    let recorders: Arc<Vec<Mutex<Recorder>>> = Arc::new(
        (0..shards)
            .map(|_| Recorder::new().map(Mutex::new))
            .collect::<Fallible<_>>()?,
    );
    let load_before = loadavg();
    let t0 = Instant::now();
    let start = t0 + plan.warmup;
    let end = start + plan.duration;

    // CPU use over the measured window.
    let sampler = tokio::spawn(async move {
        tokio::time::sleep_until(start.into()).await;
        let (c0, s0, w0) = (cpu_seconds(None), cpu_seconds(server_pid), Instant::now());
        tokio::time::sleep_until(end.into()).await;
        let (c1, s1, w) = (
            cpu_seconds(None),
            cpu_seconds(server_pid),
            w0.elapsed().as_secs_f64(),
        );
        let rate = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) if w > 0.0 => Some((b - a) / w),
            _ => None,
        };
        (rate(c0, c1), rate(s0, s1))
    });

    let mut lag = None;
    match plan.rate {
        None => {
            let mut tasks = Vec::new();
            for caller in 0..plan.concurrency.max(1) {
                let (w, recorders) = (workload.clone(), recorders.clone());
                tasks.push(tokio::spawn(async move {
                    let mut rng = Rng::new(caller as u64 + 1);
                    let mut local = Recorder::new()?;
                    // Checked: the first response, the first measured one, 1 in CHECK_EVERY.
                    let (mut seq, mut measured) = (0u64, false);
                    loop {
                        let sent = Instant::now();
                        if sent >= end {
                            break;
                        }
                        let sample = seq % CHECK_EVERY == 0 || (sent >= start && !measured);
                        measured |= sent >= start;
                        seq += 1;
                        let result = w.call(caller as u64, &mut rng, sample).await;
                        let done = Instant::now();
                        let latency = done - sent;
                        if w.print_each {
                            let n = w.calls.fetch_add(1, Ordering::Relaxed) + 1;
                            match &result {
                                Ok(d) => println!(
                                    "  call {n}: {:.1} ms ({} reports){}",
                                    latency.as_secs_f64() * 1e3,
                                    d.count,
                                    if sent < start { " [warm-up]" } else { "" }
                                ),
                                Err(CallError::Status(s)) => println!(
                                    "  call {n}: {:?} after {:.1} ms: {}",
                                    s.code(),
                                    latency.as_secs_f64() * 1e3,
                                    s.message()
                                ),
                                Err(CallError::Bad(reason)) => println!(
                                    "  call {n}: {BAD_RESPONSE} after {:.1} ms: {reason}",
                                    latency.as_secs_f64() * 1e3,
                                ),
                            }
                        }
                        if sent >= start {
                            local.record(&result, latency, done);
                        }
                    }
                    if let Ok(mut r) = recorders[caller % shards].lock() {
                        r.merge(&local);
                    }
                    Ok::<(), String>(())
                }));
            }
            for t in tasks {
                t.await.map_err(|e| format!("a caller failed: {e}"))??;
            }
        }
        Some(rate) => {
            if !(rate > 0.0 && rate.is_finite()) {
                return Err(format!("--rate must be positive, not {rate}"));
            }
            // The scheduler is an OS thread sleeping with nanosleep precision (a tokio
            // timer has millisecond granularity, which would add up to 1 ms to every
            // latency measured from the due time).
            let handle = tokio::runtime::Handle::current();
            let (w, recorders) = (workload.clone(), recorders.clone());
            let in_flight = Arc::new(tokio::sync::Semaphore::new(plan.max_in_flight.max(1)));
            let scheduler = std::thread::spawn(move || -> Fallible<Histogram<u64>> {
                let mut lag = Histogram::<u64>::new_with_bounds(1, 600_000_000_000, 3)
                    .map_err(|e| format!("cannot make a histogram: {e}"))?;
                let mut k: u64 = 0;
                let mut tasks = Vec::new();
                // Checked: the first request, the first measured one, 1 in CHECK_EVERY.
                let mut measured = false;
                loop {
                    let due = t0 + Duration::from_secs_f64(k as f64 / rate);
                    if due >= end {
                        break;
                    }
                    let sample = k % CHECK_EVERY == 0 || (due >= start && !measured);
                    measured |= due >= start;
                    let now = Instant::now();
                    if due > now {
                        std::thread::sleep(due - now);
                    }
                    let permit = match in_flight.clone().try_acquire_owned() {
                        Ok(p) => p,
                        Err(_) => handle
                            .block_on(in_flight.clone().acquire_owned())
                            .map_err(|e| format!("the in-flight limit failed: {e}"))?,
                    };
                    let sent = Instant::now();
                    if due >= start {
                        lag.saturating_record(
                            u64::try_from((sent - due).as_nanos()).unwrap_or(u64::MAX),
                        );
                    }
                    let (w, recorders) = (w.clone(), recorders.clone());
                    tasks.push(handle.spawn(async move {
                        let mut rng = Rng::new(k.wrapping_mul(0x2545_f491_4f6c_dd1d) + 1);
                        let result = w.call(k, &mut rng, sample).await;
                        let done = Instant::now();
                        drop(permit);
                        if due >= start {
                            if let Ok(mut r) = recorders[(k % shards as u64) as usize].lock() {
                                r.record(&result, done - due, done);
                            }
                        }
                    }));
                    k += 1;
                    // Finished tasks need not be kept.
                    if tasks.len() >= 65_536 {
                        tasks.retain(|t| !t.is_finished());
                    }
                }
                for t in tasks {
                    handle
                        .block_on(t)
                        .map_err(|e| format!("a request task failed: {e}"))?;
                }
                Ok(lag)
            });
            lag = Some(
                tokio::task::spawn_blocking(move || scheduler.join())
                    .await
                    .map_err(|e| format!("the scheduler failed: {e}"))?
                    .map_err(|_| "the scheduler panicked".to_string())??,
            );
        }
    }
    let (client_cpu, server_cpu) = sampler
        .await
        .map_err(|e| format!("the CPU sampler failed: {e}"))?;
    let mut rec = Recorder::new()?;
    for r in recorders.iter() {
        if let Ok(r) = r.lock() {
            rec.merge(&r);
        }
    }
    let elapsed = rec
        .last_done
        .map_or(0.0, |d| d.saturating_duration_since(start).as_secs_f64())
        .max(plan.duration.as_secs_f64());
    Ok(Outcome {
        label,
        scenario: workload.scenario,
        plan,
        connections: workload.connections.len(),
        decode_responses: workload.decode_responses || workload.scenario == Scenario::Echo,
        rec,
        elapsed,
        client_cpu,
        server_cpu,
        lag,
        load_before,
        load_after: loadavg(),
    })
}

async fn prepare(
    args: &RunArgs,
    scenario: Scenario,
    addr: &str,
    timeout: Duration,
) -> Fallible<Workload> {
    let mut connections = Vec::new();
    for _ in 0..args.connections.max(1) {
        connections.push(connect(addr, timeout).await?);
    }
    let mut names = Vec::new();
    if matches!(scenario, Scenario::Get | Scenario::MixedGetList) {
        names = list_names(&connections[0], args.names.max(1)).await?;
        if names.is_empty() {
            return Err(format!(
                "{addr} has no reports to get: seed it first (nianbao-load seed)"
            ));
        }
        let sample = ReportRegistryClient::new(connections[0].clone())
            .max_decoding_message_size(256 << 20)
            .get_report(GetReportRequest {
                name: names[0].clone(),
                revision: 0,
            })
            .await
            .map_err(|s| {
                format!(
                    "GetReport {} failed: {:?}: {}",
                    names[0],
                    s.code(),
                    s.message()
                )
            })?;
        eprintln!(
            "{}: {} report names to get; a GetReport response is {} bytes",
            scenario.name(),
            names.len(),
            prost::Message::encoded_len(sample.get_ref())
        );
    }
    // validate, validate-text: the same request every time, encoded once.
    let validate_input = match scenario {
        Scenario::Validate => Some(validate_report_request::Input::Report(template(
            &args.report,
        )?)),
        Scenario::ValidateText => Some(validate_report_request::Input::Text(PublishedText {
            content: std::fs::read(&args.report)
                .map_err(|e| format!("cannot read {}: {e}", args.report.display()))?,
            label: "nianbao-load".into(),
            ..Default::default()
        })),
        _ => None,
    };
    let validate_body = validate_input.map(|input| {
        Bytes::from(prost::Message::encode_to_vec(&ValidateReportRequest {
            input: Some(input),
            previous: None,
        }))
    });
    let mut rule_set_version = String::new();
    if validate_body.is_some() {
        rule_set_version = ReportValidatorClient::new(connections[0].clone())
            .list_rules(ListRulesRequest::default())
            .await
            .map_err(|s| format!("ListRules failed: {:?}: {}", s.code(), s.message()))?
            .into_inner()
            .rule_set_version;
        if rule_set_version.is_empty() {
            return Err(format!("{addr} announces no rule-set version (ListRules)"));
        }
    }
    let submit_prefix = match &args.agency_prefix {
        Some(p) => p.clone(),
        None => {
            let secs = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            format!("s{secs}")
        }
    };
    if nianbao::names::AgencyId::parse(&format!("{submit_prefix}-00000")).is_err() {
        return Err(format!(
            "`{submit_prefix}` cannot start an agency id (a-z, 0-9 and -)"
        ));
    }
    let submit = match scenario {
        Scenario::Submit => {
            let t = template(&args.report)?;
            let pieces = SubmitBodies::new(&t, submit_prefix.clone());
            // The pieces must make the request the typed message would be.
            let (name, bytes) = pieces.request(7)?;
            let (agency, report) =
                generated(&t, &submit_prefix, 7, SUBMIT_YEARS, SUBMIT_FIRST_YEAR);
            let typed = SubmitReportRequest {
                input: Some(submit_report_request::Input::Report(report)),
                agency_id: agency.clone(),
                ..Default::default()
            };
            let decoded = <SubmitReportRequest as prost::Message>::decode(bytes.clone())
                .map_err(|e| format!("a pre-encoded SubmitReport request does not decode: {e}"))?;
            if decoded != typed || name != format!("agencies/{agency}/reports/2023") {
                return Err("a pre-encoded SubmitReport request differs from the typed one".into());
            }
            Some(pieces)
        }
        _ => None,
    };
    if scenario != Scenario::Echo {
        eprintln!(
            "{}: {}",
            scenario.name(),
            if args.decode_responses {
                "every response decoded and checked (--decode-responses)".to_string()
            } else {
                format!(
                    "responses not decoded; each caller's first, its first measured and 1 in {CHECK_EVERY} decoded and checked"
                )
            }
        );
    }
    Ok(Workload {
        scenario,
        connections,
        names,
        filters: list_filters(),
        tokens: Mutex::new(Vec::new()),
        page_size: args.page_size,
        get_percent: args.get_percent.min(100),
        validate_body,
        rule_set_version,
        submit,
        submit_agencies: args.agencies,
        submitted: AtomicU64::new(0),
        group_by: args.group_by,
        echo: EchoMessage {
            payload: Bytes::from(vec![b'e'; args.echo_bytes]),
            reply_bytes: args.echo_reply_bytes.min(ECHO_MAX_REPLY as u32),
        },
        decode_responses: args.decode_responses,
        reported_bad: AtomicBool::new(false),
        print_each: scenario == Scenario::Aggregate,
        calls: AtomicU64::new(0),
    })
}

fn run(args: RunArgs) -> Fallible<()> {
    if !(args.duration > 0.0 && args.duration.is_finite()) {
        return Err("--duration must be a positive number of seconds".into());
    }
    if !(args.warmup >= 0.0 && args.warmup.is_finite()) {
        return Err("--warmup must be a number of seconds".into());
    }
    if !(args.timeout > 0.0 && args.timeout.is_finite()) {
        return Err("--timeout must be a positive number of seconds".into());
    }
    let rt = runtime(Some(args.threads))?;
    let plan = Plan {
        concurrency: args.concurrency,
        rate: args.rate,
        max_in_flight: args.max_in_flight,
        warmup: Duration::from_secs_f64(args.warmup),
        duration: Duration::from_secs_f64(args.duration),
    };
    let timeout = Duration::from_secs_f64(args.timeout);
    let label = args
        .label
        .clone()
        .unwrap_or_else(|| args.scenario.name().to_string());
    rt.block_on(async {
        let mut outcomes = Vec::new();
        if let Some(baseline) = &args.baseline {
            let w = Arc::new(prepare(&args, Scenario::Echo, baseline, timeout).await?);
            let o = measure(w, plan, format!("{label} baseline echo"), args.baseline_pid).await?;
            println!("{}", o.line());
            outcomes.push(o);
        }
        let w = Arc::new(prepare(&args, args.scenario, &args.addr, timeout).await?);
        let o = measure(w, plan, label.clone(), args.server_pid).await?;
        println!("{}", o.line());
        if let Some(base) = outcomes.first() {
            println!(
                "{label} vs echo: {:.1}% of echo's req/s, p99 {:.2}× echo's ({:.3} vs {:.3} ms)",
                100.0 * o.rps() / base.rps().max(f64::MIN_POSITIVE),
                o.ms(0.99) / base.ms(0.99).max(f64::MIN_POSITIVE),
                o.ms(0.99),
                base.ms(0.99)
            );
        }
        outcomes.push(o);
        if let Some(path) = &args.json {
            let json = serde_json::json!({
                "nproc": std::thread::available_parallelism().map(|n| n.get()).ok(),
                "results": outcomes.iter().map(Outcome::json).collect::<Vec<_>>(),
            });
            let text = serde_json::to_string_pretty(&json)
                .map_err(|e| format!("cannot write JSON: {e}"))?;
            if path.as_os_str() == "-" {
                println!("{text}");
            } else {
                std::fs::write(path, text + "\n")
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            }
        }
        Ok(())
    })
}
