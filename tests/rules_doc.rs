//! `docs/rules.md` is generated, never hand-written: this test builds it from the
//! rule catalogue (`nianbao::validate::catalogue()`) and each rule's conformance
//! examples (`tests/conformance/<CODE>.json`), and fails when the file differs.
//!
//! `NIANBAO_BLESS=1 cargo test --test rules_doc` rewrites `docs/rules.md` instead.
//!
//! The generator is the binary's own Markdown renderer (`src/cli/rules_md.rs`,
//! which `nianbao rules --format markdown` prints without the examples), compiled
//! in here so that there is one way to write a rule as Markdown.

#[path = "../src/cli/rules_md.rs"]
mod rules_md;

use std::path::{Path, PathBuf};

use nianbao::validate::catalogue;

const RULES_MD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/rules.md");

fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance")
}

/// Every `tests/conformance/<CODE>.json`, by code.
fn examples() -> rules_md::Examples {
    let dir = conformance_dir();
    let mut out = rules_md::Examples::new();
    let entries =
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        if !path.is_file() || path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let code = path.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let json = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
        out.insert(code, json);
    }
    out
}

fn blessing() -> bool {
    std::env::var_os("NIANBAO_BLESS").is_some_and(|v| v == "1")
}

#[test]
fn rules_md_is_generated_from_the_catalogue_and_the_examples() {
    let expected = rules_md::markdown(Some(&examples()));
    if blessing() {
        std::fs::write(RULES_MD, &expected)
            .unwrap_or_else(|e| panic!("cannot write {RULES_MD}: {e}"));
        return;
    }
    let actual = std::fs::read_to_string(RULES_MD).unwrap_or_else(|e| {
        panic!(
            "cannot read {RULES_MD}: {e}\nGenerate it: NIANBAO_BLESS=1 cargo test --test rules_doc"
        )
    });
    if actual != expected {
        let (n, (a, e)) = actual
            .lines()
            .chain(std::iter::repeat("<end of file>"))
            .zip(expected.lines().chain(std::iter::repeat("<end of file>")))
            .enumerate()
            .find(|(_, (a, e))| a != e)
            .unwrap_or((0, ("", "")));
        panic!(
            "docs/rules.md is stale (first difference at line {}):\n  file:      {a}\n  generated: {e}\n\
             Regenerate it: NIANBAO_BLESS=1 cargo test --test rules_doc",
            n + 1
        );
    }
}

#[test]
fn the_generator_is_deterministic() {
    let ex = examples();
    assert_eq!(rules_md::markdown(Some(&ex)), rules_md::markdown(Some(&ex)));
    assert_eq!(rules_md::markdown(None), rules_md::markdown(None));
}

#[test]
fn every_rule_has_its_section_with_its_examples() {
    let ex = examples();
    let md = rules_md::markdown(Some(&ex));
    let mut last = 0;
    for rule in catalogue() {
        let heading = format!("\n### {} · ", rule.code);
        let at = md
            .find(&heading)
            .unwrap_or_else(|| panic!("no section for {}", rule.code));
        assert!(at > last, "{} is out of catalogue order", rule.code);
        last = at;
        let section = &md[at..];
        let section = &section[..section[1..].find("\n### ").map_or(section.len(), |i| i + 1)];
        assert!(
            section.contains(rule.title),
            "{}: no Chinese title",
            rule.code
        );
        if ex.contains_key(rule.code) {
            for label in ["**Passing example.**", "**Failing example.**"] {
                assert!(section.contains(label), "{}: no {label}", rule.code);
            }
        }
    }
    // Without examples (what `nianbao rules --format markdown` prints): no examples.
    assert!(!rules_md::markdown(None).contains("**Passing example.**"));
}
