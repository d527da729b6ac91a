//! S6 · Title names the agency, the year and 政府信息公开工作年度报告.
//!
//! The rule's catalogue entry, its check, what only it uses and its tests.

use crate::format::TITLE_SUFFIX;
use crate::pb::{RuleBasis, Severity};
use crate::validate::engine::{Ctx, Out};
use crate::validate::text::digit;
use crate::validate::{Category, Rule};

pub(super) static S6: Rule = Rule {
    code: "S6",
    severity: Severity::Warning,
    title: "标题写明机关名称、年度和“政府信息公开工作年度报告”",
    title_en: "Title names the agency, the year and 政府信息公开工作年度报告",
    description: "The title (whitespace ignored) contains the agency's name, the report year as \"YYYY年\" and 政府信息公开工作年度报告. A part that cannot be checked (no agency name, no year) makes the check incomplete.",
    versions: &[],
    basis: RuleBasis::Official,
    reference: "国办公开办函〔2021〕30号（“XXXX（行政机关名称）XXXX年政府信息公开工作年度报告”）",
    category: Category::Structure,
    check,
};

/// The text without whitespace, with full-width digits made ASCII.
fn compact(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match digit(c) {
            Some(d) if !c.is_ascii_digit() => char::from(b'0' + d as u8),
            _ => c,
        })
        .collect()
}

fn check(ctx: &Ctx<'_>, out: &mut Out) {
    let r = ctx.report;
    let title = compact(&r.title);
    if title.is_empty() {
        out.fail(
            "未找到年度报告的标题",
            "the report has no title",
            ["title".to_string()],
        );
        return;
    }
    let mut missing_zh: Vec<String> = Vec::new();
    let mut missing_en: Vec<String> = Vec::new();
    let mut paths = vec!["title".to_string()];
    if !title.contains(TITLE_SUFFIX) {
        missing_zh.push(format!("“{TITLE_SUFFIX}”"));
        missing_en.push(format!("\"{TITLE_SUFFIX}\""));
    }
    if r.year > 0 {
        if !title.contains(&format!("{}年", r.year)) {
            missing_zh.push(format!("年度“{}年”", r.year));
            missing_en.push(format!("the year \"{}年\"", r.year));
            paths.push("year".into());
        }
    } else {
        out.incomplete = true;
    }
    let name = r
        .agency
        .as_ref()
        .map(|a| compact(&a.name))
        .unwrap_or_default();
    if name.is_empty() {
        out.incomplete = true;
    } else {
        let short = name.replace("人民政府", "政府");
        if !title.contains(&name) && !title.contains(&short) {
            missing_zh.push(format!("机关名称“{name}”"));
            missing_en.push(format!("the agency name \"{name}\""));
            paths.push("agency".into());
        }
    }
    if !missing_zh.is_empty() {
        out.fail(
            format!("标题“{}”未写明{}", r.title.trim(), missing_zh.join("、")),
            format!(
                "the title \"{}\" does not name {}",
                r.title.trim(),
                missing_en.join(", ")
            ),
            paths,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::RuleOutcome;
    use crate::validate::test_support::{base, fails, passes, run};

    #[test]
    fn s6_title() {
        let mut r = base("v2021");
        r.title = "南通市崇川区人民政府办公室 2023 年政府信息公开工作年度报告".into();
        passes(&r, "S6");
        r.title = "南通市崇川区人民政府办公室2022年政府信息公开工作年度报告".into();
        fails(&r, "S6", "year");
        r.title = "2023年政府信息公开工作年度报告".into();
        fails(&r, "S6", "agency");
        r.title = "南通市崇川区人民政府办公室2023年政务公开工作总结".into();
        let f = fails(&r, "S6", "title");
        assert!(f.message.contains(TITLE_SUFFIX));
        r.title.clear();
        fails(&r, "S6", "title");
        let mut r = base("v2021");
        r.agency = None;
        assert_eq!(run(&r, "S6").0, RuleOutcome::Incomplete);
    }
}
