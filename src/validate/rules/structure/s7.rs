//! S7 · Statistical period is 1 Jan – 31 Dec of the report year.
//!
//! The rule's catalogue entry, its check and its tests.

use crate::pb::{RuleBasis, Severity};
use crate::validate::engine::{comparison, Ctx, Out};
use crate::validate::text::section_text;
use crate::validate::{Category, Rule};

pub(super) static S7: Rule = Rule {
    code: "S7",
    severity: Severity::Warning,
    title: "统计期限为报告年度1月1日至12月31日",
    title_en: "Statistical period is 1 Jan – 31 Dec of the report year",
    description: "Where the preamble (or the start of the overview) states the statistical period (统计期限/时限/周期… followed by dates), it runs from 1 January to 31 December of the report year. Not stated: passed (the rule applies only where it is stated); no preamble or overview text at all: incomplete.",
    versions: &[],
    basis: RuleBasis::Official,
    reference: "条例第四十九条（上一年度的政府信息公开工作年度报告）",
    category: Category::Structure,
    check,
};

fn check(ctx: &Ctx<'_>, out: &mut Out) {
    let r = ctx.report;
    if r.preamble.trim().is_empty() && section_text(&r.overview).trim().is_empty() {
        out.incomplete = true;
        return;
    }
    let Some(p) = ctx.period() else {
        // Not stated: nothing to check.
        return;
    };
    if r.year <= 0 {
        out.incomplete = true;
        return;
    }
    let y = r.year;
    if p.start == (y, 1, 1) && p.end == (y, 12, 31) {
        return;
    }
    let expected = format!("{y}-01-01 – {y}-12-31");
    let f = out.fail(
        format!(
            "统计期限“{}”不是报告年度{y}年的1月1日至12月31日",
            p.quote.trim()
        ),
        format!(
            "the statistical period \"{}\" ({}) is not 1 January – 31 December {y}",
            p.quote.trim(),
            p.show()
        ),
        [p.field.to_string()],
    );
    f.comparisons.push(comparison(
        "statistical period",
        "the report year",
        expected,
        p.field,
        p.show(),
    ));
}

#[cfg(test)]
mod tests {
    use crate::pb::{AnnualReport, RuleOutcome};
    use crate::validate::test_support::{base, fails, passes, run};

    #[test]
    fn s7_statistical_period() {
        let mut r = base("v2021");
        r.preamble = "本报告所列数据统计期限从2023年1月1日到12月31日止。".into();
        passes(&r, "S7");
        r.preamble = "本年度报告中所列数据的统计周期\n为 2023 年 1 月 1 日至 12 月 31 日。".into();
        passes(&r, "S7");
        r.preamble = "统计期限自2022年1月1日起至2022年12月31日止。".into();
        let f = fails(&r, "S7", "preamble");
        assert_eq!(f.comparisons[0].actual, "2022-01-01 – 2022-12-31");
        r.preamble = "统计时限为2023年1月1日至2023年11月30日。".into();
        fails(&r, "S7", "preamble");
        // Not stated: passed.
        r.preamble = "根据条例编制本报告。统计局数据另行公布。".into();
        passes(&r, "S7");
        // Nothing to read: incomplete.
        let r = AnnualReport {
            year: 2023,
            ..Default::default()
        };
        assert_eq!(run(&r, "S7").0, RuleOutcome::Incomplete);
    }
}
