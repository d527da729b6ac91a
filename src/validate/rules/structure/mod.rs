//! S1–S9: the report's structure and content (条例第五十条, the national format).
//!
//! Every check reads the entity's fields only. Text checks scan a field once with
//! a keyword automaton built on first use; nothing is re-parsed.
//!
//! One file per rule, named by its code (`s1.rs` … `s9.rs`): the rule's
//! catalogue entry right above its check, what only that rule uses, and its tests.
//! This file lists them ([`RULES`]).

mod s1;
mod s2;
mod s3;
mod s4;
mod s5;
mod s6;
mod s7;
mod s8;
mod s9;

use crate::validate::Rule;

/// The structure rules, in catalogue order.
pub static RULES: &[&Rule] = &[
    &s1::S1,
    &s2::S2,
    &s3::S3,
    &s4::S4,
    &s5::S5,
    &s6::S6,
    &s7::S7,
    &s8::S8,
    &s9::S9,
];

#[cfg(test)]
mod tests {
    use crate::pb::{AnnualReport, FormatVersion};
    use crate::validate::test_support::{base, passes, section};
    use crate::validate::{validate, Input, Options};

    #[test]
    fn bases_pass_every_structure_rule() {
        for b in ["v2021", "v2019"] {
            let r = base(b);
            for code in ["S1", "S2", "S3", "S4", "S6", "S7", "S9"] {
                passes(&r, code);
            }
        }
        passes(&base("v2021"), "S5");
        passes(&base("v2021"), "S8");
    }

    #[test]
    fn empty_report_does_not_panic() {
        let mut r = AnnualReport::default();
        for v in [
            FormatVersion::V2019,
            FormatVersion::V2021,
            FormatVersion::Legacy,
        ] {
            r.format_version = v as i32;
            let _ = validate(&Input::entity(&r), &Options::default());
        }
        let mut r = base("v2021");
        r.preamble = "统计期限为2023年1月1日至".into();
        r.title = "２０２３".into();
        r.other_matters = section("元 万元 费 无");
        r.overview = section("收费元 收费.元 收费,元 收费99999999999999999999元");
        let _ = validate(&Input::entity(&r), &Options::default());
    }
}
