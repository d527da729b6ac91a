//! Random VALID reports for the property tests.
//!
//! A [`Raw`] is what proptest draws (flags and vectors of small numbers, so
//! shrinking moves towards zeros and short vectors); [`build`] turns it into a
//! complete `pb::AnnualReport` whose tables satisfy every arithmetic relation of
//! the format: table 三 leaf rows are drawn per applicant column, `results_total`
//! is their sum, `carried_forward` and `carried_over` are drawn and `new_received`
//! follows from `new + carried = results_total + carried_forward`, and every row's
//! `total` is the sum of the six applicant columns; table 四 group totals are the
//! sum of their four outcomes. Rows, columns and ids all come from
//! `nianbao::format`.

use nianbao::format::{
    self, CellKind, CellRef, CellValue, PROACTIVE_ROWS, REQUEST_COLUMNS, REQUEST_TOTAL_COL,
    REVIEW_COLUMNS, REVIEW_GROUPS, TITLE_SUFFIX,
};
use nianbao::pb::{self, FormatVersion, MoneyAmount, MoneyUnit};
use proptest::prelude::*;

use super::canonical_decimal;

/// Agencies the generator names (none contains a label of the format).
pub const AGENCIES: [&str; 8] = [
    "南通市崇川区人民政府办公室",
    "平潭综合实验区经济发展局",
    "沭阳县人民政府",
    "苏州市教育局",
    "杭州市西湖区市场监督管理局",
    "福州市自然资源和规划局",
    "上海市科学技术委员会",
    "成都市武侯区文化广电旅游局",
];

/// How a generated report is written (choices real reports vary in).
#[derive(Clone, Debug)]
pub struct Style {
    /// Full-width brackets, commas and colons and curly quotes in labels
    /// (（一） ， ： “”) instead of the catalogue's ASCII forms.
    pub fullwidth: bool,
    /// Positive 本年增/减 values written with a sign ("+12").
    pub plus_sign: bool,
    /// Title says "2022年度" rather than "2022年".
    pub nian_du: bool,
    /// Glued layout: a space between a row label and its digits.
    pub label_gap: bool,
    /// Glued layout: header cells separated by spaces.
    pub header_gap: bool,
    /// Which prose variant each section gets.
    pub prose: [u8; 6],
}

/// What proptest draws for one report.
#[derive(Clone, Debug)]
pub struct Raw {
    pub v2021: bool,
    pub year_pick: u8,
    pub agency_pick: u8,
    pub style: Style,
    /// Small counts (table 三 leaves and carry-overs, table 四, table 二 documents).
    pub counts: Vec<u32>,
    /// Larger counts (table 二 decisions and item counts).
    pub big: Vec<u32>,
    /// V2019 本年增/减.
    pub signed: Vec<i32>,
    /// Fee in 万元: integer part, number of decimals (0–6), decimal digits.
    pub fee: (u32, u8, u32),
    /// V2019 procurement: yuan, and cents written with 0, 1 or 2 decimals.
    pub procurement: (u32, u8, u8),
}

/// A generated report and how to write it.
#[derive(Clone, Debug)]
pub struct Generated {
    pub report: pb::AnnualReport,
    pub version: FormatVersion,
    pub agency: String,
    pub style: Style,
}

fn small_count() -> impl Strategy<Value = u32> {
    prop_oneof![
        6 => Just(0u32),
        3 => 1u32..10,
        2 => 10u32..100,
        1 => 100u32..1000,
    ]
}

fn big_count() -> impl Strategy<Value = u32> {
    prop_oneof![
        3 => Just(0u32),
        3 => 1u32..100,
        2 => 100u32..10_000,
        1 => 10_000u32..1_000_000,
    ]
}

fn signed_change() -> impl Strategy<Value = i32> {
    prop_oneof![4 => Just(0i32), 3 => -60i32..60, 1 => -2000i32..2000]
}

