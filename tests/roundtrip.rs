//! Property tests: a random valid report (V2021 or V2019), written out as a whole
//! published report, parses back to the same cells.
//!
//! * `separated_layouts_parse_back_exactly` — pipe-cells, HTML and spaced layouts:
//!   every cell of both versions' catalogues equals the generated one (absent
//!   where the version has no such cell), same format version and year, and no
//!   ERROR diagnostic.
//! * `glued_layout_never_guesses` — the flattened crawl: every table-三/四 cell
//!   and every cell of a several-cell table-二 row is either the generated value,
//!   or absent with a P035 diagnostic one of whose candidates is the truth; a
//!   different value is a silent wrong guess and fails. Single-value table-二 rows
//!   must come back exactly.
//!
//! The generator and the renderers are checked on their own first (the
//! arithmetic holds, prose names no label, every label is rendered), so a
//! failure of the properties is the parser's.
//!
//! Cases: 64 per property unless `PROPTEST_CASES` is set. Failing inputs are not
//! persisted; the minimal case is printed and its rendered text written to
//! `target/tmp/roundtrip/`.

mod common;

use common::gen::{self, Generated, Raw, Style, AGENCIES};
use common::render::{self, Layout};
use common::{
    cells_of_both_versions, check_cell, describe_diag, describe_diags, is_error, truth_of_report,
    unit_name, version_name, Truth, Verdict,
};
use nianbao::format::{
    self, all_cells, CellRef, CellValue, PROACTIVE_ROWS, REQUEST_COLUMNS, REQUEST_GROUPS,
    REQUEST_GROUP_KEYS, REQUEST_ROWS, REVIEW_COLUMNS, REVIEW_HEADER_KEYS, SECTIONS, V2019_MARKERS,
    V2021_MARKERS,
};
use nianbao::parse::{parse, ParseOptions};
use nianbao::pb::{self, FormatVersion};
use proptest::prelude::*;

/// 64 cases unless PROPTEST_CASES says otherwise (ProptestConfig::default reads it).
fn config() -> ProptestConfig {
    let mut c = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = 64;
    }
    c.max_shrink_iters = 256;
    c.failure_persistence = None;
    c
}

fn parse_rendered(g: &Generated, layout: Layout) -> (String, pb::ParseResult) {
    let doc = render::render(g, layout);
    let result = parse(
        doc.as_bytes(),
        &ParseOptions {
            label: format!("generated-{layout:?}.{}", layout.extension()),
            ..Default::default()
        },
    );
    (doc, result)
}

/// Compares a parse result with the generated report. `may_be_ambiguous(cell)`:
/// whether the cell may instead be absent with a P035 candidate giving the truth.
fn compare(
    g: &Generated,
    result: &pb::ParseResult,
    may_be_ambiguous: &dyn Fn(&CellRef) -> bool,
) -> Vec<String> {
    let empty = pb::AnnualReport::default();
    let report = result.report.as_ref().unwrap_or(&empty);
    let mut problems = Vec::new();
    if report.format_version != g.report.format_version {
        problems.push(format!(
            "format_version: expected {}, got {}",
            version_name(g.report.format_version),
            version_name(report.format_version)
        ));
    }
    if report.year != g.report.year {
        problems.push(format!(
            "year: expected {}, got {}",
            g.report.year, report.year
        ));
    }
    let truth_of = |path: &str| {
        CellRef::from_path(path).map_or(Truth::Absent, |c| truth_of_report(&g.report, &c))
    };
    for cell in cells_of_both_versions() {
        let truth = truth_of_report(&g.report, &cell);
        match check_cell(
            &cell,
            &truth,
            report,
            &result.diagnostics,
            &truth_of,
            may_be_ambiguous(&cell),
        ) {
            Err(m) => problems.push(m),
            Ok(Verdict::Exact) => {
                if let (Some(CellValue::Money(want)), Some(CellValue::Money(got))) =
                    (cell.get(&g.report), cell.get(report))
                {
                    if got.unit != want.unit || got.fen != want.fen {
                        problems.push(format!(
                            "{}: published {:?}: expected unit {} fen {:?}, got unit {} fen {:?}",
                            cell.path(),
                            want.raw,
                            unit_name(want.unit),
                            want.fen,
                            unit_name(got.unit),
                            got.fen
                        ));
                    }
                }
            }
            Ok(_) => {}
        }
    }
    problems
}

