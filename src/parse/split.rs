//! Readings of a row: how its value tokens become exactly the row's cells.
//!
//! Separated values are taken as they are. A glued digit run is split into cells
//! in every way the format allows (no leading zeros but `0` itself, signs only in
//! signed columns, fractions and 元 only in money columns); when the row has fewer
//! values than cells, the missing cells are placed in every position and, where a
//! row relation fixes them, solved. Relations then pick among the readings.

use super::tokens::{Num, Tok, TokVal};
use crate::format::CellKind;
use crate::pb::MoneyUnit;

/// A cell value of a reading.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Val {
    Int(i64),
    /// Money as written: decimal text in `unit` (or unknown unit) and the raw text.
    Money {
        decimal: String,
        raw: String,
        unit: MoneyUnit,
    },
}

impl Val {
    pub fn int(&self) -> Option<i64> {
        match self {
            Val::Int(v) => Some(*v),
            Val::Money { .. } => None,
        }
    }
}

impl std::fmt::Display for Val {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Val::Int(v) => write!(f, "{v}"),
            Val::Money { decimal, .. } => f.write_str(decimal),
        }
    }
}

/// One cell of a reading: its value (None = blank or unrecoverable) and the source
/// range it was read from (None = missing in the source).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cell {
    pub val: Option<Val>,
    pub span: Option<(usize, usize)>,
    /// The value was computed from a relation, not read.
    pub solved: bool,
}

/// A relation inside one row: `Σ cells[lhs] = Σ cells[rhs]` (cell indexes).
#[derive(Clone, Debug)]
pub struct RowRelation {
    pub lhs: Vec<usize>,
    pub rhs: Vec<usize>,
}

/// The readings of a row.
#[derive(Debug, Default)]
pub struct Readings {
    /// Readings that satisfy every row relation that can be checked.
    pub fitting: Vec<Vec<Cell>>,
    /// Every structurally valid reading (before relations), up to the cap.
    pub all: Vec<Vec<Cell>>,
    /// Some digit run had to be split.
    pub split: bool,
    /// Cells had to be inserted as missing.
    pub missing: usize,
    /// Exactly one structural reading exists (every value or digit is one cell).
    pub forced: bool,
    /// More values than cells: the extra tokens were dropped.
    pub extra: usize,
    /// The work budget ran out before every reading was seen.
    pub exhausted: bool,
}

const MAX_READINGS: usize = 256;
const MAX_STEPS: usize = 200_000;
const MAX_MISSING: usize = 2;

/// Computes the readings of `toks` as a row of cells of the given kinds.
pub fn readings(toks: &[Tok], kinds: &[CellKind], rels: &[RowRelation]) -> Readings {
    let k = kinds.len();
    let mut toks: Vec<Tok> = toks.to_vec();
    let mut out = Readings::default();
    // Too many separate values: drop blanks at the ends, then the excess.
    let min_cells = toks.len();
    if min_cells > k {
        while toks.len() > k && toks.last().is_some_and(|t| t.val == TokVal::Blank) {
            toks.pop();
        }
        while toks.len() > k && toks.first().is_some_and(|t| t.val == TokVal::Blank) {
            toks.remove(0);
        }
        if toks.len() > k {
            out.extra = toks.len() - k;
            toks.truncate(k);
        }
    }
    let max_cells: usize = toks
        .iter()
        .map(|t| match &t.val {
            TokVal::Num(n) if t.splittable => n.digits.len(),
            _ => 1,
        })
        .sum();
    let missing = k.saturating_sub(max_cells);
    if missing > MAX_MISSING {
        out.missing = missing;
        return out;
    }
    out.missing = missing;
    out.split = toks.len() + missing < k;
    // One structural reading: every digit is a cell, or every value is one.
    out.forced = missing == 0 && (max_cells == k || toks.len() == k);
    // Pass 1: readings that satisfy the row relations (which also prune the
    // search: a total is forced once its addends are chosen).
    let (mut fitting, exhausted) = search(&toks, kinds, Some(rels), missing);
    for r in &mut fitting {
        solve_row(r, rels);
    }
    fitting.retain(|r| fits(r, rels));
    dedup(&mut fitting);
    out.exhausted = exhausted;
    // Pass 2, only when nothing fits: every structural reading, so a published
    // table that does not add up is still read (when it has one reading) or its
    // readings are listed.
    let mut all = if fitting.is_empty() {
        let (all, exhausted) = search(&toks, kinds, None, missing);
        out.exhausted |= exhausted;
        all
    } else {
        fitting.clone()
    };
    for r in &mut all {
        solve_row(r, rels);
    }
    dedup(&mut all);
    out.fitting = fitting;
    out.all = all;
    out
}

