//! X2 · Documents in force carry over from last year.
//!
//! The rule's catalogue entry, its check and its tests.

use super::{previous, version_of};
use crate::format::{CellRef, PROACTIVE_ROWS};
use crate::pb::{FormatVersion, RuleBasis, Severity};
use crate::validate::engine::{comparison, Ctx, Out};
use crate::validate::{Category, Rule};

pub(super) static X2: Rule = Rule {
    code: "X2",
    severity: Severity::Warning,
    title: "现行有效件数等于上年现行有效件数加本年制发减本年废止",
    title_en: "Documents in force carry over from last year",
    description: "V2021 table 二 （一）, per row (规章, 行政规范性文件): in_force(Y) = in_force(Y−1) + issued(Y) − repealed(Y). Documents can also lapse, so a difference is a warning. Needs the previous report in V2021 (year Y−1); blank cells: incomplete.",
    versions: &[FormatVersion::V2021],
    basis: RuleBasis::Heuristic,
    reference: "表二第二十条第（一）项",
    category: Category::CrossYear,
    check,
};

fn check(ctx: &Ctx<'_>, out: &mut Out) {
    let Some(prev) = previous(ctx, out) else {
        return;
    };
    if version_of(prev) != FormatVersion::V2021 {
        // The 2019 format counts published documents, not documents in force.
        out.not_applicable = true;
        return;
    }
    for row in 0..2u8 {
        let spec = &PROACTIVE_ROWS[row as usize];
        let cell = |col: &'static str| CellRef::Proactive { row, col };
        let (Some(in_force), Some(issued), Some(repealed), Some(before)) = (
            cell("in_force").get_int(ctx.report),
            cell("issued").get_int(ctx.report),
            cell("repealed").get_int(ctx.report),
            cell("in_force").get_int(prev),
        ) else {
            out.incomplete = true;
            continue;
        };
        let expected = before + issued - repealed;
        if expected == in_force {
            continue;
        }
        let f = out.fail(
            format!(
                "“{}”现行有效{in_force}件，但{}年末现行有效{before}件加本年制发{issued}件减本年废止{repealed}件应为{expected}件",
                spec.label, prev.year
            ),
            format!(
                "{}: in_force is {in_force} but in_force of {} ({before}) + issued ({issued}) − repealed ({repealed}) = {expected} (documents may also have lapsed)",
                spec.id, prev.year
            ),
            [cell("in_force").path(), cell("issued").path(), cell("repealed").path()],
        );
        f.comparisons.push(comparison(
            format!("row {}", spec.id),
            format!("in_force({}) + issued − repealed", prev.year),
            expected,
            "in_force",
            in_force,
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::pb::RuleOutcome;
    use crate::validate::rules::cross_year::tests::{before, clear, set};
    use crate::validate::test_support::{base, run_with as run};

    #[test]
    fn x2_documents_in_force() {
        let r = base("v2021"); // 行政规范性文件: issued 4, repealed 7, in force 14.
        let mut p = before(&r);
        set(&mut p, "proactive.normative_documents.in_force", 17);
        assert_eq!(run(&r, Some(&p), "X2").0, RuleOutcome::Passed);
        set(&mut p, "proactive.normative_documents.in_force", 20);
        let (o, f) = run(&r, Some(&p), "X2");
        assert_eq!(o, RuleOutcome::Failed);
        assert!(f[0]
            .field_paths
            .contains(&"proactive.normative_documents.in_force".to_string()));
        assert_eq!(f[0].comparisons[0].expected, "17");
        clear(&mut p, "proactive.normative_documents.in_force");
        assert_eq!(run(&r, Some(&p), "X2").0, RuleOutcome::Incomplete);
        // Last year in the 2019 format: nothing to compare.
        let mut p19 = base("v2019");
        p19.year = r.year - 1;
        assert_eq!(run(&r, Some(&p19), "X2").0, RuleOutcome::NotApplicable);
    }
}
