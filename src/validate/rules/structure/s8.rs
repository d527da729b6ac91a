//! S8 · Fee amount looks like yuan rather than 万元.
//!
//! The rule's catalogue entry, its check, what only it uses and its tests.

use crate::format::{CellRef, CellValue};
use crate::pb::{AdministrativeLevel, AnnualReport, FormatVersion, MoneyUnit, RuleBasis, Severity};
use crate::validate::engine::{comparison, Ctx, Out};
use crate::validate::text::{section_text, suffix};
use crate::validate::{Category, Rule};

pub(super) static S8: Rule = Rule {
    code: "S8",
    severity: Severity::Warning,
    title: "收费金额疑似以元而非万元填报",
    title_en: "Fee amount looks like yuan rather than 万元",
    description: "V2021 table 二 （八） amount is in 万元. Flags: the cell written in 元; the table value equal to a fee figure of the prose read in 元 (table = 10⁴ × prose, i.e. \"X元\" in prose and X in the table, or \"X万元\" in prose and X×10⁴ in the table; prose figures count when 费/收取 precedes them within 30 characters); for county and township bodies, an amount ≥ 1,000,000 万元 (100亿元).",
    versions: &[FormatVersion::V2021],
    basis: RuleBasis::Heuristic,
    reference: "表二第二十条第（八）项 本年收费金额（单位：万元）",
    category: Category::Structure,
    check,
};

/// A money figure of the prose: its value in fen and how it was written.
struct ProseAmount {
    fen: i64,
    written: String,
    field: &'static str,
}

