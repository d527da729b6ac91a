//! One relation of the format evaluated on one report: the sums of its two sides
//! over the cells present, and its blank cells ([`RelState`]); whether it holds,
//! fails for certain, or cannot be told.

use crate::format::{CellRef, Relation};

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
