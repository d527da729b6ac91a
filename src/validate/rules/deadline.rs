//! D1, D2, D5: when the report was published (条例第四十九条).
//!
//! Art. 49 (2019 revision): departments of governments at county level and above
//! publish last year's report by 31 January, local governments at county level and
//! above by 31 March. Townships, streets and other bodies have no national date:
//! they are checked only against `Options::township_deadline`. Before the 2019
//! revision (report years up to 2018) every agency had until 31 March.

use crate::pb::{AdministrativeLevel, AgencyKind, AnnualReport, Date, RuleBasis, Severity};
use crate::validate::engine::{comparison, Ctx, Out};
use crate::validate::{Category, Rule};

pub static RULES: &[Rule] = &[
    Rule {
        code: "D1",
        severity: Severity::Warning,
        title: "部门年报应于次年1月31日前公布",
        title_en: "Department report published by 31 January of Y+1",
        description: "For a department of a people's government (agency kind DEPARTMENT): publication_date ≤ 31 January of year Y+1 (report years ≥ 2019; for report years up to 2018 the old deadline of 31 March applies). Townships and streets (level TOWNSHIP) have no national date: not applicable unless a township deadline is configured, which is then used. No publication date: incomplete.",
        versions: &[],
        basis: RuleBasis::Official,
        reference: "条例第四十九条（县级以上人民政府部门于每年1月31日前公布）",
        category: Category::Deadline,
        check: d1,
    },
    Rule {
        code: "D2",
        severity: Severity::Warning,
        title: "政府年报应于次年3月31日前公布",
        title_en: "Government report published by 31 March of Y+1",
        description: "For a people's government or an equivalent management body (agency kind GOVERNMENT): publication_date ≤ 31 March of year Y+1. Townships and streets (level TOWNSHIP) have no national date: not applicable unless a township deadline is configured, which is then used. No publication date: incomplete.",
        versions: &[],
        basis: RuleBasis::Official,
        reference: "条例第四十九条（县级以上地方人民政府于每年3月31日前公布）",
        category: Category::Deadline,
        check: d2,
    },
    Rule {
        code: "D5",
        severity: Severity::Warning,
        title: "年报不应在报告年度结束前公布",
        title_en: "Report not published before the year is over",
        description: "publication_date ≥ 1 January of year Y+1: a report on year Y cannot be complete before Y is over. No publication date: incomplete.",
        versions: &[],
        basis: RuleBasis::Derived,
        reference: "条例第四十九条（公布“上一年度”的年度报告）",
        category: Category::Deadline,
        check: d5,
    },
];

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

fn d1(ctx: &Ctx<'_>, out: &mut Out) {
    deadline(ctx, out, AgencyKind::Department);
}

fn d2(ctx: &Ctx<'_>, out: &mut Out) {
    deadline(ctx, out, AgencyKind::Government);
}