fn style() -> impl Strategy<Value = Style> {
    (any::<[bool; 5]>(), any::<[u8; 6]>()).prop_map(|(b, prose)| Style {
        fullwidth: b[0],
        plus_sign: b[1],
        nian_du: b[2],
        label_gap: b[3],
        header_gap: b[4],
        prose,
    })
}

/// The strategy for one report.
pub fn raw_report() -> impl Strategy<Value = Raw> {
    (
        any::<bool>(),
        any::<u8>(),
        any::<u8>(),
        style(),
        prop::collection::vec(small_count(), 200),
        prop::collection::vec(big_count(), 24),
        prop::collection::vec(signed_change(), 8),
        (
            prop_oneof![Just(0u32), 0u32..100, 0u32..100_000],
            0u8..=6,
            any::<u32>(),
        ),
        (
            prop_oneof![Just(0u32), 0u32..1_000_000, 0u32..100_000_000],
            0u8..=2,
            0u8..100,
        ),
    )
        .prop_map(
            |(v2021, year_pick, agency_pick, style, counts, big, signed, fee, procurement)| Raw {
                v2021,
                year_pick,
                agency_pick,
                style,
                counts,
                big,
                signed,
                fee,
                procurement,
            },
        )
}

/// Draws values in order; zeros once a vector runs out.
struct Pull<'a, T> {
    values: &'a [T],
    next: usize,
}

impl<T: Copy + Default> Pull<'_, T> {
    fn new(values: &[T]) -> Pull<'_, T> {
        Pull { values, next: 0 }
    }
    fn take(&mut self) -> T {
        let v = self.values.get(self.next).copied().unwrap_or_default();
        self.next += 1;
        v
    }
}

fn set_int(report: &mut pb::AnnualReport, cell: CellRef, v: i64) {
    cell.set(report, Some(CellValue::Int(v)));
}

