//! A6 · Fee amount is a valid decimal ≥ 0.
//!
//! The rule's catalogue entry and its check.

use crate::format::{CellRef, CellValue};
use crate::pb::{FormatVersion, MoneyUnit, RuleBasis, Severity};
use crate::validate::engine::{comparison, Ctx, Out};
use crate::validate::{Category, Rule};

pub(super) static A6: Rule = Rule {
    code: "A6",
    severity: Severity::Error,
    title: "收费金额为非负的有效小数（万元，至多6位小数）",
    title_en: "Fee amount is a valid decimal ≥ 0",
    description: "proactive.administrative_fees.amount is a decimal ≥ 0 in 万元 with at most 6 decimals (to the fen), and its fixed-point value agrees with its text.",
    versions: &[FormatVersion::V2021],
    basis: RuleBasis::Derived,
    reference: "表二第二十条第（八）项 本年收费金额（单位：万元）",
    category: Category::Arithmetic,
    check,
};

fn check(ctx: &Ctx<'_>, out: &mut Out) {
    let cell = CellRef::Proactive {
        row: 6,
        col: "amount",
    };
    let Some(CellValue::Money(m)) = cell.get(ctx.report) else {
        out.incomplete = true;
        return;
    };
    let path = cell.path();
    let decimal = m.decimal.trim();
    let (int, frac) = decimal.split_once('.').unwrap_or((decimal, ""));
    let valid = !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit());
    if !valid {
        out.fail(
            format!("收费金额“{}”不是有效的非负小数", m.raw),
            format!("the fee amount \"{}\" is not a valid decimal ≥ 0", m.raw),
            [path],
        );
        return;
    }
    if frac.len() > 6 {
        out.fail(
            format!("收费金额“{}”超过6位小数（万元精确到分只需6位）", m.raw),
            format!(
                "the fee amount \"{}\" has more than 6 decimals (万元 to the fen needs 6)",
                m.raw
            ),
            [path.clone()],
        );
    }
    let unit = MoneyUnit::try_from(m.unit).unwrap_or_default();
    if unit == MoneyUnit::WanYuan {
        let expected = crate::format::fen(decimal, MoneyUnit::WanYuan);
        if expected.is_some() && m.fen != expected {
            let f = out.fail(
                format!("收费金额的定点值与其文本“{}”不符", m.raw),
                format!(
                    "the fee amount's fixed-point value does not match its text \"{}\"",
                    m.raw
                ),
                [path],
            );
            f.comparisons.push(comparison(
                "fee amount in fen",
                "decimal × 10^6",
                expected.map_or(String::new(), |v| v.to_string()),
                "fen",
                m.fen.map_or(String::new(), |v| v.to_string()),
            ));
        }
    }
}
