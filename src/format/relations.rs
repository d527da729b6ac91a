//! The arithmetic relations of the tables (format.md §7, A1–A3 and A5), as data.
//! The parser's solver uses them to split glued cells and recover missing ones;
//! the validator checks them. Each relation reads `Σ lhs = Σ rhs`.

use std::sync::OnceLock;

use super::{
    requests_rows, result_leaf_rows, CellRef, REQUEST_COLUMNS, REQUEST_ROWS, REQUEST_TOTAL_COL,
    REVIEW_COLUMNS, REVIEW_GROUPS,
};
use crate::pb::FormatVersion;

/// Which rule of the catalogue a relation belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RelationKind {
    /// A1: per column, new_received + carried_over = results_total + carried_forward.
    Balance,
    /// A2: per table-三 row, total = Σ the six applicant columns.
    RowTotal,
    /// A3: per column, results_total = Σ the result rows.
    ResultsTotal,
    /// A5: per table-四 group, total = upheld + corrected + other_outcome + pending.
    ReviewTotal,
}

impl RelationKind {
    /// The rule code of the catalogue.
    pub fn code(self) -> &'static str {
        match self {
            RelationKind::Balance => "A1",
            RelationKind::RowTotal => "A2",
            RelationKind::ResultsTotal => "A3",
            RelationKind::ReviewTotal => "A5",
        }
    }
}

/// One linear relation: `Σ lhs = Σ rhs`.
#[derive(Clone, Debug)]
pub struct Relation {
    pub kind: RelationKind,
    pub lhs: Vec<CellRef>,
    pub rhs: Vec<CellRef>,
}

impl Relation {
    /// Every cell of the relation, left side first.
    pub fn cells(&self) -> impl Iterator<Item = &CellRef> {
        self.lhs.iter().chain(&self.rhs)
    }

    /// Evaluates `Σ lhs − Σ rhs` with a cell reader; `None` when a cell is absent.
    pub fn residual(&self, mut read: impl FnMut(&CellRef) -> Option<i64>) -> Option<i64> {
        let mut sum = 0i64;
        for c in &self.lhs {
            sum = sum.checked_add(read(c)?)?;
        }
        for c in &self.rhs {
            sum = sum.checked_sub(read(c)?)?;
        }
        Some(sum)
    }
}

/// Every relation of a version's tables 三 and 四 (table 二 has none).
pub fn relations(version: FormatVersion) -> &'static [Relation] {
    static V2021: OnceLock<Vec<Relation>> = OnceLock::new();
    static V2019: OnceLock<Vec<Relation>> = OnceLock::new();
    match version {
        FormatVersion::V2019 => V2019.get_or_init(|| build(FormatVersion::V2019)),
        _ => V2021.get_or_init(|| build(FormatVersion::V2021)),
    }
}

/// The indexes (into [`relations`]) of the relations a cell is in, ascending.
pub fn relations_containing(version: FormatVersion, cell: &CellRef) -> &'static [usize] {
    type Index = Vec<(CellRef, Vec<usize>)>;
    static V2021: OnceLock<Index> = OnceLock::new();
    static V2019: OnceLock<Index> = OnceLock::new();
    let index = |version| {
        let mut index: Index = Vec::new();
        for (i, rel) in relations(version).iter().enumerate() {
            for c in rel.cells() {
                match index.binary_search_by(|(x, _)| x.cmp(c)) {
                    Ok(k) if index[k].1.last() == Some(&i) => {}
                    Ok(k) => index[k].1.push(i),
                    Err(k) => index.insert(k, (*c, vec![i])),
                }
            }
        }
        index
    };
    let index = match version {
        FormatVersion::V2019 => V2019.get_or_init(|| index(FormatVersion::V2019)),
        _ => V2021.get_or_init(|| index(FormatVersion::V2021)),
    };
    index
        .binary_search_by(|(x, _)| x.cmp(cell))
        .map_or(&[], |k| index[k].1.as_slice())
}

fn build(version: FormatVersion) -> Vec<Relation> {
    let idx = |id: &str| REQUEST_ROWS.iter().position(|r| r.id == id).unwrap_or(0);
    let (new, carried, results, forward) = (
        idx("new_received"),
        idx("carried_over"),
        idx("results_total"),
        idx("carried_forward"),
    );
    let mut out = Vec::new();
    for c in 0..REQUEST_COLUMNS.len() {
        out.push(Relation {
            kind: RelationKind::Balance,
            lhs: vec![CellRef::request(new, c), CellRef::request(carried, c)],
            rhs: vec![CellRef::request(results, c), CellRef::request(forward, c)],
        });
    }
    for &r in requests_rows(version) {
        out.push(Relation {
            kind: RelationKind::RowTotal,
            lhs: vec![CellRef::request(r, REQUEST_TOTAL_COL)],
            rhs: (0..REQUEST_TOTAL_COL)
                .map(|c| CellRef::request(r, c))
                .collect(),
        });
    }
    for c in 0..REQUEST_COLUMNS.len() {
        out.push(Relation {
            kind: RelationKind::ResultsTotal,
            lhs: vec![CellRef::request(results, c)],
            rhs: result_leaf_rows(version)
                .iter()
                .map(|&r| CellRef::request(r, c))
                .collect(),
        });
    }
    let total = REVIEW_COLUMNS.len() - 1;
    for g in 0..REVIEW_GROUPS.len() {
        out.push(Relation {
            kind: RelationKind::ReviewTotal,
            lhs: vec![CellRef::review(g, total)],
            rhs: (0..total).map(|c| CellRef::review(g, c)).collect(),
        });
    }
    out
}
