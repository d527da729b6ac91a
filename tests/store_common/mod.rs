//! Shared helpers of the store tests: a realistic report (the first corpus report,
//! parsed and validated), submissions built from it, and child processes made by
//! re-running the current test binary with one test selected.
#![allow(dead_code)]

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use nianbao::names::{AgencyId, ReportName};
use nianbao::pb::{AnnualReport, ValidationResult};
use nianbao::store::Submission;
use sha2::{Digest, Sha256};

pub const CORPUS_REPORT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/corpus/000_2b6e7661ff84f527.txt"
);

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The corpus report, parsed and validated as a submission would be.
pub fn corpus_report() -> (AnnualReport, ValidationResult) {
    let bytes = std::fs::read(CORPUS_REPORT)
        .unwrap_or_else(|e| panic!("read {CORPUS_REPORT}: {e} (the store tests need the corpus)"));
    let parsed = nianbao::parse::parse(&bytes, &nianbao::parse::ParseOptions::default());
    let report = parsed.report.clone().expect("the corpus report parses");
    let validation = nianbao::validate::validate(
        &nianbao::validate::Input::parsed(&parsed, &report),
        &nianbao::validate::Options::default(),
    );
    (report, validation)
}

/// A submission of `template` as the report of `agency` for `year` in `division`,
/// with `errors` error findings; its input hash depends on all of them and `salt`.
pub fn submission(
    template: &(AnnualReport, ValidationResult),
    agency: &str,
    year: i32,
    division: Option<&str>,
    errors: u32,
    salt: &str,
) -> Submission {
    let name = ReportName::new(AgencyId::parse(agency).expect("agency id"), year).expect("name");
    let mut report = template.0.clone();
    report.year = year;
    let a = report.agency.get_or_insert_with(Default::default);
    a.name = format!("{agency} 人民政府办公室");
    a.division_code = division.map(str::to_string);
    let mut validation = template.1.clone();
    validation.errors = errors;
    Submission {
        input_sha256: sha256_hex(format!("{name} {division:?} {errors} {salt}").as_bytes()),
        name,
        report,
        validation,
        submitter: "test".into(),
        request_id: None,
        expected_etag: None,
        time: None,
        audit: None,
    }
}

/// A child process running one test of the current test binary; killed when dropped.
pub struct ChildProcess {
    pub child: Child,
    /// Complete stdout lines (ending in a newline), as they arrive.
    pub lines: mpsc::Receiver<String>,
}

impl ChildProcess {
    /// Runs the test `test_name` of this binary in a new process with `env` set.
    pub fn spawn(test_name: &str, env: &[(&str, &Path)]) -> ChildProcess {
        let exe = std::env::current_exe().expect("the test binary's path");
        let mut cmd = Command::new(exe);
        cmd.args([test_name, "--exact", "--nocapture", "--test-threads=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start the child process");
        let stdout = child.stdout.take().expect("child stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut r = std::io::BufReader::new(stdout);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match r.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => return,
                    // A line cut by the kill has no newline: it was never acknowledged.
                    Ok(_) if buf.last() != Some(&b'\n') => return,
                    Ok(_) => {
                        let line = String::from_utf8_lossy(&buf[..buf.len() - 1]).into_owned();
                        if tx.send(line).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        ChildProcess { child, lines: rx }
    }

    /// Waits for a line starting with `prefix`, returning the lines read meanwhile too.
    pub fn wait_for(&self, prefix: &str, timeout: Duration) -> Vec<String> {
        let deadline = std::time::Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let hit = line.starts_with(prefix);
                    seen.push(line);
                    if hit {
                        return seen;
                    }
                }
                Err(_) => panic!(
                    "the child printed no line starting with {prefix:?} within {timeout:?} \
                     (lines so far: {seen:?})"
                ),
            }
        }
    }

    /// SIGKILLs the child, waits for it, and returns every complete line it printed
    /// that was not consumed yet.
    pub fn kill(mut self) -> Vec<String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The reader thread ends when the pipe closes.
        let mut rest = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(10)) {
            rest.push(line);
        }
        rest
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
