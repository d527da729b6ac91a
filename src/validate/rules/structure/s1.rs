//! S1 · All six sections present, in order.
//!
//! The rule's catalogue entry, its check, what only it uses and its tests.

use crate::format::SECTIONS;
use crate::pb::{AnnualReport, RuleBasis, SectionText, Severity};
use crate::validate::engine::{comparison, Ctx, Out};
use crate::validate::rules::TABLES;
use crate::validate::{Category, Rule};

pub(super) static S1: Rule = Rule {
    code: "S1",
    severity: Severity::Error,
    title: "六个部分齐全且顺序正确",
    title_en: "All six sections present, in order",
    description: "The six sections of the national format (一、总体情况 … 六、其他需要报告的事项) are all present and in the official order. Uses the headings found in the source (sections_found) when the report came from text; for entity input, the presence of the section fields and tables (order cannot be checked). A missing heading in a report that numbers its sections its own way (a prose heading such as \"五、其他需要报告的事项\") is a WARNING: the section may be there, unheaded or merged.",
    versions: TABLES,
    basis: RuleBasis::Official,
    reference: "条例第五十条；国办公开办函〔2021〕30号（年度报告格式）",
    category: Category::Structure,
    check,
};

fn has_section(s: &Option<SectionText>) -> bool {
    s.as_ref()
        .is_some_and(|s| !s.text.trim().is_empty() || !s.heading.trim().is_empty())
}

fn check(ctx: &Ctx<'_>, out: &mut Out) {
    let r = ctx.report;
    if !r.sections_found.is_empty() {
        // First position of each section in the source.
        let mut pos = [usize::MAX; 6];
        for (i, &id) in r.sections_found.iter().enumerate() {
            if let Some(k) = SECTIONS.iter().position(|s| s.id as i32 == id) {
                if pos[k] == usize::MAX {
                    pos[k] = i;
                }
            }
        }
        let missing: Vec<usize> = (0..6).filter(|&k| pos[k] == usize::MAX).collect();
        if !missing.is_empty() {
            let zh: Vec<String> = missing
                .iter()
                .map(|&k| format!("{}、{}", SECTIONS[k].numeral, SECTIONS[k].heading))
                .collect();
            let en: Vec<&str> = missing.iter().map(|&k| SECTIONS[k].field).collect();
            let mut paths = vec!["sections_found".to_string()];
            paths.extend(en.iter().map(|s| s.to_string()));
            match renumbered(r) {
                // The report numbers its sections its own way: the section may
                // be there without a heading of its own, merged into another.
                Some(h) => {
                    let f = out.fail(
                        format!(
                            "未找到以下部分的标题：{}。报告的章节编号与格式不一致（如“{h}”），该部分可能未单列标题或并入其他部分，请核对",
                            zh.join("；")
                        ),
                        format!(
                            "no heading found for these sections: {}; the report numbers its sections its own way (\"{h}\"), so they may be there without a heading or merged into another: check",
                            en.join(", ")
                        ),
                        paths,
                    );
                    f.severity = Severity::Warning as i32;
                }
                None => {
                    out.fail(
                        format!("未找到以下部分的标题：{}", zh.join("；")),
                        format!("no heading found for these sections: {}", en.join(", ")),
                        paths,
                    );
                }
            }
        }
        let present: Vec<usize> = (0..6).filter(|&k| pos[k] != usize::MAX).collect();
        let in_order = present.windows(2).all(|w| pos[w[0]] < pos[w[1]]);
        if !in_order {
            let mut order: Vec<usize> = present.clone();
            order.sort_by_key(|&k| pos[k]);
            let zh: Vec<&str> = order.iter().map(|&k| SECTIONS[k].numeral).collect();
            let en: Vec<&str> = order.iter().map(|&k| SECTIONS[k].field).collect();
            let f = out.fail(
                format!("各部分顺序与规定不符：实际顺序为{}", zh.join("、")),
                format!("the sections are out of order: found {}", en.join(", ")),
                ["sections_found".to_string()],
            );
            f.comparisons.push(comparison(
                "section order",
                "official order",
                "overview, proactive, requests, review_litigation, problems, other_matters",
                "sections_found",
                en.join(", "),
            ));
        }
        return;
    }
    // Entity input: the fields themselves.
    let present = [
        has_section(&r.overview),
        r.proactive.is_some(),
        r.requests.is_some(),
        r.review_litigation.is_some(),
        has_section(&r.problems),
        has_section(&r.other_matters),
    ];
    let missing: Vec<usize> = (0..6).filter(|&k| !present[k]).collect();
    if !missing.is_empty() {
        let zh: Vec<String> = missing
            .iter()
            .map(|&k| format!("{}、{}", SECTIONS[k].numeral, SECTIONS[k].heading))
            .collect();
        let en: Vec<&str> = missing.iter().map(|&k| SECTIONS[k].field).collect();
        out.fail(
            format!("缺少以下部分：{}", zh.join("；")),
            format!("these sections are missing: {}", en.join(", ")),
            en.iter().map(|s| s.to_string()),
        );
    }
}

/// A prose section heading numbered other than the format numbers it
/// ("五、其他需要报告的事项" where the format has 六), when there is one.
fn renumbered(r: &AnnualReport) -> Option<String> {
    let prose = [(0, &r.overview), (4, &r.problems), (5, &r.other_matters)];
    for (k, s) in prose {
        let Some(h) = s.as_ref().map(|s| s.heading.trim()) else {
            continue;
        };
        let mut chars = h.chars();
        let (Some(n), Some(sep)) = (chars.next(), chars.next()) else {
            continue;
        };
        let numeral = "一二三四五六七八九十".contains(n);
        if numeral
            && matches!(sep, '、' | '.' | '．' | ',' | '，')
            && !SECTIONS[k].numeral.starts_with(n)
        {
            return Some(h.to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::{FormatVersion, RuleOutcome, SectionId};
    use crate::validate::test_support::{base, fails, passes, run};

    #[test]
    fn s1_missing_and_out_of_order() {
        let mut r = base("v2021");
        r.sections_found
            .retain(|&s| s != SectionId::Problems as i32);
        let f = fails(&r, "S1", "problems");
        assert!(f.message.contains("存在的主要问题"));
        assert_eq!(f.severity, Severity::Error as i32);
        // Renumbered: the section may be there without a heading.
        if let Some(o) = r.other_matters.as_mut() {
            o.heading = "五、其他需要报告的事项".into();
        }
        let f = fails(&r, "S1", "problems");
        assert_eq!(f.severity, Severity::Warning as i32);
        let mut r = base("v2021");
        r.sections_found.swap(4, 5);
        fails(&r, "S1", "sections_found");
        // Entity input without headings: the fields.
        let mut r = base("v2021");
        r.sections_found.clear();
        passes(&r, "S1");
        r.other_matters = None;
        fails(&r, "S1", "other_matters");
        // Legacy reports have their own structure.
        let mut r = base("v2021");
        r.format_version = FormatVersion::Legacy as i32;
        r.sections_found.truncate(2);
        assert_eq!(run(&r, "S1").0, RuleOutcome::NotApplicable);
    }
}
