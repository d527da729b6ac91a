//! A4 · Counts are whole numbers ≥ 0.
//!
//! The rule's catalogue entry and its check.

use crate::format::CellRef;
use crate::pb::{RuleBasis, Severity};
use crate::validate::engine::{Ctx, Out};
use crate::validate::rules::TABLES;
use crate::validate::{Category, Rule};

pub(super) static A4: Rule = Rule {
    code: "A4",
    severity: Severity::Error,
    title: "每个件数都是非负整数",
    title_en: "Counts are whole numbers ≥ 0",
    description: "Every count cell of tables 二, 三 and 四 holds a whole number ≥ 0 (V2019 本年增/减 may be negative); a published value that is not one is reported.",
    versions: TABLES,
    basis: RuleBasis::Derived,
    reference: "表二、表三、表四的件数单元格",
    category: Category::Arithmetic,
    check,
};

fn check(ctx: &Ctx<'_>, out: &mut Out) {
    // The entity's types make every stored count a whole number ≥ 0; what can
    // still fail is a published value the parser could not read as one.
    for d in ctx.diagnostics {
        if !matches!(d.code.as_str(), "P036" | "P038") {
            continue;
        }
        let counts: Vec<String> = d
            .field_paths
            .iter()
            .filter(|p| {
                CellRef::from_path(p).is_some_and(|c| c.kind() == crate::format::CellKind::Count)
            })
            .cloned()
            .collect();
        if counts.is_empty() {
            continue;
        }
        out.fail(
            format!("以下单元格的公布值不是非负整数：{}", counts.join("、")),
            format!(
                "the published values of these cells are not whole numbers ≥ 0: {}",
                counts.join(", ")
            ),
            counts,
        );
    }
}
