//! S5 · Section 六 states the information processing fee position.
//!
//! The rule's catalogue entry, its check, what only it uses and its tests.

use std::sync::OnceLock;

use crate::pb::{FormatVersion, RuleBasis, Severity};
use crate::validate::engine::{Ctx, Out};
use crate::validate::text::{digit, prefix, section_text, Families};
use crate::validate::{Category, Rule};

pub(super) static S5: Rule = Rule {
    code: "S5",
    severity: Severity::Warning,
    title: "其他需要报告的事项说明信息处理费收取情况",
    title_en: "Section 六 states the information processing fee position",
    description: "V2021: section 六 (other_matters, with fee_statement) mentions fees (费) and either an amount in 元 or that none was charged (未收取, 没有收取, 无…费, 未产生, 未发生, 免费, 0元…). Neither section 六 nor a fee statement: incomplete (S1 reports the section).",
    versions: &[FormatVersion::V2021],
    basis: RuleBasis::Heuristic,
    reference: "国办函〔2020〕109号《政府信息公开信息处理费管理办法》；国办公开办函〔2021〕30号",
    category: Category::Structure,
    check,
};

const FEE_NONE: &[&str] = &[
    "未收取",
    "没有收取",
    "不收取",
    "无收取",
    "未收费",
    "没有收费",
    "不收费",
    "无收费",
    "未产生",
    "没有产生",
    "未发生",
    "没有发生",
    "免收",
    "免费",
    "零收费",
    "0元",
    "零元",
    "〇元",
    "未涉及",
    "不涉及",
    "未有",
];

fn check(ctx: &Ctx<'_>, out: &mut Out) {
    static WORDS: OnceLock<Option<Families>> = OnceLock::new();
    let r = ctx.report;
    if r.other_matters.is_none() && r.fee_statement.trim().is_empty() {
        out.incomplete = true;
        return;
    }
    let Some(w) = WORDS
        .get_or_init(|| Families::build(&[&["费"], FEE_NONE, &["元"], &["无"]]))
        .as_ref()
    else {
        out.incomplete = true;
        return;
    };
    let mut fee = false;
    let mut position = false;
    for t in [r.fee_statement.as_str(), section_text(&r.other_matters)] {
        let Ok(iter) = w.ac.try_find_overlapping_iter(t) else {
            continue;
        };
        for m in iter {
            match w.groups.get(m.pattern().as_usize()) {
                Some(0) => fee = true,
                Some(1) => position = true,
                // An amount: a digit right before 元 (or 万元).
                Some(2) => {
                    let before = t[..m.start()].trim_end_matches('万');
                    if before.chars().next_back().and_then(digit).is_some() {
                        position = true;
                    }
                }
                // 无 … 费 within a clause ("无收取信息处理费情况", "无相关收费").
                Some(3) => {
                    let after = prefix(&t[m.end()..], 36);
                    let clause = after
                        .split(['。', '；', ';', ',', '，'])
                        .next()
                        .unwrap_or("");
                    if clause.contains('费') {
                        position = true;
                    }
                }
                _ => {}
            }
        }
        if fee && position {
            return;
        }
    }
    out.fail(
        "“其他需要报告的事项”未说明信息处理费的收取情况（收取金额或未收取）",
        "section 六 does not state the information processing fee position (the amount charged, or that none was charged)",
        ["other_matters".to_string(), "fee_statement".to_string()],
    );
}

#[cfg(test)]
mod tests {
    use crate::pb::RuleOutcome;
    use crate::validate::test_support::{base, fails, passes, run, section};

    #[test]
    fn s5_fee_position() {
        let mut r = base("v2021");
        for t in [
            "2022年,无收取信息处理费情况。",
            "本年度没有产生信息公开处理费。",
            "收取信息处理费共计380元。",
            "2024 年，市科委未发生政府信息公开收费事项。",
        ] {
            r.fee_statement.clear();
            r.other_matters = section(t);
            passes(&r, "S5");
        }
        r.other_matters = section("无其他需要报告的事项。");
        fails(&r, "S5", "other_matters");
        r.other_matters = None;
        assert_eq!(run(&r, "S5").0, RuleOutcome::Incomplete);
        let mut r = base("v2019");
        r.other_matters = section("无。");
        assert_eq!(run(&r, "S5").0, RuleOutcome::NotApplicable);
    }
}
