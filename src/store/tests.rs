//! Behaviour of the store API on small examples (the model test in
//! `tests/store_model.rs` covers random sequences).

use std::time::{Duration, SystemTime};

use super::*;
use crate::names::{AgencyId, Scope};
use crate::pb::{Agency, ChangeKind, FormatVersion};

pub(super) fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

pub(super) fn open(dir: &tempfile::TempDir) -> Store {
    Store::open(&StoreConfig::new(dir.path().join("store"))).unwrap()
}

pub(super) fn name(s: &str) -> ReportName {
    s.parse().unwrap()
}

/// A withdrawal without an audit record.
pub(super) fn wr(
    name: ReportName,
    reason: &str,
    by: &str,
    expected_etag: Option<String>,
    request_id: Option<String>,
) -> WithdrawRequest {
    WithdrawRequest {
        name,
        reason: reason.to_string(),
        by: by.to_string(),
        expected_etag,
        request_id,
        audit: None,
        read_scope: None,
        write_scope: None,
    }
}

pub(super) fn sub(n: &str, division: Option<&str>, errors: u32, content: &str) -> Submission {
    let name = name(n);
    Submission {
        report: AnnualReport {
            agency: Some(Agency {
                name: format!("{} 机关", name.agency),
                division_code: division.map(str::to_string),
                ..Default::default()
            }),
            year: name.year,
            format_version: FormatVersion::V2021 as i32,
            title: content.to_string(),
            ..Default::default()
        },
        validation: ValidationResult {
            errors,
            warnings: 1,
            ..Default::default()
        },
        submitter: "test".into(),
        input_sha256: sha256_hex(content.as_bytes()),
        request_id: None,
        expected_etag: None,
        time: None,
        within: None,
        audit: None,
        name,
    }
}

#[test]
fn submissions_make_numbered_immutable_revisions() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let rt = rt();
    let n = name("agencies/a/reports/2023");
    let r1 = rt
        .block_on(store.submit(sub("agencies/a/reports/2023", Some("320602"), 0, "one")))
        .unwrap();
    assert!(!r1.replayed);
    assert_eq!(r1.revision.revision, 1);
    assert!(r1.revision.etag.starts_with("\"1-") && r1.revision.etag.ends_with('"'));
    let r2 = rt
        .block_on(store.submit(sub("agencies/a/reports/2023", Some("320602"), 2, "two")))
        .unwrap();
    assert_eq!(r2.revision.revision, 2);
    assert!(r2.revision.has_errors);
    assert_ne!(r1.revision.etag, r2.revision.etag);

    let (latest, state) = store.get(&n, None).unwrap();
    assert_eq!(latest, r2.revision);
    assert_eq!(state.latest_revision, 2);
    assert_eq!(state.revision_count, 2);
    assert_eq!(state.etag, r2.revision.etag);
    assert_eq!(store.get(&n, Some(1)).unwrap().0, r1.revision);
    assert!(matches!(
        store.get(&n, Some(3)),
        Err(StoreError::RevisionNotFound {
            revision: 3,
            latest: 2,
            ..
        })
    ));
    assert!(matches!(
        store.get(&n, Some(0)),
        Err(StoreError::RevisionNotFound { .. })
    ));
    assert!(matches!(
        store.get(&name("agencies/b/reports/2023"), None),
        Err(StoreError::NotFound { .. })
    ));
    let revs = store.revisions(&n).unwrap();
    assert_eq!(
        revs.iter().map(|r| r.revision).collect::<Vec<_>>(),
        vec![2, 1]
    );
    let stats = store.stats().unwrap();
    assert_eq!(
        (stats.reports, stats.revisions, stats.last_sequence),
        (1, 2, 2)
    );
    assert!(stats.size_on_disk > 0);
}

