//! Facts about one report that several rules share, computed once per report
//! and cached by the engine in `Ctx`: the format's relations evaluated, with the
//! likely wrong cells when some fail ([`Relations`]); the narrative texts, each
//! read once with what it states ([`Prose`]); the statistical period the report
//! states ([`Period`]).
//!
//! Below both the engine and the rules: a fact imports neither. One file per fact;
//! `relation_state` (one relation evaluated) is below `localize` (which explains
//! failing ones), and `relations` combines the two.

mod localize;
mod period;
mod prose;
mod relation_state;
mod relations;

pub use period::{stated_period, Period};
pub use prose::{read, Prose};
pub use relation_state::RelState;
pub use relations::Relations;
