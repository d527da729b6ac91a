//! (being written)

use crate::validate::Rule;

pub static RULES: &[Rule] = &[];
