//! The load loops and the measured window: [`measure`] runs a workload under a
//! [`Plan`], closed-loop (callers that each send their next request when the last one
//! answered) or open-loop at a [`FixedRate`] (requests due at fixed intervals from a
//! scheduler thread, each latency measured from the moment its request was due, so a
//! stalled server is charged for the requests it delayed: no coordinated omission),
//! samples the CPU use over the window, and returns the [`Outcome`]. Which responses
//! are decoded and checked is [`Sampling`]'s choice.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fastrand::Rng;
use hdrhistogram::Histogram;
use tokio::runtime::Handle;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::cli::Scenario;
use crate::report::{call_line, cpu_seconds, loadavg, nanos, new_histogram, Outcome, Recorder};
use crate::response::{CallError, Done};
use crate::workload::Workload;
use crate::Fallible;

/// Without `--decode-responses`, one response in this many (besides each caller's
/// first, and its first in the measured window) is decoded and checked.
pub const CHECK_EVERY: u64 = 256;

/// Recorders the callers and request tasks merge into (so that they rarely wait for
/// one another).
const SHARDS: usize = 64;

/// Open loop: request tasks kept before the finished ones are let go.
const MAX_KEPT_TASKS: usize = 65_536;

/// The load both the scenario and its baseline run under (`RunArgs::plan`).
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Closed loop: concurrent callers.
    pub concurrency: usize,
    /// Open loop: requests per second (closed loop without).
    pub rate: Option<FixedRate>,
    /// Open loop: most requests outstanding at once.
    pub max_in_flight: usize,
    pub warmup: Duration,
    pub duration: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Closed loop: a caller refused with `RetryInfo` waits the delay it asks for
    /// before its next request (as a well-behaved client does).
    pub honour_retry_info: bool,
}

/// Open loop: a positive, finite number of requests per second; request `k` is due
/// `k / rate` seconds after the run starts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FixedRate(f64);

impl FixedRate {
    pub fn new(per_second: f64) -> Fallible<FixedRate> {
        if per_second > 0.0 && per_second.is_finite() {
            Ok(FixedRate(per_second))
        } else {
            Err(format!("--rate must be positive, not {per_second}"))
        }
    }

    pub fn per_second(self) -> f64 {
        self.0
    }

    /// When request `k` is due, after the start (`None`: later than a `Duration` holds).
    pub fn due(self, k: u64) -> Option<Duration> {
        Duration::try_from_secs_f64(k as f64 / self.0).ok()
    }
}

/// The run's times: its start `t0`, the start of the measurement (after the warm-up)
/// and its end.
#[derive(Clone, Copy, Debug)]
struct Window {
    t0: Instant,
    start: Instant,
    end: Instant,
}

impl Window {
    fn new(t0: Instant, warmup: Duration, duration: Duration) -> Fallible<Window> {
        let start = t0.checked_add(warmup);
        let end = start.and_then(|s| s.checked_add(duration));
        match (start, end) {
            (Some(start), Some(end)) => Ok(Window { t0, start, end }),
            _ => Err("--warmup and --duration reach beyond what the clock can tell".into()),
        }
    }

    /// Whether a request sent (or due) at `t` is measured.
    fn measured(&self, t: Instant) -> bool {
        t >= self.start
    }

    /// The seconds measured: the window's, or more if the last recorded call
    /// answered after its end.
    fn seconds(&self, last_done: Option<Instant>) -> f64 {
        let duration = self.end.saturating_duration_since(self.start).as_secs_f64();
        last_done
            .map_or(0.0, |d| {
                d.saturating_duration_since(self.start).as_secs_f64()
            })
            .max(duration)
    }
}

/// Which responses are decoded and checked when not all are: a caller's (or the
/// scheduler's) first, its first in the measured window, then one in [`CHECK_EVERY`].
#[derive(Debug, Default)]
struct Sampling {
    seq: u64,
    measured: bool,
}

