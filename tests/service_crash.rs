//! Crash test through the service: acknowledged gRPC writes survive SIGKILL of the
//! server.
//!
//! Each cycle starts the built binary (`nianbao serve`, plaintext on a free loopback
//! port, the same data directory every cycle), runs concurrent `SubmitReport` and
//! `WithdrawReport` calls from tonic clients (each with a unique request id), and
//! SIGKILLs the server at a random moment (seeded `fastrand`: after the cycle's first
//! acknowledged write, a random number of further calls). Then, with the server down:
//! `nianbao fsck --data-dir` is clean, `nianbao audit verify` passes, every
//! acknowledged write's audit record is in `nianbao audit export --format json`
//! (matched by request id), and every acknowledged withdrawal is in the store's
//! change log. The server is restarted on the directory and every revision
//! acknowledged in the cycle is read back with `GetReport`, byte for byte equal to the
//! one the `SubmitReport` response carried; after the last cycle, every revision
//! acknowledged in the whole campaign is.
//!
//! `NIANBAO_SERVICE_CRASH_CYCLES` sets the cycles (3 by default; the documented long
//! campaign is 100), `NIANBAO_SERVICE_CRASH_SEED` the seed (printed either way). No
//! check depends on timing: the kill comes after a number of calls, and timeouts only
//! guard against hangs.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use prost::Message;
use tonic::transport::Channel;

use nianbao::pb::report_registry_client::ReportRegistryClient;
use nianbao::pb::{
    submit_report_request, Agency, AnnualReport, ChangeKind, FormatVersion, GetReportRequest,
    SubmitReportRequest, WithdrawReportRequest,
};
use nianbao::store::{Store, StoreConfig};

const BIN: &str = env!("CARGO_BIN_EXE_nianbao");
const CYCLES_ENV: &str = "NIANBAO_SERVICE_CRASH_CYCLES";
const SEED_ENV: &str = "NIANBAO_SERVICE_CRASH_SEED";
const DEFAULT_CYCLES: usize = 3;
const CLIENTS: usize = 6;
/// Report names the clients write to (few, so that withdrawals find reports).
const AGENCIES: u64 = 16;
/// A guard against hangs, never a measure.
const GUARD: Duration = Duration::from_secs(120);

/// A running `nianbao serve`, killed and waited for when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `nianbao serve` on a free loopback port and waits for its "serving" line.
    fn start(data: &Path) -> Server {
        let mut child = Command::new(BIN)
            .arg("serve")
            .args(["--addr", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .env("RUST_LOG", "info")
            .env_remove("NIANBAO_LOG_FORMAT")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start nianbao serve");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            lines,
            seen: Vec::new(),
        };
        let line = loop {
            match server.lines.recv_timeout(GUARD) {
                Ok(line) if line.contains("serving nianbao.v1") => break line,
                Ok(line) => server.seen.push(line),
                Err(e) => panic!(
                    "nianbao serve did not start ({e}); it said:\n{}",
                    server.seen.join("\n")
                ),
            }
        };
        server.addr = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("addr="))
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        server
    }

    /// SIGKILL, and wait for the process to be gone.
    fn kill(mut self) {
        self.child.kill().expect("SIGKILL the server");
        self.child.wait().expect("wait for the killed server");
    }
}

/// An acknowledged submission: the revision as the response carried it.
#[derive(Debug, Clone)]
struct AckedRevision {
    name: String,
    revision: u32,
    encoded: Vec<u8>,
    request_id: String,
}

/// An acknowledged withdrawal: the state the response carried.
#[derive(Debug, Clone)]
struct AckedWithdrawal {
    name: String,
    revision: u32,
    etag: String,
    request_id: String,
}

#[derive(Default)]
struct Acks {
    revisions: Vec<AckedRevision>,
    withdrawals: Vec<AckedWithdrawal>,
}

