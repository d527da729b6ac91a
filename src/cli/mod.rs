//! The command line of the `nianbao` binary: argument definitions (clap derive), log
//! set-up, the exit-status policy and the one way a problem is told ([`fail`]), with
//! one module per group of subcommands: `parse`, `validate`, `rules`, `serve`,
//! `registry` for `import` and the operator commands (`get`, `list`, `history`,
//! `backup`, `restore`, `fsck`), `pki` for `pki init`, and `audit` for `audit verify`
//! and `audit export`; the renderers they share are `summary`, `snippet`, `rules_md` and
//! `term`.
//!
//! This module belongs to the binary, not the library: nothing in `nianbao::*` may
//! depend on it, and it adds nothing to the library's API. Output goes to stdout,
//! problems (prefixed `nianbao: `) and logs (tracing, `RUST_LOG`) to stderr.

mod audit;
mod parse;
mod pki;
mod registry;
mod rules;
mod rules_md;
mod serve;
mod snippet;
mod summary;
mod term;
mod validate;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Parse, validate, store and serve government information-disclosure annual
/// reports (政府信息公开工作年度报告).
#[derive(Debug, Parser)]
#[command(name = "nianbao", version, propagate_version = true)]
#[command(subcommand_required = true, arg_required_else_help = true)]
struct Cli {
    /// When to colour the output.
    #[arg(long, value_enum, global = true, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Parse published reports (text or HTML; UTF-8, GBK or GB18030) into the report
    /// entity, with diagnostics located in the source.
    #[command(after_help = parse::AFTER_HELP)]
    Parse(parse::ParseArgs),

    /// Validate reports (published text or HTML, or the JSON of an AnnualReport) with
    /// the rule catalogue; findings located in the source.
    #[command(after_help = validate::AFTER_HELP)]
    Validate(validate::ValidateArgs),

    /// Print the rule catalogue (codes, severities, titles, versions).
    Rules(rules::RulesArgs),

    /// Parse, validate and store report files or directories in the local store;
    /// one line per stored report, printed once it is durable.
    Import(registry::ImportArgs),

    /// Print one stored report (latest revision, or --revision N).
    Get(registry::GetArgs),

    /// List stored reports (latest revisions), filtered.
    List(registry::ListArgs),

    /// Print every revision of one stored report, newest first.
    History(registry::HistoryArgs),

    /// Write a consistent snapshot of the store to a file (the store may be in use).
    Backup(registry::BackupArgs),

    /// Restore a backup into an empty data directory.
    Restore(registry::RestoreArgs),

    /// Check every index and pointer of the store against the stored revisions.
    Fsck(registry::FsckArgs),

    /// The audit trail of the local store: verify its hash chain, or export it.
    Audit(audit::AuditArgs),

    /// Run the gRPC server (nianbao.v1 ReportValidator, ReportRegistry and
    /// ReportAdmin, health, reflection) on the local store.
    Serve(Box<serve::ServeArgs>),

    /// Make certificates for trying mutual TLS: a private CA, a server certificate,
    /// client certificates, and a sample access policy.
    Pki(pki::PkiArgs),
}

/// `--color`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ColorChoice {
    /// Colour when stdout is a terminal and `NO_COLOR` is not set.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

impl ColorChoice {
    /// Whether to colour a stream that is (or is not) a terminal.
    fn enabled(self, is_terminal: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        }
    }
}

/// The exit status of a run; the worst outcome of any input wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// 0: no input has an error diagnostic or an ERROR finding.
    Clean = 0,
    /// 1: some input has an error diagnostic or an ERROR finding (or, with
    /// `validate --deny warnings`, a WARNING); the run itself went fine.
    Errors = 1,
    /// 2: a usage error, or an input that could not be read or output not written.
    Failure = 2,
}

impl Status {
    fn raise(&mut self, to: Status) {
        *self = (*self).max(to);
    }
}

/// Tells why a command, or one of its inputs, failed: on stderr, with the prefix
/// every command uses. The one place the command line prints a problem; the caller
/// decides whether to go on.
fn fail(message: impl std::fmt::Display) -> Status {
    eprintln!("nianbao: {message}");
    Status::Failure
}

/// The status after writing a command's output: a closed pipe (`| head`) is not a
/// failure; any other write error is.
fn written(result: std::io::Result<()>, status: Status) -> Status {
    match result {
        Ok(()) => status,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => status,
        Err(e) => fail(format!("cannot write the output: {e}")),
    }
}

impl From<Status> for ExitCode {
    fn from(s: Status) -> ExitCode {
        ExitCode::from(s as u8)
    }
}

/// Runs the command line. Usage errors exit with status 2 from inside clap.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // Held until the command ends: dropping it writes out the log lines still queued.
    let _log_writer = match &cli.command {
        Command::Serve(args) => init_tracing("info", args.log_format(), Writer::Background),
        _ => init_tracing("warn", serve::LogFormat::Text, Writer::Inline),
    };
    let status = match cli.command {
        Command::Serve(args) => serve::run(*args),
        Command::Import(args) => registry::import(args),
        Command::Get(args) => registry::get(args),
        Command::List(args) => registry::list(args),
        Command::History(args) => registry::history(args),
        Command::Backup(args) => registry::backup(args),
        Command::Restore(args) => registry::restore(args),
        Command::Fsck(args) => registry::fsck(args),
        Command::Audit(args) => audit::run(args),
        Command::Parse(args) => parse::run(args, cli.color),
        Command::Validate(args) => validate::run(args, cli.color),
        Command::Rules(args) => rules::run(args, cli.color),
        Command::Pki(args) => pki::run(args),
    };
    status.into()
}

/// How log lines reach stderr.
enum Writer {
    /// Written by the thread that logs (one-shot commands: few lines).
    Inline,
    /// Formatted by the thread that logs, written by a dedicated thread, so that a
    /// request's span never waits on the terminal or the pipe. When its queue is full
    /// the logging thread waits: lines are never dropped.
    Background,
}

/// Logs go to stderr, filtered by `RUST_LOG` (default: `default`, i.e. warnings
/// and errors for the one-shot commands, and one line per request for `serve`).
fn init_tracing(
    default: &str,
    format: serve::LogFormat,
    writer: Writer,
) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    use tracing_subscriber::fmt::writer::BoxMakeWriter;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let ansi = std::io::stderr().is_terminal();
    let (writer, guard) = match writer {
        Writer::Inline => (BoxMakeWriter::new(std::io::stderr), None),
        Writer::Background => {
            let (w, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
                .lossy(false)
                .thread_name("nianbao-log")
                .finish(std::io::stderr());
            (BoxMakeWriter::new(w), Some(guard))
        }
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        serve::LogFormat::Json => builder.json().init(),
        serve::LogFormat::Text => builder.with_ansi(ansi).init(),
    }
    guard
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn worst_status_wins() {
        let mut s = Status::Clean;
        s.raise(Status::Failure);
        s.raise(Status::Errors);
        assert_eq!(s, Status::Failure);
    }
}
