//! S2 · Tables 二/三/四 have the rows and columns of the detected version.
//!
//! The rule's catalogue entry, its check, what only it uses and its tests.

use crate::format::{
    proactive_rows, request_row, requests_rows, CellRef, PROACTIVE_ROWS, REQUEST_ROWS,
    REVIEW_GROUPS,
};
use crate::pb::{FormatVersion, ProactiveDisclosure, RuleBasis, Severity};
use crate::validate::engine::{comparison, Ctx, Out};
use crate::validate::rules::{table_version, Table, TABLES};
use crate::validate::{Category, Rule};

pub(super) static S2: Rule = Rule {
    code: "S2",
    severity: Severity::Error,
    title: "表二、表三、表四的行列与所用格式一致",
    title_en: "Tables 二/三/四 have the rows and columns of the detected version",
    description: "Every data row of tables 二, 三 and 四 of the detected format version (per table, from table_versions, else format_version) is present (blank cells are absent values and fine, and so is a row the parser found but could not read, named by a parse diagnostic; a missing row is not), and no row or column of the other version carries values.",
    versions: TABLES,
    basis: RuleBasis::Official,
    reference: "国办公开办函〔2019〕60号、国办公开办函〔2021〕30号（年度报告格式）",
    category: Category::Structure,
    check,
};

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

fn check(ctx: &Ctx<'_>, out: &mut Out) {
    let r = ctx.report;
    let v2 = table_version(ctx, Table::Proactive);
    let v3 = table_version(ctx, Table::Requests);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{request_row_index, CellValue};
    use crate::pb::TableVersions;
    use crate::validate::test_support::{base, fails, passes};

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
}
