//! S3 · Overview covers the required topics.
//!
//! The rule's catalogue entry, its check, what only it uses and its tests.

use crate::pb::{AgencyKind, FormatVersion, RuleBasis, Severity};
use crate::validate::engine::{Ctx, Out};
use crate::validate::rules::TABLES;
use crate::validate::text::{families_found, section_text};
use crate::validate::{Category, Rule};

pub(super) static S3: Rule = Rule {
    code: "S3",
    severity: Severity::Warning,
    title: "总体情况涵盖规定的方面",
    title_en: "Overview covers the required topics",
    description: "V2021: section 一 (overview) mentions each of 主动公开, 依申请公开, 政府信息管理, 政府信息公开平台建设 and 监督保障 (keyword families with variants). Both versions: for people's governments (agency kind GOVERNMENT) the report also mentions 工作考核, 社会评议 and 责任追究 somewhere (overview, problems or other matters). An empty overview is incomplete (S1 reports a missing section).",
    versions: TABLES,
    basis: RuleBasis::Heuristic,
    reference: "条例第五十条；国办公开办函〔2021〕30号“一、总体情况”",
    category: Category::Structure,
    check,
};

const OVERVIEW_TOPICS: [(&str, &str, &[&str]); 5] = [
    ("主动公开", "proactive disclosure", &["主动公开"]),
    (
        "依申请公开",
        "disclosure on request",
        &["依申请", "申请公开", "公开申请"],
    ),
    (
        "政府信息管理",
        "information management",
        &[
            "信息管理",
            "信息资源",
            "公开目录",
            "保密审查",
            "公开属性",
            "发布审核",
            "发布审查",
            "信息发布",
            "公开指南",
            "信息的管理",
        ],
    ),
    (
        "政府信息公开平台建设",
        "disclosure platforms",
        &["平台", "网站", "新媒体", "公众号", "专栏", "公报", "专区"],
    ),
    (
        "监督保障",
        "supervision and safeguards",
        &[
            "监督", "保障", "考核", "督查", "督导", "培训", "问责", "评议", "检查",
        ],
    ),
];

const GOVERNMENT_TOPICS: [(&str, &str, &[&str]); 3] = [
    (
        "工作考核",
        "performance assessment",
        &["考核", "考评", "绩效"],
    ),
    (
        "社会评议",
        "public evaluation",
        &["评议", "评估", "评价", "满意度"],
    ),
    (
        "责任追究",
        "accountability",
        &["责任追究", "追责", "问责", "追究"],
    ),
];

fn check(ctx: &Ctx<'_>, out: &mut Out) {
    let r = ctx.report;
    let overview = section_text(&r.overview);
    if overview.trim().is_empty() {
        out.incomplete = true;
        return;
    }
    // The five topics are the 2021 format's wording; the 2019 trial format
    // asks only for an overview.
    if ctx.version == FormatVersion::V2021 {
        let found = families_found(&OVERVIEW_TOPICS.map(|t| t.2), &[overview]);
        let missing: Vec<usize> = (0..5).filter(|g| found & (1 << g) == 0).collect();
        if !missing.is_empty() {
            let zh: Vec<&str> = missing.iter().map(|&g| OVERVIEW_TOPICS[g].0).collect();
            let en: Vec<&str> = missing.iter().map(|&g| OVERVIEW_TOPICS[g].1).collect();
            out.fail(
                format!("“总体情况”未涉及：{}", zh.join("、")),
                format!("the overview does not cover: {}", en.join(", ")),
                ["overview".to_string()],
            );
        }
    }
    let kind = r
        .agency
        .as_ref()
        .map(|a| AgencyKind::try_from(a.kind).unwrap_or_default())
        .unwrap_or_default();
    if kind != AgencyKind::Government {
        return;
    }
    let texts = [
        overview,
        section_text(&r.problems),
        section_text(&r.other_matters),
    ];
    let found = families_found(&GOVERNMENT_TOPICS.map(|t| t.2), &texts);
    let missing: Vec<usize> = (0..3).filter(|g| found & (1 << g) == 0).collect();
    if !missing.is_empty() {
        let zh: Vec<&str> = missing.iter().map(|&g| GOVERNMENT_TOPICS[g].0).collect();
        let en: Vec<&str> = missing.iter().map(|&g| GOVERNMENT_TOPICS[g].1).collect();
        out.fail(
            format!(
                "人民政府的年度报告应报告工作考核、社会评议和责任追究结果，未涉及：{}",
                zh.join("、")
            ),
            format!(
                "a people's government's report should report assessment, public evaluation and accountability; not found: {}",
                en.join(", ")
            ),
            ["overview".to_string(), "problems".to_string()],
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::RuleOutcome;
    use crate::validate::test_support::{base, fails, passes, run, section};

    #[test]
    fn s3_overview_topics() {
        let mut r = base("v2021");
        r.overview = section("本年度主动公开政府信息31条，办理依申请公开110件。");
        let f = fails(&r, "S3", "overview");
        assert!(
            f.message.contains("平台建设") && f.message.contains("监督保障"),
            "{}",
            f.message
        );
        assert!(!f.message.contains("主动公开、"), "{}", f.message);
        // Governments also report assessment, evaluation and accountability.
        let mut r = base("v2021");
        if let Some(a) = r.agency.as_mut() {
            a.kind = AgencyKind::Government as i32;
        }
        let f = fails(&r, "S3", "problems");
        assert!(f.message.contains("社会评议"), "{}", f.message);
        if let Some(p) = r.problems.as_mut() {
            p.text
                .push_str("开展政务公开工作考核和社会评议，未发生责任追究情况。");
        }
        passes(&r, "S3");
        let mut r = base("v2021");
        r.overview = None;
        assert_eq!(run(&r, "S3").0, RuleOutcome::Incomplete);
    }
}
