//! N3 · Regulation and normative-document counts in the prose agree with table 二.
//!
//! The rule's catalogue entry, its check, what only it uses and its tests.

use super::quote;
use crate::format::{CellRef, PROACTIVE_ROWS};
use crate::pb::{FormatVersion, RuleBasis, Severity};
use crate::validate::engine::{comparison, Ctx, Out};
use crate::validate::facts::Prose;
use crate::validate::rules::{table_version, Table, TABLES};
use crate::validate::{Category, Rule};

pub(super) static N3: Rule = Rule {
    code: "N3",
    severity: Severity::Warning,
    title: "正文所述规章、行政规范性文件件数与表二一致",
    title_en: "Regulation and normative-document counts in the prose agree with table 二",
    description: "Counts of 规章 / 行政规范性文件 the prose states (a clause naming the row and exactly one column keyword: 制发/印发/出台/新制定 → issued, 废止 → repealed, 现行有效 → in_force; V2019: 新制作/制发 → newly_made, 新公开 → newly_published, 对外公开总/累计公开 → total_published — the reader the parser uses for glued rows) agree with table 二 （一）. Clauses about 规章制度, 部门规范性文件, or 规章 and 规范性文件 together are skipped. No statement: passed.",
    versions: TABLES,
    basis: RuleBasis::Heuristic,
    reference: "条例第二十条第（一）项；表二 第二十条第（一）项",
    category: Category::Narrative,
    check,
};

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

fn check(ctx: &Ctx<'_>, out: &mut Out) {
    let r = ctx.report;
    let prose = ctx.prose();
    if prose.is_empty() {
        out.incomplete = true;
        return;
    }
    let version = table_version(ctx, Table::Proactive);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::RuleOutcome;
    use crate::validate::rules::narrative::tests::{base, with_overview};
    use crate::validate::test_support::run;

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
}
