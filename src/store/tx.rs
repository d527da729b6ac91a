//! The trees, and the writes every submission and withdrawal make in one transaction.
//! Restore goes through the same functions, so that it derives the same state.

use crate::format::projection::Projection;
use std::time::Duration;

use pbjson_types::Timestamp;
use prost::Message;
use sled::transaction::{
    ConflictableTransactionError, ConflictableTransactionResult, TransactionError,
    TransactionalTree,
};
use sled::Transactional;

use crate::names::ReportName;
use crate::pb::{ChangeEvent, ChangeKind, ReportRevision, ReportState, Withdrawal};

use super::keys::{self, Index};
use super::records::{decode, HeadRecord, IdemRecord, WithdrawalRecord};
use super::StoreError;

/// Tree names, in the order of [`Trees::all`].
pub(crate) const TREE_NAMES: [&str; 14] = [
    "meta",
    "bodies",
    "revisions",
    "heads",
    "withdrawals",
    "changes",
    "ix_year",
    "ix_division",
    "ix_year_division",
    "ix_format",
    "ix_errors",
    "idempotency",
    "idem_expiry",
    "audit",
];

pub(crate) const META_SCHEMA: &[u8] = b"schema_version";
pub(crate) const META_COUNTERS: &[u8] = b"counters";

/// `meta/counters`: `u64be sequence ‖ u64be reports ‖ u64be revisions`, updated by
/// every write in its transaction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counters {
    /// Last change-log sequence number committed.
    pub sequence: u64,
    /// Reports with at least one revision.
    pub reports: u64,
    /// Revisions of all reports.
    pub revisions: u64,
}

impl Counters {
    pub(crate) fn decode(v: Option<&[u8]>) -> Result<Counters, StoreError> {
        let Some(v) = v else {
            return Ok(Counters::default());
        };
        if v.len() != 24 {
            return Err(StoreError::corrupt("meta/counters is not 24 bytes"));
        }
        let u = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&v[i * 8..i * 8 + 8]);
            u64::from_be_bytes(b)
        };
        Ok(Counters {
            sequence: u(0),
            reports: u(1),
            revisions: u(2),
        })
    }

    pub(crate) fn encode(&self) -> [u8; 24] {
        let mut b = [0u8; 24];
        b[..8].copy_from_slice(&self.sequence.to_be_bytes());
        b[8..16].copy_from_slice(&self.reports.to_be_bytes());
        b[16..].copy_from_slice(&self.revisions.to_be_bytes());
        b
    }

    pub(crate) fn read(meta: &sled::Tree) -> Result<Counters, StoreError> {
        let v = meta
            .get(META_COUNTERS)
            .map_err(|e| StoreError::sled("reading store counters", e))?;
        Counters::decode(v.as_deref())
    }
}

/// The trees of one store.
#[derive(Clone)]
pub(crate) struct Trees {
    pub meta: sled::Tree,
    pub bodies: sled::Tree,
    pub revisions: sled::Tree,
    pub heads: sled::Tree,
    pub withdrawals: sled::Tree,
    pub changes: sled::Tree,
    pub ix_year: sled::Tree,
    pub ix_division: sled::Tree,
    pub ix_year_division: sled::Tree,
    pub ix_format: sled::Tree,
    pub ix_errors: sled::Tree,
    pub idempotency: sled::Tree,
    pub idem_expiry: sled::Tree,
    pub audit: sled::Tree,
    /// The same trees in [`TREE_NAMES`] order, for transactions.
    pub all: Vec<sled::Tree>,
}

impl Trees {
    pub(crate) fn open(db: &sled::Db) -> Result<Trees, sled::Error> {
        let all = TREE_NAMES
            .iter()
            .map(|n| db.open_tree(n))
            .collect::<Result<Vec<_>, _>>()?;
        let t = |i: usize| all[i].clone();
        Ok(Trees {
            meta: t(0),
            bodies: t(1),
            revisions: t(2),
            heads: t(3),
            withdrawals: t(4),
            changes: t(5),
            ix_year: t(6),
            ix_division: t(7),
            ix_year_division: t(8),
            ix_format: t(9),
            ix_errors: t(10),
            idempotency: t(11),
            idem_expiry: t(12),
            audit: t(13),
            all,
        })
    }

