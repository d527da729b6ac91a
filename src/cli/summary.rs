//! The readable summary of one parsed report: metadata, then tables 二, 三 and 四
//! laid out as grids in the format's printed order.
//!
//! Every label, row and column comes from `nianbao::format` (the one place that
//! spells the format) and every cell is read through `CellRef`, so this module
//! holds layout only. An absent cell (blank or missing in the source) shows as `·`;
//! it is never shown as 0.

use std::io::{self, Write};

use nianbao::format::{
    self, CellRef, Column, PROACTIVE_ROWS, REQUEST_COLUMNS, REQUEST_GROUPS, REQUEST_ROWS,
    REVIEW_COLUMNS, REVIEW_GROUPS, SECTIONS,
};
use nianbao::pb::{self, FormatVersion, InputLayout};

use super::term::{pad, pad_left, pad_right, truncate, width, Paint, Style};

/// How an absent cell is shown.
pub const ABSENT: &str = "·";
/// How a missing metadata value is shown.
const MISSING: &str = "—";
/// The widest row label of a grid, in columns.
const MAX_LABEL: usize = 34;

/// Writes the summary of `result` (parsed from the input named `name`).
pub fn write_summary(
    out: &mut dyn Write,
    name: &str,
    result: &pb::ParseResult,
    style: &Style,
) -> io::Result<()> {
    let empty = pb::AnnualReport::default();
    let report = result.report.as_ref().unwrap_or(&empty);
    write_header(out, name, style)?;
    write_metadata(out, report, style)?;
    writeln!(out)?;
    write_proactive(out, report, style)?;
    writeln!(out)?;
    write_requests(out, report, style)?;
    writeln!(out)?;
    write_review(out, report, style)?;
    writeln!(out)
}

/// The line that opens the output of one input: `── name ─────…`.
pub fn write_header(out: &mut dyn Write, name: &str, style: &Style) -> io::Result<()> {
    let rule = "─".repeat(60usize.saturating_sub(width(name) + 4));
    writeln!(
        out,
        "{}",
        style.paint(Paint::Bold, &format!("── {name} {rule}"))
    )
}

fn write_metadata(out: &mut dyn Write, r: &pb::AnnualReport, style: &Style) -> io::Result<()> {
    let or_missing = |s: String| if s.is_empty() { MISSING.to_string() } else { s };
    let agency = r.agency.as_ref().map_or(String::new(), |a| {
        let codes: Vec<&str> = [&a.division_code, &a.unified_social_credit_code]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        if codes.is_empty() || a.name.is_empty() {
            a.name.clone()
        } else {
            format!("{} ({})", a.name, codes.join(", "))
        }
    });
    let year = if r.year > 0 {
        r.year.to_string()
    } else {
        String::new()
    };
    let date = r.publication_date.as_ref().map_or(String::new(), |d| {
        format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
    });
    let source = r.source.as_ref().map_or(String::new(), |s| {
        let mut parts = Vec::new();
        if !s.encoding.is_empty() {
            parts.push(s.encoding.clone());
        }
        if let Some(layout) = layout_name(s.layout) {
            parts.push(format!("{layout} layout"));
        }
        if !s.url.is_empty() {
            parts.push(s.url.clone());
        }
        parts.join(", ")
    });
    let rows = [
        ("agency", agency),
        ("year", year),
        ("format version", version_text(r)),
        ("title", r.title.clone()),
        ("publication date", date),
        ("source", source),
    ];
    for (key, value) in rows {
        writeln!(
            out,
            "{} {}",
            style.paint(Paint::Bold, &pad_right(key, 17)),
            or_missing(value)
        )?;
    }
    Ok(())
}

/// `V2021`, or `V2021 (table 二 V2021, table 三 V2019)` when the tables differ.
fn version_text(r: &pb::AnnualReport) -> String {
    let mut text = version_name(r.format_version)
        .unwrap_or_default()
        .to_string();
    if let Some(tv) = &r.table_versions {
        let (p, q) = (version_name(tv.proactive), version_name(tv.requests));
        if (p.is_some() || q.is_some())
            && (tv.proactive != tv.requests || tv.proactive != r.format_version)
        {
            let parts: Vec<String> = [("table 二", p), ("table 三", q)]
                .into_iter()
                .filter_map(|(t, v)| v.map(|v| format!("{t} {v}")))
                .collect();
            text = format!(
                "{} ({})",
                if text.is_empty() { MISSING } else { &text },
                parts.join(", ")
            );
        }
    }
    text
}

