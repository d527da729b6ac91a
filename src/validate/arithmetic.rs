//! The tables' arithmetic relations evaluated once per report, for rules A1–A3
//! and A5, with fault localisation when some fail.

use super::localize::{localize, Suspect};
use crate::format::{
    relations, request_cell, request_row, CellRef, Relation, RelationKind, REQUEST_COLUMNS,
    REQUEST_ROWS,
};
use crate::pb::{AnnualReport, FormatVersion};

/// One relation on one report.
pub struct RelState {
    pub rel: &'static Relation,
    /// Σ of the left side, Σ of the right side, over the cells present.
    pub lhs: i64,
    pub rhs: i64,
    /// Absent cells of the relation.
    pub blank: Vec<CellRef>,
}

impl RelState {
    pub fn complete(&self) -> bool {
        self.blank.is_empty()
    }

    /// Holds (when complete).
    pub fn holds(&self) -> bool {
        self.complete() && self.lhs == self.rhs
    }

    /// Fails for certain: complete and unequal, or one side complete and already
    /// exceeded by the cells present on the other (blanks are never negative).
    pub fn fails(&self) -> bool {
        if self.complete() {
            return self.lhs != self.rhs;
        }
        let blank_left = self.blank.iter().any(|c| self.rel.lhs.contains(c));
        let blank_right = self.blank.iter().any(|c| self.rel.rhs.contains(c));
        (!blank_left && self.rhs > self.lhs) || (!blank_right && self.lhs > self.rhs)
    }
}

/// The relations of a report's version, evaluated.
pub struct Arithmetic {
    pub states: Vec<RelState>,
    /// Likely wrong cells, when some relation fails.
    pub suspects: Vec<Suspect>,
}

impl Arithmetic {
    pub fn new(report: &AnnualReport, version: FormatVersion) -> Arithmetic {
        if !matches!(version, FormatVersion::V2019 | FormatVersion::V2021) {
            return Arithmetic {
                states: Vec::new(),
                suspects: Vec::new(),
            };
        }
        let grid = Grid::read(report);
        let states: Vec<RelState> = relations(version)
            .iter()
            .map(|rel| evaluate(rel, |c| grid.get(c, report)))
            .collect();
        let suspects = if states.iter().any(RelState::fails) {
            localize(report, version, &states)
        } else {
            Vec::new()
        };
        Arithmetic { states, suspects }
    }

    /// The evaluated relations of one kind.
    pub fn of(&self, kind: RelationKind) -> impl Iterator<Item = (usize, &RelState)> {
        self.states
            .iter()
            .enumerate()
            .filter(move |(_, s)| s.rel.kind == kind)
    }
}

/// Table 三 read once, row by row: each of its cells is in two or three relations.
struct Grid([Option<i64>; REQUEST_CELLS]);

const REQUEST_CELLS: usize = REQUEST_ROWS.len() * REQUEST_COLUMNS.len();

impl Grid {
    fn read(report: &AnnualReport) -> Grid {
        let mut cells = [None; REQUEST_CELLS];
        if let Some(t) = report.requests.as_ref() {
            for (row, chunk) in cells.chunks_exact_mut(REQUEST_COLUMNS.len()).enumerate() {
                if let Some(r) = request_row(t, row) {
                    for (col, cell) in chunk.iter_mut().enumerate() {
                        *cell = request_cell(r, col).map(i64::from);
                    }
                }
            }
        }
        Grid(cells)
    }

    fn get(&self, c: &CellRef, report: &AnnualReport) -> Option<i64> {
        match *c {
            CellRef::Request { row, col } => {
                let i = row as usize * REQUEST_COLUMNS.len() + col as usize;
                self.0.get(i).copied().flatten()
            }
            _ => c.get_int(report),
        }
    }
}

/// Evaluates a relation with a cell reader.
pub fn evaluate(rel: &'static Relation, mut read: impl FnMut(&CellRef) -> Option<i64>) -> RelState {
    let mut blank = Vec::new();
    let mut side = |cells: &[CellRef]| -> i64 {
        let mut sum = 0i64;
        for c in cells {
            match read(c) {
                Some(v) => sum = sum.saturating_add(v),
                None => blank.push(*c),
            }
        }
        sum
    };
    let lhs = side(&rel.lhs);
    let rhs = side(&rel.rhs);
    RelState {
        rel,
        lhs,
        rhs,
        blank,
    }
}
