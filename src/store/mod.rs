//! The registry's storage: immutable report revisions in sled, with their current state,
//! secondary indexes, an idempotency table and a resumable change log.
//!
//! No gRPC, no CLI: [`Store`] speaks [`ReportName`]s and `nianbao.v1` messages, and fails
//! with [`StoreError`].
//!
//! # Guarantees
//!
//! - **Immutable revisions.** Each submission of `agencies/{agency}/reports/{year}` adds
//!   revision 1, 2, 3... holding the report, its validation findings at submit time, its
//!   etag, submit time, submitter, input SHA-256 and request id. A revision is written once
//!   and never changed or erased. A withdrawal is recorded beside it (in the report's state
//!   and, for good, in `withdrawals`); a later submission adds a revision and clears it.
//! - **Atomic writes.** Every tree one submission or withdrawal touches changes in one sled
//!   transaction, and the etag and idempotency checks happen inside it: a reader never sees
//!   an index entry or a head without the revision it points to.
//! - **Durable acknowledgements with group commit.** `submit`, `withdraw` and `flush`
//!   return only after a flush that started after their commit has completed; concurrent
//!   writers share flushes (see `commit.rs`). The change feed ([`Store::changes`],
//!   [`Store::subscribe`]) only shows durable events, so a follower never sees an event
//!   that a crash could take back and a sequence number is never reused.
//! - **A tamper-evident audit trail.** Tree `audit` holds one `AuditRecord` per audited
//!   call, chained with SM3 (`audit.rs`). A write's record commits in the write's own
//!   transaction; other records are appended in batches ([`Store::append_audit`]), in
//!   turn with the writes, so the chain is linear. [`Store::verify_audit`] finds the first
//!   edited, missing or moved record; nothing in the store rewrites one (`fsck` reports a
//!   broken chain, never repairs it). [`Store::audit_records`] and
//!   [`Store::subscribe_audit`] show durable records only, as the change feed does.
//! - **Typed failures.** A store locked by another process, written by a newer schema,
//!   damaged, or not a nianbao store gives a [`StoreError`], never a panic.
//! - **Failing disks.** A write first checks the free space of the store's file system:
//!   below [`StoreConfig::reserved_space`] it is refused with
//!   [`StoreError::StorageFull`] before anything is written, and writes resume by
//!   themselves once space is freed. A flush that fails (sled's log write or an fsync:
//!   `EIO`, or `ENOSPC` when the disk filled up faster than the reserve), or a write
//!   that sled refuses with an I/O error, *fails* the store for good: that write and
//!   every later one get [`StoreError::Failed`], nothing is flushed again (see
//!   `commit.rs`), and a restart (after checking the disk) is needed to write again.
//!   Reads work in both cases; every acknowledged write is on disk. Until the restart,
//!   a read may see a write that committed in memory but was never acknowledged, and
//!   that the restart may not bring back (the change feed and the audit export never
//!   show it: they show durable entries only).
//!
//! # Trees and key layouts
//!
//! Notation: `‖` concatenation; `u32be`/`u64be` big-endian unsigned integers;
//! `i32o` a signed integer as 4 bytes big-endian with the sign bit flipped (so byte order
//! is numeric order); values are protobuf (prost), `nianbao.v1` messages or the store's
//! own (`records.rs`), unless said otherwise.
//!
//! The **name key** of `agencies/{agency}/reports/{year}` is
//! `agency (ASCII) ‖ 0x00 ‖ i32o(year)`. Agency ids never contain 0x00, so name keys sort
//! by agency id, then year, and `agency ‖ 0x00` prefixes exactly one agency's reports.
//!
//! | tree | key | value |
//! | --- | --- | --- |
//! | `meta` | `schema_version` | `u32be` schema version ([`SCHEMA_VERSION`]) |
//! | `meta` | `counters` | `u64be` last committed change sequence ‖ `u64be` reports ‖ `u64be` revisions |
//! | `meta` | `audit_head` | `u64be` last audit record sequence ‖ its 32-byte SM3 hash (absent: no record yet) |
//! | `bodies` | `u64be(sequence of its submission)` | `ReportRevision` (immutable, append-only) |
//! | `revisions` | `name key ‖ u32be(revision)` | `u64be` key of the revision's body |
//! | `heads` | `name key` | `HeadRecord`: `ReportState` (latest revision, etag, withdrawal, revision count), the latest revision's body key and listing attributes |
//! | `withdrawals` | `name key ‖ u32be(revision)` | `WithdrawalRecord`: `Withdrawal`, state etag, sequence (immutable) |
//! | `changes` | `u64be(sequence)` | `ChangeEvent` (append-only, from 1, no gaps) |
//! | `ix_year` | `i32o(year) ‖ name key` | empty |
//! | `ix_division` | `division (6 ASCII digits) ‖ name key` | empty |
//! | `ix_year_division` | `i32o(year) ‖ division ‖ name key` | empty |
//! | `ix_format` | `i32o(format_version) ‖ name key` | empty |
//! | `ix_errors` | `0x00 or 0x01 (has errors) ‖ name key` | empty |
//! | `idempotency` | request id (UTF-8) | `IdemRecord`: operation, name, content hash, outcome, first-seen time, sequence |
//! | `idem_expiry` | `u64be(first seen, µs since epoch) ‖ request id` | empty |
//! | `audit` | `u64be(sequence)` | `AuditRecord` (append-only, from 1, no gaps, SM3 hash chain: see `audit.rs`) |
//!
//! Beside sled's files, `nianbao.durable` holds the last change sequence number a flush
//! made durable (`u64be ‖ crc32be`): opening a store whose log ends before it is an error
//! (see `commit.rs`).
//!
//! A revision's body is keyed by the sequence number of its `SUBMITTED` change, so bodies
//! are only ever appended at the end of their tree (sled rewrites far less than when large
//! values land all over the key space), and the change log, the bodies and backups line up
//! by key. Indexes describe each report's *latest* revision, withdrawn or not (withdrawal
//! is filtered on the head). Only a division code of exactly six ASCII digits is indexed;
//! a report without one appears in no division index. `heads` doubles as the by-agency
//! index (`agency ‖ 0x00` prefix). `bodies`, `withdrawals` and `changes` are the primary
//! data (and so is `audit`, which nothing derives from or repairs); the revision
//! pointers, heads, indexes and counters are derived from them, and
//! [`Store::fsck`] verifies them and (with `repair`) rebuilds them. Idempotency records
//! are honoured for [`StoreConfig::idempotency_window`] after they were first seen;
//! expired ones are ignored, overwritten when their id comes back, and purged on open and
//! about once a minute by the flusher thread.
//!
//! # Listing order
//!
//! [`Store::list`] returns reports by name key (agency id, then year); when the filter has
//! a division prefix, by division code, then name key. Page tokens carry the position in
//! that order and a fingerprint of the filter.

