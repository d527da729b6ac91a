//! Figures and how they are shown: the HDR histograms ([`new_histogram`], 1 ns to
//! 10 minutes, 3 significant digits), what callers record ([`Recorder`]: latencies of
//! ok calls, errors by gRPC code), the CPU and load figures read from /proc, and the
//! output of a run: its summary line ([`Outcome::line`]), the per-call lines of
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

/// What the callers record: latencies of successful calls, errors by code.
pub struct Recorder {
    pub latency: Histogram<u64>,
    pub ok: u64,
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
            Err(CallError::Status(s)) => *self.errors.entry(code_name(s.code())).or_default() += 1,
            Err(CallError::Bad(_)) => *self.errors.entry(BAD_RESPONSE.into()).or_default() += 1,
        }
        self.last_done = Some(self.last_done.map_or(done, |d| d.max(done)));
    }

    /// Adds what `other` recorded.
    pub fn merge(&mut self, other: &Recorder) {
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

