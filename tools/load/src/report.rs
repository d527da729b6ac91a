//! Figures and how they are shown: the HDR histograms ([`new_histogram`], 1 ns to
//! 10 minutes, 3 significant digits), what callers record ([`Recorder`]: latencies of
//! ok calls, errors by gRPC code), the CPU and load figures read from /proc, and the
//! output of a run: its summary line (with the calls refused with `RetryInfo` apart
//! from the errors: goodput against refusals under overload) ([`Outcome::line`]), the per-call lines of
//! `aggregate`, the comparison with the echo baseline, and the JSON.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tonic::Code;

use crate::cli::Scenario;
use crate::measure::{FixedRate, Plan};
use crate::response::{CallError, Done, BAD_RESPONSE};
use crate::Fallible;

/// A latency histogram: nanoseconds, 1 ns to 10 minutes, 3 significant digits.
pub fn new_histogram() -> Fallible<Histogram<u64>> {
    Histogram::new_with_bounds(1, 600_000_000_000, 3)
        .map_err(|e| format!("cannot make a histogram: {e}"))
}

/// `d` in nanoseconds, saturating.
pub fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// What the callers record: latencies of successful calls, refusals, errors by code.
pub struct Recorder {
    pub latency: Histogram<u64>,
    pub ok: u64,
    /// Calls refused with RESOURCE_EXHAUSTED and `RetryInfo` (shed load: not errors).
    pub refused: u64,
    /// Of the ok calls, those whose response was decoded and checked.
    pub checked: u64,
    pub errors: BTreeMap<String, u64>,
    /// When the last recorded call answered.
    pub last_done: Option<Instant>,
}

impl Recorder {
    pub fn new() -> Fallible<Recorder> {
        Ok(Recorder {
            latency: new_histogram()?,
            ok: 0,
            refused: 0,
            checked: 0,
            errors: BTreeMap::new(),
            last_done: None,
        })
    }

    /// One call that answered at `done` after `latency`.
    pub fn record(&mut self, result: &Result<Done, CallError>, latency: Duration, done: Instant) {
        match result {
            Ok(d) => {
                self.ok += 1;
                self.checked += u64::from(d.checked);
                self.latency.saturating_record(nanos(latency));
            }
            Err(e) if e.retry_after().is_some() => self.refused += 1,
            Err(CallError::Status(s)) => *self.errors.entry(code_name(s.code())).or_default() += 1,
            Err(CallError::Bad(_)) => *self.errors.entry(BAD_RESPONSE.into()).or_default() += 1,
        }
        self.last_done = Some(self.last_done.map_or(done, |d| d.max(done)));
    }

    /// Adds what `other` recorded.
    pub fn merge(&mut self, other: &Recorder) {
        let _ = self.latency.add(&other.latency);
        self.ok += other.ok;
        self.refused += other.refused;
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

/// A gRPC code as the protocol spells it (`DEADLINE_EXCEEDED`).
pub fn code_name(c: Code) -> String {
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

/// CPU seconds (user + system) a process has used, from /proc (Linux); `None`: this
/// process.
pub fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    stat_cpu_seconds(&std::fs::read_to_string(path).ok()?)
}

/// The CPU seconds of a `/proc/PID/stat` line.
fn stat_cpu_seconds(stat: &str) -> Option<f64> {
    // Fields after the command name (which may hold spaces) start at `) `.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // USER_HZ is 100 on every Linux this runs on.
    Some(ticks / 100.0)
}

/// The 1, 5 and 15 minute load averages (empty if unknown).
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| first_three(&s))
        .unwrap_or_default()
}