mod audit;
#[cfg(test)]
mod audit_tests;
mod backup;
mod commit;
mod error;
#[cfg(test)]
mod fault_tests;
mod fsck;
mod keys;
mod list;
mod read;
mod records;
#[cfg(test)]
mod tests;
mod tx;
mod write;

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pbjson_types::Timestamp;
use prost::Message;
use sha2::{Digest, Sha256};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;
use tokio::sync::watch;

use crate::names::{ReportName, Scope};
use crate::pb::{AnnualReport, ReportRevision, ReportState, ValidationResult, Withdrawal};

pub use audit::{
    audit_hash, AuditBreak, AuditEntry, AuditProblem, AuditVerification, WithdrawRequest,
    AUDIT_GENESIS, AUDIT_HASH_LEN,
};
pub use backup::{BackupSummary, RestoreSummary};
pub use error::StoreError;
pub use fsck::{FsckProblem, FsckReport, ProblemKind, MAX_LISTED_PROBLEMS};
pub use list::{ListCursor, ListFilter, ListPage, ListedReport};
pub use read::EncodedRevision;

use commit::{Flusher, FlusherParts, GroupCommit};
use records::IdemRecord;
use tx::{Counters, Trees, META_SCHEMA, TREE_NAMES};

/// The schema version this build writes and reads. A store with a higher one is refused
/// ([`StoreError::NewerSchema`]).
pub const SCHEMA_VERSION: u32 = 1;

