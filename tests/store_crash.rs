//! Crash test: acknowledged writes survive SIGKILL.
//!
//! The parent re-runs this test binary as a child process selecting
//! `child_writer_process` with `NIANBAO_CRASH_DIR` set. The child opens the store in
//! that directory and submits (and now and then withdraws) reports from several tokio
//! tasks, each write with an audit entry of a unique request id, and now and then
//! appends a batch of read records and flushes, printing one line per *acknowledged*
//! write: `ACK <name> <revision> <sha256 of the encoded revision> <audit id>`,
//! `WITHDRAWN <name> <revision> <state etag> <audit id>` or `READ <audit id>`. The
//! parent kills it with SIGKILL after a random delay, reopens the store, and checks that
//! every acknowledged revision is there byte for byte, every acknowledged withdrawal is
//! recorded, the change log has no gaps, fsck finds nothing, the audit chain verifies
//! and every acknowledged audit record is in it. The same directory
//! serves every cycle, so each child continues from the state the previous crash left.

mod store_common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use nianbao::names::{AgencyId, ReportName};
use nianbao::pb::{AnnualReport, ValidationResult};
use nianbao::store::{AuditEntry, Store, StoreConfig, StoreError, WithdrawRequest};
use prost::Message;
use store_common::{corpus_report, sha256_hex, submission, ChildProcess};

const DIR_ENV: &str = "NIANBAO_CRASH_DIR";
/// Kill cycles: `NIANBAO_CRASH_CYCLES`, else a short campaign for the developer's
/// loop (CI runs a longer one; any number can be asked for).
const DEFAULT_CYCLES: usize = 8;
const WRITERS: usize = 8;

fn audit_entry(id: &str, method: &str) -> AuditEntry {
    AuditEntry {
        time: SystemTime::now(),
        identity: "child".into(),
        peer: "127.0.0.1:1".into(),
        method: format!("/nianbao.v1.ReportRegistry/{method}"),
        resources: Vec::new(),
        request_id: id.to_string(),
        code: 0,
        reason: String::new(),
    }
}

fn config(dir: &Path) -> StoreConfig {
    // Small segments, so that the children's writes cross segment boundaries and
    // sled's segment cleaning runs during the test.
    let mut cfg = StoreConfig::new(dir.join("store"));
    cfg.segment_size = 256 * 1024;
    cfg
}

