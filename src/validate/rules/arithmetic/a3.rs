//! A3 · Table 三 results total.
//!
//! The rule's catalogue entry and its check.

use super::{relation_findings, request_col, Describe};
use crate::format::{RelationKind, REQUEST_COLUMNS};
use crate::pb::{RuleBasis, Severity};
use crate::validate::engine::{Ctx, Out};
use crate::validate::rules::TABLES;
use crate::validate::{Category, Rule};

pub(super) static A3: Rule = Rule {
    code: "A3",
    severity: Severity::Error,
    title: "表三各列：（七）总计等于各项办理结果之和",
    title_en: "Table 三 results total",
    description: "Per column: results_total = granted + partially_granted + Σ denied_* + Σ unable_* + Σ not_processed_* + Σ other_* (V2019: other_handling).",
    versions: TABLES,
    basis: RuleBasis::Derived,
    reference: "表三“（七）总计”行",
    category: Category::Arithmetic,
    check,
};

fn check(ctx: &Ctx<'_>, out: &mut Out) {
    relation_findings(ctx, out, RelationKind::ResultsTotal, |s| {
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
