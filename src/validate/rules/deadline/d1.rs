//! D1 · Department report published by 31 January of Y+1.
//!
//! The rule's catalogue entry, its check and its tests.

use super::check_deadline;
use crate::pb::{AgencyKind, RuleBasis, Severity};
use crate::validate::engine::{Ctx, Out};
use crate::validate::{Category, Rule};

pub(super) static D1: Rule = Rule {
    code: "D1",
    severity: Severity::Warning,
    title: "部门年报应于次年1月31日前公布",
    title_en: "Department report published by 31 January of Y+1",
    description: "For a department of a people's government (agency kind DEPARTMENT): publication_date ≤ 31 January of year Y+1 (report years ≥ 2019; for report years up to 2018 the old deadline of 31 March applies). Townships and streets (level TOWNSHIP) have no national date: not applicable unless a township deadline is configured, which is then used. No publication date: incomplete.",
    versions: &[],
    basis: RuleBasis::Official,
    reference: "条例第四十九条（县级以上人民政府部门于每年1月31日前公布）",
    category: Category::Deadline,
    check,
};

fn check(ctx: &Ctx<'_>, out: &mut Out) {
    check_deadline(ctx, out, AgencyKind::Department);
}

#[cfg(test)]
mod tests {
    use crate::pb::{AdministrativeLevel as L, AgencyKind as K, RuleOutcome};
    use crate::validate::rules::deadline::tests::{outcome, report};
    use crate::validate::Options;

    #[test]
    fn d1_department_deadline() {
        let o = Options::default();
        let ok = report(K::Department, L::County, 2023, Some((2024, 1, 31)));
        assert_eq!(outcome(&ok, &o, "D1").0, RuleOutcome::Passed);
        let late = report(K::Department, L::County, 2023, Some((2024, 2, 1)));
        assert_eq!(outcome(&late, &o, "D1"), (RuleOutcome::Failed, 1));
        // Governments are D2's.
        let gov = report(K::Government, L::County, 2023, Some((2024, 2, 1)));
        assert_eq!(outcome(&gov, &o, "D1").0, RuleOutcome::NotApplicable);
        // Before 2019: 31 March for everyone.
        let old = report(K::Department, L::County, 2018, Some((2019, 3, 31)));
        assert_eq!(outcome(&old, &o, "D1").0, RuleOutcome::Passed);
        let old_late = report(K::Department, L::County, 2018, Some((2019, 4, 1)));
        assert_eq!(outcome(&old_late, &o, "D1").0, RuleOutcome::Failed);
        // No date: incomplete.
        let none = report(K::Department, L::County, 2023, None);
        assert_eq!(outcome(&none, &o, "D1"), (RuleOutcome::Incomplete, 0));
        let bad = report(K::Department, L::County, 2023, Some((2024, 2, 30)));
        assert_eq!(outcome(&bad, &o, "D1").0, RuleOutcome::Incomplete);
    }
}