    pub(crate) fn index(&self, ix: Index) -> &sled::Tree {
        match ix {
            Index::Year => &self.ix_year,
            Index::Division => &self.ix_division,
            Index::YearDivision => &self.ix_year_division,
            Index::Format => &self.ix_format,
            Index::Errors => &self.ix_errors,
        }
    }

    /// Runs `f` in one transaction over every tree.
    pub(crate) fn transaction<T>(
        &self,
        f: impl Fn(&Tx<'_>) -> ConflictableTransactionResult<T, Abort>,
    ) -> Result<T, Abort> {
        self.all
            .as_slice()
            .transaction(|views| f(&Tx::new(views)))
            .map_err(|e| match e {
                TransactionError::Abort(a) => a,
                TransactionError::Storage(e) => {
                    Abort::Err(StoreError::sled("committing a transaction", e))
                }
            })
    }
}

/// Why a transaction stopped without committing.
pub(crate) enum Abort {
    Err(StoreError),
    /// An idempotent retry: the first request's record.
    Replay(Box<IdemRecord>),
}

impl Abort {
    /// The error, for callers where a replay cannot happen.
    pub(crate) fn into_error(self) -> StoreError {
        match self {
            Abort::Err(e) => e,
            Abort::Replay(_) => StoreError::corrupt("an unexpected idempotent replay"),
        }
    }
}

pub(crate) type TxResult<T> = ConflictableTransactionResult<T, Abort>;

pub(crate) fn abort<T>(e: StoreError) -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(Abort::Err(e)))
}

/// A new revision, encoded, with what its head needs.
pub(crate) struct NewRevision<'a> {
    pub number: u32,
    pub etag: &'a str,
    /// The encoded `ReportRevision`.
    pub bytes: &'a [u8],
    /// The listing attributes of the revision (`state` unset).
    pub attributes: &'a HeadRecord,
    pub submit_time: Option<Timestamp>,
}

/// The listing attributes a revision gives its report's head (no state).
pub(crate) fn attributes_of(revision: &ReportRevision) -> HeadRecord {
    let report = revision.report.as_ref();
    let agency = report.and_then(|r| r.agency.as_ref());
    let validation = revision.validation.as_ref();
    HeadRecord {
        state: None,
        agency_name: agency.map(|a| a.name.clone()).unwrap_or_default(),
        division_code: agency.and_then(|a| a.division_code.clone()),
        format_version: report.map_or(0, |r| r.format_version),
        has_errors: revision.has_errors,
        errors: validation.map_or(0, |v| v.errors),
        warnings: validation.map_or(0, |v| v.warnings),
        submit_time: revision.submit_time,
        latest_sequence: 0,
        projection: report.map_or_else(Vec::new, |r| Projection::of(r).encode()),
    }
}

/// The head of a report whose latest revision is `latest` (stored as body
/// `sequence`), with `count` revisions and the given withdrawal record.
pub(crate) fn head_of(
    latest: &ReportRevision,
    sequence: u64,
    count: u32,
    withdrawal: Option<&WithdrawalRecord>,
) -> HeadRecord {
    let mut head = attributes_of(latest);
    head.latest_sequence = sequence;
    head.state = Some(ReportState {
        name: latest.name.clone(),
        latest_revision: latest.revision,
        etag: withdrawal.map_or_else(|| latest.etag.clone(), |w| w.etag.clone()),
        withdrawal: withdrawal.and_then(|w| w.withdrawal.clone()),
        revision_count: count,
    });
    head
}

