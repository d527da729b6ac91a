//! Group commit: one background thread makes committed writes durable, and every writer
//! that committed before a flush *started* is acknowledged by that one flush.
//!
//! A writer, after its transaction committed, asks for flush number `started + 1` (the
//! next flush to start: it necessarily starts after the writer's commit) and waits until
//! the flusher reports that flush complete. While one flush runs, every writer that
//! commits asks for the same next number, so the next flush covers all of them: one slow
//! fsync delays a batch of writers once instead of each writer paying for its own.
//!
//! A flush is sled's `flush()` (the synchronous form of `flush_async()`: it writes sled's
//! log buffers and waits for them with `sync_file_range`), then `fdatasync` of sled's
//! `db` file and of any new blob file, because `sync_file_range` neither flushes the
//! device's write cache nor the file's size, and sled does not sync blob files at all.
//!
//! After each successful flush the change-log sequence number read *before* the flush
//! started is published on a watch channel: everything up to it is durable. It is also
//! written (without fsync) to the file `nianbao.durable` beside sled's files, so that
//! opening a store whose log lost acknowledged changes (sled treats damage in its log as
//! the log's end and recovers the part before it) is an error instead of a silent loss.
//!
//! A failed flush is final (the lesson of PostgreSQL's "fsyncgate": after a failed
//! fsync the kernel may have dropped the dirty pages and marked them clean, so a second
//! fsync can succeed without the data ever reaching the disk; and sled itself keeps the
//! first I/O error of its log and refuses every later write with it). The writers
//! waiting for that flush get [`StoreError::Failed`], the store is *failed* from then on
//! ([`GroupCommit::failure`]): no flush runs again, and every later write and flush
//! fails at once with the same cause, until the process restarts and sled recovers the
//! store from what is on disk. Reads go on.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::StoreError;

#[derive(Debug, Default)]
struct FlushState {
    /// Number of the last flush the flusher started.
    started: u64,
    /// Highest flush number any writer waits for.
    wanted: u64,
    /// Writers that asked for the next flush (since the last one started).
    asking: usize,
    shutdown: bool,
}

/// What the flusher has done so far.
#[derive(Debug, Clone, Default)]
pub(crate) struct Progress {
    /// Number of the last flush that finished (successfully or not).
    completed: u64,
    /// Number of the last flush that succeeded.
    last_ok: u64,
    /// Set by the first failed flush (or write) and never cleared: the store is failed.
    failed: Option<FlushFailure>,
}

/// Why a flush (or a write) failed: what failed, and whether it was for lack of space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FlushFailure {
    /// What failed and why, for the log and the writers' errors.
    pub(crate) detail: Arc<str>,
    /// The file system was full (`ENOSPC`, `io::ErrorKind::StorageFull`).
    pub(crate) disk_full: bool,
}

impl FlushFailure {
    /// A failure described by `detail`.
    pub(crate) fn new(detail: impl Into<Arc<str>>, disk_full: bool) -> FlushFailure {
        FlushFailure {
            detail: detail.into(),
            disk_full,
        }
    }

    /// `what` failed with `e`.
    pub(crate) fn io(what: &str, e: &std::io::Error) -> FlushFailure {
        FlushFailure::new(format!("{what}: {e}"), is_disk_full(e))
    }

    /// `what` failed in sled with `e`.
    pub(crate) fn sled(what: &str, e: &sled::Error) -> FlushFailure {
        match e {
            sled::Error::Io(io) => FlushFailure::io(what, io),
            other => FlushFailure::new(format!("{what}: {other}"), false),
        }
    }

    fn to_error(&self) -> StoreError {
        let cause = if self.disk_full {
            format!("the disk is full: {}", self.detail)
        } else {
            self.detail.to_string()
        };
        StoreError::Failed { cause }
    }
}

/// `ENOSPC` (28 on Linux and the BSDs), in whatever form it arrives.
pub(crate) fn is_disk_full(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::StorageFull || e.raw_os_error() == Some(ENOSPC)
}

/// `ENOSPC` on Linux (and every Unix nianbao builds on).
const ENOSPC: i32 = 28;

