//! D1, D2, D5: when the report was published (条例第四十九条).
//!
//! Art. 49 (2019 revision): departments of governments at county level and above
//! publish last year's report by 31 January, local governments at county level and
//! above by 31 March. Townships, streets and other bodies have no national date:
//! they are checked only against `Options::township_deadline`. Before the 2019
//! revision (report years up to 2018) every agency had until 31 March.
//!
//! One file per rule, named by its code (`d1.rs` … `d5.rs`): the rule's
//! catalogue entry right above its check, what only that rule uses, and its tests.
//! This file lists them ([`RULES`]) and keeps what several of them share.

mod d1;
mod d2;
mod d5;

use crate::pb::{AdministrativeLevel, AgencyKind, AnnualReport, Date};
use crate::validate::engine::{comparison, Ctx, Out};
use crate::validate::Rule;

/// The deadline rules, in catalogue order.
pub static RULES: &[&Rule] = &[&d1::D1, &d2::D2, &d5::D5];

/// A publication date that is a real calendar date.
fn valid_date(d: Option<&Date>) -> Option<(i32, u32, u32)> {
    let d = d?;
    let (m, day) = (u32::try_from(d.month).ok()?, u32::try_from(d.day).ok()?);
    (d.year > 0 && (1..=12).contains(&m) && day >= 1 && day <= days_in_month(d.year, m))
        .then_some((d.year, m, day))
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (proleptic Gregorian).
fn days(y: i32, m: u32, d: u32) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn ymd((y, m, d): (i32, u32, u32)) -> String {
    format!("{y:04}-{m:02}-{d:02}")
}

fn agency_kind(r: &AnnualReport) -> (AgencyKind, AdministrativeLevel) {
    r.agency.as_ref().map_or(
        (AgencyKind::Unspecified, AdministrativeLevel::Unspecified),
        |a| {
            (
                AgencyKind::try_from(a.kind).unwrap_or_default(),
                AdministrativeLevel::try_from(a.level).unwrap_or_default(),
            )
        },
    )
}

/// D1 and D2: the report of an agency of `kind` published by its deadline.
fn check_deadline(ctx: &Ctx<'_>, out: &mut Out, kind: AgencyKind) {
    let r = ctx.report;
    let (k, level) = agency_kind(r);
    if k == AgencyKind::Unspecified {
        // Which deadline applies is unknown.
        out.incomplete = true;
        return;
    }
    if k != kind {
        out.not_applicable = true;
        return;
    }
    let township = level == AdministrativeLevel::Township;
    let (m, d, why_zh, why_en) = if township {
        match ctx.options.township_deadline {
            Some((m, d)) => (
                m,
                d,
                "按配置的乡镇（街道）公布期限",
                "the configured township deadline",
            ),
            None => {
                out.not_applicable = true;
                return;
            }
        }
    } else if r.year <= 2018 {
        (
            3,
            31,
            "2019年修订前的条例规定3月31日前公布",
            "the pre-2019 regulation's 31 March",
        )
    } else if kind == AgencyKind::Department {
        (
            1,
            31,
            "条例第四十九条规定部门于1月31日前公布",
            "Art. 49: departments by 31 January",
        )
    } else {
        (
            3,
            31,
            "条例第四十九条规定人民政府于3月31日前公布",
            "Art. 49: governments by 31 March",
        )
    };
    if r.year <= 0 {
        out.incomplete = true;
        return;
    }
    let due_year = r.year + 1;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(due_year, m) {
        // A configured deadline that is no date.
        out.incomplete = true;
        return;
    }
    let Some(date) = valid_date(r.publication_date.as_ref()) else {
        out.incomplete = true;
        return;
    };
    let due = (due_year, m, d);
    if date > due {
        let late = days(date.0, date.1, date.2) - days(due.0, due.1, due.2);
        let f = out.fail(
            format!(
                "{}年度报告于{}公布，晚于{}（{why_zh}），逾期{late}天",
                r.year,
                ymd(date),
                ymd(due)
            ),
            format!(
                "the {} report was published on {}, after {} ({why_en}): {late} days late",
                r.year,
                ymd(date),
                ymd(due)
            ),
            ["publication_date".to_string()],
        );
        f.comparisons.push(comparison(
            "publication date",
            "on or before the deadline",
            ymd(due),
            "publication_date",
            ymd(date),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::{AdministrativeLevel as L, Agency, AgencyKind as K, RuleOutcome};
    use crate::validate::{test_support, Input, Options};

    pub(super) fn report(
        kind: AgencyKind,
        level: AdministrativeLevel,
        year: i32,
        date: Option<(i32, i32, i32)>,
    ) -> AnnualReport {
        AnnualReport {
            agency: Some(Agency {
                name: "某机关".into(),
                kind: kind as i32,
                level: level as i32,
                ..Default::default()
            }),
            year,
            publication_date: date.map(|(year, month, day)| Date { year, month, day }),
            ..Default::default()
        }
    }

    /// The outcome of rule `code` with these options, and how many findings it gave.
    pub(super) fn outcome(r: &AnnualReport, opts: &Options, code: &str) -> (RuleOutcome, usize) {
        let (o, findings) = test_support::outcome(&Input::entity(r), opts, code);
        (o, findings.len())
    }

    #[test]
    fn townships_only_with_a_configured_deadline() {
        let late = report(K::Government, L::Township, 2022, Some((2023, 5, 1)));
        assert_eq!(
            outcome(&late, &Options::default(), "D2").0,
            RuleOutcome::NotApplicable
        );
        let dept = report(K::Department, L::Township, 2022, Some((2023, 5, 1)));
        assert_eq!(
            outcome(&dept, &Options::default(), "D1").0,
            RuleOutcome::NotApplicable
        );
        let o = Options {
            township_deadline: Some((4, 15)),
        };
        assert_eq!(outcome(&late, &o, "D2").0, RuleOutcome::Failed);
        assert_eq!(outcome(&dept, &o, "D1").0, RuleOutcome::Failed);
        let ok = report(K::Government, L::Township, 2022, Some((2023, 4, 15)));
        assert_eq!(outcome(&ok, &o, "D2").0, RuleOutcome::Passed);
        let silly = Options {
            township_deadline: Some((2, 30)),
        };
        assert_eq!(outcome(&ok, &silly, "D2").0, RuleOutcome::Incomplete);
    }

    #[test]
    fn days_count() {
        assert_eq!(days(1970, 1, 1), 0);
        assert_eq!(days(2024, 3, 1) - days(2024, 2, 1), 29);
        assert_eq!(days(2023, 4, 10) - days(2023, 3, 31), 10);
    }

    #[test]
    fn empty_report_does_not_panic() {
        let r = AnnualReport::default();
        for code in ["D1", "D2", "D5"] {
            assert_ne!(
                outcome(&r, &Options::default(), code).0,
                RuleOutcome::Failed
            );
        }
    }
}
