//! Runs the catalogue over one report and assembles the result: what a check
//! sees ([`Ctx`], which caches the facts several rules share) and produces
//! ([`Out`]), each rule's outcome, the findings' source locations and their
//! fingerprints.

use std::cell::OnceCell;
use std::hash::Hasher;

use fnv::FnvHasher;

use super::facts::{read, stated_period, Period, Prose, Relations};
use super::{catalogue, Rule, RULE_SET_VERSION};
use crate::pb::{
    AnnualReport, CellLocation, Comparison, Diagnostic, Finding, FormatVersion, RuleOutcome,
    RuleResult, Severity, ValidationResult,
};

/// What to validate.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    pub report: &'a AnnualReport,
    /// The same agency's report for the previous year (cross-year rules).
    pub previous: Option<&'a AnnualReport>,
    /// Where each cell was read from (`ParseResult.cell_locations`); empty when
    /// the report came as an entity.
    pub locations: &'a [CellLocation],
    /// Parse diagnostics; they become findings so a caller gets one list.
    pub diagnostics: &'a [Diagnostic],
}

impl<'a> Input<'a> {
    /// A report entity alone (no previous year, no source text).
    pub fn entity(report: &'a AnnualReport) -> Input<'a> {
        Input {
            report,
            previous: None,
            locations: &[],
            diagnostics: &[],
        }
    }

    /// A parse result: the report with its cell locations and diagnostics.
    pub fn parsed(result: &'a crate::pb::ParseResult, report: &'a AnnualReport) -> Input<'a> {
        Input {
            report,
            previous: None,
            locations: &result.cell_locations,
            diagnostics: &result.diagnostics,
        }
    }
}

/// Settings of a validation run.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Publication deadline (month, day of year Y+1) for townships, streets and
    /// other bodies, which have no national date (Art. 49). `None`: not checked.
    pub township_deadline: Option<(u32, u32)>,
}

/// What a rule's check sees.
pub struct Ctx<'a> {
    pub report: &'a AnnualReport,
    pub previous: Option<&'a AnnualReport>,
    pub version: FormatVersion,
    pub options: &'a Options,
    pub diagnostics: &'a [Diagnostic],
    /// The format's relations evaluated, with fault localisation, computed once
    /// per report.
    pub relations: Relations,
    /// The narrative texts and what they state, read on first use.
    prose: OnceCell<Vec<Prose<'a>>>,
    /// The statistical period the report states (统计期限), read on first use.
    period: OnceCell<Option<Period>>,
}

impl<'a> Ctx<'a> {
    /// The report's narrative texts, each read once for all the rules that compare
    /// the prose with the tables.
    pub(crate) fn prose(&self) -> &[Prose<'a>] {
        self.prose.get_or_init(|| read(self.report))
    }

    /// The statistical period the report states, read once for S7 and X6.
    pub(crate) fn period(&self) -> Option<&Period> {
        self.period
            .get_or_init(|| stated_period(self.report))
            .as_ref()
    }
}

/// What a rule's check produces.
#[derive(Default)]
pub struct Out {
    pub findings: Vec<Finding>,
    /// Some part of the check could not be done (blank cells, no text).
    pub incomplete: bool,
    /// The rule does not apply to this report (decided at run time).
    pub not_applicable: bool,
}

impl Out {
    /// Adds a finding with the rule's default severity; returns it for details.
    pub fn fail(
        &mut self,
        zh: impl Into<String>,
        en: impl Into<String>,
        paths: impl IntoIterator<Item = String>,
    ) -> &mut Finding {
        self.findings.push(Finding {
            message: zh.into(),
            message_en: en.into(),
            field_paths: paths.into_iter().collect(),
            ..Default::default()
        });
        let last = self.findings.len() - 1;
        &mut self.findings[last]
    }
}

/// A comparison of an expected and an actual value.
pub fn comparison(
    subject: impl Into<String>,
    expected_expression: impl Into<String>,
    expected: impl ToString,
    actual_expression: impl Into<String>,
    actual: impl ToString,
) -> Comparison {
    Comparison {
        subject: subject.into(),
        expected_expression: expected_expression.into(),
        expected: expected.to_string(),
        actual_expression: actual_expression.into(),
        actual: actual.to_string(),
    }
}

