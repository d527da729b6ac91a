//! A1 · Table 三 balance per column.
//!
//! The rule's catalogue entry and its check.

use super::{relation_findings, request_col, Describe};
use crate::format::{RelationKind, REQUEST_COLUMNS};
use crate::pb::{RuleBasis, Severity};
use crate::validate::engine::{Ctx, Out};
use crate::validate::rules::TABLES;
use crate::validate::{Category, Rule};

pub(super) static A1: Rule = Rule {
    code: "A1",
    severity: Severity::Error,
    title: "表三各列：第一项加第二项之和等于第三项加第四项之和",
    title_en: "Table 三 balance per column",
    description: "Per column (the six applicant columns and the total): new_received + carried_over = results_total + carried_forward.",
    versions: TABLES,
    basis: RuleBasis::Official,
    reference: "表三左上角注：本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和",
    category: Category::Arithmetic,
    check,
};

fn check(ctx: &Ctx<'_>, out: &mut Out) {
    relation_findings(ctx, out, RelationKind::Balance, |s| {
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
