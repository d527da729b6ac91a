//! The audit trail: one `AuditRecord` per audited call, in tree `audit`, chained with
//! SM3 (GB/T 32905) so that editing, deleting or reordering a record is detectable.
//!
//! Records are stored in blocks: the records one transaction appends (a batch of read
//! records, or a write's one record) are one value, their length-delimited encodings one
//! after the other, under `u64be(n)` where `n` is the block's first sequence number
//! (sled's cost is per key: a key per record cost a read-heavy server a tenth of its
//! throughput). Sequence numbers run 1, 2, 3... without gaps. Record `n`'s hash is
//! `SM3(previous_hash ‖ encoding)`, where `encoding` is the protobuf encoding (prost:
//! fields in number order, defaults omitted, which is canonical) of the record with
//! `previous_hash` set and `hash` empty; record 1's `previous_hash` is 32 zero bytes.
//! The chain head (last sequence number and its hash) is `meta/audit_head`
//! (`u64be ‖ 32 bytes`), read and written inside the same transaction as the records,
//! so a deleted last record is detectable too. A store without a head (made before the
//! audit trail existed, or that never audited a call) starts its chain at 1.
//!
//! Appends are serialized with every other write (the store's `turn`, then one sled
//! transaction): a successful submission or withdrawal appends its record in its own
//! transaction ([`super::Submission::audit`], [`WithdrawRequest::audit`]); everything
//! else (reads, failed calls) goes through [`Store::append_audit`] in batches. The
//! hashes are computed inside the transaction closure from the head it reads, because
//! sled may run the closure more than once.
//!
//! Nothing in the store ever rewrites or removes a record: `fsck` verifies the chain and
//! reports damage, never repairs it.

use std::fmt;
use std::time::SystemTime;

use prost::Message;
use sm3::{Digest, Sm3};
use tokio::sync::watch;

use crate::names::{ReportName, Scope};
use crate::pb::AuditRecord;

use super::keys;
use super::tx::{abort, Tx, TxResult};
use super::{timestamp, Store, StoreError};

/// `meta` key of the chain head.
pub(crate) const META_AUDIT_HEAD: &[u8] = b"audit_head";

/// Length of an SM3 digest.
pub const AUDIT_HASH_LEN: usize = 32;

/// The `previous_hash` of record 1.
pub const AUDIT_GENESIS: [u8; AUDIT_HASH_LEN] = [0; AUDIT_HASH_LEN];

/// One audited call, as the service layer describes it (the store numbers and chains
/// it into an `AuditRecord`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// When the call was answered.
    pub time: SystemTime,
    /// Who called, as authenticated.
    pub identity: String,
    /// The caller's address (`ip:port`).
    pub peer: String,
    /// The gRPC method path (`/nianbao.v1.ReportRegistry/SubmitReport`).
    pub method: String,
    /// The resources the call named (report names...).
    pub resources: Vec<String>,
    /// The caller's request id (empty when none).
    pub request_id: String,
    /// The gRPC status code (0 OK).
    pub code: i32,
    /// The `google.rpc.ErrorInfo` reason of a failed call (may be empty).
    pub reason: String,
}

/// A withdrawal, for [`Store::withdraw`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WithdrawRequest {
    pub name: ReportName,
    /// Why the report is withdrawn.
    pub reason: String,
    /// Identity of the withdrawing client.
    pub by: String,
    /// Optimistic concurrency: withdraw only while this is the report's state etag.
    pub expected_etag: Option<String>,
    /// Idempotency key, as for a submission.
    pub request_id: Option<String>,
    /// The call's audit record, appended in the withdrawal's transaction when it
    /// commits (with code 0); nothing is appended when it does not.
    pub audit: Option<AuditEntry>,
    /// What the caller may see: a report outside it is [`StoreError::NotFound`].
    /// `None`: everything.
    pub read_scope: Option<Scope>,
    /// Where the caller may write: a report outside it (but inside `read_scope`) is
    /// [`StoreError::OutsideScope`]. `None`: anywhere.
    pub write_scope: Option<Scope>,
}

/// The chain head as stored in `meta/audit_head`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AuditHead {
    pub sequence: u64,
    pub hash: [u8; AUDIT_HASH_LEN],
}

