//! X1–X3, X5–X7: the report against the same agency's report for the year
//! before, and against the year it claims to report on.
//!
//! X1–X3 and X5 need the previous report (`Ctx::previous`) and apply only when its
//! year is exactly Y−1; otherwise they are NOT_APPLICABLE. Blank cells on either
//! side make them INCOMPLETE, never FAILED. X6 and X7 read this report alone.

use std::sync::OnceLock;

use regex::Regex;

use crate::format::{
    all_cells, expected_version, request_row_index, CellRef, CellValue, PROACTIVE_ROWS,
    REQUEST_COLUMNS, REQUEST_TOTAL_COL,
};
use crate::pb::{AnnualReport, FormatVersion, RuleBasis, Severity};
use crate::validate::engine::{comparison, Ctx, Out};
use crate::validate::text::{digit, section_text, suffix};
use crate::validate::{Category, Rule};

const TABLES: &[FormatVersion] = &[FormatVersion::V2019, FormatVersion::V2021];

/// X5: narratives at least this similar (Jaccard over character 4-gram shingles)
/// count as copied. Unrelated reports of the corpus, even of the same agency in
/// consecutive years, score 0.04–0.13; a verbatim copy scores 1.0, and a copy
/// with about a tenth of its text rewritten about 0.8.
const COPY_SIMILARITY: f64 = 0.80;
/// X5: narratives with fewer shingles than this are too short to compare.
const MIN_SHINGLES: usize = 150;

pub static RULES: &[Rule] = &[
    Rule {
        code: "X1",
        severity: Severity::Error,
        title: "上年结转等于上一年度报告的结转下年度",
        title_en: "Carried over = last year's carried forward",
        description: "Per table-三 column (the six applicant columns and the total): carried_over(Y) = carried_forward(Y−1), across format versions. ERROR on the total column, WARNING per applicant column. Needs the previous report (year Y−1, with tables); blank cells on either side: incomplete.",
        versions: TABLES,
        basis: RuleBasis::Derived,
        reference: "表三“二、上年结转政府信息公开申请数量”与上一年度“四、结转下年度继续办理”",
        category: Category::CrossYear,
        check: x1,
    },
    Rule {
        code: "X2",
        severity: Severity::Warning,
        title: "现行有效件数等于上年现行有效件数加本年制发减本年废止",
        title_en: "Documents in force carry over from last year",
        description: "V2021 table 二 （一）, per row (规章, 行政规范性文件): in_force(Y) = in_force(Y−1) + issued(Y) − repealed(Y). Documents can also lapse, so a difference is a warning. Needs the previous report in V2021 (year Y−1); blank cells: incomplete.",
        versions: &[FormatVersion::V2021],
        basis: RuleBasis::Heuristic,
        reference: "表二第二十条第（一）项",
        category: Category::CrossYear,
        check: x2,
    },
    Rule {
        code: "X3",
        severity: Severity::Warning,
        title: "上一年项目数量等于上年报告的上一年项目数量加本年增/减",
        title_en: "Item counts carry over from last year",
        description: "V2019 table 二 （五）（六）（八）, per row: prev_year_items(Y) = prev_year_items(Y−1) + change_this_year(Y−1). Needs the previous report in V2019 (year Y−1); blank cells: incomplete.",
        versions: &[FormatVersion::V2019],
        basis: RuleBasis::Derived,
        reference: "表二（2019年版）“上一年项目数量”“本年增/减”",
        category: Category::CrossYear,
        check: x3,
    },
    Rule {
        code: "X5",
        severity: Severity::Warning,
        title: "年度报告内容与上一年度雷同",
        title_en: "Report copied from last year (内容雷同)",
        description: "The narrative (overview + problems + other matters) is nearly identical to the previous year's: Jaccard similarity of their character 4-gram shingles (whitespace, digits and punctuation left out; hashed into a 16,384-bit set; the first 3,000 characters of the overview, 1,500 of problems and 500 of other matters) ≥ 0.80, with at least 150 shingles on each side; or tables 二, 三 and 四 are identical (same version, every cell and every published text of a cell equal) with at least one non-zero cell of this year's activity (stock columns such as in_force, total_published, prev_year_items and the carried rows do not count). Needs the previous report (year Y−1).",
        versions: &[],
        basis: RuleBasis::Heuristic,
        reference: "国办公开办函〔2021〕30号（内容雷同的，依条例第四十七条追究责任）",
        category: Category::CrossYear,
        check: x5,
    },
    Rule {
        code: "X6",
        severity: Severity::Warning,
        title: "正文写错年度（沿用上年报告的残留）",
        title_en: "Text names the wrong year (copy-over residue)",
        description: "A phrase naming a report — \"YYYY年(度)政府信息公开工作年度报告\", \"YYYY年度报告\", \"YYYY年政务公开工作年度报告\", \"YYYY年…年报\" — or the stated statistical period names a year other than the report year Y, in the title, preamble, overview, problems, other matters or fee statement. Y−1 is allowed right after an explicit comparison (较/与/比/同比/相比/对比) and where the text refers back to last year's report (…报告中/指出/提出/反映/发现/所列/存在). Bare dates are not checked (publication dates in Y+1 are normal).",
        versions: &[],
        basis: RuleBasis::Heuristic,
        reference: "条例第四十九条、第五十条",
        category: Category::CrossYear,
        check: x6,
    },
    Rule {
        code: "X7",
        severity: Severity::Error,
        title: "年度报告格式与报告年度不符",
        title_en: "Format version expected for the year",
        description: "format_version (and each table's recorded version) is the one the national format prescribes for the report year (format.expected_version: LEGACY up to 2018, V2019 for 2019–2020, V2021 from 2021). ERROR for report years ≥ 2021, WARNING before. Unknown year or version: incomplete.",
        versions: &[],
        basis: RuleBasis::Official,
        reference: "国办公开办函〔2019〕60号；国办公开办函〔2021〕30号",
        category: Category::CrossYear,
        check: x7,
    },
];

