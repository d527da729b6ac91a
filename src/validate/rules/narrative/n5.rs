//! N5 · Administrative-fee amounts in the prose agree with table 二 （八）.
//!
//! The rule's catalogue entry, its check, what only it uses and its tests.

use super::quote;
use crate::format::{CellRef, CellValue};
use crate::pb::{FormatVersion, MoneyUnit, RuleBasis, Severity};
use crate::validate::engine::{comparison, Ctx, Out};
use crate::validate::facts::Prose;
use crate::validate::rules::{table_version, Table};
use crate::validate::{Category, Rule};

pub(super) static N5: Rule = Rule {
    code: "N5",
    severity: Severity::Warning,
    title: "正文所述行政事业性收费金额与表二（八）一致",
    title_en: "Administrative-fee amounts in the prose agree with table 二 （八）",
    description: "An amount of 行政事业性收费 the prose states (the first X元 or X万元 after the words in the same clause; 未收取/无行政事业性收费 = 0) equals proactive.administrative_fees.amount, compared exactly in fen (1万元 = 10,000元 = 1,000,000 fen). The 信息处理费 of section 六 is a different fee with no table cell and is not compared; approximations (约, 余), waivers, items and standards are skipped. No statement: passed.",
    versions: &[FormatVersion::V2021],
    basis: RuleBasis::Heuristic,
    reference: "条例第二十条第（八）项；表二 第二十条第（八）项 本年收费金额（单位：万元）",
    category: Category::Narrative,
    check,
};

/// Fen as yuan ("380", "9116360.5").
fn yuan(fen: i64) -> String {
    let (sign, a) = if fen < 0 {
        ("-", -(fen as i128))
    } else {
        ("", fen as i128)
    };
    let (y, f) = (a / 100, a % 100);
    if f == 0 {
        format!("{sign}{y}")
    } else if f % 10 == 0 {
        format!("{sign}{y}.{}", f / 10)
    } else {
        format!("{sign}{y}.{f:02}")
    }
}

fn check(ctx: &Ctx<'_>, out: &mut Out) {
    let r = ctx.report;
    if table_version(ctx, Table::Proactive) == FormatVersion::V2019 {
        // Table 二 （八） counts fee items, not money.
        out.not_applicable = true;
        return;
    }
    let prose = ctx.prose();
    if prose.is_empty() {
        out.incomplete = true;
        return;
    }
    let cell = CellRef::Proactive {
        row: 6,
        col: "amount",
    };
    // The amount in fen, as written, and the unit it was written in.
    let table = match cell.get(r) {
        Some(CellValue::Money(m)) => m.fen.map(|fen| {
            let unit = match MoneyUnit::try_from(m.unit) {
                Ok(MoneyUnit::Yuan) => ("元", "元 × 100"),
                _ => ("万元", "万元 × 1,000,000"),
            };
            (fen, m.decimal.clone(), unit)
        }),
        _ => None,
    };
    let path = cell.path();
    let mut seen: Vec<i64> = Vec::new();
    for &Prose {
        field,
        section_zh,
        text,
        ref said,
    } in prose
    {
        for a in &said.fees {
            if seen.contains(&a.fen) {
                continue;
            }
            seen.push(a.fen);
            let Some((fen, decimal, (unit, scaled))) = &table else {
                out.incomplete = true;
                continue;
            };
            if *fen == a.fen {
                continue;
            }
            let phrase = quote(text, a.clause);
            // The S8 pattern: a table amount entered in yuan.
            let yuan_hint = *unit == "万元" && *fen % 10_000 == 0 && fen / 10_000 == a.fen;
            let (hint_zh, hint_en) = if yuan_hint {
                ("；表中数字等于正文的元数，可能误按元填写（单位应为万元，见S8）", "; the table's number equals the prose's yuan figure, so it was probably entered in yuan instead of 万元 (see S8)")
            } else {
                ("", "")
            };
            let f = out.fail(
                format!("{section_zh}“{phrase}”所述行政事业性收费{}元，与表二（八）本年收费金额{decimal}{unit}（{}元）不符{hint_zh}；请核对正文或表二", yuan(a.fen), yuan(*fen)),
                format!("{field} states administrative fees of {} yuan (“{phrase}”) but table 二 {path} is {decimal} {unit} ({} yuan){hint_en}; correct the prose or the table", yuan(a.fen), yuan(*fen)),
                [path.clone(), field.to_string()],
            );
            f.comparisons.push(comparison(
                "administrative fees in fen",
                format!("{path} ({scaled})"),
                fen,
                format!("prose: “{phrase}”"),
                a.fen,
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::RuleOutcome;
    use crate::validate::rules::narrative::tests::{base, with_overview};
    use crate::validate::test_support::run;

    #[test]
    fn n5_fee_amounts_in_fen() {
        let mut r = with_overview(base(FormatVersion::V2021), "本年度未收取行政事业性收费。");
        assert_eq!(run(&r, "N5"), (RuleOutcome::Passed, vec![]));
        let fees = r
            .proactive
            .as_mut()
            .and_then(|p| p.administrative_fees.as_mut());
        if let Some(m) = fees.and_then(|f| f.amount.as_mut()) {
            m.raw = "9116.36".into();
            m.decimal = "9116.36".into();
            m.fen = Some(9_116_360_000);
        }
        let (o, f) = run(&r, "N5");
        assert_eq!(o, RuleOutcome::Failed);
        assert_eq!(f[0].comparisons[0].expected, "9116360000");
        assert_eq!(f[0].comparisons[0].actual, "0");
        let r2 = with_overview(r.clone(), "全年行政事业性收费91163600元。");
        assert_eq!(run(&r2, "N5"), (RuleOutcome::Passed, vec![]));
        let r3 = with_overview(r.clone(), "全年行政事业性收费9116.36万元。");
        assert_eq!(run(&r3, "N5"), (RuleOutcome::Passed, vec![]));
        // 信息处理费 is not table 二 （八）.
        let r4 = with_overview(r, "收取信息处理费共计380元。");
        assert_eq!(run(&r4, "N5"), (RuleOutcome::Passed, vec![]));
    }

    #[test]
    fn n5_yuan_in_the_table_is_hinted() {
        let mut r = with_overview(base(FormatVersion::V2021), "全年行政事业性收费380元。");
        let fees = r
            .proactive
            .as_mut()
            .and_then(|p| p.administrative_fees.as_mut());
        if let Some(m) = fees.and_then(|f| f.amount.as_mut()) {
            m.decimal = "380".into();
            m.fen = Some(380_000_000);
        }
        let (_, f) = run(&r, "N5");
        assert_eq!(f.len(), 1);
        assert!(
            f[0].message_en.contains("entered in yuan"),
            "{}",
            f[0].message_en
        );
    }

    #[test]
    fn yuan_formatting() {
        assert_eq!(super::yuan(38_000), "380");
        assert_eq!(super::yuan(38_050), "380.5");
        assert_eq!(super::yuan(38_005), "380.05");
        assert_eq!(super::yuan(9_116_360_000), "91163600");
    }
}
