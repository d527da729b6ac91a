//! `nianbao parse FILE...`: runs the library parser on each input and prints either
//! a readable summary with diagnostics rendered against the source (`--format
//! text`) or the proto3 canonical JSON of each `ParseResult` (`--format json`).
//!
//! JSON shape: one FILE prints one `ParseResult` object; several FILEs print one
//! array of them, in argument order, leaving out inputs that could not be read
//! (each object's `report.source.label` names its input). Empty fields are omitted,
//! as proto3 JSON does: no `diagnostics` key means no diagnostics.
//!
//! An unreadable input is reported on stderr and skipped; the run goes on and
//! ends with status 2. Otherwise the status is 1 when any input has an error
//! diagnostic, else 0.

use std::fs;
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use clap::{Args, CommandFactory, ValueEnum};
use serde::ser::{SerializeSeq, Serializer as _};

use nianbao::diagnostics::has_errors;
use nianbao::parse::{decode, parse, ParseOptions};
use nianbao::pb;

use super::snippet::{self, Source};
use super::summary;
use super::term::Style;
use super::{ColorChoice, Status};

/// Printed after `nianbao parse --help`.
pub const AFTER_HELP: &str = "\
Output: --format json prints the proto3 JSON of one nianbao.v1.ParseResult per FILE \
(an array of them when several FILEs are given); --format text prints a summary and \
the diagnostics (codes in docs/diagnostics.md).
Exit status: 0 no error diagnostics; 1 some input has an error diagnostic; \
2 usage error, or an input could not be read (the others are still parsed).";

/// The label of standard input.
const STDIN_LABEL: &str = "<stdin>";

#[derive(Debug, Args)]
pub struct ParseArgs {
    /// Published reports: text or HTML, UTF-8, GBK or GB18030. `-` reads standard input.
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,

    /// What to print.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    format: OutputFormat,

    /// The inputs' character set (UTF-8, GBK, GB18030...); detected when omitted.
    #[arg(long, value_name = "NAME")]
    charset: Option<String>,

    /// Where the report was published, kept in its provenance (with one FILE only).
    #[arg(long, value_name = "URL")]
    url: Option<String>,
}

/// `--format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    /// A readable summary: metadata, tables 二 三 四, diagnostics with source excerpts.
    Text,
    /// The proto3 canonical JSON of each `nianbao.v1.ParseResult`.
    Json,
}

/// One input, read and parsed.
struct Parsed {
    /// The input as named on the command line (`<stdin>` for `-`).
    name: String,
    bytes: Vec<u8>,
    result: pb::ParseResult,
}

/// Runs `nianbao parse`.
pub fn run(args: ParseArgs, color: ColorChoice) -> Status {
    if args.url.is_some() && args.files.len() > 1 {
        super::Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "--url names where one report was published; give it with a single FILE",
            )
            .exit();
    }
    let stdout = io::stdout();
    let style = Style::new(color.enabled(stdout.is_terminal()));
    let mut out = BufWriter::new(stdout.lock());
    let mut status = Status::Clean;

    let written = match args.format {
        OutputFormat::Text => for_each_input(&args, &mut status, |p| {
            write_text(&mut out, p, args.charset.as_deref(), &style)
        }),
        OutputFormat::Json if args.files.len() == 1 => for_each_input(&args, &mut status, |p| {
            serde_json::to_writer_pretty(&mut out, &p.result)?;
            writeln!(out)
        }),
        OutputFormat::Json => write_json_array(&mut out, &args, &mut status),
    }
    .and_then(|()| out.flush());

    super::written(written, status)
}

/// Reads and parses each input in turn and hands it to `emit`. An unreadable input
/// is reported on stderr and skipped; an error from `emit` (output) stops the run.
fn for_each_input(
    args: &ParseArgs,
    status: &mut Status,
    mut emit: impl FnMut(&Parsed) -> io::Result<()>,
) -> io::Result<()> {
    for path in &args.files {
        let (name, bytes) = match read_input(path) {
            Ok(input) => input,
            Err(e) => {
                let name = if is_stdin(path) {
                    "standard input".to_string()
                } else {
                    path.display().to_string()
                };
                status.raise(super::fail(format!("cannot read {name}: {e}")));
                continue;
            }
        };
        let opts = ParseOptions {
            charset: args.charset.clone(),
            label: name.clone(),
            url: args.url.clone(),
            ..ParseOptions::default()
        };
        let result = parse(&bytes, &opts);
        tracing::debug!(input = %name, bytes = bytes.len(), diagnostics = result.diagnostics.len(), "parsed");
        if has_errors(&result.diagnostics) {
            status.raise(Status::Errors);
        }
        emit(&Parsed {
            name,
            bytes,
            result,
        })?;
    }
    Ok(())
}

/// Whether `path` names standard input (`-`).
pub(super) fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Reads a FILE argument (`-`: standard input): its display name and bytes.
pub(super) fn read_input(path: &Path) -> io::Result<(String, Vec<u8>)> {
    if is_stdin(path) {
        let mut bytes = Vec::new();
        io::stdin().lock().read_to_end(&mut bytes)?;
        Ok((STDIN_LABEL.to_string(), bytes))
    } else {
        Ok((path.display().to_string(), fs::read(path)?))
    }
}

/// Several inputs: one JSON array, written element by element as inputs are parsed.
fn write_json_array(out: &mut dyn Write, args: &ParseArgs, status: &mut Status) -> io::Result<()> {
    let mut ser = serde_json::Serializer::pretty(&mut *out);
    let mut seq = ser.serialize_seq(None)?;
    for_each_input(args, status, |p| {
        seq.serialize_element(&p.result).map_err(io::Error::from)
    })?;
    seq.end()?;
    writeln!(out)
}

/// The summary, then each diagnostic against the decoded source, then the counts.
fn write_text(
    out: &mut dyn Write,
    p: &Parsed,
    charset: Option<&str>,
    style: &Style,
) -> io::Result<()> {
    summary::write_summary(out, &p.name, &p.result, style)?;
    let diags = &p.result.diagnostics;
    // Spans index the decoded text (for HTML too: the parser maps them back through
    // the extraction), so the same bytes are decoded again to show them.
    let text = if diags.iter().any(|d| d.span.is_some()) {
        decode::decode(&p.bytes, charset).ok().map(|d| d.text)
    } else {
        None
    };
    let src = Source {
        name: &p.name,
        text: text.as_deref(),
    };
    for d in diags {
        snippet::write_diagnostic(out, d, &src, style)?;
    }
    writeln!(out, "{}: {}", p.name, counts(diags))?;
    writeln!(out)
}

/// `2 errors, 1 warning, 3 infos`, or `no diagnostics`.
fn counts(diags: &[pb::Diagnostic]) -> String {
    let n = |s: pb::Severity| diags.iter().filter(|d| d.severity == s as i32).count();
    let parts: Vec<String> = [
        (n(pb::Severity::Error), "error"),
        (n(pb::Severity::Warning), "warning"),
        (n(pb::Severity::Info), "info"),
    ]
    .into_iter()
    .filter(|(k, _)| *k > 0)
    .map(|(k, word)| format!("{k} {word}{}", if k == 1 { "" } else { "s" }))
    .collect();
    if parts.is_empty() {
        "no diagnostics".to_string()
    } else {
        parts.join(", ")
    }
}
