//! X1 · Carried over = last year's carried forward.
//!
//! The rule's catalogue entry, its check and its tests.

use super::{previous, version_of};
use crate::format::{request_row_index, CellRef, REQUEST_COLUMNS, REQUEST_TOTAL_COL};
use crate::pb::{RuleBasis, Severity};
use crate::validate::engine::{comparison, Ctx, Out};
use crate::validate::rules::TABLES;
use crate::validate::{Category, Rule};

pub(super) static X1: Rule = Rule {
    code: "X1",
    severity: Severity::Error,
    title: "上年结转等于上一年度报告的结转下年度",
    title_en: "Carried over = last year's carried forward",
    description: "Per table-三 column (the six applicant columns and the total): carried_over(Y) = carried_forward(Y−1), across format versions. ERROR on the total column, WARNING per applicant column. Needs the previous report (year Y−1, with tables); blank cells on either side: incomplete.",
    versions: TABLES,
    basis: RuleBasis::Derived,
    reference: "表三“二、上年结转政府信息公开申请数量”与上一年度“四、结转下年度继续办理”",
    category: Category::CrossYear,
    check,
};

fn check(ctx: &Ctx<'_>, out: &mut Out) {
    let Some(prev) = previous(ctx, out) else {
        return;
    };
    if !TABLES.contains(&version_of(prev)) {
        // A report before 2019 has no table 三 to carry from.
        out.not_applicable = true;
        return;
    }
    let over = request_row_index("carried_over").unwrap_or(1);
    let forward = request_row_index("carried_forward").unwrap_or(24);
    for (col, spec) in REQUEST_COLUMNS.iter().enumerate() {
        let now = CellRef::request(over, col);
        let then = CellRef::request(forward, col);
        let (Some(a), Some(b)) = (now.get_int(ctx.report), then.get_int(prev)) else {
            out.incomplete = true;
            continue;
        };
        if a == b {
            continue;
        }
        let total = col == REQUEST_TOTAL_COL;
        let f = out.fail(
            format!(
                "“{}”列：上年结转{a}件，但{}年度报告的结转下年度为{b}件",
                spec.label, prev.year
            ),
            format!(
                "column {}: carried_over is {a} but the {} report carried forward {b}",
                spec.id, prev.year
            ),
            [now.path()],
        );
        f.severity = if total {
            Severity::Error
        } else {
            Severity::Warning
        } as i32;
        f.comparisons.push(comparison(
            format!("column {}", spec.id),
            format!("carried_forward.{} of the {} report", spec.id, prev.year),
            b,
            format!("carried_over.{}", spec.id),
            a,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::{AnnualReport, FormatVersion, RuleOutcome};
    use crate::validate::rules::cross_year::tests::{before, clear, set};
    use crate::validate::test_support::{base, run_with as run};

    #[test]
    fn x1_carried_over() {
        let r = base("v2021");
        let mut p = before(&r);
        // Last year carried 12 forward, as this year carried over.
        set(&mut p, "requests.carried_forward.natural_person", 12);
        set(&mut p, "requests.carried_forward.total", 12);
        assert_eq!(run(&r, Some(&p), "X1").0, RuleOutcome::Passed);
        set(&mut p, "requests.carried_forward.total", 15);
        set(&mut p, "requests.carried_forward.natural_person", 15);
        let (o, f) = run(&r, Some(&p), "X1");
        assert_eq!(o, RuleOutcome::Failed);
        let total = f
            .iter()
            .find(|f| f.field_paths == ["requests.carried_over.total"])
            .expect("total finding");
        assert_eq!(total.severity, Severity::Error as i32);
        assert_eq!(total.comparisons[0].expected, "15");
        let col = f
            .iter()
            .find(|f| f.field_paths == ["requests.carried_over.natural_person"])
            .expect("column finding");
        assert_eq!(col.severity, Severity::Warning as i32);
        // Across versions: a V2019 report the year before.
        let mut p19 = base("v2019");
        p19.year = r.year - 1;
        set(&mut p19, "requests.carried_forward.natural_person", 12);
        set(&mut p19, "requests.carried_forward.total", 12);
        assert_eq!(run(&r, Some(&p19), "X1").0, RuleOutcome::Passed);
        // Blank cells: incomplete, not failed.
        clear(&mut p, "requests.carried_forward.total");
        set(&mut p, "requests.carried_forward.natural_person", 12);
        assert_eq!(run(&r, Some(&p), "X1"), (RuleOutcome::Incomplete, vec![]));
        // A legacy report has no table 三.
        let mut old = AnnualReport {
            year: r.year - 1,
            format_version: FormatVersion::Legacy as i32,
            ..Default::default()
        };
        assert_eq!(run(&r, Some(&old), "X1").0, RuleOutcome::NotApplicable);
        old.format_version = FormatVersion::V2021 as i32;
        assert_eq!(run(&r, Some(&old), "X1").0, RuleOutcome::Incomplete);
    }
}