/// In the glued layout a cell may be left ambiguous when its row has several
/// cells: every cell of tables 三 and 四, and table-二 rows with more than one column.
fn glued_may_be_ambiguous(version: FormatVersion, cell: &CellRef) -> bool {
    match *cell {
        CellRef::Request { .. } | CellRef::Review { .. } => true,
        CellRef::Proactive { row, .. } => {
            PROACTIVE_ROWS[usize::from(row)].columns(version).len() > 1
        }
    }
}

/// A failure message: what was generated, every problem, the diagnostics, and
/// where the rendered text was written.
fn failure(
    layout: Layout,
    g: &Generated,
    doc: &str,
    result: &pb::ParseResult,
    problems: &[String],
) -> String {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("roundtrip");
    let path = dir.join(format!("last-failure-{layout:?}.{}", layout.extension()));
    let written = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&path, doc))
        .map_or_else(
            |e| format!("(could not write it: {e})"),
            |()| path.display().to_string(),
        );
    const SHOWN: usize = 40;
    let mut lines: Vec<String> = problems
        .iter()
        .take(SHOWN)
        .map(|p| format!("  {p}"))
        .collect();
    if problems.len() > SHOWN {
        lines.push(format!("  … and {} more", problems.len() - SHOWN));
    }
    format!(
        "{layout:?} layout of a generated {} report ({}, {}): {} problem(s)\n{}\ndiagnostics:\n{}\nrendered text: {written}",
        version_name(g.report.format_version),
        g.agency,
        g.report.year,
        problems.len(),
        lines.join("\n"),
        describe_diags(&result.diagnostics),
    )
}

proptest! {
    #![proptest_config(config())]

    /// Property 1: pipe-cells, HTML and spaced layouts parse back exactly.
    #[test]
    fn separated_layouts_parse_back_exactly(raw in gen::raw_report()) {
        let g = gen::build(&raw);
        let mut failures = Vec::new();
        for layout in [Layout::PipeCells, Layout::Html, Layout::Spaced] {
            let (doc, result) = parse_rendered(&g, layout);
            let mut problems = compare(&g, &result, &|_| false);
            problems.extend(
                result
                    .diagnostics
                    .iter()
                    .filter(|d| is_error(d))
                    .map(|d| format!("unexpected ERROR diagnostic: {}", describe_diag(d))),
            );
            if !problems.is_empty() {
                failures.push(failure(layout, &g, &doc, &result, &problems));
            }
        }
        prop_assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    }

    /// Property 2: the glued layout gives the truth or lists it among P035
    /// candidates; it never guesses.
    #[test]
    fn glued_layout_never_guesses(raw in gen::raw_report()) {
        let g = gen::build(&raw);
        let (doc, result) = parse_rendered(&g, Layout::Glued);
        let problems = compare(&g, &result, &|c| glued_may_be_ambiguous(g.version, c));
        prop_assert!(problems.is_empty(), "{}", failure(Layout::Glued, &g, &doc, &result, &problems));
    }

    /// The generator itself: complete tables of the drawn version, nothing of the
    /// other, and every arithmetic relation of the catalogue holds.
    #[test]
    fn generated_reports_are_valid(raw in gen::raw_report()) {
        let g = gen::build(&raw);
        let own = all_cells(g.version);
        for cell in cells_of_both_versions() {
            let present = cell.get(&g.report).is_some();
            prop_assert_eq!(present, own.contains(&cell), "{} present = {}", cell.path(), present);
        }
        for rel in format::relations(g.version) {
            prop_assert_eq!(
                rel.residual(|c| c.get_int(&g.report)),
                Some(0),
                "{} does not hold: {:?} = {:?}",
                rel.kind.code(),
                rel.lhs.iter().map(CellRef::path).collect::<Vec<_>>(),
                rel.rhs.iter().map(CellRef::path).collect::<Vec<_>>()
            );
        }
        for layout in [Layout::PipeCells, Layout::Html, Layout::Spaced, Layout::Glued] {
            let text = ascii_punct(&render::render(&g, layout));
            for label in catalogue_labels(g.version) {
                prop_assert!(text.contains(&label), "{:?} layout lacks the label {:?}", layout, label);
            }
        }
    }
}

/// The renderers' full-width punctuation and HTML escapes undone, to find
/// catalogue labels in rendered text.
fn ascii_punct(s: &str) -> String {
    s.replace("&quot;", "\"")
        .chars()
        .map(|c| match c {
            '（' => '(',
            '）' => ')',
            '，' => ',',
            '：' => ':',
            '“' | '”' => '"',
            c => c,
        })
        .collect()
}

