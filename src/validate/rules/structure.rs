//! S1–S9: the report's structure and content (条例第五十条, the national format).
//!
//! Every check reads the entity's fields only. Text checks scan a field once with
//! a keyword automaton built on first use; nothing is re-parsed.

use std::sync::OnceLock;

use crate::format::{
    proactive_rows, request_row, requests_rows, CellRef, CellValue, PROACTIVE_ROWS, REQUEST_ROWS,
    REVIEW_GROUPS, SECTIONS, TITLE_SUFFIX,
};
use crate::pb::{
    AdministrativeLevel, AgencyKind, AnnualReport, FormatVersion, MoneyUnit, ProactiveDisclosure,
    RuleBasis, SectionText, Severity,
};
use crate::validate::engine::{comparison, Ctx, Out};
use crate::validate::text::{digit, families_found, prefix, section_text, suffix, Families};
use crate::validate::{Category, Rule};

const TABLES: &[FormatVersion] = &[FormatVersion::V2019, FormatVersion::V2021];

pub static RULES: &[Rule] = &[
    Rule {
        code: "S1",
        severity: Severity::Error,
        title: "六个部分齐全且顺序正确",
        title_en: "All six sections present, in order",
        description: "The six sections of the national format (一、总体情况 … 六、其他需要报告的事项) are all present and in the official order. Uses the headings found in the source (sections_found) when the report came from text; for entity input, the presence of the section fields and tables (order cannot be checked). A missing heading in a report that numbers its sections its own way (a prose heading such as \"五、其他需要报告的事项\") is a WARNING: the section may be there, unheaded or merged.",
        versions: TABLES,
        basis: RuleBasis::Official,
        reference: "条例第五十条；国办公开办函〔2021〕30号（年度报告格式）",
        category: Category::Structure,
        check: s1,
    },
    Rule {
        code: "S2",
        severity: Severity::Error,
        title: "表二、表三、表四的行列与所用格式一致",
        title_en: "Tables 二/三/四 have the rows and columns of the detected version",
        description: "Every data row of tables 二, 三 and 四 of the detected format version (per table, from table_versions, else format_version) is present (blank cells are absent values and fine, and so is a row the parser found but could not read, named by a parse diagnostic; a missing row is not), and no row or column of the other version carries values.",
        versions: TABLES,
        basis: RuleBasis::Official,
        reference: "国办公开办函〔2019〕60号、国办公开办函〔2021〕30号（年度报告格式）",
        category: Category::Structure,
        check: s2,
    },
    Rule {
        code: "S3",
        severity: Severity::Warning,
        title: "总体情况涵盖规定的方面",
        title_en: "Overview covers the required topics",
        description: "V2021: section 一 (overview) mentions each of 主动公开, 依申请公开, 政府信息管理, 政府信息公开平台建设 and 监督保障 (keyword families with variants). Both versions: for people's governments (agency kind GOVERNMENT) the report also mentions 工作考核, 社会评议 and 责任追究 somewhere (overview, problems or other matters). An empty overview is incomplete (S1 reports a missing section).",
        versions: TABLES,
        basis: RuleBasis::Heuristic,
        reference: "条例第五十条；国办公开办函〔2021〕30号“一、总体情况”",
        category: Category::Structure,
        check: s3,
    },
    Rule {
        code: "S4",
        severity: Severity::Warning,
        title: "存在的主要问题及改进情况写明问题和措施",
        title_en: "Problems section states problems and measures",
        description: "Section 五 names problems (问题, 不足, 差距, 薄弱, 短板, 有待… ) and improvement measures (改进, 措施, 下一步, 加强, 进一步… ); the heading's own words do not count. An absent section is incomplete (S1 reports it).",
        versions: TABLES,
        basis: RuleBasis::Heuristic,
        reference: "条例第五十条第（四）项",
        category: Category::Structure,
        check: s4,
    },
    Rule {
        code: "S5",
        severity: Severity::Warning,
        title: "其他需要报告的事项说明信息处理费收取情况",
        title_en: "Section 六 states the information processing fee position",
        description: "V2021: section 六 (other_matters, with fee_statement) mentions fees (费) and either an amount in 元 or that none was charged (未收取, 没有收取, 无…费, 未产生, 未发生, 免费, 0元…). Neither section 六 nor a fee statement: incomplete (S1 reports the section).",
        versions: &[FormatVersion::V2021],
        basis: RuleBasis::Heuristic,
        reference: "国办函〔2020〕109号《政府信息公开信息处理费管理办法》；国办公开办函〔2021〕30号",
        category: Category::Structure,
        check: s5,
    },
    Rule {
        code: "S6",
        severity: Severity::Warning,
        title: "标题写明机关名称、年度和“政府信息公开工作年度报告”",
        title_en: "Title names the agency, the year and 政府信息公开工作年度报告",
        description: "The title (whitespace ignored) contains the agency's name, the report year as \"YYYY年\" and 政府信息公开工作年度报告. A part that cannot be checked (no agency name, no year) makes the check incomplete.",
        versions: &[],
        basis: RuleBasis::Official,
        reference: "国办公开办函〔2021〕30号（“XXXX（行政机关名称）XXXX年政府信息公开工作年度报告”）",
        category: Category::Structure,
        check: s6,
    },
    Rule {
        code: "S7",
        severity: Severity::Warning,
        title: "统计期限为报告年度1月1日至12月31日",
        title_en: "Statistical period is 1 Jan – 31 Dec of the report year",
        description: "Where the preamble (or the start of the overview) states the statistical period (统计期限/时限/周期… followed by dates), it runs from 1 January to 31 December of the report year. Not stated: passed (the rule applies only where it is stated); no preamble or overview text at all: incomplete.",
        versions: &[],
        basis: RuleBasis::Official,
        reference: "条例第四十九条（上一年度的政府信息公开工作年度报告）",
        category: Category::Structure,
        check: s7,
    },
    Rule {
        code: "S8",
        severity: Severity::Warning,
        title: "收费金额疑似以元而非万元填报",
        title_en: "Fee amount looks like yuan rather than 万元",
        description: "V2021 table 二 （八） amount is in 万元. Flags: the cell written in 元; the table value equal to a fee figure of the prose read in 元 (table = 10⁴ × prose, i.e. \"X元\" in prose and X in the table, or \"X万元\" in prose and X×10⁴ in the table; prose figures count when 费/收取 precedes them within 30 characters); for county and township bodies, an amount ≥ 1,000,000 万元 (100亿元).",
        versions: &[FormatVersion::V2021],
        basis: RuleBasis::Heuristic,
        reference: "表二第二十条第（八）项 本年收费金额（单位：万元）",
        category: Category::Structure,
        check: s8,
    },
    Rule {
        code: "S9",
        severity: Severity::Info,
        title: "无规章制定权的机关填报了本年制发规章",
        title_en: "Regulations issued by a body without rule-making power",
        description: "Table 二 （一） 规章 issued this year (V2021 issued, V2019 newly_made) > 0, but only State Council departments (national level), provincial governments and governments of cities with districts (municipal level) may make 规章; their general offices (人民政府办公厅/办公室) count as their government. Unknown agency kind or level: incomplete.",
        versions: TABLES,
        basis: RuleBasis::Official,
        reference: "《立法法》第九十一条、第九十三条",
        category: Category::Structure,
        check: s9,
    },
];

