//! The audit log of the server: records of calls that are not committed writes (reads,
//! refused and failed calls), queued and appended to the store's audit chain in batches.
//!
//! A committed write's record does not come here: it commits in the write's own
//! transaction (`Submission::audit`, `WithdrawRequest::audit`). Everything else is
//! handed to [`AuditLog::record`], which waits while the queue is full (backpressure:
//! a record is never dropped to keep a call fast). A background task appends what is
//! queued as one batch ([`Store::append_audit`], in turn with the writes) at the latest
//! [`BATCH_INTERVAL`] after the batch's first record arrived, or as soon as
//! [`BATCH_MAX`] are pending, then flushes the store. So a record is on disk about
//! `BATCH_INTERVAL` plus one append and one flush after it was recorded: within a
//! second unless the disk itself stalls (a flush takes milliseconds; with a failing
//! disk the writes fail too). [`AuditLog::close`] appends and flushes what is queued;
//! the server calls it after draining, before its final flush.
//!
//! Without a store (the server runs with the registry NOT_SERVING), and for records that
//! arrive after `close` or that the store fails to append, each record is written to
//! the log (tracing, WARN, target `nianbao::audit`, every field) and counted in
//! [`AuditStats::unstored`]: such records are in the server log only, not in the chain.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::store::{AuditEntry, Store};

/// Longest time a record waits in the queue before its batch is appended.
pub const BATCH_INTERVAL: Duration = Duration::from_millis(100);
/// Records appended in one transaction at most; a full batch is appended at once.
pub const BATCH_MAX: usize = 512;
/// Records the queue holds before [`AuditLog::record`] waits.
pub const QUEUE_CAPACITY: usize = 8 * BATCH_MAX;

/// What the audit log has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuditStats {
    /// Records appended to the store's chain.
    pub appended: u64,
    /// Records written to the server log only (no store, closed, or the append failed).
    pub unstored: u64,
}

#[derive(Debug, Default)]
struct Counters {
    appended: AtomicU64,
    unstored: AtomicU64,
}

struct Inner {
    /// `None` when the server runs without a store.
    queue: Option<mpsc::Sender<AuditEntry>>,
    closing: watch::Sender<bool>,
    task: tokio::sync::Mutex<Option<JoinHandle<()>>>,
    counters: Arc<Counters>,
}

/// A handle on the audit log; cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl AuditLog {
    /// Starts the log on `store` (spawns its task: call it inside a Tokio runtime). With
    /// `None`, records only go to the server log.
    pub fn start(store: Option<Store>) -> AuditLog {
        let counters = Arc::new(Counters::default());
        let (closing, closed) = watch::channel(false);
        let (queue, task) = match store {
            Some(store) => {
                let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
                let task = tokio::spawn(run(store, rx, closed, counters.clone()));
                (Some(tx), Some(task))
            }
            None => (None, None),
        };
        AuditLog {
            inner: Arc::new(Inner {
                queue,
                closing,
                task: tokio::sync::Mutex::new(task),
                counters,
            }),
        }
    }

    /// Queues the record of one call; waits while the queue is full.
    pub async fn record(&self, entry: AuditEntry) {
        let Some(queue) = &self.inner.queue else {
            unstored(
                &self.inner.counters,
                &entry,
                "the server runs without a store",
            );
            return;
        };
        if let Err(mpsc::error::SendError(entry)) = queue.send(entry).await {
            unstored(&self.inner.counters, &entry, "the audit log is closed");
        }
    }

    /// Queues the record of one call from code that cannot wait (the end of a response
    /// body): at once when the queue has room, else from a task that waits for room.
    /// Never drops a record silently: one that cannot be queued goes to the server log.
    pub fn record_soon(&self, entry: AuditEntry) {
        let Some(queue) = &self.inner.queue else {
            unstored(
                &self.inner.counters,
                &entry,
                "the server runs without a store",
            );
            return;
        };
        match queue.try_send(entry) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(entry)) => {
                match tokio::runtime::Handle::try_current() {
                    Ok(runtime) => {
                        let log = self.clone();
                        runtime.spawn(async move { log.record(entry).await });
                    }
                    Err(_) => unstored(
                        &self.inner.counters,
                        &entry,
                        "the audit queue is full and there is no runtime to wait on",
                    ),
                }
            }
            Err(mpsc::error::TrySendError::Closed(entry)) => {
                unstored(&self.inner.counters, &entry, "the audit log is closed")
            }
        }
    }

    /// Appends and flushes everything queued, then stops; later records go to the
    /// server log only. Returns once done (at once when called again).
    pub async fn close(&self) {
        self.inner.closing.send_replace(true);
        let task = self.inner.task.lock().await.take();
        if let Some(task) = task {
            if let Err(e) = task.await {
                tracing::error!(target: "nianbao::audit", error = %e, "the audit log's task failed");
            }
        }
    }

    /// Counts so far.
    pub fn stats(&self) -> AuditStats {
        AuditStats {
            appended: self.inner.counters.appended.load(Ordering::Relaxed),
            unstored: self.inner.counters.unstored.load(Ordering::Relaxed),
        }
    }
}

/// A record that is not going into the chain: in the server log, with every field.
fn unstored(counters: &Counters, e: &AuditEntry, why: &str) {
    counters.unstored.fetch_add(1, Ordering::Relaxed);
    tracing::warn!(
        target: "nianbao::audit",
        why,
        time = ?e.time,
        identity = %e.identity,
        peer = %e.peer,
        method = %e.method,
        resources = ?e.resources,
        request_id = %e.request_id,
        code = e.code,
        reason = %e.reason,
        "audit record not stored"
    );
}