// ------------------------------------------------------------------ helpers

/// The previous report when it is exactly the year before; otherwise marks the
/// rule not applicable.
fn previous<'a>(ctx: &Ctx<'a>, out: &mut Out) -> Option<&'a AnnualReport> {
    match ctx.previous {
        Some(p) if ctx.report.year > 0 && p.year == ctx.report.year - 1 => Some(p),
        _ => {
            out.not_applicable = true;
            None
        }
    }
}

fn version_of(r: &AnnualReport) -> FormatVersion {
    FormatVersion::try_from(r.format_version).unwrap_or_default()
}

// ------------------------------------------------------------------ X1

fn x1(ctx: &Ctx<'_>, out: &mut Out) {
    let Some(prev) = previous(ctx, out) else {
        return;
    };
    if !TABLES.contains(&version_of(prev)) {
        // A report before 2019 has no table 三 to carry from.
        out.not_applicable = true;
        return;
    }
    let over = request_row_index("carried_over").unwrap_or(1);
    let forward = request_row_index("carried_forward").unwrap_or(24);
    for (col, spec) in REQUEST_COLUMNS.iter().enumerate() {
        let now = CellRef::request(over, col);
        let then = CellRef::request(forward, col);
        let (Some(a), Some(b)) = (now.get_int(ctx.report), then.get_int(prev)) else {
            out.incomplete = true;
            continue;
        };
        if a == b {
            continue;
        }
        let total = col == REQUEST_TOTAL_COL;
        let f = out.fail(
            format!(
                "“{}”列：上年结转{a}件，但{}年度报告的结转下年度为{b}件",
                spec.label, prev.year
            ),
            format!(
                "column {}: carried_over is {a} but the {} report carried forward {b}",
                spec.id, prev.year
            ),
            [now.path()],
        );
        f.severity = if total {
            Severity::Error
        } else {
            Severity::Warning
        } as i32;
        f.comparisons.push(comparison(
            format!("column {}", spec.id),
            format!("carried_forward.{} of the {} report", spec.id, prev.year),
            b,
            format!("carried_over.{}", spec.id),
            a,
        ));
    }
}

// ------------------------------------------------------------------ X2

fn x2(ctx: &Ctx<'_>, out: &mut Out) {
    let Some(prev) = previous(ctx, out) else {
        return;
    };
    if version_of(prev) != FormatVersion::V2021 {
        // The 2019 format counts published documents, not documents in force.
        out.not_applicable = true;
        return;
    }
    for row in 0..2u8 {
        let spec = &PROACTIVE_ROWS[row as usize];
        let cell = |col: &'static str| CellRef::Proactive { row, col };
        let (Some(in_force), Some(issued), Some(repealed), Some(before)) = (
            cell("in_force").get_int(ctx.report),
            cell("issued").get_int(ctx.report),
            cell("repealed").get_int(ctx.report),
            cell("in_force").get_int(prev),
        ) else {
            out.incomplete = true;
            continue;
        };
        let expected = before + issued - repealed;
        if expected == in_force {
            continue;
        }
        let f = out.fail(
            format!(
                "“{}”现行有效{in_force}件，但{}年末现行有效{before}件加本年制发{issued}件减本年废止{repealed}件应为{expected}件",
                spec.label, prev.year
            ),
            format!(
                "{}: in_force is {in_force} but in_force of {} ({before}) + issued ({issued}) − repealed ({repealed}) = {expected} (documents may also have lapsed)",
                spec.id, prev.year
            ),
            [cell("in_force").path(), cell("issued").path(), cell("repealed").path()],
        );
        f.comparisons.push(comparison(
            format!("row {}", spec.id),
            format!("in_force({}) + issued − repealed", prev.year),
            expected,
            "in_force",
            in_force,
        ));
    }
}

// ------------------------------------------------------------------ X3

