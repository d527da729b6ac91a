//! [`WorkPool`]: the bounded pool the server's CPU work runs on — parsing, validation
//! of a parsed text, a submission's preparation (`ingest::prepare_submission`) and
//! aggregation — so that no load can pile up threads or the memory of parses.
//!
//! A fixed number of worker threads (a rayon [`rayon::ThreadPool`], `--workers`,
//! default one per core) runs the work; a job waits for a worker in a queue of at most
//! `--work-queue` jobs. Two budgets are taken **at once, before the job is queued**
//! ([`WorkPool::submit`]): a slot (running or queued: workers + queue of them) and the
//! bytes of request text the job parses (`--parse-budget-mb` over every admitted job),
//! so that parsing many large texts at once cannot hold more than the budget of input.
//! A call that finds either spent is refused at once — RESOURCE_EXHAUSTED, reason
//! `OVERLOADED`, with `RetryInfo` — never queued without bound. A job holds its slot
//! and bytes until it has run (or been skipped: a job whose caller went away while it
//! was queued does not run), and gives them back before its answer is sent, so that a
//! caller that has its answer finds them free.
//!
//! Why a pool of its own rather than tokio's blocking threads: those are shared with
//! the export streams, which park a thread on a slow reader for as long as it reads;
//! a cap there would let exports starve parsing (or the reverse), and no cap is what
//! let 2,000 calls start 512 threads. Here the number of threads parsing is exactly
//! `--workers`, whatever else the server does.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

use super::status::{reason, ApiError, OVERLOADED_RETRY};

/// Request bytes are counted in units of this many (a semaphore's permits are a
/// `u32` per acquisition).
const UNIT: usize = 1024;

/// Default `--work-queue`: jobs waiting for a worker.
pub const DEFAULT_WORK_QUEUE: usize = 64;
/// Default `--parse-budget-mb`, in bytes: request text admitted to the pool at once.
pub const DEFAULT_PARSE_BUDGET: usize = 256 * 1024 * 1024;

/// The sizes of a [`WorkPool`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkLimits {
    /// Worker threads; 0: one per core (`std::thread::available_parallelism`).
    pub workers: usize,
    /// Jobs that may wait for a worker.
    pub queue: usize,
    /// Bytes of request text admitted jobs may hold together (queued or running).
    pub parse_budget: usize,
}

impl Default for WorkLimits {
    fn default() -> Self {
        WorkLimits {
            workers: 0,
            queue: DEFAULT_WORK_QUEUE,
            parse_budget: DEFAULT_PARSE_BUDGET,
        }
    }
}

/// Why a pool could not be made.
#[derive(Debug, thiserror::Error)]
#[error("cannot start the {workers} worker threads: {source}")]
pub struct WorkPoolError {
    workers: usize,
    source: rayon::ThreadPoolBuildError,
}

/// The bounded pool (cheap to clone: its copies share the threads and the budgets).
#[derive(Clone)]
pub struct WorkPool {
    inner: Arc<Inner>,
}

struct Inner {
    pool: rayon::ThreadPool,
    workers: usize,
    queue: usize,
    /// Running or queued jobs: workers + queue permits.
    slots: Arc<Semaphore>,
    /// Request text of admitted jobs, in [`UNIT`]s.
    bytes: Arc<Semaphore>,
    budget_units: u32,
}

impl std::fmt::Debug for WorkPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkPool")
            .field("workers", &self.inner.workers)
            .field("queue", &self.inner.queue)
            .field("parse_budget_bytes", &self.parse_budget())
            .finish()
    }
}

impl WorkPool {
    /// Starts the worker threads (named `nianbao-work-N`).
    pub fn new(limits: WorkLimits) -> Result<WorkPool, WorkPoolError> {
        let workers = match limits.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .thread_name(|i| format!("nianbao-work-{i}"))
            .build()
            .map_err(|source| WorkPoolError { workers, source })?;
        let budget_units = u32::try_from(limits.parse_budget.div_ceil(UNIT).max(1))
            .unwrap_or(u32::MAX)
            .min(u32::try_from(Semaphore::MAX_PERMITS).unwrap_or(u32::MAX));
        Ok(WorkPool {
            inner: Arc::new(Inner {
                pool,
                workers,
                queue: limits.queue,
                slots: Arc::new(Semaphore::new(workers.saturating_add(limits.queue))),
                bytes: Arc::new(Semaphore::new(budget_units as usize)),
                budget_units,
            }),
        })
    }

