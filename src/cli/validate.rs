//! `nianbao validate FILE...`: runs the rule catalogue (`nianbao::validate`) on each
//! input and prints its findings rendered against the source (`--format text`) or
//! the proto3 canonical JSON of each `ValidationResult` (`--format json`).
//!
//! An input is published text or HTML (parsed first; its cell locations and parse
//! diagnostics go to the validator, so findings point into the source), or the
//! proto3 JSON of an `AnnualReport` (what a records platform holding structured
//! data sends) or of a `ParseResult` (`nianbao parse --format json`). JSON is
//! recognised by its shape (`--input auto`) or forced (`--input json`). A directory
//! stands for every visible file in it, in name order; `--previous` is the previous
//! year's report of the same agency, given to every input for the cross-year rules.
//!
//! JSON shape: one FILE prints one `ValidationResult`; several FILEs (or a
//! directory) print one array of them in input order, leaving out inputs that
//! could not be read.
//!
//! Exit status: 2 when an input could not be read or is JSON of another shape (the
//! others are still validated) or the output could not be written; else 1 when any
//! input has an ERROR finding (or a WARNING with `--deny warnings`); else 0.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::{Args, CommandFactory, ValueEnum};
use serde::ser::{SerializeSeq, Serializer as _};

use nianbao::parse::{decode, parse, ParseOptions};
use nianbao::pb;
use nianbao::validate::{catalogue, validate, Input, Options};

use super::parse::{is_stdin, read_input};
use super::snippet::{self, Message, Note, Source};
use super::summary::{version_name, write_header};
use super::term::{Paint, Style};
use super::{ColorChoice, Status};

/// Printed after `nianbao validate --help`.
pub const AFTER_HELP: &str = "\
Inputs: published text or HTML (parsed, then validated with its cell locations and parse \
diagnostics), or the proto3 JSON of a nianbao.v1.AnnualReport or ParseResult (recognised \
by its shape; force with --input). A directory: every visible file in it, in name order.
Output: --format json prints the proto3 JSON of one nianbao.v1.ValidationResult per input \
(an array when several FILEs or a directory are given); --format text prints each finding \
against the source, then the counts (rule codes in docs/rules.md, `nianbao rules`).
Exit status: 0 no ERROR findings; 1 some input has an ERROR finding (or a WARNING, with \
--deny warnings); 2 usage error, or an input could not be read or is JSON of another shape \
(the others are still validated), or --previous could not be read.";

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Reports: published text or HTML, or the JSON of an AnnualReport or ParseResult.
    /// A directory: every file in it. `-` reads standard input.
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,

    /// The same agency's report for the previous year (any input kind), for the
    /// cross-year rules; used with every FILE.
    #[arg(long, value_name = "FILE")]
    previous: Option<PathBuf>,

    /// What to print.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    format: OutputFormat,

    /// Also exit with status 1 on findings of this severity.
    #[arg(long, value_enum, value_name = "LEVEL")]
    deny: Option<Deny>,

    /// How to read the inputs.
    #[arg(long, value_enum, default_value_t = InputKind::Auto)]
    input: InputKind,

    /// The character set of text inputs (UTF-8, GBK, GB18030...); detected when omitted.
    #[arg(long, value_name = "NAME")]
    charset: Option<String>,
}

/// `--format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    /// Each finding rendered against the source, then the counts.
    Text,
    /// The proto3 canonical JSON of each `nianbao.v1.ValidationResult`.
    Json,
}

/// `--deny`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Deny {
    /// WARNING findings fail the run (status 1) as ERROR findings do.
    Warnings,
}

/// `--input`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum InputKind {
    /// JSON when the input is a JSON object, published text otherwise.
    Auto,
    /// Published text or HTML.
    Text,
    /// The proto3 JSON of an `AnnualReport`, or of a `ParseResult` (has "report").
    Json,
}

