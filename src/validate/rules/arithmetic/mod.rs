//! A1–A8: the tables' arithmetic.
//!
//! A1–A3 and A5 report the format's relations, evaluated once per report
//! ([`crate::validate::facts::Relations`]), with the cells most likely wrong;
//! A4 and A6–A8 read cells of their own.
//!
//! One file per rule, named by its code (`a1.rs` … `a8.rs`): the rule's
//! catalogue entry right above its check, what only that rule uses, and its tests.
//! This file lists them ([`RULES`]) and keeps what several of them share.

mod a1;
mod a2;
mod a3;
mod a4;
mod a5;
mod a6;
mod a7;
mod a8;

use crate::format::{CellRef, RelationKind};
use crate::pb::Severity;
use crate::validate::engine::{comparison, Ctx, Out};
use crate::validate::facts::RelState;
use crate::validate::Rule;

/// The arithmetic rules, in catalogue order.
pub static RULES: &[&Rule] = &[
    &a1::A1,
    &a2::A2,
    &a3::A3,
    &a4::A4,
    &a5::A5,
    &a6::A6,
    &a7::A7,
    &a8::A8,
];

/// Findings for one kind of relation: a failure per failing relation (with its
/// likely wrong cells), an incomplete note per relation with blanks.
fn relation_findings(
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

/// How the findings of one relation name it and its two sides.
struct Describe {
    subject: String,
    subject_zh: String,
    expected_expr: &'static str,
    expected_zh: &'static str,
    actual_expr: &'static str,
    actual_zh: &'static str,
}

/// The table-三 column a column relation (A1, A3) is about.
fn request_col(s: &RelState) -> usize {
    match s.rel.lhs.first() {
        Some(CellRef::Request { col, .. }) => *col as usize,
        _ => 0,
    }
}
