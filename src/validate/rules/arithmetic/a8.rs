//! A8 · V2019 item counts stay ≥ 0; total published ≥ newly published.
//!
//! The rule's catalogue entry and its check.

use crate::format::{CellRef, PROACTIVE_ROWS};
use crate::pb::{FormatVersion, RuleBasis, Severity};
use crate::validate::engine::{comparison, Ctx, Out};
use crate::validate::{Category, Rule};

pub(super) static A8: Rule = Rule {
    code: "A8",
    severity: Severity::Warning,
    title: "上一年项目数量加本年增减不为负；对外公开总数量不少于本年新公开数量",
    title_en: "V2019 item counts stay ≥ 0; total published ≥ newly published",
    description: "V2019 table 二: prev_year_items + change_this_year ≥ 0 per row; total_published ≥ newly_published per document row.",
    versions: &[FormatVersion::V2019],
    basis: RuleBasis::Derived,
    reference: "表二（2019年版）",
    category: Category::Arithmetic,
    check,
};

fn check(ctx: &Ctx<'_>, out: &mut Out) {
    for row in [2u8, 3, 4, 5, 6] {
        let id = PROACTIVE_ROWS[row as usize].id;
        let get = |col: &'static str| CellRef::Proactive { row, col }.get_int(ctx.report);
        let (Some(prev), Some(change)) = (get("prev_year_items"), get("change_this_year")) else {
            out.incomplete = true;
            continue;
        };
        if prev + change < 0 {
            let f = out.fail(
                format!(
                    "“{}”上一年项目数量{prev}加本年增减{change}为负数",
                    PROACTIVE_ROWS[row as usize].label
                ),
                format!("{id}: prev_year_items {prev} + change_this_year {change} < 0"),
                ["prev_year_items", "change_this_year"].map(|c| format!("proactive.{id}.{c}")),
            );
            f.comparisons.push(comparison(
                format!("row {id}"),
                "≥ 0",
                0,
                "prev_year_items + change_this_year",
                prev + change,
            ));
        }
    }
    for row in 0..2u8 {
        let id = PROACTIVE_ROWS[row as usize].id;
        let get = |col: &'static str| CellRef::Proactive { row, col }.get_int(ctx.report);
        let (Some(new), Some(total)) = (get("newly_published"), get("total_published")) else {
            out.incomplete = true;
            continue;
        };
        if total < new {
            let f = out.fail(
                format!(
                    "“{}”对外公开总数量{total}少于本年新公开数量{new}",
                    PROACTIVE_ROWS[row as usize].label
                ),
                format!("{id}: total_published {total} < newly_published {new}"),
                ["newly_published", "total_published"].map(|c| format!("proactive.{id}.{c}")),
            );
            f.comparisons.push(comparison(
                format!("row {id}"),
                "≥ newly_published",
                new,
                "total_published",
                total,
            ));
        }
    }
}