/// One input, read and brought to a report with its parse result.
struct Loaded {
    /// The input as named (a directory's files as `dir/file`; `<stdin>` for `-`).
    name: String,
    /// The published bytes, when the input was text (to show source excerpts).
    text_bytes: Option<Vec<u8>>,
    report: pb::AnnualReport,
    /// The parse diagnostics and cell locations (its report taken out into
    /// `report`); empty for an `AnnualReport` given as JSON.
    parsed: pb::ParseResult,
}

impl Loaded {
    fn new(name: String, text_bytes: Option<Vec<u8>>, mut parsed: pb::ParseResult) -> Loaded {
        let report = parsed.report.take().unwrap_or_default();
        Loaded {
            name,
            text_bytes,
            report,
            parsed,
        }
    }
}

/// The run's inputs once directories are expanded.
struct Inputs {
    paths: Vec<PathBuf>,
    /// A directory was given or several FILEs: the JSON is an array and the text
    /// ends with a summary.
    several: bool,
}

/// Runs `nianbao validate`.
pub fn run(args: ValidateArgs, color: ColorChoice) -> Status {
    let stdin_uses = args.files.iter().filter(|p| is_stdin(p)).count()
        + usize::from(args.previous.as_deref().is_some_and(is_stdin));
    if stdin_uses > 1 {
        super::Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "standard input (`-`) can be read only once",
            )
            .exit();
    }
    let mut status = Status::Clean;
    let previous = match &args.previous {
        None => None,
        Some(path) => match load(path, &args) {
            Ok(p) => Some(p),
            Err(e) => {
                return super::fail(format!("the previous report: {e}"));
            }
        },
    };
    let inputs = expand(&args.files, &mut status);

    let stdout = io::stdout();
    let style = Style::new(color.enabled(stdout.is_terminal()));
    let mut out = BufWriter::new(stdout.lock());
    let mut tally = Tally::default();
    let ctx = Run {
        args: &args,
        previous: previous.as_ref(),
        style: &style,
    };

    let written = match args.format {
        OutputFormat::Text => ctx
            .for_each_input(&inputs, &mut status, &mut tally, |l, r| {
                write_text(&mut out, l, r, &ctx)
            })
            .and_then(|()| {
                if inputs.several {
                    tally.write(&mut out, &style)?;
                }
                Ok(())
            }),
        OutputFormat::Json if !inputs.several => {
            ctx.for_each_input(&inputs, &mut status, &mut tally, |_, r| {
                serde_json::to_writer_pretty(&mut out, r)?;
                writeln!(out)
            })
        }
        OutputFormat::Json => write_json_array(&mut out, &ctx, &inputs, &mut status, &mut tally),
    }
    .and_then(|()| out.flush());

    super::written(written, status)
}

/// What every input of a run shares.
struct Run<'a> {
    args: &'a ValidateArgs,
    previous: Option<&'a Loaded>,
    style: &'a Style,
}

impl Run<'_> {
    /// Loads and validates each input in turn and hands it to `emit`. An input that
    /// cannot be loaded is reported on stderr and skipped; an error from `emit`
    /// (output) stops the run.
    fn for_each_input(
        &self,
        inputs: &Inputs,
        status: &mut Status,
        tally: &mut Tally,
        mut emit: impl FnMut(&Loaded, &pb::ValidationResult) -> io::Result<()>,
    ) -> io::Result<()> {
        for path in &inputs.paths {
            let loaded = match load(path, self.args) {
                Ok(l) => l,
                Err(e) => {
                    status.raise(super::fail(&e));
                    tally.unreadable += 1;
                    continue;
                }
            };
            let input = Input {
                previous: self.previous.map(|p| &p.report),
                ..Input::parsed(&loaded.parsed, &loaded.report)
            };
            let mut result = validate(&input, &Options::default());
            result.label = loaded.name.clone();
            tracing::debug!(input = %loaded.name, findings = result.findings.len(), "validated");
            let denied = result.errors > 0
                || (self.args.deny == Some(Deny::Warnings) && result.warnings > 0);
            if denied {
                status.raise(Status::Errors);
            }
            tally.add(&result);
            emit(&loaded, &result)?;
        }
        Ok(())
    }
}