fn x3(ctx: &Ctx<'_>, out: &mut Out) {
    let Some(prev) = previous(ctx, out) else {
        return;
    };
    if version_of(prev) != FormatVersion::V2019 {
        out.not_applicable = true;
        return;
    }
    // 行政许可, 其他对外管理服务事项, 行政处罚, 行政强制, 行政事业性收费.
    for row in [2u8, 3, 4, 5, 6] {
        let spec = &PROACTIVE_ROWS[row as usize];
        let cell = |col: &'static str| CellRef::Proactive { row, col };
        let (Some(now), Some(before), Some(change)) = (
            cell("prev_year_items").get_int(ctx.report),
            cell("prev_year_items").get_int(prev),
            cell("change_this_year").get_int(prev),
        ) else {
            out.incomplete = true;
            continue;
        };
        let expected = before + change;
        if expected == now {
            continue;
        }
        let f = out.fail(
            format!(
                "“{}”上一年项目数量为{now}，但{}年度报告为{before}、本年增/减{change:+}，应为{expected}",
                spec.label, prev.year
            ),
            format!(
                "{}: prev_year_items is {now} but the {} report gives {before} {change:+} = {expected}",
                spec.id, prev.year
            ),
            [cell("prev_year_items").path()],
        );
        f.comparisons.push(comparison(
            format!("row {}", spec.id),
            format!(
                "prev_year_items + change_this_year of the {} report",
                prev.year
            ),
            expected,
            "prev_year_items",
            now,
        ));
    }
}

// ------------------------------------------------------------------ X5

const SHINGLE_BITS: usize = 1 << 14;
const SHINGLE_WORDS: usize = SHINGLE_BITS / 64;
/// How many characters of the overview, problems and other matters are
/// shingled at most (bounds the cost: decoding is most of it).
const CHAR_BUDGET: [usize; 3] = [3000, 1500, 500];

/// A set of hashed character 4-grams.
struct Shingles {
    bits: [u64; SHINGLE_WORDS],
    count: usize,
}

/// Characters that carry no wording: whitespace, digits, punctuation.
fn skipped(c: char) -> bool {
    // The common case first: CJK ideographs are kept.
    if ('\u{4E00}'..='\u{9FFF}').contains(&c) {
        return false;
    }
    if c.is_ascii() {
        return !c.is_ascii_alphabetic();
    }
    ('\u{3000}'..='\u{303F}').contains(&c)
        || ('\u{FF00}'..='\u{FF65}').contains(&c)
        || ('\u{2000}'..='\u{206F}').contains(&c)
        || c.is_whitespace()
}

