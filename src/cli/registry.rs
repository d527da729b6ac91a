//! The operator commands on the local store, without a server: `import`, `get`,
//! `list`, `history`, `backup`, `restore`, `fsck`. Each opens the store in
//! `--data-dir` (default `./data`, as `serve`); a store another process holds is
//! refused with a clear message. JSON output is the proto3 JSON of the same
//! messages the gRPC API returns.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use nianbao::ingest::{self, Source};
use nianbao::names::{AgencyId, ReportName};
use nianbao::parse::ParseOptions;
use nianbao::pb;
use nianbao::store::{ListCursor, ListFilter, ListedReport, Store, StoreConfig};

use super::Status;

/// `--data-dir`, shared by every store command.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Directory of the sled store.
    #[arg(long, env = "NIANBAO_DATA_DIR", default_value = "data", global = true)]
    data_dir: PathBuf,
}

impl StoreArgs {
    pub(super) fn open(&self) -> Result<Store, Status> {
        Store::open(&StoreConfig::new(&self.data_dir)).map_err(|e| super::fail(&e))
    }
}

/// `--format` of the reading commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

fn runtime() -> Result<tokio::runtime::Runtime, Status> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| super::fail(format!("cannot start the async runtime: {e}")))
}

fn print_json<T: serde::Serialize>(value: &T) -> Status {
    let mut out = io::stdout().lock();
    let written = serde_json::to_writer_pretty(&mut out, value)
        .map_err(io::Error::from)
        .and_then(|()| writeln!(out));
    super::written(written, Status::Clean)
}

fn parse_name(name: &str) -> Result<ReportName, Status> {
    name.parse()
        .map_err(|e: nianbao::names::NameError| super::fail(&e))
}

// ------------------------------------------------------------------ import

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Report files (published text or HTML), or directories of them.
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<PathBuf>,

    /// `{agency}` of every report's name (else the credit code stated in each
    /// report, else an id derived from its agency name).
    #[arg(long)]
    agency: Option<AgencyId>,

    /// The character set of the inputs; detected when omitted.
    #[arg(long, value_name = "NAME")]
    charset: Option<String>,

    /// Who is importing, recorded with each revision.
    #[arg(long, default_value = "nianbao-import")]
    submitter: String,

    #[command(flatten)]
    store: StoreArgs,
}

/// Files of `paths`: files as given, directories' visible files in name order.
fn expand(paths: &[PathBuf]) -> Vec<Result<PathBuf, (PathBuf, String)>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            match std::fs::read_dir(p) {
                Ok(entries) => {
                    let mut files: Vec<PathBuf> = entries
                        .filter_map(Result::ok)
                        .map(|e| e.path())
                        .filter(|f| {
                            f.is_file()
                                && !f
                                    .file_name()
                                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                        })
                        .collect();
                    files.sort();
                    out.extend(files.into_iter().map(Ok));
                }
                Err(e) => out.push(Err((p.clone(), e.to_string()))),
            }
        } else {
            out.push(Ok(p.clone()));
        }
    }
    out
}

