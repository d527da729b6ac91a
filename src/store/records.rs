//! Values the store writes besides the public `nianbao.v1` messages: protobuf messages
//! private to the store (prost-derived, so they evolve by the same rule as the protos:
//! add fields, never renumber). None of them leaves the store.

use pbjson_types::Timestamp;
use prost::Message;

use crate::pb::{ReportState, Withdrawal};

use super::StoreError;

/// Tree `heads`: the current state of one report plus the attributes of its latest
/// revision that listings show and the indexes are built from.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct HeadRecord {
    #[prost(message, optional, tag = "1")]
    pub state: Option<ReportState>,
    #[prost(string, tag = "2")]
    pub agency_name: String,
    #[prost(string, optional, tag = "3")]
    pub division_code: Option<String>,
    #[prost(int32, tag = "4")]
    pub format_version: i32,
    #[prost(bool, tag = "5")]
    pub has_errors: bool,
    #[prost(uint32, tag = "6")]
    pub errors: u32,
    #[prost(uint32, tag = "7")]
    pub warnings: u32,
    /// Submit time of the latest revision.
    #[prost(message, optional, tag = "8")]
    pub submit_time: Option<Timestamp>,
    /// Key of the latest revision's body (its change-log sequence number).
    #[prost(uint64, tag = "9")]
    pub latest_sequence: u64,
    /// The latest revision's numeric cells (`format::projection`), for aggregation.
    #[prost(bytes = "vec", tag = "10")]
    pub projection: Vec<u8>,
}

impl HeadRecord {
    pub(crate) fn latest_revision(&self) -> u32 {
        self.state.as_ref().map_or(0, |s| s.latest_revision)
    }

    pub(crate) fn etag(&self) -> &str {
        self.state.as_ref().map_or("", |s| s.etag.as_str())
    }

    pub(crate) fn withdrawal(&self) -> Option<&Withdrawal> {
        self.state.as_ref().and_then(|s| s.withdrawal.as_ref())
    }
}

/// Tree `withdrawals`: one withdrawal of one revision, kept for good (the head's copy is
/// cleared by the next submission; this one stays as history and lets `fsck` rebuild
/// heads).
#[derive(Clone, PartialEq, Message)]
pub(crate) struct WithdrawalRecord {
    #[prost(message, optional, tag = "1")]
    pub withdrawal: Option<Withdrawal>,
    /// The report's state etag after the withdrawal.
    #[prost(string, tag = "2")]
    pub etag: String,
    /// The change-log sequence number of the withdrawal.
    #[prost(uint64, tag = "3")]
    pub sequence: u64,
}

/// What an idempotency record remembers an operation as.
pub(crate) const OP_SUBMIT: i32 = 1;
pub(crate) const OP_WITHDRAW: i32 = 2;

/// Tree `idempotency`: the outcome of one request that carried a request id.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct IdemRecord {
    /// [`OP_SUBMIT`] or [`OP_WITHDRAW`].
    #[prost(int32, tag = "1")]
    pub op: i32,
    /// The report name.
    #[prost(string, tag = "2")]
    pub name: String,
    /// What identifies the request's content: the input SHA-256 of a submission, the
    /// SHA-256 of a withdrawal's reason.
    #[prost(string, tag = "3")]
    pub content_sha256: String,
    /// The revision the submission created, or the one the withdrawal withdrew.
    #[prost(uint32, tag = "4")]
    pub revision: u32,
    /// The state a withdrawal left (a submission's outcome is its stored revision).
    #[prost(message, optional, tag = "5")]
    pub state: Option<ReportState>,
    /// When the store first saw the request (µs since the Unix epoch); the record is
    /// honoured for the idempotency window from then.
    #[prost(uint64, tag = "6")]
    pub created_micros: u64,
    /// Change-log sequence number of the operation.
    #[prost(uint64, tag = "7")]
    pub sequence: u64,
}

/// First frame of a backup file.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct BackupHeader {
    #[prost(uint32, tag = "1")]
    pub schema_version: u32,
    /// The backup holds exactly the changes `1..=sequence`.
    #[prost(uint64, tag = "2")]
    pub sequence: u64,
    #[prost(message, optional, tag = "3")]
    pub created: Option<Timestamp>,
    /// The backup holds exactly the audit records `1..=audit_sequence` (format 2).
    #[prost(uint64, tag = "4")]
    pub audit_sequence: u64,
}

/// An idempotency record in a backup file.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct BackupIdem {
    #[prost(string, tag = "1")]
    pub request_id: String,
    #[prost(message, optional, tag = "2")]
    pub record: Option<IdemRecord>,
}

/// Last frame of a backup file.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct BackupTrailer {
    #[prost(uint64, tag = "1")]
    pub events: u64,
    #[prost(uint64, tag = "2")]
    pub revisions: u64,
    #[prost(uint64, tag = "3")]
    pub withdrawals: u64,
    #[prost(uint64, tag = "4")]
    pub idempotency: u64,
    /// SHA-256 of every byte of the file before the trailer frame.
    #[prost(bytes = "vec", tag = "5")]
    pub sha256: Vec<u8>,
    /// Audit records (format 2).
    #[prost(uint64, tag = "6")]
    pub audit_records: u64,
}

/// Decodes a stored value; a value that does not decode means the store is corrupt.
pub(crate) fn decode<M: Message + Default>(bytes: &[u8], what: &str) -> Result<M, StoreError> {
    M::decode(bytes).map_err(|e| StoreError::Corrupt {
        detail: format!("a stored {what} does not decode: {e}"),
    })
}
