//! X5 · Report copied from last year (内容雷同).
//!
//! The rule's catalogue entry, its check, what only it uses and its tests.

use super::{previous, version_of};
use crate::format::{all_cells, request_row_index, CellRef, CellValue};
use crate::pb::{AnnualReport, RuleBasis, Severity};
use crate::validate::engine::{comparison, Ctx, Out};
use crate::validate::rules::TABLES;
use crate::validate::text::section_text;
use crate::validate::{Category, Rule};

pub(super) static X5: Rule = Rule {
    code: "X5",
    severity: Severity::Warning,
    title: "年度报告内容与上一年度雷同",
    title_en: "Report copied from last year (内容雷同)",
    description: "The narrative (overview + problems + other matters) is nearly identical to the previous year's: Jaccard similarity of their character 4-gram shingles (whitespace, digits and punctuation left out; hashed into a 16,384-bit set; the first 3,000 characters of the overview, 1,500 of problems and 500 of other matters) ≥ 0.80, with at least 150 shingles on each side; or tables 二, 三 and 四 are identical (same version, every cell and every published text of a cell equal) with at least one non-zero cell of this year's activity (stock columns such as in_force, total_published, prev_year_items and the carried rows do not count). Needs the previous report (year Y−1).",
    versions: &[],
    basis: RuleBasis::Heuristic,
    reference: "国办公开办函〔2021〕30号（内容雷同的，依条例第四十七条追究责任）",
    category: Category::CrossYear,
    check,
};

/// X5: narratives at least this similar (Jaccard over character 4-gram shingles)
/// count as copied. Unrelated reports of the corpus, even of the same agency in
/// consecutive years, score 0.04–0.13; a verbatim copy scores 1.0, and a copy
/// with about a tenth of its text rewritten about 0.8.
const COPY_SIMILARITY: f64 = 0.80;

/// X5: narratives with fewer shingles than this are too short to compare.
const MIN_SHINGLES: usize = 150;

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

fn check(ctx: &Ctx<'_>, out: &mut Out) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::{FormatVersion, RuleOutcome};
    use crate::validate::rules::cross_year::tests::{before, set};
    use crate::validate::test_support::{base, run_with as run, section};

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
}
