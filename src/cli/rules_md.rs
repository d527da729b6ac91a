//! The rule catalogue as Markdown: [`markdown`].
//!
//! Shared source: this file is compiled into the binary (`nianbao rules --format
//! markdown` prints the catalogue alone) and, through `#[path]`, into
//! `tests/rules_doc.rs`, which adds each rule's conformance examples and keeps
//! `docs/rules.md` equal to the result. It may therefore use only `std`,
//! `serde_json` and the public API of the `nianbao` library, and its output depends
//! on nothing but the catalogue and its argument (no clock, no paths, no hash order).

use std::collections::BTreeMap;

use nianbao::pb::{RuleBasis, Severity};
use nianbao::validate::{catalogue, Category, Rule, RULE_SET_VERSION};
use serde_json::Value;

/// Conformance examples by rule code: the JSON of `tests/conformance/<CODE>.json`.
pub type Examples = BTreeMap<String, Value>;

/// The catalogue as Markdown. With `examples`, the published `docs/rules.md`:
/// a generated-file note, then each rule with its passing and failing example.
pub fn markdown(examples: Option<&Examples>) -> String {
    let mut md = Md::default();
    md.line("# Validation rules");
    md.blank();
    if examples.is_some() {
        md.line("> **Generated file: do not edit.** `tests/rules_doc.rs` writes it from the rule");
        md.line("> catalogue (`nianbao::validate::catalogue()`) and the conformance examples");
        md.line(
            "> (`tests/conformance/<CODE>.json`), and `cargo test --test rules_doc` fails when it",
        );
        md.line("> is stale. After changing a rule or an example, regenerate it with");
        md.line("> `NIANBAO_BLESS=1 cargo test --test rules_doc` and commit the result.");
    } else {
        md.line(
            "> The catalogue as `nianbao rules --format markdown` prints it; `docs/rules.md` is",
        );
        md.line("> the same with each rule's passing and failing example.");
    }
    md.blank();
    md.line(&format!(
        "Rule-set version: `{RULE_SET_VERSION}`. It is part of every finding's fingerprint, so a"
    ));
    md.line(
        "change to a rule's logic or to what identifies its findings comes with a new version.",
    );
    md.blank();
    md.line("`nianbao validate` runs every rule on a report and returns a `ValidationResult`");
    md.line(
        "(`proto/nianbao/v1/validation.proto`): per rule an outcome (passed, failed, incomplete",
    );
    md.line(
        "when blank cells kept it from a full check, not applicable), and the findings, each with",
    );
    md.line(
        "its code, severity, message in Chinese and English, the cells involved as field paths",
    );
    md.line(
        "(`requests.granted.natural_person`), expected against actual values, the cells' places in",
    );
    md.line("the source, the cells most likely wrong when the arithmetic points at them, and a");
    md.line(
        "fingerprint. Severities are the defaults; a heuristic rule never reports an error. Parse",
    );
    md.line("diagnostics (`P…`, `docs/diagnostics.md`) come in the same list.");
    md.blank();

    let rules = catalogue();
    md.line("| Code | Severity | Category | Versions | Title |");
    md.line("| --- | --- | --- | --- | --- |");
    for r in rules {
        md.line(&format!(
            "| {} | {} | {} | {} | {} |",
            r.code,
            severity_word(r.severity),
            r.category.as_str(),
            versions(r),
            cell(&format!("{} ({})", r.title_en, r.title))
        ));
    }
    md.blank();

    let mut categories: Vec<Category> = Vec::new();
    for r in rules {
        if !categories.contains(&r.category) {
            categories.push(r.category);
        }
    }
    for category in categories {
        md.line(&format!("## {}", category_heading(category)));
        md.blank();
        for r in rules.iter().filter(|r| r.category == category) {
            write_rule(&mut md, r, examples);
        }
    }
    md.0
}

/// One rule: heading, titles, description, facts, examples.
fn write_rule(md: &mut Md, r: &Rule, examples: Option<&Examples>) {
    md.line(&format!("### {} · {}", r.code, prose(r.title_en)));
    md.blank();
    md.line(&prose(r.title));
    md.blank();
    md.line(&prose(r.description));
    md.blank();
    md.line("| | |");
    md.line("| --- | --- |");
    md.line(&format!("| Code | `{}` |", r.code));
    md.line(&format!(
        "| Default severity | {} |",
        severity_word(r.severity)
    ));
    md.line(&format!("| Versions | {} |", versions(r)));
    md.line(&format!("| Basis | {} |", basis_text(r.basis)));
    md.line(&format!("| Reference | {} |", cell(r.reference)));
    md.blank();
    let Some(examples) = examples else { return };
    match examples.get(r.code) {
        None => {
            md.line(&format!(
                "*No conformance example yet (`tests/conformance/{}.json`).*",
                r.code
            ));
            md.blank();
        }
        Some(ex) => {
            write_example(md, "Passing example", &ex["pass"]);
            write_example(md, "Failing example", &ex["fail"]);
        }
    }
}