pub fn import(args: ImportArgs) -> Status {
    let store = match args.store.open() {
        Ok(s) => s,
        Err(s) => return s,
    };
    let rt = match runtime() {
        Ok(r) => r,
        Err(s) => return s,
    };
    let mut status = Status::Clean;
    // Read and parse every file first, so the reports are stored oldest year first:
    // each is then checked against the previous year when that is in the import.
    let mut sources: Vec<(PathBuf, i32, Source)> = Vec::new();
    for item in expand(&args.paths) {
        match item {
            Ok(path) => match std::fs::read(&path) {
                Ok(bytes) => {
                    let source = Source::Text {
                        bytes,
                        options: ParseOptions {
                            charset: args.charset.clone(),
                            label: path.display().to_string(),
                            ..ParseOptions::default()
                        },
                    };
                    let year = source.parse().report.map_or(0, |r| r.year);
                    sources.push((path, year, source));
                }
                Err(e) => {
                    eprintln!("skipped {}: cannot read it: {e}", path.display());
                    status.raise(Status::Failure);
                }
            },
            Err((path, e)) => {
                eprintln!("skipped {}: cannot list it: {e}", path.display());
                status.raise(Status::Failure);
            }
        }
    }
    sources.sort_by_key(|(_, year, _)| *year);
    let bar = if io::stderr().is_terminal() {
        let bar = ProgressBar::new(sources.len() as u64);
        if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} {wide_msg}") {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    // Above a visible bar, or straight to the streams when there is none.
    let say = |bar: &ProgressBar, line: String, ok: bool| {
        if bar.is_hidden() {
            if ok {
                println!("{line}");
            } else {
                eprintln!("{line}");
            }
        } else {
            bar.println(line);
        }
    };
    for (path, _, source) in sources {
        bar.set_message(path.display().to_string());
        let request = ingest::Request {
            source,
            agency: args.agency.clone(),
            submitter: args.submitter.clone(),
            request_id: None,
            expected_etag: None,
            reject_on_error: false,
            within: None,
            // An import is written to the audit trail like a submission over gRPC.
            audit: Some(nianbao::store::AuditEntry {
                time: std::time::SystemTime::now(),
                identity: args.submitter.clone(),
                peer: "local".into(),
                method: "nianbao import".into(),
                resources: Vec::new(),
                request_id: String::new(),
                code: 0,
                reason: String::new(),
            }),
        };
        match rt.block_on(ingest::submit(&store, request)) {
            Ok(outcome) => {
                let r = &outcome.revision;
                let (e, w) = r
                    .validation
                    .as_ref()
                    .map_or((0, 0), |v| (v.errors, v.warnings));
                say(
                    &bar,
                    format!(
                        "stored {} revision {} ({e} errors, {w} warnings)",
                        outcome.name, r.revision
                    ),
                    true,
                );
            }
            Err(e) => {
                say(&bar, format!("skipped {}: {e}", path.display()), false);
                status.raise(Status::Errors);
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    status
}

// ------------------------------------------------------------------ get / history

#[derive(Debug, Args)]
pub struct GetArgs {
    /// agencies/{agency}/reports/{year}
    name: String,
    /// A revision number (default: the latest).
    #[arg(long)]
    revision: Option<u32>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(flatten)]
    store: StoreArgs,
}

fn describe_revision(r: &pb::ReportRevision) -> String {
    let v = r.validation.clone().unwrap_or_default();
    let time = r
        .submit_time
        .as_ref()
        .map_or(String::new(), |t| format!(" at {}s", t.seconds));
    format!(
        "revision {} {} submitted{time} by {} (input sha256 {}): {} errors, {} warnings, {} infos",
        r.revision,
        r.etag,
        r.submitter,
        r.input_sha256.get(..16).unwrap_or(&r.input_sha256),
        v.errors,
        v.warnings,
        v.infos
    )
}

fn describe_state(s: &pb::ReportState) -> String {
    match &s.withdrawal {
        Some(w) => format!(
            "{}: WITHDRAWN at revision {} by {}: {}",
            s.name, w.revision, w.withdrawn_by, w.reason
        ),
        None => format!(
            "{}: {} revision(s), latest {} ({})",
            s.name, s.revision_count, s.latest_revision, s.etag
        ),
    }
}

pub fn get(args: GetArgs) -> Status {
    let name = match parse_name(&args.name) {
        Ok(n) => n,
        Err(s) => return s,
    };
    let store = match args.store.open() {
        Ok(s) => s,
        Err(s) => return s,
    };
    match store.get(&name, args.revision) {
        Ok((revision, state)) => match args.format {
            Format::Json => print_json(&pb::GetReportResponse {
                revision: Some(revision),
                state: Some(state),
            }),
            Format::Text => {
                let report = revision.report.clone().unwrap_or_default();
                let agency = report.agency.unwrap_or_default();
                println!("{}", describe_state(&state));
                println!("{}", describe_revision(&revision));
                println!(
                    "agency {} (division {}), year {}, title {}",
                    agency.name,
                    agency.division_code.as_deref().unwrap_or("unknown"),
                    report.year,
                    report.title
                );
                for f in revision.validation.map(|v| v.findings).unwrap_or_default() {
                    let sev = pb::Severity::try_from(f.severity).unwrap_or_default();
                    println!("  [{}] {}: {}", f.code, sev.as_str_name(), f.message);
                }
                Status::Clean
            }
        },
        Err(e) => super::fail(&e),
    }
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// agencies/{agency}/reports/{year}
    name: String,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(flatten)]
    store: StoreArgs,
}

pub fn history(args: HistoryArgs) -> Status {
    let name = match parse_name(&args.name) {
        Ok(n) => n,
        Err(s) => return s,
    };
    let store = match args.store.open() {
        Ok(s) => s,
        Err(s) => return s,
    };
    let result = store
        .revisions(&name)
        .and_then(|revisions| Ok((revisions, store.state(&name)?)));
    match result {
        Ok((revisions, state)) => match args.format {
            Format::Json => print_json(&pb::ListReportRevisionsResponse { revisions, state }),
            Format::Text => {
                if let Some(s) = &state {
                    println!("{}", describe_state(s));
                }
                for r in &revisions {
                    println!("  {}", describe_revision(r));
                }
                Status::Clean
            }
        },
        Err(e) => super::fail(&e),
    }
}

// ------------------------------------------------------------------ list

#[derive(Debug, Args)]
pub struct ListArgs {
    #[arg(long)]
    year: Option<i32>,
    /// Division code prefix: 32 (province), 3206 (city), 320602 (county).
    #[arg(long, value_name = "PREFIX")]
    division: Option<String>,
    #[arg(long)]
    agency: Option<AgencyId>,
    /// Only reports with ERROR findings.
    #[arg(long)]
    has_errors: bool,
    /// Also withdrawn reports.
    #[arg(long)]
    include_withdrawn: bool,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(flatten)]
    store: StoreArgs,
}

