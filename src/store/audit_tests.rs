//! Tests of the audit trail on real stores: the chain's links, write records committed
//! with their writes, nothing appended by an aborted write, tampering found at the right
//! record, and backup/restore carrying the chain.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::tests::{name, open, rt, sub, wr};
use super::*;
use crate::pb::AuditRecord;

fn entry(i: u64) -> AuditEntry {
    AuditEntry {
        time: UNIX_EPOCH + Duration::from_secs(1_700_000_000 + i),
        identity: format!("user-{i}"),
        peer: format!("10.0.0.{}:5000", i % 250),
        method: "/nianbao.v1.ReportRegistry/GetReport".into(),
        resources: vec![format!("agencies/a/reports/{}", 2000 + i)],
        request_id: format!("read-{i}"),
        code: if i.is_multiple_of(3) { 5 } else { 0 },
        reason: if i.is_multiple_of(3) {
            "REPORT_NOT_FOUND".into()
        } else {
            String::new()
        },
    }
}

fn records(store: &Store) -> Vec<AuditRecord> {
    store
        .audit_records(0)
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

/// A store with `n` read records, appended one per batch (so one per block, and the
/// tests below can tamper with one record by its key) and flushed.
fn with_records(dir: &tempfile::TempDir, n: u64) -> Store {
    let store = open(dir);
    let rt = rt();
    for i in 1..=n {
        let last = rt.block_on(store.append_audit(vec![entry(i)])).unwrap();
        assert_eq!(last, i);
    }
    rt.block_on(store.flush()).unwrap();
    store
}

#[test]
fn a_batch_is_one_block_and_damage_inside_it_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let rt = rt();
    rt.block_on(store.append_audit(vec![entry(1)])).unwrap();
    let last = rt
        .block_on(store.append_audit((2..=5).map(entry).collect()))
        .unwrap();
    assert_eq!(last, 5);
    rt.block_on(store.flush()).unwrap();
    let audit = &store.inner.trees.audit;
    assert_eq!(audit.len(), 2, "two batches, two keys");
    let seqs: Vec<u64> = records(&store).iter().map(|r| r.sequence).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    // Read from the middle of a block.
    let tail: Vec<u64> = store
        .audit_records(3)
        .map(|r| r.unwrap().sequence)
        .collect();
    assert_eq!(tail, [4, 5]);
    assert!(store.verify_audit().unwrap().is_intact());

    // An edit of the block's third record (sequence 4) is found there.
    let original = audit.get(key(2)).unwrap().unwrap().to_vec();
    let mut v = original.clone();
    let at = v.windows(6).position(|w| w == b"user-4").unwrap();
    v[at + 5] ^= 0x01;
    audit.insert(key(2), v).unwrap();
    let b = broken(&store);
    assert_eq!((b.sequence, b.problem), (4, AuditProblem::HashMismatch));
    // The block cut short by its last record: the head says so.
    let parts = super::audit::split_block(&original).unwrap();
    let shorter = super::audit::encode_block(
        &parts[..3]
            .iter()
            .map(|p| <AuditRecord as prost::Message>::decode(*p).unwrap())
            .collect::<Vec<_>>(),
    );
    audit.insert(key(2), shorter).unwrap();
    let b = broken(&store);
    assert_eq!(b.sequence, 5);
    assert!(matches!(b.problem, AuditProblem::HeadMismatch(_)), "{b}");
    // The whole block gone: a gap after record 1.
    audit.insert(key(2), original).unwrap();
    assert!(store.verify_audit().unwrap().is_intact());
    audit.remove(key(2)).unwrap();
    let b = broken(&store);
    assert_eq!(b.sequence, 2);
}

fn broken(store: &Store) -> AuditBreak {
    let v = store.verify_audit().unwrap();
    let shown = format!("{v:?}");
    v.first_broken
        .unwrap_or_else(|| panic!("the chain should be broken: {shown}"))
}

#[test]
fn records_chain_from_the_genesis_hash() {
    let dir = tempfile::tempdir().unwrap();
    let store = with_records(&dir, 5);
    let recs = records(&store);
    assert_eq!(recs.len(), 5);
    let mut previous = AUDIT_GENESIS.to_vec();
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(r.sequence, i as u64 + 1);
        assert_eq!(r.previous_hash, previous);
        assert_eq!(r.hash.len(), AUDIT_HASH_LEN);
        assert_eq!(r.hash, audit_hash(r).to_vec());
        // The definition, spelled out: SM3(previous_hash ‖ encoding without hash).
        let mut unhashed = r.clone();
        unhashed.hash.clear();
        let mut input = r.previous_hash.clone();
        input.extend(unhashed.encode_to_vec());
        assert_eq!(r.hash, sm3::Sm3::digest(&input).to_vec());
        previous = r.hash.clone();
    }
    assert_eq!(recs[2].code, 5);
    assert_eq!(recs[2].reason, "REPORT_NOT_FOUND");
    assert_eq!(store.audit_records(3).count(), 2);
    let v = store.verify_audit().unwrap();
    assert!(v.is_intact(), "{v:?}");
    assert_eq!((v.records, v.head), (5, 5));
    // An empty batch appends nothing.
    assert_eq!(rt().block_on(store.append_audit(Vec::new())).unwrap(), 5);
}