/// Shared between the store and its flusher thread.
#[derive(Debug)]
pub(crate) struct GroupCommit {
    state: Mutex<FlushState>,
    wake: Condvar,
    progress: watch::Sender<Progress>,
}

impl GroupCommit {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(GroupCommit {
            state: Mutex::new(FlushState::default()),
            wake: Condvar::new(),
            progress: watch::Sender::new(Progress::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, FlushState> {
        // The critical sections cannot panic; a poisoned lock still holds valid numbers.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Why the store failed, once a flush or a write has failed; `None` while it works.
    pub(crate) fn failure(&self) -> Option<StoreError> {
        self.progress
            .borrow()
            .failed
            .as_ref()
            .map(FlushFailure::to_error)
    }

    /// Marks the store failed (when it is not already) for `why`: writes found sled
    /// refusing them. Wakes every writer waiting for a flush, which fails them.
    pub(crate) fn fail(&self, why: FlushFailure) {
        self.progress.send_if_modified(|p| {
            if p.failed.is_some() {
                return false;
            }
            tracing::error!(
                error = %why.detail,
                disk_full = why.disk_full,
                "the store stops accepting writes: check the disk, then restart"
            );
            p.failed = Some(why);
            true
        });
    }

    /// Asks for a flush that starts after this call; returns its number.
    pub(crate) fn request(&self) -> u64 {
        let mut st = self.lock();
        let target = st.started + 1;
        st.wanted = st.wanted.max(target);
        st.asking += 1;
        drop(st);
        self.wake.notify_one();
        target
    }

    /// Waits until flush `target` has finished; an error if no flush numbered `target` or
    /// later has succeeded by then. Returns at once when the store has failed.
    pub(crate) async fn wait(&self, target: u64) -> Result<(), StoreError> {
        let mut rx = self.progress.subscribe();
        let p = rx
            .wait_for(|p| p.completed >= target || p.failed.is_some())
            .await
            .map_err(|_| StoreError::NotDurable("the store was closed during the flush".into()))?
            .clone();
        check(&p, target)
    }

    /// The blocking form of [`GroupCommit::wait`], for callers outside async code.
    pub(crate) fn wait_blocking(&self, target: u64) -> Result<(), StoreError> {
        let mut rx = self.progress.subscribe();
        loop {
            let p = rx.borrow_and_update().clone();
            if p.completed >= target || p.failed.is_some() {
                return check(&p, target);
            }
            // No runtime here: poll the channel. Flushes take milliseconds, and only
            // maintenance operations (restore, repair) use this.
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Number of flushes finished so far.
    #[cfg(test)]
    pub(crate) fn completed(&self) -> u64 {
        self.progress.borrow().completed
    }

    fn shutdown(&self) {
        self.lock().shutdown = true;
        self.wake.notify_all();
    }
}

fn check(p: &Progress, target: u64) -> Result<(), StoreError> {
    if p.last_ok >= target {
        Ok(())
    } else if let Some(failed) = &p.failed {
        Err(failed.to_error())
    } else {
        Err(StoreError::NotDurable("the flush did not complete".into()))
    }
}

/// The running flusher; stops (after finishing the flush in progress) when dropped.
pub(crate) struct Flusher {
    shared: Arc<GroupCommit>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.shared.shutdown();
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                tracing::error!("the store's flusher thread panicked");
            }
        }
    }
}

/// What the flusher needs besides the shared state.
pub(crate) struct FlusherParts {
    pub db: sled::Db,
    /// Reads the last committed change sequence number.
    pub read_sequence: Box<dyn Fn() -> u64 + Send>,
    /// Receives the durable change sequence number.
    pub durable: Arc<watch::Sender<u64>>,
    /// Reads the last committed audit record sequence number.
    pub read_audit_sequence: Box<dyn Fn() -> u64 + Send>,
    /// Receives the durable audit record sequence number.
    pub audit_durable: Arc<watch::Sender<u64>>,
    /// Runs now and then between flushes (idempotency purge).
    pub housekeeping: Box<dyn FnMut() + Send>,
    pub housekeeping_every: Duration,
    /// How long a flush waits before it starts when at least [`COMMIT_SIBLINGS`]
    /// writers wait for it (zero: never).
    pub commit_delay: Duration,
}

/// Writers waiting for a flush from which it waits [`FlusherParts::commit_delay`]
/// before starting. A lone writer is flushed at once.
pub(crate) const COMMIT_SIBLINGS: usize = 4;

/// The work of one flush, apart from the group commit's bookkeeping (which flush,
/// for whom, when). The store's is [`SledFlush`]; tests give their own to drive the
/// group commit step by step.
pub(crate) trait FlushWork: Send + 'static {
    /// Makes everything committed before the call durable. After an error it is never
    /// called again (the store is failed).
    fn flush(&mut self) -> Result<(), FlushFailure>;
    /// Runs now and then between flushes.
    fn housekeeping(&mut self);
    /// Holds a busy flush back for `delay` before it starts.
    fn pause(&mut self, delay: Duration) {
        std::thread::sleep(delay);
    }
}

/// When the flusher does what besides flushing.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Schedule {
    pub housekeeping_every: Duration,
    pub commit_delay: Duration,
}

impl Flusher {
    /// Starts the store's flusher: [`SledFlush`], as `wrap` returns it (the identity
    /// but in tests, which inject faults at the store's file boundary).
    pub(crate) fn start<W: FlushWork>(
        shared: Arc<GroupCommit>,
        path: &Path,
        parts: FlusherParts,
        wrap: impl FnOnce(SledFlush) -> W,
    ) -> Result<Flusher, StoreError> {
        let db_file_path = path.join("db");
        let db_file = File::open(&db_file_path).map_err(|source| StoreError::Io {
            action: "open for syncing",
            path: db_file_path,
            source,
        })?;
        let watermark_path = path.join(WATERMARK_FILE);
        let watermark = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&watermark_path)
            .map_err(|source| StoreError::Io {
                action: "open",
                path: watermark_path,
                source,
            })?;
        let mut sync = DiskSync {
            watermark,
            db_file,
            blobs: path.join("blobs"),
            synced: HashSet::new(),
        };
        // Blob files already present were written before a previous run flushed.
        sync.synced = sync.list_blobs().unwrap_or_default().into_iter().collect();
        let schedule = Schedule {
            housekeeping_every: parts.housekeeping_every,
            commit_delay: parts.commit_delay,
        };
        let work = wrap(SledFlush { parts, sync });
        Flusher::spawn(shared, work, schedule).map_err(|source| StoreError::Io {
            action: "start the flusher thread for",
            path: path.to_path_buf(),
            source,
        })
    }