/// Builds the complete, valid report described by `raw`.
pub fn build(raw: &Raw) -> Generated {
    let version = if raw.v2021 {
        FormatVersion::V2021
    } else {
        FormatVersion::V2019
    };
    let year = match version {
        FormatVersion::V2019 => 2019 + i32::from(raw.year_pick % 2),
        _ => 2021 + i32::from(raw.year_pick % 5),
    };
    let agency = AGENCIES[usize::from(raw.agency_pick) % AGENCIES.len()].to_string();
    let nian = if raw.style.nian_du { "年度" } else { "年" };
    let mut report = pb::AnnualReport {
        agency: Some(pb::Agency {
            name: agency.clone(),
            ..Default::default()
        }),
        year,
        format_version: version as i32,
        title: format!("{agency}{year}{nian}{TITLE_SUFFIX}"),
        ..Default::default()
    };
    let mut counts = Pull::new(&raw.counts);
    let mut big = Pull::new(&raw.big);
    let mut signed = Pull::new(&raw.signed);

    // ---- table 三
    let row = |id: &str| {
        format::request_row_index(id).unwrap_or_else(|| panic!("catalogue has no row {id}"))
    };
    let (new, carried, results, forward) = (
        row("new_received"),
        row("carried_over"),
        row("results_total"),
        row("carried_forward"),
    );
    for c in 0..REQUEST_TOTAL_COL {
        let mut handled = 0i64;
        for &r in format::result_leaf_rows(version) {
            let v = i64::from(counts.take());
            set_int(&mut report, CellRef::request(r, c), v);
            handled += v;
        }
        set_int(&mut report, CellRef::request(results, c), handled);
        let fwd = i64::from(counts.take());
        set_int(&mut report, CellRef::request(forward, c), fwd);
        let incoming = handled + fwd;
        let over = i64::from(counts.take()) % (incoming + 1);
        set_int(&mut report, CellRef::request(carried, c), over);
        set_int(&mut report, CellRef::request(new, c), incoming - over);
    }
    for &r in format::requests_rows(version) {
        let total: i64 = (0..REQUEST_TOTAL_COL)
            .map(|c| CellRef::request(r, c).get_int(&report).unwrap_or(0))
            .sum();
        set_int(&mut report, CellRef::request(r, REQUEST_TOTAL_COL), total);
    }
    debug_assert_eq!(REQUEST_COLUMNS.len(), REQUEST_TOTAL_COL + 1);

    // ---- table 四
    let group_total = REVIEW_COLUMNS.len() - 1;
    for g in 0..REVIEW_GROUPS.len() {
        let mut sum = 0i64;
        for c in 0..group_total {
            let v = i64::from(counts.take() % 40);
            set_int(&mut report, CellRef::review(g, c), v);
            sum += v;
        }
        set_int(&mut report, CellRef::review(g, group_total), sum);
    }

    // ---- table 二 (no arithmetic; the generator keeps A7/A8 happy anyway)
    for &r in format::proactive_rows(version) {
        let spec = &PROACTIVE_ROWS[r];
        let mut row_values: Vec<(&str, i64)> = Vec::new();
        let prev = |vals: &Vec<(&str, i64)>, id: &str| {
            vals.iter().find(|(c, _)| *c == id).map_or(0, |&(_, v)| v)
        };
        for col in spec.columns(version) {
            let cell = CellRef::Proactive {
                row: r as u8,
                col: col.id,
            };
            match col.kind {
                CellKind::Count => {
                    let v = match col.id {
                        "in_force" => {
                            (prev(&row_values, "issued") - prev(&row_values, "repealed")).max(0)
                                + i64::from(counts.take())
                        }
                        "total_published" => {
                            prev(&row_values, "newly_published") + i64::from(counts.take())
                        }
                        "decisions" | "prev_year_items" => i64::from(big.take()),
                        _ => i64::from(counts.take()),
                    };
                    set_int(&mut report, cell, v);
                    row_values.push((col.id, v));
                }
                CellKind::Signed => {
                    let floor = -prev(&row_values, "prev_year_items");
                    let v = i64::from(signed.take()).max(floor);
                    set_int(&mut report, cell, v);
                    row_values.push((col.id, v));
                }
                CellKind::Money(MoneyUnit::WanYuan) => {
                    let (int, places, digits) = raw.fee;
                    let places = u32::from(places.min(6));
                    let frac = u64::from(digits) % 10u64.pow(places);
                    let text = if places == 0 {
                        int.to_string()
                    } else {
                        format!("{int}.{frac:0width$}", width = places as usize)
                    };
                    let fen = i64::from(int) * 1_000_000 + (frac * 10u64.pow(6 - places)) as i64;
                    cell.set(
                        &mut report,
                        Some(CellValue::Money(money(
                            &text,
                            &text,
                            MoneyUnit::WanYuan,
                            fen,
                        ))),
                    );
                }
                CellKind::Money(_) => {
                    let (yuan, places, cents) = raw.procurement;
                    let (text, fen) = match places {
                        0 => (yuan.to_string(), i64::from(yuan) * 100),
                        1 => {
                            let d = cents % 10;
                            (
                                format!("{yuan}.{d}"),
                                i64::from(yuan) * 100 + i64::from(d) * 10,
                            )
                        }
                        _ => (
                            format!("{yuan}.{cents:02}"),
                            i64::from(yuan) * 100 + i64::from(cents),
                        ),
                    };
                    let raw_text = format!("{text}元");
                    cell.set(
                        &mut report,
                        Some(CellValue::Money(money(
                            &raw_text,
                            &text,
                            MoneyUnit::Yuan,
                            fen,
                        ))),
                    );
                }
            }
        }
    }

    Generated {
        report,
        version,
        agency,
        style: raw.style.clone(),
    }
}

fn money(raw: &str, number: &str, unit: MoneyUnit, fen: i64) -> MoneyAmount {
    MoneyAmount {
        raw: raw.to_string(),
        fen: Some(fen),
        unit: unit as i32,
        decimal: canonical_decimal(number)
            .unwrap_or_else(|| panic!("generated money {number:?} is not a decimal")),
    }
}