impl AuditHead {
    const GENESIS: AuditHead = AuditHead {
        sequence: 0,
        hash: AUDIT_GENESIS,
    };

    pub(crate) fn decode(v: Option<&[u8]>) -> Result<AuditHead, StoreError> {
        let Some(v) = v else {
            return Ok(AuditHead::GENESIS);
        };
        if v.len() != 8 + AUDIT_HASH_LEN {
            return Err(StoreError::corrupt(format!(
                "meta/audit_head has {} bytes, not {}",
                v.len(),
                8 + AUDIT_HASH_LEN
            )));
        }
        let mut seq = [0u8; 8];
        seq.copy_from_slice(&v[..8]);
        let mut hash = [0u8; AUDIT_HASH_LEN];
        hash.copy_from_slice(&v[8..]);
        Ok(AuditHead {
            sequence: u64::from_be_bytes(seq),
            hash,
        })
    }

    pub(crate) fn encode(&self) -> [u8; 8 + AUDIT_HASH_LEN] {
        let mut b = [0u8; 8 + AUDIT_HASH_LEN];
        b[..8].copy_from_slice(&self.sequence.to_be_bytes());
        b[8..].copy_from_slice(&self.hash);
        b
    }

    pub(crate) fn read(meta: &sled::Tree) -> Result<AuditHead, StoreError> {
        let v = meta
            .get(META_AUDIT_HEAD)
            .map_err(|e| StoreError::sled("reading the audit chain head", e))?;
        AuditHead::decode(v.as_deref())
    }
}

/// The hash of `record`: SM3 of its `previous_hash` and its encoding with `hash` empty.
pub fn audit_hash(record: &AuditRecord) -> [u8; AUDIT_HASH_LEN] {
    let mut unhashed = record.clone();
    unhashed.hash.clear();
    let mut h = Sm3::new();
    h.update(&record.previous_hash);
    h.update(unhashed.encode_to_vec());
    h.finalize().into()
}

/// The record `entry` becomes as number `sequence` after `previous`.
fn chain(entry: &AuditEntry, sequence: u64, previous: &[u8; AUDIT_HASH_LEN]) -> AuditRecord {
    let mut record = AuditRecord {
        sequence,
        time: Some(timestamp(entry.time)),
        identity: entry.identity.clone(),
        peer: entry.peer.clone(),
        method: entry.method.clone(),
        resources: entry.resources.clone(),
        request_id: entry.request_id.clone(),
        code: entry.code,
        reason: entry.reason.clone(),
        previous_hash: previous.to_vec(),
        hash: Vec::new(),
    };
    // `audit_hash` of a record whose hash is still empty, without its copy.
    let mut h = Sm3::new();
    h.update(previous);
    h.update(record.encode_to_vec());
    record.hash = h.finalize().to_vec();
    debug_assert_eq!(record.hash, audit_hash(&record));
    record
}

#[cfg(test)]
/// A block of records as stored: each record's length-delimited encoding, in order.
pub(crate) fn encode_block<'r>(records: impl IntoIterator<Item = &'r AuditRecord>) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        // Writing into a Vec cannot fail.
        let _ = r.encode_length_delimited(&mut out);
    }
    out
}

/// The encodings of the records of a stored block, in order (each as stored, so that
/// its canonical form can be checked).
pub(crate) fn split_block(mut block: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut parts = Vec::new();
    while !block.is_empty() {
        let len = prost::encoding::decode_varint(&mut block).map_err(|e| e.to_string())?;
        let len = usize::try_from(len).map_err(|e| e.to_string())?;
        if len > block.len() {
            return Err(format!(
                "a record of {len} bytes where {} are left",
                block.len()
            ));
        }
        let (part, rest) = block.split_at(len);
        parts.push(part);
        block = rest;
    }
    if parts.is_empty() {
        return Err("an empty block".into());
    }
    Ok(parts)
}

/// The records of a stored block.
pub(crate) fn decode_block(block: &[u8]) -> Result<Vec<AuditRecord>, StoreError> {
    split_block(block)
        .map_err(|e| StoreError::corrupt(format!("an audit block: {e}")))?
        .into_iter()
        .map(|part| super::records::decode(part, "audit record"))
        .collect()
}