fn search(
    toks: &[Tok],
    kinds: &[CellKind],
    rels: Option<&[RowRelation]>,
    missing: usize,
) -> (Vec<Vec<Cell>>, bool) {
    // capacity[i]: the most cells tokens i.. can make.
    let mut capacity = vec![0usize; toks.len() + 1];
    for (i, t) in toks.iter().enumerate().rev() {
        let c = match &t.val {
            TokVal::Num(n) if t.splittable => n.digits.len(),
            _ => 1,
        };
        capacity[i] = capacity[i + 1] + c;
    }
    let mut s = Search {
        toks,
        kinds,
        rels,
        capacity,
        cells: Vec::with_capacity(kinds.len()),
        found: Vec::new(),
        steps: 0,
        exhausted: false,
    };
    s.go(0, 0, missing);
    (s.found, s.exhausted)
}

fn dedup(rs: &mut Vec<Vec<Cell>>) {
    // Few readings: a quadratic scan beats hashing them.
    let mut kept: Vec<Vec<Cell>> = Vec::with_capacity(rs.len());
    for r in rs.drain(..) {
        let same = |k: &Vec<Cell>| k.iter().zip(&r).all(|(a, b)| a.val == b.val);
        if !kept.iter().any(same) {
            kept.push(r);
        }
    }
    *rs = kept;
}

/// Whether every checkable relation holds (a relation with a blank is skipped).
pub fn fits(r: &[Cell], rels: &[RowRelation]) -> bool {
    rels.iter().all(|rel| {
        let sum = |ix: &[usize]| -> Option<i64> {
            ix.iter()
                .map(|&i| r.get(i)?.val.as_ref()?.int())
                .try_fold(0i64, |a, v| a.checked_add(v?))
        };
        match (sum(&rel.lhs), sum(&rel.rhs)) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        }
    })
}

/// Fills missing (inserted) cells that one relation determines.
fn solve_row(r: &mut [Cell], rels: &[RowRelation]) {
    loop {
        let mut progress = false;
        for rel in rels {
            let unknown: Vec<usize> = rel
                .lhs
                .iter()
                .chain(&rel.rhs)
                .copied()
                .filter(|&i| {
                    r.get(i)
                        .is_some_and(|c| c.span.is_none() && c.val.is_none())
                })
                .collect();
            if unknown.len() != 1 {
                continue;
            }
            let u = unknown[0];
            let known = |ix: &[usize]| -> Option<i64> {
                ix.iter()
                    .filter(|&&i| i != u)
                    .map(|&i| r.get(i)?.val.as_ref()?.int())
                    .try_fold(0i64, |a, v| a.checked_add(v?))
            };
            let (Some(l), Some(rr)) = (known(&rel.lhs), known(&rel.rhs)) else {
                continue;
            };
            let v = if rel.lhs.contains(&u) { rr - l } else { l - rr };
            if v >= 0 {
                if let Some(c) = r.get_mut(u) {
                    c.val = Some(Val::Int(v));
                    c.solved = true;
                    progress = true;
                }
            }
        }
        if !progress {
            break;
        }
    }
}

struct Search<'a> {
    toks: &'a [Tok],
    kinds: &'a [CellKind],
    rels: Option<&'a [RowRelation]>,
    capacity: Vec<usize>,
    cells: Vec<Cell>,
    found: Vec<Vec<Cell>>,
    steps: usize,
    exhausted: bool,
}