#[test]
fn records_are_durable_only_after_a_flush() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let rt = rt();
    let mut follow = store.subscribe_audit();
    rt.block_on(store.append_audit(vec![entry(1)])).unwrap();
    // A record not yet flushed is not shown: a crash could take it back.
    assert_eq!(store.audit_records(0).count(), 0);
    rt.block_on(store.flush()).unwrap();
    assert!(follow.has_changed().unwrap());
    assert_eq!(*follow.borrow_and_update(), 1);
    assert_eq!(records(&store).len(), 1);
}

#[test]
fn a_committed_write_carries_its_record_in_its_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let rt = rt();
    rt.block_on(store.append_audit(vec![entry(1)])).unwrap();
    let mut s = sub("agencies/a/reports/2023", None, 0, "one");
    s.request_id = Some("submit-1".into());
    s.audit = Some(AuditEntry {
        method: "/nianbao.v1.ReportRegistry/SubmitReport".into(),
        resources: Vec::new(),
        request_id: String::new(),
        // A committed write's record says OK whatever the entry said.
        code: 13,
        reason: "LEFT_OVER".into(),
        ..entry(2)
    });
    rt.block_on(store.submit(s)).unwrap();
    // `submit` returned: the write is durable, and so is its record.
    let recs = records(&store);
    assert_eq!(recs.len(), 2);
    let r = &recs[1];
    assert_eq!(r.sequence, 2);
    assert_eq!(r.request_id, "submit-1");
    assert_eq!(r.code, 0);
    assert_eq!(r.reason, "");
    assert_eq!(r.resources, vec!["agencies/a/reports/2023".to_string()]);
    assert_eq!(r.method, "/nianbao.v1.ReportRegistry/SubmitReport");

    let mut w = wr(name("agencies/a/reports/2023"), "wrong", "ops", None, None);
    w.audit = Some(AuditEntry {
        request_id: "withdraw-1".into(),
        method: "/nianbao.v1.ReportRegistry/WithdrawReport".into(),
        ..entry(3)
    });
    rt.block_on(store.withdraw(w)).unwrap();
    let recs = records(&store);
    assert_eq!(recs.len(), 3);
    assert_eq!(recs[2].request_id, "withdraw-1");
    assert_eq!(recs[2].code, 0);
    assert!(recs[2]
        .resources
        .contains(&"agencies/a/reports/2023".to_string()));
    assert!(store.verify_audit().unwrap().is_intact());
}

#[test]
fn a_write_that_does_not_commit_appends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let rt = rt();
    let audited = |mut s: Submission, id: &str| {
        s.audit = Some(AuditEntry {
            request_id: id.into(),
            ..entry(1)
        });
        s
    };
    let mut s = audited(sub("agencies/a/reports/2023", None, 0, "one"), "first");
    s.request_id = Some("rid".into());
    rt.block_on(store.submit(s)).unwrap();
    assert_eq!(records(&store).len(), 1);

    // Etag mismatch.
    let mut s = audited(sub("agencies/a/reports/2023", None, 0, "two"), "stale");
    s.expected_etag = Some("\"9-0000000000000000\"".into());
    assert!(matches!(
        rt.block_on(store.submit(s)),
        Err(StoreError::EtagMismatch { .. })
    ));
    // Idempotent replay: nothing written, nothing audited by the store.
    let mut s = audited(sub("agencies/a/reports/2023", None, 0, "one"), "replay");
    s.request_id = Some("rid".into());
    assert!(rt.block_on(store.submit(s)).unwrap().replayed);
    // Withdrawal of a report that does not exist.
    let mut w = wr(name("agencies/zz/reports/2023"), "r", "ops", None, None);
    w.audit = Some(entry(9));
    assert!(matches!(
        rt.block_on(store.withdraw(w)),
        Err(StoreError::NotFound { .. })
    ));
    rt.block_on(store.flush()).unwrap();
    let recs = records(&store);
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(recs[0].request_id, "first");
    let v = store.verify_audit().unwrap();
    assert!(v.is_intact());
    assert_eq!(v.head, 1);
}

fn key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

#[test]
fn verify_finds_an_edited_record() {
    let dir = tempfile::tempdir().unwrap();
    let store = with_records(&dir, 6);
    let audit = &store.inner.trees.audit;
    let mut v = audit.get(key(3)).unwrap().unwrap().to_vec();
    let at = v.windows(6).position(|w| w == b"user-3").unwrap();
    v[at + 5] ^= 0x01; // user-3 → user-2
    audit.insert(key(3), v).unwrap();
    let b = broken(&store);
    assert_eq!(b.sequence, 3);
    assert_eq!(b.problem, AuditProblem::HashMismatch);
    assert_eq!(store.verify_audit().unwrap().records, 6);
}