// ------------------------------------------------------------------ helpers

fn has_section(s: &Option<SectionText>) -> bool {
    s.as_ref()
        .is_some_and(|s| !s.text.trim().is_empty() || !s.heading.trim().is_empty())
}

// ------------------------------------------------------------------ S1

fn s1(ctx: &Ctx<'_>, out: &mut Out) {
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

// ------------------------------------------------------------------ S2

/// The version a table follows: its own when recorded, else the report's.
fn table_version(recorded: Option<i32>, report: FormatVersion) -> FormatVersion {
    match recorded.and_then(|v| FormatVersion::try_from(v).ok()) {
        Some(v @ (FormatVersion::V2019 | FormatVersion::V2021)) => v,
        _ => report,
    }
}

fn proactive_row_present(p: &ProactiveDisclosure, row: usize) -> bool {
    match row {
        0 => p.regulations.is_some(),
        1 => p.normative_documents.is_some(),
        2 => p.administrative_licensing.is_some(),
        3 => p.other_external_services.is_some(),
        4 => p.administrative_penalty.is_some(),
        5 => p.administrative_coercion.is_some(),
        6 => p.administrative_fees.is_some(),
        _ => p.centralized_procurement.is_some(),
    }
}

fn version_name(v: FormatVersion) -> &'static str {
    match v {
        FormatVersion::V2019 => "2019年版",
        FormatVersion::V2021 => "2021年版",
        FormatVersion::Legacy => "2019年以前",
        FormatVersion::Unspecified => "未知",
    }
}

