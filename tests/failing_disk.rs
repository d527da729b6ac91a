//! A full disk under the served binary, on a real size-limited file system: a tmpfs
//! mounted for the test (`mount -t tmpfs -o size=…`, so the test must run as root;
//! where mounting is not permitted it fails, it does not skip).
//!
//! - Below the reserve (`--reserved-space-mb`): writes are refused with
//!   RESOURCE_EXHAUSTED, reason `STORAGE_FULL`, reads work, and writes resume once
//!   the filler file is deleted; after a SIGKILL and a restart every acknowledged
//!   write is there byte for byte.
//! - With no reserve, the disk filled to the last byte: sled meets ENOSPC, the store
//!   fails (UNAVAILABLE, `STORE_FAILED`, naming the full disk) and stays failed after
//!   space is freed; reads work; a restart brings every acknowledged write back and
//!   writes work again.
//!
//! Timeouts only guard against hangs.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::Duration;

use prost::Message;
use tonic::transport::Channel;
use tonic::Code;
use tonic_types::StatusExt;

use nianbao::pb::report_registry_client::ReportRegistryClient;
use nianbao::pb::{
    submit_report_request, Agency, AnnualReport, FormatVersion, GetReportRequest,
    ListReportsRequest, SubmitReportRequest, WithdrawReportRequest,
};

const BIN: &str = env!("CARGO_BIN_EXE_nianbao");
/// A guard against hangs, never a measure.
const GUARD: Duration = Duration::from_secs(120);
const MIB: u64 = 1024 * 1024;

