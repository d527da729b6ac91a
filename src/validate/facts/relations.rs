//! The format's relations evaluated once per report ([`Relations`]), for rules
//! A1–A3 and A5, with the likely wrong cells ([`localize`]) when some fail.

use super::localize::{localize, Suspect};
use super::relation_state::{evaluate, RelState};
use crate::format::{
    relations, request_cell, request_row, CellRef, RelationKind, REQUEST_COLUMNS, REQUEST_ROWS,
};
use crate::pb::{AnnualReport, FormatVersion};

/// The relations of a report's version, evaluated.
pub struct Relations {
    pub states: Vec<RelState>,
    /// Likely wrong cells, when some relation fails.
    pub suspects: Vec<Suspect>,
}

impl Relations {
    pub fn new(report: &AnnualReport, version: FormatVersion) -> Relations {
        if !matches!(version, FormatVersion::V2019 | FormatVersion::V2021) {
            return Relations {
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
        Relations { states, suspects }
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
