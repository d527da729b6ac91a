//! X3 · Item counts carry over from last year.
//!
//! The rule's catalogue entry, its check and its tests.

use super::{previous, version_of};
use crate::format::{CellRef, PROACTIVE_ROWS};
use crate::pb::{FormatVersion, RuleBasis, Severity};
use crate::validate::engine::{comparison, Ctx, Out};
use crate::validate::{Category, Rule};

pub(super) static X3: Rule = Rule {
    code: "X3",
    severity: Severity::Warning,
    title: "上一年项目数量等于上年报告的上一年项目数量加本年增/减",
    title_en: "Item counts carry over from last year",
    description: "V2019 table 二 （五）（六）（八）, per row: prev_year_items(Y) = prev_year_items(Y−1) + change_this_year(Y−1). Needs the previous report in V2019 (year Y−1); blank cells: incomplete.",
    versions: &[FormatVersion::V2019],
    basis: RuleBasis::Derived,
    reference: "表二（2019年版）“上一年项目数量”“本年增/减”",
    category: Category::CrossYear,
    check,
};

fn check(ctx: &Ctx<'_>, out: &mut Out) {
    let Some(prev) = previous(ctx, out) else {
        return;
    };
    if version_of(prev) != FormatVersion::V2019 {
        out.not_applicable = true;
        return;
    }
    // 行政许可, 其他对外管理服务事项, 行政处罚, 行政强制, 行政事业性收费.
    for row in [2u8, 3, 4, 5, 6] {
        let spec = &PROACTIVE_ROWS[row as usize];
        let cell = |col: &'static str| CellRef::Proactive { row, col };
        let (Some(now), Some(before), Some(change)) = (
            cell("prev_year_items").get_int(ctx.report),
            cell("prev_year_items").get_int(prev),
            cell("change_this_year").get_int(prev),
        ) else {
            out.incomplete = true;
            continue;
        };
        let expected = before + change;
        if expected == now {
            continue;
        }
        let f = out.fail(
            format!(
                "“{}”上一年项目数量为{now}，但{}年度报告为{before}、本年增/减{change:+}，应为{expected}",
                spec.label, prev.year
            ),
            format!(
                "{}: prev_year_items is {now} but the {} report gives {before} {change:+} = {expected}",
                spec.id, prev.year
            ),
            [cell("prev_year_items").path()],
        );
        f.comparisons.push(comparison(
            format!("row {}", spec.id),
            format!(
                "prev_year_items + change_this_year of the {} report",
                prev.year
            ),
            expected,
            "prev_year_items",
            now,
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::pb::RuleOutcome;
    use crate::validate::rules::cross_year::tests::{clear, set};
    use crate::validate::test_support::{base, run_with as run};

    #[test]
    fn x3_item_counts() {
        let mut r = base("v2019");
        r.year = 2020;
        let mut p = base("v2019"); // licensing 17 + 0, penalty 12 + 0.
        assert_eq!(run(&r, Some(&p), "X3").0, RuleOutcome::Passed);
        set(
            &mut p,
            "proactive.administrative_penalty.change_this_year",
            -2,
        );
        let (o, f) = run(&r, Some(&p), "X3");
        assert_eq!(o, RuleOutcome::Failed);
        assert_eq!(
            f[0].field_paths,
            ["proactive.administrative_penalty.prev_year_items"]
        );
        assert_eq!(f[0].comparisons[0].expected, "10");
        clear(&mut p, "proactive.administrative_penalty.change_this_year");
        assert_eq!(run(&r, Some(&p), "X3").0, RuleOutcome::Incomplete);
    }
}
