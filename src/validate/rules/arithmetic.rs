//! A1–A8: the tables' arithmetic.

use crate::format::{
    CellRef, CellValue, RelationKind, PROACTIVE_ROWS, REQUEST_COLUMNS, REQUEST_ROWS, REVIEW_GROUPS,
};
use crate::pb::{FormatVersion, MoneyUnit, RuleBasis, Severity};
use crate::validate::engine::{comparison, Ctx, Out};
use crate::validate::facts::RelState;
use crate::validate::{Category, Rule};

const TABLES: &[FormatVersion] = &[FormatVersion::V2019, FormatVersion::V2021];

pub static RULES: &[Rule] = &[
    Rule {
        code: "A1",
        severity: Severity::Error,
        title: "表三各列：第一项加第二项之和等于第三项加第四项之和",
        title_en: "Table 三 balance per column",
        description: "Per column (the six applicant columns and the total): new_received + carried_over = results_total + carried_forward.",
        versions: TABLES,
        basis: RuleBasis::Official,
        reference: "表三左上角注：本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和",
        category: Category::Arithmetic,
        check: a1,
    },
    Rule {
        code: "A2",
        severity: Severity::Error,
        title: "表三各行：总计等于六类申请人之和",
        title_en: "Table 三 row total",
        description: "Per data row of table 三: total = natural_person + commercial_enterprise + research_institution + public_welfare_org + legal_service_org + other_org.",
        versions: TABLES,
        basis: RuleBasis::Derived,
        reference: "表三“总计”列",
        category: Category::Arithmetic,
        check: a2,
    },
    Rule {
        code: "A3",
        severity: Severity::Error,
        title: "表三各列：（七）总计等于各项办理结果之和",
        title_en: "Table 三 results total",
        description: "Per column: results_total = granted + partially_granted + Σ denied_* + Σ unable_* + Σ not_processed_* + Σ other_* (V2019: other_handling).",
        versions: TABLES,
        basis: RuleBasis::Derived,
        reference: "表三“（七）总计”行",
        category: Category::Arithmetic,
        check: a3,
    },
    Rule {
        code: "A4",
        severity: Severity::Error,
        title: "每个件数都是非负整数",
        title_en: "Counts are whole numbers ≥ 0",
        description: "Every count cell of tables 二, 三 and 四 holds a whole number ≥ 0 (V2019 本年增/减 may be negative); a published value that is not one is reported.",
        versions: TABLES,
        basis: RuleBasis::Derived,
        reference: "表二、表三、表四的件数单元格",
        category: Category::Arithmetic,
        check: a4,
    },
    Rule {
        code: "A5",
        severity: Severity::Error,
        title: "表四各组：总计等于维持、纠正、其他结果、尚未审结之和",
        title_en: "Table 四 group total",
        description: "Per group of table 四 (review, litigation_direct, litigation_after_review): total = upheld + corrected + other_outcome + pending.",
        versions: TABLES,
        basis: RuleBasis::Derived,
        reference: "表四“总计”列",
        category: Category::Arithmetic,
        check: a5,
    },
    Rule {
        code: "A6",
        severity: Severity::Error,
        title: "收费金额为非负的有效小数（万元，至多6位小数）",
        title_en: "Fee amount is a valid decimal ≥ 0",
        description: "proactive.administrative_fees.amount is a decimal ≥ 0 in 万元 with at most 6 decimals (to the fen), and its fixed-point value agrees with its text.",
        versions: &[FormatVersion::V2021],
        basis: RuleBasis::Derived,
        reference: "表二第二十条第（八）项 本年收费金额（单位：万元）",
        category: Category::Arithmetic,
        check: a6,
    },
    Rule {
        code: "A7",
        severity: Severity::Warning,
        title: "现行有效件数不少于本年制发减本年废止",
        title_en: "Documents in force ≥ issued − repealed",
        description: "V2021 table 二 （一）, per row: in_force ≥ issued − repealed.",
        versions: &[FormatVersion::V2021],
        basis: RuleBasis::Derived,
        reference: "表二第二十条第（一）项",
        category: Category::Arithmetic,
        check: a7,
    },
    Rule {
        code: "A8",
        severity: Severity::Warning,
        title: "上一年项目数量加本年增减不为负；对外公开总数量不少于本年新公开数量",
        title_en: "V2019 item counts stay ≥ 0; total published ≥ newly published",
        description: "V2019 table 二: prev_year_items + change_this_year ≥ 0 per row; total_published ≥ newly_published per document row.",
        versions: &[FormatVersion::V2019],
        basis: RuleBasis::Derived,
        reference: "表二（2019年版）",
        category: Category::Arithmetic,
        check: a8,
    },
];

