//! A7 · Documents in force ≥ issued − repealed.
//!
//! The rule's catalogue entry and its check.

use crate::format::{CellRef, PROACTIVE_ROWS};
use crate::pb::{FormatVersion, RuleBasis, Severity};
use crate::validate::engine::{comparison, Ctx, Out};
use crate::validate::{Category, Rule};

pub(super) static A7: Rule = Rule {
    code: "A7",
    severity: Severity::Warning,
    title: "现行有效件数不少于本年制发减本年废止",
    title_en: "Documents in force ≥ issued − repealed",
    description: "V2021 table 二 （一）, per row: in_force ≥ issued − repealed.",
    versions: &[FormatVersion::V2021],
    basis: RuleBasis::Derived,
    reference: "表二第二十条第（一）项",
    category: Category::Arithmetic,
    check,
};

fn check(ctx: &Ctx<'_>, out: &mut Out) {
    for row in 0..2u8 {
        let id = PROACTIVE_ROWS[row as usize].id;
        let get = |col: &'static str| CellRef::Proactive { row, col }.get_int(ctx.report);
        let (Some(issued), Some(repealed), Some(in_force)) =
            (get("issued"), get("repealed"), get("in_force"))
        else {
            out.incomplete = true;
            continue;
        };
        if in_force < issued - repealed {
            let paths = ["issued", "repealed", "in_force"].map(|c| format!("proactive.{id}.{c}"));
            let f = out.fail(
                format!(
                    "“{}”现行有效件数{in_force}少于本年制发{issued}减本年废止{repealed}",
                    PROACTIVE_ROWS[row as usize].label
                ),
                format!("{id}: in_force {in_force} < issued {issued} − repealed {repealed}"),
                paths,
            );
            f.comparisons.push(comparison(
                format!("row {id}"),
                "≥ issued − repealed",
                issued - repealed,
                "in_force",
                in_force,
            ));
        }
    }
}