#[test]
fn etags_guard_submissions_and_withdrawals() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let rt = rt();
    let n = "agencies/a/reports/2023";
    let mut s = sub(n, None, 0, "x");
    s.expected_etag = Some("\"1-0000\"".into());
    match rt.block_on(store.submit(s)) {
        Err(StoreError::EtagMismatch { current: None, .. }) => {}
        other => panic!("{other:?}"),
    }
    assert!(store.state(&name(n)).unwrap().is_none(), "nothing written");
    let first = rt.block_on(store.submit(sub(n, None, 0, "x"))).unwrap();
    let mut stale = sub(n, None, 0, "y");
    stale.expected_etag = Some("\"0-stale\"".into());
    match rt.block_on(store.submit(stale)) {
        Err(StoreError::EtagMismatch {
            current: Some(c), ..
        }) => {
            assert_eq!(c, first.revision.etag)
        }
        other => panic!("{other:?}"),
    }
    let mut ok = sub(n, None, 0, "y");
    ok.expected_etag = Some(first.revision.etag.clone());
    let second = rt.block_on(store.submit(ok)).unwrap();
    assert_eq!(second.revision.revision, 2);

    // Withdraw: wrong etag refused, right one accepted, second withdrawal refused.
    let r = rt.block_on(store.withdraw(wr(
        name(n),
        "dup",
        "ops",
        Some(first.revision.etag.clone()),
        None,
    )));
    assert!(matches!(r, Err(StoreError::EtagMismatch { .. })), "{r:?}");
    let w = rt
        .block_on(store.withdraw(wr(
            name(n),
            "dup",
            "ops",
            Some(second.revision.etag.clone()),
            None,
        )))
        .unwrap();
    assert!(!w.replayed);
    let wd = w.state.withdrawal.clone().unwrap();
    assert_eq!(
        (wd.revision, wd.reason.as_str(), wd.withdrawn_by.as_str()),
        (2, "dup", "ops")
    );
    assert_ne!(
        w.state.etag, second.revision.etag,
        "a withdrawal changes the etag"
    );
    assert!(matches!(
        rt.block_on(store.withdraw(wr(name(n), "again", "ops", None, None))),
        Err(StoreError::AlreadyWithdrawn { revision: 2, .. })
    ));
    assert!(matches!(
        rt.block_on(store.withdraw(wr(name("agencies/zz/reports/2023"), "r", "ops", None, None))),
        Err(StoreError::NotFound { .. })
    ));
    // The revisions stay readable; a new submission reinstates the report.
    assert_eq!(store.get(&name(n), None).unwrap().1, w.state);
    let mut again = sub(n, None, 0, "z");
    again.expected_etag = Some(w.state.etag.clone());
    let third = rt.block_on(store.submit(again)).unwrap();
    assert_eq!(third.revision.revision, 3);
    let state = store.state(&name(n)).unwrap().unwrap();
    assert!(state.withdrawal.is_none());
    assert_eq!(state.etag, third.revision.etag);

    let kinds: Vec<(i32, u32)> = store
        .changes(0, 100)
        .unwrap()
        .iter()
        .map(|e| (e.kind, e.revision))
        .collect();
    let (s, wk) = (ChangeKind::Submitted as i32, ChangeKind::Withdrawn as i32);
    assert_eq!(kinds, vec![(s, 1), (s, 2), (wk, 2), (s, 3)]);
    assert_eq!(store.changes(2, 1).unwrap()[0].sequence, 3);
    assert!(store.changes(4, 10).unwrap().is_empty());
    assert!(store.changes(u64::MAX, 10).unwrap().is_empty());
}