/// Findings for one kind of relation: a failure per failing relation (with its
/// likely wrong cells), an incomplete note per relation with blanks.
fn relations(
    ctx: &Ctx<'_>,
    out: &mut Out,
    kind: RelationKind,
    describe: impl Fn(&RelState) -> Describe,
) {
    let mut incomplete: Vec<(Describe, &RelState)> = Vec::new();
    for (i, s) in ctx.relations.of(kind) {
        if s.holds() {
            continue;
        }
        let d = describe(s);
        let paths = s.rel.cells().map(CellRef::path);
        if s.fails() {
            let note_zh = if s.complete() {
                ""
            } else {
                "（即使空白单元格按最小值计）"
            };
            let note_en = if s.complete() {
                ""
            } else {
                " (even with the blank cells at their least)"
            };
            let f = out.fail(
                format!(
                    "{}：{}为{}，{}为{}{note_zh}",
                    d.subject_zh, d.expected_zh, s.lhs, d.actual_zh, s.rhs
                ),
                format!(
                    "{}: {} = {} but {} = {}{note_en}",
                    d.subject, d.expected_expr, s.lhs, d.actual_expr, s.rhs
                ),
                paths,
            );
            f.comparisons.push(comparison(
                d.subject.clone(),
                d.expected_expr,
                s.lhs,
                d.actual_expr,
                s.rhs,
            ));
            let suspects: Vec<_> = ctx
                .relations
                .suspects
                .iter()
                .filter(|x| x.explains.contains(&i))
                .collect();
            for x in &suspects {
                for (c, _) in &x.changes {
                    let p = c.path();
                    if !f.suspect_paths.contains(&p) {
                        f.suspect_paths.push(p);
                    }
                }
            }
            f.suspect_reason = suspects
                .iter()
                .map(|x| x.reason.as_str())
                .collect::<Vec<_>>()
                .join("; or ");
        } else {
            incomplete.push((d, s));
        }
    }
    // One note for every relation blank cells keep from a full check: which ones,
    // and the blank cells (the relations are named in the comparisons).
    if !incomplete.is_empty() {
        out.incomplete = true;
        // The blank cells, each once, in table order.
        let mut cells: Vec<CellRef> = incomplete
            .iter()
            .flat_map(|(_, s)| s.blank.iter().copied())
            .collect();
        cells.sort_unstable();
        cells.dedup();
        let blanks: Vec<String> = cells.iter().map(CellRef::path).collect();
        let subjects_zh: Vec<&str> = incomplete
            .iter()
            .map(|(d, _)| d.subject_zh.as_str())
            .collect();
        let subjects: Vec<&str> = incomplete.iter().map(|(d, _)| d.subject.as_str()).collect();
        let f = out.fail(
            format!(
                "{}处因有空白单元格无法完整校验：{}",
                incomplete.len(),
                subjects_zh.join("、")
            ),
            format!(
                "{} relation(s) cannot be checked completely because cells are blank: {}",
                incomplete.len(),
                subjects.join(", ")
            ),
            blanks,
        );
        f.incomplete = true;
        f.severity = Severity::Info as i32;
        for (d, s) in &incomplete {
            f.comparisons.push(comparison(
                d.subject.clone(),
                d.expected_expr,
                format!("{} + blanks", s.lhs),
                d.actual_expr,
                format!("{} + blanks", s.rhs),
            ));
        }
    }
}

