//! X7 · Format version expected for the year.
//!
//! The rule's catalogue entry, its check, what only it uses and its tests.

use crate::format::expected_version;
use crate::pb::{FormatVersion, RuleBasis, Severity};
use crate::validate::engine::{comparison, Ctx, Out};
use crate::validate::{Category, Rule};

pub(super) static X7: Rule = Rule {
    code: "X7",
    severity: Severity::Error,
    title: "年度报告格式与报告年度不符",
    title_en: "Format version expected for the year",
    description: "format_version (and each table's recorded version) is the one the national format prescribes for the report year (format.expected_version: LEGACY up to 2018, V2019 for 2019–2020, V2021 from 2021). ERROR for report years ≥ 2021, WARNING before. Unknown year or version: incomplete.",
    versions: &[],
    basis: RuleBasis::Official,
    reference: "国办公开办函〔2019〕60号；国办公开办函〔2021〕30号",
    category: Category::CrossYear,
    check,
};

fn version_label(v: FormatVersion) -> (&'static str, &'static str) {
    match v {
        FormatVersion::V2019 => ("2019年版格式（国办公开办函〔2019〕60号）", "V2019"),
        FormatVersion::V2021 => ("2021年版格式（国办公开办函〔2021〕30号）", "V2021"),
        FormatVersion::Legacy => ("2019年以前的自由格式", "LEGACY"),
        FormatVersion::Unspecified => ("未知格式", "UNSPECIFIED"),
    }
}

fn check(ctx: &Ctx<'_>, out: &mut Out) {
    let r = ctx.report;
    if r.year <= 0 || ctx.version == FormatVersion::Unspecified {
        out.incomplete = true;
        return;
    }
    let expected = expected_version(r.year);
    let severity = if r.year >= 2021 {
        Severity::Error
    } else {
        Severity::Warning
    };
    let (exp_zh, exp_en) = version_label(expected);
    let tv = r.table_versions.as_ref();
    let tables = [
        ("table_versions.proactive", "表二", tv.map(|t| t.proactive)),
        ("table_versions.requests", "表三", tv.map(|t| t.requests)),
    ];
    // Tables recorded with a version other than the expected one.
    let off_tables: Vec<(&str, &str, FormatVersion)> = tables
        .iter()
        .filter_map(|&(path, zh, v)| {
            let v = FormatVersion::try_from(v?).ok()?;
            (v != FormatVersion::Unspecified && v != expected).then_some((path, zh, v))
        })
        .collect();
    if ctx.version != expected {
        let (got_zh, got_en) = version_label(ctx.version);
        let mut paths = vec!["format_version".to_string()];
        paths.extend(off_tables.iter().map(|t| t.0.to_string()));
        let f = out.fail(
            format!("{}年度报告应采用{exp_zh}，实际采用{got_zh}", r.year),
            format!(
                "a {} report should follow {exp_en}, but this one follows {got_en}",
                r.year
            ),
            paths,
        );
        f.severity = severity as i32;
        f.comparisons.push(comparison(
            "format version",
            format!("expected_version({})", r.year),
            exp_en,
            "format_version",
            got_en,
        ));
    } else if !off_tables.is_empty() {
        let zh: Vec<String> = off_tables
            .iter()
            .map(|t| format!("{}按{}", t.1, version_label(t.2).0))
            .collect();
        let en: Vec<String> = off_tables
            .iter()
            .map(|t| format!("{} follows {}", t.0, version_label(t.2).1))
            .collect();
        let f = out.fail(
            format!(
                "{}年度报告应采用{exp_zh}，但{}（新旧格式混用）",
                r.year,
                zh.join("、")
            ),
            format!(
                "a {} report should follow {exp_en}, but {} (formats mixed)",
                r.year,
                en.join(", ")
            ),
            off_tables.iter().map(|t| t.0.to_string()),
        );
        f.severity = severity as i32;
        for t in &off_tables {
            f.comparisons.push(comparison(
                t.0,
                format!("expected_version({})", r.year),
                exp_en,
                t.0,
                version_label(t.2).1,
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::{AnnualReport, RuleOutcome, TableVersions};
    use crate::validate::test_support::{base, run_with as run};

    #[test]
    fn x7_expected_version() {
        let r = base("v2021");
        assert_eq!(run(&r, None, "X7").0, RuleOutcome::Passed);
        // A 2021 report in the 2019 format: error.
        let mut r = base("v2019");
        r.year = 2021;
        let (o, f) = run(&r, None, "X7");
        assert_eq!(o, RuleOutcome::Failed);
        assert_eq!(f[0].severity, Severity::Error as i32);
        assert!(f[0].field_paths.contains(&"format_version".to_string()));
        // A 2020 report in the 2021 format: warning.
        let mut r = base("v2021");
        r.year = 2020;
        let (_, f) = run(&r, None, "X7");
        assert_eq!(f[0].severity, Severity::Warning as i32);
        // Before 2019: legacy expected.
        let mut r = base("v2019");
        r.year = 2018;
        r.format_version = FormatVersion::Legacy as i32;
        r.table_versions = None;
        assert_eq!(run(&r, None, "X7").0, RuleOutcome::Passed);
        // Mixed tables.
        let mut r = base("v2021");
        r.table_versions = Some(TableVersions {
            proactive: FormatVersion::V2021 as i32,
            requests: FormatVersion::V2019 as i32,
        });
        let (o, f) = run(&r, None, "X7");
        assert_eq!(o, RuleOutcome::Failed);
        assert_eq!(f[0].field_paths, ["table_versions.requests"]);
        // Unknown year or version.
        let r = AnnualReport::default();
        assert_eq!(run(&r, None, "X7").0, RuleOutcome::Incomplete);
    }
}
