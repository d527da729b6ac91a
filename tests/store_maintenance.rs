//! Backup and restore round trips, and fsck finding and repairing damaged indexes.

mod store_common;

use std::path::Path;

use nianbao::pb::{AnnualReport, ChangeEvent, ReportRevision, ReportState, ValidationResult};
use nianbao::store::{
    FsckReport, ListFilter, ListedReport, ProblemKind, Store, StoreConfig, StoreError,
    WithdrawRequest, DEFAULT_SEGMENT_SIZE,
};
use store_common::{corpus_report, submission};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn config(dir: &Path, name: &str) -> StoreConfig {
    StoreConfig::new(dir.join(name))
}

/// Fills a store with varied reports, revisions, withdrawals and request ids.
fn populate(
    store: &Store,
    rt: &tokio::runtime::Runtime,
    template: &(AnnualReport, ValidationResult),
) {
    let divisions = ["320602", "320611", "321002", "330106", "350128"];
    for i in 0..40usize {
        let agency = format!("agency-{}", i % 13);
        let year = 2020 + (i % 4) as i32;
        let mut s = submission(
            template,
            &agency,
            year,
            (i % 7 != 0).then_some(divisions[i % 5]),
            (i % 3 == 0) as u32,
            &i.to_string(),
        );
        if i % 5 == 0 {
            s.request_id = Some(format!("req-{i}"));
        }
        rt.block_on(store.submit(s)).unwrap();
        if i % 6 == 0 {
            let name: nianbao::names::ReportName =
                format!("agencies/{agency}/reports/{year}").parse().unwrap();
            rt.block_on(store.withdraw(WithdrawRequest {
                name,
                reason: "superseded".into(),
                by: "ops".into(),
                expected_etag: None,
                request_id: Some(format!("w-{i}")),
                audit: None,
                read_scope: None,
                write_scope: None,
            }))
            .unwrap();
        }
    }
}

/// Everything a client can observe.
#[derive(Debug)]
struct Observed {
    changes: Vec<ChangeEvent>,
    reports: Vec<(Vec<ReportRevision>, ReportState)>,
    lists: Vec<Vec<ListedReport>>,
    counts: (u64, u64, u64),
}

fn filters() -> Vec<ListFilter> {
    vec![
        ListFilter {
            include_withdrawn: true,
            ..Default::default()
        },
        ListFilter::default(),
        ListFilter {
            division_prefix: Some("32".into()),
            ..Default::default()
        },
        ListFilter {
            division_prefix: Some("3206".into()),
            year: Some(2021),
            include_withdrawn: true,
            ..Default::default()
        },
        ListFilter {
            has_errors: Some(true),
            ..Default::default()
        },
        ListFilter {
            year: Some(2022),
            ..Default::default()
        },
        ListFilter {
            agency: Some(nianbao::names::AgencyId::parse("agency-3").unwrap()),
            include_withdrawn: true,
            ..Default::default()
        },
    ]
}

/// Asserts two observations are equal, naming the first difference (not dumping both).
fn assert_same(got: &Observed, want: &Observed, what: &str) {
    assert_eq!(got.counts, want.counts, "{what}: counts");
    assert_eq!(
        got.changes.len(),
        want.changes.len(),
        "{what}: change count"
    );
    for (g, w) in got.changes.iter().zip(&want.changes) {
        assert_eq!(g, w, "{what}: change {}", w.sequence);
    }
    assert_eq!(
        got.reports.len(),
        want.reports.len(),
        "{what}: report count"
    );
    for (g, w) in got.reports.iter().zip(&want.reports) {
        assert_eq!(g.1, w.1, "{what}: state of {}", w.1.name);
        assert!(g.0 == w.0, "{what}: revisions of {} differ", w.1.name);
    }
    for (i, (g, w)) in got.lists.iter().zip(&want.lists).enumerate() {
        assert_eq!(g, w, "{what}: listing {:?}", filters()[i]);
    }
}