fn version_id(v: FormatVersion) -> &'static str {
    match v {
        FormatVersion::V2019 => "V2019",
        FormatVersion::V2021 => "V2021",
        FormatVersion::Legacy => "LEGACY",
        FormatVersion::Unspecified => "UNSPECIFIED",
    }
}

/// Whether a parse diagnostic names a cell of the row: the parser found the row
/// in the source but could not read its values (ambiguous glued digits, no
/// values), so its cells are blank, and the row is not missing.
fn read_in_source(ctx: &Ctx<'_>, table: &str, row: &str) -> bool {
    ctx.diagnostics.iter().any(|d| {
        d.field_paths.iter().any(|p| {
            p.strip_prefix(table)
                .and_then(|p| p.strip_prefix('.'))
                .and_then(|p| p.strip_prefix(row))
                .is_some_and(|p| p.starts_with('.'))
        })
    })
}

fn s2(ctx: &Ctx<'_>, out: &mut Out) {
    let r = ctx.report;
    let tv = r.table_versions.as_ref();
    let v2 = table_version(tv.map(|t| t.proactive), ctx.version);
    let v3 = table_version(tv.map(|t| t.requests), ctx.version);
    let mut missing: Vec<String> = Vec::new();
    let mut stray: Vec<String> = Vec::new();

    // Table 二.
    match &r.proactive {
        None => missing.push("proactive".into()),
        Some(p) => {
            let rows = proactive_rows(v2);
            for (i, spec) in PROACTIVE_ROWS.iter().enumerate() {
                let ours = rows.contains(&i);
                if ours
                    && !proactive_row_present(p, i)
                    && !read_in_source(ctx, "proactive", spec.id)
                {
                    missing.push(format!("proactive.{}", spec.id));
                }
                let own = spec.columns(v2);
                for c in spec.v2021.iter().chain(spec.v2019) {
                    if ours && own.iter().any(|o| o.id == c.id) {
                        continue;
                    }
                    let cell = CellRef::Proactive {
                        row: i as u8,
                        col: c.id,
                    };
                    if cell.get(r).is_some() {
                        let path = cell.path();
                        if !stray.contains(&path) {
                            stray.push(path);
                        }
                    }
                }
            }
        }
    }
    // Table 三.
    match &r.requests {
        None => missing.push("requests".into()),
        Some(t) => {
            let rows = requests_rows(v3);
            for (i, spec) in REQUEST_ROWS.iter().enumerate() {
                let row = request_row(t, i);
                if rows.contains(&i) {
                    if row.is_none() && !read_in_source(ctx, "requests", spec.id) {
                        missing.push(format!("requests.{}", spec.id));
                    }
                } else if let Some(row) = row {
                    for c in 0..7 {
                        if crate::format::request_cell(row, c).is_some() {
                            stray.push(CellRef::request(i, c).path());
                        }
                    }
                }
            }
        }
    }
    // Table 四.
    match &r.review_litigation {
        None => missing.push("review_litigation".into()),
        Some(t) => {
            let groups = [
                t.review.is_some(),
                t.litigation_direct.is_some(),
                t.litigation_after_review.is_some(),
            ];
            for (g, present) in groups.iter().enumerate() {
                if !present && !read_in_source(ctx, "review_litigation", REVIEW_GROUPS[g].0) {
                    missing.push(format!("review_litigation.{}", REVIEW_GROUPS[g].0));
                }
            }
        }
    }

    if !missing.is_empty() {
        let f = out.fail(
            format!(
                "缺少所用格式规定的表格行（表二按{}，表三按{}）：{}",
                version_name(v2),
                version_name(v3),
                missing.join("、")
            ),
            format!(
                "rows of the format followed (table 二 {}, table 三 {}) are missing: {}",
                version_id(v2),
                version_id(v3),
                missing.join(", ")
            ),
            missing.iter().cloned(),
        );
        f.comparisons.push(comparison(
            "table rows",
            "every row of the detected version",
            "present",
            "missing",
            missing.len(),
        ));
    }
    if !stray.is_empty() {
        let shown: Vec<&str> = stray.iter().take(8).map(String::as_str).collect();
        let more = if stray.len() > 8 { "…" } else { "" };
        out.fail(
            format!(
                "以下单元格属于另一版本的格式（表二按{}，表三按{}），却填有数值：{}{more}",
                version_name(v2),
                version_name(v3),
                shown.join("、")
            ),
            format!(
                "these cells belong to the other format version (table 二 follows {}, table 三 {}) but carry values: {}{more}",
                version_id(v2),
                version_id(v3),
                shown.join(", ")
            ),
            stray,
        );
    }
}