fn first_three(s: &str) -> String {
    s.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// What one measurement found.
pub struct Outcome {
    pub label: String,
    pub scenario: Scenario,
    pub plan: Plan,
    pub connections: usize,
    /// Whether every response was decoded (the echo client always decodes its
    /// one-field message).
    pub decode_responses: bool,
    pub rec: Recorder,
    /// Seconds measured (the window, or until the last recorded call answered).
    pub elapsed: f64,
    /// CPU cores used by the client and the server during the window.
    pub client_cpu: Option<f64>,
    pub server_cpu: Option<f64>,
    /// Open loop: how late the scheduler sent requests (ns histogram).
    pub lag: Option<Histogram<u64>>,
    pub load_before: String,
    pub load_after: String,
}

impl Outcome {
    /// Ok calls per second.
    pub fn rps(&self) -> f64 {
        if self.elapsed > 0.0 {
            self.rec.ok as f64 / self.elapsed
        } else {
            0.0
        }
    }

    /// Calls refused with `RetryInfo` per second.
    pub fn refused_per_s(&self) -> f64 {
        if self.elapsed > 0.0 {
            self.rec.refused as f64 / self.elapsed
        } else {
            0.0
        }
    }

    /// The latency at quantile `q`, in milliseconds.
    pub fn ms(&self, q: f64) -> f64 {
        self.rec.latency.value_at_quantile(q) as f64 / 1e6
    }

    fn mode(&self) -> String {
        match self.plan.rate {
            Some(r) => format!("open-loop {:.0}/s", r.per_second()),
            None => format!("closed-loop c={}", self.plan.concurrency),
        }
    }

    /// The summary line.
    pub fn line(&self) -> String {
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
        if self.rec.refused > 0 {
            s.push_str(&format!(
                " | refused {} ({:.1}/s, RESOURCE_EXHAUSTED with RetryInfo; percentiles are of the answered)",
                self.rec.refused,
                self.refused_per_s()
            ));
        }
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

    /// The result as JSON (percentiles in µs).
    pub fn json(&self) -> serde_json::Value {
        let q = |x: f64| self.rec.latency.value_at_quantile(x) as f64 / 1e3;
        serde_json::json!({
            "label": self.label,
            "scenario": self.scenario.name(),
            "mode": if self.plan.rate.is_some() { "open-loop" } else { "closed-loop" },
            "concurrency": self.plan.rate.is_none().then_some(self.plan.concurrency),
            "target_rate": self.plan.rate.map(FixedRate::per_second),
            "connections": self.connections,
            "duration_s": self.elapsed,
            "ok": self.rec.ok,
            "refused": self.rec.refused,
            "refused_per_s": self.refused_per_s(),
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

/// The line comparing a scenario's outcome `o` with its echo baseline's.
pub fn comparison_line(label: &str, o: &Outcome, base: &Outcome) -> String {
    format!(
        "{label} vs echo: {:.1}% of echo's req/s, p99 {:.2}× echo's ({:.3} vs {:.3} ms)",
        100.0 * o.rps() / base.rps().max(f64::MIN_POSITIVE),
        o.ms(0.99) / base.ms(0.99).max(f64::MIN_POSITIVE),
        o.ms(0.99),
        base.ms(0.99)
    )
}

/// The line printed for call `n` of `aggregate` (each call is shown).
pub fn call_line(
    n: u64,
    result: &Result<Done, CallError>,
    latency: Duration,
    warm_up: bool,
) -> String {
    let ms = latency.as_secs_f64() * 1e3;
    match result {
        Ok(d) => format!(
            "  call {n}: {ms:.1} ms ({} reports){}",
            d.count,
            if warm_up { " [warm-up]" } else { "" }
        ),
        Err(CallError::Status(s)) => {
            format!(
                "  call {n}: {:?} after {ms:.1} ms: {}",
                s.code(),
                s.message()
            )
        }
        Err(CallError::Bad(reason)) => {
            format!("  call {n}: {BAD_RESPONSE} after {ms:.1} ms: {reason}")
        }
    }
}

/// The JSON of a run (`--json`): the machine's core count and every outcome.
pub fn results_json(outcomes: &[Outcome]) -> serde_json::Value {
    serde_json::json!({
        "nproc": std::thread::available_parallelism().map(|n| n.get()).ok(),
        "results": outcomes.iter().map(Outcome::json).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use tonic::Status;
    use tonic_types::StatusExt;

    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn plan(rate: Option<f64>) -> Plan {
        Plan {
            concurrency: 64,
            rate: rate.map(|r| FixedRate::new(r).unwrap()),
            max_in_flight: 20_000,
            warmup: Duration::from_secs(2),
            duration: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            honour_retry_info: false,
        }
    }

    /// 1,000 ok calls of 1..=1000 ms in 10 s, two errors.
    fn outcome(rate: Option<f64>) -> Outcome {
        let mut rec = Recorder::new().unwrap();
        let at = Instant::now();
        for i in 1..=1000 {
            rec.record(&Ok(Done::unchecked()), ms(i), at);
        }
        rec.record(&Err(Status::unavailable("gone").into()), ms(1), at);
        rec.record(&Err(CallError::Bad("odd".into())), ms(1), at);
        Outcome {
            label: "get".into(),
            scenario: Scenario::Get,
            plan: plan(rate),
            connections: 2,
            decode_responses: false,
            rec,
            elapsed: 10.0,
            client_cpu: Some(0.75),
            server_cpu: Some(1.16),
            lag: None,
            load_before: "0.10 0.20 0.30".into(),
            load_after: "1.00 2.00 3.00".into(),
        }
    }

    #[test]
    fn percentiles_are_read_from_the_histogram() {
        let o = outcome(None);
        // 3 significant digits: within 0.1 % of the value.
        for (q, expected) in [(0.5, 500.0), (0.9, 900.0), (0.99, 990.0)] {
            let got = o.ms(q);
            assert!((got - expected).abs() <= expected * 1e-3, "p{q}: {got}");
        }
        assert_eq!(o.rps(), 100.0);
    }

    #[test]
    fn the_summary_line_has_counts_percentiles_errors_cpu_and_load() {
        let o = outcome(None);
        assert_eq!(
            o.line(),
            "get [closed-loop c=64, 2 conn, 10.0 s]: 1000 ok, 2 errors, 100.0 req/s | \
             p50 500.171 p90 900.202 p99 990.380 p99.9 999.293 max 1000.342 ms | \
             errors UNAVAILABLE×1 bad-response×1 | cpu: client 75% server 116% | \
             load 1.00 2.00 3.00"
        );
    }

    #[test]
    fn an_open_loop_line_shows_the_rate_and_the_send_lag() {
        let mut o = outcome(Some(2000.0));
        let mut lag = new_histogram().unwrap();
        lag.record(250_000).unwrap();
        o.lag = Some(lag);
        o.client_cpu = None;
        o.server_cpu = None;
        let line = o.line();
        assert!(
            line.starts_with("get [open-loop 2000/s, 2 conn, 10.0 s]: "),
            "{line}"
        );
        assert!(
            line.ends_with(" | send lag p99 0.250 ms | load 1.00 2.00 3.00"),
            "{line}"
        );
        assert!(!line.contains("cpu:"), "{line}");
    }

    #[test]
    fn refusals_with_retry_info_are_counted_apart_from_errors() {
        let mut o = outcome(None);
        let mut details = tonic_types::ErrorDetails::new();
        details.set_retry_info(Some(ms(250)));
        let refused = Status::with_error_details(Code::ResourceExhausted, "busy", details);
        for _ in 0..500 {
            o.rec
                .record(&Err(refused.clone().into()), ms(1), Instant::now());
        }
        o.rec.record(
            &Err(Status::resource_exhausted("too large").into()),
            ms(1),
            Instant::now(),
        );
        assert_eq!(o.rec.refused, 500);
        assert_eq!(o.rec.errors["RESOURCE_EXHAUSTED"], 1);
        assert_eq!(o.rps(), 100.0);
        assert_eq!(o.refused_per_s(), 50.0);
        assert!(
            o.line().contains(" | refused 500 (50.0/s, "),
            "{}",
            o.line()
        );
        assert_eq!(o.json()["refused"], 500);
    }

    #[test]
    fn nothing_measured_is_zero_per_second() {
        let mut o = outcome(None);
        o.elapsed = 0.0;
        assert_eq!(o.rps(), 0.0);
    }

    #[test]
    fn the_json_names_the_mode_and_the_rate() {
        let closed = outcome(None).json();
        assert_eq!(closed["mode"], "closed-loop");
        assert_eq!(closed["concurrency"], 64);
        assert!(closed["target_rate"].is_null());
        assert_eq!(closed["ok"], 1000);
        assert_eq!(closed["errors"]["UNAVAILABLE"], 1);
        assert_eq!(closed["errors"]["bad-response"], 1);
        assert!(closed["send_lag_us"].is_null());
        let p50 = closed["latency_us"]["p50"].as_f64().unwrap();
        assert!((p50 - 500_000.0).abs() < 500.0, "{p50}");

        let open = outcome(Some(2000.0)).json();
        assert_eq!(open["mode"], "open-loop");
        assert!(open["concurrency"].is_null());
        assert_eq!(open["target_rate"], 2000.0);
        let all = results_json(&[outcome(None), outcome(Some(10.0))]);
        assert_eq!(all["results"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn the_comparison_is_of_rates_and_p99s() {
        let o = outcome(None);
        let mut base = outcome(None);
        base.elapsed = 5.0; // twice o's rate
        assert_eq!(
            comparison_line("get", &o, &base),
            "get vs echo: 50.0% of echo's req/s, p99 1.00× echo's (990.380 vs 990.380 ms)"
        );
    }

    #[test]
    fn records_merge() {
        let at = Instant::now();
        let mut a = Recorder::new().unwrap();
        a.record(&Ok(Done::checked(1)), ms(1), at);
        a.record(&Err(Status::deadline_exceeded("late").into()), ms(30), at);
        let mut b = Recorder::new().unwrap();
        b.record(&Ok(Done::unchecked()), ms(3), at + ms(5));
        b.record(&Err(Status::deadline_exceeded("late").into()), ms(30), at);
        a.merge(&b);
        assert_eq!((a.ok, a.checked), (2, 1));
        assert_eq!(a.latency.len(), 2);
        assert_eq!(a.errors["DEADLINE_EXCEEDED"], 2);
        assert_eq!(a.last_done, Some(at + ms(5)));
        // Merging nothing changes nothing.
        a.merge(&Recorder::new().unwrap());
        assert_eq!((a.ok, a.last_done), (2, Some(at + ms(5))));
    }

    #[test]
    fn failed_calls_are_not_latencies() {
        let mut r = Recorder::new().unwrap();
        r.record(&Err(Status::internal("x").into()), ms(9), Instant::now());
        assert_eq!((r.ok, r.latency.len()), (0, 0));
        assert_eq!(r.errors["INTERNAL"], 1);
    }

    #[test]
    fn codes_are_spelled_as_in_the_protocol() {
        assert_eq!(code_name(Code::Ok), "OK");
        assert_eq!(code_name(Code::ResourceExhausted), "RESOURCE_EXHAUSTED");
        assert_eq!(code_name(Code::Unauthenticated), "UNAUTHENTICATED");
        // Every code (0..=16) has its own name.
        let names: std::collections::BTreeSet<String> =
            (0..=16).map(|i| code_name(Code::from_i32(i))).collect();
        assert_eq!(names.len(), 17);
    }

    #[test]
    fn aggregate_calls_are_printed_with_their_count_or_error() {
        let ok = Ok(Done::checked(100_000));
        assert_eq!(
            call_line(3, &ok, Duration::from_micros(285_250), false),
            "  call 3: 285.2 ms (100000 reports)"
        );
        assert_eq!(
            call_line(1, &ok, ms(300), true),
            "  call 1: 300.0 ms (100000 reports) [warm-up]"
        );
        let late = Err(Status::deadline_exceeded("too slow").into());
        assert_eq!(
            call_line(4, &late, ms(30_000), false),
            "  call 4: DeadlineExceeded after 30000.0 ms: too slow"
        );
        let bad = Err(CallError::Bad("groups".into()));
        assert_eq!(
            call_line(5, &bad, ms(2), false),
            "  call 5: bad-response after 2.0 ms: groups"
        );
    }

    #[test]
    fn cpu_times_are_read_after_the_command_name() {
        // pid (comm) state ppid ... utime stime: the name may hold spaces and `)`.
        let line = "1234 (a (b) c) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0";
        assert_eq!(stat_cpu_seconds(line), Some(3.0));
        assert_eq!(stat_cpu_seconds("1234 (x) S 1 2"), None);
        assert_eq!(stat_cpu_seconds("1234 (x)"), None);
        assert_eq!(stat_cpu_seconds("garbage"), None);
    }

    #[test]
    fn this_process_has_cpu_seconds() {
        assert!(cpu_seconds(None).is_some_and(|s| s >= 0.0));
    }

    #[test]
    fn load_averages_are_the_first_three_fields() {
        assert_eq!(
            first_three("0.52 0.58 0.59 1/389 12345\n"),
            "0.52 0.58 0.59"
        );
    }
}
