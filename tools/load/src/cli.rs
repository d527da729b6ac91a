//! The command line: the subcommands and their arguments (clap), and the checks clap
//! cannot make: seconds that must be positive and finite, a rate ([`RunArgs::plan`]).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::measure::{FixedRate, Plan};
use crate::Fallible;

/// The published report the requests carry and generated reports are made from.
const DEFAULT_REPORT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/corpus/000_2b6e7661ff84f527.txt"
);

#[derive(Debug, Parser)]
#[command(
    name = "nianbao-load",
    about = "Load generator for the nianbao gRPC server, and the echo server it is compared with"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Drive one scenario against a server and print latency percentiles and rate.
    Run(Box<RunArgs>),
    /// Fill a store (directly, or through a running server) with generated reports.
    Seed(SeedArgs),
    /// Serve the minimal echo service (`nianbao.load.Echo/Echo`): the baseline.
    EchoServer(EchoServerArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
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
    pub fn name(self) -> &'static str {
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
pub enum Grouping {
    None,
    Year,
    Province,
    City,
    Level,
    Kind,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The server (`host:port`, `http://host:port`, or with `--tls-ca`
    /// `https://host:port`).
    #[arg(long, default_value = "127.0.0.1:50051")]
    pub addr: String,

    /// TLS to the server and to the `--baseline` echo server alike.
    #[command(flatten)]
    pub tls: ClientTlsArgs,

    /// The caller's identity, sent as `x-nianbao-submitter` with every call to the
    /// server (a plaintext server with an access policy takes the caller's identity
    /// from it; over TLS the server reads it from the client certificate instead).
    /// Default: only submissions name a submitter (`nianbao-load`).
    #[arg(long, value_name = "NAME")]
    pub identity: Option<String>,

    #[arg(long, value_enum)]
    pub scenario: Scenario,

    /// Closed loop: concurrent callers (ignored with --rate).
    #[arg(long, short = 'c', default_value_t = 64)]
    pub concurrency: usize,

    /// Open loop: requests per second, due at fixed intervals; latencies are measured
    /// from the moment each request was due.
    #[arg(long)]
    pub rate: Option<f64>,

    /// Open loop: most requests outstanding at once (the scheduler waits beyond it;
    /// the wait still counts in the latencies).
    #[arg(long, default_value_t = 20_000)]
    pub max_in_flight: usize,

    /// Seconds measured.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,

    /// Seconds of load before the measurement starts (not recorded).
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,

    /// HTTP/2 connections the callers share (round robin).
    #[arg(long, default_value_t = 2)]
    pub connections: usize,

    /// Worker threads of the client's runtime.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,

    /// Per-request timeout, in seconds.
    #[arg(long, default_value_t = 30.0)]
    pub timeout: f64,

    /// mixed-get-list: percentage of GetReport calls.
    #[arg(long, default_value_t = 80)]
    pub get_percent: u32,

    /// list, mixed-get-list: page size of ListReports.
    #[arg(long, default_value_t = 50)]
    pub page_size: i32,

    /// get, mixed-get-list: at most this many names read from the store's listing.
    #[arg(long, default_value_t = 200_000)]
    pub names: usize,

    /// validate, validate-text, submit: the published report the requests carry.
    #[arg(long, default_value = DEFAULT_REPORT)]
    pub report: PathBuf,

    /// submit: prefix of the generated agency ids (default: `s` and the run's start
    /// time, so every run creates new reports).
    #[arg(long)]
    pub agency_prefix: Option<String>,

    /// submit: cycle over this many agencies (× 5 years) so that later submissions
    /// are new revisions of earlier ones; default: every submission a new report.
    #[arg(long)]
    pub agencies: Option<u64>,

    /// aggregate: grouping.
    #[arg(long, value_enum, default_value_t = Grouping::None)]
    pub group_by: Grouping,

    /// echo: bytes in each request's payload.
    #[arg(long, default_value_t = 0)]
    pub echo_bytes: usize,

    /// echo: bytes the server answers with (0: the request's payload back).
    #[arg(long, default_value_t = 0)]
    pub echo_reply_bytes: u32,

    /// An echo server: run the same load (mode, callers or rate, connections, times)
    /// against it first, and print both results and their ratio.
    #[arg(long)]
    pub baseline: Option<String>,

    /// The server's process id, to report its CPU use during the measurement.
    #[arg(long)]
    pub server_pid: Option<u32>,

    /// The baseline echo server's process id, likewise.
    #[arg(long)]
    pub baseline_pid: Option<u32>,

    /// Also write the results as JSON to this file (`-`: standard output).
    #[arg(long)]
    pub json: Option<PathBuf>,

    /// A label for the summary line and the JSON.
    #[arg(long)]
    pub label: Option<String>,

    /// Closed loop: a caller refused with RESOURCE_EXHAUSTED and RetryInfo waits the
    /// delay it asks for before its next request (as a well-behaved client does);
    /// without it, it sends at once. Refusals are counted apart from errors either way.
    #[arg(long)]
    pub honour_retry_info: bool,

    /// Decode (and check) every response with the generated types, as a comparison
    /// point. By default responses are not decoded: the client's cost per request is
    /// kept close to the echo client's so that the server is what is measured; a
    /// sample is decoded and checked (each caller's first response, then 1 in 256).
    #[arg(long)]
    pub decode_responses: bool,
}

impl RunArgs {
    /// The load both the scenario and its baseline run under, once the numbers clap
    /// takes as they come are checked: positive finite seconds (a finite warm-up), a
    /// positive finite rate.
    pub fn plan(&self) -> Fallible<Plan> {
        let duration = seconds(self.duration)
            .filter(|d| !d.is_zero())
            .ok_or("--duration must be a positive number of seconds")?;
        let warmup = seconds(self.warmup).ok_or("--warmup must be a number of seconds")?;
        let timeout = seconds(self.timeout)
            .filter(|d| !d.is_zero())
            .ok_or("--timeout must be a positive number of seconds")?;
        let rate = self.rate.map(FixedRate::new).transpose()?;
        Ok(Plan {
            concurrency: self.concurrency,
            rate,
            max_in_flight: self.max_in_flight,
            warmup,
            duration,
            timeout,
            honour_retry_info: self.honour_retry_info,
        })
    }

    /// The label of the summary lines: `--label`, else the scenario's name.
    pub fn label(&self) -> String {
        self.label
            .clone()
            .unwrap_or_else(|| self.scenario.name().to_string())
    }
}

/// `s` seconds as a duration: `None` unless finite, not negative and within what a
/// `Duration` holds.
fn seconds(s: f64) -> Option<Duration> {
    if s.is_finite() && s >= 0.0 {
        // `abs`: -0.0 is zero seconds too.
        Duration::try_from_secs_f64(s.abs()).ok()
    } else {
        None
    }
}

/// The client's TLS: none without `--tls-ca`.
#[derive(Debug, Clone, Default, Args)]
pub struct ClientTlsArgs {
    /// Connect over TLS, trusting the CA certificate(s) of this PEM file (addresses
    /// without a scheme become `https://`).
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,

    /// Mutual TLS: the client certificate (PEM) presented to the server.
    #[arg(long, value_name = "FILE", requires_all = ["tls_key", "tls_ca"])]
    pub tls_cert: Option<PathBuf>,

    /// Mutual TLS: the client certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// The server name to verify the server's certificate against (default: the
    /// address's host).
    #[arg(long, value_name = "NAME", requires = "tls_ca")]
    pub tls_domain: Option<String>,
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// Build the store directly at this directory (no server may have it open).
    #[arg(long, conflicts_with = "addr", required_unless_present = "addr")]
    pub data_dir: Option<PathBuf>,

    /// Submit through this running server instead.
    #[arg(long)]
    pub addr: Option<String>,

    /// Reports to store.
    #[arg(long, default_value_t = 100_000)]
    pub reports: u64,

    /// Number of the first generated report (to add to an earlier seed).
    #[arg(long, default_value_t = 0)]
    pub start: u64,

    /// Concurrent submitters.
    #[arg(long, default_value_t = 64)]
    pub writers: usize,

    /// Prefix of the agency ids: `{prefix}-{n:05}`.
    #[arg(long, default_value = "a")]
    pub agency_prefix: String,

    /// Years per agency: report `i` is agency `i / years`, year `first-year + i % years`.
    #[arg(long, default_value_t = 5)]
    pub years: u64,

    #[arg(long, default_value_t = 2021)]
    pub first_year: i32,

    /// The published report every generated one is derived from.
    #[arg(long, default_value = DEFAULT_REPORT)]
    pub report: PathBuf,

    /// Worker threads of the runtime.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
}

#[derive(Debug, Args)]
pub struct EchoServerArgs {
    #[arg(long, default_value = "127.0.0.1:50061")]
    pub addr: std::net::SocketAddr,

    /// Worker threads (default: one per core, as the nianbao server).
    #[arg(long)]
    pub threads: Option<usize>,

    /// Serve over TLS with this certificate (chain, PEM), as `nianbao serve --tls-cert`.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Mutual TLS: require a client certificate issued by the CA(s) of this PEM file.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub client_ca: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn run_args(extra: &[&str]) -> RunArgs {
        let mut argv = vec!["nianbao-load", "run", "--scenario", "get"];
        argv.extend_from_slice(extra);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Run(args) => *args,
            other => panic!("not a run: {other:?}"),
        }
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn scenario_names_are_their_command_line_spellings() {
        for s in Scenario::value_variants() {
            let value = s.to_possible_value().unwrap();
            assert_eq!(s.name(), value.get_name());
        }
    }

    #[test]
    fn the_defaults_make_a_closed_loop_plan() {
        let plan = run_args(&[]).plan().unwrap();
        assert_eq!(plan.concurrency, 64);
        assert_eq!(plan.rate, None);
        assert_eq!(plan.max_in_flight, 20_000);
        assert_eq!(plan.warmup, Duration::from_secs(2));
        assert_eq!(plan.duration, Duration::from_secs(10));
        assert_eq!(plan.timeout, Duration::from_secs(30));
    }

    #[test]
    fn a_rate_makes_an_open_loop_plan() {
        let plan = run_args(&["--rate", "2000", "--warmup", "0", "--duration", "0.5"])
            .plan()
            .unwrap();
        assert_eq!(plan.rate.map(FixedRate::per_second), Some(2000.0));
        assert_eq!(plan.warmup, Duration::ZERO);
        assert_eq!(plan.duration, Duration::from_millis(500));
    }

    #[test]
    fn times_and_rates_out_of_range_are_refused_with_the_flag_named() {
        let cases: [(&[&str], &str); 9] = [
            (&["--duration", "0"], "--duration must be a positive"),
            (&["--duration=-1"], "--duration must be a positive"),
            (&["--duration", "inf"], "--duration must be a positive"),
            (&["--duration", "1e300"], "--duration must be a positive"),
            (&["--warmup=-0.5"], "--warmup must be a number"),
            (&["--warmup", "NaN"], "--warmup must be a number"),
            (&["--timeout", "0"], "--timeout must be a positive"),
            (&["--rate", "0"], "--rate must be positive, not 0"),
            (&["--rate=-5"], "--rate must be positive, not -5"),
        ];
        for (extra, expected) in cases {
            let err = run_args(extra).plan().unwrap_err();
            assert!(err.starts_with(expected), "{extra:?}: {err}");
        }
    }

    #[test]
    fn the_label_defaults_to_the_scenario() {
        assert_eq!(run_args(&[]).label(), "get");
        assert_eq!(run_args(&["--label", "final get-2"]).label(), "final get-2");
    }

    #[test]
    fn seed_takes_exactly_one_of_a_directory_and_a_server() {
        assert!(Cli::try_parse_from(["nianbao-load", "seed"]).is_err());
        assert!(Cli::try_parse_from([
            "nianbao-load",
            "seed",
            "--data-dir",
            "/tmp/x",
            "--addr",
            "127.0.0.1:1"
        ])
        .is_err());
        assert!(Cli::try_parse_from(["nianbao-load", "seed", "--addr", "127.0.0.1:1"]).is_ok());
    }

    #[test]
    fn tls_options_come_together() {
        let args = run_args(&[
            "--tls-ca",
            "ca.pem",
            "--tls-cert",
            "c.pem",
            "--tls-key",
            "k.pem",
        ]);
        assert_eq!(args.tls.tls_ca, Some(PathBuf::from("ca.pem")));
        assert_eq!(args.tls.tls_key, Some(PathBuf::from("k.pem")));
        let run = |extra: &[&str]| {
            let mut argv = vec!["nianbao-load", "run", "--scenario", "get"];
            argv.extend_from_slice(extra);
            Cli::try_parse_from(argv)
        };
        assert!(run(&["--tls-cert", "c.pem", "--tls-key", "k.pem"]).is_err());
        assert!(run(&["--tls-ca", "ca.pem", "--tls-cert", "c.pem"]).is_err());
        assert!(run(&["--tls-domain", "localhost"]).is_err());
        assert!(run(&["--identity", "bench"]).is_ok());
        let echo = |extra: &[&str]| {
            let mut argv = vec!["nianbao-load", "echo-server"];
            argv.extend_from_slice(extra);
            Cli::try_parse_from(argv)
        };
        assert!(echo(&["--tls-cert", "s.pem", "--tls-key", "k.pem"]).is_ok());
        assert!(echo(&["--tls-cert", "s.pem"]).is_err());
        assert!(echo(&["--client-ca", "ca.pem"]).is_err());
    }

    #[test]
    fn unknown_scenarios_and_groupings_are_refused() {
        assert!(Cli::try_parse_from(["nianbao-load", "run", "--scenario", "put"]).is_err());
        assert!(Cli::try_parse_from([
            "nianbao-load",
            "run",
            "--scenario",
            "aggregate",
            "--group-by",
            "county"
        ])
        .is_err());
    }
}