impl Tx<'_> {
    /// Appends `entries` to the chain (after the head this transaction reads), as one
    /// block; returns the last sequence number.
    pub(crate) fn append_audit<'e>(
        &self,
        entries: impl IntoIterator<Item = &'e AuditEntry>,
    ) -> TxResult<u64> {
        let v = self.meta.get(META_AUDIT_HEAD)?;
        let mut head = AuditHead::decode(v.as_deref()).or_else(abort)?;
        let first = head.sequence.checked_add(1);
        let mut block = Vec::new();
        for entry in entries {
            let Some(sequence) = head.sequence.checked_add(1) else {
                return abort(StoreError::corrupt("the audit chain is at u64::MAX"));
            };
            let record = chain(entry, sequence, &head.hash);
            let _ = record.encode_length_delimited(&mut block);
            head = AuditHead {
                sequence,
                hash: <[u8; AUDIT_HASH_LEN]>::try_from(record.hash.as_slice())
                    .unwrap_or(AUDIT_GENESIS),
            };
        }
        if let (Some(first), false) = (first, block.is_empty()) {
            self.audit.insert(&keys::seq_key(first), block)?;
            self.meta.insert(META_AUDIT_HEAD, &head.encode()[..])?;
        }
        Ok(head.sequence)
    }

    /// Stores a record from a backup as it is (its chain is not recomputed: a backup
    /// carries the chain, damage included), as a block of its own, and moves the head
    /// to it.
    pub(crate) fn restore_audit(&self, record: &AuditRecord, bytes: &[u8]) -> TxResult<()> {
        let mut block = Vec::with_capacity(bytes.len() + 10);
        prost::encoding::encode_varint(bytes.len() as u64, &mut block);
        block.extend_from_slice(bytes);
        self.audit.insert(&keys::seq_key(record.sequence), block)?;
        let mut hash = AUDIT_GENESIS;
        if record.hash.len() == AUDIT_HASH_LEN {
            hash.copy_from_slice(&record.hash);
        }
        let head = AuditHead {
            sequence: record.sequence,
            hash,
        };
        self.meta.insert(META_AUDIT_HEAD, &head.encode()[..])?;
        Ok(())
    }
}

/// The record of a write that committed: code 0, no reason, the request id of the
/// write when the entry has none, and the report's name among its resources.
pub(crate) fn committed_entry(
    entry: &AuditEntry,
    name: &str,
    request_id: Option<&str>,
) -> AuditEntry {
    let mut e = entry.clone();
    e.code = 0;
    e.reason.clear();
    if e.request_id.is_empty() {
        e.request_id = request_id.unwrap_or_default().to_string();
    }
    if !e.resources.iter().any(|r| r == name) {
        e.resources.push(name.to_string());
    }
    e
}

/// What is wrong with the first broken record of the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuditProblem {
    /// The record's stored bytes do not decode as an `AuditRecord`, are not its
    /// canonical encoding, or its key is not a sequence number.
    Undecodable(String),
    /// Record `sequence` is missing: the next one stored is `found`.
    SequenceGap { found: u64 },
    /// The record stored as `sequence` says it is number `found` (records moved).
    SequenceMismatch { found: u64 },
    /// Its `previous_hash` is not the hash of the record before it.
    PreviousHashMismatch,
    /// Its `hash` is not the SM3 of its contents.
    HashMismatch,
    /// The chain head in `meta` disagrees with the last record (a record was removed
    /// from, or added at, the end), or does not decode.
    HeadMismatch(String),
}

impl fmt::Display for AuditProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuditProblem::Undecodable(d) => write!(f, "the record is unreadable: {d}"),
            AuditProblem::SequenceGap { found } => {
                write!(
                    f,
                    "the record is missing (the next record stored is {found})"
                )
            }
            AuditProblem::SequenceMismatch { found } => {
                write!(f, "the record stored here says it is record {found}")
            }
            AuditProblem::PreviousHashMismatch => {
                write!(
                    f,
                    "its previous_hash is not the hash of the record before it"
                )
            }
            AuditProblem::HashMismatch => {
                write!(f, "its hash does not match its contents (it was edited)")
            }
            AuditProblem::HeadMismatch(d) => write!(f, "the chain head disagrees: {d}"),
        }
    }
}