struct Describe {
    subject: String,
    subject_zh: String,
    expected_expr: &'static str,
    expected_zh: &'static str,
    actual_expr: &'static str,
    actual_zh: &'static str,
}

fn request_col(s: &RelState) -> usize {
    match s.rel.lhs.first() {
        Some(CellRef::Request { col, .. }) => *col as usize,
        _ => 0,
    }
}

fn a1(ctx: &Ctx<'_>, out: &mut Out) {
    relations(ctx, out, RelationKind::Balance, |s| {
        let col = REQUEST_COLUMNS[request_col(s)];
        Describe {
            subject: format!("column {}", col.id),
            subject_zh: format!("“{}”列", col.label),
            expected_expr: "new_received + carried_over",
            expected_zh: "本年新收加上年结转",
            actual_expr: "results_total + carried_forward",
            actual_zh: "办理结果总计加结转下年度",
        }
    });
}

fn a2(ctx: &Ctx<'_>, out: &mut Out) {
    relations(ctx, out, RelationKind::RowTotal, |s| {
        let row = match s.rel.lhs.first() {
            Some(CellRef::Request { row, .. }) => *row as usize,
            _ => 0,
        };
        let spec = &REQUEST_ROWS[row];
        Describe {
            subject: format!("row {}", spec.id),
            subject_zh: format!("“{}”行", spec.label),
            expected_expr: "total",
            expected_zh: "总计",
            actual_expr: "Σ six applicant columns",
            actual_zh: "六类申请人之和",
        }
    });
}

fn a3(ctx: &Ctx<'_>, out: &mut Out) {
    relations(ctx, out, RelationKind::ResultsTotal, |s| {
        let col = REQUEST_COLUMNS[request_col(s)];
        Describe {
            subject: format!("column {}", col.id),
            subject_zh: format!("“{}”列", col.label),
            expected_expr: "results_total",
            expected_zh: "（七）总计",
            actual_expr: "Σ result rows",
            actual_zh: "各项办理结果之和",
        }
    });
}

fn a5(ctx: &Ctx<'_>, out: &mut Out) {
    relations(ctx, out, RelationKind::ReviewTotal, |s| {
        let g = match s.rel.lhs.first() {
            Some(CellRef::Review { group, .. }) => *group as usize,
            _ => 0,
        };
        let (id, label) = REVIEW_GROUPS[g];
        Describe {
            subject: format!("group {id}"),
            subject_zh: format!("“{label}”"),
            expected_expr: "total",
            expected_zh: "总计",
            actual_expr: "upheld + corrected + other_outcome + pending",
            actual_zh: "维持、纠正、其他结果、尚未审结之和",
        }
    });
}

fn a4(ctx: &Ctx<'_>, out: &mut Out) {
    // The entity's types make every stored count a whole number ≥ 0; what can
    // still fail is a published value the parser could not read as one.
    for d in ctx.diagnostics {
        if !matches!(d.code.as_str(), "P036" | "P038") {
            continue;
        }
        let counts: Vec<String> = d
            .field_paths
            .iter()
            .filter(|p| {
                CellRef::from_path(p).is_some_and(|c| c.kind() == crate::format::CellKind::Count)
            })
            .cloned()
            .collect();
        if counts.is_empty() {
            continue;
        }
        out.fail(
            format!("以下单元格的公布值不是非负整数：{}", counts.join("、")),
            format!(
                "the published values of these cells are not whole numbers ≥ 0: {}",
                counts.join(", ")
            ),
            counts,
        );
    }
}

