//! The rule catalogue, one folder per group of format.md §7 and one file per rule
//! inside it, named by the rule's code (`structure/s7.rs` is S7): the rule's
//! catalogue entry sits right above its check. Each group's `mod.rs` lists its
//! rules in order (`RULES`) and keeps what several of them share; this file
//! concatenates the groups and holds what every group uses.

mod arithmetic;
mod cross_year;
mod deadline;
mod narrative;
mod structure;

use std::sync::OnceLock;

use super::engine::Ctx;
use super::Rule;
use crate::pb::FormatVersion;

/// Every rule, in catalogue order (format.md §7: arithmetic, cross-year,
/// structure, deadlines, narrative).
pub fn catalogue() -> &'static [&'static Rule] {
    static ALL: OnceLock<Vec<&'static Rule>> = OnceLock::new();
    ALL.get_or_init(|| {
        [
            arithmetic::RULES,
            cross_year::RULES,
            structure::RULES,
            deadline::RULES,
            narrative::RULES,
        ]
        .into_iter()
        .flatten()
        .copied()
        .collect()
    })
}

/// The versions with tables, which most rules apply to.
const TABLES: &[FormatVersion] = &[FormatVersion::V2019, FormatVersion::V2021];

/// A table whose format version a report may record apart from its own
/// (`table_versions`).
#[derive(Clone, Copy)]
enum Table {
    /// Table 二.
    Proactive,
    /// Table 三.
    Requests,
}

/// The version a table follows: its own when recorded, else the report's.
fn table_version(ctx: &Ctx<'_>, table: Table) -> FormatVersion {
    let recorded = ctx.report.table_versions.as_ref().map(|t| match table {
        Table::Proactive => t.proactive,
        Table::Requests => t.requests,
    });
    match recorded.and_then(|v| FormatVersion::try_from(v).ok()) {
        Some(v @ (FormatVersion::V2019 | FormatVersion::V2021)) => v,
        _ => ctx.version,
    }
}
