//! N1–N5: what the narrative states against the tables.
//!
//! The statements are read by [`crate::format::phrasing`] (the same readers the
//! parser uses to decide glued table-二 rows); this file compares them with the
//! cells. All five are heuristics: prose is free text, so a finding is at most a
//! WARNING. A rule that finds no relevant statement in the prose PASSES (there is
//! nothing that disagrees); it is INCOMPLETE when a stated figure meets a blank
//! cell, or when the report has no narrative text at all.

use crate::format::phrasing::{mentions_fee_notice, Denied, RequestCount};
use crate::format::{request_row_index, CellRef, CellValue, PROACTIVE_ROWS, REQUEST_TOTAL_COL};
use crate::pb::{AnnualReport, FormatVersion, MoneyUnit, RuleBasis, SectionId, Severity};
use crate::validate::engine::{comparison, Ctx, Out};
use crate::validate::facts::Prose;
use crate::validate::text::section_text;
use crate::validate::{Category, Rule};

const TABLES: &[FormatVersion] = &[FormatVersion::V2019, FormatVersion::V2021];

pub static RULES: &[Rule] = &[
    Rule {
        code: "N1",
        severity: Severity::Warning,
        title: "正文所述申请件数与表三一致",
        title_en: "Request counts in the prose agree with table 三",
        description: "Request counts stated in the prose (收到/新收/受理/接到 N件; 办结/答复/办理/回复/处理 N件; 上年结转 N件; N件结转下一年度 or 结转下年度 N件), read only as numbers of 件 in sentences about 申请 and not as parts (其中, applicant types, channels, outcomes), agree with requests.new_received.total, results_total.total, carried_over.total and carried_forward.total (a blank total is the sum of its six applicant cells when they are all present). A figure that fits only another reading — received = new_received + carried_over (counting last year's carry-over), handled = new_received − carried_forward (this year's new requests only) — is INFO naming the reading; a figure that fits none is a WARNING. No statement in the prose: passed.",
        versions: TABLES,
        basis: RuleBasis::Heuristic,
        reference: "条例第五十条第（二）项；表三 一、二、（七）、四",
        category: Category::Narrative,
        check: n1,
    },
    Rule {
        code: "N2",
        severity: Severity::Warning,
        title: "正文称未收到申请、未发生复议诉讼的，表中相应总计为0",
        title_en: "\"No requests\" / \"no review or litigation\" in the prose agree with the tables",
        description: "A prose statement that no disclosure request was received (未收到/没有收到/暂未接到/无…申请, with only who applied in between) requires requests.new_received.total = 0; one that no administrative reconsideration or litigation occurred (未发生/没有/未被申请/无…行政复议、行政诉讼) requires review_litigation.review.total = 0 and, for 诉讼, litigation_direct.total = litigation_after_review.total = 0. No such statement: passed.",
        versions: TABLES,
        basis: RuleBasis::Heuristic,
        reference: "条例第五十条第（二）（三）项；表三 一、表四",
        category: Category::Narrative,
        check: n2,
    },
    Rule {
        code: "N3",
        severity: Severity::Warning,
        title: "正文所述规章、行政规范性文件件数与表二一致",
        title_en: "Regulation and normative-document counts in the prose agree with table 二",
        description: "Counts of 规章 / 行政规范性文件 the prose states (a clause naming the row and exactly one column keyword: 制发/印发/出台/新制定 → issued, 废止 → repealed, 现行有效 → in_force; V2019: 新制作/制发 → newly_made, 新公开 → newly_published, 对外公开总/累计公开 → total_published — the reader the parser uses for glued rows) agree with table 二 （一）. Clauses about 规章制度, 部门规范性文件, or 规章 and 规范性文件 together are skipped. No statement: passed.",
        versions: TABLES,
        basis: RuleBasis::Heuristic,
        reference: "条例第二十条第（一）项；表二 第二十条第（一）项",
        category: Category::Narrative,
        check: n3,
    },
    Rule {
        code: "N4",
        severity: Severity::Warning,
        title: "有逾期未缴费不再处理的申请时，第六部分说明收费情况",
        title_en: "Requests ended for unpaid fees are explained in section 六",
        description: "When requests.other_fee_unpaid.total > 0 (申请人逾期未按收费通知要求缴纳费用), section 六 (other_matters or the fee statement) mentions fee notices or processing fees (收费通知, 缴费通知, 信息处理费/处理费, 缴纳费用, 缴费). Not applicable when table 三 follows the 2019 format (no such row).",
        versions: &[FormatVersion::V2021],
        basis: RuleBasis::Heuristic,
        reference: "国办函〔2020〕109号《政府信息公开信息处理费管理办法》；表三（六）2",
        category: Category::Narrative,
        check: n4,
    },
    Rule {
        code: "N5",
        severity: Severity::Warning,
        title: "正文所述行政事业性收费金额与表二（八）一致",
        title_en: "Administrative-fee amounts in the prose agree with table 二 （八）",
        description: "An amount of 行政事业性收费 the prose states (the first X元 or X万元 after the words in the same clause; 未收取/无行政事业性收费 = 0) equals proactive.administrative_fees.amount, compared exactly in fen (1万元 = 10,000元 = 1,000,000 fen). The 信息处理费 of section 六 is a different fee with no table cell and is not compared; approximations (约, 余), waivers, items and standards are skipped. No statement: passed.",
        versions: &[FormatVersion::V2021],
        basis: RuleBasis::Heuristic,
        reference: "条例第二十条第（八）项；表二 第二十条第（八）项 本年收费金额（单位：万元）",
        category: Category::Narrative,
        check: n5,
    },
];