/// The FILE arguments with each directory replaced by its visible files, sorted.
/// An unreadable directory is reported and counts as a failure.
fn expand(files: &[PathBuf], status: &mut Status) -> Inputs {
    let mut paths = Vec::new();
    let mut several = files.len() > 1;
    for path in files {
        if is_stdin(path) || !path.is_dir() {
            paths.push(path.clone());
            continue;
        }
        several = true;
        match list_dir(path) {
            Ok(mut found) => paths.append(&mut found),
            Err(e) => {
                status.raise(super::fail(format!("cannot list {}: {e}", path.display())));
            }
        }
    }
    Inputs { paths, several }
}

/// File name endings of reports in a directory: published text, HTML pages and
/// report JSON (a README or an image beside them is not a report).
const REPORT_EXTENSIONS: [&str; 6] = ["txt", "html", "htm", "shtml", "xhtml", "json"];

/// The report files directly in `dir` whose names do not start with `.`, by name.
fn list_dir(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        let report = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| REPORT_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
        if !hidden && report && path.is_file() {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

/// Reads one input and brings it to a parse result. The error names the input.
fn load(path: &Path, args: &ValidateArgs) -> Result<Loaded, String> {
    let (name, bytes) = read_input(path).map_err(|e| {
        let name = if is_stdin(path) {
            "standard input".to_string()
        } else {
            path.display().to_string()
        };
        format!("cannot read {name}: {e}")
    })?;
    let json = match args.input {
        InputKind::Text => None,
        InputKind::Json => Some(json_object(&bytes).ok_or_else(|| {
            format!("{name} is not a JSON object (--input json expects the proto3 JSON of an AnnualReport or a ParseResult)")
        })?),
        InputKind::Auto => json_object(&bytes),
    };
    match json {
        Some(value) => {
            let parsed = from_json(value).map_err(|e| {
                format!("{name} is JSON but neither an AnnualReport nor a ParseResult: {e}")
            })?;
            Ok(Loaded::new(name, None, parsed))
        }
        None => {
            let opts = ParseOptions {
                charset: args.charset.clone(),
                label: name.clone(),
                ..ParseOptions::default()
            };
            let parsed = parse(&bytes, &opts);
            Ok(Loaded::new(name, Some(bytes), parsed))
        }
    }
}

/// The input as a JSON object, when it is one (UTF-8, with or without a BOM).
fn json_object(bytes: &[u8]) -> Option<serde_json::Map<String, serde_json::Value>> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace())?;
    if *first != b'{' {
        return None;
    }
    match serde_json::from_slice(bytes).ok()? {
        serde_json::Value::Object(map) => Some(map),
        _ => None,
    }
}

/// A `ParseResult` (it has `report`) or an `AnnualReport`, from its proto3 JSON.
fn from_json(
    map: serde_json::Map<String, serde_json::Value>,
) -> Result<pb::ParseResult, serde_json::Error> {
    if map.contains_key("report") {
        serde_json::from_value(serde_json::Value::Object(map))
    } else {
        let report: pb::AnnualReport = serde_json::from_value(serde_json::Value::Object(map))?;
        Ok(pb::ParseResult {
            report: Some(report),
            diagnostics: Vec::new(),
            cell_locations: Vec::new(),
        })
    }
}

/// Several inputs: one JSON array, written element by element.
fn write_json_array(
    out: &mut dyn Write,
    ctx: &Run<'_>,
    inputs: &Inputs,
    status: &mut Status,
    tally: &mut Tally,
) -> io::Result<()> {
    let mut ser = serde_json::Serializer::pretty(&mut *out);
    let mut seq = ser.serialize_seq(None)?;
    ctx.for_each_input(inputs, status, tally, |_, r| {
        seq.serialize_element(r).map_err(io::Error::from)
    })?;
    seq.end()?;
    writeln!(out)
}