    /// Starts the flusher thread with `work`.
    pub(crate) fn spawn(
        shared: Arc<GroupCommit>,
        work: impl FlushWork,
        schedule: Schedule,
    ) -> std::io::Result<Flusher> {
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("nianbao-store-flusher".into())
            .spawn(move || run(&thread_shared, work, schedule))?;
        Ok(Flusher {
            shared,
            thread: Some(thread),
        })
    }
}

/// The flusher's loop: waits for a writer to ask, holds a busy flush back for the
/// commit delay, runs the flush and reports its outcome to every writer waiting.
fn run(shared: &GroupCommit, mut work: impl FlushWork, schedule: Schedule) {
    let mut last_housekeeping = Instant::now();
    loop {
        let flush = {
            let mut st = shared.lock();
            while st.wanted <= st.started && !st.shutdown {
                let (guard, _) = shared
                    .wake
                    .wait_timeout(st, schedule.housekeeping_every)
                    .unwrap_or_else(|e| e.into_inner());
                st = guard;
                if st.wanted <= st.started
                    && !st.shutdown
                    && last_housekeeping.elapsed() >= schedule.housekeeping_every
                {
                    break;
                }
            }
            if st.wanted > st.started {
                if st.asking >= COMMIT_SIBLINGS && !schedule.commit_delay.is_zero() && !st.shutdown
                {
                    // Busy: let the writers about to commit join this flush (they ask for
                    // `started + 1`, which is still this one) rather than the next.
                    drop(st);
                    work.pause(schedule.commit_delay);
                    st = shared.lock();
                }
                st.started += 1;
                st.asking = 0;
                Some(st.started)
            } else if st.shutdown {
                return;
            } else {
                None
            }
        };
        let Some(flush) = flush else {
            work.housekeeping();
            last_housekeeping = Instant::now();
            continue;
        };
        // Once failed, never flush again: a flush after a failed one could succeed
        // without the data the failed one covered being on disk.
        let failed = shared.progress.borrow().failed.is_some();
        let started = Instant::now();
        let result = if failed { Ok(()) } else { work.flush() };
        tracing::trace!(flush, elapsed = ?started.elapsed(), "store flush");
        shared.progress.send_modify(|p| {
            p.completed = flush;
            match result {
                Ok(()) if p.failed.is_none() => p.last_ok = flush,
                Ok(()) => {}
                Err(e) => {
                    if p.failed.is_none() {
                        tracing::error!(
                            error = %e.detail,
                            disk_full = e.disk_full,
                            "store flush failed; the store stops accepting writes: check \
                             the disk, then restart"
                        );
                        p.failed = Some(e);
                    }
                }
            }
        });
        if last_housekeeping.elapsed() >= schedule.housekeeping_every {
            work.housekeeping();
            last_housekeeping = Instant::now();
        }
    }
}