#[test]
fn request_ids_replay_or_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let rt = rt();
    let n = "agencies/a/reports/2023";
    let mut s = sub(n, None, 0, "x");
    s.request_id = Some("req-1".into());
    let first = rt.block_on(store.submit(s.clone())).unwrap();
    // A retry, even with a now stale etag, gets the first outcome.
    s.expected_etag = Some("\"stale\"".into());
    let again = rt.block_on(store.submit(s.clone())).unwrap();
    assert!(again.replayed);
    assert_eq!(again.revision, first.revision);
    assert_eq!(store.stats().unwrap().revisions, 1, "nothing written");
    // Same id, other content or other name: refused.
    let mut other = sub(n, None, 0, "other");
    other.request_id = Some("req-1".into());
    assert!(matches!(
        rt.block_on(store.submit(other)),
        Err(StoreError::IdempotencyMismatch { .. })
    ));
    let mut other = sub("agencies/b/reports/2023", None, 0, "x");
    other.request_id = Some("req-1".into());
    assert!(matches!(
        rt.block_on(store.submit(other)),
        Err(StoreError::IdempotencyMismatch { .. })
    ));
    assert!(matches!(
        rt.block_on(store.withdraw(wr(name(n), "r", "ops", None, Some("req-1".to_string())))),
        Err(StoreError::IdempotencyMismatch { .. })
    ));
    // Withdrawal retries.
    let w1 = rt
        .block_on(store.withdraw(wr(name(n), "r", "ops", None, Some("req-2".to_string()))))
        .unwrap();
    let w2 = rt
        .block_on(store.withdraw(wr(name(n), "r", "ops", None, Some("req-2".to_string()))))
        .unwrap();
    assert!(!w1.replayed && w2.replayed);
    assert_eq!(w1.state, w2.state);
    assert!(matches!(
        rt.block_on(store.withdraw(wr(
            name(n),
            "other reason",
            "ops",
            None,
            Some("req-2".to_string())
        ))),
        Err(StoreError::IdempotencyMismatch { .. })
    ));
    let mut bad = sub(n, None, 0, "x");
    bad.request_id = Some(String::new());
    assert!(matches!(
        rt.block_on(store.submit(bad)),
        Err(StoreError::InvalidArgument(_))
    ));
    let mut bad = sub(n, None, 0, "x");
    bad.input_sha256 = "ABC".into();
    assert!(matches!(
        rt.block_on(store.submit(bad)),
        Err(StoreError::InvalidArgument(_))
    ));
}

#[test]
fn request_ids_expire_after_the_window() {
    // The store's clock is the caller's here: no sleeping, no race with the window.
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = StoreConfig::new(dir.path().join("store"));
    cfg.idempotency_window = Duration::from_secs(60);
    let store = Store::open(&cfg).unwrap();
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let n = "agencies/a/reports/2023";
    let mut s = sub(n, None, 0, "x");
    s.request_id = Some("req".into());
    store.submit_commit(s, t0).unwrap();
    assert_eq!(store.inner.trees.idempotency.len(), 1);
    // Within the window the id still names the first request.
    let mut s = sub(n, None, 0, "y");
    s.request_id = Some("req".into());
    assert!(matches!(
        store.submit_commit(s, t0 + Duration::from_secs(59)),
        Err(StoreError::IdempotencyMismatch { .. })
    ));
    // Expired: the id may carry a new request now.
    let mut s = sub(n, None, 0, "y");
    s.request_id = Some("req".into());
    let second = store
        .submit_commit(s, t0 + Duration::from_secs(61))
        .unwrap();
    assert!(!second.replayed);
    assert_eq!(second.revision.revision, 2);
    assert_eq!(
        store.inner.trees.idem_expiry.len(),
        1,
        "old expiry entry replaced"
    );
    let at = |secs| t0 + Duration::from_secs(secs);
    assert_eq!(
        purge_idempotency(&store.inner.trees, cfg.idempotency_window, at(120)).unwrap(),
        0
    );
    assert_eq!(
        purge_idempotency(&store.inner.trees, cfg.idempotency_window, at(122)).unwrap(),
        1
    );
    assert!(store.inner.trees.idempotency.is_empty());
    assert!(store.inner.trees.idem_expiry.is_empty());
    rt().block_on(store.wait_durable()).unwrap();
    assert!(store.fsck(false).unwrap().is_clean());
}

