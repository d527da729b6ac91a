//! Shared helpers of the integration tests: where the corpus is, exact decimal
//! comparison, and the one cell check every test goes through — the parsed value
//! equals the truth, or (where the test allows it) the cell is absent and a P035
//! (SPLIT_AMBIGUOUS) diagnostic lists a candidate reading that gives the truth.
//!
//! `gen` builds random valid reports, `render` lays them out as published text.
#![allow(dead_code)]

pub mod gen;
pub mod render;

use std::path::PathBuf;

use nianbao::format::{CellKind, CellRef, CellValue};
use nianbao::parse::{parse, ParseOptions};
use nianbao::pb::{self, FormatVersion, MoneyUnit, Severity};

/// The corpus of real published reports (`tests/corpus`, with `expected/`).
pub const CORPUS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus");

/// Field path of the V2021 fee cell (万元, with `fen`).
pub const FEE_PATH: &str = "proactive.administrative_fees.amount";

/// The corpus directory; panics with a clear message when it is missing (the
/// corpus tests must fail, never skip, without their data).
pub fn corpus_dir() -> PathBuf {
    let dir = PathBuf::from(CORPUS_DIR);
    assert!(
        dir.is_dir(),
        "corpus directory not found at {}: the corpus tests read the real reports and \
         their truth files from tests/corpus, which the repository carries",
        dir.display()
    );
    dir
}

/// Reads one corpus file (panics with the path when it cannot).
pub fn read_corpus(name: &str) -> Vec<u8> {
    let path = corpus_dir().join(name);
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("cannot read corpus file {}: {e}", path.display()))
}

/// Parses bytes with the file name as label, as the corpus tests do.
pub fn parse_labelled(bytes: &[u8], label: &str) -> pb::ParseResult {
    parse(
        bytes,
        &ParseOptions {
            label: label.to_string(),
            ..Default::default()
        },
    )
}

// ------------------------------------------------------------------ names

pub fn version_name(v: i32) -> String {
    FormatVersion::try_from(v).map_or_else(
        |_| format!("FormatVersion({v})"),
        |v| v.as_str_name().to_string(),
    )
}

pub fn severity_name(s: i32) -> String {
    Severity::try_from(s).map_or_else(
        |_| format!("Severity({s})"),
        |s| s.as_str_name().to_string(),
    )
}

pub fn unit_name(u: i32) -> String {
    MoneyUnit::try_from(u).map_or_else(
        |_| format!("MoneyUnit({u})"),
        |u| u.as_str_name().to_string(),
    )
}

pub fn is_error(d: &pb::Diagnostic) -> bool {
    d.severity == Severity::Error as i32
}

/// One line per diagnostic: code, severity, paths, English message, candidates.
pub fn describe_diag(d: &pb::Diagnostic) -> String {
    let mut s = format!("{} {}", d.code, severity_name(d.severity));
    if !d.field_paths.is_empty() {
        let shown: Vec<&str> = d.field_paths.iter().take(8).map(String::as_str).collect();
        s.push_str(&format!(
            " [{}{}]",
            shown.join(", "),
            if d.field_paths.len() > 8 { ", …" } else { "" }
        ));
    }
    s.push_str(&format!(
        ": {}",
        if d.message_en.is_empty() {
            &d.message
        } else {
            &d.message_en
        }
    ));
    if !d.candidates.is_empty() {
        s.push_str(&format!(" ({} candidates)", d.candidates.len()));
    }
    s
}