/// Default [`StoreConfig::cache_capacity`]: 1 GiB of sled page cache (sled caches whole
/// tree nodes, up to 16 revisions each: with less than about a node per report read
/// often, point reads go to disk).
pub const DEFAULT_CACHE_CAPACITY: u64 = 1024 * 1024 * 1024;

/// Default [`StoreConfig::idempotency_window`]: 24 hours.
pub const DEFAULT_IDEMPOTENCY_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

/// Default [`StoreConfig::segment_size`]: 8 MiB.
pub const DEFAULT_SEGMENT_SIZE: usize = 8 * 1024 * 1024;

/// Longest request id accepted, in bytes.
pub const MAX_REQUEST_ID_LEN: usize = 256;

/// How to open a store.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The store's directory (created when missing).
    pub path: PathBuf,
    /// Bytes of sled page cache. Default [`DEFAULT_CACHE_CAPACITY`] (1 GiB).
    pub cache_capacity: u64,
    /// How long a request id is remembered. Default [`DEFAULT_IDEMPOTENCY_WINDOW`] (24 h).
    pub idempotency_window: Duration,
    /// sled's log segment size, fixed when the store is created (opening an existing
    /// store with another value fails with [`StoreError::Incompatible`]). Values larger
    /// than a quarter of it go to separate blob files, so the default
    /// ([`DEFAULT_SEGMENT_SIZE`], 8 MiB) keeps every realistic revision in the log.
    pub segment_size: usize,
    /// Decoded revisions kept in memory for reads (revisions never change, so a
    /// cached one is never stale). Default [`DEFAULT_DECODED_CACHE`]; 0 turns it off.
    pub decoded_cache: usize,
    /// Group commit under load: when several writers wait for the next flush, it waits
    /// this long first, so that the writers committing meanwhile share it (one flush
    /// and fdatasync for more of them: more writes per second, each a little later).
    /// A lone writer is flushed at once. Default [`DEFAULT_COMMIT_DELAY`]; zero: never.
    pub commit_delay: Duration,
    /// Free bytes the store's file system must keep: a write that finds less free
    /// (for unprivileged users, as `statvfs` counts it) is refused with
    /// [`StoreError::StorageFull`] before it begins, so that sled never meets a full
    /// disk in the middle of its log (which would fail the store: [`StoreError::Failed`]).
    /// One write can take a whole log segment (sled pads the current one to its end)
    /// plus the revision itself. Default [`DEFAULT_RESERVED_SPACE`]; zero: no check.
    pub reserved_space: u64,
}

/// Default [`StoreConfig::reserved_space`]: 64 MiB (eight default segments).
pub const DEFAULT_RESERVED_SPACE: u64 = 64 * 1024 * 1024;

/// Default [`StoreConfig::commit_delay`]: 3 ms.
pub const DEFAULT_COMMIT_DELAY: Duration = Duration::from_millis(3);

/// Default [`StoreConfig::decoded_cache`]: 4,096 revisions (a realistic revision
/// takes 30-60 KiB decoded).
pub const DEFAULT_DECODED_CACHE: usize = 4096;

impl StoreConfig {
    /// The defaults, for a store at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        StoreConfig {
            path: path.into(),
            cache_capacity: DEFAULT_CACHE_CAPACITY,
            idempotency_window: DEFAULT_IDEMPOTENCY_WINDOW,
            segment_size: DEFAULT_SEGMENT_SIZE,
            decoded_cache: DEFAULT_DECODED_CACHE,
            commit_delay: DEFAULT_COMMIT_DELAY,
            reserved_space: DEFAULT_RESERVED_SPACE,
        }
    }
}