impl Search<'_> {
    /// `ti`: token index; `pi`: digits of `toks[ti]` already used; `miss`: missing
    /// cells still to place.
    fn go(&mut self, ti: usize, pi: usize, miss: usize) {
        self.steps += 1;
        if self.steps > MAX_STEPS || self.found.len() >= MAX_READINGS {
            self.exhausted = true;
            return;
        }
        let k = self.kinds.len();
        let col = self.cells.len();
        if ti == self.toks.len() {
            if col + miss == k {
                let mut r = self.cells.clone();
                r.extend((0..miss).map(|_| Cell {
                    val: None,
                    span: None,
                    solved: false,
                }));
                self.found.push(r);
            }
            return;
        }
        if col >= k {
            return;
        }
        // Remaining capacity check (digits of the current token already used
        // cannot make cells any more).
        let rest_max = self.capacity[ti] - pi;
        let rest_min = self.toks.len() - ti;
        if col + rest_min + miss > k || col + rest_max + miss < k {
            return;
        }
        // A missing cell here?
        if miss > 0 && pi == 0 {
            self.cells.push(Cell {
                val: None,
                span: None,
                solved: false,
            });
            self.go(ti, pi, miss - 1);
            self.cells.pop();
        }
        let tok = &self.toks[ti];
        let kind = self.kinds[col];
        let forced = match self.forced(col) {
            Forced::Impossible => return,
            Forced::Value(v) => Some(v),
            Forced::Free => None,
        };
        match &tok.val {
            TokVal::Blank => {
                self.cells.push(Cell {
                    val: None,
                    span: Some((tok.start, tok.end)),
                    solved: false,
                });
                self.go(ti + 1, 0, miss);
                self.cells.pop();
            }
            TokVal::Num(n) => {
                let nd = n.digits.len();
                let lens = if !tok.splittable {
                    nd - pi..=nd - pi
                } else if n.digits.as_bytes()[pi] == b'0' {
                    1..=1
                } else {
                    1..=(nd - pi).min(10)
                };
                for len in lens {
                    let last = pi + len == nd;
                    let Some(val) = cell_value(n, pi, len, last, kind) else {
                        continue;
                    };
                    if forced.is_some_and(|f| val.int() != Some(f)) {
                        continue;
                    }
                    let span = span_of(tok, n, pi, len, last);
                    self.cells.push(Cell {
                        val: Some(val),
                        span: Some(span),
                        solved: false,
                    });
                    if last {
                        self.go(ti + 1, 0, miss);
                    } else {
                        self.go(ti, pi + len, miss);
                    }
                    self.cells.pop();
                    if self.exhausted {
                        return;
                    }
                }
            }
        }
    }
}

enum Forced {
    Free,
    Value(i64),
    Impossible,
}

impl Search<'_> {
    /// The value a relation forces on cell `col`, when `col` is the last cell of a
    /// relation and every other cell of it is already read.
    fn forced(&self, col: usize) -> Forced {
        let Some(rels) = self.rels else {
            return Forced::Free;
        };
        for rel in rels {
            let cells = || rel.lhs.iter().chain(&rel.rhs);
            if !cells().any(|&i| i == col) || cells().any(|&i| i > col) {
                continue;
            }
            let known = |ix: &[usize]| -> Option<i64> {
                ix.iter()
                    .filter(|&&i| i != col)
                    .map(|&i| self.cells.get(i)?.val.as_ref()?.int())
                    .try_fold(0i64, |a, v| a.checked_add(v?))
            };
            let (Some(l), Some(r)) = (known(&rel.lhs), known(&rel.rhs)) else {
                continue;
            };
            let v = if rel.lhs.contains(&col) { r - l } else { l - r };
            return if v < 0 {
                Forced::Impossible
            } else {
                Forced::Value(v)
            };
        }
        Forced::Free
    }
}

fn span_of(tok: &Tok, n: &Num, pi: usize, len: usize, last: bool) -> (usize, usize) {
    let sign = usize::from(n.sign.is_some());
    let start = if pi == 0 {
        tok.start
    } else {
        tok.start + sign + pi
    };
    let end = if last {
        tok.end
    } else {
        tok.start + sign + pi + len
    };
    (start, end.max(start))
}