impl Sampling {
    /// Whether the next request, measured or not, is sampled.
    fn next(&mut self, measured: bool) -> bool {
        let sample = self.seq.is_multiple_of(CHECK_EVERY) || (measured && !self.measured);
        self.measured |= measured;
        self.seq += 1;
        sample
    }
}

/// The recorders the callers merge into, [`SHARDS`] of them.
struct Shards(Vec<Mutex<Recorder>>);

impl Shards {
    fn new() -> Fallible<Shards> {
        let shards = (0..SHARDS)
            .map(|_| Recorder::new().map(Mutex::new))
            .collect::<Fallible<_>>()?;
        Ok(Shards(shards))
    }

    fn shard(&self, k: u64) -> &Mutex<Recorder> {
        &self.0[(k % self.0.len() as u64) as usize]
    }

    /// Records one call of request (or caller) `k`.
    fn record(&self, k: u64, result: &Result<Done, CallError>, latency: Duration, done: Instant) {
        if let Ok(mut r) = self.shard(k).lock() {
            r.record(result, latency, done);
        }
    }

    /// Adds a caller's own recorder.
    fn merge(&self, k: u64, local: &Recorder) {
        if let Ok(mut r) = self.shard(k).lock() {
            r.merge(local);
        }
    }

    /// Everything recorded.
    fn total(&self) -> Fallible<Recorder> {
        let mut total = Recorder::new()?;
        for r in &self.0 {
            if let Ok(r) = r.lock() {
                total.merge(&r);
            }
        }
        Ok(total)
    }
}

/// Runs `workload` under `plan` and measures it.
pub async fn measure(
    workload: Arc<Workload>,
    plan: Plan,
    label: String,
    server_pid: Option<u32>,
) -> Fallible<Outcome> {
    let shards = Arc::new(Shards::new()?);
    let load_before = loadavg();
    let window = Window::new(Instant::now(), plan.warmup, plan.duration)?;
    let cpu = tokio::spawn(cpu_use(window, server_pid));
    let lag = match plan.rate {
        None => {
            closed_loop(&workload, &plan, window, &shards).await?;
            None
        }
        Some(rate) => Some(open_loop(&workload, rate, plan.max_in_flight, window, &shards).await?),
    };
    let (client_cpu, server_cpu) = cpu
        .await
        .map_err(|e| format!("the CPU sampler failed: {e}"))?;
    let rec = shards.total()?;
    let elapsed = window.seconds(rec.last_done);
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

/// CPU cores used by this process and by `server_pid` (none without one) over the
/// measured window.
async fn cpu_use(window: Window, server_pid: Option<u32>) -> (Option<f64>, Option<f64>) {
    let server = || server_pid.and_then(|pid| cpu_seconds(Some(pid)));
    tokio::time::sleep_until(window.start.into()).await;
    let (c0, s0, w0) = (cpu_seconds(None), server(), Instant::now());
    tokio::time::sleep_until(window.end.into()).await;
    let (c1, s1, w) = (cpu_seconds(None), server(), w0.elapsed().as_secs_f64());
    let rate = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if w > 0.0 => Some((b - a) / w),
        _ => None,
    };
    (rate(c0, c1), rate(s0, s1))
}

/// Closed loop: `plan.concurrency` callers until the window ends.
async fn closed_loop(
    workload: &Arc<Workload>,
    plan: &Plan,
    window: Window,
    shards: &Arc<Shards>,
) -> Fallible<()> {
    let honour = plan.honour_retry_info;
    let tasks: Vec<_> = (0..plan.concurrency.max(1) as u64)
        .map(|c| tokio::spawn(caller(workload.clone(), c, window, honour, shards.clone())))
        .collect();
    for t in tasks {
        t.await.map_err(|e| format!("a caller failed: {e}"))??;
    }
    Ok(())
}