/// A clause as quoted in messages: its text without whitespace (PDF line breaks).
fn quote(text: &str, (s, e): (usize, usize)) -> String {
    text.get(s..e)
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// A table-三 total: the 总计 cell, or the sum of the six applicant cells when
/// the total is blank and they are all present. With the expression it stands for.
fn request_total(r: &AnnualReport, row: &'static str) -> Option<(i64, String)> {
    let i = request_row_index(row)?;
    if let Some(v) = CellRef::request(i, REQUEST_TOTAL_COL).get_int(r) {
        return Some((v, row.to_string()));
    }
    let mut sum = 0;
    for c in 0..REQUEST_TOTAL_COL {
        sum += CellRef::request(i, c).get_int(r)?;
    }
    Some((sum, format!("Σ applicant columns of {row} (total blank)")))
}

fn request_path(row: &str) -> String {
    format!("requests.{row}.total")
}

/// The version table 二 (`proactive`) or table 三 (`requests`) follows.
fn table_version(ctx: &Ctx<'_>, requests: bool) -> FormatVersion {
    let v = ctx.report.table_versions.as_ref().map_or(0, |t| {
        if requests {
            t.requests
        } else {
            t.proactive
        }
    });
    match FormatVersion::try_from(v) {
        Ok(v @ (FormatVersion::V2019 | FormatVersion::V2021)) => v,
        _ => ctx.version,
    }
}

// ------------------------------------------------------------------ N1

/// What a stated count is compared with: the table-三 row, and the words for it.
struct Subject {
    row: &'static str,
    what_zh: &'static str,
    what_en: &'static str,
    label_zh: &'static str,
}

fn subject(kind: RequestCount) -> Subject {
    let (row, what_zh, what_en, label_zh) = match kind {
        RequestCount::Received => (
            "new_received",
            "收到",
            "received",
            "本年新收政府信息公开申请数量",
        ),
        RequestCount::Handled => ("results_total", "办理", "handled", "（七）总计"),
        RequestCount::CarriedOver => (
            "carried_over",
            "上年结转",
            "carried over from last year",
            "上年结转政府信息公开申请数量",
        ),
        RequestCount::CarriedForward => (
            "carried_forward",
            "结转下年度",
            "carried forward to next year",
            "结转下年度继续办理",
        ),
    };
    Subject {
        row,
        what_zh,
        what_en,
        label_zh,
    }
}

/// Another way the prose may count (format.md §7 N1): the expression, its
/// value, the rows it reads and what it means.
struct Reading {
    expr: &'static str,
    expr_zh: &'static str,
    value: i64,
    rows: [&'static str; 2],
    why_zh: String,
    why_en: String,
}

/// The other readings of a stated count; `None` when one cannot be computed
/// (blank cells).
fn readings(r: &AnnualReport, kind: RequestCount) -> Option<Vec<Reading>> {
    let total = |id| request_total(r, id).map(|(v, _)| v);
    Some(match kind {
        RequestCount::Received => {
            let (n, c) = (total("new_received")?, total("carried_over")?);
            vec![Reading {
                expr: "new_received + carried_over",
                expr_zh: "本年新收加上年结转",
                value: n + c,
                rows: ["new_received", "carried_over"],
                why_zh: format!("本年新收{n}加上年结转{c}——正文所称收到数包含上年结转的申请"),
                why_en: format!(
                    "new_received {n} + carried_over {c}: the prose counts the requests received including last year's carry-over"
                ),
            }]
        }
        RequestCount::Handled => {
            let (n, f) = (total("new_received")?, total("carried_forward")?);
            let co = total("carried_over");
            vec![Reading {
                expr: "new_received − carried_forward",
                expr_zh: "本年新收减结转下年度",
                value: n - f,
                rows: ["new_received", "carried_forward"],
                why_zh: format!(
                    "本年新收{n}减结转下年度{f}——正文只计本年新收申请的办理数{}",
                    co.map_or(String::new(), |c| format!("，未计表中计入办理结果的上年结转{c}件"))
                ),
                why_en: format!(
                    "new_received {n} − carried_forward {f}: the prose counts only this year's new requests as handled{}",
                    co.map_or(String::new(), |c| format!(
                        ", leaving out the {c} carried over from last year that the table counts"
                    ))
                ),
            }]
        }
        RequestCount::CarriedOver | RequestCount::CarriedForward => Vec::new(),
    })
}

fn n1(ctx: &Ctx<'_>, out: &mut Out) {
    let r = ctx.report;
    let prose = ctx.prose();
    if prose.is_empty() {
        out.incomplete = true;
        return;
    }
    let mut seen: Vec<(RequestCount, i64)> = Vec::new();
    for &Prose {
        field,
        section_zh,
        text,
        ref said,
    } in prose
    {
        for s in &said.requests {
            if seen.contains(&(s.kind, s.value)) {
                continue;
            }
            seen.push((s.kind, s.value));
            let stated = s.value;
            let Subject {
                row,
                what_zh,
                what_en,
                label_zh,
            } = subject(s.kind);
            let Some((direct, direct_expr)) = request_total(r, row) else {
                out.incomplete = true;
                continue;
            };
            if direct == stated {
                continue;
            }
            let Some(readings) = readings(r, s.kind) else {
                // A reading cannot be computed: the figure cannot be judged.
                out.incomplete = true;
                continue;
            };
            let phrase = quote(text, s.clause);
            let cmp_subject = format!("requests {what_en} stated in {field}");
            let actual_expr = format!("prose: “{phrase}”");
            let direct_cmp = comparison(
                cmp_subject.clone(),
                direct_expr,
                direct,
                actual_expr.clone(),
                stated,
            );
            let head_zh = format!(
                "{section_zh}“{phrase}”：{what_zh}件数{stated}与表三“{label_zh}”（{direct}）"
            );
            let head_en = format!(
                "{field} states {stated} requests {what_en} (“{phrase}”) where table 三 {row}.total is {direct}"
            );
            if let Some(rd) = readings.iter().find(|rd| rd.value == stated) {
                let mut paths = vec![request_path(row)];
                for p in rd.rows.iter().map(|p| request_path(p)) {
                    if !paths.contains(&p) {
                        paths.push(p);
                    }
                }
                paths.push(field.to_string());
                let f = out.fail(
                    format!(
                        "{head_zh}不同，但等于{}。这是统计口径不同，并非错误；必要时在正文中注明口径",
                        rd.why_zh
                    ),
                    format!(
                        "{head_en}; {stated} = {}. A different reading, not an error; the prose may say which it uses",
                        rd.why_en
                    ),
                    paths,
                );
                f.severity = Severity::Info as i32;
                f.comparisons.push(comparison(
                    cmp_subject,
                    rd.expr,
                    rd.value,
                    actual_expr,
                    stated,
                ));
                f.comparisons.push(direct_cmp);
            } else {
                let other_zh: String = readings
                    .iter()
                    .map(|rd| format!("，也不等于{}（{}）", rd.expr_zh, rd.value))
                    .collect();
                let other_en: String = readings
                    .iter()
                    .map(|rd| format!(", nor {} ({})", rd.expr, rd.value))
                    .collect();
                let f = out.fail(
                    format!("{head_zh}不符{other_zh}；请核对正文或表三"),
                    format!("{head_en}{other_en}; correct the prose or the table"),
                    [request_path(row), field.to_string()],
                );
                f.comparisons.push(direct_cmp);
                for rd in &readings {
                    f.comparisons.push(comparison(
                        cmp_subject.clone(),
                        rd.expr,
                        rd.value,
                        actual_expr.clone(),
                        stated,
                    ));
                }
            }
        }
    }
}

// ------------------------------------------------------------------ N2

fn n2(ctx: &Ctx<'_>, out: &mut Out) {
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

// ------------------------------------------------------------------ N3

/// The table-二 column a stated document count is about, in a version.
fn document_column(version: FormatVersion, stated: &'static str) -> Option<&'static str> {
    match (version, stated) {
        (FormatVersion::V2019, "issued" | "newly_made") => Some("newly_made"),
        (FormatVersion::V2019, c @ ("newly_published" | "total_published")) => Some(c),
        (FormatVersion::V2019, _) => None,
        (_, "newly_made" | "issued") => Some("issued"),
        (_, c @ ("repealed" | "in_force")) => Some(c),
        _ => None,
    }
}

fn column_zh(col: &str) -> &'static str {
    match col {
        "issued" => "本年制发件数",
        "repealed" => "本年废止件数",
        "in_force" => "现行有效件数",
        "newly_made" => "本年新制作数量",
        "newly_published" => "本年新公开数量",
        "total_published" => "对外公开总数量",
        _ => "",
    }
}

fn n3(ctx: &Ctx<'_>, out: &mut Out) {
    let r = ctx.report;
    let prose = ctx.prose();
    if prose.is_empty() {
        out.incomplete = true;
        return;
    }
    let version = table_version(ctx, false);
    let mut seen: Vec<(u8, &'static str, i64)> = Vec::new();
    for &Prose {
        field,
        section_zh,
        text,
        ref said,
    } in prose
    {
        for (row, counts) in (0u8..).zip(&said.documents) {
            let spec = &PROACTIVE_ROWS[row as usize];
            for d in counts {
                let clause = text.get(d.clause.0..d.clause.1).unwrap_or_default();
                let skip = if row == 0 {
                    clause.contains("规章制度")
                } else {
                    clause.contains("规章") || clause.contains("部门规范性文件")
                };
                if skip {
                    continue;
                }
                let Some(col) = document_column(version, d.column) else {
                    continue;
                };
                if seen.contains(&(row, col, d.value)) {
                    continue;
                }
                seen.push((row, col, d.value));
                let cell = CellRef::Proactive { row, col };
                let Some(v) = cell.get_int(r) else {
                    out.incomplete = true;
                    continue;
                };
                if v == d.value {
                    continue;
                }
                let phrase = quote(text, d.clause);
                let path = cell.path();
                let f = out.fail(
                    format!("{section_zh}“{phrase}”所述{}{}为{}件，与表二“{}”{}{v}不符；请核对正文或表二", spec.label, column_zh(col), d.value, spec.label, column_zh(col)),
                    format!("{field} states {} for {} {col} (“{phrase}”) but table 二 {path} is {v}; correct the prose or the table", d.value, spec.id),
                    [path.clone(), field.to_string()],
                );
                f.comparisons.push(comparison(
                    format!("{} {col}", spec.id),
                    path,
                    v,
                    format!("prose: “{phrase}”"),
                    d.value,
                ));
            }
        }
    }
}

// ------------------------------------------------------------------ N4

fn n4(ctx: &Ctx<'_>, out: &mut Out) {
    let r = ctx.report;
    if table_version(ctx, true) == FormatVersion::V2019 {
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

// ------------------------------------------------------------------ N5

/// Fen as yuan ("380", "9116360.5").
fn yuan(fen: i64) -> String {
    let (sign, a) = if fen < 0 {
        ("-", -(fen as i128))
    } else {
        ("", fen as i128)
    };
    let (y, f) = (a / 100, a % 100);
    if f == 0 {
        format!("{sign}{y}")
    } else if f % 10 == 0 {
        format!("{sign}{y}.{}", f / 10)
    } else {
        format!("{sign}{y}.{f:02}")
    }
}

fn n5(ctx: &Ctx<'_>, out: &mut Out) {
    let r = ctx.report;
    if table_version(ctx, false) == FormatVersion::V2019 {
        // Table 二 （八） counts fee items, not money.
        out.not_applicable = true;
        return;
    }
    let prose = ctx.prose();
    if prose.is_empty() {
        out.incomplete = true;
        return;
    }
    let cell = CellRef::Proactive {
        row: 6,
        col: "amount",
    };
    // The amount in fen, as written, and the unit it was written in.
    let table = match cell.get(r) {
        Some(CellValue::Money(m)) => m.fen.map(|fen| {
            let unit = match MoneyUnit::try_from(m.unit) {
                Ok(MoneyUnit::Yuan) => ("元", "元 × 100"),
                _ => ("万元", "万元 × 1,000,000"),
            };
            (fen, m.decimal.clone(), unit)
        }),
        _ => None,
    };
    let path = cell.path();
    let mut seen: Vec<i64> = Vec::new();
    for &Prose {
        field,
        section_zh,
        text,
        ref said,
    } in prose
    {
        for a in &said.fees {
            if seen.contains(&a.fen) {
                continue;
            }
            seen.push(a.fen);
            let Some((fen, decimal, (unit, scaled))) = &table else {
                out.incomplete = true;
                continue;
            };
            if *fen == a.fen {
                continue;
            }
            let phrase = quote(text, a.clause);
            // The S8 pattern: a table amount entered in yuan.
            let yuan_hint = *unit == "万元" && *fen % 10_000 == 0 && fen / 10_000 == a.fen;
            let (hint_zh, hint_en) = if yuan_hint {
                ("；表中数字等于正文的元数，可能误按元填写（单位应为万元，见S8）", "; the table's number equals the prose's yuan figure, so it was probably entered in yuan instead of 万元 (see S8)")
            } else {
                ("", "")
            };
            let f = out.fail(
                format!("{section_zh}“{phrase}”所述行政事业性收费{}元，与表二（八）本年收费金额{decimal}{unit}（{}元）不符{hint_zh}；请核对正文或表二", yuan(a.fen), yuan(*fen)),
                format!("{field} states administrative fees of {} yuan (“{phrase}”) but table 二 {path} is {decimal} {unit} ({} yuan){hint_en}; correct the prose or the table", yuan(a.fen), yuan(*fen)),
                [path.clone(), field.to_string()],
            );
            f.comparisons.push(comparison(
                "administrative fees in fen",
                format!("{path} ({scaled})"),
                fen,
                format!("prose: “{phrase}”"),
                a.fen,
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::pb::{AnnualReport, Finding, FormatVersion, RuleOutcome, SectionText, Severity};
    use crate::validate::{validate, Input, Options};

    const BASE_2021: &str = include_str!("../../../tests/conformance/base/v2021.json");
    const BASE_2019: &str = include_str!("../../../tests/conformance/base/v2019.json");

    fn base(v: FormatVersion) -> AnnualReport {
        let json = if v == FormatVersion::V2019 {
            BASE_2019
        } else {
            BASE_2021
        };
        serde_json::from_str(json).expect("the conformance bases are AnnualReport JSON")
    }

    /// The outcome of rule `code` and its findings.
    fn run(r: &AnnualReport, code: &str) -> (RuleOutcome, Vec<Finding>) {
        let res = validate(&Input::entity(r), &Options::default());
        let outcome = res
            .rules
            .iter()
            .find(|x| x.code == code)
            .and_then(|x| RuleOutcome::try_from(x.outcome).ok())
            .unwrap_or_default();
        let findings = res
            .findings
            .into_iter()
            .filter(|f| f.code == code)
            .collect();
        (outcome, findings)
    }

    fn with_overview(mut r: AnnualReport, text: &str) -> AnnualReport {
        r.overview = Some(SectionText {
            heading: "一、总体情况".into(),
            text: text.into(),
        });
        r
    }

    fn set_total(r: &mut AnnualReport, row: &str, v: Option<u32>) {
        let i = crate::format::request_row_index(row).expect("a table-三 row id");
        crate::format::CellRef::request(i, 6)
            .set(r, v.map(|v| crate::format::CellValue::Int(v.into())));
    }

    /// 崇川区 2023 (corpus 000): new 110, carried over 12, results 112, forward 10.
    const WORKED: &str =
        "2023年,区本级共收到依申请公开110件,按时办结100件,剩余10件结转下一年度办理。";

    #[test]
    fn bases_pass_every_narrative_rule() {
        for v in [FormatVersion::V2021, FormatVersion::V2019] {
            for code in ["N1", "N2", "N3", "N4", "N5"] {
                let (o, f) = run(&base(v), code);
                assert!(f.is_empty(), "{v:?} {code}: {f:?}");
                assert!(
                    matches!(o, RuleOutcome::Passed | RuleOutcome::NotApplicable),
                    "{v:?} {code}: {o:?}"
                );
            }
        }
    }

    #[test]
    fn n1_worked_example_is_one_info_naming_the_reading() {
        let r = with_overview(base(FormatVersion::V2021), WORKED);
        let (o, f) = run(&r, "N1");
        assert_eq!(o, RuleOutcome::Failed);
        assert_eq!(f.len(), 1, "{f:?}");
        let f = &f[0];
        assert_eq!(f.severity, Severity::Info as i32);
        assert!(
            f.message_en.contains("only this year's new requests"),
            "{}",
            f.message_en
        );
        assert!(f.message.contains("按时办结100件"), "{}", f.message);
        for p in [
            "requests.results_total.total",
            "requests.new_received.total",
            "requests.carried_forward.total",
            "overview",
        ] {
            assert!(
                f.field_paths.iter().any(|x| x == p),
                "{p} in {:?}",
                f.field_paths
            );
        }
        let c = &f.comparisons[0];
        assert_eq!(c.expected_expression, "new_received − carried_forward");
        assert_eq!((c.expected.as_str(), c.actual.as_str()), ("100", "100"));
        assert!(f
            .comparisons
            .iter()
            .any(|c| c.expected_expression == "results_total" && c.expected == "112"));
    }

    #[test]
    fn n1_passes_when_the_prose_agrees() {
        let r = with_overview(
            base(FormatVersion::V2021),
            "2023年,区本级共收到依申请公开110件,办结112件,剩余10件结转下一年度办理。",
        );
        assert_eq!(run(&r, "N1"), (RuleOutcome::Passed, vec![]));
    }

    #[test]
    fn n1_received_including_carry_over_is_info() {
        // 004: "收到申请75件" with 74 new + 1 carried over.
        let r = with_overview(
            base(FormatVersion::V2021),
            "全年收到政府信息公开申请122件,涉及自然人122件。",
        );
        let (o, f) = run(&r, "N1");
        assert_eq!(o, RuleOutcome::Failed);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Info as i32);
        assert_eq!(
            f[0].comparisons[0].expected_expression,
            "new_received + carried_over"
        );
    }

    #[test]
    fn n1_figure_fitting_no_reading_is_a_warning() {
        let r = with_overview(
            base(FormatVersion::V2021),
            "区本级共收到依申请公开99件,按时办结97件。",
        );
        let (o, f) = run(&r, "N1");
        assert_eq!(o, RuleOutcome::Failed);
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f.iter().all(|f| f.severity == Severity::Warning as i32));
        assert!(f[0]
            .field_paths
            .contains(&"requests.new_received.total".to_string()));
        assert!(f[1]
            .field_paths
            .contains(&"requests.results_total.total".to_string()));
    }

    #[test]
    fn n1_ignores_items_parts_and_other_counts() {
        let r = with_overview(
            base(FormatVersion::V2021),
            "依申请公开128条。收到群众诉求348件。其中自然人申请9件。全县共办理相关行政复议案件74件。",
        );
        assert_eq!(run(&r, "N1"), (RuleOutcome::Passed, vec![]));
    }

    #[test]
    fn n1_blank_total_is_incomplete_or_summed() {
        let mut r = with_overview(base(FormatVersion::V2021), WORKED);
        // Blank total, applicant cells present: the sum stands in.
        set_total(&mut r, "carried_forward", None);
        let (_, f) = run(&r, "N1");
        assert_eq!(f.len(), 1);
        // Blank and no applicant cells: the figure cannot be judged.
        if let Some(t) = r.requests.as_mut() {
            t.carried_forward = None;
        }
        let r2 = with_overview(r, "剩余10件结转下一年度办理,均为依申请公开。");
        assert_eq!(run(&r2, "N1"), (RuleOutcome::Incomplete, vec![]));
    }

    #[test]
    fn n1_no_text_is_incomplete_and_no_statement_passes() {
        let mut r = base(FormatVersion::V2021);
        r.preamble.clear();
        r.overview = None;
        r.problems = None;
        r.other_matters = None;
        r.fee_statement.clear();
        assert_eq!(run(&r, "N1").0, RuleOutcome::Incomplete);
        let r = with_overview(base(FormatVersion::V2021), "扎实推进政务公开。");
        assert_eq!(run(&r, "N1").0, RuleOutcome::Passed);
    }

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

    #[test]
    fn n3_document_counts() {
        let r = with_overview(
            base(FormatVersion::V2021),
            "本年度制发行政规范性文件4件,现行有效行政规范性文件14件。",
        );
        assert_eq!(run(&r, "N3"), (RuleOutcome::Passed, vec![]));
        let r = with_overview(base(FormatVersion::V2021), "现行有效行政规范性文件15件。");
        let (o, f) = run(&r, "N3");
        assert_eq!(o, RuleOutcome::Failed);
        assert_eq!(
            f[0].field_paths,
            vec!["proactive.normative_documents.in_force", "overview"]
        );
        // V2019: 制发 is 本年新制作数量 (6 in the base); 现行有效 has no column.
        let r = with_overview(
            base(FormatVersion::V2019),
            "制发规范性文件7件,现行有效规范性文件100件。",
        );
        let (o, f) = run(&r, "N3");
        assert_eq!(o, RuleOutcome::Failed);
        assert_eq!(f.len(), 1);
        assert_eq!(
            f[0].field_paths[0],
            "proactive.normative_documents.newly_made"
        );
        // 规章制度 is not 规章.
        let r = with_overview(base(FormatVersion::V2021), "制定完善规章制度5件。");
        assert_eq!(run(&r, "N3"), (RuleOutcome::Passed, vec![]));
    }

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

    #[test]
    fn n5_fee_amounts_in_fen() {
        let mut r = with_overview(base(FormatVersion::V2021), "本年度未收取行政事业性收费。");
        assert_eq!(run(&r, "N5"), (RuleOutcome::Passed, vec![]));
        let fees = r
            .proactive
            .as_mut()
            .and_then(|p| p.administrative_fees.as_mut());
        if let Some(m) = fees.and_then(|f| f.amount.as_mut()) {
            m.raw = "9116.36".into();
            m.decimal = "9116.36".into();
            m.fen = Some(9_116_360_000);
        }
        let (o, f) = run(&r, "N5");
        assert_eq!(o, RuleOutcome::Failed);
        assert_eq!(f[0].comparisons[0].expected, "9116360000");
        assert_eq!(f[0].comparisons[0].actual, "0");
        let r2 = with_overview(r.clone(), "全年行政事业性收费91163600元。");
        assert_eq!(run(&r2, "N5"), (RuleOutcome::Passed, vec![]));
        let r3 = with_overview(r.clone(), "全年行政事业性收费9116.36万元。");
        assert_eq!(run(&r3, "N5"), (RuleOutcome::Passed, vec![]));
        // 信息处理费 is not table 二 （八）.
        let r4 = with_overview(r, "收取信息处理费共计380元。");
        assert_eq!(run(&r4, "N5"), (RuleOutcome::Passed, vec![]));
    }

    #[test]
    fn n5_yuan_in_the_table_is_hinted() {
        let mut r = with_overview(base(FormatVersion::V2021), "全年行政事业性收费380元。");
        let fees = r
            .proactive
            .as_mut()
            .and_then(|p| p.administrative_fees.as_mut());
        if let Some(m) = fees.and_then(|f| f.amount.as_mut()) {
            m.decimal = "380".into();
            m.fen = Some(380_000_000);
        }
        let (_, f) = run(&r, "N5");
        assert_eq!(f.len(), 1);
        assert!(
            f[0].message_en.contains("entered in yuan"),
            "{}",
            f[0].message_en
        );
    }

    #[test]
    fn yuan_formatting() {
        assert_eq!(super::yuan(38_000), "380");
        assert_eq!(super::yuan(38_050), "380.5");
        assert_eq!(super::yuan(38_005), "380.05");
        assert_eq!(super::yuan(9_116_360_000), "91163600");
    }
}