    /// Worker threads.
    pub fn workers(&self) -> usize {
        self.inner.workers
    }

    /// Jobs that may wait for a worker.
    pub fn queue(&self) -> usize {
        self.inner.queue
    }

    /// The parse budget, in bytes (rounded up to KiB).
    pub fn parse_budget(&self) -> usize {
        self.inner.budget_units as usize * UNIT
    }

    /// Admits `job`, which parses `text_bytes` bytes of request text (0 when it parses
    /// none), and queues it for a worker; refused at once (RESOURCE_EXHAUSTED,
    /// `OVERLOADED`, `RetryInfo`) when the workers and the queue are full or the parse
    /// budget is spent. A job larger than the whole budget waits for all of it. Await
    /// the [`Job`] for its result; dropping it unawaited skips the job if it has not
    /// started.
    pub fn submit<T, F>(&self, text_bytes: usize, job: F) -> Result<Job<T>, ApiError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let inner = &self.inner;
        let slot = inner.slots.clone().try_acquire_owned().map_err(|_| {
            overloaded(format!(
                "the server is busy: {} jobs are running and {} are waiting for a worker, its limit; retry shortly",
                inner.workers, inner.queue
            ))
        })?;
        let units = u32::try_from(text_bytes.div_ceil(UNIT))
            .unwrap_or(u32::MAX)
            .min(inner.budget_units);
        let bytes = if units == 0 {
            None
        } else {
            Some(
                inner
                    .bytes
                    .clone()
                    .try_acquire_many_owned(units)
                    .map_err(|_| {
                        overloaded(format!(
                            "the server is busy: the texts being parsed hold its parse budget of {}; retry shortly",
                            in_units(self.parse_budget())
                        ))
                    })?,
            )
        };
        let (tx, rx) = oneshot::channel();
        inner.pool.spawn(move || {
            let permits = Permits {
                _slot: slot,
                _bytes: bytes,
            };
            if tx.is_closed() {
                // The caller went away while the job was queued.
                return;
            }
            let result = catch_unwind(AssertUnwindSafe(job));
            // Free before the answer: a caller that has its answer finds them free.
            drop(permits);
            let _ = tx.send(result.map_err(|_| ()));
        });
        Ok(Job { rx })
    }

    /// [`WorkPool::submit`], then waits for the result.
    pub async fn run<T, F>(&self, text_bytes: usize, job: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        self.submit(text_bytes, job)?.await
    }
}

/// What an admitted job holds until it has run.
struct Permits {
    _slot: OwnedSemaphorePermit,
    _bytes: Option<OwnedSemaphorePermit>,
}

/// `bytes` as MiB, or KiB below one MiB.
fn in_units(bytes: usize) -> String {
    const MIB: usize = 1024 * 1024;
    if bytes >= MIB {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{} KiB", bytes / UNIT)
    }
}

fn overloaded(message: String) -> ApiError {
    ApiError::RetryLater {
        reason: reason::OVERLOADED,
        message,
        retry_after: OVERLOADED_RETRY,
    }
}

/// An admitted job: resolves to its result, or INTERNAL if it panicked.
#[must_use = "a job that is not awaited is skipped unless it has started"]
pub struct Job<T> {
    rx: oneshot::Receiver<Result<T, ()>>,
}

