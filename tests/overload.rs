//! Overload against the built binary (`nianbao serve` with its defaults): 2,000
//! concurrent ValidateReport calls with real published reports from `tests/corpus/`.
//! Every call is either answered or refused at once (RESOURCE_EXHAUSTED with
//! RetryInfo), the server's peak memory (`VmHWM`) stays under 512 MiB and its threads
//! under 100 (the CPU work runs on its fixed pool, not on a thread per call), and it
//! serves normally afterwards.
//!
//! No test decides on wall-clock time: timeouts are guards against hangs. Threads are
//! read from `/proc/PID/status` while the calls run and once they are done (the pool's
//! threads exist from the start, so a pile of threads would be seen at any moment).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tonic::transport::Channel;
use tonic::Code;
use tonic_types::StatusExt;

use nianbao::pb::report_validator_client::ReportValidatorClient;
use nianbao::pb::{validate_report_request, PublishedText, ValidateReportRequest};

const BIN: &str = env!("CARGO_BIN_EXE_nianbao");
const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus");

/// A guard against hangs, never a measure.
const GUARD: Duration = Duration::from_secs(300);
const CALLS: usize = 2_000;
/// HTTP/2 connections the calls share (the server allows 256 streams on each).
const CONNECTIONS: usize = 10;
const MAX_RSS_KIB: u64 = 512 * 1024;
const MAX_THREADS: u64 = 100;

/// A running `nianbao serve`, killed and waited for when dropped.
struct Running {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `nianbao serve` with its defaults on a free loopback port and waits for its
/// "serving" line; the rest of its log is read and dropped.
fn start(data: &Path) -> Running {
    let mut child = Command::new(BIN)
        .arg("serve")
        .args(["--addr", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .env("RUST_LOG", "info")
        .env_remove("NIANBAO_LOG_FORMAT")
        .env_remove("NIANBAO_WORKERS")
        .env_remove("NIANBAO_WORK_QUEUE")
        .env_remove("NIANBAO_PARSE_BUDGET_MB")
        .env_remove("NIANBAO_MAX_IN_FLIGHT")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start nianbao serve");
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("serving nianbao.v1") {
                let _ = tx.send(line);
            }
        }
    });
    let line = lines
        .recv_timeout(GUARD)
        .expect("the server's serving line");
    let addr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("addr="))
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    Running { child, addr }
}

/// A field of `/proc/PID/status` (its number: kB, or a count).
fn status_field(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// The corpus's published texts (the `.txt` reports).
fn texts() -> Vec<(String, Vec<u8>)> {
    let mut texts: Vec<(String, Vec<u8>)> = std::fs::read_dir(CORPUS)
        .expect("the corpus")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .map(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            (
                name.unwrap_or_default(),
                std::fs::read(&p).expect("a report"),
            )
        })
        .collect();
    texts.sort();
    assert!(texts.len() >= 5, "the corpus has its reports");
    texts
}

fn request(name: &str, text: &[u8]) -> ValidateReportRequest {
    ValidateReportRequest {
        input: Some(validate_report_request::Input::Text(PublishedText {
            content: text.to_vec(),
            label: name.to_string(),
            ..Default::default()
        })),
        previous: None,
    }
}

/// What became of a call: answered, refused with RetryInfo, or something else (why).
enum Outcome {
    Ok,
    Refused,
    Other(String),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_concurrent_validations_are_served_or_refused_within_bounds() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = start(&dir.path().join("data"));
    let pid = server.child.id();
    let uri = format!("http://{}", server.addr);
    let mut channels = Vec::new();
    for _ in 0..CONNECTIONS {
        let channel = Channel::from_shared(uri.clone())
            .expect("a valid URI")
            .connect()
            .await
            .expect("connected");
        channels.push(channel);
    }

    // Threads, sampled while the calls run.
    let running = Arc::new(AtomicBool::new(true));
    let sampler = {
        let running = running.clone();
        std::thread::spawn(move || {
            let mut most = 0;
            while running.load(Ordering::Relaxed) {
                most = most.max(status_field(pid, "Threads:"));
                std::thread::sleep(Duration::from_millis(2));
            }
            most
        })
    };

    let texts = Arc::new(texts());
    let calls: Vec<_> = (0..CALLS)
        .map(|i| {
            let mut client = ReportValidatorClient::new(channels[i % CONNECTIONS].clone());
            let texts = texts.clone();
            tokio::spawn(async move {
                let (name, text) = &texts[i % texts.len()];
                match client.validate_report(request(name, text)).await {
                    Ok(r) if r.get_ref().result.is_some() => Outcome::Ok,
                    Ok(_) => Outcome::Other("an answer without a result".into()),
                    Err(s)
                        if s.code() == Code::ResourceExhausted
                            && s.get_error_details()
                                .retry_info()
                                .is_some_and(|r| r.retry_delay.is_some()) =>
                    {
                        Outcome::Refused
                    }
                    Err(s) => Outcome::Other(format!("{:?}: {}", s.code(), s.message())),
                }
            })
        })
        .collect();
    let (mut ok, mut refused, mut other) = (0, 0, Vec::new());
    for call in calls {
        match tokio::time::timeout(GUARD, call)
            .await
            .expect("a call ends")
            .expect("the call's task")
        {
            Outcome::Ok => ok += 1,
            Outcome::Refused => refused += 1,
            Outcome::Other(why) => other.push(why),
        }
    }
    running.store(false, Ordering::Relaxed);
    let most_threads = sampler
        .join()
        .expect("the sampler")
        .max(status_field(pid, "Threads:"));
    let peak_rss = status_field(pid, "VmHWM:");
    eprintln!(
        "{ok} answered, {refused} refused; peak RSS {} MiB, at most {most_threads} threads",
        peak_rss / 1024
    );

    assert!(
        other.is_empty(),
        "{} calls neither answered nor refused with RetryInfo, e.g. {:?}",
        other.len(),
        other.first()
    );
    assert_eq!(ok + refused, CALLS);
    assert!(ok > 0, "some calls were served");
    assert!(
        peak_rss < MAX_RSS_KIB,
        "peak RSS {} MiB, over {} MiB",
        peak_rss / 1024,
        MAX_RSS_KIB / 1024
    );
    assert!(
        most_threads < MAX_THREADS,
        "{most_threads} threads, not under {MAX_THREADS}"
    );

    // Healthy afterwards: SERVING, and a validation is answered.
    let mut health = tonic_health::pb::health_client::HealthClient::new(channels[0].clone());
    let serving = health
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .expect("health answers")
        .into_inner();
    assert_eq!(
        serving.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    let (name, text) = &texts[0];
    let answer = ReportValidatorClient::new(channels[0].clone())
        .validate_report(request(name, text))
        .await
        .expect("served after the storm")
        .into_inner();
    assert!(answer.result.is_some());
}