fn observe(store: &Store) -> Observed {
    let lists: Vec<Vec<ListedReport>> = filters()
        .iter()
        .map(|f| store.list(f, None, 10_000).unwrap().items)
        .collect();
    let reports = lists[0]
        .iter()
        .map(|l| {
            (
                store.revisions(&l.name).unwrap(),
                store.state(&l.name).unwrap().unwrap(),
            )
        })
        .collect();
    let stats = store.stats().unwrap();
    Observed {
        changes: store.changes(0, usize::MAX).unwrap(),
        reports,
        lists,
        counts: (stats.reports, stats.revisions, stats.last_sequence),
    }
}

#[test]
fn a_restored_backup_reads_exactly_like_the_original() {
    let tmp = tempfile::tempdir().unwrap();
    let template = corpus_report();
    let rt = rt();
    let store = Store::open(&config(tmp.path(), "original")).unwrap();
    populate(&store, &rt, &template);

    // An online backup while writers go on: it holds exactly the changes up to its
    // sequence number.
    let writer = {
        let store = store.clone();
        let template = template.clone();
        rt.spawn(async move {
            for i in 0..30 {
                let s = submission(&template, "busy", 2023, Some("320602"), 0, &i.to_string());
                store.submit(s).await.unwrap();
            }
        })
    };
    let during = tmp.path().join("during.nbk");
    let summary = store.backup(&during).unwrap();
    rt.block_on(writer).unwrap();
    let restored_during = Store::restore(&config(tmp.path(), "restored-during"), &during).unwrap();
    assert_eq!(restored_during.sequence, summary.sequence);
    {
        let copy = Store::open(&config(tmp.path(), "restored-during")).unwrap();
        let want: Vec<ChangeEvent> = store.changes(0, summary.sequence as usize).unwrap();
        assert_eq!(copy.changes(0, usize::MAX).unwrap(), want);
        assert!(copy.fsck(false).unwrap().is_clean());
    }

    // A quiet backup: the restored store is indistinguishable from the original.
    let path = tmp.path().join("backup.nbk");
    let summary = store.backup(&path).unwrap();
    let before = observe(&store);
    assert_eq!(summary.sequence, before.counts.2);
    assert_eq!(summary.revisions, before.counts.1);
    assert!(summary.withdrawals > 0 && summary.idempotency_records > 0);
    assert_eq!(summary.bytes, std::fs::metadata(&path).unwrap().len());
    let restored = Store::restore(&config(tmp.path(), "copy"), &path).unwrap();
    assert_eq!(
        (restored.sequence, restored.revisions, restored.withdrawals),
        (summary.sequence, summary.revisions, summary.withdrawals)
    );
    let copy = Store::open(&config(tmp.path(), "copy")).unwrap();
    assert_same(&observe(&copy), &before, "restored copy");
    assert!(copy.fsck(false).unwrap().is_clean());
    // Request ids came along: a retry is a replay there too.
    let mut retry = submission(&template, "agency-0", 2020, None, 1, "0");
    retry.request_id = Some("req-0".into());
    let out = rt.block_on(copy.submit(retry)).unwrap();
    assert!(out.replayed);
    // And the copy goes on from where the original was.
    let next = rt
        .block_on(copy.submit(submission(&template, "new", 2023, None, 0, "n")))
        .unwrap();
    assert_eq!(
        copy.changes(before.counts.2, 10).unwrap()[0].sequence,
        before.counts.2 + 1
    );
    assert_eq!(next.revision.revision, 1);

    // A backup never overwrites a file.
    assert!(matches!(store.backup(&path), Err(StoreError::Io { .. })));
}