/// Validates one report with every rule of the catalogue.
pub fn validate(input: &Input<'_>, options: &Options) -> ValidationResult {
    let report = input.report;
    let version = FormatVersion::try_from(report.format_version).unwrap_or_default();
    let ctx = Ctx {
        report,
        previous: input.previous,
        version,
        options,
        diagnostics: input.diagnostics,
        relations: Relations::new(report, version),
        prose: OnceCell::new(),
        period: OnceCell::new(),
    };
    let mut result = ValidationResult {
        rule_set_version: RULE_SET_VERSION.to_string(),
        ..Default::default()
    };
    for d in input.diagnostics {
        result.findings.push(from_diagnostic(d));
    }
    let locations = Locations::new(input.locations);
    for rule in catalogue() {
        let outcome = run(rule, &ctx, &locations, &mut result.findings);
        match outcome {
            RuleOutcome::Passed => result.rules_passed += 1,
            RuleOutcome::Failed => result.rules_failed += 1,
            RuleOutcome::Incomplete => result.rules_incomplete += 1,
            _ => result.rules_not_applicable += 1,
        }
        result.rules.push(RuleResult {
            code: rule.code.to_string(),
            outcome: outcome as i32,
        });
    }
    for f in &result.findings {
        match Severity::try_from(f.severity).unwrap_or_default() {
            Severity::Error => result.errors += 1,
            Severity::Warning => result.warnings += 1,
            _ => result.infos += 1,
        }
    }
    result
}

fn run(
    rule: &Rule,
    ctx: &Ctx<'_>,
    locations: &Locations<'_>,
    findings: &mut Vec<Finding>,
) -> RuleOutcome {
    let has_tables = matches!(ctx.version, FormatVersion::V2019 | FormatVersion::V2021);
    let applies = if rule.versions.is_empty() {
        true
    } else {
        has_tables && rule.versions.contains(&ctx.version)
    };
    if !applies {
        return RuleOutcome::NotApplicable;
    }
    let mut out = Out::default();
    (rule.check)(ctx, &mut out);
    if out.not_applicable {
        return RuleOutcome::NotApplicable;
    }
    let mut failed = false;
    for mut f in out.findings {
        f.code = rule.code.to_string();
        if f.severity == Severity::Unspecified as i32 {
            f.severity = rule.severity as i32;
        }
        // Heuristic rules never raise ERROR.
        if rule.basis == crate::pb::RuleBasis::Heuristic && f.severity == Severity::Error as i32 {
            f.severity = Severity::Warning as i32;
        }
        failed |= !f.incomplete;
        finish(&mut f, locations);
        findings.push(f);
    }
    if failed {
        RuleOutcome::Failed
    } else if out.incomplete {
        RuleOutcome::Incomplete
    } else {
        RuleOutcome::Passed
    }
}

/// Adds the rule-set version, the fingerprint and the cells' source locations.
fn finish(f: &mut Finding, locations: &Locations<'_>) {
    f.rule_set_version = RULE_SET_VERSION.to_string();
    f.fingerprint = fingerprint(&f.code, &f.field_paths);
    // An incomplete note names blank cells: they were not read, so they have no
    // place in the source.
    if !f.incomplete {
        f.locations = f
            .field_paths
            .iter()
            .filter_map(|p| locations.find(p).cloned())
            .collect();
    }
}

/// Cell locations by field path, indexed on first use (most reports have few
/// findings, and an entity input has no locations at all). The parser gives them
/// sorted by path; others are sorted here.
pub struct Locations<'a> {
    all: &'a [CellLocation],
    /// `None` when `all` is sorted already.
    sorted: OnceCell<Option<Vec<&'a CellLocation>>>,
}

impl<'a> Locations<'a> {
    fn new(all: &'a [CellLocation]) -> Locations<'a> {
        Locations {
            all,
            sorted: std::cell::OnceCell::new(),
        }
    }

    fn find(&self, path: &str) -> Option<&'a CellLocation> {
        if self.all.is_empty() {
            return None;
        }
        let sorted = self.sorted.get_or_init(|| {
            if self.all.is_sorted_by(|a, b| a.field_path <= b.field_path) {
                return None;
            }
            let mut v: Vec<&CellLocation> = self.all.iter().collect();
            v.sort_by(|a, b| a.field_path.cmp(&b.field_path));
            Some(v)
        });
        match sorted {
            None => self
                .all
                .binary_search_by(|l| l.field_path.as_str().cmp(path))
                .ok()
                .map(|i| &self.all[i]),
            Some(sorted) => sorted
                .binary_search_by(|l| l.field_path.as_str().cmp(path))
                .ok()
                .map(|i| sorted[i]),
        }
    }
}