/// All diagnostics, one per line (for failure messages).
pub fn describe_diags(diags: &[pb::Diagnostic]) -> String {
    if diags.is_empty() {
        return "  (no diagnostics)".to_string();
    }
    diags
        .iter()
        .map(|d| format!("  {}", describe_diag(d)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Shows a parsed cell value for a failure message.
pub fn show_value(v: &Option<CellValue>) -> String {
    match v {
        None => "absent".to_string(),
        Some(CellValue::Int(i)) => i.to_string(),
        Some(CellValue::Money(m)) => format!(
            "{} (raw {:?}, unit {}, fen {:?})",
            m.decimal,
            m.raw,
            unit_name(m.unit),
            m.fen
        ),
    }
}

// ------------------------------------------------------------------ decimals

/// A decimal number as canonical text: no sign for positives, no leading zeros in
/// the integer part, no trailing zeros in the fraction, no trailing point, "0" for
/// zero ("+012.500" -> "12.5", "-0.0" -> "0", "7.3802895E7" -> "73802895").
/// Exact: digits are moved, never converted through a float. `None` when `s` is not
/// a plain decimal.
pub fn canonical_decimal(s: &str) -> Option<String> {
    let s = s.trim();
    let (neg, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (mantissa, exp) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], rest[i + 1..].parse::<i64>().ok()?),
        None => (rest, 0),
    };
    if exp.abs() > 40 {
        return None;
    }
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut digits = format!("{int}{frac}");
    let mut point = int.len() as i64 + exp;
    if point < 0 {
        digits = "0".repeat((-point) as usize) + &digits;
        point = 0;
    }
    let point = point as usize;
    if point > digits.len() {
        digits.push_str(&"0".repeat(point - digits.len()));
    }
    let (i, f) = digits.split_at(point);
    let i = i.trim_start_matches('0');
    let f = f.trim_end_matches('0');
    let i = if i.is_empty() { "0" } else { i };
    let body = if f.is_empty() {
        i.to_string()
    } else {
        format!("{i}.{f}")
    };
    Some(if neg && body != "0" {
        format!("-{body}")
    } else {
        body
    })
}

/// A canonical decimal times 10^places as an integer; `None` when it has more
/// than `places` decimals (or is not a decimal).
pub fn scaled(canonical: &str, places: u32) -> Option<i128> {
    let (neg, body) = match canonical.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, canonical),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if frac.len() > places as usize {
        return None;
    }
    let int: i128 = int.parse().ok()?;
    let frac_val: i128 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    let v = int
        .checked_mul(10i128.pow(places))?
        .checked_add(frac_val * 10i128.pow(places - frac.len() as u32))?;
    Some(if neg { -v } else { v })
}

// ------------------------------------------------------------------ the cell check

/// What is known about one cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Truth {
    /// The published cell is blank (or the row is missing): the report must leave it absent.
    Absent,
    /// The published value, as a canonical decimal (integers are decimals too).
    Value(String),
    /// Not recorded (a cell the truth file deliberately omits): not checked.
    Unknown,
}

impl std::fmt::Display for Truth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Truth::Absent => f.write_str("absent (blank)"),
            Truth::Value(v) => f.write_str(v),
            Truth::Unknown => f.write_str("unknown"),
        }
    }
}

/// How a cell passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The parsed value is the truth (or both are absent).
    Exact,
    /// Absent, and a P035 diagnostic lists a candidate reading that gives the truth.
    AmbiguousWithTruth,
    /// Nothing to check.
    Unchecked,
}

/// Whether a candidate reading is the truth: it gives a value for `path`, and every
/// cell it gives agrees with the truth (a value for a blank cell, or a different
/// value, rules it out; cells whose truth is unknown are not held against it).
pub fn candidate_is_truth(c: &pb::Candidate, path: &str, truth_of: &dyn Fn(&str) -> Truth) -> bool {
    c.cells.iter().any(|cv| cv.field_path == path)
        && c.cells.iter().all(|cv| match truth_of(&cv.field_path) {
            Truth::Value(t) => canonical_decimal(&cv.value).as_deref() == Some(t.as_str()),
            Truth::Absent => false,
            Truth::Unknown => true,
        })
}

fn show_candidate(c: &pb::Candidate) -> String {
    let cells: Vec<String> = c
        .cells
        .iter()
        .map(|cv| {
            // "row.col" without the table, to stay readable
            let short = cv
                .field_path
                .split_once('.')
                .map_or(&*cv.field_path, |(_, rest)| rest);
            format!("{short}={}", cv.value)
        })
        .collect();
    format!("{{{}}}", cells.join(", "))
}