/// Shingles the texts, each up to its character budget (`limits[i]` kept
/// characters of `texts[i]`).
fn shingles(texts: &[&str], limits: &[usize]) -> Shingles {
    let mut s = Shingles {
        bits: [0; SHINGLE_WORDS],
        count: 0,
    };
    for (t, &limit) in texts.iter().zip(limits) {
        // The last four kept characters, 16 bits each (the BMP, where Chinese
        // text lives; other planes merely collide).
        let mut key: u64 = 0;
        let mut filled = 0usize;
        for c in t.chars() {
            if skipped(c) {
                continue;
            }
            filled += 1;
            if filled > limit {
                break;
            }
            key = (key << 16) | u64::from(c as u32 & 0xFFFF);
            if filled < 4 {
                continue;
            }
            let h = (key ^ (key >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            let bit = (h >> (64 - 14)) as usize;
            s.bits[bit / 64] |= 1 << (bit % 64);
            s.count += 1;
        }
    }
    s
}

fn jaccard(a: &Shingles, b: &Shingles) -> f64 {
    let (mut both, mut either) = (0u32, 0u32);
    for (x, y) in a.bits.iter().zip(&b.bits) {
        both += (x & y).count_ones();
        either += (x | y).count_ones();
    }
    if either == 0 {
        0.0
    } else {
        f64::from(both) / f64::from(either)
    }
}

fn narrative(r: &AnnualReport) -> [&str; 3] {
    [
        section_text(&r.overview),
        section_text(&r.problems),
        section_text(&r.other_matters),
    ]
}

/// Columns holding a stock (carried from year to year), not this year's activity.
fn is_stock(c: &CellRef) -> bool {
    match c {
        CellRef::Proactive { col, .. } => {
            matches!(*col, "in_force" | "total_published" | "prev_year_items")
        }
        CellRef::Request { row, .. } => {
            let r = usize::from(*row);
            Some(r) == request_row_index("carried_over")
                || Some(r) == request_row_index("carried_forward")
        }
        CellRef::Review { col, .. } => *col == 3, // pending
    }
}

fn nonzero(v: &CellValue) -> bool {
    match v {
        CellValue::Int(i) => *i != 0,
        CellValue::Money(m) => m.fen.map_or_else(
            || m.decimal.bytes().any(|b| (b'1'..=b'9').contains(&b)),
            |f| f != 0,
        ),
    }
}

fn x5(ctx: &Ctx<'_>, out: &mut Out) {
    let Some(prev) = previous(ctx, out) else {
        return;
    };
    let mut checked = false;

    let (a, b) = (
        shingles(&narrative(ctx.report), &CHAR_BUDGET),
        shingles(&narrative(prev), &CHAR_BUDGET),
    );
    if a.count >= MIN_SHINGLES && b.count >= MIN_SHINGLES {
        checked = true;
        let j = jaccard(&a, &b);
        if j >= COPY_SIMILARITY {
            let f = out.fail(
                format!(
                    "“总体情况”“存在的主要问题及改进情况”“其他需要报告的事项”的文字与{}年度报告几乎相同（相似度{:.0}%），疑似内容雷同",
                    prev.year,
                    j * 100.0
                ),
                format!(
                    "the narrative (overview, problems, other matters) is nearly identical to the {} report ({:.0}% similar): it looks copied",
                    prev.year,
                    j * 100.0
                ),
                ["overview", "problems", "other_matters"].map(String::from),
            );
            f.comparisons.push(comparison(
                "narrative similarity (Jaccard, 4-gram shingles)",
                format!("< {COPY_SIMILARITY:.2}"),
                format!("{COPY_SIMILARITY:.2}"),
                format!("similarity to the {} report", prev.year),
                format!("{j:.2}"),
            ));
        }
    }

    let v = ctx.version;
    if TABLES.contains(&v) && version_of(prev) == v {
        checked = true;
        // Identical messages (cheap to compare), then the evidence of activity.
        let r = ctx.report;
        let identical = r.proactive == prev.proactive
            && r.requests == prev.requests
            && r.review_litigation == prev.review_litigation;
        let activity = identical
            && all_cells(v)
                .iter()
                .any(|c| !is_stock(c) && c.get(r).as_ref().is_some_and(nonzero));
        if activity {
            let f = out.fail(
                format!(
                    "表二、表三、表四与{}年度报告逐格相同，疑似沿用上年数据",
                    prev.year
                ),
                format!(
                    "tables 二, 三 and 四 are identical, cell for cell, to the {} report: the figures look copied",
                    prev.year
                ),
                ["proactive", "requests", "review_litigation"].map(String::from),
            );
            f.comparisons.push(comparison(
                "tables",
                format!("differ from the {} report", prev.year),
                "different",
                "cells",
                "identical",
            ));
        }
    }
    if !checked {
        out.incomplete = true;
    }
}

// ------------------------------------------------------------------ X6

/// One phrase naming a wrong year.
struct WrongYear {
    field: &'static str,
    year: i32,
    phrase: String,
}

/// Finds "报" (a SIMD substring search); "报告" and "年报" are told apart around it.
fn bao() -> Option<&'static Regex> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    RE.get_or_init(|| Regex::new("报").ok()).as_ref()
}

fn strip_ws_end(s: &str) -> &str {
    s.trim_end()
}

/// Reads a report-naming phrase backwards from just before "报告" / "年报":
/// "YYYY年[度](政府信息公开|政务公开|信息公开)[工作][年度]报告", "YYYY年[年]度报告",
/// "YYYY年[度](…公开)[工作]年报". Returns the year and the byte offset where the
/// year starts.
fn year_before(head: &str, nianbao: bool) -> Option<(i32, usize)> {
    let mut s = strip_ws_end(head);
    let mut niandu = false;
    if !nianbao {
        if let Some(x) = s.strip_suffix("年度") {
            s = strip_ws_end(x);
            niandu = true;
        }
    }
    let mut work = false;
    if let Some(x) = s.strip_suffix("工作") {
        s = strip_ws_end(x);
        work = true;
    }
    let mut topic = false;
    for t in ["政府信息公开", "政务公开", "信息公开"] {
        if let Some(x) = s.strip_suffix(t) {
            s = strip_ws_end(x);
            topic = true;
            break;
        }
    }
    if topic {
        if let Some(x) = s.strip_suffix('度') {
            s = strip_ws_end(x);
        }
        s = strip_ws_end(s.strip_suffix('年')?);
    } else {
        // "YYYY年度报告" / "YYYY年年度报告" only.
        if work || nianbao || !niandu {
            return None;
        }
        if let Some(x) = s.strip_suffix('年') {
            s = strip_ws_end(x);
        }
    }
    // Four digits, not part of a longer number.
    let mut year = 0i32;
    let mut start = s.len();
    let mut n = 0;
    for (i, c) in s.char_indices().rev() {
        match digit(c) {
            Some(d) if n < 4 => {
                year += d as i32 * 10i32.pow(n);
                n += 1;
                start = i;
            }
            Some(_) => return None,
            None => break,
        }
    }
    (n == 4 && (1990..=2100).contains(&year)).then_some((year, start))
}

/// Whether the text right before a year makes it an explicit comparison.
fn comparison_before(head: &str) -> bool {
    let h = suffix(head.trim_end(), 9);
    ["较", "与", "比", "同比", "相比", "对比"]
        .iter()
        .any(|w| h.ends_with(w))
}

/// Whether the text right after a phrase naming last year's report refers back
/// to it ("2022年度报告中指出的问题…已整改"): a follow-up, not residue.
fn follow_up_after(tail: &str) -> bool {
    let t = tail.trim_start();
    ["中", "指出", "提出", "反映", "发现", "所列", "存在"]
        .iter()
        .any(|w| t.starts_with(w))
}

fn wrong_years(r: &AnnualReport) -> Vec<WrongYear> {
    let mut found = Vec::new();
    let Some(re) = bao() else {
        return found;
    };
    let y = r.year;
    let fields = [
        ("title", r.title.as_str()),
        ("preamble", r.preamble.as_str()),
        ("overview", section_text(&r.overview)),
        ("problems", section_text(&r.problems)),
        ("other_matters", section_text(&r.other_matters)),
        ("fee_statement", r.fee_statement.as_str()),
    ];
    for (field, t) in fields {
        for m in re.find_iter(t) {
            let (head, end) = if t[m.end()..].starts_with('告') {
                (&t[..m.start()], m.end() + '告'.len_utf8())
            } else if let Some(h) = t[..m.start()].strip_suffix('年') {
                (h, m.end())
            } else {
                continue;
            };
            let nianbao = end == m.end();
            let Some((year, start)) = year_before(head, nianbao) else {
                continue;
            };
            if year == y
                || (year == y - 1 && (comparison_before(&t[..start]) || follow_up_after(&t[end..])))
            {
                continue;
            }
            if found
                .iter()
                .any(|w: &WrongYear| w.field == field && w.year == year)
            {
                continue;
            }
            found.push(WrongYear {
                field,
                year,
                phrase: t[start..end].to_string(),
            });
        }
    }
    found
}

fn x6(ctx: &Ctx<'_>, out: &mut Out) {
    let r = ctx.report;
    if r.year <= 0 {
        out.incomplete = true;
        return;
    }
    let y = r.year;
    for w in wrong_years(r) {
        let f = out.fail(
            format!(
                "{}中“{}”写的是{}年，而本报告是{y}年度报告，疑似沿用往年报告未改",
                field_zh(w.field),
                w.phrase,
                w.year
            ),
            format!(
                "{} names \"{}\" ({}), but this is the {y} report: probably left over from another year's report",
                w.field, w.phrase, w.year
            ),
            [w.field.to_string()],
        );
        f.comparisons.push(comparison(
            "year named",
            "the report year",
            y,
            w.field,
            w.year,
        ));
    }
    if let Some(p) = ctx.period() {
        let (a, b) = (p.start.0, p.end.0);
        if a != y || b != y {
            let named = if a == b {
                a.to_string()
            } else {
                format!("{a}–{b}")
            };
            let f = out.fail(
                format!(
                    "{}中的统计期限“{}”写的是{named}年，而本报告是{y}年度报告",
                    field_zh(p.field),
                    p.quote.trim()
                ),
                format!(
                    "the statistical period in {} (\"{}\") names {named}, but this is the {y} report",
                    p.field,
                    p.quote.trim()
                ),
                [p.field.to_string()],
            );
            f.comparisons.push(comparison(
                "statistical period year",
                "the report year",
                y,
                p.field,
                named,
            ));
        }
    }
}

fn field_zh(field: &str) -> &'static str {
    match field {
        "title" => "标题",
        "preamble" => "前言",
        "overview" => "“总体情况”",
        "problems" => "“存在的主要问题及改进情况”",
        "other_matters" => "“其他需要报告的事项”",
        "fee_statement" => "信息处理费说明",
        _ => "正文",
    }
}