#[test]
fn restore_refuses_non_empty_stores_and_damaged_files() {
    let tmp = tempfile::tempdir().unwrap();
    let template = corpus_report();
    let rt = rt();
    let path = tmp.path().join("backup.nbk");
    {
        let store = Store::open(&config(tmp.path(), "original")).unwrap();
        populate(&store, &rt, &template);
        store.backup(&path).unwrap();
        // Into itself (not empty): refused, nothing changed.
        let before = observe(&store);
        drop(store);
        match Store::restore(&config(tmp.path(), "original"), &path) {
            Err(e @ StoreError::NotEmpty { .. }) => {
                assert!(e.to_string().contains("empty"), "{e}")
            }
            other => panic!("expected NotEmpty, got {other:?}"),
        }
        let store = Store::open(&config(tmp.path(), "original")).unwrap();
        assert_same(&observe(&store), &before, "after a refused restore");
    }

    let bytes = std::fs::read(&path).unwrap();
    let damaged = [
        ("flipped byte", {
            let mut b = bytes.clone();
            let i = b.len() / 2;
            b[i] ^= 0x40;
            b
        }),
        ("truncated", bytes[..bytes.len() * 2 / 3].to_vec()),
        ("no trailer", bytes[..bytes.len() - 60].to_vec()),
        ("trailing data", [&bytes[..], b"x"].concat()),
        (
            "not a backup",
            b"hello world, this is not a backup at all".to_vec(),
        ),
        ("empty", Vec::new()),
    ];
    for (what, b) in damaged {
        let file = tmp.path().join(format!("{what}.nbk"));
        std::fs::write(&file, b).unwrap();
        let target = config(tmp.path(), &format!("target-{what}"));
        match Store::restore(&target, &file) {
            Err(StoreError::InvalidBackup { .. }) => {}
            other => panic!("{what}: expected InvalidBackup, got {other:?}"),
        }
        // Nothing was written: the target is still empty and takes the good backup.
        Store::restore(&target, &path).unwrap_or_else(|e| panic!("{what}: {e}"));
    }
}

/// Opens the store's sled database directly, as a damaged disk or a bug might leave it.
fn raw_sled(dir: &Path) -> sled::Db {
    sled::Config::new()
        .path(dir)
        .segment_size(DEFAULT_SEGMENT_SIZE)
        .open()
        .unwrap()
}

fn kinds(r: &FsckReport) -> Vec<ProblemKind> {
    r.counts.keys().copied().collect()
}

