//! The rule conformance suite, in the style of the EDGAR/ESEF test suites: every
//! rule of the catalogue has a passing and a failing example in
//! `tests/conformance/<CODE>.json`, and both are run here.
//!
//! An example is a base report (`tests/conformance/base/<base>.json`, the proto3
//! JSON of an `AnnualReport` on which every rule passes) with a JSON merge patch
//! (RFC 7386) applied, and optionally a previous-year report built the same way:
//!
//! ```json
//! { "rule": "A1",
//!   "pass": { "base": "v2021", "patch": {} },
//!   "fail": { "base": "v2021", "patch": { "requests": { "granted": { "naturalPerson": 113 } } },
//!             "previous": { "base": "v2021", "patch": { "year": 2022 } },
//!             "paths": ["requests.granted.natural_person"] } }
//! ```
//!
//! An example may also carry `"diagnostics"`: parse diagnostics (proto3 JSON) that
//! came with the report, for rules that read them.
//!
//! Passing means the rule ran and passed (not "did not apply"); failing means the
//! rule ran, failed, and a finding with its code names every path in `paths`.

use std::path::{Path, PathBuf};

use nianbao::pb::{AnnualReport, RuleOutcome, ValidationResult};
use nianbao::validate::{catalogue, validate, Input, Options};
use serde_json::Value;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// RFC 7386 JSON merge patch.
fn merge(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Default::default());
            }
            if let Value::Object(t) = target {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        merge(t.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

/// Builds a report from `{ "base": ..., "patch": ... }`.
pub fn build(spec: &Value, what: &str) -> AnnualReport {
    let base = spec["base"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: missing \"base\""));
    let mut json = read_json(&dir().join("base").join(format!("{base}.json")));
    if let Some(patch) = spec.get("patch") {
        merge(&mut json, patch);
    }
    serde_json::from_value(json)
        .unwrap_or_else(|e| panic!("{what}: not an AnnualReport after the patch: {e}"))
}

fn run(spec: &Value, what: &str) -> ValidationResult {
    let report = build(spec, what);
    let previous = spec
        .get("previous")
        .filter(|p| !p.is_null())
        .map(|p| build(p, &format!("{what} (previous)")));
    // Parse diagnostics that came with the report (rules such as A4 read them).
    let diagnostics: Vec<nianbao::pb::Diagnostic> = spec
        .get("diagnostics")
        .map(|d| {
            serde_json::from_value(d.clone())
                .unwrap_or_else(|e| panic!("{what}: bad \"diagnostics\": {e}"))
        })
        .unwrap_or_default();
    let input = Input {
        report: &report,
        previous: previous.as_ref(),
        locations: &[],
        diagnostics: &diagnostics,
    };
    validate(&input, &Options::default())
}

fn outcome(result: &ValidationResult, code: &str) -> RuleOutcome {
    result
        .rules
        .iter()
        .find(|r| r.code == code)
        .and_then(|r| RuleOutcome::try_from(r.outcome).ok())
        .unwrap_or(RuleOutcome::Unspecified)
}

fn summary(result: &ValidationResult) -> String {
    result
        .findings
        .iter()
        .map(|f| format!("  [{}] {} {:?}", f.code, f.message_en, f.field_paths))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_rule_has_a_passing_and_a_failing_example() {
    let mut problems = Vec::new();
    for rule in catalogue() {
        let path = dir().join(format!("{}.json", rule.code));
        if !path.exists() {
            problems.push(format!("{}: no {}", rule.code, path.display()));
            continue;
        }
        let ex = read_json(&path);
        if ex["rule"].as_str() != Some(rule.code) {
            problems.push(format!("{}: \"rule\" does not name it", rule.code));
        }
        // Pass.
        let r = run(&ex["pass"], &format!("{} pass", rule.code));
        let o = outcome(&r, rule.code);
        if o != RuleOutcome::Passed {
            problems.push(format!(
                "{} pass: outcome {o:?}, expected PASSED\n{}",
                rule.code,
                summary(&r)
            ));
        }
        // Fail.
        let r = run(&ex["fail"], &format!("{} fail", rule.code));
        let o = outcome(&r, rule.code);
        let ours: Vec<_> = r
            .findings
            .iter()
            .filter(|f| f.code == rule.code && !f.incomplete)
            .collect();
        if o != RuleOutcome::Failed || ours.is_empty() {
            problems.push(format!(
                "{} fail: outcome {o:?}, expected FAILED with a finding\n{}",
                rule.code,
                summary(&r)
            ));
        }
        for p in ex["fail"]["paths"].as_array().into_iter().flatten() {
            let p = p.as_str().unwrap_or_default();
            if !ours.iter().any(|f| f.field_paths.iter().any(|x| x == p)) {
                problems.push(format!(
                    "{} fail: no finding names {p}\n{}",
                    rule.code,
                    summary(&r)
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn base_reports_are_clean() {
    for base in ["v2021", "v2019"] {
        let r = run(&serde_json::json!({ "base": base }), base);
        assert_eq!(r.rules_failed, 0, "{base}:\n{}", summary(&r));
        assert!(r.findings.is_empty(), "{base}:\n{}", summary(&r));
    }
}

#[test]
fn example_files_name_catalogue_rules() {
    let codes: Vec<&str> = catalogue().iter().map(|r| r.code).collect();
    for entry in std::fs::read_dir(dir()).expect("tests/conformance exists") {
        let path = entry.expect("readable directory").path();
        if path.extension().is_some_and(|e| e == "json") {
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default();
            assert!(
                codes.contains(&stem),
                "{} is not a rule of the catalogue",
                path.display()
            );
        }
    }
}