// ------------------------------------------------------------------ S3

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

fn s3(ctx: &Ctx<'_>, out: &mut Out) {
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

// ------------------------------------------------------------------ S4

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

fn s4(ctx: &Ctx<'_>, out: &mut Out) {
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

// ------------------------------------------------------------------ S5

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

fn s5(ctx: &Ctx<'_>, out: &mut Out) {
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

// ------------------------------------------------------------------ S6

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

fn s6(ctx: &Ctx<'_>, out: &mut Out) {
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

// ------------------------------------------------------------------ S7

fn s7(ctx: &Ctx<'_>, out: &mut Out) {
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

// ------------------------------------------------------------------ S8

/// A money figure of the prose: its value in fen and how it was written.
struct ProseAmount {
    fen: i64,
    written: String,
    field: &'static str,
}

/// Parses "1,234.5" into fen for a unit of `scale` fen.
fn decimal_fen(num: &str, scale: i64) -> Option<i64> {
    let digits: String = num.chars().filter(|&c| c != ',' && c != '，').collect();
    let (int, frac) = digits.split_once('.').unwrap_or((&digits, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut v: i64 = int.parse::<i64>().ok()?.checked_mul(scale)?;
    let mut unit = scale;
    for b in frac.bytes() {
        unit /= 10;
        if unit == 0 {
            break;
        }
        v = v.checked_add(i64::from(b - b'0').checked_mul(unit)?)?;
    }
    Some(v)
}

/// Fee figures of the prose: "X元" / "X万元" with 费 or 收取 within 30 characters
/// before the number.
fn prose_fee_amounts(r: &AnnualReport) -> Vec<ProseAmount> {
    let mut out = Vec::new();
    let fields = [
        ("overview", section_text(&r.overview)),
        ("other_matters", section_text(&r.other_matters)),
        ("fee_statement", r.fee_statement.as_str()),
    ];
    for (field, t) in fields {
        for (i, _) in t.match_indices('元') {
            let head = &t[..i];
            let (head, scale) = match head.strip_suffix('万') {
                Some(h) => (h, 1_000_000i64),
                None => (head, 100i64),
            };
            let num_start = head
                .char_indices()
                .rev()
                .take_while(|&(_, c)| c.is_ascii_digit() || c == '.' || c == ',')
                .last()
                .map(|(j, _)| j);
            let Some(j) = num_start else { continue };
            let num = &head[j..];
            let Some(fen) = decimal_fen(num, scale) else {
                continue;
            };
            let context = suffix(&head[..j], 90);
            if context.contains('费') || context.contains("收取") {
                out.push(ProseAmount {
                    fen,
                    written: t[j..i + '元'.len_utf8()].to_string(),
                    field,
                });
            }
        }
    }
    out
}

fn s8(ctx: &Ctx<'_>, out: &mut Out) {
    let r = ctx.report;
    let cell = CellRef::Proactive {
        row: 6,
        col: "amount",
    };
    let Some(CellValue::Money(m)) = cell.get(r) else {
        out.incomplete = true;
        return;
    };
    let path = cell.path();
    let unit = MoneyUnit::try_from(m.unit).unwrap_or_default();
    if unit == MoneyUnit::Yuan {
        let f = out.fail(
            format!("表二（八）收费金额“{}”以元填报，该栏单位为万元", m.raw),
            format!(
                "the table 二 （八） fee amount \"{}\" is written in 元; the column is in 万元",
                m.raw
            ),
            [path],
        );
        f.comparisons.push(comparison(
            "fee amount unit",
            "unit",
            "万元",
            "written in",
            "元",
        ));
        return;
    }
    let Some(fen) = m.fen else {
        out.incomplete = true;
        return;
    };
    if fen == 0 {
        return;
    }
    for a in prose_fee_amounts(r) {
        if a.fen.checked_mul(10_000) == Some(fen) {
            let f = out.fail(
                format!(
                    "表二（八）收费金额为{}万元，恰为正文“{}”的一万倍，疑似以元填入了万元栏",
                    m.decimal, a.written
                ),
                format!(
                    "the table 二 （八） fee amount {} 万元 is 10,000 times the prose's \"{}\": the table looks filled in 元",
                    m.decimal, a.written
                ),
                [path.clone(), a.field.to_string()],
            );
            f.comparisons.push(comparison(
                "fee amount",
                format!("prose \"{}\" in 万元", a.written),
                fen_in_wan(a.fen),
                "proactive.administrative_fees.amount",
                m.decimal.clone(),
            ));
            return;
        }
    }
    let level = r
        .agency
        .as_ref()
        .map(|a| AdministrativeLevel::try_from(a.level).unwrap_or_default())
        .unwrap_or_default();
    const LARGE_FEN: i64 = 1_000_000 * 1_000_000; // 1,000,000 万元
    if matches!(
        level,
        AdministrativeLevel::County | AdministrativeLevel::Township
    ) && fen >= LARGE_FEN
    {
        let f = out.fail(
            format!(
                "县级及以下机关的收费金额{}万元（超过100亿元）不合常理，疑似以元填入了万元栏",
                m.decimal
            ),
            format!(
                "a fee amount of {} 万元 (over 10 billion yuan) is implausible for a county or township body: it looks filled in 元",
                m.decimal
            ),
            [path],
        );
        f.comparisons.push(comparison(
            "fee amount",
            "below (万元)",
            "1000000",
            "proactive.administrative_fees.amount",
            m.decimal.clone(),
        ));
    }
}

fn fen_in_wan(fen: i64) -> String {
    let (int, frac) = (fen / 1_000_000, fen % 1_000_000);
    if frac == 0 {
        int.to_string()
    } else {
        format!("{int}.{frac:06}").trim_end_matches('0').to_string()
    }
}

// ------------------------------------------------------------------ S9

/// Whether an agency may make 规章 (立法法 Art. 91, 93); `None` when unknown.
fn has_rule_making_power(r: &AnnualReport) -> Option<bool> {
    let a = r.agency.as_ref()?;
    let kind = AgencyKind::try_from(a.kind).unwrap_or_default();
    let level = AdministrativeLevel::try_from(a.level).unwrap_or_default();
    if level == AdministrativeLevel::Unspecified {
        return None;
    }
    if level == AdministrativeLevel::National {
        // State Council departments (and the State Council's own office).
        return Some(true);
    }
    let high = matches!(
        level,
        AdministrativeLevel::Provincial | AdministrativeLevel::Municipal
    );
    match kind {
        AgencyKind::Government => Some(high),
        AgencyKind::Department => {
            // A government's general office reports its government's rules.
            let office = [
                "人民政府办公厅",
                "人民政府办公室",
                "政府办公厅",
                "政府办公室",
            ]
            .iter()
            .any(|o| a.name.contains(o));
            Some(high && office)
        }
        AgencyKind::Unspecified => None,
    }
}

fn s9(ctx: &Ctx<'_>, out: &mut Out) {
    let r = ctx.report;
    let col = if ctx.version == FormatVersion::V2019 {
        "newly_made"
    } else {
        "issued"
    };
    let cell = CellRef::Proactive { row: 0, col };
    let Some(n) = cell.get_int(r) else {
        out.incomplete = true;
        return;
    };
    if n <= 0 {
        return;
    }
    let Some(power) = has_rule_making_power(r) else {
        out.incomplete = true;
        return;
    };
    if power {
        return;
    }
    let name = r.agency.as_ref().map_or("", |a| a.name.as_str());
    let f = out.fail(
        format!(
            "“{name}”填报本年制发规章{n}件，但只有国务院部门、省级人民政府和设区的市级人民政府有规章制定权；请核对是否应填入行政规范性文件"
        ),
        format!(
            "\"{name}\" reports {n} regulations (规章) issued, but only State Council departments, provincial governments and governments of cities with districts may make 规章; check whether they are normative documents"
        ),
        [cell.path(), "agency".to_string()],
    );
    f.comparisons.push(comparison(
        "regulations issued",
        "a body without rule-making power issues none",
        0,
        cell.path(),
        n,
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::request_row_index;
    use crate::pb::{Agency, MoneyAmount, RuleOutcome, SectionId, TableVersions};
    use crate::validate::{validate, Input, Options};

    use crate::validate::test_support::base;

    fn run(r: &AnnualReport, code: &str) -> (RuleOutcome, Vec<crate::pb::Finding>) {
        let v = validate(&Input::entity(r), &Options::default());
        let o = v
            .rules
            .iter()
            .find(|x| x.code == code)
            .and_then(|x| RuleOutcome::try_from(x.outcome).ok())
            .unwrap_or_default();
        (
            o,
            v.findings.into_iter().filter(|f| f.code == code).collect(),
        )
    }

    fn passes(r: &AnnualReport, code: &str) {
        let (o, f) = run(r, code);
        assert_eq!(o, RuleOutcome::Passed, "{code}: {f:?}");
    }

    fn fails(r: &AnnualReport, code: &str, path: &str) -> crate::pb::Finding {
        let (o, f) = run(r, code);
        assert_eq!(o, RuleOutcome::Failed, "{code}");
        f.into_iter()
            .find(|f| f.field_paths.iter().any(|p| p == path))
            .unwrap_or_else(|| panic!("{code}: no finding names {path}"))
    }

    fn section(t: &str) -> Option<SectionText> {
        Some(SectionText {
            heading: String::new(),
            text: t.into(),
        })
    }

    #[test]
    fn bases_pass_every_structure_rule() {
        for b in ["v2021", "v2019"] {
            let r = base(b);
            for code in ["S1", "S2", "S3", "S4", "S6", "S7", "S9"] {
                passes(&r, code);
            }
        }
        passes(&base("v2021"), "S5");
        passes(&base("v2021"), "S8");
    }

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

    #[test]
    fn s2_rows_of_the_version() {
        let mut r = base("v2021");
        if let Some(t) = r.requests.as_mut() {
            t.other_misc = None;
        }
        fails(&r, "S2", "requests.other_misc");
        // A blank row is fine.
        let mut r = base("v2021");
        if let Some(t) = r.requests.as_mut() {
            t.other_misc = Some(Default::default());
        }
        passes(&r, "S2");
        // A V2019 row with values in a V2021 report.
        let mut r = base("v2021");
        let row = request_row_index("other_handling").unwrap_or(25);
        CellRef::request(row, 6).set(&mut r, Some(CellValue::Int(0)));
        fails(&r, "S2", "requests.other_handling.total");
        // A V2019 column in a V2021 row.
        let mut r = base("v2021");
        CellRef::Proactive {
            row: 1,
            col: "newly_made",
        }
        .set(&mut r, Some(CellValue::Int(3)));
        fails(&r, "S2", "proactive.normative_documents.newly_made");
        // Mixed tables: each table is checked against its own version.
        let mut r = base("v2021");
        r.table_versions = Some(TableVersions {
            proactive: FormatVersion::V2021 as i32,
            requests: FormatVersion::V2019 as i32,
        });
        fails(&r, "S2", "requests.other_handling");
        // No tables at all.
        let mut r = base("v2019");
        r.review_litigation = None;
        fails(&r, "S2", "review_litigation");
    }

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

    fn fee(r: &mut AnnualReport, decimal: &str, fen: i64, unit: MoneyUnit) {
        CellRef::Proactive {
            row: 6,
            col: "amount",
        }
        .set(
            r,
            Some(CellValue::Money(MoneyAmount {
                raw: decimal.into(),
                fen: Some(fen),
                unit: unit as i32,
                decimal: decimal.into(),
            })),
        );
    }

    #[test]
    fn s8_fee_in_yuan() {
        let mut r = base("v2021");
        fee(&mut r, "380", 380_000_000, MoneyUnit::WanYuan);
        r.other_matters = section("本年度收取信息处理费共计380元。");
        let f = fails(&r, "S8", "proactive.administrative_fees.amount");
        assert!(f.field_paths.contains(&"other_matters".to_string()));
        // Written in 万元 in the prose, in 元 in the table.
        r.other_matters = section("全年行政事业性收费1.5万元。");
        fee(&mut r, "15000", 15_000_000_000, MoneyUnit::WanYuan);
        fails(&r, "S8", "proactive.administrative_fees.amount");
        // Agreeing figures pass.
        fee(&mut r, "1.5", 1_500_000, MoneyUnit::WanYuan);
        passes(&r, "S8");
        // A cell written in 元.
        fee(&mut r, "380", 38_000, MoneyUnit::Yuan);
        fails(&r, "S8", "proactive.administrative_fees.amount");
        // Implausible for a county.
        let mut r = base("v2021");
        fee(&mut r, "73802895.9", 73_802_895_900_000, MoneyUnit::WanYuan);
        fails(&r, "S8", "proactive.administrative_fees.amount");
        // No amount: incomplete.
        let mut r = base("v2021");
        CellRef::Proactive {
            row: 6,
            col: "amount",
        }
        .set(&mut r, None);
        assert_eq!(run(&r, "S8").0, RuleOutcome::Incomplete);
    }

    #[test]
    fn s9_rule_making_power() {
        let mut r = base("v2021");
        CellRef::Proactive {
            row: 0,
            col: "issued",
        }
        .set(&mut r, Some(CellValue::Int(2)));
        let f = fails(&r, "S9", "proactive.regulations.issued");
        assert_eq!(f.severity, Severity::Info as i32);
        r.agency = Some(Agency {
            name: "某市人民政府".into(),
            kind: AgencyKind::Government as i32,
            level: AdministrativeLevel::Municipal as i32,
            ..Default::default()
        });
        passes(&r, "S9");
        r.agency = Some(Agency {
            name: "上海市人民政府办公厅".into(),
            kind: AgencyKind::Department as i32,
            level: AdministrativeLevel::Provincial as i32,
            ..Default::default()
        });
        passes(&r, "S9");
        r.agency = None;
        assert_eq!(run(&r, "S9").0, RuleOutcome::Incomplete);
        let mut r = base("v2019");
        CellRef::Proactive {
            row: 0,
            col: "newly_made",
        }
        .set(&mut r, Some(CellValue::Int(1)));
        fails(&r, "S9", "proactive.regulations.newly_made");
    }

    #[test]
    fn empty_report_does_not_panic() {
        let mut r = AnnualReport::default();
        for v in [
            FormatVersion::V2019,
            FormatVersion::V2021,
            FormatVersion::Legacy,
        ] {
            r.format_version = v as i32;
            let _ = validate(&Input::entity(&r), &Options::default());
        }
        let mut r = base("v2021");
        r.preamble = "统计期限为2023年1月1日至".into();
        r.title = "２０２３".into();
        r.other_matters = section("元 万元 费 无");
        r.overview = section("收费元 收费.元 收费,元 收费99999999999999999999元");
        let _ = validate(&Input::entity(&r), &Options::default());
    }
}
