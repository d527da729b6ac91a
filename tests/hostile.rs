//! Hostile clients against the built binary (`nianbao serve`): shutdown is bounded by
//! its grace period (and cut short by a second signal) even when clients stop reading,
//! mid-export or at the TCP level; silent connections are closed after the handshake
//! timeout and idle ones after the idle timeout; with the descriptor limit reached, the
//! accept loop backs off instead of spinning and the server recovers.
//!
//! No test decides on wall-clock time: timeouts are guards against hangs. The one
//! measure is the server's CPU time over the time it was under attack, bounded far
//! from both outcomes (a spinning accept loop uses a whole core, a backing-off one
//! almost nothing).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use bytes::Bytes;

const BIN: &str = env!("CARGO_BIN_EXE_nianbao");
const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus");

/// A guard against hangs, never a measure.
const GUARD: Duration = Duration::from_secs(120);

/// A running `nianbao serve`, killed and waited for when dropped.
struct Running {
    child: Child,
    addr: SocketAddr,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    /// Waits for a log line containing `text` (a guard against hangs only).
    fn wait_for_line(&mut self, text: &str) -> String {
        if let Some(line) = self.seen.iter().find(|l| l.contains(text)) {
            return line.clone();
        }
        loop {
            match self.lines.recv_timeout(GUARD) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(e) => panic!(
                    "no line with {text:?} ({e}); the server said:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Waits for the process to exit (a guard against hangs only) and reads the rest of
    /// its log.
    fn wait_for_exit(&mut self) -> std::process::ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the server") {
                while let Ok(line) = self.lines.recv_timeout(GUARD) {
                    self.seen.push(line);
                }
                return status;
            }
            assert!(
                started.elapsed() < GUARD,
                "the server did not exit; it said:\n{}",
                self.seen.join("\n")
            );
            while let Ok(line) = self.lines.try_recv() {
                self.seen.push(line);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// Starts `nianbao serve` on a free loopback port (under `prefix`, a command the
/// server is run by, such as `prlimit`) and waits for its "serving" line.
fn start(prefix: &[&str], data: &Path, args: &[&str]) -> Running {
    let mut cmd = match prefix.split_first() {
        Some((program, rest)) => {
            let mut cmd = Command::new(program);
            cmd.args(rest).arg(BIN);
            cmd
        }
        None => Command::new(BIN),
    };
    cmd.arg("serve")
        .args(["--addr", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .args(args)
        .env("RUST_LOG", "info")
        .env_remove("NIANBAO_LOG_FORMAT")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start nianbao serve");
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut running = Running {
        child,
        addr: SocketAddr::from(([0, 0, 0, 0], 0)),
        lines,
        seen: Vec::new(),
    };
    let line = running.wait_for_line("serving nianbao.v1");
    running.addr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("addr="))
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    running
}

/// A store with a few reports, for exports.
fn seeded_store(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    let files = [
        "002_pingtan_2020.txt",
        "003_pingtan_2021.txt",
        "004_pingtan_2022.txt",
    ];
    let out = Command::new(BIN)
        .args(["import", "--agency", "pingtan", "--data-dir"])
        .arg(&data)
        .args(files.iter().map(|f| Path::new(CORPUS).join(f)))
        .output()
        .expect("run nianbao import");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    data
}

fn fsck_is_clean(data: &Path) {
    let out = Command::new(BIN)
        .args(["fsck", "--data-dir"])
        .arg(data)
        .output()
        .expect("run nianbao fsck");
    assert!(
        out.status.success(),
        "fsck: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

// ------------------------------------------------------------------ raw HTTP/2

/// An HTTP/2 frame: length, type, flags, stream, payload.
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).expect("a small frame");
    let mut f = len.to_be_bytes()[1..].to_vec();
    f.extend_from_slice(&[kind, flags]);
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// HPACK: a literal header field without indexing, new name, no Huffman coding.
fn literal(block: &mut Vec<u8>, name: &str, value: &str) {
    for s in [name, value] {
        assert!(s.len() < 127);
    }
    block.push(0);
    block.push(name.len() as u8);
    block.extend_from_slice(name.as_bytes());
    block.push(value.len() as u8);
    block.extend_from_slice(value.as_bytes());
}

/// A raw client that sends the preface (announcing a 16-byte stream window) and an
/// ExportReports request over everything, reads until the answer's first bytes, then
/// never reads again, never acknowledges and never opens a window: the server's answer
/// stalls after 16 bytes.
fn raw_stalled_export(addr: SocketAddr) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).expect("connect");
    let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    // SETTINGS_INITIAL_WINDOW_SIZE (4) = 16
    out.extend(frame(4, 0, 0, &[0, 4, 0, 0, 0, 16]));
    let mut headers = Vec::new();
    for (name, value) in [
        (":method", "POST"),
        (":scheme", "http"),
        (":path", "/nianbao.v1.ReportRegistry/ExportReports"),
        (":authority", "localhost"),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
    ] {
        literal(&mut headers, name, value);
    }
    out.extend(frame(1, 0x4, 1, &headers)); // HEADERS, END_HEADERS
    out.extend(frame(0, 0x1, 1, &[0, 0, 0, 0, 0])); // DATA: an empty message, END_STREAM
    tcp.write_all(&out).expect("send the request");
    // Reads until the first bytes of the answer's first message: then the stream
    // cannot end (not even on the drain's status) before its window opens again.
    tcp.set_read_timeout(Some(GUARD)).expect("a read guard");
    loop {
        let mut header = [0u8; 9];
        tcp.read_exact(&mut header).expect("a frame header");
        let len =
            usize::from(header[0]) << 16 | usize::from(header[1]) << 8 | usize::from(header[2]);
        let mut payload = vec![0u8; len];
        tcp.read_exact(&mut payload).expect("a frame");
        let stream = u32::from_be_bytes([header[5], header[6], header[7], header[8]]) & 0x7fff_ffff;
        if header[3] == 0 && stream == 1 && len > 0 {
            return tcp;
        }
    }
}

/// An `h2` client that starts an export and never reads its answer (it never gives
/// the stream window back), while its connection goes on answering pings.
async fn h2_stalled_export(
    addr: SocketAddr,
) -> (h2::client::SendRequest<Bytes>, h2::client::ResponseFuture) {
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (client, connection) = h2::client::Builder::new()
        .initial_window_size(16)
        .handshake::<_, Bytes>(tcp)
        .await
        .expect("an HTTP/2 handshake");
    tokio::spawn(connection);
    let mut client = client.ready().await.expect("ready");
    let request = http::Request::post(format!(
        "http://{addr}/nianbao.v1.ReportRegistry/ExportReports"
    ))
    .header("content-type", "application/grpc")
    .header("te", "trailers")
    .body(())
    .expect("a request");
    let (response, mut body) = client.send_request(request, false).expect("sent");
    body.send_data(Bytes::from_static(&[0, 0, 0, 0, 0]), true)
        .expect("the message");
    (client, response)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// An HTTP/2 client connection and the answer it holds without reading it.
type Held = (
    h2::client::SendRequest<Bytes>,
    http::Response<h2::RecvStream>,
);

/// Both stalled clients on `server`, the answer to each begun (headers came).
fn stall_two_exports(rt: &tokio::runtime::Runtime, server: &Running) -> (TcpStream, Held) {
    let raw = raw_stalled_export(server.addr);
    let held = rt.block_on(async {
        let (client, response) = h2_stalled_export(server.addr).await;
        let response = tokio::time::timeout(GUARD, response)
            .await
            .expect("a guard against hangs")
            .expect("the export's headers");
        assert_eq!(response.status(), 200);
        // The first bytes of the first message, and never the window back.
        let mut response = response;
        let first = tokio::time::timeout(GUARD, response.body_mut().data())
            .await
            .expect("a guard against hangs");
        assert!(matches!(first, Some(Ok(_))), "{first:?}");
        (client, response)
    });
    (raw, held)
}

#[test]
fn sigterm_stops_waiting_for_clients_that_stop_reading_after_the_grace_period() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let data = seeded_store(dir.path());
    let mut server = start(
        &[],
        &data,
        &[
            "--shutdown-grace-secs",
            "2",
            "--keepalive-interval-secs",
            "0",
            "--idle-timeout-secs",
            "0",
        ],
    );
    let rt = runtime();
    let (_raw, _h2) = stall_two_exports(&rt, &server);

    server.signal("TERM");
    let status = server.wait_for_exit();
    assert!(status.success(), "{status:?}\n{}", server.seen.join("\n"));
    let log = server.seen.join("\n");
    assert!(log.contains("stopped waiting for 2 connections"), "{log}");
    assert!(log.contains("grace period"), "{log}");
    assert!(log.contains("store flushed; stopped"), "{log}");
    fsck_is_clean(&data);
}

#[test]
fn a_second_signal_cuts_the_grace_period_short() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let data = seeded_store(dir.path());
    // Only the second signal can end a 600 s grace within the guard.
    let mut server = start(
        &[],
        &data,
        &[
            "--shutdown-grace-secs",
            "600",
            "--keepalive-interval-secs",
            "0",
        ],
    );
    let rt = runtime();
    let (_raw, _h2) = stall_two_exports(&rt, &server);

    server.signal("TERM");
    server.wait_for_line("waiting for open connections to finish");
    server.signal("INT");
    let status = server.wait_for_exit();
    assert!(status.success(), "{status:?}\n{}", server.seen.join("\n"));
    let log = server.seen.join("\n");
    assert!(log.contains("received again"), "{log}");
    assert!(log.contains("stopped waiting for 2 connections"), "{log}");
    assert!(log.contains("a second stop signal"), "{log}");
    assert!(log.contains("store flushed; stopped"), "{log}");
    fsck_is_clean(&data);
}

/// Reads until the server closes the connection (end of file, or a reset).
fn closed_by_the_server(mut tcp: TcpStream) {
    tcp.set_read_timeout(Some(GUARD)).expect("a read guard");
    let mut buf = [0u8; 256];
    loop {
        match tcp.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => continue, // the server's SETTINGS
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return,
            Err(e) => panic!("the server did not close the connection: {e}"),
        }
    }
}

#[test]
fn silent_connections_are_closed_after_the_handshake_timeout() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut server = start(
        &[],
        &dir.path().join("data"),
        &["--handshake-timeout-secs", "1"],
    );
    let silent = TcpStream::connect(server.addr).expect("connect");
    let mut half = TcpStream::connect(server.addr).expect("connect");
    half.write_all(b"PRI * HTTP/2.0\r\n")
        .expect("half a preface");
    let mut magic_only = TcpStream::connect(server.addr).expect("connect");
    magic_only
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .expect("the magic without SETTINGS");
    for tcp in [silent, half, magic_only] {
        closed_by_the_server(tcp);
    }
    server.wait_for_line("no HTTP/2 preface within the handshake timeout");

    // A real client is served as before.
    let rt = runtime();
    rt.block_on(health_check(server.addr));
}

#[test]
fn idle_connections_are_told_to_go_away() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = start(&[], &dir.path().join("data"), &["--idle-timeout-secs", "1"]);
    let rt = runtime();
    rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(server.addr)
            .await
            .expect("connect");
        let (client, connection) = h2::client::handshake(tcp)
            .await
            .expect("an HTTP/2 handshake");
        let connection = tokio::spawn(connection);
        let mut client = client.ready().await.expect("ready");
        let request = http::Request::post(format!(
            "http://{}/nianbao.v1.ReportValidator/ListRules",
            server.addr
        ))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .expect("a request");
        let (response, mut body) = client.send_request(request, false).expect("sent");
        body.send_data(Bytes::from_static(&[0, 0, 0, 0, 0]), true)
            .expect("the message");
        let response = tokio::time::timeout(GUARD, response)
            .await
            .expect("a guard against hangs")
            .expect("an answer");
        let mut answer = response.into_body();
        while let Some(chunk) = answer.data().await {
            let chunk = chunk.expect("a chunk");
            let _ = answer.flow_control().release_capacity(chunk.len());
        }
        // No stream open any more: the server ends the connection (GOAWAY, close).
        let ended = tokio::time::timeout(GUARD, connection)
            .await
            .expect("the server ended the idle connection");
        assert!(ended.is_ok());
    });
}

