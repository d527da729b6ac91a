//! X1–X3, X5–X7: the report against the same agency's report for the year
//! before, and against the year it claims to report on.
//!
//! X1–X3 and X5 need the previous report (`Ctx::previous`) and apply only when its
//! year is exactly Y−1; otherwise they are NOT_APPLICABLE. Blank cells on either
//! side make them INCOMPLETE, never FAILED. X6 and X7 read this report alone.
//!
//! One file per rule, named by its code (`x1.rs` … `x7.rs`): the rule's
//! catalogue entry right above its check, what only that rule uses, and its tests.
//! This file lists them ([`RULES`]) and keeps what several of them share.

mod x1;
mod x2;
mod x3;
mod x5;
mod x6;
mod x7;

use crate::pb::{AnnualReport, FormatVersion};
use crate::validate::engine::{Ctx, Out};
use crate::validate::Rule;

/// The cross-year rules, in catalogue order.
pub static RULES: &[&Rule] = &[&x1::X1, &x2::X2, &x3::X3, &x5::X5, &x6::X6, &x7::X7];

/// The previous report when it is exactly the year before; otherwise marks the
/// rule not applicable.
fn previous<'a>(ctx: &Ctx<'a>, out: &mut Out) -> Option<&'a AnnualReport> {
    match ctx.previous {
        Some(p) if ctx.report.year > 0 && p.year == ctx.report.year - 1 => Some(p),
        _ => {
            out.not_applicable = true;
            None
        }
    }
}

fn version_of(r: &AnnualReport) -> FormatVersion {
    FormatVersion::try_from(r.format_version).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use crate::format::{CellRef, CellValue};
    use crate::pb::{AnnualReport, FormatVersion, RuleOutcome};
    use crate::validate::test_support::{base, run_with as run};

    /// The base as the year before: same tables, shifted year.
    pub(super) fn before(r: &AnnualReport) -> AnnualReport {
        let mut p = r.clone();
        p.year -= 1;
        p
    }

    pub(super) fn set(r: &mut AnnualReport, path: &str, v: i64) {
        if let Some(c) = CellRef::from_path(path) {
            c.set(r, Some(CellValue::Int(v)));
        }
    }

    pub(super) fn clear(r: &mut AnnualReport, path: &str) {
        if let Some(c) = CellRef::from_path(path) {
            c.set(r, None);
        }
    }

    #[test]
    fn cross_year_rules_need_last_years_report() {
        let r = base("v2021");
        for code in ["X1", "X2", "X5"] {
            assert_eq!(run(&r, None, code).0, RuleOutcome::NotApplicable, "{code}");
            let mut two_back = before(&r);
            two_back.year -= 1;
            assert_eq!(
                run(&r, Some(&two_back), code).0,
                RuleOutcome::NotApplicable,
                "{code}"
            );
        }
        let r = base("v2019");
        assert_eq!(run(&r, None, "X3").0, RuleOutcome::NotApplicable);
    }

    #[test]
    fn empty_reports_do_not_panic() {
        let a = AnnualReport {
            year: 2023,
            format_version: FormatVersion::V2021 as i32,
            ..Default::default()
        };
        let b = AnnualReport {
            year: 2022,
            format_version: FormatVersion::V2021 as i32,
            ..Default::default()
        };
        for code in ["X1", "X2", "X3", "X5", "X6", "X7"] {
            assert_ne!(run(&a, Some(&b), code).0, RuleOutcome::Failed, "{code}");
        }
    }
}
