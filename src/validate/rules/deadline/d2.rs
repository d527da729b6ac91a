//! D2 · Government report published by 31 March of Y+1.
//!
//! The rule's catalogue entry, its check and its tests.

use super::check_deadline;
use crate::pb::{AgencyKind, RuleBasis, Severity};
use crate::validate::engine::{Ctx, Out};
use crate::validate::{Category, Rule};

pub(super) static D2: Rule = Rule {
    code: "D2",
    severity: Severity::Warning,
    title: "政府年报应于次年3月31日前公布",
    title_en: "Government report published by 31 March of Y+1",
    description: "For a people's government or an equivalent management body (agency kind GOVERNMENT): publication_date ≤ 31 March of year Y+1. Townships and streets (level TOWNSHIP) have no national date: not applicable unless a township deadline is configured, which is then used. No publication date: incomplete.",
    versions: &[],
    basis: RuleBasis::Official,
    reference: "条例第四十九条（县级以上地方人民政府于每年3月31日前公布）",
    category: Category::Deadline,
    check,
};

fn check(ctx: &Ctx<'_>, out: &mut Out) {
    check_deadline(ctx, out, AgencyKind::Government);
}

#[cfg(test)]
mod tests {
    use crate::pb::{AdministrativeLevel as L, AgencyKind as K, RuleOutcome};
    use crate::validate::rules::deadline::tests::{outcome, report};
    use crate::validate::{validate, Input, Options};

    #[test]
    fn d2_government_deadline() {
        let o = Options::default();
        let ok = report(K::Government, L::County, 2022, Some((2023, 3, 31)));
        assert_eq!(outcome(&ok, &o, "D2").0, RuleOutcome::Passed);
        let late = report(K::Government, L::Municipal, 2022, Some((2023, 4, 10)));
        let v = validate(&Input::entity(&late), &o);
        let f = v
            .findings
            .iter()
            .find(|f| f.code == "D2")
            .expect("D2 fires");
        assert!(f.message_en.contains("10 days late"), "{}", f.message_en);
        assert_eq!(f.field_paths, ["publication_date"]);
        let dept = report(K::Department, L::County, 2022, Some((2023, 4, 10)));
        assert_eq!(outcome(&dept, &o, "D2").0, RuleOutcome::NotApplicable);
        let unknown = report(K::Unspecified, L::County, 2022, Some((2023, 4, 10)));
        assert_eq!(outcome(&unknown, &o, "D2").0, RuleOutcome::Incomplete);
        assert_eq!(outcome(&unknown, &o, "D1").0, RuleOutcome::Incomplete);
    }
}