#[test]
fn fsck_finds_and_repairs_damaged_indexes_and_heads() {
    let tmp = tempfile::tempdir().unwrap();
    let template = corpus_report();
    let rt = rt();
    let cfg = config(tmp.path(), "store");
    let before = {
        let store = Store::open(&cfg).unwrap();
        populate(&store, &rt, &template);
        let clean = store.fsck(false).unwrap();
        assert!(clean.is_clean(), "{:?}", clean.problems);
        assert_eq!(clean.revisions, 40);
        observe(&store)
    };
    {
        let db = raw_sled(&cfg.path);
        // A bogus division-index entry for a report that does not exist.
        let ghost = b"330106ghost\0\x80\0\x07\xe7".to_vec();
        db.open_tree("ix_division")
            .unwrap()
            .insert(ghost, &[])
            .unwrap();
        // A real year-index entry deleted.
        let ix_year = db.open_tree("ix_year").unwrap();
        let (first, _) = ix_year.iter().next().unwrap().unwrap();
        ix_year.remove(first).unwrap();
        // One head deleted, another one's withdrawal dropped.
        let heads = db.open_tree("heads").unwrap();
        let mut it = heads.iter();
        let (h1, _) = it.next().unwrap().unwrap();
        heads.remove(h1).unwrap();
        // (The last withdrawn report: the first one's head is gone already.)
        let withdrawn = before
            .reports
            .iter()
            .rev()
            .find(|(_, s)| s.withdrawal.is_some())
            .unwrap();
        let name: nianbao::names::ReportName = withdrawn.1.name.parse().unwrap();
        let mut key = name.agency.as_str().as_bytes().to_vec();
        key.push(0);
        key.extend_from_slice(&((name.year as u32) ^ 0x8000_0000).to_be_bytes());
        assert!(heads.get(&key).unwrap().is_some());
        // A head whose state (field 1) is empty: no revision, no etag, no withdrawal.
        heads.insert(&key, b"\x0a\x00".to_vec()).unwrap();
        // Counters gone wrong (sequence, reports, revisions).
        let meta = db.open_tree("meta").unwrap();
        let counters = [
            &50u64.to_be_bytes()[..],
            &999u64.to_be_bytes(),
            &40u64.to_be_bytes(),
        ]
        .concat();
        meta.insert("counters", counters).unwrap();
        // A revision pointer deleted.
        let revisions = db.open_tree("revisions").unwrap();
        let (r5, _) = revisions.iter().nth(5).unwrap().unwrap();
        revisions.remove(r5).unwrap();
        // An expiry entry without its request (dated in the future, or opening the
        // store would purge it as expired).
        db.open_tree("idem_expiry")
            .unwrap()
            .insert([&(u64::MAX / 2).to_be_bytes()[..], b"nobody"].concat(), &[])
            .unwrap();
        db.flush().unwrap();
    }
    let store = Store::open(&cfg).unwrap();
    let found = store.fsck(false).unwrap();
    assert!(!found.is_clean());
    for kind in [
        ProblemKind::BogusIndexEntry,
        ProblemKind::MissingIndexEntry,
        ProblemKind::MissingHead,
        ProblemKind::WrongHead,
        ProblemKind::Counter,
        ProblemKind::Idempotency,
        ProblemKind::RevisionPointer,
    ] {
        assert!(
            found.counts.contains_key(&kind),
            "{kind:?} not found: {:?}",
            kinds(&found)
        );
    }
    assert!(found.all_repairable(), "{:?}", found.problems);
    assert_eq!(found.repaired, 0, "a check alone repairs nothing");
    assert!(
        found
            .problems
            .iter()
            .any(|p| p.tree == "ix_division" && p.key.contains("ghost")),
        "{:?}",
        found.problems
    );
    // Still damaged: a check writes nothing.
    assert_eq!(store.fsck(false).unwrap().counts, found.counts);

    let repaired = store.fsck(true).unwrap();
    assert_eq!(repaired.counts, found.counts);
    assert!(repaired.repaired >= found.problem_count());
    let after = store.fsck(false).unwrap();
    assert!(after.is_clean(), "{:?}", after.problems);
    assert_same(&observe(&store), &before, "the repaired store");
}

#[test]
fn fsck_reports_damage_to_primary_data_as_unrepairable() {
    let tmp = tempfile::tempdir().unwrap();
    let template = corpus_report();
    let rt = rt();
    let cfg = config(tmp.path(), "store");
    {
        let store = Store::open(&cfg).unwrap();
        populate(&store, &rt, &template);
    }
    {
        let db = raw_sled(&cfg.path);
        let changes = db.open_tree("changes").unwrap();
        changes.remove(5u64.to_be_bytes()).unwrap();
        let bodies = db.open_tree("bodies").unwrap();
        let (k, _) = bodies.iter().nth(3).unwrap().unwrap();
        bodies.insert(k, b"\xff\xff not protobuf".to_vec()).unwrap();
        db.flush().unwrap();
    }
    let store = Store::open(&cfg).unwrap();
    let found = store.fsck(true).unwrap();
    assert!(
        found.counts.contains_key(&ProblemKind::ChangeLog),
        "{:?}",
        found.problems
    );
    assert!(
        found.counts.contains_key(&ProblemKind::Malformed),
        "{:?}",
        found.problems
    );
    assert!(!found.all_repairable());
    assert!(
        found
            .problems
            .iter()
            .any(|p| p.kind == ProblemKind::ChangeLog
                && !p.repairable
                && p.to_string().contains("changes")),
        "{:?}",
        found.problems
    );
    assert_eq!(
        found.repaired, 0,
        "repair writes nothing over damaged primary data"
    );
    // Repair cannot recreate primary data: still reported.
    let again = store.fsck(false).unwrap();
    assert!(again.counts.contains_key(&ProblemKind::ChangeLog));
}