/// The trees as seen inside a transaction.
pub(crate) struct Tx<'a> {
    pub(super) meta: &'a TransactionalTree,
    bodies: &'a TransactionalTree,
    revisions: &'a TransactionalTree,
    heads: &'a TransactionalTree,
    withdrawals: &'a TransactionalTree,
    changes: &'a TransactionalTree,
    ix: [&'a TransactionalTree; 5],
    idempotency: &'a TransactionalTree,
    idem_expiry: &'a TransactionalTree,
    pub(super) audit: &'a TransactionalTree,
}

impl<'a> Tx<'a> {
    fn new(v: &'a [TransactionalTree]) -> Tx<'a> {
        Tx {
            meta: &v[0],
            bodies: &v[1],
            revisions: &v[2],
            heads: &v[3],
            withdrawals: &v[4],
            changes: &v[5],
            ix: [&v[6], &v[7], &v[8], &v[9], &v[10]],
            idempotency: &v[11],
            idem_expiry: &v[12],
            audit: &v[13],
        }
    }

    fn index(&self, ix: Index) -> &'a TransactionalTree {
        match ix {
            Index::Year => self.ix[0],
            Index::Division => self.ix[1],
            Index::YearDivision => self.ix[2],
            Index::Format => self.ix[3],
            Index::Errors => self.ix[4],
        }
    }

    pub(crate) fn counters(&self) -> TxResult<Counters> {
        let v = self.meta.get(META_COUNTERS)?;
        Counters::decode(v.as_deref()).or_else(abort)
    }

    fn put_counters(&self, c: &Counters) -> TxResult<()> {
        self.meta.insert(META_COUNTERS, &c.encode())?;
        Ok(())
    }

    pub(crate) fn head(&self, name_key: &[u8]) -> TxResult<Option<HeadRecord>> {
        match self.heads.get(name_key)? {
            None => Ok(None),
            Some(v) => decode(&v, "report head").map(Some).or_else(abort),
        }
    }

    /// Replaces the index entries of `old` (if any) by those of `new`, writing only the
    /// entries that differ.
    fn reindex(
        &self,
        name_key: &[u8],
        year: i32,
        old: Option<&HeadRecord>,
        new: &HeadRecord,
    ) -> TxResult<()> {
        let new_keys = keys::index_keys(name_key, year, new);
        let old_keys = old.map_or_else(Vec::new, |o| keys::index_keys(name_key, year, o));
        for entry in &old_keys {
            if !new_keys.contains(entry) {
                self.index(entry.0).remove(entry.1.as_slice())?;
            }
        }
        for entry in &new_keys {
            if !old_keys.contains(entry) {
                self.index(entry.0).insert(entry.1.as_slice(), &[])?;
            }
        }
        Ok(())
    }

    /// Stores a new revision as the report's latest: its body (under the next sequence
    /// number), its revision pointer, head, index entries, change event and counters.
    /// Returns the new head and the sequence number.
    pub(crate) fn apply_submit(
        &self,
        name: &ReportName,
        name_key: &[u8],
        old: Option<&HeadRecord>,
        rev: &NewRevision<'_>,
    ) -> TxResult<(HeadRecord, u64)> {
        let mut counters = self.counters()?;
        let sequence = counters.sequence + 1;
        let rk = keys::revision_key(name_key, rev.number);
        if self.revisions.get(&rk)?.is_some() {
            return abort(StoreError::corrupt(format!(
                "{name} revision {} is stored already but the head points to revision {}",
                rev.number,
                old.map_or(0, HeadRecord::latest_revision)
            )));
        }
        let body_key = keys::seq_key(sequence);
        self.bodies.insert(&body_key, rev.bytes)?;
        self.revisions.insert(rk, &body_key)?;
        let name_str = name.to_string();
        let mut head = rev.attributes.clone();
        head.latest_sequence = sequence;
        head.state = Some(ReportState {
            name: name_str.clone(),
            latest_revision: rev.number,
            etag: rev.etag.to_string(),
            withdrawal: None,
            revision_count: rev.number,
        });
        self.reindex(name_key, name.year, old, &head)?;
        self.heads.insert(name_key, head.encode_to_vec())?;
        let event = ChangeEvent {
            sequence,
            kind: ChangeKind::Submitted as i32,
            name: name_str,
            revision: rev.number,
            etag: rev.etag.to_string(),
            time: rev.submit_time,
            reason: String::new(),
            year: name.year,
            agency_id: name.agency.as_str().to_string(),
            division_code: rev.attributes.division_code.clone().unwrap_or_default(),
        };
        self.changes.insert(&body_key, event.encode_to_vec())?;
        counters.sequence = sequence;
        counters.reports += u64::from(old.is_none());
        counters.revisions += 1;
        self.put_counters(&counters)?;
        Ok((head, sequence))
    }