/// The task: batches, appends, flushes; on close (or when every handle is gone) takes
/// what is queued, appends and flushes it, and ends.
async fn run(
    store: Store,
    mut rx: mpsc::Receiver<AuditEntry>,
    mut closing: watch::Receiver<bool>,
    counters: Arc<Counters>,
) {
    let mut batch = Vec::with_capacity(BATCH_MAX);
    'batches: loop {
        tokio::select! {
            biased;
            _ = closing.wait_for(|c| *c) => break 'batches,
            n = rx.recv_many(&mut batch, BATCH_MAX) => if n == 0 { break 'batches },
        }
        let deadline = Instant::now() + BATCH_INTERVAL;
        while batch.len() < BATCH_MAX {
            let room = BATCH_MAX - batch.len();
            tokio::select! {
                biased;
                _ = closing.wait_for(|c| *c) => break,
                _ = tokio::time::sleep_until(deadline) => break,
                n = rx.recv_many(&mut batch, room) => if n == 0 { break },
            }
        }
        append(&store, &mut batch, &counters).await;
    }
    // Closing: no new records; what is queued is appended.
    rx.close();
    loop {
        append(&store, &mut batch, &counters).await;
        if rx.recv_many(&mut batch, BATCH_MAX).await == 0 {
            break;
        }
    }
}

/// Appends `batch` (emptying it) and flushes.
async fn append(store: &Store, batch: &mut Vec<AuditEntry>, counters: &Counters) {
    if batch.is_empty() {
        return;
    }
    let entries = std::mem::take(batch);
    let n = entries.len() as u64;
    // The transaction runs on a blocking thread: a batch of hundreds of records must not
    // hold one of the async workers that serve the connections.
    let appending = store.clone();
    let appended = tokio::task::spawn_blocking(move || {
        let result = appending.append_audit_blocking(&entries);
        (result, entries)
    })
    .await;
    let (result, entries) = match appended {
        Ok(done) => done,
        Err(e) => {
            tracing::error!(target: "nianbao::audit", error = %e, records = n, "the audit append failed: these records are not in the chain");
            counters.unstored.fetch_add(n, Ordering::Relaxed);
            return;
        }
    };
    match result {
        Ok(last) => {
            counters.appended.fetch_add(n, Ordering::Relaxed);
            if let Err(e) = store.flush().await {
                tracing::error!(target: "nianbao::audit", error = %e, last, "audit records appended but not flushed");
            }
        }
        Err(e) => {
            tracing::error!(target: "nianbao::audit", error = %e, records = n, "appending audit records failed; they follow in the log");
            for entry in &entries {
                unstored(counters, entry, "the store failed to append it");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreConfig;
    use std::time::SystemTime;

    fn entry(i: usize) -> AuditEntry {
        AuditEntry {
            time: SystemTime::now(),
            identity: "tester".into(),
            peer: "127.0.0.1:1".into(),
            method: "/nianbao.v1.ReportRegistry/GetReport".into(),
            resources: vec![],
            request_id: format!("r-{i}"),
            code: 0,
            reason: String::new(),
        }
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn every_record_is_appended_in_order_and_close_drains() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&StoreConfig::new(dir.path())).unwrap();
        let rt = runtime();
        let n = 3 * BATCH_MAX + 7;
        rt.block_on(async {
            let log = AuditLog::start(Some(store.clone()));
            // More than the queue holds: `record` waits instead of dropping.
            for i in 0..n + QUEUE_CAPACITY {
                log.record(entry(i)).await;
            }
            log.close().await;
            log.close().await;
            assert_eq!(
                log.stats(),
                AuditStats {
                    appended: (n + QUEUE_CAPACITY) as u64,
                    unstored: 0
                }
            );
            // After close: the server log only.
            log.record(entry(0)).await;
            assert_eq!(log.stats().unstored, 1);
        });
        let ids: Vec<String> = store
            .audit_records(0)
            .map(|r| r.unwrap().request_id)
            .collect();
        let want: Vec<String> = (0..n + QUEUE_CAPACITY).map(|i| format!("r-{i}")).collect();
        assert_eq!(ids, want);
        assert!(store.verify_audit().unwrap().is_intact());
    }

    #[test]
    fn a_record_becomes_durable_without_close() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&StoreConfig::new(dir.path())).unwrap();
        let rt = runtime();
        rt.block_on(async {
            let log = AuditLog::start(Some(store.clone()));
            let mut durable = store.subscribe_audit();
            log.record(entry(1)).await;
            // A guard against hanging, not a timing: the batcher's timer flushes it.
            tokio::time::timeout(Duration::from_secs(60), durable.wait_for(|s| *s >= 1))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(store.audit_records(0).count(), 1);
            log.close().await;
        });
    }

    #[test]
    fn without_a_store_records_are_logged_and_counted() {
        let rt = runtime();
        rt.block_on(async {
            let log = AuditLog::start(None);
            log.record(entry(1)).await;
            log.record(entry(2)).await;
            log.close().await;
            assert_eq!(
                log.stats(),
                AuditStats {
                    appended: 0,
                    unstored: 2
                }
            );
        });
    }
}