fn report(agency: &str, n: u64) -> AnnualReport {
    AnnualReport {
        title: format!("{agency} 2023年政府信息公开工作年度报告 第{n}稿"),
        year: 2023,
        format_version: FormatVersion::V2021 as i32,
        agency: Some(Agency {
            name: format!("{agency}人民政府办公室"),
            division_code: Some("350128".to_string()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// One client: submits (and now and then withdraws) until `stop`, recording what was
/// acknowledged; counts its calls in `calls`.
async fn client(
    channel: Channel,
    seed: u64,
    tag: String,
    acks: Arc<Mutex<Acks>>,
    calls: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut registry = ReportRegistryClient::new(channel);
    let mut n = 0u64;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let request_id = format!("{tag}-{n}");
        let agency = format!("svc-crash-{}", rng.u64(..AGENCIES));
        let name = format!("agencies/{agency}/reports/2023");
        if rng.u64(..6) == 0 {
            let request = WithdrawReportRequest {
                name: name.clone(),
                reason: format!("crash test {request_id}"),
                etag: String::new(),
                request_id: request_id.clone(),
            };
            if let Ok(response) = registry.withdraw_report(request).await {
                let state = response.into_inner().state.expect("a state");
                let revision = state.withdrawal.as_ref().expect("a withdrawal").revision;
                acks.lock().unwrap().withdrawals.push(AckedWithdrawal {
                    name,
                    revision,
                    etag: state.etag,
                    request_id,
                });
            }
        } else {
            let request = SubmitReportRequest {
                input: Some(submit_report_request::Input::Report(report(&agency, n))),
                agency_id: agency.clone(),
                request_id: request_id.clone(),
                ..Default::default()
            };
            if let Ok(response) = registry.submit_report(request).await {
                let response = response.into_inner();
                assert!(!response.replayed, "a new request id is never a replay");
                let revision = response.revision.expect("a revision");
                acks.lock().unwrap().revisions.push(AckedRevision {
                    name,
                    revision: revision.revision,
                    encoded: revision.encode_to_vec(),
                    request_id,
                });
            }
        }
        calls.fetch_add(1, Ordering::SeqCst);
    }
}

/// Runs a nianbao subcommand to completion; its stdout when it succeeded.
fn nianbao(args: &[&str], data: &Path) -> String {
    let out = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .output()
        .expect("run nianbao");
    assert!(
        out.status.success(),
        "nianbao {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// The request ids of the audit trail, from `nianbao audit export --format json`.
fn audited_request_ids(data: &Path) -> BTreeSet<String> {
    nianbao(&["audit", "export", "--format", "json"], data)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON audit record");
            v.get("requestId")
                .and_then(|id| id.as_str())
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

/// With the server down: fsck clean, the audit chain intact with every acknowledged
/// write's record, every acknowledged withdrawal in the change log.
fn check_offline(data: &Path, acks: &Acks) {
    nianbao(&["fsck"], data);
    let verified = nianbao(&["audit", "verify"], data);
    assert!(verified.contains("chain intact"), "{verified}");
    let audited = audited_request_ids(data);
    let missing: Vec<&str> = acks
        .revisions
        .iter()
        .map(|a| a.request_id.as_str())
        .chain(acks.withdrawals.iter().map(|a| a.request_id.as_str()))
        .filter(|id| !audited.contains(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged writes without their audit record: {missing:?}"
    );
    // The change log is the durable record of withdrawals (a later submission may
    // have reinstated the report since): read it with the library, the server down.
    let store = Store::open(&StoreConfig::new(data)).expect("open the store");
    let withdrawn: BTreeSet<(String, u32, String)> = store
        .changes(0, usize::MAX)
        .expect("the change log")
        .into_iter()
        .filter(|c| c.kind == ChangeKind::Withdrawn as i32)
        .map(|c| (c.name, c.revision, c.etag))
        .collect();
    for w in &acks.withdrawals {
        assert!(
            withdrawn.contains(&(w.name.clone(), w.revision, w.etag.clone())),
            "acknowledged withdrawal {w:?} is not in the change log"
        );
    }
}

/// With the server up: every revision in `revisions` reads back byte for byte.
async fn check_revisions(channel: Channel, revisions: &[AckedRevision]) {
    let mut registry = ReportRegistryClient::new(channel);
    for a in revisions {
        let got = registry
            .get_report(GetReportRequest {
                name: a.name.clone(),
                revision: a.revision,
            })
            .await
            .unwrap_or_else(|s| panic!("acknowledged {} r{} unreadable: {s}", a.name, a.revision))
            .into_inner()
            .revision
            .expect("a revision");
        assert!(
            got.encode_to_vec() == a.encoded,
            "{} revision {} differs from the acknowledged one",
            a.name,
            a.revision
        );
    }
}

async fn connect(addr: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("a URI")
        .connect_timeout(GUARD)
        .connect()
        .await
        .expect("connect to the server")
}

#[test]
fn acknowledged_grpc_writes_survive_sigkill() {
    let cycles: usize = std::env::var(CYCLES_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CYCLES);
    let seed: u64 = std::env::var(SEED_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    eprintln!("service crash campaign: {cycles} cycles, {SEED_ENV}={seed}");
    let mut rng = fastrand::Rng::with_seed(seed);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let data = dir.path().join("data");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let started = Instant::now();
    let mut all = Acks::default();
    for cycle in 0..cycles {
        let server = Server::start(&data);
        let channel = rt.block_on(connect(server.addr));
        let acks = Arc::new(Mutex::new(Acks::default()));
        let calls = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                rt.spawn(client(
                    channel.clone(),
                    rng.u64(..),
                    format!("s{seed}-c{cycle}-w{c}"),
                    acks.clone(),
                    calls.clone(),
                    stop.clone(),
                ))
            })
            .collect();
        // The kill: after the cycle's first acknowledged write, then after a random
        // number of further calls (0 kills at once).
        let extra = rng.u64(..48);
        let guard = Instant::now();
        let mut target = None;
        loop {
            let done = calls.load(Ordering::SeqCst);
            let acked = {
                let a = acks.lock().unwrap();
                a.revisions.len() + a.withdrawals.len()
            };
            match target {
                None if acked > 0 => target = Some(done + extra),
                Some(t) if done >= t => break,
                _ => {}
            }
            assert!(guard.elapsed() < GUARD, "the clients make no progress");
            // Polling, not timing: the kill is decided by the count of calls.
            std::thread::sleep(Duration::from_millis(1));
        }
        server.kill();
        stop.store(true, Ordering::SeqCst);
        for c in clients {
            rt.block_on(c).expect("a client task");
        }
        drop(channel);
        let acks = std::mem::take(&mut *acks.lock().unwrap());
        check_offline(&data, &acks);
        let server = Server::start(&data);
        let channel = rt.block_on(connect(server.addr));
        rt.block_on(check_revisions(channel, &acks.revisions));
        server.kill();
        all.revisions.extend(acks.revisions);
        all.withdrawals.extend(acks.withdrawals);
    }
    // Every acknowledged write of the campaign, once more.
    check_offline(&data, &all);
    let server = Server::start(&data);
    let channel = rt.block_on(connect(server.addr));
    rt.block_on(check_revisions(channel, &all.revisions));
    server.kill();
    eprintln!(
        "service crash campaign: {cycles} cycles, {} submissions and {} withdrawals \
         acknowledged, all present; {:.1} s",
        all.revisions.len(),
        all.withdrawals.len(),
        started.elapsed().as_secs_f64()
    );
}