/// One closed-loop caller: sends its next request when the last one answered (and,
/// when it `honour`s RetryInfo, after the delay a refusal asks for); records those sent
/// in the measured window, from send to answer.
async fn caller(
    w: Arc<Workload>,
    caller: u64,
    window: Window,
    honour: bool,
    shards: Arc<Shards>,
) -> Fallible<()> {
    let mut rng = Rng::with_seed(caller + 1);
    let mut local = Recorder::new()?;
    let mut sampling = Sampling::default();
    loop {
        let sent = Instant::now();
        if sent >= window.end {
            break;
        }
        let measured = window.measured(sent);
        let sample = sampling.next(measured);
        let result = w.call(caller, &mut rng, sample).await;
        let done = Instant::now();
        let latency = done - sent;
        if w.print_each {
            let n = w.calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            println!("{}", call_line(n, &result, latency, !measured));
        }
        if measured {
            local.record(&result, latency, done);
        }
        if honour {
            if let Some(wait) = result.as_ref().err().and_then(CallError::retry_after) {
                let until = (done + wait).min(window.end);
                tokio::time::sleep_until(until.into()).await;
            }
        }
    }
    shards.merge(caller, &local);
    Ok(())
}

/// Open loop: requests due at `rate` from a scheduler thread until the window ends;
/// the scheduler's send lag (a histogram of ns).
///
/// The scheduler is an OS thread sleeping with nanosleep precision (a tokio timer has
/// millisecond granularity, which would add up to 1 ms to every latency measured from
/// the due time).
async fn open_loop(
    workload: &Arc<Workload>,
    rate: FixedRate,
    max_in_flight: usize,
    window: Window,
    shards: &Arc<Shards>,
) -> Fallible<Histogram<u64>> {
    let scheduler = Scheduler {
        handle: Handle::current(),
        workload: workload.clone(),
        rate,
        in_flight: Arc::new(Semaphore::new(max_in_flight.max(1))),
        window,
        shards: shards.clone(),
    };
    let thread = std::thread::spawn(move || scheduler.run());
    tokio::task::spawn_blocking(move || thread.join())
        .await
        .map_err(|e| format!("the scheduler failed: {e}"))?
        .map_err(|_| "the scheduler panicked".to_string())?
}

/// The open loop's scheduler thread and what it shares with its request tasks.
struct Scheduler {
    handle: Handle,
    workload: Arc<Workload>,
    rate: FixedRate,
    /// Permits for requests outstanding (`--max-in-flight`).
    in_flight: Arc<Semaphore>,
    window: Window,
    shards: Arc<Shards>,
}

/// A request the scheduler sends: its number, when it was due, whether it is sampled.
#[derive(Clone, Copy)]
struct Due {
    k: u64,
    at: Instant,
    sample: bool,
}

impl Scheduler {
    /// Sends every request due before the window's end on its own task, then waits for
    /// them; the send lag of those in the measured window.
    fn run(self) -> Fallible<Histogram<u64>> {
        let mut lag = new_histogram()?;
        let mut tasks = Vec::new();
        let mut sampling = Sampling::default();
        for k in 0u64.. {
            let Some(at) = self.rate.due(k).and_then(|d| self.window.t0.checked_add(d)) else {
                break;
            };
            if at >= self.window.end {
                break;
            }
            let sample = sampling.next(self.window.measured(at));
            sleep_until(at);
            let permit = self.permit()?;
            let sent = Instant::now();
            if self.window.measured(at) {
                lag.saturating_record(nanos(sent - at));
            }
            let due = Due { k, at, sample };
            tasks.push(self.handle.spawn(request(
                self.workload.clone(),
                due,
                permit,
                self.window,
                self.shards.clone(),
            )));
            if tasks.len() >= MAX_KEPT_TASKS {
                tasks.retain(|t| !t.is_finished());
            }
        }
        for t in tasks {
            self.handle
                .block_on(t)
                .map_err(|e| format!("a request task failed: {e}"))?;
        }
        Ok(lag)
    }

    /// A permit for one more request outstanding, waiting for one if need be.
    fn permit(&self) -> Fallible<OwnedSemaphorePermit> {
        match self.in_flight.clone().try_acquire_owned() {
            Ok(p) => Ok(p),
            Err(_) => self
                .handle
                .block_on(self.in_flight.clone().acquire_owned())
                .map_err(|e| format!("the in-flight limit failed: {e}")),
        }
    }
}