    /// Withdraws the report's latest revision: the withdrawal record, the head, the
    /// change event and the sequence number. Returns the new state and the record.
    pub(crate) fn apply_withdraw(
        &self,
        name: &ReportName,
        name_key: &[u8],
        head: &HeadRecord,
        withdrawal: Withdrawal,
        etag: String,
    ) -> TxResult<(ReportState, WithdrawalRecord)> {
        let mut counters = self.counters()?;
        let sequence = counters.sequence + 1;
        let wk = keys::revision_key(name_key, withdrawal.revision);
        if self.withdrawals.get(&wk)?.is_some() {
            return abort(StoreError::corrupt(format!(
                "{name} revision {} has a withdrawal record but its head is not withdrawn",
                withdrawal.revision
            )));
        }
        let event = ChangeEvent {
            sequence,
            kind: ChangeKind::Withdrawn as i32,
            name: name.to_string(),
            revision: withdrawal.revision,
            etag: etag.clone(),
            time: withdrawal.withdraw_time,
            reason: withdrawal.reason.clone(),
            year: name.year,
            agency_id: name.agency.as_str().to_string(),
            division_code: head.division_code.clone().unwrap_or_default(),
        };
        let record = WithdrawalRecord {
            withdrawal: Some(withdrawal),
            etag,
            sequence,
        };
        self.withdrawals.insert(wk, record.encode_to_vec())?;
        let mut head = head.clone();
        let mut state = head.state.take().unwrap_or_default();
        state.withdrawal = record.withdrawal.clone();
        state.etag = record.etag.clone();
        head.state = Some(state.clone());
        self.heads.insert(name_key, head.encode_to_vec())?;
        self.changes
            .insert(&keys::seq_key(sequence), event.encode_to_vec())?;
        counters.sequence = sequence;
        self.put_counters(&counters)?;
        Ok((state, record))
    }

    /// The live idempotency record of `request_id`, if any; an expired one is dropped
    /// (with its expiry entry) so that the id can be used again.
    pub(crate) fn live_idem(
        &self,
        request_id: &str,
        now_micros: u64,
        window: Duration,
    ) -> TxResult<Option<IdemRecord>> {
        let Some(v) = self.idempotency.get(request_id.as_bytes())? else {
            return Ok(None);
        };
        let rec: IdemRecord = decode(&v, "idempotency record").or_else(abort)?;
        if expired(&rec, now_micros, window) {
            self.idem_expiry
                .remove(keys::expiry_key(rec.created_micros, request_id))?;
            self.idempotency.remove(request_id.as_bytes())?;
            return Ok(None);
        }
        Ok(Some(rec))
    }

    pub(crate) fn put_idem(&self, request_id: &str, rec: &IdemRecord) -> TxResult<()> {
        self.idempotency
            .insert(request_id.as_bytes(), rec.encode_to_vec())?;
        self.idem_expiry
            .insert(keys::expiry_key(rec.created_micros, request_id), &[])?;
        Ok(())
    }
}

pub(crate) fn expired(rec: &IdemRecord, now_micros: u64, window: Duration) -> bool {
    let window = u64::try_from(window.as_micros()).unwrap_or(u64::MAX);
    now_micros.saturating_sub(rec.created_micros) >= window
}