/// The first broken record of the audit chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditBreak {
    /// The sequence number where the chain breaks.
    pub sequence: u64,
    pub problem: AuditProblem,
}

impl fmt::Display for AuditBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "audit record {}: {}", self.sequence, self.problem)
    }
}

/// The outcome of [`Store::verify_audit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditVerification {
    /// Records stored.
    pub records: u64,
    /// The last sequence number according to the chain head.
    pub head: u64,
    /// The first broken record; `None` when the chain is intact.
    pub first_broken: Option<AuditBreak>,
}

impl AuditVerification {
    /// No break found.
    pub fn is_intact(&self) -> bool {
        self.first_broken.is_none()
    }
}

impl Store {
    /// Appends records for calls that are not writes (reads, failed calls), in one
    /// transaction, in turn with every other write; returns the last sequence number.
    /// Does not wait for durability: call [`Store::flush`] when the records must be on
    /// disk (the service layer batches them, see `service::audit`). An empty batch
    /// appends nothing and returns the current last sequence number.
    pub async fn append_audit(&self, entries: Vec<AuditEntry>) -> Result<u64, StoreError> {
        let _turn = self.inner.turn.lock().await;
        self.append_audit_in_turn(&entries)
    }

    /// [`Store::append_audit`] for a thread that may block (a blocking task, never an
    /// async one): it waits for its turn by blocking, and its transaction holds no async
    /// worker thread.
    pub fn append_audit_blocking(&self, entries: &[AuditEntry]) -> Result<u64, StoreError> {
        let _turn = self.inner.turn.blocking_lock();
        self.append_audit_in_turn(entries)
    }

    fn append_audit_in_turn(&self, entries: &[AuditEntry]) -> Result<u64, StoreError> {
        if entries.is_empty() {
            return Ok(AuditHead::read(&self.inner.trees.meta)?.sequence);
        }
        let _gate = self.inner.gate.read().unwrap_or_else(|e| e.into_inner());
        self.write_transaction(|tx| tx.append_audit(entries))
            .map_err(super::tx::Abort::into_error)
    }

