//! A failing disk at the store's file boundary: faults injected into the real store's
//! flushes (`commit::faults`), driven through the store's own API. An fsync error (EIO)
//! or a full disk (ENOSPC) in a flush fails that flush's writers and every later write
//! without another flush; reads go on; what was acknowledged before is intact after a
//! reopen, and the reopened store writes again. A disk below the reserve refuses writes
//! before they begin. (`tests/store_disk.rs` does the same on a real, full tmpfs.)

use std::sync::Arc;

use super::commit::faults::{Fault, Faults};
use super::tests::{name, open, rt, sub, wr};
use super::*;

const EIO: i32 = 5;
const ENOSPC: i32 = 28;

fn config(dir: &tempfile::TempDir) -> StoreConfig {
    StoreConfig::new(dir.path().join("store"))
}

fn expect_failed<T: std::fmt::Debug>(r: Result<T, StoreError>, what: &str) -> String {
    match r {
        Err(StoreError::Failed { cause }) => cause,
        other => panic!("{what}: expected StoreError::Failed, got {other:?}"),
    }
}

/// Every kind of write on a failed store fails at once with the failure, without a
/// flush reaching the disk; reads answer.
fn assert_failed_for_good(
    store: &Store,
    faults: &Faults,
    rt: &tokio::runtime::Runtime,
    errno: i32,
) {
    let flushes = faults.flushes();
    let n = name("agencies/a/reports/2023");
    for i in 0..3 {
        let cause = expect_failed(
            rt.block_on(store.submit(sub(
                "agencies/b/reports/2023",
                None,
                0,
                &format!("later {i}"),
            ))),
            "a later submission",
        );
        assert!(cause.contains(&format!("os error {errno}")), "{cause}");
    }
    expect_failed(
        rt.block_on(store.withdraw(wr(n.clone(), "why", "me", None, None))),
        "a withdrawal",
    );
    let entry = AuditEntry {
        time: SystemTime::now(),
        identity: "reader".into(),
        peer: "127.0.0.1:1".into(),
        method: "/nianbao.v1.ReportRegistry/GetReport".into(),
        resources: Vec::new(),
        request_id: "read-1".into(),
        code: 0,
        reason: String::new(),
    };
    expect_failed(
        rt.block_on(store.append_audit(vec![entry])),
        "an audit append",
    );
    expect_failed(rt.block_on(store.flush()), "a flush");
    expect_failed(store.flush_blocking(), "a blocking flush");
    assert_eq!(
        faults.flushes(),
        flushes,
        "no flush reaches the disk once the store has failed"
    );
    // Reads work.
    let (rev, _) = store.get(&n, Some(1)).expect("a read of a failed store");
    assert_eq!(rev.revision, 1);
    store
        .list(&ListFilter::default(), None, 10)
        .expect("a listing of a failed store");
    store.stats().expect("stats of a failed store");
}

fn fsync_failure_is_final(fault: Fault, errno: i32) {
    let dir = tempfile::tempdir().unwrap();
    let faults = Arc::new(Faults::default());
    let rt = rt();
    let n = name("agencies/a/reports/2023");
    let acknowledged = {
        let store = Store::open_with_faults(&config(&dir), faults.clone()).unwrap();
        let first = rt
            .block_on(store.submit(sub("agencies/a/reports/2023", Some("110000"), 0, "one")))
            .unwrap();
        let (encoded, _) = store.get_encoded(&n, Some(1)).unwrap();
        let acknowledged = encoded.to_vec();
        assert_eq!(first.revision.revision, 1);

        faults.arm(fault);
        let cause = expect_failed(
            rt.block_on(store.submit(sub("agencies/a/reports/2023", Some("110000"), 0, "two"))),
            "the write whose flush failed",
        );
        assert!(cause.contains(&format!("os error {errno}")), "{cause}");
        if errno == ENOSPC {
            assert!(cause.starts_with("the disk is full"), "{cause}");
        }
        assert_failed_for_good(&store, &faults, &rt, errno);
        // The change feed shows durable changes only: not the write whose flush failed.
        let changes = store.changes(0, 100).unwrap();
        assert_eq!(changes.len(), 1, "{changes:?}");
        acknowledged
    };
    // Restarted (the disk checked): what was acknowledged is there byte for byte, the
    // store is not failed, and it writes again.
    let store = open(&dir);
    let (encoded, _) = store.get_encoded(&n, Some(1)).unwrap();
    assert_eq!(&encoded[..], acknowledged.as_slice());
    let report = store.fsck(false).unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
    rt.block_on(store.submit(sub("agencies/c/reports/2023", None, 0, "after")))
        .expect("a write after the restart");
}

#[test]
fn an_fsync_error_fails_the_store_for_good() {
    fsync_failure_is_final(Fault::After(EIO), EIO);
}

#[test]
fn a_log_write_error_fails_the_store_for_good() {
    fsync_failure_is_final(Fault::Before(EIO), EIO);
}

#[test]
fn a_full_disk_in_a_flush_fails_the_store_naming_the_full_disk() {
    fsync_failure_is_final(Fault::Before(ENOSPC), ENOSPC);
}

#[test]
fn writers_sharing_a_failed_flush_all_fail() {
    let dir = tempfile::tempdir().unwrap();
    let faults = Arc::new(Faults::default());
    let store = Store::open_with_faults(&config(&dir), faults.clone()).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    faults.arm(Fault::After(EIO));
    let outcomes = rt.block_on(async {
        let writers: Vec<_> = (0..8)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .submit(sub(&format!("agencies/w{i}/reports/2023"), None, 0, "x"))
                        .await
                })
            })
            .collect();
        let mut out = Vec::new();
        for w in writers {
            out.push(w.await.unwrap());
        }
        out
    });
    // Every writer committed before or after the failed flush: none is acknowledged.
    for o in outcomes {
        expect_failed(o, "a writer");
    }
    assert!(store.changes(0, 100).unwrap().is_empty());
}

#[test]
fn a_disk_below_the_reserve_refuses_writes_before_they_begin() {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let n = name("agencies/a/reports/2023");
    {
        let store = open(&dir);
        rt.block_on(store.submit(sub("agencies/a/reports/2023", None, 0, "one")))
            .unwrap();
    }
    // No disk has u64::MAX bytes free.
    let mut cfg = config(&dir);
    cfg.reserved_space = u64::MAX;
    let store = Store::open(&cfg).unwrap();
    match rt.block_on(store.submit(sub("agencies/a/reports/2023", None, 0, "two"))) {
        Err(StoreError::StorageFull {
            available,
            reserved,
            ..
        }) => assert!(available < reserved),
        other => panic!("expected StorageFull, got {other:?}"),
    }
    assert!(matches!(
        rt.block_on(store.withdraw(wr(n.clone(), "why", "me", None, None))),
        Err(StoreError::StorageFull { .. })
    ));
    // Nothing was written, reads work, and the store is not failed: it is the disk.
    assert_eq!(store.stats().unwrap().revisions, 1);
    assert_eq!(store.get(&n, None).unwrap().0.revision, 1);
    assert!(store.inner.commit.failure().is_none());
    rt.block_on(store.flush())
        .expect("a flush with nothing to write");
}