/// One submission of a report.
#[derive(Debug, Clone)]
pub struct Submission {
    pub name: ReportName,
    pub report: AnnualReport,
    /// The findings of validating `report` now; stored with the revision.
    pub validation: ValidationResult,
    /// Identity of the submitting client.
    pub submitter: String,
    /// Lower-case hex SHA-256 of the input as received (64 characters).
    pub input_sha256: String,
    /// Idempotency key: a retry with the same id and content returns the first outcome.
    pub request_id: Option<String>,
    /// Optimistic concurrency: the submission succeeds only while this is the report's
    /// current state etag (`None`: unconditional).
    pub expected_etag: Option<String>,
    /// Submit time; `None` stamps the store's clock.
    pub time: Option<SystemTime>,
    /// The submitter's write scope: both the new revision's division and that of the
    /// report already under the name must lie inside it ([`StoreError::OutsideScope`]).
    /// `None`: any division.
    pub within: Option<Scope>,
    /// The call's audit record, appended in the submission's own transaction when it
    /// commits: with code 0 and no reason, the submission's request id when the entry
    /// has none, and the report's name added to its resources. Nothing is appended when
    /// the submission does not commit (etag mismatch, replay...): the caller records
    /// that outcome itself ([`Store::append_audit`]).
    pub audit: Option<AuditEntry>,
}

/// What a submission did.
#[derive(Debug, Clone, PartialEq)]
pub struct SubmitOutcome {
    /// The report the revision belongs to.
    pub name: ReportName,
    /// The stored revision (for a replay, the one the first request stored).
    pub revision: ReportRevision,
    /// The report's state after this submission (for a replay, its current state).
    pub state: ReportState,
    /// True when the request id was seen before with the same content: nothing was
    /// written, `revision` is the first request's outcome.
    pub replayed: bool,
}

/// What [`Store::withdraw`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct WithdrawOutcome {
    /// The report's state after the withdrawal.
    pub state: ReportState,
    /// True when the request id was seen before with the same content.
    pub replayed: bool,
}

/// Counts from [`Store::stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreStats {
    /// Reports (names) with at least one revision.
    pub reports: u64,
    /// Revisions of all reports.
    pub revisions: u64,
    /// Sequence number of the last durable change.
    pub last_sequence: u64,
    /// Bytes the store's files take (as sled counts them).
    pub size_on_disk: u64,
}

/// `SystemTime` as a protobuf timestamp (normalised: `0 <= nanos < 1e9`).
pub(crate) fn timestamp(t: SystemTime) -> Timestamp {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => Timestamp {
            seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            nanos: d.subsec_nanos() as i32,
        },
        Err(e) => {
            let d = e.duration();
            let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            match d.subsec_nanos() {
                0 => Timestamp {
                    seconds: -secs,
                    nanos: 0,
                },
                n => Timestamp {
                    seconds: -secs - 1,
                    nanos: (1_000_000_000 - n) as i32,
                },
            }
        }
    }
}

