//! The narrative texts of a report (preamble, sections 一, 五 and 六, the fee
//! statement), each read once per report with what it states
//! ([`crate::format::phrasing::statements`]), for the rules that compare the prose
//! with the tables (N1–N3, N5).

use crate::format::phrasing::{statements, Statements};
use crate::pb::AnnualReport;
use crate::validate::text::section_text;

/// One narrative text of a report and what it states, read once per report
/// (the engine caches them: `Ctx::prose`) for every N rule.
pub struct Prose<'a> {
    /// Field path of the text.
    pub field: &'static str,
    /// Chinese name of the part of the report it is.
    pub section_zh: &'static str,
    pub text: &'a str,
    pub said: Statements,
}

/// The narrative texts of a report that are not empty, each read once. The fee
/// statement usually repeats part of section 六: the rules report a stated figure
/// once, where it is first stated.
pub fn read(r: &AnnualReport) -> Vec<Prose<'_>> {
    [
        ("preamble", "报告开头", r.preamble.as_str()),
        ("overview", "一、总体情况", section_text(&r.overview)),
        (
            "problems",
            "五、存在的主要问题及改进情况",
            section_text(&r.problems),
        ),
        (
            "other_matters",
            "六、其他需要报告的事项",
            section_text(&r.other_matters),
        ),
        ("fee_statement", "信息处理费说明", r.fee_statement.as_str()),
    ]
    .into_iter()
    .filter(|(_, _, t)| !t.trim().is_empty())
    .map(|(field, section_zh, text)| Prose {
        field,
        section_zh,
        text,
        said: statements(text),
    })
    .collect()
}