/// Stable id of a finding: rule code, the cells (a set: order and repeats do not
/// matter) and the rule-set version. A fixed, documented function, so the same
/// finding has the same fingerprint in every build and on every machine: 64-bit
/// FNV-1a over the code, then over each distinct cell's own FNV-1a hash in
/// ascending order (hashes, not strings, are sorted: cheap for the hundreds of
/// blank cells an incomplete note may name), then over the version; lower-case hex.
pub fn fingerprint(code: &str, paths: &[String]) -> String {
    /// FNV-1a continued from `h` over the bytes, then over one 0xff byte: a
    /// separator no path or code contains.
    fn eat(h: u64, bytes: &[u8]) -> u64 {
        let mut hasher = FnvHasher::with_key(h);
        hasher.write(bytes);
        hasher.write_u8(0xff);
        hasher.finish()
    }
    // The FNV offset basis (0xcbf29ce484222325).
    let offset = FnvHasher::default().finish();
    let mut cells: Vec<u64> = paths.iter().map(|p| eat(offset, p.as_bytes())).collect();
    cells.sort_unstable();
    cells.dedup();
    let mut h = eat(offset, code.as_bytes());
    for c in cells {
        h = eat(h, &c.to_le_bytes());
    }
    h = eat(h, RULE_SET_VERSION.as_bytes());
    // Most significant byte first. Eight bytes always fit sixteen hex digits; the
    // fallback only keeps the function total.
    let mut hex = [0u8; 16];
    match hex::encode_to_slice(h.to_be_bytes(), &mut hex) {
        Ok(()) => String::from_utf8_lossy(&hex).into_owned(),
        Err(_) => format!("{h:016x}"),
    }
}

fn from_diagnostic(d: &Diagnostic) -> Finding {
    let locations = match &d.span {
        Some(span) => vec![CellLocation {
            field_path: d.field_paths.first().cloned().unwrap_or_default(),
            span: Some(*span),
        }],
        None => Vec::new(),
    };
    Finding {
        code: d.code.clone(),
        severity: d.severity,
        message: d.message.clone(),
        message_en: d.message_en.clone(),
        field_paths: d.field_paths.clone(),
        comparisons: Vec::new(),
        locations,
        rule_set_version: RULE_SET_VERSION.to_string(),
        fingerprint: fingerprint(&d.code, &d.field_paths),
        suspect_paths: Vec::new(),
        suspect_reason: String::new(),
        incomplete: false,
    }
}

#[cfg(test)]
mod tests {
    use super::fingerprint;

    /// Fingerprints are stored and compared across builds: these values were
    /// computed by the hand-written FNV-1a of rule set 2026.11.1 and must never
    /// change for the same code, cells and rule-set version.
    #[test]
    fn fingerprints_are_pinned() {
        let cases: &[(&str, &[&str], &str)] = &[
            ("", &[], "53e57cfa0ade53a6"),
            ("S1", &[], "9dc69d987a461b4a"),
            ("A1", &["requests.new_received.total"], "c38df6f3b522cdb7"),
            (
                "A2",
                &[
                    "requests.new_received.total",
                    "requests.new_received.natural_person",
                ],
                "1d78c4d7b7525f85",
            ),
            // The cells are a set: order and repeats do not matter.
            (
                "A2",
                &[
                    "requests.new_received.natural_person",
                    "requests.new_received.total",
                    "requests.new_received.natural_person",
                ],
                "1d78c4d7b7525f85",
            ),
            (
                "X5",
                &["overview", "problems", "other_matters"],
                "ba01e70324dd8b0f",
            ),
            (
                "P036",
                &["proactive.administrative_fees.amount"],
                "5299218b3df64f69",
            ),
            (
                "N1",
                &["requests.results_total.total", "overview", "问题"],
                "d1995b206f5949b3",
            ),
        ];
        assert_eq!(super::RULE_SET_VERSION, "2026.11.1");
        for (code, paths, expected) in cases {
            let paths: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
            assert_eq!(fingerprint(code, &paths), *expected, "{code} {paths:?}");
        }
    }
}