async fn health_check(addr: SocketAddr) {
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::HealthCheckRequest;
    let checked = async {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .expect("a URI")
            .connect()
            .await
            .expect("a connection");
        HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .expect("a health check")
    };
    let response = tokio::time::timeout(GUARD, checked)
        .await
        .expect("a guard against hangs");
    assert_eq!(response.get_ref().status, 1, "SERVING");
}

/// The process's CPU time (user and system), in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    // The command name is in parentheses and may hold spaces: count after it.
    let after = &stat[stat.rfind(')').expect("a command name") + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat(5); `after` starts at field 3.
    let tick = |i: usize| fields[i - 3].parse::<u64>().expect("a number");
    tick(14) + tick(15)
}

fn clock_ticks_per_second() -> u64 {
    let out = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .expect("run getconf");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("CLK_TCK")
}

#[test]
fn out_of_descriptors_the_accept_loop_backs_off_and_the_server_recovers() {
    if Command::new("prlimit").arg("--version").output().is_err() {
        eprintln!("skipped: no prlimit (util-linux)");
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut server = start(
        &["prlimit", "--nofile=64:64", "--"],
        &dir.path().join("data"),
        &["--handshake-timeout-secs", "2"],
    );
    let pid = server.pid();
    let before = cpu_ticks(pid);
    let started = Instant::now();
    // More silent connections than the server has descriptors left.
    let silent: Vec<TcpStream> = (0..100)
        .map(|_| TcpStream::connect(server.addr).expect("connect"))
        .collect();
    server.wait_for_line("cannot accept connections");

    let rt = runtime();
    rt.block_on(health_check(server.addr));
    let used = Duration::from_millis((cpu_ticks(pid) - before) * 1000 / clock_ticks_per_second());
    let elapsed = started.elapsed();
    drop(silent);

    eprintln!("under attack: {used:?} of CPU in {elapsed:?}");
    // A spinning accept loop would use a whole core for the whole time.
    assert!(
        used.as_secs_f64() < 0.5 * elapsed.as_secs_f64(),
        "the server used {used:?} of CPU in {elapsed:?}"
    );
    while let Ok(line) = server.lines.try_recv() {
        server.seen.push(line);
    }
    let accept_lines = server
        .seen
        .iter()
        .filter(|l| l.contains("cannot accept connections"))
        .count();
    assert!(
        accept_lines <= 1 + (elapsed.as_secs() / 10) as usize,
        "accept errors are logged at most once per 10 s: {accept_lines} lines in {elapsed:?}"
    );
    let log = server.seen.join("\n");
    assert!(
        log.contains("no HTTP/2 preface within the handshake timeout"),
        "{log}"
    );
}
