//! Fault localisation: when relations of the tables fail, find the smallest change
//! that makes every relation it touches hold — one cell off by the same amount in
//! its row and its column, or one request counted under the wrong applicant type
//! (−d in one column, +d in another, the row total unchanged).
//!
//! These are readings, not proofs: findings call them "likely" and say why.

use super::relation_state::RelState;
use crate::format::{relations_containing, CellRef, REQUEST_COLUMNS, REQUEST_TOTAL_COL};
use crate::pb::{AnnualReport, FormatVersion};

/// A likely explanation of failing relations.
#[derive(Clone, Debug)]
pub struct Suspect {
    /// The cells and the change that makes their relations hold.
    pub changes: Vec<(CellRef, i64)>,
    /// Indexes (into the evaluated relations) of the failing relations explained.
    pub explains: Vec<usize>,
    pub reason: String,
}

/// Upper bound on explanations examined (keeps a badly broken table cheap).
const MAX_TRIALS: usize = 20_000;

pub fn localize(
    report: &AnnualReport,
    version: FormatVersion,
    states: &[RelState],
) -> Vec<Suspect> {
    let failing: Vec<usize> = (0..states.len())
        .filter(|&i| states[i].fails() && states[i].complete())
        .collect();
    if failing.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut trials = 0usize;
    // Does changing `changes` make every relation touching them hold?
    let all_hold = |changes: &[(CellRef, i64)]| -> Option<Vec<usize>> {
        let mut touched: Vec<usize> = changes
            .iter()
            .flat_map(|(c, _)| relations_containing(version, c).iter().copied())
            .collect();
        touched.sort_unstable();
        touched.dedup();
        let read = |c: &CellRef| -> Option<i64> {
            let base = c.get_int(report)?;
            Some(
                base + changes
                    .iter()
                    .filter(|(x, _)| x == c)
                    .map(|(_, d)| d)
                    .sum::<i64>(),
            )
        };
        let mut explained = Vec::new();
        for &i in &touched {
            let holds = states[i].rel.residual(read) == Some(0);
            if !holds {
                return None;
            }
            if failing.contains(&i) {
                explained.push(i);
            }
        }
        (!explained.is_empty()).then_some(explained)
    };

    // One cell.
    let mut seen: Vec<CellRef> = Vec::new();
    for &i in &failing {
        let s = &states[i];
        let residual = s.lhs - s.rhs;
        for c in s.rel.cells() {
            if seen.contains(c) {
                continue;
            }
            seen.push(*c);
            trials += 1;
            if trials > MAX_TRIALS {
                return out;
            }
            // The change to `c` that makes relation `i` hold.
            let d = if s.rel.lhs.contains(c) {
                -residual
            } else {
                residual
            };
            let Some(v) = c.get_int(report) else { continue };
            if v + d < 0 {
                continue;
            }
            if let Some(explains) = all_hold(&[(*c, d)]) {
                out.push(Suspect {
                    changes: vec![(*c, d)],
                    reason: format!(
                        "likely {} is wrong: {} instead of {} makes every relation it is in hold ({})",
                        c.path(),
                        v + d,
                        v,
                        codes(states, &explains)
                    ),
                    explains,
                });
            }
        }
    }
    if !out.is_empty() {
        return out;
    }
    // One row, two applicant columns: −d and +d with the row total unchanged.
    for (a, &i) in failing.iter().enumerate() {
        for &j in &failing[a + 1..] {
            let (si, sj) = (&states[i], &states[j]);
            if si.rel.kind != sj.rel.kind {
                continue;
            }
            let (Some(ci), Some(cj)) = (column_of(si), column_of(sj)) else {
                continue;
            };
            if ci == cj || ci == REQUEST_TOTAL_COL || cj == REQUEST_TOTAL_COL {
                continue;
            }
            let (ri, rj) = (si.lhs - si.rhs, sj.lhs - sj.rhs);
            if ri != -rj {
                continue;
            }
            // Rows present in both relations.
            for x in si.rel.cells() {
                let CellRef::Request { row, .. } = *x else {
                    continue;
                };
                let y = CellRef::request(row as usize, cj);
                if !sj.rel.cells().any(|c| *c == y) {
                    continue;
                }
                trials += 1;
                if trials > MAX_TRIALS {
                    return out;
                }
                let dx = if si.rel.lhs.contains(x) { -ri } else { ri };
                let dy = -dx;
                let (Some(vx), Some(vy)) = (x.get_int(report), y.get_int(report)) else {
                    continue;
                };
                if vx + dx < 0 || vy + dy < 0 {
                    continue;
                }
                if let Some(explains) = all_hold(&[(*x, dx), (y, dy)]) {
                    let n = dx.abs();
                    let (from, to) = if dx < 0 { (x, &y) } else { (&y, x) };
                    out.push(Suspect {
                        changes: vec![(*x, dx), (y, dy)],
                        reason: format!(
                            "likely {n} request(s) counted under {} instead of {}: moving {n} from {} to {} makes the columns hold while the row total stays as published ({})",
                            from.path(),
                            to.path(),
                            from.path(),
                            to.path(),
                            codes(states, &explains)
                        ),
                        explains,
                    });
                }
            }
        }
    }
    out
}

/// The table-三 column a column relation (A1/A3) is about.
fn column_of(s: &RelState) -> Option<usize> {
    let first = s.rel.cells().next()?;
    match *first {
        CellRef::Request { col, .. }
            if s.rel
                .cells()
                .all(|c| matches!(c, CellRef::Request { col: k, .. } if *k == col)) =>
        {
            Some(col as usize).filter(|&c| c < REQUEST_COLUMNS.len())
        }
        _ => None,
    }
}

fn codes(states: &[RelState], idx: &[usize]) -> String {
    let mut v: Vec<&str> = idx.iter().map(|&i| states[i].rel.kind.code()).collect();
    v.sort_unstable();
    v.dedup();
    v.join(", ")
}