/// A tmpfs of `size_mib` MiB mounted on a fresh directory; unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size_mib: u64) -> Tmpfs {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mib}m"), "tmpfs"])
            .arg(dir.path())
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "this test needs a size-limited file system and could not mount one (run it \
             as root, where `mount -t tmpfs` is permitted): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// A running `nianbao serve`, killed and waited for when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
    _lines: Receiver<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data: &Path, reserve_mib: u64) -> Server {
    let mut child = Command::new(BIN)
        .arg("serve")
        .args(["--addr", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .args(["--reserved-space-mb", &reserve_mib.to_string()])
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
    let mut seen = Vec::new();
    let line = loop {
        match lines.recv_timeout(GUARD) {
            Ok(line) if line.contains("serving nianbao.v1") => break line,
            Ok(line) => seen.push(line),
            Err(e) => panic!("nianbao serve did not start ({e}):\n{}", seen.join("\n")),
        }
    };
    let addr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("addr="))
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    Server {
        child,
        addr,
        _lines: lines,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

async fn client(addr: SocketAddr) -> ReportRegistryClient<Channel> {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .expect("a URI")
        .connect_timeout(GUARD)
        .connect()
        .await
        .expect("connect");
    ReportRegistryClient::new(channel)
}

fn submission(agency: &str, n: u32) -> SubmitReportRequest {
    SubmitReportRequest {
        input: Some(submit_report_request::Input::Report(AnnualReport {
            title: format!("{agency} 2023年政府信息公开工作年度报告 第{n}稿"),
            year: 2023,
            format_version: FormatVersion::V2021 as i32,
            agency: Some(Agency {
                name: format!("{agency}人民政府办公室"),
                division_code: Some("350128".into()),
                ..Default::default()
            }),
            ..Default::default()
        })),
        agency_id: agency.to_string(),
        request_id: format!("{agency}-{n}"),
        ..Default::default()
    }
}

/// (name, revision, encoded revision) of an acknowledged submission.
type Acked = (String, u32, Vec<u8>);

async fn submit(
    registry: &mut ReportRegistryClient<Channel>,
    agency: &str,
    n: u32,
) -> Result<Acked, tonic::Status> {
    let response = registry.submit_report(submission(agency, n)).await?;
    let revision = response.into_inner().revision.expect("a revision");
    Ok((
        format!("agencies/{agency}/reports/2023"),
        revision.revision,
        revision.encode_to_vec(),
    ))
}

fn reason(status: &tonic::Status) -> String {
    status
        .get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
}

async fn assert_present(registry: &mut ReportRegistryClient<Channel>, acked: &[Acked]) {
    for (name, revision, encoded) in acked {
        let got = registry
            .get_report(GetReportRequest {
                name: name.clone(),
                revision: *revision,
            })
            .await
            .unwrap_or_else(|s| panic!("{name} r{revision}: {s}"))
            .into_inner()
            .revision
            .expect("a revision");
        assert!(
            &got.encode_to_vec() == encoded,
            "{name} r{revision} differs"
        );
    }
}

/// Fills the file system at `dir` with a file of `bytes` zero bytes (all of them, or
/// as many as fit when `bytes` is `u64::MAX`).
fn fill(path: &Path, bytes: u64) -> PathBuf {
    let file = path.join("filler");
    let mut f = std::fs::File::create(&file).expect("create the filler");
    let chunk = vec![0u8; 64 * 1024];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        match f.write_all(&chunk[..n]) {
            Ok(()) => left -= n as u64,
            Err(e) if bytes == u64::MAX && e.raw_os_error() == Some(28) => break,
            Err(e) => panic!("writing the filler: {e}"),
        }
    }
    if bytes == u64::MAX {
        // The last pages, byte by byte (a write_all may stop inside a chunk).
        while f.write_all(&[0u8; 512]).is_ok() {}
        while f.write_all(&[0u8]).is_ok() {}
    }
    f.sync_all().ok();
    file
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

#[test]
fn a_disk_below_the_reserve_refuses_writes_until_space_is_freed() {
    let fs = Tmpfs::mount(64);
    let data = fs.path().join("data");
    let rt = runtime();
    let server = start(&data, 8);
    let mut registry = rt.block_on(client(server.addr));
    let mut acked = vec![rt
        .block_on(submit(&mut registry, "full", 1))
        .expect("a write")];

    // Leave 4 MiB: below the 8 MiB reserve, far from sled running out.
    let free = fs2::available_space(fs.path()).expect("free space");
    let filler = fill(fs.path(), free.saturating_sub(4 * MIB));
    let refused = rt
        .block_on(submit(&mut registry, "full", 2))
        .expect_err("a write on a full disk");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert_eq!(reason(&refused), "STORAGE_FULL");
    assert!(refused.message().contains("full"), "{}", refused.message());
    let refused = rt
        .block_on(registry.withdraw_report(WithdrawReportRequest {
            name: "agencies/full/reports/2023".into(),
            reason: "disk full".into(),
            etag: String::new(),
            request_id: "full-w".into(),
        }))
        .expect_err("a withdrawal on a full disk");
    assert_eq!(reason(&refused), "STORAGE_FULL");
    // Reads work.
    rt.block_on(assert_present(&mut registry, &acked));
    rt.block_on(registry.list_reports(ListReportsRequest::default()))
        .expect("a listing on a full disk");

    // Space freed: writes resume, without a restart.
    std::fs::remove_file(&filler).expect("remove the filler");
    acked.push(
        rt.block_on(submit(&mut registry, "full", 3))
            .expect("a write once space is freed"),
    );
    acked.push(
        rt.block_on(submit(&mut registry, "other", 1))
            .expect("a write once space is freed"),
    );

    drop(registry);
    drop(server); // SIGKILL
    fsck_is_clean(&data);
    let server = start(&data, 8);
    let mut registry = rt.block_on(client(server.addr));
    rt.block_on(assert_present(&mut registry, &acked));
}

#[test]
fn a_disk_full_to_the_last_byte_fails_the_store_until_a_restart() {
    let fs = Tmpfs::mount(64);
    let data = fs.path().join("data");
    let rt = runtime();
    let server = start(&data, 0);
    let mut registry = rt.block_on(client(server.addr));
    let mut acked = vec![rt
        .block_on(submit(&mut registry, "enospc", 1))
        .expect("a write")];

    let filler = fill(fs.path(), u64::MAX);
    // The next writes land in pages sled has already, until one needs a new page.
    let mut n = 2;
    let failed = loop {
        match rt.block_on(submit(&mut registry, "enospc", n)) {
            Ok(a) => acked.push(a),
            Err(status) => break status,
        }
        n += 1;
        assert!(n < 10_000, "sled never met the full disk");
    };
    assert_eq!(failed.code(), Code::Unavailable, "{failed:?}");
    assert_eq!(reason(&failed), "STORE_FAILED");
    assert!(
        failed.message().contains("disk is full"),
        "{}",
        failed.message()
    );
    // Failed for good: space freed, writes still refused until a restart.
    std::fs::remove_file(&filler).expect("remove the filler");
    for i in 0..3 {
        let status = rt
            .block_on(submit(&mut registry, "later", i))
            .expect_err("a write on a failed store");
        assert_eq!(reason(&status), "STORE_FAILED", "{status:?}");
    }
    // Reads work.
    rt.block_on(assert_present(&mut registry, &acked));

    drop(registry);
    drop(server); // SIGKILL
    fsck_is_clean(&data);
    let server = start(&data, 0);
    let mut registry = rt.block_on(client(server.addr));
    rt.block_on(assert_present(&mut registry, &acked));
    acked.push(
        rt.block_on(submit(&mut registry, "after", 1))
            .expect("a write after the restart"),
    );
    rt.block_on(assert_present(&mut registry, &acked));
}
