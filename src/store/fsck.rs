//! Consistency check and repair.
//!
//! The primary data are the revision bodies and the withdrawals (immutable) and the
//! change log (append-only). Everything else is derived: the revision pointers from the
//! bodies, each report's head from its latest revision and that revision's withdrawal,
//! the index entries from the heads, the counters from all of them. `fsck` recomputes the
//! derived state from the primary data and compares it with what is stored, entry by
//! entry; `repair` writes the recomputed state over the stored one. Damage to primary
//! data (an undecodable body, a gap in a report's revisions, a change event without its
//! record) is reported, and then repair writes nothing: restore a backup.
//!
//! The audit trail is verified too ([`Store::verify_audit`]): a broken chain is reported
//! as [`ProblemKind::AuditChain`], never repaired (rewriting records would destroy the
//! evidence the chain exists for), and does not keep repair from fixing the derived
//! state of the reports.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use prost::Message;

use crate::names::ReportName;
use crate::pb::{ChangeEvent, ChangeKind, ReportRevision};

use super::keys::{self, Index};
use super::records::{HeadRecord, IdemRecord, WithdrawalRecord, OP_SUBMIT, OP_WITHDRAW};
use super::tx::{head_of, Counters, META_COUNTERS};
use super::{Store, StoreError};

/// Most problems a report lists one by one (the counts are always complete).
pub const MAX_LISTED_PROBLEMS: usize = 1000;

/// What kind of inconsistency `fsck` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ProblemKind {
    /// A key that is not of its tree's layout, or a value that does not decode.
    Malformed,
    /// A revision whose fields disagree with each other, or a report whose revisions do
    /// not run 1, 2, 3... in the order they were stored (primary data: not repairable).
    BadRevision,
    /// A revision pointer (`revisions`) that is missing, points to the wrong body, or
    /// points nowhere.
    RevisionPointer,
    /// A withdrawal of a revision that does not exist, or that disagrees with its key.
    BadWithdrawal,
    /// A report with revisions but no head.
    MissingHead,
    /// A head without revisions.
    DanglingHead,
    /// A head that differs from the one its revisions give.
    WrongHead,
    /// A report's index entry is missing.
    MissingIndexEntry,
    /// An index entry no report has.
    BogusIndexEntry,
    /// The change log has a gap, an event without its record, or a record without event
    /// (not repairable).
    ChangeLog,
    /// A counter or the sequence number in `meta` is wrong.
    Counter,
    /// An idempotency record or expiry entry that points nowhere or disagrees.
    Idempotency,
    /// The audit chain is broken at a record (edited, missing, moved, unreadable, or the
    /// head disagrees): evidence, never repaired.
    AuditChain,
}

/// One inconsistency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsckProblem {
    pub kind: ProblemKind,
    /// The tree it is in.
    pub tree: &'static str,
    /// The key, as a name where it holds one, else escaped bytes.
    pub key: String,
    pub detail: String,
    /// Whether `fsck(repair = true)` fixes it.
    pub repairable: bool,
}

impl fmt::Display for FsckProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} in {} at {}: {}",
            self.kind, self.tree, self.key, self.detail
        )
    }
}

/// The outcome of [`Store::fsck`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FsckReport {
    pub reports: u64,
    pub revisions: u64,
    pub withdrawals: u64,
    pub changes: u64,
    pub index_entries: u64,
    /// Audit records stored.
    pub audit_records: u64,
    /// Number of problems found, by kind.
    pub counts: BTreeMap<ProblemKind, u64>,
    /// The first [`MAX_LISTED_PROBLEMS`] problems.
    pub problems: Vec<FsckProblem>,
    /// Entries written or removed by the repair (0 without `repair`, and 0 when the
    /// primary data are damaged: then repair writes nothing).
    pub repaired: u64,
}

impl FsckReport {
    /// No problem found.
    pub fn is_clean(&self) -> bool {
        self.counts.is_empty()
    }

    /// Number of problems found.
    pub fn problem_count(&self) -> u64 {
        self.counts.values().sum()
    }

    /// Whether every problem found is one that repair fixes.
    pub fn all_repairable(&self) -> bool {
        self.problems.iter().all(|p| p.repairable)
            && self.problems.len() as u64 == self.problem_count()
    }

