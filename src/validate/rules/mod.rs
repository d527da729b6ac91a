//! The rule catalogue, one file per group of format.md §7.

mod arithmetic;
mod cross_year;
mod deadline;
pub(crate) mod narrative;
pub(crate) mod structure;

use std::sync::OnceLock;

use super::Rule;

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
        .collect()
    })
}