pub fn list(args: ListArgs) -> Status {
    let store = match args.store.open() {
        Ok(s) => s,
        Err(s) => return s,
    };
    let filter = ListFilter {
        year: args.year,
        division_prefix: args.division.clone(),
        agency: args.agency.clone(),
        format_version: None,
        has_errors: args.has_errors.then_some(true),
        include_withdrawn: args.include_withdrawn,
        within: None,
    };
    let mut all = Vec::new();
    let mut cursor: Option<ListCursor> = None;
    loop {
        match store.list(&filter, cursor.as_ref(), 1000) {
            Ok(page) => {
                all.extend(page.items.into_iter().map(ListedReport::into_summary));
                match page.next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            Err(e) => return super::fail(&e),
        }
    }
    match args.format {
        Format::Json => print_json(&all),
        Format::Text => {
            let mut out = io::stdout().lock();
            for s in &all {
                let line = writeln!(
                    out,
                    "{}  r{}  {}  {}  E{} W{}{}",
                    s.name,
                    s.latest_revision,
                    if s.division_code.is_empty() {
                        "------"
                    } else {
                        &s.division_code
                    },
                    s.agency_name,
                    s.errors,
                    s.warnings,
                    if s.withdrawn { "  WITHDRAWN" } else { "" }
                );
                if let Err(e) = line {
                    return super::written(Err(e), Status::Clean);
                }
            }
            eprintln!("{} report(s)", all.len());
            Status::Clean
        }
    }
}

// ------------------------------------------------------------------ backup / restore / fsck

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The backup file to write (must not exist).
    path: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
}

pub fn backup(args: BackupArgs) -> Status {
    let store = match args.store.open() {
        Ok(s) => s,
        Err(s) => return s,
    };
    match store.backup(&args.path) {
        Ok(s) => {
            println!(
                "backed up {} revision(s), {} withdrawal(s) as of change {} to {} ({} bytes)",
                s.revisions,
                s.withdrawals,
                s.sequence,
                args.path.display(),
                s.bytes
            );
            Status::Clean
        }
        Err(e) => super::fail(&e),
    }
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A backup file written by `nianbao backup`.
    path: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
}

pub fn restore(args: RestoreArgs) -> Status {
    let config = StoreConfig::new(&args.store.data_dir);
    match Store::restore(&config, &args.path) {
        Ok(s) => {
            println!(
                "restored {} report(s), {} revision(s) as of change {} into {}",
                s.reports,
                s.revisions,
                s.sequence,
                args.store.data_dir.display()
            );
            Status::Clean
        }
        Err(e) => super::fail(&e),
    }
}

#[derive(Debug, Args)]
pub struct FsckArgs {
    /// Rebuild what disagrees with the stored revisions (indexes, pointers).
    #[arg(long)]
    repair: bool,
    #[command(flatten)]
    store: StoreArgs,
}

pub fn fsck(args: FsckArgs) -> Status {
    let store = match args.store.open() {
        Ok(s) => s,
        Err(s) => return s,
    };
    match store.fsck(args.repair) {
        Ok(report) => {
            for p in &report.problems {
                println!("{p}");
            }
            println!(
                "{} report(s), {} revision(s), {} index entries checked: {} problem(s){}",
                report.reports,
                report.revisions,
                report.index_entries,
                report.problem_count(),
                if args.repair {
                    format!(", {} repaired", report.repaired)
                } else {
                    String::new()
                }
            );
            if report.is_clean() || (args.repair && report.all_repairable()) {
                Status::Clean
            } else {
                Status::Errors
            }
        }
        Err(e) => super::fail(&e),
    }
}
