//! N1–N5: what the narrative states against the tables.
//!
//! The statements are read by [`crate::format::phrasing`] (the same readers the
//! parser uses to decide glued table-二 rows) and cached per report
//! ([`crate::validate::facts::Prose`]); these rules compare them with the
//! cells. All five are heuristics: prose is free text, so a finding is at most a
//! WARNING. A rule that finds no relevant statement in the prose PASSES (there is
//! nothing that disagrees); it is INCOMPLETE when a stated figure meets a blank
//! cell, or when the report has no narrative text at all.
//!
//! One file per rule, named by its code (`n1.rs` … `n5.rs`): the rule's
//! catalogue entry right above its check, what only that rule uses, and its tests.
//! This file lists them ([`RULES`]) and keeps what several of them share.

mod n1;
mod n2;
mod n3;
mod n4;
mod n5;

use crate::format::{request_row_index, CellRef, REQUEST_TOTAL_COL};
use crate::pb::AnnualReport;
use crate::validate::Rule;

/// The narrative rules, in catalogue order.
pub static RULES: &[&Rule] = &[&n1::N1, &n2::N2, &n3::N3, &n4::N4, &n5::N5];

/// A clause as quoted in messages: its text without whitespace (PDF line breaks).
fn quote(text: &str, (s, e): (usize, usize)) -> String {
    text.get(s..e)
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// A table-三 total: the 总计 cell, or the sum of the six applicant cells when
/// the total is blank and they are all present. With the expression it stands for.
fn request_total(r: &AnnualReport, row: &'static str) -> Option<(i64, String)> {
    let i = request_row_index(row)?;
    if let Some(v) = CellRef::request(i, REQUEST_TOTAL_COL).get_int(r) {
        return Some((v, row.to_string()));
    }
    let mut sum = 0;
    for c in 0..REQUEST_TOTAL_COL {
        sum += CellRef::request(i, c).get_int(r)?;
    }
    Some((sum, format!("Σ applicant columns of {row} (total blank)")))
}

fn request_path(row: &str) -> String {
    format!("requests.{row}.total")
}

#[cfg(test)]
mod tests {
    use crate::pb::{AnnualReport, FormatVersion, RuleOutcome, SectionText};
    use crate::validate::test_support::{self, run};

    /// The conformance base of a format version.
    pub(super) fn base(v: FormatVersion) -> AnnualReport {
        test_support::base(if v == FormatVersion::V2019 {
            "v2019"
        } else {
            "v2021"
        })
    }

    pub(super) fn with_overview(mut r: AnnualReport, text: &str) -> AnnualReport {
        r.overview = Some(SectionText {
            heading: "一、总体情况".into(),
            text: text.into(),
        });
        r
    }

    pub(super) fn set_total(r: &mut AnnualReport, row: &str, v: Option<u32>) {
        let i = crate::format::request_row_index(row).expect("a table-三 row id");
        crate::format::CellRef::request(i, 6)
            .set(r, v.map(|v| crate::format::CellValue::Int(v.into())));
    }

    /// 崇川区 2023 (corpus 000): new 110, carried over 12, results 112, forward 10.
    pub(super) const WORKED: &str =
        "2023年,区本级共收到依申请公开110件,按时办结100件,剩余10件结转下一年度办理。";

    #[test]
    fn bases_pass_every_narrative_rule() {
        for v in [FormatVersion::V2021, FormatVersion::V2019] {
            for code in ["N1", "N2", "N3", "N4", "N5"] {
                let (o, f) = run(&base(v), code);
                assert!(f.is_empty(), "{v:?} {code}: {f:?}");
                assert!(
                    matches!(o, RuleOutcome::Passed | RuleOutcome::NotApplicable),
                    "{v:?} {code}: {o:?}"
                );
            }
        }
    }
}