/// `V2019`, `V2021`, `LEGACY`; `None` when unspecified.
pub fn version_name(v: i32) -> Option<&'static str> {
    match FormatVersion::try_from(v).ok()? {
        FormatVersion::Unspecified => None,
        v => v.as_str_name().strip_prefix("FORMAT_VERSION_"),
    }
}

fn layout_name(l: i32) -> Option<&'static str> {
    Some(match InputLayout::try_from(l).ok()? {
        InputLayout::Unspecified => return None,
        InputLayout::PipeCells => "pipe-cells",
        InputLayout::Html => "HTML",
        InputLayout::Spaced => "spaced",
        InputLayout::Glued => "glued",
        InputLayout::Markdown => "markdown",
        InputLayout::Structured => "structured",
    })
}

/// The version a table's layout follows: its own if recorded, else the report's.
fn table_version(r: &pb::AnnualReport, own: Option<i32>) -> FormatVersion {
    let pick = |v: i32| FormatVersion::try_from(v).unwrap_or(FormatVersion::Unspecified);
    match own.map(pick) {
        Some(v @ (FormatVersion::V2019 | FormatVersion::V2021)) => v,
        _ => pick(r.format_version),
    }
}

/// The section heading as the format prints it, e.g. `三、收到和处理政府信息公开申请情况`.
fn heading(section: pb::SectionId) -> String {
    SECTIONS
        .iter()
        .find(|s| s.id == section)
        .map_or(String::new(), |s| format!("{}、{}", s.numeral, s.heading))
}

fn write_heading(
    out: &mut dyn Write,
    section: pb::SectionId,
    version: FormatVersion,
    style: &Style,
) -> io::Result<()> {
    let tag = match version {
        FormatVersion::V2019 | FormatVersion::V2021 => {
            format!("  [{}]", version_name(version as i32).unwrap_or_default())
        }
        _ => String::new(),
    };
    writeln!(out, "{}{tag}", style.paint(Paint::Bold, &heading(section)))
}

/// Writes the line that stands for a table that has no values.
fn write_absent_table(
    out: &mut dyn Write,
    version: FormatVersion,
    style: &Style,
) -> io::Result<()> {
    let why = if version == FormatVersion::Legacy {
        "not read (pre-2019 free-form table)"
    } else {
        "not found"
    };
    writeln!(out, "  {}", style.paint(Paint::Dim, why))
}

/// A cell's text: its value, or [`ABSENT`].
fn cell_text(cell: CellRef, report: &pb::AnnualReport) -> String {
    match cell.get(report) {
        Some(format::CellValue::Money(m)) => money_text(&m),
        Some(v) => v.to_string(),
        None => ABSENT.to_string(),
    }
}

fn money_text(m: &pb::MoneyAmount) -> String {
    let number = if m.decimal.is_empty() {
        &m.raw
    } else {
        &m.decimal
    };
    match pb::MoneyUnit::try_from(m.unit) {
        Ok(pb::MoneyUnit::WanYuan) => format!("{number} 万元"),
        Ok(pb::MoneyUnit::Yuan) => format!("{number} 元"),
        _ => number.clone(),
    }
}

// ------------------------------------------------------------------ table 二

