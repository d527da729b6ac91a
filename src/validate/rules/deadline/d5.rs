//! D5 · Report not published before the year is over.
//!
//! The rule's catalogue entry, its check and its tests.

use super::{valid_date, ymd};
use crate::pb::{RuleBasis, Severity};
use crate::validate::engine::{comparison, Ctx, Out};
use crate::validate::{Category, Rule};

pub(super) static D5: Rule = Rule {
    code: "D5",
    severity: Severity::Warning,
    title: "年报不应在报告年度结束前公布",
    title_en: "Report not published before the year is over",
    description: "publication_date ≥ 1 January of year Y+1: a report on year Y cannot be complete before Y is over. No publication date: incomplete.",
    versions: &[],
    basis: RuleBasis::Derived,
    reference: "条例第四十九条（公布“上一年度”的年度报告）",
    category: Category::Deadline,
    check,
};

fn check(ctx: &Ctx<'_>, out: &mut Out) {
    let r = ctx.report;
    if r.year <= 0 {
        out.incomplete = true;
        return;
    }
    let Some(date) = valid_date(r.publication_date.as_ref()) else {
        out.incomplete = true;
        return;
    };
    let start = (r.year + 1, 1, 1);
    if date < start {
        let f = out.fail(
            format!(
                "{}年度报告的公布日期{}早于该年度结束（应不早于{}）",
                r.year,
                ymd(date),
                ymd(start)
            ),
            format!(
                "the {} report is dated {}, before the year was over (expected on or after {})",
                r.year,
                ymd(date),
                ymd(start)
            ),
            ["publication_date".to_string()],
        );
        f.comparisons.push(comparison(
            "publication date",
            "on or after 1 January of Y+1",
            ymd(start),
            "publication_date",
            ymd(date),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::pb::{AdministrativeLevel as L, AgencyKind as K, RuleOutcome};
    use crate::validate::rules::deadline::tests::{outcome, report};
    use crate::validate::Options;

    #[test]
    fn d5_not_before_the_year_is_over() {
        let o = Options::default();
        let ok = report(K::Department, L::County, 2023, Some((2024, 1, 1)));
        assert_eq!(outcome(&ok, &o, "D5").0, RuleOutcome::Passed);
        let early = report(K::Department, L::County, 2023, Some((2023, 12, 30)));
        assert_eq!(outcome(&early, &o, "D5"), (RuleOutcome::Failed, 1));
        let none = report(K::Government, L::Township, 2023, None);
        assert_eq!(outcome(&none, &o, "D5").0, RuleOutcome::Incomplete);
        let no_year = report(K::Department, L::County, 0, Some((2024, 1, 5)));
        assert_eq!(outcome(&no_year, &o, "D5").0, RuleOutcome::Incomplete);
    }
}