/// One example of a conformance file: what it shows, the base report, the merge
/// patch, the previous year, parse diagnostics given with it, the paths named.
fn write_example(md: &mut Md, label: &str, ex: &Value) {
    let base = ex["base"].as_str().unwrap_or("?");
    let patch = ex.get("patch").filter(|p| !is_empty_object(p));
    let description = ex["description"].as_str().map(str::trim).unwrap_or("");
    let base_text = format!("Base report `{base}` (`tests/conformance/base/{base}.json`)");
    let base_text = match patch {
        Some(_) => format!("{base_text} with this JSON merge patch:"),
        None => format!("{base_text}, unchanged."),
    };
    if description.is_empty() {
        md.line(&format!("**{label}.** {base_text}"));
    } else {
        md.line(&format!("**{label}.** {}", sentence(description)));
        md.blank();
        md.line(&base_text);
    }
    md.blank();
    if let Some(p) = patch {
        md.json(p);
    }
    if let Some(prev) = ex.get("previous").filter(|p| !p.is_null()) {
        let prev_base = prev["base"].as_str().unwrap_or("?");
        match prev.get("patch").filter(|p| !is_empty_object(p)) {
            Some(p) => {
                md.line(&format!(
                    "Previous year: base report `{prev_base}` with this merge patch:"
                ));
                md.blank();
                md.json(p);
            }
            None => {
                md.line(&format!(
                    "Previous year: base report `{prev_base}`, unchanged."
                ));
                md.blank();
            }
        }
    }
    if let Some(d) = ex.get("diagnostics").filter(|d| !d.is_null()) {
        md.line("Parse diagnostics given with the report:");
        md.blank();
        md.json(d);
    }
    let paths: Vec<String> = ex["paths"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|p| format!("`{p}`"))
        .collect();
    if !paths.is_empty() {
        md.line(&format!("The rule's findings name {}.", paths.join(", ")));
        md.blank();
    }
}

fn is_empty_object(v: &Value) -> bool {
    v.as_object().is_some_and(|o| o.is_empty())
}

fn category_heading(c: Category) -> &'static str {
    match c {
        Category::Arithmetic => "Arithmetic",
        Category::CrossYear => "Cross-year (same agency, consecutive years)",
        Category::Structure => "Structure and content",
        Category::Deadline => "Deadlines",
        Category::Narrative => "Narrative against tables",
    }
}

fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
        Severity::Unspecified => "unspecified",
    }
}

fn basis_text(b: RuleBasis) -> &'static str {
    match b {
        RuleBasis::Official => "official: stated in the regulation or the national format",
        RuleBasis::Derived => "derived: follows necessarily from the table design",
        RuleBasis::Heuristic => {
            "heuristic: a plausibility check that can legitimately fail (never an error)"
        }
        RuleBasis::Unspecified => "unspecified",
    }
}

/// `V2019, V2021`, or `all` when the rule names none.
pub fn versions(r: &Rule) -> String {
    if r.versions.is_empty() {
        return "all".to_string();
    }
    r.versions
        .iter()
        .map(|v| {
            v.as_str_name()
                .strip_prefix("FORMAT_VERSION_")
                .unwrap_or(v.as_str_name())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `text` as a sentence: capitalised, ending in a full stop.
fn sentence(text: &str) -> String {
    let text = prose(text.trim_end_matches('.'));
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

/// Running text: `*` would start emphasis (`Σ denied_*`).
fn prose(s: &str) -> String {
    s.replace('*', "\\*")
}

/// A table cell: prose with `|` escaped and no line breaks.
fn cell(s: &str) -> String {
    prose(s).replace('|', "\\|").replace('\n', " ")
}

/// Markdown being written (a `String` that cannot fail to grow).
#[derive(Default)]
struct Md(String);

impl Md {
    fn line(&mut self, s: &str) {
        self.0.push_str(s);
        self.0.push('\n');
    }

    fn blank(&mut self) {
        self.0.push('\n');
    }

    /// A fenced block of pretty JSON (two-space indent, keys in `serde_json::Map` order).
    fn json(&mut self, v: &Value) {
        let text = serde_json::to_string_pretty(v).unwrap_or_else(|e| format!("/* {e} */"));
        self.line("```json");
        self.line(&text);
        self.line("```");
        self.blank();
    }
}