fn a6(ctx: &Ctx<'_>, out: &mut Out) {
    let cell = CellRef::Proactive {
        row: 6,
        col: "amount",
    };
    let Some(CellValue::Money(m)) = cell.get(ctx.report) else {
        out.incomplete = true;
        return;
    };
    let path = cell.path();
    let decimal = m.decimal.trim();
    let (int, frac) = decimal.split_once('.').unwrap_or((decimal, ""));
    let valid = !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit());
    if !valid {
        out.fail(
            format!("收费金额“{}”不是有效的非负小数", m.raw),
            format!("the fee amount \"{}\" is not a valid decimal ≥ 0", m.raw),
            [path],
        );
        return;
    }
    if frac.len() > 6 {
        out.fail(
            format!("收费金额“{}”超过6位小数（万元精确到分只需6位）", m.raw),
            format!(
                "the fee amount \"{}\" has more than 6 decimals (万元 to the fen needs 6)",
                m.raw
            ),
            [path.clone()],
        );
    }
    let unit = MoneyUnit::try_from(m.unit).unwrap_or_default();
    if unit == MoneyUnit::WanYuan {
        let expected = crate::format::fen(decimal, MoneyUnit::WanYuan);
        if expected.is_some() && m.fen != expected {
            let f = out.fail(
                format!("收费金额的定点值与其文本“{}”不符", m.raw),
                format!(
                    "the fee amount's fixed-point value does not match its text \"{}\"",
                    m.raw
                ),
                [path],
            );
            f.comparisons.push(comparison(
                "fee amount in fen",
                "decimal × 10^6",
                expected.map_or(String::new(), |v| v.to_string()),
                "fen",
                m.fen.map_or(String::new(), |v| v.to_string()),
            ));
        }
    }
}

fn a7(ctx: &Ctx<'_>, out: &mut Out) {
    for row in 0..2u8 {
        let id = PROACTIVE_ROWS[row as usize].id;
        let get = |col: &'static str| CellRef::Proactive { row, col }.get_int(ctx.report);
        let (Some(issued), Some(repealed), Some(in_force)) =
            (get("issued"), get("repealed"), get("in_force"))
        else {
            out.incomplete = true;
            continue;
        };
        if in_force < issued - repealed {
            let paths = ["issued", "repealed", "in_force"].map(|c| format!("proactive.{id}.{c}"));
            let f = out.fail(
                format!(
                    "“{}”现行有效件数{in_force}少于本年制发{issued}减本年废止{repealed}",
                    PROACTIVE_ROWS[row as usize].label
                ),
                format!("{id}: in_force {in_force} < issued {issued} − repealed {repealed}"),
                paths,
            );
            f.comparisons.push(comparison(
                format!("row {id}"),
                "≥ issued − repealed",
                issued - repealed,
                "in_force",
                in_force,
            ));
        }
    }
}

fn a8(ctx: &Ctx<'_>, out: &mut Out) {
    for row in [2u8, 3, 4, 5, 6] {
        let id = PROACTIVE_ROWS[row as usize].id;
        let get = |col: &'static str| CellRef::Proactive { row, col }.get_int(ctx.report);
        let (Some(prev), Some(change)) = (get("prev_year_items"), get("change_this_year")) else {
            out.incomplete = true;
            continue;
        };
        if prev + change < 0 {
            let f = out.fail(
                format!(
                    "“{}”上一年项目数量{prev}加本年增减{change}为负数",
                    PROACTIVE_ROWS[row as usize].label
                ),
                format!("{id}: prev_year_items {prev} + change_this_year {change} < 0"),
                ["prev_year_items", "change_this_year"].map(|c| format!("proactive.{id}.{c}")),
            );
            f.comparisons.push(comparison(
                format!("row {id}"),
                "≥ 0",
                0,
                "prev_year_items + change_this_year",
                prev + change,
            ));
        }
    }
    for row in 0..2u8 {
        let id = PROACTIVE_ROWS[row as usize].id;
        let get = |col: &'static str| CellRef::Proactive { row, col }.get_int(ctx.report);
        let (Some(new), Some(total)) = (get("newly_published"), get("total_published")) else {
            out.incomplete = true;
            continue;
        };
        if total < new {
            let f = out.fail(
                format!(
                    "“{}”对外公开总数量{total}少于本年新公开数量{new}",
                    PROACTIVE_ROWS[row as usize].label
                ),
                format!("{id}: total_published {total} < newly_published {new}"),
                ["newly_published", "total_published"].map(|c| format!("proactive.{id}.{c}")),
            );
            f.comparisons.push(comparison(
                format!("row {id}"),
                "≥ newly_published",
                new,
                "total_published",
                total,
            ));
        }
    }
}
