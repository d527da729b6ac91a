//! N2 · "No requests" / "no review or litigation" in the prose agree with the tables.
//!
//! The rule's catalogue entry, its check, what only it uses and its tests.

use super::{quote, request_path, request_total};
use crate::format::phrasing::Denied;
use crate::format::CellRef;
use crate::pb::{AnnualReport, RuleBasis, Severity};
use crate::validate::engine::{comparison, Ctx, Out};
use crate::validate::facts::Prose;
use crate::validate::rules::TABLES;
use crate::validate::{Category, Rule};

pub(super) static N2: Rule = Rule {
    code: "N2",
    severity: Severity::Warning,
    title: "正文称未收到申请、未发生复议诉讼的，表中相应总计为0",
    title_en: "\"No requests\" / \"no review or litigation\" in the prose agree with the tables",
    description: "A prose statement that no disclosure request was received (未收到/没有收到/暂未接到/无…申请, with only who applied in between) requires requests.new_received.total = 0; one that no administrative reconsideration or litigation occurred (未发生/没有/未被申请/无…行政复议、行政诉讼) requires review_litigation.review.total = 0 and, for 诉讼, litigation_direct.total = litigation_after_review.total = 0. No such statement: passed.",
    versions: TABLES,
    basis: RuleBasis::Heuristic,
    reference: "条例第五十条第（二）（三）项；表三 一、表四",
    category: Category::Narrative,
    check,
};

fn check(ctx: &Ctx<'_>, out: &mut Out) {
    let r = ctx.report;
    let prose = ctx.prose();
    if prose.is_empty() {
        out.incomplete = true;
        return;
    }
    let mut seen: Vec<Denied> = Vec::new();
    for &Prose {
        field,
        section_zh,
        text,
        ref said,
    } in prose
    {
        for d in &said.denials {
            if seen.contains(&d.denied) {
                continue;
            }
            seen.push(d.denied);
            let phrase = quote(text, d.clause);
            match d.denied {
                Denied::Requests => {
                    let Some((v, expr)) = request_total(r, "new_received") else {
                        out.incomplete = true;
                        continue;
                    };
                    if v != 0 {
                        let f = out.fail(
                            format!("{section_zh}称“{phrase}”，但表三“本年新收政府信息公开申请数量”总计为{v}；请核对正文或表三"),
                            format!("{field} says no disclosure request was received (“{phrase}”) but table 三 new_received.total is {v}; correct the prose or the table"),
                            [request_path("new_received"), field.to_string()],
                        );
                        f.comparisons.push(comparison(
                            "requests received",
                            format!("prose: “{phrase}”"),
                            0,
                            expr,
                            v,
                        ));
                    }
                }
                Denied::Review | Denied::Litigation => {
                    let groups: &[usize] = if d.denied == Denied::Review {
                        &[0]
                    } else {
                        &[1, 2]
                    };
                    for &g in groups {
                        let Some(v) = review_total(r, g) else {
                            out.incomplete = true;
                            continue;
                        };
                        if v == 0 {
                            continue;
                        }
                        let path = CellRef::review(g, 4).path();
                        let (label_zh, label_en) = match g {
                            0 => ("行政复议", "administrative reconsideration"),
                            1 => ("行政诉讼（未经复议直接起诉）", "litigation filed directly"),
                            _ => ("行政诉讼（复议后起诉）", "litigation after reconsideration"),
                        };
                        let f = out.fail(
                            format!("{section_zh}称“{phrase}”，但表四“{label_zh}”总计为{v}；请核对正文或表四"),
                            format!("{field} says there was no {label_en} (“{phrase}”) but table 四 {path} is {v}; correct the prose or the table"),
                            [path.clone(), field.to_string()],
                        );
                        f.comparisons.push(comparison(
                            format!("table 四 {label_en}"),
                            format!("prose: “{phrase}”"),
                            0,
                            path,
                            v,
                        ));
                    }
                }
            }
        }
    }
}

/// A table-四 group total: the 总计 cell, or the sum of its four outcome cells.
fn review_total(r: &AnnualReport, group: usize) -> Option<i64> {
    if let Some(v) = CellRef::review(group, 4).get_int(r) {
        return Some(v);
    }
    let mut sum = 0;
    for c in 0..4 {
        sum += CellRef::review(group, c).get_int(r)?;
    }
    Some(sum)
}

#[cfg(test)]
mod tests {
    use crate::pb::{FormatVersion, RuleOutcome};
    use crate::validate::rules::narrative::tests::{base, set_total, with_overview};
    use crate::validate::test_support::run;

    #[test]
    fn n2_no_requests() {
        let mut r = with_overview(base(FormatVersion::V2021), "本年度未收到政府信息公开申请。");
        let (o, f) = run(&r, "N2");
        assert_eq!(o, RuleOutcome::Failed);
        assert_eq!(f.len(), 1);
        assert!(f[0]
            .field_paths
            .contains(&"requests.new_received.total".to_string()));
        assert_eq!(f[0].comparisons[0].actual, "110");
        set_total(&mut r, "new_received", Some(0));
        assert_eq!(run(&r, "N2"), (RuleOutcome::Passed, vec![]));
    }

    #[test]
    fn n2_no_review_or_litigation() {
        let r = with_overview(
            base(FormatVersion::V2021),
            "本年度未发生因政府信息公开引起的行政复议、行政诉讼。",
        );
        let (o, f) = run(&r, "N2");
        assert_eq!(o, RuleOutcome::Failed);
        let paths: Vec<&String> = f.iter().flat_map(|f| &f.field_paths).collect();
        assert!(paths.iter().any(|p| *p == "review_litigation.review.total"));
        assert!(paths
            .iter()
            .any(|p| *p == "review_litigation.litigation_direct.total"));
        assert_eq!(f.len(), 2, "{f:?}"); // after_review is 0
        let r = with_overview(
            base(FormatVersion::V2019),
            "本年度未发生行政复议、行政诉讼。",
        );
        assert_eq!(run(&r, "N2"), (RuleOutcome::Passed, vec![]));
    }
}