#[test]
fn verify_finds_a_flipped_byte_anywhere_in_a_record() {
    let dir = tempfile::tempdir().unwrap();
    let store = with_records(&dir, 4);
    let audit = &store.inner.trees.audit;
    let original = audit.get(key(2)).unwrap().unwrap().to_vec();
    for at in 0..original.len() {
        let mut v = original.clone();
        v[at] ^= 0x40;
        audit.insert(key(2), v).unwrap();
        let b = broken(&store);
        assert_eq!(b.sequence, 2, "byte {at}: {b}");
    }
}

#[test]
fn verify_finds_a_deleted_record_in_the_middle() {
    let dir = tempfile::tempdir().unwrap();
    let store = with_records(&dir, 6);
    store.inner.trees.audit.remove(key(3)).unwrap();
    let b = broken(&store);
    assert_eq!(b.sequence, 3);
    assert_eq!(b.problem, AuditProblem::SequenceGap { found: 4 });
}

#[test]
fn verify_finds_a_deleted_last_record_by_the_head() {
    let dir = tempfile::tempdir().unwrap();
    let store = with_records(&dir, 6);
    store.inner.trees.audit.remove(key(6)).unwrap();
    let b = broken(&store);
    assert_eq!(b.sequence, 6);
    assert!(matches!(b.problem, AuditProblem::HeadMismatch(_)), "{b}");
}

#[test]
fn verify_finds_a_swapped_pair() {
    let dir = tempfile::tempdir().unwrap();
    let store = with_records(&dir, 6);
    let audit = &store.inner.trees.audit;
    let three = audit.get(key(3)).unwrap().unwrap();
    let four = audit.get(key(4)).unwrap().unwrap();
    audit.insert(key(3), four).unwrap();
    audit.insert(key(4), three).unwrap();
    let b = broken(&store);
    assert_eq!(b.sequence, 3);
    assert_eq!(b.problem, AuditProblem::SequenceMismatch { found: 4 });
}

#[test]
fn verify_finds_a_swapped_pair_with_renumbered_records() {
    // Swapped and renumbered by someone who cannot compute the hashes again.
    let dir = tempfile::tempdir().unwrap();
    let store = with_records(&dir, 6);
    let audit = &store.inner.trees.audit;
    let mut recs = records(&store);
    recs.swap(2, 3);
    for (i, r) in recs.iter_mut().enumerate().skip(2).take(2) {
        r.sequence = i as u64 + 1;
        audit
            .insert(key(r.sequence), super::audit::encode_block([&*r]))
            .unwrap();
    }
    let b = broken(&store);
    assert_eq!(b.sequence, 3);
    assert_eq!(b.problem, AuditProblem::PreviousHashMismatch);
}

#[test]
fn fsck_reports_a_broken_chain_and_never_rewrites_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = with_records(&dir, 4);
    let rt = rt();
    rt.block_on(store.submit(sub("agencies/a/reports/2023", None, 0, "one")))
        .unwrap();
    assert!(store.fsck(false).unwrap().is_clean());
    store.inner.trees.audit.remove(key(2)).unwrap();
    let before: Vec<_> = store.inner.trees.audit.iter().collect();
    let report = store.fsck(true).unwrap();
    assert_eq!(report.counts.get(&ProblemKind::AuditChain), Some(&1));
    assert_eq!(report.audit_records, 3);
    assert!(!report.all_repairable());
    let after: Vec<_> = store.inner.trees.audit.iter().collect();
    assert_eq!(before, after);
    assert_eq!(broken(&store).sequence, 2);
}

#[test]
fn backup_and_restore_carry_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let store = with_records(&dir, 3);
    let rt = rt();
    let mut s = sub("agencies/a/reports/2023", None, 0, "one");
    s.audit = Some(entry(4));
    rt.block_on(store.submit(s)).unwrap();
    rt.block_on(store.append_audit(vec![entry(5)])).unwrap();
    rt.block_on(store.flush()).unwrap();
    let file = dir.path().join("backup.nbk");
    let summary = store.backup(&file).unwrap();
    assert_eq!(summary.audit_records, 5);
    let original = records(&store);
    drop(store);

    let cfg = StoreConfig::new(dir.path().join("restored"));
    let restored = Store::restore(&cfg, &file).unwrap();
    assert_eq!(restored.audit_records, 5);
    let store = Store::open(&cfg).unwrap();
    assert_eq!(records(&store), original);
    let v = store.verify_audit().unwrap();
    assert!(v.is_intact(), "{v:?}");
    assert_eq!((v.records, v.head), (5, 5));
    // The chain goes on from the restored head.
    rt.block_on(store.append_audit(vec![entry(6)])).unwrap();
    assert!(store.verify_audit().unwrap().is_intact());
}

#[test]
fn a_store_without_audit_records_starts_at_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let v = store.verify_audit().unwrap();
    assert!(v.is_intact());
    assert_eq!((v.records, v.head), (0, 0));
    let t = SystemTime::now();
    let last = rt()
        .block_on(store.append_audit(vec![AuditEntry {
            time: t,
            ..entry(1)
        }]))
        .unwrap();
    assert_eq!(last, 1);
}