fn micros(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

fn ts_nanos(t: Option<&Timestamp>) -> i128 {
    t.map_or(0, |t| {
        i128::from(t.seconds) * 1_000_000_000 + i128::from(t.nanos)
    })
}

/// `"{revision}-{16 hex}"`: the etag of a revision (and of the state it starts).
fn revision_etag(name: &str, revision: u32, input_sha256: &str, time: &Timestamp) -> String {
    let mut h = Sha256::new();
    h.update(b"revision\0");
    h.update(name.as_bytes());
    h.update(revision.to_be_bytes());
    h.update(input_sha256.as_bytes());
    h.update(ts_nanos(Some(time)).to_be_bytes());
    format!("\"{revision}-{}\"", hex16(&h.finalize()))
}

/// `"{revision}w-{16 hex}"`: the etag of a report's state after withdrawing `revision`.
fn withdrawal_etag(revision_etag: &str, w: &Withdrawal) -> String {
    let mut h = Sha256::new();
    h.update(b"withdrawal\0");
    h.update(revision_etag.as_bytes());
    h.update(ts_nanos(w.withdraw_time.as_ref()).to_be_bytes());
    h.update(w.reason.as_bytes());
    h.update(w.withdrawn_by.as_bytes());
    format!("\"{}w-{}\"", w.revision, hex16(&h.finalize()))
}

/// The first 8 bytes of a digest as 16 lower-case hex digits.
fn hex16(digest: &[u8]) -> String {
    hex::encode(&digest[..8])
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

struct Inner {
    path: PathBuf,
    db: sled::Db,
    trees: Trees,
    commit: Arc<GroupCommit>,
    /// Last durable change sequence number.
    durable: Arc<watch::Sender<u64>>,
    /// Last durable audit record sequence number.
    audit_durable: Arc<watch::Sender<u64>>,
    idempotency_window: Duration,
    /// [`StoreConfig::reserved_space`].
    reserved_space: u64,
    /// Writers hold it shared around their transaction; `fsck` holds it exclusively so
    /// that it sees (and repairs) a store nobody writes to.
    gate: RwLock<()>,
    /// Taken (asynchronously, first come first served) around each write transaction.
    /// sled runs one transaction at a time under a lock of its own: without this turn,
    /// every async thread could block on that lock at once and the server would stall.
    turn: tokio::sync::Mutex<()>,
    /// Decoded revisions by body key (immutable, so never stale): decoding a revision
    /// costs several times more than reading it.
    decoded: Option<quick_cache::sync::Cache<u64, Arc<ReportRevision>>>,
    /// Dropped after the fields above are no longer used: stops the flusher thread
    /// (which holds its own handle on the database).
    _flusher: Flusher,
    /// Declared last: waits until sled has let go of the store's lock.
    _released: LockRelease,
}

/// Closing a store returns once its lock is free, so that the store can be opened
/// again at once, in this process or another.
///
/// sled takes an exclusive lock on its `db` file, held by the file handle its
/// configuration owns. After the last handle on the database is dropped, sled's IO
/// threads and deferred clean-ups may hold that configuration a moment longer, and an
/// open in that moment is refused as "in use" (seen in about 1 open in 100 on a busy
/// machine). Waiting for the lock here, when the last clone of the store is dropped,
/// keeps that moment out of every caller's way.
struct LockRelease {
    db_file: PathBuf,
}

impl Drop for LockRelease {
    fn drop(&mut self) {
        use fs2::FileExt;
        let Ok(file) = std::fs::File::open(&self.db_file) else {
            return;
        };
        let started = Instant::now();
        loop {
            if file.try_lock_exclusive().is_ok() {
                let _ = FileExt::unlock(&file);
                tracing::trace!(waited = ?started.elapsed(), "store lock released");
                return;
            }
            // A guard for a lock that something else took meanwhile, not a timing:
            // closing never hangs on it.
            if started.elapsed() > Duration::from_secs(10) {
                tracing::warn!(path = %self.db_file.display(), "the store's lock is still held after closing it");
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// A registry store. Cheap to clone (a handle on shared state); `Send + Sync`. The
/// database closes (after a final flush) when the last clone is dropped.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the store at `cfg.path`, creating it when the directory is missing or empty.
    ///
    /// Fails with [`StoreError::Locked`] when another process has it open,
    /// [`StoreError::NewerSchema`] when a newer build wrote it, [`StoreError::Corrupt`]
    /// when its files are damaged or are not a nianbao store, and
    /// [`StoreError::Incompatible`] when sled refuses the configuration.
    pub fn open(cfg: &StoreConfig) -> Result<Store, StoreError> {
        Store::open_with(cfg, |work| work)
    }

    /// [`Store::open`] with the faults `faults` arms injected into its flushes.
    #[cfg(test)]
    pub(crate) fn open_with_faults(
        cfg: &StoreConfig,
        faults: Arc<commit::faults::Faults>,
    ) -> Result<Store, StoreError> {
        Store::open_with(cfg, |inner| commit::faults::Faulty { inner, faults })
    }

    /// [`Store::open`] with the flush `wrap` makes of the store's.
    fn open_with<W: commit::FlushWork>(
        cfg: &StoreConfig,
        wrap: impl FnOnce(commit::SledFlush) -> W,
    ) -> Result<Store, StoreError> {
        let path = cfg.path.clone();
        if path.exists() && !path.is_dir() {
            return Err(StoreError::corrupt(format!(
                "{} is a file, not a store directory",
                path.display()
            )));
        }
        if cfg.segment_size < 64 * 1024 || !cfg.segment_size.is_power_of_two() {
            return Err(StoreError::InvalidArgument(format!(
                "segment_size must be a power of two of at least 64 KiB, not {}",
                cfg.segment_size
            )));
        }
        // sled starts a store afresh over a `db` file it cannot read (it only skips
        // what fails its checksums), so a store is new only if it has no data yet.
        let db_file = path.join("db");
        let existing = std::fs::metadata(&db_file).map_or(0, |m| m.len());
        if existing > 0 && !path.join("conf").exists() {
            return Err(StoreError::corrupt(format!(
                "{} has a sled `db` file but no `conf` file: it was not written by sled, or \
                 is damaged",
                path.display()
            )));
        }
        let sled_cfg = sled::Config::new()
            .path(&path)
            .cache_capacity(cfg.cache_capacity)
            .segment_size(cfg.segment_size)
            .mode(sled::Mode::LowSpace)
            // The group-commit flusher is the only one: every acknowledged write waits
            // for it, and sled's own timer would just compete with it.
            .flush_every_ms(None);
        // sled has panics on some damaged files; a damaged store must be an error.
        let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sled_cfg.open()));
        let db = match opened {
            Ok(Ok(db)) => db,
            Ok(Err(e)) => return Err(open_error(&path, e)),
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("(no message)");
                return Err(StoreError::corrupt(format!(
                    "sled failed while reading {}: {msg}",
                    path.display()
                )));
            }
        };
        let trees = Trees::open(&db).map_err(|e| open_error(&path, e))?;
        check_schema(&db, &trees, &path, existing > 0)?;
        let sequence = Counters::read(&trees.meta)?.sequence;
        let acknowledged = commit::read_watermark(&path)?;
        if acknowledged > sequence {
            return Err(StoreError::corrupt(format!(
                "{}: changes {}..={acknowledged} were acknowledged as durable but sled's log \
                 ends at change {sequence} (the db file was damaged or truncated)",
                path.display(),
                sequence + 1
            )));
        }

        let audit_head = audit::AuditHead::read(&trees.meta).map_or_else(
            |e| {
                tracing::warn!(error = %e, "the audit chain head is damaged; run `nianbao audit verify`");
                0
            },
            |h| h.sequence,
        );

        let commit = GroupCommit::new();
        let durable = Arc::new(watch::Sender::new(sequence));
        let audit_durable = Arc::new(watch::Sender::new(audit_head));
        let window = cfg.idempotency_window;
        let purge_trees = trees.clone();
        let seq_meta = trees.meta.clone();
        let audit_meta = trees.meta.clone();
        let flusher = Flusher::start(
            commit.clone(),
            &path,
            FlusherParts {
                db: db.clone(),
                read_sequence: Box::new(move || {
                    Counters::read(&seq_meta).map_or(0, |c| c.sequence)
                }),
                durable: durable.clone(),
                read_audit_sequence: Box::new(move || {
                    audit::AuditHead::read(&audit_meta).map_or(0, |h| h.sequence)
                }),
                audit_durable: audit_durable.clone(),
                housekeeping: Box::new(move || {
                    if let Err(e) = purge_idempotency(&purge_trees, window, SystemTime::now()) {
                        tracing::warn!(error = %e, "purging expired request ids failed");
                    }
                }),
                housekeeping_every: Duration::from_secs(60),
                commit_delay: cfg.commit_delay,
            },
            wrap,
        )?;
        let released = LockRelease {
            db_file: path.join("db"),
        };
        let store = Store {
            inner: Arc::new(Inner {
                path,
                db,
                trees,
                commit,
                durable,
                audit_durable,
                idempotency_window: window,
                reserved_space: cfg.reserved_space,
                gate: RwLock::new(()),
                turn: tokio::sync::Mutex::new(()),
                decoded: (cfg.decoded_cache > 0)
                    .then(|| quick_cache::sync::Cache::new(cfg.decoded_cache)),
                _flusher: flusher,
                _released: released,
            }),
        };
        let purged = store.purge_expired_requests()?;
        tracing::debug!(path = %store.inner.path.display(), sequence, purged, "store opened");
        Ok(store)
    }

    /// The store's directory.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Stores a new revision of `s.name` and returns it once it is durable.
    ///
    /// With a request id seen within the idempotency window: the same name and input
    /// SHA-256 return the first outcome (`replayed`, nothing written); anything else is
    /// [`StoreError::IdempotencyMismatch`]. With `expected_etag`: unless it is the
    /// report's current state etag, [`StoreError::EtagMismatch`] and nothing written. A
    /// submission to a withdrawn report reinstates it with the new revision.
    ///
    /// The transaction itself runs on the calling thread (in-memory work, brief); the
    /// wait for the flush is asynchronous.
    /// Makes everything committed so far durable (writes already wait for this; use it
    /// after maintenance or before a planned stop).
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.wait_durable().await
    }

    /// The blocking form of [`Store::flush`], for code outside an async runtime.
    pub fn flush_blocking(&self) -> Result<(), StoreError> {
        let target = self.inner.commit.request();
        self.inner.commit.wait_blocking(target)
    }

    /// Counts and size.
    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        let counters = Counters::read(&self.inner.trees.meta)?;
        Ok(StoreStats {
            reports: counters.reports,
            revisions: counters.revisions,
            last_sequence: *self.inner.durable.borrow(),
            size_on_disk: self
                .inner
                .db
                .size_on_disk()
                .map_err(|e| StoreError::sled("measuring the store", e))?,
        })
    }

    /// Removes idempotency records older than the window; returns how many. (The
    /// flusher thread also does this about once a minute.)
    pub fn purge_expired_requests(&self) -> Result<usize, StoreError> {
        purge_idempotency(
            &self.inner.trees,
            self.inner.idempotency_window,
            SystemTime::now(),
        )
    }
}