fn write_proactive(out: &mut dyn Write, r: &pb::AnnualReport, style: &Style) -> io::Result<()> {
    let version = table_version(r, r.table_versions.as_ref().map(|t| t.proactive));
    write_heading(out, pb::SectionId::Proactive, version, style)?;
    if r.proactive.is_none() {
        return write_absent_table(out, version, style);
    }
    let layout = match version {
        FormatVersion::V2019 => FormatVersion::V2019,
        _ => FormatVersion::V2021,
    };
    // One line per row: caption (when it changes), label, then `column value` pairs.
    let rows: Vec<(&str, &str, Vec<String>)> = format::proactive_rows(layout)
        .iter()
        .map(|&i| {
            let spec = &PROACTIVE_ROWS[i];
            let pairs = spec
                .columns(layout)
                .iter()
                .map(|c: &Column| {
                    let cell = CellRef::Proactive {
                        row: i as u8,
                        col: c.id,
                    };
                    format!("{} {}", c.label, cell_text(cell, r))
                })
                .collect();
            (spec.caption, spec.label, pairs)
        })
        .collect();
    let caption_w = rows.iter().map(|r| width(r.0)).max().unwrap_or(0);
    let label_w = rows.iter().map(|r| width(r.1)).max().unwrap_or(0);
    // `column value` pairs line up among the rows of one sub-table (same caption).
    let slot_w = |caption: &str, j: usize| {
        rows.iter()
            .filter(|r| r.0 == caption)
            .filter_map(|r| r.2.get(j))
            .map(|s| width(s))
            .max()
            .unwrap_or(0)
    };
    let mut last_caption = "";
    for (caption, label, pairs) in &rows {
        let shown = if *caption == last_caption {
            ""
        } else {
            caption
        };
        last_caption = caption;
        let mut line = format!(
            "  {}  {}",
            pad_right(shown, caption_w),
            pad_right(label, label_w)
        );
        for (j, p) in pairs.iter().enumerate() {
            line.push_str("   ");
            line.push_str(&pad_right(p, slot_w(caption, j)));
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

// ------------------------------------------------------------------ tables 三 and 四

/// Writes a grid: row labels down the left, `headers` across, cells right-aligned.
fn write_grid(
    out: &mut dyn Write,
    headers: &[&str],
    rows: &[(String, Vec<String>)],
    style: &Style,
) -> io::Result<()> {
    let label_w = rows.iter().map(|r| width(&r.0)).max().unwrap_or(0);
    let col_w: Vec<usize> = headers
        .iter()
        .enumerate()
        .map(|(j, h)| {
            rows.iter()
                .filter_map(|r| r.1.get(j))
                .map(|s| width(s))
                .chain([width(h)])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut head = format!("  {}", pad(0, label_w));
    for (h, w) in headers.iter().zip(&col_w) {
        head.push_str("  ");
        head.push_str(&pad_left(h, *w));
    }
    writeln!(out, "{}", style.paint(Paint::Bold, head.trim_end()))?;
    for (label, cells) in rows {
        let mut line = format!("  {}", pad_right(label, label_w));
        for (c, w) in cells.iter().zip(&col_w) {
            line.push_str("  ");
            if c == ABSENT {
                line.push_str(&pad(width(c), *w));
                line.push_str(&style.paint(Paint::Dim, c));
            } else {
                line.push_str(&pad_left(c, *w));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// A row label with its printed numbering (`一、…`, `(一)…`, `1.…`), indented by
/// its level in the table's outline.
fn numbered(numbering: &str, label: &str) -> String {
    let (sep, level) = match numbering.chars().next() {
        None => ("", 0),
        Some('(') => ("", 1),
        Some(c) if c.is_ascii_digit() => (".", 2),
        Some(_) => ("、", 0),
    };
    outline(level, &format!("{numbering}{sep}{label}"))
}

/// `text` indented to `level`, cut to [`MAX_LABEL`].
fn outline(level: usize, text: &str) -> String {
    truncate(&format!("{}{text}", "  ".repeat(level)), MAX_LABEL)
}

fn write_requests(out: &mut dyn Write, r: &pb::AnnualReport, style: &Style) -> io::Result<()> {
    let version = table_version(r, r.table_versions.as_ref().map(|t| t.requests));
    write_heading(out, pb::SectionId::Requests, version, style)?;
    let Some(table) = &r.requests else {
        return write_absent_table(out, version, style);
    };
    let layout = match version {
        FormatVersion::V2019 => FormatVersion::V2019,
        _ => FormatVersion::V2021,
    };
    // The version's rows in printed order, then any other row that holds values
    // (a report mixing versions), so nothing parsed is hidden.
    let printed = format::requests_rows(layout);
    let extra = (0..REQUEST_ROWS.len())
        .filter(|i| !printed.contains(i) && format::request_row(table, *i).is_some());
    let order: Vec<usize> = printed.iter().copied().chain(extra).collect();
    // Group labels (no numbers) go before the first row they head.
    let mut rows: Vec<(String, Vec<String>)> = Vec::with_capacity(order.len() + 5);
    for &i in &order {
        let spec = &REQUEST_ROWS[i];
        for (depth, (label, first)) in REQUEST_GROUPS.iter().enumerate() {
            if *first == spec.id {
                rows.push((outline(usize::from(depth > 0), label), Vec::new()));
            }
        }
        let cells = (0..REQUEST_COLUMNS.len())
            .map(|c| cell_text(CellRef::request(i, c), r))
            .collect();
        rows.push((numbered(spec.numbering, spec.label), cells));
    }
    let headers: Vec<&str> = REQUEST_COLUMNS.iter().map(|c| c.label).collect();
    write_grid(out, &headers, &rows, style)
}

fn write_review(out: &mut dyn Write, r: &pb::AnnualReport, style: &Style) -> io::Result<()> {
    write_heading(
        out,
        pb::SectionId::ReviewLitigation,
        FormatVersion::Unspecified,
        style,
    )?;
    if r.review_litigation.is_none() {
        let version =
            FormatVersion::try_from(r.format_version).unwrap_or(FormatVersion::Unspecified);
        return write_absent_table(out, version, style);
    }
    let rows: Vec<(String, Vec<String>)> = REVIEW_GROUPS
        .iter()
        .enumerate()
        .map(|(g, (_, label))| {
            let cells = (0..REVIEW_COLUMNS.len())
                .map(|c| cell_text(CellRef::review(g, c), r))
                .collect();
            (label.to_string(), cells)
        })
        .collect();
    let headers: Vec<&str> = REVIEW_COLUMNS.iter().map(|c| c.label).collect();
    write_grid(out, &headers, &rows, style)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(result: &pb::ParseResult) -> String {
        let mut out = Vec::new();
        write_summary(&mut out, "r.txt", result, &Style::new(false)).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn an_empty_result_renders_every_part_as_missing() {
        let out = render(&pb::ParseResult::default());
        assert!(out.contains("agency            —"), "{out}");
        assert_eq!(out.matches("not found").count(), 3, "{out}");
    }

    #[test]
    fn cells_line_up_and_absent_cells_are_dots() {
        let mut report = pb::AnnualReport {
            format_version: FormatVersion::V2021 as i32,
            ..Default::default()
        };
        CellRef::request(0, 0).set(&mut report, Some(format::CellValue::Int(110)));
        CellRef::request(0, 6).set(&mut report, Some(format::CellValue::Int(12345)));
        CellRef::review(1, 4).set(&mut report, Some(format::CellValue::Int(7)));
        let out = render(&pb::ParseResult {
            report: Some(report),
            ..Default::default()
        });
        let lines: Vec<&str> = out.lines().collect();
        let header = lines.iter().find(|l| l.contains("自然人")).unwrap();
        let first = lines.iter().find(|l| l.contains("本年新收")).unwrap();
        let second = lines.iter().find(|l| l.contains("上年结转")).unwrap();
        // Right edges of the 总计 column agree on every line.
        assert_eq!(width(header), width(first), "{out}");
        assert_eq!(width(first), width(second), "{out}");
        assert!(
            first.ends_with("12345") && second.ends_with(ABSENT),
            "{out}"
        );
        assert!(first.contains(" 110 "), "{out}");
        assert!(out.contains("[V2021]"), "{out}");
        let direct = lines
            .iter()
            .find(|l| l.contains("未经复议直接起诉"))
            .unwrap();
        assert!(direct.ends_with(" 7"), "{out}");
    }

    #[test]
    fn v2019_requests_keep_the_single_other_handling_row() {
        let mut report = pb::AnnualReport {
            format_version: FormatVersion::V2019 as i32,
            ..Default::default()
        };
        CellRef::request(25, 6).set(&mut report, Some(format::CellValue::Int(4)));
        let out = render(&pb::ParseResult {
            report: Some(report),
            ..Default::default()
        });
        let table: Vec<&str> = out
            .lines()
            .skip_while(|l| !l.starts_with("三、"))
            .take_while(|l| !l.is_empty())
            .collect();
        // Header line, title line, 23 rows and 4 group labels ((六) is a data row).
        assert_eq!(table.len(), 2 + 23 + 4, "{out}");
        let other = table.iter().find(|l| l.contains("(六)其他处理")).unwrap();
        assert!(other.ends_with(" 4"), "{out}");
        assert!(!out.contains("逾期不补正"), "{out}");
    }
}
