//! `nianbao audit verify` and `nianbao audit export`: the store's audit trail, offline
//! (the store in `--data-dir` is opened directly, so the server must be stopped: a
//! store another process holds is refused with a clear message).

use std::io::{self, Write};

use clap::{Args, Subcommand};

use nianbao::pb::AuditRecord;

use super::registry::{Format, StoreArgs};
use super::Status;

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check the whole hash chain: exit 0 when intact, 1 naming the first broken record.
    Verify(VerifyArgs),
    /// Print the audit records, oldest first.
    Export(ExportArgs),
}

#[derive(Debug, Args)]
struct VerifyArgs {
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, Args)]
struct ExportArgs {
    /// Only the records after this sequence number.
    #[arg(long, value_name = "SEQ", default_value_t = 0)]
    since: u64,

    /// `json`: one proto3 JSON object (`nianbao.v1.AuditRecord`) per line; `text`: one
    /// line per record, hashes in hex.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,

    #[command(flatten)]
    store: StoreArgs,
}

pub fn run(args: AuditArgs) -> Status {
    match args.command {
        AuditCommand::Verify(a) => verify(a),
        AuditCommand::Export(a) => export(a),
    }
}

fn verify(args: VerifyArgs) -> Status {
    let store = match args.store.open() {
        Ok(s) => s,
        Err(s) => return s,
    };
    match store.verify_audit() {
        Ok(v) => {
            let out = match &v.first_broken {
                None => writeln!(io::stdout(), "{} audit record(s): chain intact", v.records),
                Some(b) => writeln!(
                    io::stdout(),
                    "{} audit record(s): chain BROKEN at {b}",
                    v.records
                ),
            };
            let status = if v.is_intact() {
                Status::Clean
            } else {
                Status::Errors
            };
            super::written(out, status)
        }
        Err(e) => super::fail(&e),
    }
}

fn export(args: ExportArgs) -> Status {
    let store = match args.store.open() {
        Ok(s) => s,
        Err(s) => return s,
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    for record in store.audit_records(args.since) {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let _ = out.flush();
                return super::fail(&e);
            }
        };
        let written = match args.format {
            Format::Json => serde_json::to_writer(&mut out, &record)
                .map_err(io::Error::from)
                .and_then(|()| writeln!(out)),
            Format::Text => writeln!(out, "{}", text(&record)),
        };
        if let Err(e) = written {
            return super::written(Err(e), Status::Clean);
        }
    }
    super::written(out.flush(), Status::Clean)
}

/// One record on one line: sequence, time, identity, peer, method, code (and reason),
/// request id, resources, previous hash and hash in hex.
fn text(r: &AuditRecord) -> String {
    let time = r
        .time
        .as_ref()
        .and_then(|t| serde_json::to_value(t).ok())
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "-".into());
    let or_dash = |s: &str| {
        if s.is_empty() {
            "-".to_string()
        } else {
            s.to_string()
        }
    };
    let mut line = format!(
        "{} {time} {} {} {} code={}",
        r.sequence,
        or_dash(&r.identity),
        or_dash(&r.peer),
        or_dash(&r.method),
        r.code
    );
    if !r.reason.is_empty() {
        line.push_str(&format!(" reason={}", r.reason));
    }
    line.push_str(&format!(
        " request_id={} resources={} previous_hash={} hash={}",
        or_dash(&r.request_id),
        or_dash(&r.resources.join(",")),
        hex::encode(&r.previous_hash),
        hex::encode(&r.hash)
    ));
    line
}