    fn add(&mut self, kind: ProblemKind, tree: &'static str, key: &[u8], detail: String) {
        *self.counts.entry(kind).or_default() += 1;
        if self.problems.len() < MAX_LISTED_PROBLEMS {
            let primary = matches!(
                kind,
                ProblemKind::BadRevision | ProblemKind::ChangeLog | ProblemKind::BadWithdrawal
            ) || kind == ProblemKind::AuditChain
                || (kind == ProblemKind::Malformed
                    && matches!(tree, "bodies" | "withdrawals" | "changes"));
            let repairable = !primary;
            self.problems.push(FsckProblem {
                kind,
                tree,
                key: show_key(key),
                detail,
                repairable,
            });
        }
    }
}

fn show_key(k: &[u8]) -> String {
    if let Ok(seq) = <[u8; 8]>::try_from(k) {
        return format!("#{}", u64::from_be_bytes(seq));
    }
    if let Some(n) = keys::parse_name_key(k) {
        return n.to_string();
    }
    if let Some((n, _, rev)) = keys::parse_revision_key(k) {
        return format!("{n} revision {rev}");
    }
    k.escape_ascii().to_string()
}

/// What the primary data say one report should look like.
struct Expected {
    name: ReportName,
    latest: ReportRevision,
    latest_sequence: u64,
    count: u32,
}