fn deadline(ctx: &Ctx<'_>, out: &mut Out, kind: AgencyKind) {
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

fn d5(ctx: &Ctx<'_>, out: &mut Out) {
    let r = ctx.report;
    if r.year <= 0 {
        out.incomplete = true;
        return;
    }
    let Some(date) = valid_date(r.publication_date.as_ref()) else {
        out.incomplete = true;
        return;
    };
    let start = (r.year + 1, 1, 1);
    if date < start {
        let f = out.fail(
            format!(
                "{}年度报告的公布日期{}早于该年度结束（应不早于{}）",
                r.year,
                ymd(date),
                ymd(start)
            ),
            format!(
                "the {} report is dated {}, before the year was over (expected on or after {})",
                r.year,
                ymd(date),
                ymd(start)
            ),
            ["publication_date".to_string()],
        );
        f.comparisons.push(comparison(
            "publication date",
            "on or after 1 January of Y+1",
            ymd(start),
            "publication_date",
            ymd(date),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::{Agency, RuleOutcome};
    use crate::validate::{validate, Input, Options};

    fn report(
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

    fn outcome(r: &AnnualReport, opts: &Options, code: &str) -> (RuleOutcome, usize) {
        let v = validate(&Input::entity(r), opts);
        let o = v
            .rules
            .iter()
            .find(|x| x.code == code)
            .and_then(|x| RuleOutcome::try_from(x.outcome).ok())
            .unwrap_or_default();
        (o, v.findings.iter().filter(|f| f.code == code).count())
    }

    use AdministrativeLevel as L;
    use AgencyKind as K;

    #[test]
    fn d1_department_deadline() {
        let o = Options::default();
        let ok = report(K::Department, L::County, 2023, Some((2024, 1, 31)));
        assert_eq!(outcome(&ok, &o, "D1").0, RuleOutcome::Passed);
        let late = report(K::Department, L::County, 2023, Some((2024, 2, 1)));
        assert_eq!(outcome(&late, &o, "D1"), (RuleOutcome::Failed, 1));
        // Governments are D2's.
        let gov = report(K::Government, L::County, 2023, Some((2024, 2, 1)));
        assert_eq!(outcome(&gov, &o, "D1").0, RuleOutcome::NotApplicable);
        // Before 2019: 31 March for everyone.
        let old = report(K::Department, L::County, 2018, Some((2019, 3, 31)));
        assert_eq!(outcome(&old, &o, "D1").0, RuleOutcome::Passed);
        let old_late = report(K::Department, L::County, 2018, Some((2019, 4, 1)));
        assert_eq!(outcome(&old_late, &o, "D1").0, RuleOutcome::Failed);
        // No date: incomplete.
        let none = report(K::Department, L::County, 2023, None);
        assert_eq!(outcome(&none, &o, "D1"), (RuleOutcome::Incomplete, 0));
        let bad = report(K::Department, L::County, 2023, Some((2024, 2, 30)));
        assert_eq!(outcome(&bad, &o, "D1").0, RuleOutcome::Incomplete);
    }

    #[test]
    fn d2_government_deadline() {
        let o = Options::default();
        let ok = report(K::Government, L::County, 2022, Some((2023, 3, 31)));
        assert_eq!(outcome(&ok, &o, "D2").0, RuleOutcome::Passed);
        let late = report(K::Government, L::Municipal, 2022, Some((2023, 4, 10)));
        let v = validate(&Input::entity(&late), &o);
        let f = v
            .findings
            .iter()
            .find(|f| f.code == "D2")
            .expect("D2 fires");
        assert!(f.message_en.contains("10 days late"), "{}", f.message_en);
        assert_eq!(f.field_paths, ["publication_date"]);
        let dept = report(K::Department, L::County, 2022, Some((2023, 4, 10)));
        assert_eq!(outcome(&dept, &o, "D2").0, RuleOutcome::NotApplicable);
        let unknown = report(K::Unspecified, L::County, 2022, Some((2023, 4, 10)));
        assert_eq!(outcome(&unknown, &o, "D2").0, RuleOutcome::Incomplete);
        assert_eq!(outcome(&unknown, &o, "D1").0, RuleOutcome::Incomplete);
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
    fn d5_not_before_the_year_is_over() {
        let o = Options::default();
        let ok = report(K::Department, L::County, 2023, Some((2024, 1, 1)));
        assert_eq!(outcome(&ok, &o, "D5").0, RuleOutcome::Passed);
        let early = report(K::Department, L::County, 2023, Some((2023, 12, 30)));
        assert_eq!(outcome(&early, &o, "D5"), (RuleOutcome::Failed, 1));
        let none = report(K::Government, L::Township, 2023, None);
        assert_eq!(outcome(&none, &o, "D5").0, RuleOutcome::Incomplete);
        let no_year = report(K::Department, L::County, 0, Some((2024, 1, 5)));
        assert_eq!(outcome(&no_year, &o, "D5").0, RuleOutcome::Incomplete);
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