fn cell_value(n: &Num, pi: usize, len: usize, last: bool, kind: CellKind) -> Option<Val> {
    let digits = &n.digits[pi..pi + len];
    if len > 1 && digits.starts_with('0') && pi > 0 {
        return None;
    }
    let signed = pi == 0 && n.sign.is_some();
    let has_money_parts = last && (n.frac.is_some() || n.unit.is_some());
    match kind {
        CellKind::Count => {
            if signed && n.sign == Some('-') || has_money_parts || len > 10 {
                return None;
            }
            let v: i64 = digits.parse().ok()?;
            (v <= u32::MAX as i64).then_some(Val::Int(v))
        }
        CellKind::Signed => {
            if has_money_parts || len > 9 {
                return None;
            }
            let v: i64 = digits.parse().ok()?;
            let v = if signed && n.sign == Some('-') { -v } else { v };
            Some(Val::Int(v))
        }
        CellKind::Money(default_unit) => {
            if signed && n.sign == Some('-') || len > 15 {
                return None;
            }
            let frac = if last { n.frac.as_deref() } else { None };
            let unit = if last { n.unit } else { None }.unwrap_or(default_unit);
            let int = digits.trim_start_matches('0');
            let int = if int.is_empty() { "0" } else { int };
            let decimal = match frac.map(|f| f.trim_end_matches('0')) {
                Some(f) if !f.is_empty() => format!("{int}.{f}"),
                _ => int.to_string(),
            };
            let mut raw = digits.to_string();
            if let Some(f) = frac {
                raw.push('.');
                raw.push_str(f);
            }
            if last {
                match n.unit {
                    Some(MoneyUnit::WanYuan) => raw.push_str("万元"),
                    Some(MoneyUnit::Yuan) => raw.push('元'),
                    _ => {}
                }
            }
            Some(Val::Money { decimal, raw, unit })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(s: &str, splittable: bool) -> Tok {
        let mut toks = Vec::new();
        let gs = super::super::tokens::groups(s, 0, s.len(), "");
        for g in gs {
            toks.extend(g.toks);
        }
        for t in &mut toks {
            t.splittable = t.splittable && splittable;
        }
        assert_eq!(toks.len(), 1, "{s}");
        toks.remove(0)
    }

    fn ints(r: &[Cell]) -> Vec<Option<i64>> {
        r.iter()
            .map(|c| c.val.as_ref().and_then(Val::int))
            .collect()
    }

    fn row7() -> Vec<RowRelation> {
        vec![RowRelation {
            lhs: vec![6],
            rhs: (0..6).collect(),
        }]
    }

    #[test]
    fn glued_row_splits_uniquely_with_row_total() {
        let r = readings(&[tok("713000074", true)], &[CellKind::Count; 7], &row7());
        assert_eq!(r.fitting.len(), 1);
        assert_eq!(
            ints(&r.fitting[0]),
            [71, 3, 0, 0, 0, 0, 74].map(Some).to_vec()
        );
    }

    #[test]
    fn missing_cell_is_solved() {
        let toks: Vec<Tok> = (0..6).map(|_| tok("0", false)).collect();
        let r = readings(&toks, &[CellKind::Count; 7], &row7());
        assert_eq!(r.missing, 1);
        assert_eq!(r.fitting.len(), 1);
        assert_eq!(ints(&r.fitting[0]), vec![Some(0); 7]);
        assert!(r.fitting[0].iter().any(|c| c.solved));
    }

    #[test]
    fn table_two_row_is_ambiguous_without_evidence() {
        let r = readings(&[tok("693665", true)], &[CellKind::Count; 3], &[]);
        assert!(r.fitting.len() > 1);
        assert!(r
            .fitting
            .iter()
            .any(|c| ints(c) == vec![Some(69), Some(3), Some(665)]));
    }

    #[test]
    fn review_row_seventeen_digits() {
        let rels: Vec<RowRelation> = (0..3)
            .map(|g| RowRelation {
                lhs: vec![g * 5 + 4],
                rhs: (g * 5..g * 5 + 4).collect(),
            })
            .collect();
        let r = readings(
            &[tok("10203120001200000", true)],
            &[CellKind::Count; 15],
            &rels,
        );
        assert_eq!(r.fitting.len(), 1, "{:?}", r.fitting);
        assert_eq!(
            ints(&r.fitting[0]),
            [1, 0, 2, 0, 3, 12, 0, 0, 0, 12, 0, 0, 0, 0, 0]
                .map(Some)
                .to_vec()
        );
    }

    #[test]
    fn signed_and_money_cells() {
        let kinds = [CellKind::Count, CellKind::Signed, CellKind::Count];
        let toks = [tok("2648", false), tok("-18538", true)];
        let r = readings(&toks, &kinds, &[]);
        assert!(r
            .fitting
            .iter()
            .any(|c| ints(c) == vec![Some(2648), Some(-18), Some(538)]));
        let kinds = [CellKind::Count, CellKind::Money(MoneyUnit::Unspecified)];
        let r = readings(&[tok("39573802895.90元", true)], &kinds, &[]);
        assert!(r.fitting.iter().any(|c| c[0].val == Some(Val::Int(395))
            && matches!(&c[1].val, Some(Val::Money { decimal, unit: MoneyUnit::Yuan, .. }) if decimal == "73802895.9")));
    }
}