impl Store {
    /// Verifies every head, index entry, counter, change event and idempotency record
    /// against the primary data (revisions, withdrawals); with `repair`, rewrites the
    /// derived state (heads, indexes, counters, idempotency expiry) to match, removes
    /// what points nowhere, and reports how many entries it changed. Problems in the
    /// primary data are reported, not repaired, and while there are any, repair writes
    /// nothing at all (it would derive the indexes from damaged data): restore a backup.
    ///
    /// Writes wait while fsck runs (reads go on).
    pub fn fsck(&self, repair: bool) -> Result<FsckReport, StoreError> {
        let _gate = self.inner.gate.write().unwrap_or_else(|e| e.into_inner());
        let trees = &self.inner.trees;
        let sled_err = |e| StoreError::sled("checking the store", e);
        let mut report = FsckReport::default();

        // Withdrawals, by (name key, revision).
        let mut withdrawals: HashMap<Vec<u8>, WithdrawalRecord> = HashMap::new();
        for kv in trees.withdrawals.iter() {
            let (k, v) = kv.map_err(sled_err)?;
            let Some((_, _, rev)) = keys::parse_revision_key(&k) else {
                report.add(
                    ProblemKind::Malformed,
                    "withdrawals",
                    &k,
                    "malformed key".into(),
                );
                continue;
            };
            match WithdrawalRecord::decode(v.as_ref()) {
                Ok(w) if w.withdrawal.as_ref().map(|w| w.revision) == Some(rev) => {
                    withdrawals.insert(k.to_vec(), w);
                }
                Ok(_) => report.add(
                    ProblemKind::BadWithdrawal,
                    "withdrawals",
                    &k,
                    "the record names another revision than its key".into(),
                ),
                Err(e) => report.add(ProblemKind::Malformed, "withdrawals", &k, e.to_string()),
            }
        }
        report.withdrawals = withdrawals.len() as u64;

        // Bodies, in the order they were stored: each report's revisions must come as
        // 1, 2, 3...; remember each report's latest, and what each body is.
        let mut expected: BTreeMap<Vec<u8>, Expected> = BTreeMap::new();
        let mut pointers: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
        let mut bodies: HashMap<u64, (String, u32, String)> = HashMap::new();
        for kv in trees.bodies.iter() {
            let (k, v) = kv.map_err(sled_err)?;
            let Ok(seq) = <[u8; 8]>::try_from(k.as_ref()).map(u64::from_be_bytes) else {
                report.add(ProblemKind::Malformed, "bodies", &k, "malformed key".into());
                continue;
            };
            let rev = match ReportRevision::decode(v.as_ref()) {
                Ok(r) => r,
                Err(e) => {
                    report.add(ProblemKind::Malformed, "bodies", &k, e.to_string());
                    continue;
                }
            };
            let Ok(name) = ReportName::from_str(&rev.name) else {
                report.add(
                    ProblemKind::BadRevision,
                    "bodies",
                    &k,
                    format!("bad name {:?}", rev.name),
                );
                continue;
            };
            report.revisions += 1;
            if rev.revision == 0
                || rev.agency_id != name.agency.as_str()
                || rev.year != name.year
                || rev.etag.is_empty()
                || rev.has_errors != rev.validation.as_ref().is_some_and(|v| v.errors > 0)
            {
                report.add(
                    ProblemKind::BadRevision,
                    "bodies",
                    &k,
                    "its name, revision, etag or has_errors disagree".into(),
                );
            }
            let nk = keys::name_key(&name);
            let count = expected.get(&nk).map_or(0, |e| e.count);
            if rev.revision != count + 1 {
                report.add(
                    ProblemKind::BadRevision,
                    "bodies",
                    &k,
                    format!("{name} revision {} follows revision {count}", rev.revision),
                );
            }
            pointers.insert(keys::revision_key(&nk, rev.revision), seq);
            bodies.insert(seq, (rev.name.clone(), rev.revision, rev.etag.clone()));
            expected.insert(
                nk,
                Expected {
                    name,
                    latest: rev,
                    latest_sequence: seq,
                    count: count + 1,
                },
            );
        }
        report.reports = expected.len() as u64;
        for k in withdrawals.keys() {
            if !pointers.contains_key(k) {
                report.add(
                    ProblemKind::BadWithdrawal,
                    "withdrawals",
                    k,
                    "withdraws a revision that does not exist".into(),
                );
            }
        }

        // Revision pointers.
        let mut pointer_fixes: Vec<(Vec<u8>, Option<u64>)> = Vec::new();
        let mut seen_pointers = HashSet::new();
        for kv in trees.revisions.iter() {
            let (k, v) = kv.map_err(sled_err)?;
            seen_pointers.insert(k.to_vec());
            let want = pointers.get(k.as_ref());
            if want.map(|s| keys::seq_key(*s).to_vec()) != Some(v.to_vec()) {
                report.add(
                    ProblemKind::RevisionPointer,
                    "revisions",
                    &k,
                    match want {
                        Some(s) => format!("should point to body #{s}"),
                        None => "points to no body of this revision".into(),
                    },
                );
                pointer_fixes.push((k.to_vec(), want.copied()));
            }
        }
        for (k, seq) in &pointers {
            if !seen_pointers.contains(k) {
                report.add(
                    ProblemKind::RevisionPointer,
                    "revisions",
                    k,
                    "missing".into(),
                );
                pointer_fixes.push((k.clone(), Some(*seq)));
            }
        }

        // Heads.
        let mut heads: BTreeMap<Vec<u8>, HeadRecord> = BTreeMap::new();
        for (nk, e) in &expected {
            let rk = keys::revision_key(nk, e.latest.revision);
            let head = head_of(&e.latest, e.latest_sequence, e.count, withdrawals.get(&rk));
            heads.insert(nk.clone(), head);
        }
        let mut head_fixes: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
        let mut seen_heads = HashSet::new();
        for kv in trees.heads.iter() {
            let (k, v) = kv.map_err(sled_err)?;
            seen_heads.insert(k.to_vec());
            match heads.get(k.as_ref()) {
                None => {
                    report.add(ProblemKind::DanglingHead, "heads", &k, "no revision".into());
                    head_fixes.push((k.to_vec(), None));
                }
                Some(want) => {
                    if HeadRecord::decode(v.as_ref()).ok().as_ref() != Some(want) {
                        report.add(
                            ProblemKind::WrongHead,
                            "heads",
                            &k,
                            format!(
                                "differs from its latest revision {}",
                                want.latest_revision()
                            ),
                        );
                        head_fixes.push((k.to_vec(), Some(want.encode_to_vec())));
                    }
                }
            }
        }
        for (nk, want) in &heads {
            if !seen_heads.contains(nk) {
                report.add(ProblemKind::MissingHead, "heads", nk, "no head".into());
                head_fixes.push((nk.clone(), Some(want.encode_to_vec())));
            }
        }

        // Indexes.
        let mut want_ix: HashMap<Index, BTreeSet<Vec<u8>>> = HashMap::new();
        for (nk, head) in &heads {
            let year = expected.get(nk).map_or(0, |e| e.name.year);
            for (ix, key) in keys::index_keys(nk, year, head) {
                want_ix.entry(ix).or_default().insert(key);
            }
        }
        let mut ix_fixes: Vec<(Index, Vec<u8>, bool)> = Vec::new();
        for ix in Index::ALL {
            let want = want_ix.remove(&ix).unwrap_or_default();
            let mut seen = HashSet::new();
            for kv in trees.index(ix).iter() {
                let (k, v) = kv.map_err(sled_err)?;
                report.index_entries += 1;
                if want.contains(k.as_ref()) && v.is_empty() {
                    seen.insert(k.to_vec());
                } else {
                    report.add(
                        ProblemKind::BogusIndexEntry,
                        ix.tree_name(),
                        &k,
                        "no report's latest revision has this entry".into(),
                    );
                    ix_fixes.push((ix, k.to_vec(), false));
                }
            }
            for k in want.difference(&seen.into_iter().collect()) {
                report.add(
                    ProblemKind::MissingIndexEntry,
                    ix.tree_name(),
                    k,
                    "missing".into(),
                );
                ix_fixes.push((ix, k.clone(), true));
            }
        }

        // Change log: 1..=sequence without gaps, each event matching its record, each
        // record with its event (a body is stored under its submission's sequence).
        let mut next = 1u64;
        let mut evented_withdrawals = HashSet::new();
        let mut evented_bodies = HashSet::new();
        for kv in trees.changes.iter() {
            let (k, v) = kv.map_err(sled_err)?;
            report.changes += 1;
            let Ok(seq) = <[u8; 8]>::try_from(k.as_ref()).map(u64::from_be_bytes) else {
                report.add(
                    ProblemKind::Malformed,
                    "changes",
                    &k,
                    "malformed key".into(),
                );
                continue;
            };
            if seq != next {
                report.add(
                    ProblemKind::ChangeLog,
                    "changes",
                    &k,
                    format!("sequence {seq} follows {}", next - 1),
                );
            }
            next = seq + 1;
            let event = match ChangeEvent::decode(v.as_ref()) {
                Ok(e) if e.sequence == seq => e,
                Ok(_) => {
                    report.add(
                        ProblemKind::ChangeLog,
                        "changes",
                        &k,
                        "sequence differs from key".into(),
                    );
                    continue;
                }
                Err(e) => {
                    report.add(ProblemKind::Malformed, "changes", &k, e.to_string());
                    continue;
                }
            };
            let ok = match ChangeKind::try_from(event.kind) {
                Ok(ChangeKind::Submitted) => {
                    evented_bodies.insert(seq);
                    bodies.get(&seq)
                        == Some(&(event.name.clone(), event.revision, event.etag.clone()))
                }
                Ok(ChangeKind::Withdrawn) => ReportName::from_str(&event.name).is_ok_and(|n| {
                    let rk = keys::revision_key(&keys::name_key(&n), event.revision);
                    withdrawals
                        .get(&rk)
                        .is_some_and(|w| w.etag == event.etag && w.sequence == seq)
                        && evented_withdrawals.insert(rk)
                }),
                _ => false,
            };
            if !ok {
                report.add(
                    ProblemKind::ChangeLog,
                    "changes",
                    &k,
                    format!(
                        "event for {} revision {} has no matching record, or repeats one",
                        event.name, event.revision
                    ),
                );
            }
        }
        let last = next - 1;
        for seq in bodies.keys() {
            if !evented_bodies.contains(seq) {
                report.add(
                    ProblemKind::ChangeLog,
                    "bodies",
                    &keys::seq_key(*seq),
                    "no change event".into(),
                );
            }
        }
        for k in withdrawals.keys() {
            if !evented_withdrawals.contains(k) {
                report.add(
                    ProblemKind::ChangeLog,
                    "withdrawals",
                    k,
                    "no change event".into(),
                );
            }
        }

        // Counters.
        let want_counters = Counters {
            sequence: last,
            reports: report.reports,
            revisions: report.revisions,
        };
        let have_counters = Counters::read(&trees.meta);
        let counters_fix = match have_counters {
            Ok(c) if c == want_counters => None,
            have => {
                report.add(
                    ProblemKind::Counter,
                    "meta",
                    META_COUNTERS,
                    format!("are {have:?}, the data say {want_counters:?}"),
                );
                Some(want_counters)
            }
        };

        // Idempotency records and their expiry entries.
        let mut idem_fixes: Vec<(Vec<u8>, bool)> = Vec::new(); // (request id, remove record)
        let mut want_expiry: BTreeSet<Vec<u8>> = BTreeSet::new();
        for kv in trees.idempotency.iter() {
            let (k, v) = kv.map_err(sled_err)?;
            let rid = String::from_utf8(k.to_vec()).ok();
            let rec = IdemRecord::decode(v.as_ref()).ok();
            let valid = match (&rid, &rec) {
                (Some(_), Some(r)) => ReportName::from_str(&r.name).is_ok_and(|n| {
                    let rk = keys::revision_key(&keys::name_key(&n), r.revision);
                    match r.op {
                        OP_SUBMIT => pointers.contains_key(&rk),
                        OP_WITHDRAW => withdrawals.contains_key(&rk),
                        _ => false,
                    }
                }),
                _ => false,
            };
            match (valid, rid, rec) {
                (true, Some(rid), Some(rec)) => {
                    want_expiry.insert(keys::expiry_key(rec.created_micros, &rid));
                }
                _ => {
                    report.add(
                        ProblemKind::Idempotency,
                        "idempotency",
                        &k,
                        "undecodable, or its outcome does not exist".into(),
                    );
                    idem_fixes.push((k.to_vec(), true));
                }
            }
        }
        let mut expiry_fixes: Vec<(Vec<u8>, bool)> = Vec::new(); // (key, insert)
        let mut seen_expiry = BTreeSet::new();
        for kv in trees.idem_expiry.iter() {
            let (k, _) = kv.map_err(sled_err)?;
            if want_expiry.contains(k.as_ref()) {
                seen_expiry.insert(k.to_vec());
            } else {
                report.add(
                    ProblemKind::Idempotency,
                    "idem_expiry",
                    &k,
                    "no matching idempotency record".into(),
                );
                expiry_fixes.push((k.to_vec(), false));
            }
        }
        for k in want_expiry.difference(&seen_expiry) {
            report.add(ProblemKind::Idempotency, "idem_expiry", k, "missing".into());
            expiry_fixes.push((k.clone(), true));
        }

        // The audit chain: reported, never repaired.
        let audit = self.verify_audit()?;
        report.audit_records = audit.records;
        if let Some(b) = &audit.first_broken {
            report.add(
                ProblemKind::AuditChain,
                "audit",
                &super::keys::seq_key(b.sequence),
                b.to_string(),
            );
        }

        let primary_damage = report.counts.keys().any(|k| {
            matches!(
                k,
                ProblemKind::BadRevision | ProblemKind::BadWithdrawal | ProblemKind::ChangeLog
            )
        }) || report
            .problems
            .iter()
            .any(|p| !p.repairable && p.kind != ProblemKind::AuditChain);
        if repair && primary_damage {
            tracing::error!(
                "fsck found damage to revisions, withdrawals or the change log: repair would \
                 derive the indexes from damaged data, so it writes nothing; restore a backup"
            );
        }
        if repair && !primary_damage {
            let mut n = 0u64;
            let mut batch = sled::Batch::default();
            for (k, seq) in &pointer_fixes {
                match seq {
                    Some(seq) => batch.insert(k.as_slice(), &keys::seq_key(*seq)),
                    None => batch.remove(k.as_slice()),
                }
                n += 1;
            }
            trees.revisions.apply_batch(batch).map_err(sled_err)?;
            let mut batch = sled::Batch::default();
            for (k, v) in &head_fixes {
                match v {
                    Some(v) => batch.insert(k.as_slice(), v.as_slice()),
                    None => batch.remove(k.as_slice()),
                }
                n += 1;
            }
            trees.heads.apply_batch(batch).map_err(sled_err)?;
            for ix in Index::ALL {
                let mut batch = sled::Batch::default();
                for (_, k, insert) in ix_fixes.iter().filter(|f| f.0 == ix) {
                    if *insert {
                        batch.insert(k.as_slice(), &[]);
                    } else {
                        batch.remove(k.as_slice());
                    }
                    n += 1;
                }
                trees.index(ix).apply_batch(batch).map_err(sled_err)?;
            }
            if let Some(c) = counters_fix {
                trees
                    .meta
                    .insert(META_COUNTERS, &c.encode())
                    .map_err(sled_err)?;
                // The change feed must not offer sequence numbers the log does not have.
                self.inner
                    .durable
                    .send_modify(|d| *d = (*d).min(c.sequence));
                n += 1;
            }
            for (rid, _) in &idem_fixes {
                trees.idempotency.remove(rid.as_slice()).map_err(sled_err)?;
                n += 1;
            }
            for (k, insert) in &expiry_fixes {
                if *insert {
                    trees
                        .idem_expiry
                        .insert(k.as_slice(), &[])
                        .map_err(sled_err)?;
                } else {
                    trees.idem_expiry.remove(k.as_slice()).map_err(sled_err)?;
                }
                n += 1;
            }
            self.inner
                .db
                .flush()
                .map_err(|e| StoreError::sled("flushing the repair", e))?;
            report.repaired = n;
            if n > 0 {
                tracing::warn!(repaired = n, "fsck repaired the store");
            }
        }
        Ok(report)
    }
}