/// Sleeps this thread until `t` (at once if it has passed).
fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}

/// One open-loop request; recorded, if it was due in the measured window, from the
/// moment it was due.
async fn request(
    w: Arc<Workload>,
    due: Due,
    permit: OwnedSemaphorePermit,
    window: Window,
    shards: Arc<Shards>,
) {
    let mut rng = Rng::with_seed(due.k.wrapping_mul(0x2545_f491_4f6c_dd1d).wrapping_add(1));
    let result = w.call(due.k, &mut rng, due.sample).await;
    let done = Instant::now();
    drop(permit);
    if window.measured(due.at) {
        shards.record(due.k, &result, done - due.at, done);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_must_be_positive_and_finite() {
        assert!(FixedRate::new(0.5).is_ok());
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert_eq!(
                FixedRate::new(bad).unwrap_err(),
                format!("--rate must be positive, not {bad}")
            );
        }
    }

    #[test]
    fn requests_are_due_at_fixed_intervals() {
        let r = FixedRate::new(4.0).unwrap();
        let due: Vec<Duration> = (0..5).map(|k| r.due(k).unwrap()).collect();
        assert_eq!(
            due,
            [0, 250, 500, 750, 1000].map(Duration::from_millis).to_vec()
        );
        let r = FixedRate::new(2000.0).unwrap();
        assert_eq!(r.due(2001), Some(Duration::from_micros(1_000_500)));
    }

    #[test]
    fn the_schedule_sends_rate_times_seconds_requests() {
        // As the scheduler counts: requests due before the end of warm-up + duration.
        let r = FixedRate::new(2000.0).unwrap();
        let end = Duration::from_secs(3);
        let sent = (0u64..)
            .take_while(|&k| r.due(k).is_some_and(|d| d < end))
            .count();
        assert_eq!(sent, 6000);
    }

    #[test]
    fn a_tiny_rate_ends_the_schedule_instead_of_overflowing() {
        let r = FixedRate::new(1e-300).unwrap();
        assert_eq!(r.due(0), Some(Duration::ZERO));
        assert_eq!(r.due(1), None);
    }

    #[test]
    fn the_window_follows_the_warmup() {
        let t0 = Instant::now();
        let w = Window::new(t0, Duration::from_secs(2), Duration::from_secs(10)).unwrap();
        assert!(!w.measured(t0));
        assert!(!w.measured(t0 + Duration::from_millis(1999)));
        assert!(w.measured(t0 + Duration::from_secs(2)));
        assert_eq!(w.end - w.start, Duration::from_secs(10));
        assert!(Window::new(t0, Duration::MAX, Duration::from_secs(1)).is_err());
    }

    #[test]
    fn the_seconds_measured_stretch_to_the_last_answer() {
        let t0 = Instant::now();
        let w = Window::new(t0, Duration::from_secs(1), Duration::from_secs(10)).unwrap();
        assert_eq!(w.seconds(None), 10.0);
        assert_eq!(w.seconds(Some(t0 + Duration::from_secs(5))), 10.0);
        assert_eq!(w.seconds(Some(t0 + Duration::from_millis(12_500))), 11.5);
    }

    #[test]
    fn the_first_the_first_measured_and_one_in_256_are_sampled() {
        let mut s = Sampling::default();
        // Warm-up: the first, then the 257th.
        let warm: Vec<u64> = (0..300).filter(|_| s.next(false)).collect();
        assert_eq!(warm, [0, 256]);
        // The first measured one, then the multiples of 256.
        let measured: Vec<u64> = (300..1000).filter(|_| s.next(true)).collect();
        assert_eq!(measured, [300, 512, 768]);
    }

    #[test]
    fn without_warmup_the_first_is_sampled_once() {
        let mut s = Sampling::default();
        let sampled = (0..600).filter(|_| s.next(true)).count();
        assert_eq!(sampled, 3); // 0, 256, 512
    }
}