#[test]
fn lists_choose_indexes_and_page_in_a_stable_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let rt = rt();
    let reports = [
        ("agencies/c/reports/2022", Some("320602"), 0),
        ("agencies/c/reports/2023", Some("320602"), 1),
        ("agencies/a/reports/2023", Some("321000"), 0),
        ("agencies/b/reports/2023", Some("330100"), 0),
        ("agencies/d/reports/2023", None, 3),
        ("agencies/e/reports/2023", Some("32"), 0),
    ];
    for (n, div, errors) in reports {
        rt.block_on(store.submit(sub(n, div, errors, n))).unwrap();
    }
    rt.block_on(store.withdraw(wr(name("agencies/b/reports/2023"), "r", "ops", None, None)))
        .unwrap();
    let names = |f: &ListFilter, limit: usize| -> Vec<String> {
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let page = store.list(f, after.as_ref(), limit).unwrap();
            assert!(page.items.len() <= limit);
            out.extend(page.items.iter().map(|i| i.name.to_string()));
            match page.next {
                Some(c) => {
                    assert_eq!(page.items.len(), limit, "a full page before a next token");
                    after = Some(ListCursor::from_token(&c.to_token()).unwrap());
                }
                None => return out,
            }
        }
    };
    let all = ListFilter::default();
    assert_eq!(
        names(&all, 2),
        [
            "agencies/a/reports/2023",
            "agencies/c/reports/2022",
            "agencies/c/reports/2023",
            "agencies/d/reports/2023",
            "agencies/e/reports/2023"
        ]
    );
    let with_withdrawn = ListFilter {
        include_withdrawn: true,
        ..Default::default()
    };
    assert_eq!(names(&with_withdrawn, 10).len(), 6);
    // Division order: by code, then name; invalid codes never match.
    let province = ListFilter {
        division_prefix: Some("32".into()),
        ..Default::default()
    };
    assert_eq!(
        names(&province, 1),
        [
            "agencies/c/reports/2022",
            "agencies/c/reports/2023",
            "agencies/a/reports/2023"
        ]
    );
    let county_2023 = ListFilter {
        division_prefix: Some("320602".into()),
        year: Some(2023),
        ..Default::default()
    };
    assert_eq!(names(&county_2023, 5), ["agencies/c/reports/2023"]);
    let agency_c = ListFilter {
        agency: Some(AgencyId::parse("c").unwrap()),
        has_errors: Some(false),
        ..Default::default()
    };
    assert_eq!(names(&agency_c, 5), ["agencies/c/reports/2022"]);
    let errors = ListFilter {
        has_errors: Some(true),
        ..Default::default()
    };
    assert_eq!(
        names(&errors, 5),
        ["agencies/c/reports/2023", "agencies/d/reports/2023"]
    );
    let year = ListFilter {
        year: Some(2022),
        format_version: Some(FormatVersion::V2021 as i32),
        ..Default::default()
    };
    assert_eq!(names(&year, 5), ["agencies/c/reports/2022"]);
    let page = store.list(&all, None, 10).unwrap();
    let c23 = &page.items[2];
    assert_eq!(
        (
            c23.agency_name.as_str(),
            c23.division_code.as_deref(),
            c23.errors,
            c23.warnings,
            c23.has_errors,
            c23.latest_revision
        ),
        ("c 机关", Some("320602"), 1, 1, true, 1)
    );
    // A token only works with its own filter.
    let first = store.list(&all, None, 1).unwrap().next.unwrap();
    assert!(matches!(
        store.list(&province, Some(&first), 1),
        Err(StoreError::InvalidCursor(_))
    ));
    assert!(matches!(
        store.list(&all, None, 0),
        Err(StoreError::InvalidArgument(_))
    ));
    // for_each_latest visits the same reports in the same order.
    let mut seen = Vec::new();
    let n = store
        .for_each_latest(&province, |r| {
            seen.push(r.name);
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(n, 3);
    assert_eq!(seen, names(&province, 10));
}

#[test]
fn one_agency_lists_in_division_order_under_a_division_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let rt = rt();
    // By code first: the 2023 report (320602) before the 2022 one (321000).
    for (n, div) in [
        ("agencies/f/reports/2021", "330100"),
        ("agencies/f/reports/2022", "321000"),
        ("agencies/f/reports/2023", "320602"),
    ] {
        rt.block_on(store.submit(sub(n, Some(div), 0, n))).unwrap();
    }
    let filter = ListFilter {
        agency: Some(AgencyId::parse("f").unwrap()),
        division_prefix: Some("32".into()),
        ..Default::default()
    };
    let first = store.list(&filter, None, 1).unwrap();
    assert_eq!(first.items[0].name.to_string(), "agencies/f/reports/2023");
    let second = store.list(&filter, first.next.as_ref(), 1).unwrap();
    assert_eq!(second.items[0].name.to_string(), "agencies/f/reports/2022");
    assert!(second.next.is_none());
}

