//! The store's error type. A caller's value (an etag, a request id, a division
//! prefix) appears in a message only through [`echo`]: a short prefix and its length.

use std::io;
use std::path::PathBuf;

use crate::names::echo;

/// Why a store operation failed. Caller mistakes (`NotFound`, `EtagMismatch`,
/// `InvalidArgument`...) are distinct from trouble with the store itself (`Corrupt`,
/// `Storage`, `Io`, `NotDurable`, `StorageFull`, `Failed`), so a server can map them to
/// the right status.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another process has the store open (sled holds an exclusive lock on its `db` file).
    #[error(
        "the store at {} is in use by another process (it holds the lock on its `db` file); \
         stop that process, or use another data directory",
        path.display()
    )]
    Locked { path: PathBuf },

    /// The store was written by a newer build with a schema this one does not know.
    #[error(
        "the store at {} has schema version {found}, newer than version {supported} that this \
         build understands; run a newer nianbao on it",
        path.display()
    )]
    NewerSchema {
        path: PathBuf,
        found: u32,
        supported: u32,
    },

    /// The store's files or records are damaged, or the directory is not a nianbao store.
    #[error(
        "the store is corrupt or not a nianbao store: {detail}. Check it with fsck, or restore \
         a backup into an empty directory"
    )]
    Corrupt { detail: String },

    /// The store exists but cannot be opened with the given configuration (sled refuses,
    /// e.g., a different `segment_size` than the store was created with).
    #[error("the store at {} cannot be opened with this configuration: {detail}", path.display())]
    Incompatible { path: PathBuf, detail: String },

    /// A write outside the writer's scope (the new revision's division, or that of the
    /// report already under the name).
    #[error("{name} may not be written by this caller: {why} the caller's write scope")]
    OutsideScope { name: String, why: String },

    /// No report of that name has ever been submitted.
    #[error("{name} does not exist")]
    NotFound { name: String },

    /// The report exists but not that revision.
    #[error("{name} has no revision {revision} (its revisions are 1 to {latest})")]
    RevisionNotFound {
        name: String,
        revision: u32,
        latest: u32,
    },

    /// A withdrawal of a report that is withdrawn already.
    #[error(
        "{name} is already withdrawn (at revision {revision}); a new submission reinstates it"
    )]
    AlreadyWithdrawn { name: String, revision: u32 },

    /// The caller's `expected_etag` is not the report's current etag; nothing was written.
    #[error(
        "{name} has changed since it was read: the request expected etag {}, {}; read \
         it again and retry with the current etag",
        echo(expected),
        describe_current(current)
    )]
    EtagMismatch {
        name: String,
        expected: String,
        /// The report's current etag, `None` when the report does not exist.
        current: Option<String>,
    },

    /// A request id seen within the idempotency window came back with other content.
    #[error(
        "request id {} was already used for a different request ({detail}); give \
         each new request a new request id",
        echo(request_id)
    )]
    IdempotencyMismatch { request_id: String, detail: String },

    /// A page token that is not one this store issued for this filter.
    #[error("invalid page token: {0}; list again from the start without a token")]
    InvalidCursor(String),

    /// An argument the store cannot accept (the message names it).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// `restore` into a store that already holds data.
    #[error(
        "cannot restore into {}: the store there is not empty ({detail}); restore into a new, \
         empty data directory",
        path.display()
    )]
    NotEmpty { path: PathBuf, detail: String },

    /// A backup file that is truncated, damaged or not a nianbao backup.
    #[error("{} is not a usable nianbao backup: {detail}", path.display())]
    InvalidBackup { path: PathBuf, detail: String },

    /// A file-system operation on a file outside the store (backup files) failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// The storage engine (sled) failed.
    #[error("storage engine error while {context}: {source}")]
    Storage {
        context: &'static str,
        #[source]
        source: sled::Error,
    },

    /// The write was committed but the flush that makes it durable failed: it may be lost
    /// if the machine stops before a later flush succeeds.
    #[error(
        "the write was committed but not confirmed on disk ({0}); check the disk (space, \
         errors) and retry the request with the same request id"
    )]
    NotDurable(String),

    /// A write refused before it began: the file system holding the store has less free
    /// space than the store keeps in reserve ([`super::StoreConfig::reserved_space`]).
    /// Nothing was written; writes resume by themselves once space is freed, and reads
    /// are not affected.
    #[error(
        "the disk holding the store at {} is full: {available} bytes free, fewer than the \
         {reserved} bytes the store keeps in reserve; nothing was written. Free space on \
         it, then retry the request with the same request id",
        path.display()
    )]
    StorageFull {
        path: PathBuf,
        available: u64,
        reserved: u64,
    },

    /// The store has stopped accepting writes: a flush (sled's log write or an fsync)
    /// failed, or sled reported an I/O error on a write. Whether the data a failed fsync
    /// covered reached the disk is unknown, so the store does not retry it and report
    /// success later: every write since fails with this error until the process is
    /// restarted (reads keep working; every acknowledged write is on disk).
    #[error(
        "the store has stopped accepting writes after a failed write to disk ({cause}); \
         this write is not acknowledged. Reads still work. Check the disk (free \
         space, errors in the kernel log), then restart the server; acknowledged writes \
         are safe, and a request retried with the same request id after the restart is \
         applied at most once"
    )]
    Failed { cause: String },
}

fn describe_current(current: &Option<String>) -> String {
    match current {
        Some(c) => format!("but its current etag is {c}"),
        None => "but the report does not exist".to_string(),
    }
}

impl StoreError {
    /// Wraps a sled error met while doing `context`, turning sled's corruption reports
    /// into [`StoreError::Corrupt`].
    pub(crate) fn sled(context: &'static str, source: sled::Error) -> StoreError {
        match source {
            sled::Error::Corruption { at, .. } => StoreError::Corrupt {
                detail: format!("sled found corrupt data at {at:?} while {context}"),
            },
            source => StoreError::Storage { context, source },
        }
    }

    pub(crate) fn corrupt(detail: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            detail: detail.into(),
        }
    }
}