// ------------------------------------------------------------------ X7

fn version_label(v: FormatVersion) -> (&'static str, &'static str) {
    match v {
        FormatVersion::V2019 => ("2019年版格式（国办公开办函〔2019〕60号）", "V2019"),
        FormatVersion::V2021 => ("2021年版格式（国办公开办函〔2021〕30号）", "V2021"),
        FormatVersion::Legacy => ("2019年以前的自由格式", "LEGACY"),
        FormatVersion::Unspecified => ("未知格式", "UNSPECIFIED"),
    }
}

fn x7(ctx: &Ctx<'_>, out: &mut Out) {
    let r = ctx.report;
    if r.year <= 0 || ctx.version == FormatVersion::Unspecified {
        out.incomplete = true;
        return;
    }
    let expected = expected_version(r.year);
    let severity = if r.year >= 2021 {
        Severity::Error
    } else {
        Severity::Warning
    };
    let (exp_zh, exp_en) = version_label(expected);
    let tv = r.table_versions.as_ref();
    let tables = [
        ("table_versions.proactive", "表二", tv.map(|t| t.proactive)),
        ("table_versions.requests", "表三", tv.map(|t| t.requests)),
    ];
    // Tables recorded with a version other than the expected one.
    let off_tables: Vec<(&str, &str, FormatVersion)> = tables
        .iter()
        .filter_map(|&(path, zh, v)| {
            let v = FormatVersion::try_from(v?).ok()?;
            (v != FormatVersion::Unspecified && v != expected).then_some((path, zh, v))
        })
        .collect();
    if ctx.version != expected {
        let (got_zh, got_en) = version_label(ctx.version);
        let mut paths = vec!["format_version".to_string()];
        paths.extend(off_tables.iter().map(|t| t.0.to_string()));
        let f = out.fail(
            format!("{}年度报告应采用{exp_zh}，实际采用{got_zh}", r.year),
            format!(
                "a {} report should follow {exp_en}, but this one follows {got_en}",
                r.year
            ),
            paths,
        );
        f.severity = severity as i32;
        f.comparisons.push(comparison(
            "format version",
            format!("expected_version({})", r.year),
            exp_en,
            "format_version",
            got_en,
        ));
    } else if !off_tables.is_empty() {
        let zh: Vec<String> = off_tables
            .iter()
            .map(|t| format!("{}按{}", t.1, version_label(t.2).0))
            .collect();
        let en: Vec<String> = off_tables
            .iter()
            .map(|t| format!("{} follows {}", t.0, version_label(t.2).1))
            .collect();
        let f = out.fail(
            format!(
                "{}年度报告应采用{exp_zh}，但{}（新旧格式混用）",
                r.year,
                zh.join("、")
            ),
            format!(
                "a {} report should follow {exp_en}, but {} (formats mixed)",
                r.year,
                en.join(", ")
            ),
            off_tables.iter().map(|t| t.0.to_string()),
        );
        f.severity = severity as i32;
        for t in &off_tables {
            f.comparisons.push(comparison(
                t.0,
                format!("expected_version({})", r.year),
                exp_en,
                t.0,
                version_label(t.2).1,
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::{Finding, RuleOutcome, SectionText, TableVersions};
    use crate::validate::{validate, Input, Options};

    use crate::validate::test_support::base;

    /// The base as the year before: same tables, shifted year.
    fn before(r: &AnnualReport) -> AnnualReport {
        let mut p = r.clone();
        p.year -= 1;
        p
    }

    fn run(
        r: &AnnualReport,
        prev: Option<&AnnualReport>,
        code: &str,
    ) -> (RuleOutcome, Vec<Finding>) {
        let input = Input {
            report: r,
            previous: prev,
            locations: &[],
            diagnostics: &[],
        };
        let v = validate(&input, &Options::default());
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

    fn set(r: &mut AnnualReport, path: &str, v: i64) {
        if let Some(c) = CellRef::from_path(path) {
            c.set(r, Some(CellValue::Int(v)));
        }
    }

    fn clear(r: &mut AnnualReport, path: &str) {
        if let Some(c) = CellRef::from_path(path) {
            c.set(r, None);
        }
    }

    fn section(t: &str) -> Option<SectionText> {
        Some(SectionText {
            heading: String::new(),
            text: t.into(),
        })
    }

    #[test]
    fn cross_year_rules_need_last_years_report() {
        let r = base("v2021");
        for code in ["X1", "X2", "X5"] {
            assert_eq!(run(&r, None, code).0, RuleOutcome::NotApplicable, "{code}");
            let mut two_back = before(&r);
            two_back.year -= 1;
            assert_eq!(
                run(&r, Some(&two_back), code).0,
                RuleOutcome::NotApplicable,
                "{code}"
            );
        }
        let r = base("v2019");
        assert_eq!(run(&r, None, "X3").0, RuleOutcome::NotApplicable);
    }

    #[test]
    fn x1_carried_over() {
        let r = base("v2021");
        let mut p = before(&r);
        // Last year carried 12 forward, as this year carried over.
        set(&mut p, "requests.carried_forward.natural_person", 12);
        set(&mut p, "requests.carried_forward.total", 12);
        assert_eq!(run(&r, Some(&p), "X1").0, RuleOutcome::Passed);
        set(&mut p, "requests.carried_forward.total", 15);
        set(&mut p, "requests.carried_forward.natural_person", 15);
        let (o, f) = run(&r, Some(&p), "X1");
        assert_eq!(o, RuleOutcome::Failed);
        let total = f
            .iter()
            .find(|f| f.field_paths == ["requests.carried_over.total"])
            .expect("total finding");
        assert_eq!(total.severity, Severity::Error as i32);
        assert_eq!(total.comparisons[0].expected, "15");
        let col = f
            .iter()
            .find(|f| f.field_paths == ["requests.carried_over.natural_person"])
            .expect("column finding");
        assert_eq!(col.severity, Severity::Warning as i32);
        // Across versions: a V2019 report the year before.
        let mut p19 = base("v2019");
        p19.year = r.year - 1;
        set(&mut p19, "requests.carried_forward.natural_person", 12);
        set(&mut p19, "requests.carried_forward.total", 12);
        assert_eq!(run(&r, Some(&p19), "X1").0, RuleOutcome::Passed);
        // Blank cells: incomplete, not failed.
        clear(&mut p, "requests.carried_forward.total");
        set(&mut p, "requests.carried_forward.natural_person", 12);
        assert_eq!(run(&r, Some(&p), "X1"), (RuleOutcome::Incomplete, vec![]));
        // A legacy report has no table 三.
        let mut old = AnnualReport {
            year: r.year - 1,
            format_version: FormatVersion::Legacy as i32,
            ..Default::default()
        };
        assert_eq!(run(&r, Some(&old), "X1").0, RuleOutcome::NotApplicable);
        old.format_version = FormatVersion::V2021 as i32;
        assert_eq!(run(&r, Some(&old), "X1").0, RuleOutcome::Incomplete);
    }

    #[test]
    fn x2_documents_in_force() {
        let r = base("v2021"); // 行政规范性文件: issued 4, repealed 7, in force 14.
        let mut p = before(&r);
        set(&mut p, "proactive.normative_documents.in_force", 17);
        assert_eq!(run(&r, Some(&p), "X2").0, RuleOutcome::Passed);
        set(&mut p, "proactive.normative_documents.in_force", 20);
        let (o, f) = run(&r, Some(&p), "X2");
        assert_eq!(o, RuleOutcome::Failed);
        assert!(f[0]
            .field_paths
            .contains(&"proactive.normative_documents.in_force".to_string()));
        assert_eq!(f[0].comparisons[0].expected, "17");
        clear(&mut p, "proactive.normative_documents.in_force");
        assert_eq!(run(&r, Some(&p), "X2").0, RuleOutcome::Incomplete);
        // Last year in the 2019 format: nothing to compare.
        let mut p19 = base("v2019");
        p19.year = r.year - 1;
        assert_eq!(run(&r, Some(&p19), "X2").0, RuleOutcome::NotApplicable);
    }

    #[test]
    fn x3_item_counts() {
        let mut r = base("v2019");
        r.year = 2020;
        let mut p = base("v2019"); // licensing 17 + 0, penalty 12 + 0.
        assert_eq!(run(&r, Some(&p), "X3").0, RuleOutcome::Passed);
        set(
            &mut p,
            "proactive.administrative_penalty.change_this_year",
            -2,
        );
        let (o, f) = run(&r, Some(&p), "X3");
        assert_eq!(o, RuleOutcome::Failed);
        assert_eq!(
            f[0].field_paths,
            ["proactive.administrative_penalty.prev_year_items"]
        );
        assert_eq!(f[0].comparisons[0].expected, "10");
        clear(&mut p, "proactive.administrative_penalty.change_this_year");
        assert_eq!(run(&r, Some(&p), "X3").0, RuleOutcome::Incomplete);
    }

    #[test]
    fn x5_copied_report() {
        let r = base("v2021");
        // Same text, other figures: copied narrative.
        let mut p = before(&r);
        set(&mut p, "requests.new_received.total", 90);
        set(&mut p, "requests.new_received.natural_person", 90);
        let (o, f) = run(&r, Some(&p), "X5");
        assert_eq!(o, RuleOutcome::Failed);
        assert_eq!(f.len(), 1);
        assert!(f[0].field_paths.contains(&"overview".to_string()));
        // Different text and figures: passed.
        let mut p = base("v2019");
        p.year = r.year - 1;
        assert_eq!(run(&r, Some(&p), "X5").0, RuleOutcome::Passed);
        // Identical tables with activity, different text.
        let mut p = before(&r);
        p.overview = base("v2019").overview;
        p.problems = base("v2019").problems;
        p.other_matters = section("无。");
        let (o, f) = run(&r, Some(&p), "X5");
        assert_eq!(o, RuleOutcome::Failed);
        assert!(f[0].field_paths.contains(&"requests".to_string()));
        // Identical tables of a quiet agency (only stocks non-zero) are fine.
        let mut quiet = AnnualReport {
            year: 2023,
            format_version: FormatVersion::V2021 as i32,
            ..Default::default()
        };
        for c in all_cells(FormatVersion::V2021) {
            if !matches!(c, CellRef::Proactive { row: 6, .. }) {
                c.set(&mut quiet, Some(CellValue::Int(0)));
            }
        }
        set(&mut quiet, "proactive.normative_documents.in_force", 5);
        let mut p = quiet.clone();
        p.year = 2022;
        // No narrative on either side, and tables compared: passed.
        assert_eq!(run(&quiet, Some(&p), "X5").0, RuleOutcome::Passed);
        // Nothing comparable at all: incomplete.
        let a = AnnualReport {
            year: 2023,
            ..Default::default()
        };
        let b = AnnualReport {
            year: 2022,
            ..Default::default()
        };
        assert_eq!(run(&a, Some(&b), "X5").0, RuleOutcome::Incomplete);
    }

    #[test]
    fn shingle_similarity() {
        let a = shingles(
            &["政府信息公开工作取得了一定成效，但还存在一些不足。"],
            &[100],
        );
        let b = shingles(
            &["政府信息公开工作取得了一定成效，但还存在一些不足。"],
            &[100],
        );
        assert!((jaccard(&a, &b) - 1.0).abs() < 1e-9);
        let c = shingles(
            &["丰富政策解读形式，提升解读质量和效果，回应社会关切。"],
            &[100],
        );
        assert!(jaccard(&a, &c) < 0.2);
        assert_eq!(jaccard(&shingles(&[""], &[9]), &shingles(&[""], &[9])), 0.0);
    }

    #[test]
    fn x6_wrong_year() {
        let mut r = base("v2021");
        assert_eq!(run(&r, None, "X6").0, RuleOutcome::Passed);
        r.preamble = "根据条例，现公布本机关2022年度政府信息公开工作年度报告。".into();
        let (o, f) = run(&r, None, "X6");
        assert_eq!(o, RuleOutcome::Failed);
        assert_eq!(f[0].field_paths, ["preamble"]);
        assert_eq!(f[0].comparisons[0].actual, "2022");
        // Explicit comparisons and publication dates are fine.
        r.preamble = "本报告于2024年1月20日公布，较2022年度报告增加了专栏。".into();
        assert_eq!(run(&r, None, "X6").0, RuleOutcome::Passed);
        r.problems = section("针对2022年度报告中指出的问题，已逐项整改。");
        assert_eq!(run(&r, None, "X6").0, RuleOutcome::Passed);
        r.problems = base("v2021").problems;
        r.preamble.clear();
        // Other forms.
        r.other_matters = section("详见2021年度报告。");
        assert_eq!(run(&r, None, "X6").0, RuleOutcome::Failed);
        r.other_matters = section("2022 年 政务公开工作年度报告已公布。");
        assert_eq!(run(&r, None, "X6").0, RuleOutcome::Failed);
        r.other_matters = section("2022年政府工作报告提出…；12022年度报告");
        assert_eq!(run(&r, None, "X6").0, RuleOutcome::Passed);
        // The statistical period.
        r.other_matters = base("v2021").other_matters;
        r.preamble = "所列数据的统计期限从2022年1月1日起到2022年12月31日止。".into();
        let (o, f) = run(&r, None, "X6");
        assert_eq!(o, RuleOutcome::Failed);
        assert!(f[0].message_en.contains("statistical period"));
        r.year = 0;
        assert_eq!(run(&r, None, "X6").0, RuleOutcome::Incomplete);
    }

    #[test]
    fn year_phrases() {
        assert_eq!(
            year_before("关于做好2021年政府信息公开工作年度", false).map(|x| x.0),
            Some(2021)
        );
        assert_eq!(
            year_before("编制完成2019年政府信息公开工作年度", false).map(|x| x.0),
            Some(2019)
        );
        assert_eq!(year_before("2020年度", false).map(|x| x.0), Some(2020));
        assert_eq!(year_before("2020年年度", false).map(|x| x.0), Some(2020));
        assert_eq!(
            year_before("2024 年度政务公开工作", false).map(|x| x.0),
            Some(2024)
        );
        assert_eq!(
            year_before("2022年政府信息公开", true).map(|x| x.0),
            Some(2022)
        );
        assert_eq!(year_before("2022年政府工作", false), None);
        assert_eq!(year_before("本年度", false), None);
        assert_eq!(year_before("12022年度", false), None);
        assert_eq!(year_before("２０２１年度", false).map(|x| x.0), Some(2021));
    }

    #[test]
    fn x7_expected_version() {
        let r = base("v2021");
        assert_eq!(run(&r, None, "X7").0, RuleOutcome::Passed);
        // A 2021 report in the 2019 format: error.
        let mut r = base("v2019");
        r.year = 2021;
        let (o, f) = run(&r, None, "X7");
        assert_eq!(o, RuleOutcome::Failed);
        assert_eq!(f[0].severity, Severity::Error as i32);
        assert!(f[0].field_paths.contains(&"format_version".to_string()));
        // A 2020 report in the 2021 format: warning.
        let mut r = base("v2021");
        r.year = 2020;
        let (_, f) = run(&r, None, "X7");
        assert_eq!(f[0].severity, Severity::Warning as i32);
        // Before 2019: legacy expected.
        let mut r = base("v2019");
        r.year = 2018;
        r.format_version = FormatVersion::Legacy as i32;
        r.table_versions = None;
        assert_eq!(run(&r, None, "X7").0, RuleOutcome::Passed);
        // Mixed tables.
        let mut r = base("v2021");
        r.table_versions = Some(TableVersions {
            proactive: FormatVersion::V2021 as i32,
            requests: FormatVersion::V2019 as i32,
        });
        let (o, f) = run(&r, None, "X7");
        assert_eq!(o, RuleOutcome::Failed);
        assert_eq!(f[0].field_paths, ["table_versions.requests"]);
        // Unknown year or version.
        let r = AnnualReport::default();
        assert_eq!(run(&r, None, "X7").0, RuleOutcome::Incomplete);
    }

    #[test]
    fn empty_reports_do_not_panic() {
        let a = AnnualReport {
            year: 2023,
            format_version: FormatVersion::V2021 as i32,
            ..Default::default()
        };
        let b = AnnualReport {
            year: 2022,
            format_version: FormatVersion::V2021 as i32,
            ..Default::default()
        };
        for code in ["X1", "X2", "X3", "X5", "X6", "X7"] {
            assert_ne!(run(&a, Some(&b), code).0, RuleOutcome::Failed, "{code}");
        }
    }
}