/// The store's flush: sled's log written and synced, the files sled does not sync
/// synced, and the durable sequence published and recorded.
pub(crate) struct SledFlush {
    parts: FlusherParts,
    sync: DiskSync,
}

impl FlushWork for SledFlush {
    fn flush(&mut self) -> Result<(), FlushFailure> {
        // Everything committed before these reads is covered by the flush below. The
        // audit sequence first: a write's audit record commits with its change, so every
        // record up to `audit` belongs to a change up to `sequence` (a backup relies on it).
        let audit = (self.parts.read_audit_sequence)();
        let sequence = (self.parts.read_sequence)();
        // A panic in sled must not strand the writers waiting for this flush.
        let db = &self.parts.db;
        let flushed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| db.flush()))
            .unwrap_or_else(|_| {
                Err(sled::Error::ReportableBug(
                    "sled panicked while flushing".into(),
                ))
            });
        flushed.map_err(|e| FlushFailure::sled("writing sled's log", &e))?;
        self.sync
            .sync()
            .map_err(|e| FlushFailure::io("syncing the store's files", &e))?;
        // The durable sequence before the writers hear of the flush: a writer woken by
        // the progress may read the change log at once, and must find its own event.
        let newer = self.parts.durable.send_if_modified(|s| {
            let newer = sequence > *s;
            if newer {
                *s = sequence;
            }
            newer
        });
        if newer {
            if let Err(e) = self.sync.mark(sequence) {
                tracing::warn!(error = %e, "could not record the durable sequence number");
            }
        }
        // After the change sequence: a reader of both reads the audit one first.
        self.parts.audit_durable.send_if_modified(|s| {
            let newer = audit > *s;
            if newer {
                *s = audit;
            }
            newer
        });
        Ok(())
    }

    fn housekeeping(&mut self) {
        (self.parts.housekeeping)();
    }
}

/// The file that remembers the last durable change sequence number.
pub(crate) const WATERMARK_FILE: &str = "nianbao.durable";

/// The sequence number in `nianbao.durable` (0 when the file is missing or empty).
pub(crate) fn read_watermark(dir: &Path) -> Result<u64, StoreError> {
    let path = dir.join(WATERMARK_FILE);
    let mut buf = Vec::new();
    match File::open(&path).and_then(|mut f| f.read_to_end(&mut buf)) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(source) => {
            return Err(StoreError::Io {
                action: "read",
                path,
                source,
            })
        }
    }
    if buf.is_empty() {
        return Ok(0);
    }
    let valid = buf.len() == 12 && crc32fast::hash(&buf[..8]).to_be_bytes() == buf[8..12];
    if !valid {
        return Err(StoreError::corrupt(format!(
            "{} is damaged",
            path.display()
        )));
    }
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&buf[..8]);
    Ok(u64::from_be_bytes(seq))
}