/// Parses "1,234.5" into fen for a unit of `scale` fen.
fn decimal_fen(num: &str, scale: i64) -> Option<i64> {
    let digits: String = num.chars().filter(|&c| c != ',' && c != '，').collect();
    let (int, frac) = digits.split_once('.').unwrap_or((&digits, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut v: i64 = int.parse::<i64>().ok()?.checked_mul(scale)?;
    let mut unit = scale;
    for b in frac.bytes() {
        unit /= 10;
        if unit == 0 {
            break;
        }
        v = v.checked_add(i64::from(b - b'0').checked_mul(unit)?)?;
    }
    Some(v)
}

/// Fee figures of the prose: "X元" / "X万元" with 费 or 收取 within 30 characters
/// before the number.
fn prose_fee_amounts(r: &AnnualReport) -> Vec<ProseAmount> {
    let mut out = Vec::new();
    let fields = [
        ("overview", section_text(&r.overview)),
        ("other_matters", section_text(&r.other_matters)),
        ("fee_statement", r.fee_statement.as_str()),
    ];
    for (field, t) in fields {
        for (i, _) in t.match_indices('元') {
            let head = &t[..i];
            let (head, scale) = match head.strip_suffix('万') {
                Some(h) => (h, 1_000_000i64),
                None => (head, 100i64),
            };
            let num_start = head
                .char_indices()
                .rev()
                .take_while(|&(_, c)| c.is_ascii_digit() || c == '.' || c == ',')
                .last()
                .map(|(j, _)| j);
            let Some(j) = num_start else { continue };
            let num = &head[j..];
            let Some(fen) = decimal_fen(num, scale) else {
                continue;
            };
            let context = suffix(&head[..j], 90);
            if context.contains('费') || context.contains("收取") {
                out.push(ProseAmount {
                    fen,
                    written: t[j..i + '元'.len_utf8()].to_string(),
                    field,
                });
            }
        }
    }
    out
}

fn check(ctx: &Ctx<'_>, out: &mut Out) {
    let r = ctx.report;
    let cell = CellRef::Proactive {
        row: 6,
        col: "amount",
    };
    let Some(CellValue::Money(m)) = cell.get(r) else {
        out.incomplete = true;
        return;
    };
    let path = cell.path();
    let unit = MoneyUnit::try_from(m.unit).unwrap_or_default();
    if unit == MoneyUnit::Yuan {
        let f = out.fail(
            format!("表二（八）收费金额“{}”以元填报，该栏单位为万元", m.raw),
            format!(
                "the table 二 （八） fee amount \"{}\" is written in 元; the column is in 万元",
                m.raw
            ),
            [path],
        );
        f.comparisons.push(comparison(
            "fee amount unit",
            "unit",
            "万元",
            "written in",
            "元",
        ));
        return;
    }
    let Some(fen) = m.fen else {
        out.incomplete = true;
        return;
    };
    if fen == 0 {
        return;
    }
    for a in prose_fee_amounts(r) {
        if a.fen.checked_mul(10_000) == Some(fen) {
            let f = out.fail(
                format!(
                    "表二（八）收费金额为{}万元，恰为正文“{}”的一万倍，疑似以元填入了万元栏",
                    m.decimal, a.written
                ),
                format!(
                    "the table 二 （八） fee amount {} 万元 is 10,000 times the prose's \"{}\": the table looks filled in 元",
                    m.decimal, a.written
                ),
                [path.clone(), a.field.to_string()],
            );
            f.comparisons.push(comparison(
                "fee amount",
                format!("prose \"{}\" in 万元", a.written),
                fen_in_wan(a.fen),
                "proactive.administrative_fees.amount",
                m.decimal.clone(),
            ));
            return;
        }
    }
    let level = r
        .agency
        .as_ref()
        .map(|a| AdministrativeLevel::try_from(a.level).unwrap_or_default())
        .unwrap_or_default();
    const LARGE_FEN: i64 = 1_000_000 * 1_000_000; // 1,000,000 万元
    if matches!(
        level,
        AdministrativeLevel::County | AdministrativeLevel::Township
    ) && fen >= LARGE_FEN
    {
        let f = out.fail(
            format!(
                "县级及以下机关的收费金额{}万元（超过100亿元）不合常理，疑似以元填入了万元栏",
                m.decimal
            ),
            format!(
                "a fee amount of {} 万元 (over 10 billion yuan) is implausible for a county or township body: it looks filled in 元",
                m.decimal
            ),
            [path],
        );
        f.comparisons.push(comparison(
            "fee amount",
            "below (万元)",
            "1000000",
            "proactive.administrative_fees.amount",
            m.decimal.clone(),
        ));
    }
}

fn fen_in_wan(fen: i64) -> String {
    let (int, frac) = (fen / 1_000_000, fen % 1_000_000);
    if frac == 0 {
        int.to_string()
    } else {
        format!("{int}.{frac:06}").trim_end_matches('0').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::{MoneyAmount, RuleOutcome};
    use crate::validate::test_support::{base, fails, passes, run, section};

    fn fee(r: &mut AnnualReport, decimal: &str, fen: i64, unit: MoneyUnit) {
        CellRef::Proactive {
            row: 6,
            col: "amount",
        }
        .set(
            r,
            Some(CellValue::Money(MoneyAmount {
                raw: decimal.into(),
                fen: Some(fen),
                unit: unit as i32,
                decimal: decimal.into(),
            })),
        );
    }

    #[test]
    fn s8_fee_in_yuan() {
        let mut r = base("v2021");
        fee(&mut r, "380", 380_000_000, MoneyUnit::WanYuan);
        r.other_matters = section("本年度收取信息处理费共计380元。");
        let f = fails(&r, "S8", "proactive.administrative_fees.amount");
        assert!(f.field_paths.contains(&"other_matters".to_string()));
        // Written in 万元 in the prose, in 元 in the table.
        r.other_matters = section("全年行政事业性收费1.5万元。");
        fee(&mut r, "15000", 15_000_000_000, MoneyUnit::WanYuan);
        fails(&r, "S8", "proactive.administrative_fees.amount");
        // Agreeing figures pass.
        fee(&mut r, "1.5", 1_500_000, MoneyUnit::WanYuan);
        passes(&r, "S8");
        // A cell written in 元.
        fee(&mut r, "380", 38_000, MoneyUnit::Yuan);
        fails(&r, "S8", "proactive.administrative_fees.amount");
        // Implausible for a county.
        let mut r = base("v2021");
        fee(&mut r, "73802895.9", 73_802_895_900_000, MoneyUnit::WanYuan);
        fails(&r, "S8", "proactive.administrative_fees.amount");
        // No amount: incomplete.
        let mut r = base("v2021");
        CellRef::Proactive {
            row: 6,
            col: "amount",
        }
        .set(&mut r, None);
        assert_eq!(run(&r, "S8").0, RuleOutcome::Incomplete);
    }
}