/// Not a test of its own: the writer process of `acknowledged_writes_survive_sigkill`.
/// Without `NIANBAO_CRASH_DIR` it returns at once.
#[test]
fn child_writer_process() {
    let Some(dir) = std::env::var_os(DIR_ENV).map(PathBuf::from) else {
        return;
    };
    let report =
        AnnualReport::decode(std::fs::read(dir.join("report.bin")).unwrap().as_slice()).unwrap();
    let validation = ValidationResult::decode(
        std::fs::read(dir.join("validation.bin"))
            .unwrap()
            .as_slice(),
    )
    .unwrap();
    let template = std::sync::Arc::new((report, validation));
    let store = Store::open(&config(&dir)).unwrap();
    // End the harness's "test ... " line: every ACK line starts a line.
    println!();
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        ^ u64::from(std::process::id());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut tasks = Vec::new();
        for w in 0..WRITERS {
            let store = store.clone();
            let template = template.clone();
            tasks.push(tokio::spawn(async move {
                let mut rng = fastrand::Rng::with_seed(seed.wrapping_add(w as u64 * 0x9e37_79b9));
                let started = Instant::now();
                let mut calls = 0u64;
                // Stop on our own if nobody kills us (a broken parent).
                while started.elapsed() < Duration::from_secs(60) {
                    calls += 1;
                    let audit_id = format!("{seed}-{w}-{calls}");
                    if rng.u64(..8) == 0 {
                        // Read records: appended, then made durable by a flush.
                        let batch = (0..3)
                            .map(|i| audit_entry(&format!("{audit_id}-{i}"), "GetReport"))
                            .collect();
                        store.append_audit(batch).await.expect("append_audit");
                        store.flush().await.expect("flush");
                        for i in 0..3 {
                            println!("READ {audit_id}-{i}");
                        }
                        continue;
                    }
                    let agency = format!("crash-{}", rng.u64(..24));
                    let year = 2020 + rng.u64(..3) as i32;
                    let name = ReportName::new(AgencyId::parse(&agency).unwrap(), year).unwrap();
                    if rng.u64(..10) == 0 {
                        match store
                            .withdraw(WithdrawRequest {
                                name: name.clone(),
                                reason: "crash test".into(),
                                by: "child".into(),
                                expected_etag: None,
                                request_id: None,
                                audit: Some(audit_entry(&audit_id, "WithdrawReport")),
                                read_scope: None,
                                write_scope: None,
                            })
                            .await
                        {
                            Ok(out) => println!(
                                "WITHDRAWN {name} {} {} {audit_id}",
                                out.state.latest_revision, out.state.etag
                            ),
                            Err(
                                StoreError::NotFound { .. } | StoreError::AlreadyWithdrawn { .. },
                            ) => {}
                            Err(e) => panic!("withdraw: {e}"),
                        }
                        continue;
                    }
                    let division = format!("3{}06{:02}", rng.u64(..4), rng.u64(..20));
                    let mut s = submission(
                        &template,
                        &agency,
                        year,
                        Some(&division),
                        rng.u64(..2) as u32,
                        &format!("{seed} {w} {}", rng.u64(..)),
                    );
                    if rng.u64(..4) == 0 {
                        s.request_id = Some(format!("{seed}-{w}-{}", rng.u64(..)));
                    }
                    s.audit = Some(audit_entry(&audit_id, "SubmitReport"));
                    let out = store.submit(s).await.expect("submit");
                    let rev = out.revision;
                    // One write(2) per line: a kill cannot interleave half lines.
                    println!(
                        "ACK {} {} {} {audit_id}",
                        rev.name,
                        rev.revision,
                        sha256_hex(&rev.encode_to_vec())
                    );
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
}

#[derive(Default)]
struct Acknowledged {
    /// (name, revision) → SHA-256 of the encoded revision.
    revisions: BTreeMap<(String, u32), String>,
    /// (name, revision) → state etag after the withdrawal.
    withdrawals: BTreeMap<(String, u32), String>,
    /// Request ids of the acknowledged audit records → the report a write named.
    audit: BTreeMap<String, Option<String>>,
}

impl Acknowledged {
    fn take(&mut self, lines: Vec<String>) -> usize {
        let mut n = 0;
        for line in lines {
            let parts: Vec<&str> = line.split(' ').collect();
            match parts.as_slice() {
                ["ACK", name, rev, sha, audit] => {
                    let key = (name.to_string(), rev.parse().unwrap());
                    let old = self.revisions.insert(key, sha.to_string());
                    assert!(old.is_none(), "revision acknowledged twice: {line}");
                    self.audit.insert(audit.to_string(), Some(name.to_string()));
                    n += 1;
                }
                ["WITHDRAWN", name, rev, etag, audit] => {
                    self.withdrawals
                        .insert((name.to_string(), rev.parse().unwrap()), etag.to_string());
                    self.audit.insert(audit.to_string(), Some(name.to_string()));
                    n += 1;
                }
                ["READ", audit] => {
                    self.audit.insert(audit.to_string(), None);
                }
                _ => {} // the test harness's own output
            }
        }
        n
    }

    fn verify(&self, store: &Store, cycle: usize) {
        for ((name, rev), sha) in &self.revisions {
            let n: ReportName = name.parse().unwrap();
            let (got, _) = store.get(&n, Some(*rev)).unwrap_or_else(|e| {
                panic!("cycle {cycle}: acknowledged {name} revision {rev} lost: {e}")
            });
            assert_eq!(
                &sha256_hex(&got.encode_to_vec()),
                sha,
                "cycle {cycle}: {name} revision {rev} differs from what was acknowledged"
            );
        }
        for ((name, rev), etag) in &self.withdrawals {
            let n: ReportName = name.parse().unwrap();
            let state = store.state(&n).unwrap().expect("withdrawn report exists");
            // Either still withdrawn at that revision, or a later revision followed.
            let kept = match &state.withdrawal {
                Some(w) if w.revision == *rev => &state.etag == etag,
                _ => state.latest_revision > *rev,
            };
            assert!(
                kept,
                "cycle {cycle}: acknowledged withdrawal of {name} at {rev} lost: {state:?}"
            );
        }
        let chain = store.verify_audit().unwrap();
        assert!(chain.is_intact(), "cycle {cycle}: audit chain: {chain:?}");
        let stored: BTreeMap<String, Vec<String>> = store
            .audit_records(0)
            .map(|r| {
                let r = r.unwrap();
                (r.request_id, r.resources)
            })
            .collect();
        assert_eq!(
            stored.len() as u64,
            chain.records,
            "cycle {cycle}: audit ids repeat"
        );
        for (id, name) in &self.audit {
            let resources = stored
                .get(id)
                .unwrap_or_else(|| panic!("cycle {cycle}: acknowledged audit record {id} lost"));
            if let Some(name) = name {
                assert!(
                    resources.contains(name),
                    "cycle {cycle}: {id}: {resources:?}"
                );
            }
        }
    }
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (report, validation) = corpus_report();
    std::fs::write(dir.join("report.bin"), report.encode_to_vec()).unwrap();
    std::fs::write(dir.join("validation.bin"), validation.encode_to_vec()).unwrap();
    let seed = std::env::var("NIANBAO_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("crash test seed {seed} (NIANBAO_CRASH_SEED reruns it)");
    let mut rng = fastrand::Rng::with_seed(seed);
    let cycles = std::env::var("NIANBAO_CRASH_CYCLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_CYCLES);
    eprintln!("{cycles} kill cycles (NIANBAO_CRASH_CYCLES sets them)");
    let mut acked = Acknowledged::default();
    let started = Instant::now();
    for cycle in 0..cycles {
        let child = ChildProcess::spawn("child_writer_process", &[(DIR_ENV, dir)]);
        // Let it acknowledge something, then kill it at a random moment.
        let first = child.wait_for("ACK ", Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(rng.u64(..250)));
        let rest = child.kill();
        let n = acked.take(first) + acked.take(rest);
        let store = Store::open(&config(dir))
            .unwrap_or_else(|e| panic!("cycle {cycle}: reopening after the kill: {e}"));
        acked.verify(&store, cycle);
        let fsck = store.fsck(false).unwrap();
        assert!(
            fsck.is_clean(),
            "cycle {cycle}: fsck after the kill: {:?}",
            fsck.problems
        );
        let stats = store.stats().unwrap();
        assert_eq!(fsck.revisions, stats.revisions);
        let events = store.changes(0, usize::MAX).unwrap();
        assert_eq!(events.len() as u64, stats.last_sequence);
        assert!(events
            .iter()
            .enumerate()
            .all(|(i, e)| e.sequence == i as u64 + 1));
        eprintln!(
            "cycle {cycle}: {n} acknowledged writes this cycle, store at {} revisions",
            stats.revisions
        );
    }
    assert!(
        acked.revisions.len() >= cycles,
        "only {} acknowledged revisions in {cycles} cycles",
        acked.revisions.len()
    );
    eprintln!(
        "{} revisions, {} withdrawals and {} audit records acknowledged and verified in {:?}",
        acked.revisions.len(),
        acked.withdrawals.len(),
        acked.audit.len(),
        started.elapsed()
    );
}
