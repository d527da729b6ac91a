//! A5 · Table 四 group total.
//!
//! The rule's catalogue entry and its check.

use super::{relation_findings, Describe};
use crate::format::{CellRef, RelationKind, REVIEW_GROUPS};
use crate::pb::{RuleBasis, Severity};
use crate::validate::engine::{Ctx, Out};
use crate::validate::rules::TABLES;
use crate::validate::{Category, Rule};

pub(super) static A5: Rule = Rule {
    code: "A5",
    severity: Severity::Error,
    title: "表四各组：总计等于维持、纠正、其他结果、尚未审结之和",
    title_en: "Table 四 group total",
    description: "Per group of table 四 (review, litigation_direct, litigation_after_review): total = upheld + corrected + other_outcome + pending.",
    versions: TABLES,
    basis: RuleBasis::Derived,
    reference: "表四“总计”列",
    category: Category::Arithmetic,
    check,
};

fn check(ctx: &Ctx<'_>, out: &mut Out) {
    relation_findings(ctx, out, RelationKind::ReviewTotal, |s| {
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