    /// The durable audit records with a sequence number greater than `since`, oldest
    /// first. Records appended but not yet flushed are left out (as in
    /// [`Store::changes`]); opening a store makes everything in it count as durable.
    pub fn audit_records(
        &self,
        since: u64,
    ) -> impl Iterator<Item = Result<AuditRecord, StoreError>> + Send + 'static {
        self.audit_records_through(since, u64::MAX)
    }

    /// [`Store::audit_records`] stored under keys `since + 1..=through` (and durable).
    /// The range is by key, so a follower that read up to `through` resumes after it
    /// even where a damaged record misstates its own sequence number.
    pub fn audit_records_through(
        &self,
        since: u64,
        through: u64,
    ) -> impl Iterator<Item = Result<AuditRecord, StoreError>> + Send + 'static {
        let last = through.min(*self.inner.audit_durable.borrow());
        let audit = self.inner.trees.audit.clone();
        let range = match since.checked_add(1) {
            Some(first) if first <= last => {
                // The block holding `first` starts at or before it.
                let start = match audit.range(..=keys::seq_key(first)).next_back() {
                    Some(Ok((k, _))) => k.to_vec(),
                    _ => keys::seq_key(first).to_vec(),
                };
                Some(audit.range(start..=keys::seq_key(last).to_vec()))
            }
            _ => None,
        };
        range.into_iter().flatten().flat_map(move |kv| {
            // A record's place is its block's key plus its index in the block.
            let block = kv
                .map_err(|e| StoreError::sled("reading the audit trail", e))
                .and_then(|(k, v)| {
                    let key = <[u8; 8]>::try_from(k.as_ref())
                        .map(u64::from_be_bytes)
                        .map_err(|_| StoreError::corrupt("an audit key that is not 8 bytes"))?;
                    Ok((key, decode_block(&v)?))
                });
            let items: Vec<Result<AuditRecord, StoreError>> = match block {
                Ok((key, records)) => records
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| {
                        let at = key.saturating_add(*i as u64);
                        at > since && at <= last
                    })
                    .map(|(_, r)| Ok(r))
                    .collect(),
                Err(e) => vec![Err(e)],
            };
            items
        })
    }

    /// A receiver of the last durable audit sequence number: a follower waits on it
    /// (`changed().await`) and then reads [`Store::audit_records`].
    pub fn subscribe_audit(&self) -> watch::Receiver<u64> {
        self.inner.audit_durable.subscribe()
    }

    /// Walks the whole audit chain and checks every link: keys and sequence numbers
    /// 1, 2, 3... without gaps, each record's `previous_hash` and `hash`, and the head
    /// in `meta` against the last record. Returns the number of records and the first
    /// broken one, if any. Reads only; concurrent appends may or may not be seen.
    pub fn verify_audit(&self) -> Result<AuditVerification, StoreError> {
        let trees = &self.inner.trees;
        let head = trees
            .meta
            .get(META_AUDIT_HEAD)
            .map_err(|e| StoreError::sled("reading the audit chain head", e))?;
        let head = AuditHead::decode(head.as_deref());
        let mut records = 0u64;
        let mut expected = 1u64;
        let mut previous = AUDIT_GENESIS;
        let mut first: Option<AuditBreak> = None;
        let mut note = |sequence: u64, problem: AuditProblem| {
            if first.is_none() {
                first = Some(AuditBreak { sequence, problem });
            }
        };
        for kv in trees.audit.iter() {
            let (k, v) = kv.map_err(|e| StoreError::sled("reading the audit trail", e))?;
            let Ok(block_key) = <[u8; 8]>::try_from(k.as_ref()).map(u64::from_be_bytes) else {
                records += 1;
                note(
                    expected,
                    AuditProblem::Undecodable(format!("a key of {} bytes", k.len())),
                );
                continue;
            };
            if block_key != expected {
                note(expected, AuditProblem::SequenceGap { found: block_key });
            }
            let parts = match split_block(v.as_ref()) {
                Ok(parts) => parts,
                Err(e) => {
                    records += 1;
                    note(block_key, AuditProblem::Undecodable(e));
                    expected = block_key.saturating_add(1);
                    continue;
                }
            };
            for (i, part) in parts.into_iter().enumerate() {
                records += 1;
                // From here on, the chain is checked relative to what is stored.
                let key = block_key.saturating_add(i as u64);
                expected = key.saturating_add(1);
                let record = match AuditRecord::decode(part) {
                    Ok(r) if r.encode_to_vec() == part => r,
                    Ok(_) => {
                        note(
                            key,
                            AuditProblem::Undecodable("not the record's canonical encoding".into()),
                        );
                        continue;
                    }
                    Err(e) => {
                        note(key, AuditProblem::Undecodable(e.to_string()));
                        continue;
                    }
                };
                if record.sequence != key {
                    note(
                        key,
                        AuditProblem::SequenceMismatch {
                            found: record.sequence,
                        },
                    );
                } else if record.previous_hash != previous {
                    note(key, AuditProblem::PreviousHashMismatch);
                } else if record.hash != audit_hash(&record) {
                    note(key, AuditProblem::HashMismatch);
                }
                previous = <[u8; AUDIT_HASH_LEN]>::try_from(record.hash.as_slice())
                    .unwrap_or(AUDIT_GENESIS);
            }
        }
        let last = expected - 1;
        let head_sequence = match head {
            Ok(h) => {
                if h.sequence > last {
                    note(
                        last + 1,
                        AuditProblem::HeadMismatch(format!(
                            "the head is at record {}, the last record stored is {last}",
                            h.sequence
                        )),
                    );
                } else if h.sequence < last {
                    note(
                        h.sequence + 1,
                        AuditProblem::HeadMismatch(format!(
                            "records {}..={last} follow the head",
                            h.sequence + 1
                        )),
                    );
                } else if h.hash != previous {
                    note(
                        last,
                        AuditProblem::HeadMismatch(
                            "the head's hash is not the last record's".into(),
                        ),
                    );
                }
                h.sequence
            }
            Err(e) => {
                note(last, AuditProblem::HeadMismatch(e.to_string()));
                0
            }
        };
        Ok(AuditVerification {
            records,
            head: head_sequence,
            first_broken: first,
        })
    }
}
