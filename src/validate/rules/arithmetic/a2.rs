//! A2 · Table 三 row total.
//!
//! The rule's catalogue entry and its check.

use super::{relation_findings, Describe};
use crate::format::{CellRef, RelationKind, REQUEST_ROWS};
use crate::pb::{RuleBasis, Severity};
use crate::validate::engine::{Ctx, Out};
use crate::validate::rules::TABLES;
use crate::validate::{Category, Rule};

pub(super) static A2: Rule = Rule {
    code: "A2",
    severity: Severity::Error,
    title: "表三各行：总计等于六类申请人之和",
    title_en: "Table 三 row total",
    description: "Per data row of table 三: total = natural_person + commercial_enterprise + research_institution + public_welfare_org + legal_service_org + other_org.",
    versions: TABLES,
    basis: RuleBasis::Derived,
    reference: "表三“总计”列",
    category: Category::Arithmetic,
    check,
};

fn check(ctx: &Ctx<'_>, out: &mut Out) {
    relation_findings(ctx, out, RelationKind::RowTotal, |s| {
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