#[test]
fn previous_year_skips_withdrawn_reports() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let rt = rt();
    let agency = AgencyId::parse("a").unwrap();
    assert!(store.previous_year(&agency, 2023).unwrap().is_none());
    rt.block_on(store.submit(sub("agencies/a/reports/2022", None, 0, "v1")))
        .unwrap();
    rt.block_on(store.submit(sub("agencies/a/reports/2022", None, 0, "v2")))
        .unwrap();
    let prev = store.previous_year(&agency, 2023).unwrap().unwrap();
    assert_eq!((prev.year, prev.revision), (2022, 2));
    assert!(store.previous_year(&agency, 2022).unwrap().is_none());
    rt.block_on(store.withdraw(wr(name("agencies/a/reports/2022"), "r", "ops", None, None)))
        .unwrap();
    assert!(store.previous_year(&agency, 2023).unwrap().is_none());
}

#[test]
fn the_change_feed_wakes_subscribers_with_durable_sequences() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let rt = rt();
    let mut rx = store.subscribe();
    assert_eq!(*rx.borrow_and_update(), 0);
    let s = store.clone();
    rt.block_on(async move {
        let waiter = tokio::spawn(async move {
            rx.changed().await.unwrap();
            *rx.borrow()
        });
        s.submit(sub("agencies/a/reports/2023", None, 0, "x"))
            .await
            .unwrap();
        let seen = tokio::time::timeout(Duration::from_secs(300), waiter)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(seen, 1);
    });
    assert_eq!(store.changes(0, 10).unwrap().len(), 1);
}

#[test]
fn state_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let first = {
        let store = open(&dir);
        let mut s = sub("agencies/a/reports/2023", Some("320602"), 0, "x");
        s.time = Some(SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123));
        rt.block_on(store.submit(s)).unwrap()
    };
    let store = open(&dir);
    let (rev, _) = store.get(&name("agencies/a/reports/2023"), None).unwrap();
    assert_eq!(rev, first.revision);
    let t = rev.submit_time.unwrap();
    assert_eq!((t.seconds, t.nanos), (1_700_000_000, 123_000_000));
    assert_eq!(store.stats().unwrap().last_sequence, 1);
    let next = rt
        .block_on(store.submit(sub("agencies/a/reports/2023", None, 0, "y")))
        .unwrap();
    assert_eq!(next.revision.revision, 2);
    assert_eq!(store.changes(0, 10).unwrap()[1].sequence, 2);
}

#[test]
fn timestamps_before_the_epoch_are_normalised() {
    let t = timestamp(SystemTime::UNIX_EPOCH - Duration::from_millis(1500));
    assert_eq!((t.seconds, t.nanos), (-2, 500_000_000));
    let t = timestamp(SystemTime::UNIX_EPOCH - Duration::from_secs(3));
    assert_eq!((t.seconds, t.nanos), (-3, 0));
}