/// Maps an error from opening sled.
fn open_error(path: &Path, e: sled::Error) -> StoreError {
    match e {
        sled::Error::Io(io) if io.to_string().contains("could not acquire lock") => {
            StoreError::Locked {
                path: path.to_path_buf(),
            }
        }
        sled::Error::Io(io) if io.kind() == std::io::ErrorKind::PermissionDenied => {
            StoreError::Io {
                action: "open the store at",
                path: path.to_path_buf(),
                source: io,
            }
        }
        sled::Error::Io(io)
            if matches!(
                io.kind(),
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
            ) =>
        {
            StoreError::corrupt(format!("{}: {io}", path.display()))
        }
        sled::Error::Io(io) => StoreError::Io {
            action: "open the store at",
            path: path.to_path_buf(),
            source: io,
        },
        sled::Error::Unsupported(detail) => StoreError::Incompatible {
            path: path.to_path_buf(),
            detail,
        },
        sled::Error::Corruption { at, .. } => StoreError::corrupt(format!(
            "sled found corrupt data in {} at {at:?}",
            path.display()
        )),
        other => StoreError::corrupt(format!("{}: {other}", path.display())),
    }
}

/// Verifies (or, for a new store, writes) the schema version.
fn check_schema(
    db: &sled::Db,
    trees: &Trees,
    path: &Path,
    had_data: bool,
) -> Result<(), StoreError> {
    let known: Vec<&[u8]> = TREE_NAMES.iter().map(|n| n.as_bytes()).collect();
    let foreign: Vec<String> = db
        .tree_names()
        .iter()
        .filter(|n| n.as_ref() != b"__sled__default" && !known.contains(&n.as_ref()))
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect();
    let default_used = !db.is_empty();
    let version = trees
        .meta
        .get(META_SCHEMA)
        .map_err(|e| StoreError::sled("reading the schema version", e))?;
    match version {
        Some(v) => {
            let found = <[u8; 4]>::try_from(v.as_ref())
                .map(u32::from_be_bytes)
                .map_err(|_| {
                    StoreError::corrupt(format!(
                        "{}: the schema version is not a u32",
                        path.display()
                    ))
                })?;
            if found > SCHEMA_VERSION {
                return Err(StoreError::NewerSchema {
                    path: path.to_path_buf(),
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
            if found == 0 {
                return Err(StoreError::corrupt(format!(
                    "{}: schema version 0",
                    path.display()
                )));
            }
            Ok(())
        }
        None => {
            let has_data = trees.all.iter().any(|t| !t.is_empty());
            if had_data && !has_data && foreign.is_empty() && !default_used {
                return Err(StoreError::corrupt(format!(
                    "{} has a `db` file but nothing readable in it (no schema version)",
                    path.display()
                )));
            }
            if has_data || !foreign.is_empty() || default_used {
                return Err(StoreError::corrupt(format!(
                    "{} holds a sled database without a nianbao schema version{}",
                    path.display(),
                    if foreign.is_empty() {
                        String::new()
                    } else {
                        format!(" (trees {})", foreign.join(", "))
                    }
                )));
            }
            trees
                .meta
                .insert(META_SCHEMA, &SCHEMA_VERSION.to_be_bytes())
                .map_err(|e| StoreError::sled("writing the schema version", e))?;
            db.flush()
                .map_err(|e| StoreError::sled("flushing a new store", e))?;
            Ok(())
        }
    }
}

/// Removes idempotency records first seen before `now - window`.
fn purge_idempotency(
    trees: &Trees,
    window: Duration,
    now: SystemTime,
) -> Result<usize, StoreError> {
    let now_micros = micros(now);
    let cutoff = now_micros.saturating_sub(u64::try_from(window.as_micros()).unwrap_or(u64::MAX));
    let mut purged = 0;
    for kv in trees.idem_expiry.range(..keys::seq_key(cutoff).to_vec()) {
        let (k, _) = kv.map_err(|e| StoreError::sled("reading request-id expiries", e))?;
        let Some((created, rid)) = keys::parse_expiry_key(&k) else {
            tracing::warn!(key = ?k, "malformed key in idem_expiry; run fsck");
            continue;
        };
        let rid = rid.to_string();
        // A transaction, so that a record renewed meanwhile (same id, new time) stays.
        let r = (&trees.idempotency, &trees.idem_expiry).transaction(|(idem, expiry)| {
            expiry.remove(k.as_ref())?;
            if let Some(v) = idem.get(rid.as_bytes())? {
                if let Ok(rec) = IdemRecord::decode(v.as_ref()) {
                    if rec.created_micros == created {
                        idem.remove(rid.as_bytes())?;
                    }
                }
            }
            Ok::<_, ConflictableTransactionError<()>>(())
        });
        match r {
            Ok(()) => purged += 1,
            Err(TransactionError::Storage(e)) => {
                return Err(StoreError::sled("purging request ids", e))
            }
            Err(TransactionError::Abort(())) => {}
        }
    }
    if purged > 0 {
        tracing::debug!(purged, "purged expired request ids");
    }
    Ok(purged)
}