impl<T> std::future::Future for Job<T> {
    type Output = Result<T, ApiError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx).poll(cx).map(|r| match r {
            Ok(Ok(value)) => Ok(value),
            // A panic, caught; or a worker gone (the pool only ends when dropped).
            Ok(Err(())) | Err(_) => Err(ApiError::Internal {
                reason: reason::INTERNAL,
                message: "the worker failed".into(),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use tonic::Code;
    use tonic_types::StatusExt;

    use super::*;

    fn pool(workers: usize, queue: usize, parse_budget: usize) -> WorkPool {
        WorkPool::new(WorkLimits {
            workers,
            queue,
            parse_budget,
        })
        .expect("a pool")
    }

    /// A job that runs until `release` is sent (or dropped); tells `started` when it runs.
    fn held(started: mpsc::Sender<()>) -> (mpsc::Sender<()>, impl FnOnce() -> u32) {
        let (release, wait) = mpsc::channel::<()>();
        (release, move || {
            let _ = started.send(());
            let _ = wait.recv();
            7
        })
    }

    fn assert_overloaded(e: ApiError, says: &str) {
        assert!(e.to_string().contains(says), "{e}");
        let status = tonic::Status::from(e);
        assert_eq!(status.code(), Code::ResourceExhausted);
        let details = status.get_error_details();
        assert_eq!(
            details.error_info().map(|i| i.reason.as_str()),
            Some(reason::OVERLOADED)
        );
        assert_eq!(
            details.retry_info().and_then(|r| r.retry_delay),
            Some(OVERLOADED_RETRY)
        );
    }

    #[tokio::test]
    async fn a_full_pool_and_queue_refuse_at_once_and_admit_again_when_free() {
        let pool = pool(1, 1, DEFAULT_PARSE_BUDGET);
        let (started_tx, started) = mpsc::channel();
        let (release_a, a) = held(started_tx.clone());
        let (release_b, b) = held(started_tx);
        let a = pool.submit(0, a).expect("a runs");
        started.recv().expect("a started");
        let b = pool.submit(0, b).expect("b waits in the queue");
        let refused = pool.submit(0, || 1).err().expect("no room");
        assert_overloaded(refused, "1 jobs are running and 1 are waiting");

        release_a.send(()).expect("a holds");
        assert_eq!(a.await.expect("a's result"), 7);
        // a's slot is free: one more fits in the queue behind b.
        let c = pool.submit(0, || 3).expect("room again");
        assert!(pool.submit(0, || 4).is_err(), "b runs, c waits: full");
        started.recv().expect("b started");
        release_b.send(()).expect("b holds");
        assert_eq!(b.await.expect("b's result"), 7);
        assert_eq!(c.await.expect("c's result"), 3);
        assert_eq!(pool.run(0, || 5).await.expect("a free pool"), 5);
    }

    #[tokio::test]
    async fn the_parse_budget_refuses_text_beyond_it_but_not_work_without_text() {
        let pool = pool(1, 8, 100 * UNIT);
        let (started_tx, started) = mpsc::channel();
        let (release, a) = held(started_tx);
        let a = pool.submit(60 * UNIT, a).expect("60 KiB of 100");
        started.recv().expect("a started");
        let refused = pool.submit(41 * UNIT, || 0).err().expect("over the budget");
        assert_overloaded(refused, "parse budget of 100 KiB");
        let fits = pool.submit(40 * UNIT, || 40).expect("40 more fit");
        let no_text = pool.submit(0, || 0).expect("no text: a slot only");
        // Larger than the whole budget: waits for all of it, so not now.
        assert!(pool.submit(1000 * UNIT, || 0).is_err());
        release.send(()).expect("a holds");
        assert_eq!(a.await.expect("a"), 7);
        assert_eq!(fits.await.expect("fits"), 40);
        assert_eq!(no_text.await.expect("no text"), 0);
        assert_eq!(pool.run(1000 * UNIT, || 1).await.expect("all of it"), 1);
    }

    #[tokio::test]
    async fn a_queued_job_whose_caller_left_is_skipped_and_frees_its_slot() {
        let pool = pool(1, 1, DEFAULT_PARSE_BUDGET);
        let (started_tx, started) = mpsc::channel();
        let (release, a) = held(started_tx);
        let a = pool.submit(0, a).expect("a runs");
        started.recv().expect("a started");
        let (ran_tx, ran) = mpsc::channel::<()>();
        let left = pool
            .submit(0, move || {
                let _ = ran_tx.send(());
            })
            .expect("queued");
        drop(left);
        release.send(()).expect("a holds");
        assert_eq!(a.await.expect("a"), 7);
        // The pool is free again once the skipped job has given its slot back: the
        // next job (behind it in the queue) runs.
        assert_eq!(pool.run(0, || 2).await.expect("after the skip"), 2);
        assert!(ran.try_recv().is_err(), "the abandoned job did not run");
    }

    #[tokio::test]
    async fn a_panicking_job_is_an_internal_error_and_the_worker_lives_on() {
        let pool = pool(1, 0, DEFAULT_PARSE_BUDGET);
        let e = pool
            .run(0, || -> u32 { panic!("boom") })
            .await
            .expect_err("a panic");
        assert_eq!(tonic::Status::from(e).code(), Code::Internal);
        assert_eq!(pool.run(0, || 9).await.expect("the worker lives"), 9);
    }

    #[test]
    fn zero_workers_means_one_per_core() {
        let pool = pool(0, 4, 1);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(pool.workers(), cores);
        assert_eq!(pool.queue(), 4);
        assert_eq!(pool.parse_budget(), UNIT);
    }
}