// === text output ===

/// The header, each finding against the source, and the counts of one input.
fn write_text(
    out: &mut dyn Write,
    l: &Loaded,
    result: &pb::ValidationResult,
    ctx: &Run<'_>,
) -> io::Result<()> {
    let style = ctx.style;
    write_header(out, &l.name, style)?;
    let mut about = vec![report_line(&l.report)];
    if let Some(p) = ctx.previous {
        about.push(format!("previous: {} ({})", report_line(&p.report), p.name));
    }
    writeln!(out, "{}", style.paint(Paint::Dim, &about.join("; ")))?;
    writeln!(out)?;

    // Spans index the decoded text of a text input; the same bytes are decoded
    // again to show them. A JSON ParseResult has spans into a text we do not have:
    // its locations are named after the source label, without excerpts.
    let has_spans = result.findings.iter().any(|f| !f.locations.is_empty());
    let text = match &l.text_bytes {
        Some(bytes) if has_spans => decode::decode(bytes, ctx.args.charset.as_deref())
            .ok()
            .map(|d| d.text),
        _ => None,
    };
    let source_label = l
        .report
        .source
        .as_ref()
        .map(|s| s.label.as_str())
        .filter(|s| !s.is_empty());
    let name = match (&l.text_bytes, source_label) {
        (Some(_), _) => l.name.as_str(),
        (None, Some(label)) if has_spans => label,
        (None, _) if has_spans => "<source>",
        (None, _) => l.name.as_str(),
    };
    let src = Source {
        name,
        text: text.as_deref(),
    };
    for f in &result.findings {
        write_finding(out, f, &l.parsed.diagnostics, &src, style)?;
    }
    writeln!(out, "{}: {}", l.name, counts(result))?;
    writeln!(out)
}

/// `南通市崇川区人民政府办公室, 2023, V2021` (what is known of it).
fn report_line(r: &pb::AnnualReport) -> String {
    let mut parts = Vec::new();
    if let Some(a) = r.agency.as_ref().filter(|a| !a.name.is_empty()) {
        parts.push(a.name.clone());
    }
    if r.year > 0 {
        parts.push(r.year.to_string());
    }
    if let Some(v) = version_name(r.format_version) {
        parts.push(v.to_string());
    }
    if parts.is_empty() {
        "report without agency, year or format version".to_string()
    } else {
        parts.join(", ")
    }
}

/// One finding, rustc style: head, location and excerpt, then the notes.
fn write_finding(
    out: &mut dyn Write,
    f: &pb::Finding,
    diagnostics: &[pb::Diagnostic],
    src: &Source,
    style: &Style,
) -> io::Result<()> {
    // Point at the likely wrong cell when there is one, else the first located cell.
    let primary = f
        .locations
        .iter()
        .find(|l| f.suspect_paths.contains(&l.field_path))
        .or_else(|| f.locations.first());
    let m = Message {
        severity: f.severity,
        code: &f.code,
        message: &f.message,
        message_en: &f.message_en,
        span: primary.and_then(|l| l.span.as_ref()),
        notes: finding_notes(f, diagnostics),
    };
    snippet::write_message(out, &m, src, style)
}