#[test]
fn concurrent_writers_are_all_made_durable() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let writers = 32;
    rt.block_on(async {
        let mut tasks = Vec::new();
        for i in 0..writers {
            let s = store.clone();
            tasks.push(tokio::spawn(async move {
                let n = format!("agencies/w{i}/reports/2023");
                s.submit(sub(&n, None, 0, &n)).await.unwrap();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    // How many flushes they shared depends on the machine; that writers asking during
    // a flush share the next one is shown step by step in `commit::tests`.
    assert!(store.inner.commit.completed() <= writers);
    assert_eq!(store.stats().unwrap().revisions, writers);
    assert!(store.fsck(false).unwrap().is_clean());
}

#[test]
fn revisions_encoded_in_parts_equal_their_whole_encoding() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let rt = rt();
    let mut s = sub("agencies/a/reports/2023", Some("320602"), 1, "parts");
    s.request_id = Some("r".into());
    let out = rt.block_on(store.submit(s)).unwrap();
    let (encoded, _) = store
        .get_encoded(&name("agencies/a/reports/2023"), None)
        .unwrap();
    assert_eq!(&*encoded, out.revision.encode_to_vec().as_slice());
    let (rev, _) = store
        .get(&name("agencies/a/reports/2023"), Some(1))
        .unwrap();
    assert_eq!(rev, out.revision);
    let w = write::encode_revision(b"", 300, "\"e\"", b"");
    let whole = ReportRevision {
        revision: 300,
        etag: "\"e\"".into(),
        ..Default::default()
    };
    assert_eq!(w, whole.encode_to_vec());
}

#[test]
fn writes_and_reads_keep_inside_their_scope() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let rt = rt();
    let nantong = Scope::new(["3206"]).unwrap();
    let beijing = sub("agencies/bj/reports/2023", Some("110101"), 0, "bj");
    let refused = rt.block_on(store.submit(Submission {
        within: Some(nantong.clone()),
        ..beijing.clone()
    }));
    assert!(
        matches!(&refused, Err(StoreError::OutsideScope { why, .. }) if why.contains("110101")),
        "{refused:?}"
    );
    assert!(
        store
            .state(&name("agencies/bj/reports/2023"))
            .unwrap()
            .is_none(),
        "nothing written"
    );
    let national = sub("agencies/nat/reports/2023", None, 0, "nat");
    let refused = rt.block_on(store.submit(Submission {
        within: Some(nantong.clone()),
        ..national
    }));
    assert!(
        matches!(refused, Err(StoreError::OutsideScope { .. })),
        "no code: national only"
    );

    // Stored by a national writer, the Beijing report cannot be taken over by a
    // Nantong writer claiming a Nantong code for it.
    rt.block_on(store.submit(beijing)).unwrap();
    let hijack = sub("agencies/bj/reports/2023", Some("320602"), 0, "hijack");
    let refused = rt.block_on(store.submit(Submission {
        within: Some(nantong.clone()),
        ..hijack
    }));
    assert!(
        matches!(&refused, Err(StoreError::OutsideScope { why, .. }) if why.contains("already stored")),
        "{refused:?}"
    );
    let ours = sub("agencies/nt/reports/2023", Some("320602"), 0, "nt");
    rt.block_on(store.submit(Submission {
        within: Some(nantong.clone()),
        ..ours
    }))
    .unwrap();

    let bj = name("agencies/bj/reports/2023");
    let nt = name("agencies/nt/reports/2023");
    assert!(store.exists_within(&nt, &nantong).unwrap());
    assert!(!store.exists_within(&bj, &nantong).unwrap());
    assert!(store.exists_within(&bj, &Scope::national()).unwrap());
    assert!(store.get_encoded_within(&nt, None, &nantong).is_ok());
    // Outside the scope is exactly "does not exist".
    let hidden = store.get_encoded_within(&bj, None, &nantong).unwrap_err();
    let missing = store
        .get_encoded_within(&name("agencies/none/reports/2023"), None, &nantong)
        .unwrap_err();
    assert!(matches!(hidden, StoreError::NotFound { .. }), "{hidden:?}");
    assert!(matches!(missing, StoreError::NotFound { .. }));
    assert!(store
        .get_encoded_within(&bj, None, &Scope::national())
        .is_ok());

    let listed = |within: Option<Scope>| {
        let f = ListFilter {
            within,
            ..Default::default()
        };
        let page = store.list(&f, None, 10).unwrap();
        page.items
            .into_iter()
            .map(|l| l.name.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(listed(Some(nantong.clone())), ["agencies/nt/reports/2023"]);
    assert_eq!(listed(None).len(), 2);
    assert_eq!(
        listed(Some(Scope::new(["11"]).unwrap())),
        ["agencies/bj/reports/2023"]
    );
    // The change log carries each event's division, for scoped watchers.
    let divisions: Vec<String> = store
        .changes(0, 10)
        .unwrap()
        .into_iter()
        .map(|e| e.division_code)
        .collect();
    assert_eq!(divisions, ["110101", "320602"]);
}