/// The fsyncs sled leaves out, and the watermark.
struct DiskSync {
    watermark: File,
    db_file: File,
    blobs: PathBuf,
    /// Blob files already synced.
    synced: HashSet<OsString>,
}

impl DiskSync {
    fn list_blobs(&self) -> std::io::Result<Vec<OsString>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.blobs)? {
            out.push(entry?.file_name());
        }
        Ok(out)
    }

    /// Records `sequence` as durable: `u64be ‖ crc32be` at the start of the file. Not
    /// synced: after a power loss it may be older than the log, never newer.
    fn mark(&mut self, sequence: u64) -> std::io::Result<()> {
        let mut buf = [0u8; 12];
        buf[..8].copy_from_slice(&sequence.to_be_bytes());
        let crc = crc32fast::hash(&buf[..8]);
        buf[8..].copy_from_slice(&crc.to_be_bytes());
        self.watermark.seek(SeekFrom::Start(0))?;
        self.watermark.write_all(&buf)
    }

    fn sync(&mut self) -> std::io::Result<()> {
        self.db_file.sync_data()?;
        let present = match self.list_blobs() {
            Ok(p) => p,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let mut new_blobs = false;
        for name in &present {
            if !self.synced.contains(name) {
                match File::open(self.blobs.join(name)) {
                    Ok(f) => f.sync_data()?,
                    // Collected by sled between listing and opening.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                }
                self.synced.insert(name.clone());
                new_blobs = true;
            }
        }
        if new_blobs {
            File::open(&self.blobs)?.sync_all()?;
        }
        let present: HashSet<&OsString> = present.iter().collect();
        self.synced.retain(|n| present.contains(n));
        Ok(())
    }
}

/// Faults injected at the store's file boundary: a [`FlushWork`] around the real
/// [`SledFlush`] that fails the flushes the test arms, the way a failing disk does.
#[cfg(test)]
pub(crate) mod faults {
    use std::collections::VecDeque;
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    /// How an armed flush fails.
    #[derive(Debug, Clone, Copy)]
    pub(crate) enum Fault {
        /// The error before anything is written (a log write that fails).
        Before(i32),
        /// sled's log is written, then the error is reported in place of the fsyncs
        /// (an fsync that fails after the kernel took the data: whether it is on disk
        /// is unknown). Nothing is published as durable.
        After(i32),
    }

    /// The faults armed, in order, and the flushes that reached the real work.
    #[derive(Debug, Default)]
    pub(crate) struct Faults {
        armed: Mutex<VecDeque<Fault>>,
        flushes: AtomicU64,
    }

    impl Faults {
        /// The next flush fails with `fault`.
        pub(crate) fn arm(&self, fault: Fault) {
            self.armed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push_back(fault);
        }

        /// Flushes asked of the work so far (failed ones included).
        pub(crate) fn flushes(&self) -> u64 {
            self.flushes.load(Ordering::SeqCst)
        }
    }

    /// The store's flush with [`Faults`].
    pub(crate) struct Faulty {
        pub(crate) inner: SledFlush,
        pub(crate) faults: Arc<Faults>,
    }

    impl FlushWork for Faulty {
        fn flush(&mut self) -> Result<(), FlushFailure> {
            self.faults.flushes.fetch_add(1, Ordering::SeqCst);
            let armed = self
                .faults
                .armed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop_front();
            match armed {
                None => self.inner.flush(),
                Some(Fault::Before(errno)) => Err(FlushFailure::io(
                    "writing sled's log (injected)",
                    &std::io::Error::from_raw_os_error(errno),
                )),
                Some(Fault::After(errno)) => {
                    self.inner
                        .parts
                        .db
                        .flush()
                        .map_err(|e| FlushFailure::sled("writing sled's log", &e))?;
                    Err(FlushFailure::io(
                        "syncing the store's files (injected)",
                        &std::io::Error::from_raw_os_error(errno),
                    ))
                }
            }
        }

        fn housekeeping(&mut self) {
            self.inner.housekeeping();
        }
    }
}

#[cfg(test)]
mod tests {
    //! The group commit driven step by step: the test's [`FlushWork`] reports each
    //! flush and each pause as it begins and goes on only when the test says so, so
    //! these tests decide on the order of events, never on how long anything took.

    use std::sync::mpsc;
    use std::thread::JoinHandle;

    use super::*;

    #[derive(Debug, PartialEq, Eq)]
    enum Event {
        Flush,
        Pause,
    }

    /// Flushes and pauses that wait for the test; `fail` makes the next flush fail.
    struct Driven {
        events: mpsc::Sender<Event>,
        go: mpsc::Receiver<Result<(), FlushFailure>>,
    }

    impl FlushWork for Driven {
        fn flush(&mut self) -> Result<(), FlushFailure> {
            let _ = self.events.send(Event::Flush);
            self.go
                .recv()
                .unwrap_or(Err(FlushFailure::new("the test ended", false)))
        }

        fn housekeeping(&mut self) {}

        fn pause(&mut self, _delay: Duration) {
            let _ = self.events.send(Event::Pause);
            let _ = self.go.recv();
        }
    }

    struct Harness {
        shared: Arc<GroupCommit>,
        events: mpsc::Receiver<Event>,
        go: mpsc::Sender<Result<(), FlushFailure>>,
        _flusher: Flusher,
    }

    impl Harness {
        fn new(commit_delay: Duration) -> Harness {
            let shared = GroupCommit::new();
            let (events_tx, events) = mpsc::channel();
            let (go, go_rx) = mpsc::channel();
            let work = Driven {
                events: events_tx,
                go: go_rx,
            };
            let schedule = Schedule {
                housekeeping_every: Duration::from_secs(24 * 3600),
                commit_delay,
            };
            let flusher = Flusher::spawn(shared.clone(), work, schedule).unwrap();
            Harness {
                shared,
                events,
                go,
                _flusher: flusher,
            }
        }

        /// A writer that has committed: asks for a flush and waits for it; its thread
        /// returns the flush it waited for and the outcome.
        fn writer(&self) -> JoinHandle<(u64, Result<(), StoreError>)> {
            let shared = self.shared.clone();
            std::thread::spawn(move || {
                let target = shared.request();
                (target, shared.wait_blocking(target))
            })
        }

        /// Blocks until `n` writers are asking for the next flush.
        fn until_asking(&self, n: usize) {
            let guard = Instant::now();
            while self.shared.lock().asking != n {
                assert!(
                    guard.elapsed() < Duration::from_secs(300),
                    "never {n} writers asking (a hang, not a timing)"
                );
                std::thread::yield_now();
            }
        }

        fn next(&self) -> Event {
            self.events.recv().expect("the flusher is running")
        }

        fn release(&self) {
            self.go.send(Ok(())).expect("the flusher is waiting");
        }
    }

    fn targets(writers: Vec<JoinHandle<(u64, Result<(), StoreError>)>>) -> Vec<u64> {
        writers
            .into_iter()
            .map(|w| {
                let (target, outcome) = w.join().expect("a writer thread");
                assert!(outcome.is_ok(), "{outcome:?}");
                target
            })
            .collect()
    }

    /// The scenario of both tests below: one writer, whose flush runs while 7 more
    /// commit; then, once the second flush is decided on, 20 late writers. Returns the
    /// flushes the early and the late writers waited for.
    fn busy_then_late(h: &Harness, expect_pause: bool) -> (Vec<u64>, Vec<u64>) {
        let first = h.writer();
        assert_eq!(h.next(), Event::Flush, "a lone writer is flushed at once");
        let early: Vec<_> = (0..7).map(|_| h.writer()).collect();
        h.until_asking(7);
        h.release();
        let late = if expect_pause {
            assert_eq!(h.next(), Event::Pause, "7 writers waiting: a busy flush");
            let late: Vec<_> = (0..20).map(|_| h.writer()).collect();
            h.until_asking(27);
            h.release();
            assert_eq!(h.next(), Event::Flush);
            h.release();
            late
        } else {
            assert_eq!(h.next(), Event::Flush, "no delay: the flush starts at once");
            let late: Vec<_> = (0..20).map(|_| h.writer()).collect();
            h.until_asking(20);
            h.release();
            assert_eq!(h.next(), Event::Flush);
            h.release();
            late
        };
        assert_eq!(targets(vec![first]), [1]);
        (targets(early), targets(late))
    }

    #[test]
    fn a_busy_flush_waits_for_the_writers_about_to_commit() {
        let h = Harness::new(Duration::from_millis(3));
        let (early, late) = busy_then_late(&h, true);
        // The 7 writers who asked during flush 1 share flush 2, and so do the 20 who
        // committed while it was held back: 28 writers, 2 flushes.
        assert!(
            early.iter().chain(&late).all(|&t| t == 2),
            "{early:?} {late:?}"
        );
        assert_eq!(h.shared.progress.borrow().completed, 2);
    }

    #[test]
    fn without_a_commit_delay_late_writers_wait_for_the_next_flush() {
        let h = Harness::new(Duration::ZERO);
        let (early, late) = busy_then_late(&h, false);
        assert!(early.iter().all(|&t| t == 2), "{early:?}");
        assert!(late.iter().all(|&t| t == 3), "{late:?}");
        assert_eq!(h.shared.progress.borrow().completed, 3);
    }

    #[test]
    fn a_lone_writer_is_never_held_back() {
        // An hour's delay: a pause would show as an Event::Pause, not as a slow test.
        let h = Harness::new(Duration::from_secs(3600));
        for n in 1..=3u64 {
            let w = h.writer();
            assert_eq!(h.next(), Event::Flush, "writer {n}");
            h.release();
            assert_eq!(targets(vec![w]), [n]);
        }
    }

    #[test]
    fn a_failed_flush_fails_its_writers_and_every_later_one_without_flushing_again() {
        let h = Harness::new(Duration::ZERO);
        let ok = h.writer();
        assert_eq!(h.next(), Event::Flush);
        h.release();
        assert_eq!(targets(vec![ok]), [1]);
        let w = h.writer();
        assert_eq!(h.next(), Event::Flush);
        let eio = std::io::Error::from_raw_os_error(5);
        h.go.send(Err(FlushFailure::io("syncing", &eio))).unwrap();
        let (target, outcome) = w.join().unwrap();
        assert_eq!(target, 2);
        match outcome {
            Err(StoreError::Failed { cause }) => assert!(cause.contains("os error 5"), "{cause}"),
            other => panic!("expected Failed, got {other:?}"),
        }
        assert!(h.shared.failure().is_some());
        // Later writers fail with the same cause, and the work is never asked to flush
        // again (a flush would show as an event).
        for _ in 0..3 {
            let (_, outcome) = h.writer().join().unwrap();
            match outcome {
                Err(StoreError::Failed { cause }) => assert!(cause.contains("os error 5")),
                other => panic!("expected Failed, got {other:?}"),
            }
        }
        assert!(
            h.events.try_recv().is_err(),
            "no flush runs after a failed one"
        );
        assert_eq!(h.shared.progress.borrow().last_ok, 1);
    }

    #[test]
    fn a_full_disk_is_named_in_the_failure() {
        let h = Harness::new(Duration::ZERO);
        let w = h.writer();
        assert_eq!(h.next(), Event::Flush);
        let enospc = std::io::Error::from_raw_os_error(28);
        assert!(is_disk_full(&enospc));
        assert!(is_disk_full(&std::io::Error::from(
            std::io::ErrorKind::StorageFull
        )));
        h.go.send(Err(FlushFailure::io("writing", &enospc)))
            .unwrap();
        match w.join().unwrap().1 {
            Err(StoreError::Failed { cause }) => {
                assert!(cause.starts_with("the disk is full"), "{cause}")
            }
            other => panic!("expected Failed, got {other:?}"),
        }
    }
}