/// The notes of a finding: the candidate readings of the parse diagnostic it
/// came from, the comparisons, the likely wrong cells, the fields, the fingerprint.
fn finding_notes(f: &pb::Finding, diagnostics: &[pb::Diagnostic]) -> Vec<Note> {
    let mut notes = Vec::new();
    if let Some(d) = diagnostics
        .iter()
        .find(|d| d.code == f.code && d.field_paths == f.field_paths && d.message == f.message)
    {
        notes.extend(snippet::candidate_notes(d));
    }
    let several = f.comparisons.len() > 1;
    for c in &f.comparisons {
        let subject = if several && !c.subject.is_empty() {
            format!("{}: ", c.subject)
        } else {
            String::new()
        };
        notes.push(Note::new(
            "expected",
            format!("{subject}{}", equation(&c.expected_expression, &c.expected)),
        ));
        notes.push(Note::new(
            "actual",
            format!("{subject}{}", equation(&c.actual_expression, &c.actual)),
        ));
    }
    let reason = f.suspect_reason.trim();
    let reason = reason.strip_prefix("likely ").unwrap_or(reason);
    match (reason.is_empty(), f.suspect_paths.is_empty()) {
        (false, _) => notes.push(Note::new("likely", reason)),
        (true, false) => notes.push(Note::new(
            "likely",
            format!("wrong: {}", snippet::fields_text(&f.suspect_paths)),
        )),
        (true, true) => {}
    }
    if !reason.is_empty() && !f.suspect_paths.is_empty() {
        notes.push(Note::new(
            "suspects",
            snippet::fields_text(&f.suspect_paths),
        ));
    }
    notes.extend(snippet::fields_note(&f.field_paths));
    if !f.fingerprint.is_empty() {
        notes.push(Note::new("fingerprint", f.fingerprint.clone()));
    }
    notes
}

/// `new_received + carried_over = 122`, or the value alone.
fn equation(expression: &str, value: &str) -> String {
    match (expression.is_empty(), value.is_empty()) {
        (true, _) => value.to_string(),
        (false, true) => expression.to_string(),
        (false, false) => format!("{expression} = {value}"),
    }
}

/// `1 error, 2 infos; rules: 6 passed, 1 failed, 0 incomplete, 1 not applicable`.
fn counts(r: &pb::ValidationResult) -> String {
    let findings: Vec<String> = [
        (r.errors, "error"),
        (r.warnings, "warning"),
        (r.infos, "info"),
    ]
    .into_iter()
    .filter(|(k, _)| *k > 0)
    .map(|(k, word)| format!("{k} {word}{}", if k == 1 { "" } else { "s" }))
    .collect();
    let findings = if findings.is_empty() {
        "no findings".to_string()
    } else {
        findings.join(", ")
    };
    format!(
        "{findings}; rules: {} passed, {} failed, {} incomplete, {} not applicable",
        r.rules_passed, r.rules_failed, r.rules_incomplete, r.rules_not_applicable
    )
}

// === summary ===

/// What the summary line of a run with several inputs counts.
#[derive(Default)]
struct Tally {
    reports: usize,
    with_errors: usize,
    unreadable: usize,
    /// Per code: the number of reports with at least one ERROR finding of it.
    errors: BTreeMap<String, usize>,
    /// The same for WARNING findings.
    warnings: BTreeMap<String, usize>,
}

impl Tally {
    fn add(&mut self, r: &pb::ValidationResult) {
        self.reports += 1;
        if r.errors > 0 {
            self.with_errors += 1;
        }
        for (severity, map) in [
            (pb::Severity::Error, &mut self.errors),
            (pb::Severity::Warning, &mut self.warnings),
        ] {
            let mut codes: Vec<&str> = r
                .findings
                .iter()
                .filter(|f| f.severity == severity as i32)
                .map(|f| f.code.as_str())
                .collect();
            codes.sort_unstable();
            codes.dedup();
            for code in codes {
                *map.entry(code.to_string()).or_default() += 1;
            }
        }
    }

    /// `12 reports: 3 with errors; errors A1×2 A3×1 X7×1; warnings S3×4 N1×2`
    /// (×n: in n reports), rule codes in catalogue order, then parse codes.
    fn line(&self) -> String {
        let by_code = |word: &str, map: &BTreeMap<String, usize>| -> String {
            if map.is_empty() {
                return format!("no {word}");
            }
            let mut codes: Vec<(&String, &usize)> = map.iter().collect();
            codes.sort_by_key(|(code, _)| {
                let at = catalogue().iter().position(|r| r.code == code.as_str());
                (at.unwrap_or(usize::MAX), code.to_string())
            });
            let list: Vec<String> = codes.iter().map(|(c, n)| format!("{c}×{n}")).collect();
            format!("{word} {}", list.join(" "))
        };
        let mut line = format!(
            "{} report{}: {} with errors; {}; {}",
            self.reports,
            if self.reports == 1 { "" } else { "s" },
            self.with_errors,
            by_code("errors", &self.errors),
            by_code("warnings", &self.warnings)
        );
        if self.unreadable > 0 {
            line.push_str(&format!("; {} unreadable", self.unreadable));
        }
        line
    }