/// Every label a rendering of `version` must contain, straight from the catalogue.
fn catalogue_labels(version: FormatVersion) -> Vec<String> {
    let plain = Style {
        fullwidth: false,
        plus_sign: false,
        nian_du: false,
        label_gap: false,
        header_gap: false,
        prose: [0; 6],
    };
    let mut out: Vec<String> = SECTIONS
        .iter()
        .map(|s| format!("{}、{}", s.numeral, s.heading))
        .collect();
    for &r in format::proactive_rows(version) {
        let spec = &PROACTIVE_ROWS[r];
        out.push(spec.caption.to_string());
        out.push(spec.label.to_string());
        out.extend(spec.columns(version).iter().map(|c| c.label.to_string()));
    }
    for &r in format::requests_rows(version) {
        out.push(render::numbered_label(&plain, &REQUEST_ROWS[r]));
    }
    out.extend(REQUEST_COLUMNS.iter().map(|c| c.label.to_string()));
    out.extend(REVIEW_COLUMNS.iter().map(|c| c.label.to_string()));
    let rows = format::requests_rows(version);
    out.extend(
        REQUEST_GROUPS
            .iter()
            .filter(|(_, first)| rows.iter().any(|&r| REQUEST_ROWS[r].id == *first))
            .map(|(label, _)| label.to_string()),
    );
    out
}

fn fixed_raw(v2021: bool, agency: u8, prose: u8) -> Raw {
    Raw {
        v2021,
        year_pick: agency,
        agency_pick: agency,
        style: Style {
            fullwidth: true,
            plus_sign: false,
            nian_du: false,
            label_gap: false,
            header_gap: false,
            prose: [prose; 6],
        },
        counts: Vec::new(),
        big: Vec::new(),
        signed: Vec::new(),
        fee: (0, 0, 0),
        procurement: (0, 0, 0),
    }
}

/// The prose, preamble and agency names never contain a label or key of the
/// format, so the properties test table reading, not prose filtering.
#[test]
fn prose_names_no_label_of_the_format() {
    let mut keys: Vec<&str> = Vec::new();
    keys.extend(REQUEST_ROWS.iter().flat_map(|r| r.keys.iter().copied()));
    keys.extend(REQUEST_ROWS.iter().map(|r| r.label));
    keys.extend(PROACTIVE_ROWS.iter().flat_map(|r| r.keys.iter().copied()));
    keys.extend(SECTIONS.iter().flat_map(|s| s.keys.iter().copied()));
    keys.extend(REQUEST_COLUMNS.iter().map(|c| c.label));
    keys.extend(REVIEW_HEADER_KEYS);
    keys.extend(V2021_MARKERS);
    keys.extend(V2019_MARKERS);
    keys.extend(REQUEST_GROUP_KEYS);
    keys.extend(REQUEST_GROUPS.iter().map(|(label, _)| *label));
    for v2021 in [true, false] {
        for agency in 0..AGENCIES.len() as u8 {
            for prose in 0..4 {
                let g = gen::build(&fixed_raw(v2021, agency, prose));
                let mut texts = vec![render::preamble(&g), g.agency.clone()];
                for s in &SECTIONS {
                    texts.extend(render::prose(&g, s.id));
                }
                for text in texts {
                    let text = ascii_punct(&text);
                    for key in &keys {
                        assert!(
                            !text.contains(key),
                            "prose {text:?} contains the format key {key:?}"
                        );
                    }
                }
            }
        }
    }
}

/// The pipe-cell layout has the shape of corpus 000: cell lines end in " |", and
/// merged runs are lines of only `|`.
#[test]
fn pipe_cells_have_the_corpus_shape() {
    let g = gen::build(&fixed_raw(true, 0, 0));
    let text = render::render(&g, Layout::PipeCells);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("第二十条"))
        .expect("table 二 rendered");
    assert!(lines[start].ends_with(" |"), "{:?}", lines[start]);
    assert_eq!(
        lines[start + 1],
        "|||",
        "a 4-wide caption row closes with three pipes"
    );
    let granted = lines
        .iter()
        .position(|l| l.contains("予以公开"))
        .expect("row (一)");
    assert!(
        lines[granted - 1].contains("本年度办理结果"),
        "group label precedes its first row"
    );
    assert_eq!(
        lines[granted + 8],
        "|",
        "a 9-cell row of a 10-wide table closes with one pipe"
    );
}
