//! Opening a store: another process holding it, a newer schema, and damaged or foreign
//! files all give typed errors, never a panic.

mod store_common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use nianbao::store::{Store, StoreConfig, StoreError, SCHEMA_VERSION};
use store_common::{corpus_report, submission, ChildProcess};

const DIR_ENV: &str = "NIANBAO_LOCK_DIR";

fn config(dir: &Path) -> StoreConfig {
    StoreConfig::new(dir.join("store"))
}

/// The store's sled database, opened directly.
fn raw_sled(dir: &Path) -> sled::Db {
    sled::Config::new()
        .path(dir.join("store"))
        .segment_size(nianbao::store::DEFAULT_SEGMENT_SIZE)
        .open()
        .unwrap()
}

/// A store with a few reports in it, closed again.
fn make_store(dir: &Path) {
    let template = corpus_report();
    let store = Store::open(&config(dir)).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for i in 0..20 {
        let s = submission(&template, &format!("a{i}"), 2023, Some("320602"), 0, "x");
        rt.block_on(store.submit(s)).unwrap();
    }
}

/// Not a test of its own: the process that holds the store open for
/// `a_store_open_in_another_process_is_locked`. Without `NIANBAO_LOCK_DIR` it returns.
#[test]
fn child_holds_store_open() {
    let Some(dir) = std::env::var_os(DIR_ENV).map(PathBuf::from) else {
        return;
    };
    let _store = Store::open(&config(&dir)).unwrap();
    // On a line of its own, after the harness's "test ... " prefix.
    println!("\nOPEN");
    // Until the parent kills us (or gives up).
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn a_store_open_in_another_process_is_locked() {
    let tmp = tempfile::tempdir().unwrap();
    make_store(tmp.path());
    let child = ChildProcess::spawn("child_holds_store_open", &[(DIR_ENV, tmp.path())]);
    child.wait_for("OPEN", Duration::from_secs(60));
    match Store::open(&config(tmp.path())) {
        Err(e @ StoreError::Locked { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains("in use by another process") && msg.contains("store"),
                "unclear message: {msg}"
            );
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    child.kill();
    // The lock goes with the process.
    let store = Store::open(&config(tmp.path())).unwrap();
    assert_eq!(store.stats().unwrap().reports, 20);
}

#[test]
fn a_newer_schema_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    make_store(tmp.path());
    {
        let db = raw_sled(tmp.path());
        let meta = db.open_tree("meta").unwrap();
        meta.insert("schema_version", &(SCHEMA_VERSION + 1).to_be_bytes())
            .unwrap();
        db.flush().unwrap();
    }
    match Store::open(&config(tmp.path())) {
        Err(
            e @ StoreError::NewerSchema {
                found, supported, ..
            },
        ) => {
            assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
            assert!(e.to_string().contains("newer"), "{e}");
        }
        other => panic!("expected NewerSchema, got {other:?}"),
    }
}

#[test]
fn a_foreign_sled_database_is_not_taken_over() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let db = raw_sled(tmp.path());
        db.open_tree("users").unwrap().insert("k", "v").unwrap();
        db.flush().unwrap();
    }
    match Store::open(&config(tmp.path())) {
        Err(StoreError::Corrupt { detail }) => assert!(detail.contains("users"), "{detail}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn a_file_in_place_of_the_store_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("store"), b"not a directory").unwrap();
    assert!(matches!(
        Store::open(&config(tmp.path())),
        Err(StoreError::Corrupt { .. })
    ));
}

/// Opens a damaged store; it must fail with a typed error or, where sled recovers
/// (a cut tail loses only unflushed data), open to a store that reads and checks.
fn open_damaged(dir: &Path, what: &str) -> Option<StoreError> {
    let result = std::panic::catch_unwind(|| Store::open(&config(dir)));
    match result {
        Err(_) => panic!("{what}: Store::open panicked"),
        Ok(Err(e)) => {
            eprintln!("{what}: {e}");
            assert!(
                matches!(
                    e,
                    StoreError::Corrupt { .. }
                        | StoreError::Incompatible { .. }
                        | StoreError::Io { .. }
                        | StoreError::Storage { .. }
                ),
                "{what}: {e:?}"
            );
            Some(e)
        }
        Ok(Ok(store)) => {
            eprintln!("{what}: opened (sled recovered what it could)");
            // Whatever it reads must be typed results, not panics.
            let _ = store.fsck(false);
            let _ = store.list(&Default::default(), None, 100);
            None
        }
    }
}

#[test]
fn garbage_files_give_typed_errors() {
    let garbage: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();

    // A `db` file of garbage, no config.
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("store")).unwrap();
    std::fs::write(tmp.path().join("store/db"), &garbage).unwrap();
    let e = open_damaged(tmp.path(), "garbage db");
    assert!(e.is_some(), "a db file of garbage opened");

    // A garbage `conf` beside a real store.
    let tmp = tempfile::tempdir().unwrap();
    make_store(tmp.path());
    std::fs::write(tmp.path().join("store/conf"), &garbage[..500]).unwrap();
    let e = open_damaged(tmp.path(), "garbage conf");
    assert!(e.is_some(), "a garbage conf opened");

    // Garbage over the start of a real store's `db` file.
    let tmp = tempfile::tempdir().unwrap();
    make_store(tmp.path());
    overwrite(&tmp.path().join("store/db"), 0, &garbage[..4096]);
    let e = open_damaged(tmp.path(), "garbage over the db header");
    assert!(e.is_some(), "a db with a garbage header opened");

    // Garbage in the middle, and a cut tail: sled recovers the log up to the damage,
    // which loses acknowledged changes; the store notices.
    let tmp = tempfile::tempdir().unwrap();
    make_store(tmp.path());
    let db = tmp.path().join("store/db");
    let len = std::fs::metadata(&db).unwrap().len();
    overwrite(&db, len / 2, &garbage[..8192]);
    let e = open_damaged(tmp.path(), "garbage in the middle of db");
    assert!(
        e.as_ref()
            .is_some_and(|e| e.to_string().contains("acknowledged")),
        "{e:?}"
    );

    let tmp = tempfile::tempdir().unwrap();
    make_store(tmp.path());
    let db = tmp.path().join("store/db");
    let len = std::fs::metadata(&db).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&db)
        .unwrap()
        .set_len(len * 2 / 3)
        .unwrap();
    let e = open_damaged(tmp.path(), "truncated db");
    assert!(
        e.as_ref()
            .is_some_and(|e| e.to_string().contains("acknowledged")),
        "{e:?}"
    );

    // Snapshot files of garbage.
    let tmp = tempfile::tempdir().unwrap();
    make_store(tmp.path());
    for entry in std::fs::read_dir(tmp.path().join("store")).unwrap() {
        let p = entry.unwrap().path();
        if p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("snap.")
        {
            std::fs::write(&p, &garbage[..3000]).unwrap();
        }
    }
    std::fs::write(
        tmp.path().join("store/snap.0000000000000001"),
        &garbage[..3000],
    )
    .unwrap();
    let e = open_damaged(tmp.path(), "garbage snapshot");
    assert!(e.is_some(), "a garbage snapshot opened");

    // A damaged durable-sequence file.
    let tmp = tempfile::tempdir().unwrap();
    make_store(tmp.path());
    std::fs::write(tmp.path().join("store/nianbao.durable"), b"garbage!").unwrap();
    let e = open_damaged(tmp.path(), "garbage nianbao.durable");
    assert!(e.is_some(), "a damaged nianbao.durable opened");
}

fn overwrite(path: &Path, at: u64, bytes: &[u8]) {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(bytes).unwrap();
    f.sync_all().unwrap();
}

/// Closing a store (dropping its last handle) returns once its lock is free: sled's
/// IO threads may hold its file a moment after the database is dropped, and without
/// the wait an open right after a close was refused as "in use" in about 1 of 100
/// rounds on a busy machine.
#[test]
fn a_closed_store_opens_again_at_once() {
    let template = corpus_report();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    for round in 0..100 {
        let store = match Store::open(&config(tmp.path())) {
            Ok(s) => s,
            Err(e) => panic!("round {round}: the store closed in the round before: {e}"),
        };
        for i in 0..3 {
            let s = submission(
                &template,
                &format!("r{i}"),
                2023,
                None,
                0,
                &format!("{round}"),
            );
            rt.block_on(store.submit(s)).unwrap();
        }
    }
}