    fn write(&self, out: &mut dyn Write, style: &Style) -> io::Result<()> {
        writeln!(out, "{}", style.paint(Paint::Bold, &self.line()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(code: &str, severity: pb::Severity) -> pb::Finding {
        pb::Finding {
            code: code.into(),
            severity: severity as i32,
            ..Default::default()
        }
    }

    #[test]
    fn summary_counts_reports_per_code_in_catalogue_order() {
        let mut t = Tally::default();
        let r1 = pb::ValidationResult {
            errors: 3,
            findings: vec![
                finding("A3", pb::Severity::Error),
                finding("A1", pb::Severity::Error),
                finding("A1", pb::Severity::Error),
                finding("P032", pb::Severity::Warning),
            ],
            ..Default::default()
        };
        let r2 = pb::ValidationResult {
            errors: 1,
            findings: vec![finding("A1", pb::Severity::Error)],
            ..Default::default()
        };
        t.add(&r1);
        t.add(&r2);
        t.add(&pb::ValidationResult::default());
        t.unreadable = 1;
        assert_eq!(
            t.line(),
            "3 reports: 2 with errors; errors A1×2 A3×1; warnings P032×1; 1 unreadable"
        );
        assert_eq!(
            Tally::default().line(),
            "0 reports: 0 with errors; no errors; no warnings"
        );
    }

    #[test]
    fn json_inputs_are_recognised_by_shape() {
        assert!(json_object(b"  {\"year\": 2023}").is_some());
        assert!(json_object(b"\xEF\xBB\xBF{}").is_some());
        assert!(json_object(b"[1]").is_none());
        assert!(json_object("一、总体情况 {".as_bytes()).is_none());
        assert!(json_object(b"{ not json").is_none());

        let report = from_json(json_object(br#"{"year": 2023}"#).unwrap()).unwrap();
        assert_eq!(report.report.unwrap().year, 2023);
        let wrapped =
            from_json(json_object(br#"{"report": {"year": 2022}, "diagnostics": []}"#).unwrap())
                .unwrap();
        assert_eq!(wrapped.report.unwrap().year, 2022);
        assert!(from_json(json_object(br#"{"findings": []}"#).unwrap()).is_err());
    }

    #[test]
    fn notes_show_comparisons_suspects_fields_and_fingerprint() {
        let f = pb::Finding {
            code: "A1".into(),
            severity: pb::Severity::Error as i32,
            field_paths: vec![
                "requests.new_received.total".into(),
                "requests.carried_over.total".into(),
            ],
            comparisons: vec![pb::Comparison {
                subject: "column total".into(),
                expected_expression: "new_received + carried_over".into(),
                expected: "122".into(),
                actual_expression: "results_total + carried_forward".into(),
                actual: "123".into(),
            }],
            suspect_paths: vec!["requests.carried_over.total".into()],
            suspect_reason: "likely requests.carried_over.total is wrong".into(),
            fingerprint: "0123456789abcdef".into(),
            ..Default::default()
        };
        let notes: Vec<String> = finding_notes(&f, &[])
            .into_iter()
            .map(|n| format!("{}: {}", n.label, n.text))
            .collect();
        assert_eq!(
            notes,
            [
                "expected: new_received + carried_over = 122",
                "actual: results_total + carried_forward = 123",
                "likely: requests.carried_over.total is wrong",
                "suspects: requests.carried_over.total",
                "note: fields: requests.new_received.total, requests.carried_over.total",
                "fingerprint: 0123456789abcdef",
            ]
        );
    }
}
