//! S4 · Problems section states problems and measures.
//!
//! The rule's catalogue entry, its check, what only it uses and its tests.

use crate::pb::{RuleBasis, Severity};
use crate::validate::engine::{Ctx, Out};
use crate::validate::rules::TABLES;
use crate::validate::text::families_found;
use crate::validate::{Category, Rule};

pub(super) static S4: Rule = Rule {
    code: "S4",
    severity: Severity::Warning,
    title: "存在的主要问题及改进情况写明问题和措施",
    title_en: "Problems section states problems and measures",
    description: "Section 五 names problems (问题, 不足, 差距, 薄弱, 短板, 有待… ) and improvement measures (改进, 措施, 下一步, 加强, 进一步… ); the heading's own words do not count. An absent section is incomplete (S1 reports it).",
    versions: TABLES,
    basis: RuleBasis::Heuristic,
    reference: "条例第五十条第（四）项",
    category: Category::Structure,
    check,
};

const PROBLEM_WORDS: &[&str] = &[
    "问题",
    "不足",
    "差距",
    "薄弱",
    "短板",
    "有待",
    "不够",
    "欠缺",
    "尚需",
    "仍需",
    "不到位",
    "滞后",
    "不平衡",
    "不均衡",
    "困难",
];

const MEASURE_WORDS: &[&str] = &[
    "改进",
    "措施",
    "下一步",
    "下阶段",
    "今后",
    "整改",
    "加强",
    "强化",
    "进一步",
    "提升",
    "完善",
    "推进",
    "健全",
];

fn check(ctx: &Ctx<'_>, out: &mut Out) {
    let Some(section) = ctx.report.problems.as_ref() else {
        out.incomplete = true;
        return;
    };
    // The heading's tail sometimes lands in the text ("五、存在的主要问题" +
    // "及改进情况…"); its words are not the content.
    let mut t = section.text.trim_start();
    for lead in ["及改进情况", "及改进措施", "及整改情况", "和改进情况"] {
        if let Some(rest) = t.strip_prefix(lead) {
            t = rest;
            break;
        }
    }
    let found = families_found(&[PROBLEM_WORDS, MEASURE_WORDS], &[t]);
    let (problems, measures) = (found & 1 != 0, found & 2 != 0);
    if problems && measures {
        return;
    }
    let (zh, en) = match (problems, measures) {
        (false, false) => (
            "既未写明存在的问题，也未写明改进措施",
            "states neither problems nor measures",
        ),
        (false, true) => ("未写明存在的问题", "states no problems"),
        _ => ("未写明改进措施", "states no improvement measures"),
    };
    out.fail(
        format!("“存在的主要问题及改进情况”{zh}"),
        format!("the problems section {en}"),
        ["problems".to_string()],
    );
}

#[cfg(test)]
mod tests {
    use crate::pb::RuleOutcome;
    use crate::validate::test_support::{base, fails, passes, run, section};

    #[test]
    fn s4_problems_and_measures() {
        let mut r = base("v2019");
        r.problems = section("及改进情况 无。");
        let f = fails(&r, "S4", "problems");
        assert!(f.message.contains("既未"), "{}", f.message);
        r.problems = section("一是政策解读形式不够丰富。");
        let f = fails(&r, "S4", "problems");
        assert!(f.message_en.contains("no improvement"), "{}", f.message_en);
        r.problems = section("一是政策解读形式不够丰富。下一步将丰富解读形式。");
        passes(&r, "S4");
        r.problems = None;
        assert_eq!(run(&r, "S4").0, RuleOutcome::Incomplete);
    }
}
