//! Validation: the rule catalogue (format.md §7) run over a report entity.
//!
//! One rule = one [`Rule`]: a stable code, a default severity, a title, its basis
//! and reference, the versions it applies to, and a check function. The catalogue
//! is [`catalogue()`]; `docs/rules.md` is generated from it (`tests/rules_doc.rs`
//! writes it, and fails when it is stale). Parse diagnostics become findings
//! too, so a caller gets one list.
//!
//! The engine reads only the entity (and, for cross-year rules, the previous
//! year's entity): no rule re-parses or re-scans the published text.
//!
//! Layers, lowest first: `text` (text helpers) → `facts` (what several rules share,
//! computed once per report) → `engine` (runs the catalogue; `Ctx` caches the
//! facts) → `rules` (one file per rule). This file owns [`Rule`], [`Category`],
//! [`RULE_SET_VERSION`] and the tests' shared helpers.

mod engine;
mod facts;
mod rules;
mod text;

pub use engine::{validate, Input, Options};
pub use rules::catalogue;

use crate::pb::{FormatVersion, RuleBasis, Severity};

/// The version of the rule set. Bumped whenever a rule's logic or a finding's
/// identity changes; it is part of every finding's fingerprint.
pub const RULE_SET_VERSION: &str = "2026.11.1";

/// One rule of the catalogue.
pub struct Rule {
    pub code: &'static str,
    pub severity: Severity,
    pub title: &'static str,
    pub title_en: &'static str,
    /// The check in words (the formula for arithmetic rules).
    pub description: &'static str,
    /// Versions the rule applies to; empty = every version with tables.
    pub versions: &'static [FormatVersion],
    pub basis: RuleBasis,
    /// The clause of the regulation or format it rests on.
    pub reference: &'static str,
    pub category: Category,
    pub check: fn(&engine::Ctx<'_>, &mut engine::Out),
}

/// Rule groups, as in format.md §7.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    Arithmetic,
    CrossYear,
    Structure,
    Deadline,
    Narrative,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Arithmetic => "arithmetic",
            Category::CrossYear => "cross_year",
            Category::Structure => "structure",
            Category::Deadline => "deadline",
            Category::Narrative => "narrative",
        }
    }
}

impl Rule {
    /// The catalogue entry as a proto message (for `ListRules` and JSON output).
    pub fn to_proto(&self) -> crate::pb::Rule {
        crate::pb::Rule {
            code: self.code.to_string(),
            severity: self.severity as i32,
            title: self.title.to_string(),
            title_en: self.title_en.to_string(),
            description: self.description.to_string(),
            versions: self.versions.iter().map(|v| *v as i32).collect(),
            basis: self.basis as i32,
            reference: self.reference.to_string(),
            category: self.category.as_str().to_string(),
        }
    }
}

/// The rule with a code.
pub fn rule(code: &str) -> Option<&'static Rule> {
    catalogue().iter().copied().find(|r| r.code == code)
}

/// What the validator's unit tests share: the conformance base reports, running
/// the catalogue and picking one rule's outcome and findings, small builders.
#[cfg(test)]
pub(crate) mod test_support {
    use crate::pb::{AnnualReport, Finding, RuleOutcome, SectionText};
    use crate::validate::{validate, Input, Options};

    /// A conformance base report (`tests/conformance/base/<name>.json`), on which
    /// every rule passes.
    pub fn base(name: &str) -> AnnualReport {
        let path = format!(
            "{}/tests/conformance/base/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(path).expect("base report");
        serde_json::from_str(&text).expect("base report JSON")
    }

    /// The outcome of rule `code` on an input, and its findings.
    pub fn outcome(
        input: &Input<'_>,
        options: &Options,
        code: &str,
    ) -> (RuleOutcome, Vec<Finding>) {
        let v = validate(input, options);
        let o = v
            .rules
            .iter()
            .find(|x| x.code == code)
            .and_then(|x| RuleOutcome::try_from(x.outcome).ok())
            .unwrap_or_default();
        (
            o,
            v.findings.into_iter().filter(|f| f.code == code).collect(),
        )
    }

    /// The outcome of rule `code` on a report entity alone, and its findings.
    pub fn run(r: &AnnualReport, code: &str) -> (RuleOutcome, Vec<Finding>) {
        outcome(&Input::entity(r), &Options::default(), code)
    }

    /// The outcome of rule `code` on a report with the previous year's, and its
    /// findings.
    pub fn run_with(
        r: &AnnualReport,
        prev: Option<&AnnualReport>,
        code: &str,
    ) -> (RuleOutcome, Vec<Finding>) {
        let input = Input {
            report: r,
            previous: prev,
            locations: &[],
            diagnostics: &[],
        };
        outcome(&input, &Options::default(), code)
    }

    /// Asserts that rule `code` passes on the report.
    pub fn passes(r: &AnnualReport, code: &str) {
        let (o, f) = run(r, code);
        assert_eq!(o, RuleOutcome::Passed, "{code}: {f:?}");
    }

    /// Asserts that rule `code` fails on the report; the finding that names `path`.
    pub fn fails(r: &AnnualReport, code: &str, path: &str) -> Finding {
        let (o, f) = run(r, code);
        assert_eq!(o, RuleOutcome::Failed, "{code}");
        f.into_iter()
            .find(|f| f.field_paths.iter().any(|p| p == path))
            .unwrap_or_else(|| panic!("{code}: no finding names {path}"))
    }

    /// A section with this text and no heading.
    pub fn section(t: &str) -> Option<SectionText> {
        Some(SectionText {
            heading: String::new(),
            text: t.into(),
        })
    }
}
