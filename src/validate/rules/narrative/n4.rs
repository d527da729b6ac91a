//! N4 · Requests ended for unpaid fees are explained in section 六.
//!
//! The rule's catalogue entry, its check and its tests.

use super::{request_path, request_total};
use crate::format::phrasing::mentions_fee_notice;
use crate::pb::{FormatVersion, RuleBasis, SectionId, Severity};
use crate::validate::engine::{comparison, Ctx, Out};
use crate::validate::rules::{table_version, Table};
use crate::validate::text::section_text;
use crate::validate::{Category, Rule};

pub(super) static N4: Rule = Rule {
    code: "N4",
    severity: Severity::Warning,
    title: "有逾期未缴费不再处理的申请时，第六部分说明收费情况",
    title_en: "Requests ended for unpaid fees are explained in section 六",
    description: "When requests.other_fee_unpaid.total > 0 (申请人逾期未按收费通知要求缴纳费用), section 六 (other_matters or the fee statement) mentions fee notices or processing fees (收费通知, 缴费通知, 信息处理费/处理费, 缴纳费用, 缴费). Not applicable when table 三 follows the 2019 format (no such row).",
    versions: &[FormatVersion::V2021],
    basis: RuleBasis::Heuristic,
    reference: "国办函〔2020〕109号《政府信息公开信息处理费管理办法》；表三（六）2",
    category: Category::Narrative,
    check,
};

fn check(ctx: &Ctx<'_>, out: &mut Out) {
    let r = ctx.report;
    if table_version(ctx, Table::Requests) == FormatVersion::V2019 {
        // Table 三 has one （六）其他处理 row: no fee-unpaid count to explain.
        out.not_applicable = true;
        return;
    }
    let Some((n, expr)) = request_total(r, "other_fee_unpaid") else {
        out.incomplete = true;
        return;
    };
    if n <= 0 {
        return;
    }
    let other = section_text(&r.other_matters);
    let fee = r.fee_statement.as_str();
    if mentions_fee_notice(other) || mentions_fee_notice(fee) {
        return;
    }
    let section_found =
        r.other_matters.is_some() || r.sections_found.contains(&(SectionId::OtherMatters as i32));
    if other.trim().is_empty() && fee.trim().is_empty() && !section_found {
        // No section 六 to read (S1 reports it).
        out.incomplete = true;
        return;
    }
    let f = out.fail(
        format!("表三“申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请”为{n}件，但第六部分未说明收费通知或信息处理费情况；请在“六、其他需要报告的事项”中说明"),
        format!("table 三 other_fee_unpaid.total is {n} (requests ended because the applicant did not pay after a fee notice) but section 六 does not mention fee notices or processing fees; state them in 六、其他需要报告的事项"),
        [request_path("other_fee_unpaid"), "other_matters".to_string(), "fee_statement".to_string()],
    );
    f.comparisons.push(comparison(
        "fee notices mentioned in section 六",
        format!("{expr} > 0 ⇒ mentioned"),
        "mentioned",
        "other_matters / fee_statement",
        "not mentioned",
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::RuleOutcome;
    use crate::validate::rules::narrative::tests::base;
    use crate::validate::test_support::run;

    #[test]
    fn n4_fee_unpaid_needs_a_fee_statement() {
        let mut r = base(FormatVersion::V2021);
        assert_eq!(run(&r, "N4"), (RuleOutcome::Passed, vec![]));
        let t = r.requests.get_or_insert_with(Default::default);
        let row = t.other_fee_unpaid.get_or_insert_with(Default::default);
        row.total = Some(2);
        let (o, f) = run(&r, "N4");
        assert_eq!(o, RuleOutcome::Failed);
        assert!(f[0]
            .field_paths
            .contains(&"requests.other_fee_unpaid.total".to_string()));
        r.fee_statement = "本年度向2名申请人发出收费通知,均逾期未缴纳".into();
        assert_eq!(run(&r, "N4").0, RuleOutcome::Passed);
        // A 2019-style table 三 has no such row.
        let r = base(FormatVersion::V2019);
        assert_eq!(run(&r, "N4").0, RuleOutcome::NotApplicable);
    }
}
