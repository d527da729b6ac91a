//! Crash test: acknowledged writes survive SIGKILL.
//!
//! The parent re-runs this test binary as a child process selecting
//! `child_writer_process` with `NIANBAO_CRASH_DIR` set. The child opens the store in
//! that directory and submits (and now and then withdraws) reports from several tokio
//! tasks, printing one line per *acknowledged* write: `ACK <name> <revision> <sha256 of
//! the encoded revision>` or `WITHDRAWN <name> <revision> <state etag>`. The parent
//! kills it with SIGKILL after a random delay, reopens the store, and checks that every
//! acknowledged revision is there byte for byte, every acknowledged withdrawal is
//! recorded, the change log has no gaps, and fsck finds nothing. The same directory
//! serves every cycle, so each child continues from the state the previous crash left.

mod store_common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use nianbao::names::{AgencyId, ReportName};
use nianbao::pb::{AnnualReport, ValidationResult};
use nianbao::store::{Store, StoreConfig, StoreError, WithdrawRequest};
use prost::Message;
use store_common::{corpus_report, sha256_hex, submission, ChildProcess};

const DIR_ENV: &str = "NIANBAO_CRASH_DIR";
/// Kill cycles: `NIANBAO_CRASH_CYCLES`, else a short campaign for the developer's
/// loop (CI runs a longer one; any number can be asked for).
const DEFAULT_CYCLES: usize = 8;
const WRITERS: usize = 8;

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
                // Stop on our own if nobody kills us (a broken parent).
                while started.elapsed() < Duration::from_secs(60) {
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
                                audit: None,
                            })
                            .await
                        {
                            Ok(out) => println!(
                                "WITHDRAWN {name} {} {}",
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
                    let out = store.submit(s).await.expect("submit");
                    let rev = out.revision;
                    // One write(2) per line: a kill cannot interleave half lines.
                    println!(
                        "ACK {} {} {}",
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
}

impl Acknowledged {
    fn take(&mut self, lines: Vec<String>) -> usize {
        let mut n = 0;
        for line in lines {
            let parts: Vec<&str> = line.split(' ').collect();
            match parts.as_slice() {
                ["ACK", name, rev, sha] => {
                    let key = (name.to_string(), rev.parse().unwrap());
                    let old = self.revisions.insert(key, sha.to_string());
                    assert!(old.is_none(), "revision acknowledged twice: {line}");
                    n += 1;
                }
                ["WITHDRAWN", name, rev, etag] => {
                    self.withdrawals
                        .insert((name.to_string(), rev.parse().unwrap()), etag.to_string());
                    n += 1;
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
        "{} revisions and {} withdrawals acknowledged and verified in {:?}",
        acked.revisions.len(),
        acked.withdrawals.len(),
        started.elapsed()
    );
}