/// Checks one cell against its truth. `allow_ambiguous`: an absent cell passes when
/// a P035 diagnostic names its path and one of its candidates is the truth
/// ([`candidate_is_truth`]). `Err` carries a one-line message: path, expected, got.
pub fn check_cell(
    cell: &CellRef,
    truth: &Truth,
    report: &pb::AnnualReport,
    diags: &[pb::Diagnostic],
    truth_of: &dyn Fn(&str) -> Truth,
    allow_ambiguous: bool,
) -> Result<Verdict, String> {
    let path = cell.path();
    let got = cell.get(report);
    let expected = match truth {
        Truth::Unknown => return Ok(Verdict::Unchecked),
        Truth::Absent => {
            return match got {
                None => Ok(Verdict::Exact),
                Some(_) => Err(format!(
                    "{path}: expected absent (blank), got {}",
                    show_value(&got)
                )),
            }
        }
        Truth::Value(t) => t,
    };
    match &got {
        Some(v) => compare_value(&path, cell.kind(), v, expected).map(|()| Verdict::Exact),
        None if !allow_ambiguous => Err(format!("{path}: expected {expected}, got absent")),
        None => {
            let p035: Vec<&pb::Diagnostic> = diags
                .iter()
                .filter(|d| d.code == "P035" && d.field_paths.contains(&path))
                .collect();
            if p035.is_empty() {
                return Err(format!(
                    "{path}: expected {expected}, got absent, and no P035 diagnostic names the cell"
                ));
            }
            if p035.iter().any(|d| {
                d.candidates
                    .iter()
                    .any(|c| candidate_is_truth(c, &path, truth_of))
            }) {
                return Ok(Verdict::AmbiguousWithTruth);
            }
            let shown: Vec<String> = p035
                .iter()
                .flat_map(|d| d.candidates.iter())
                .take(6)
                .map(show_candidate)
                .collect();
            Err(format!(
                "{path}: expected {expected}, got absent; P035 names the cell but no candidate \
                 reading is the truth (candidates: {})",
                if shown.is_empty() {
                    "none".to_string()
                } else {
                    shown.join(" | ")
                }
            ))
        }
    }
}

fn compare_value(
    path: &str,
    kind: CellKind,
    got: &CellValue,
    expected: &str,
) -> Result<(), String> {
    match (kind, got) {
        (CellKind::Money(_), CellValue::Money(m)) => {
            let Some(decimal) = canonical_decimal(&m.decimal) else {
                return Err(format!(
                    "{path}: expected {expected}, got a decimal that is not a number: {}",
                    show_value(&Some(got.clone()))
                ));
            };
            if decimal != expected {
                return Err(format!(
                    "{path}: expected {expected}, got {}",
                    show_value(&Some(got.clone()))
                ));
            }
            check_fen(path, m, expected)
        }
        (CellKind::Count | CellKind::Signed, CellValue::Int(v)) => {
            if v.to_string() == expected {
                Ok(())
            } else {
                Err(format!("{path}: expected {expected}, got {v}"))
            }
        }
        (kind, v) => Err(format!(
            "{path}: expected {expected} ({kind:?} cell), got a value of the wrong kind: {}",
            show_value(&Some(v.clone()))
        )),
    }
}

/// `fen` must agree with the decimal and unit (万元: × 10^6, 元: × 100); the V2021 fee
/// cell in 万元 must carry it.
fn check_fen(path: &str, m: &pb::MoneyAmount, decimal: &str) -> Result<(), String> {
    let places = match MoneyUnit::try_from(m.unit) {
        Ok(MoneyUnit::WanYuan) => 6,
        Ok(MoneyUnit::Yuan) => 2,
        _ => return Ok(()),
    };
    let want = scaled(decimal, places);
    match (m.fen, want) {
        (None, _) if path == FEE_PATH && places == 6 => Err(format!(
            "{path}: value {decimal} in WAN_YUAN but fen is missing (expected {})",
            want.map_or("a whole number of fen".to_string(), |w| w.to_string())
        )),
        (None, _) => Ok(()),
        (Some(f), Some(w)) if i128::from(f) == w => Ok(()),
        (Some(f), w) => Err(format!(
            "{path}: value {decimal} {} but fen = {f} (expected {})",
            unit_name(m.unit),
            w.map_or("none: more decimals than a fen".to_string(), |w| w
                .to_string())
        )),
    }
}

/// The truth of a cell of a known report (a generated one): absent or its value.
pub fn truth_of_report(report: &pb::AnnualReport, cell: &CellRef) -> Truth {
    match cell.get(report) {
        None => Truth::Absent,
        Some(CellValue::Int(v)) => Truth::Value(v.to_string()),
        Some(CellValue::Money(m)) => Truth::Value(
            canonical_decimal(&m.decimal)
                .unwrap_or_else(|| panic!("generated money {:?} is not a decimal", m.decimal)),
        ),
    }
}

/// Every cell of both format versions (V2021 first, then the V2019-only ones), so a
/// check also covers cells that must stay absent in the other version.
pub fn cells_of_both_versions() -> Vec<CellRef> {
    let mut out = nianbao::format::all_cells(FormatVersion::V2021);
    for c in nianbao::format::all_cells(FormatVersion::V2019) {
        if !out.contains(&c) {
            out.push(c);
        }
    }
    out
}
