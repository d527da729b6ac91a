//! The real corpus: every input of every `tests/corpus/expected/NNN.json`
//! parses to the published value of every table cell.
//!
//! Per cell of the truth file: `null` -> the report leaves it absent; a number ->
//! the report's value equals it exactly (money compared as exact decimals, with
//! `fen` checked against the unit), OR the report leaves it absent and a P035
//! diagnostic names the cell with a candidate reading that is the truth. Cells of
//! the other format version must be absent. All mismatches of a report are
//! collected into one failure message. One test per report, plus the specific
//! checks on 000 (recovered cells), 013 (rows with no values) and 021 (legacy).

mod common;

use std::collections::BTreeMap;

use common::{
    canonical_decimal, cells_of_both_versions, check_cell, corpus_dir, describe_diags,
    parse_labelled, read_corpus, scaled, show_value, version_name, Truth,
};
use nianbao::format::{all_cells, CellRef};
use nianbao::pb::{self, FormatVersion};

/// One truth file.
struct Expected {
    id: String,
    format_version: FormatVersion,
    year: i32,
    inputs: Vec<String>,
    /// Path -> truth, for every cell the file lists.
    cells: BTreeMap<String, Truth>,
}

fn load_expected(id: &str) -> Expected {
    let path = corpus_dir().join("expected").join(format!("{id}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read truth file {}: {e}", path.display()));
    let json: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{}: invalid JSON: {e}", path.display()));
    let format_version = match json["format_version"].as_str() {
        Some("V2021") => FormatVersion::V2021,
        Some("V2019") => FormatVersion::V2019,
        Some("LEGACY") => FormatVersion::Legacy,
        other => panic!("{}: unknown format_version {other:?}", path.display()),
    };
    let year = json["year"]
        .as_i64()
        .unwrap_or_else(|| panic!("{}: no integer year", path.display())) as i32;
    let inputs: Vec<String> = json["inputs"]
        .as_array()
        .unwrap_or_else(|| panic!("{}: no inputs list", path.display()))
        .iter()
        .map(|v| {
            v.as_str()
                .unwrap_or_else(|| panic!("{}: input {v} is not a string", path.display()))
                .to_string()
        })
        .collect();
    let object = json["cells"]
        .as_object()
        .unwrap_or_else(|| panic!("{}: no cells object", path.display()));

    // Numbers are taken as their JSON text, never through a float: serde_json
    // would read 24252.311082 as an f64, so the tokens come from the source text.
    let token = regex::Regex::new(r#""([a-z_]+\.[a-z_]+\.[a-z_]+)"\s*:\s*(null|[-+0-9.eE]+)"#)
        .expect("regex");
    let mut cells = BTreeMap::new();
    for cap in token.captures_iter(&text) {
        let (key, value) = (cap[1].to_string(), &cap[2]);
        let truth =
            if value == "null" {
                Truth::Absent
            } else {
                Truth::Value(canonical_decimal(value).unwrap_or_else(|| {
                    panic!("{}: {key}: {value:?} is not a decimal", path.display())
                }))
            };
        cells.insert(key, truth);
    }
    // The token scan must have seen exactly the cells serde_json sees.
    for (key, value) in object {
        match cells.get(key) {
            Some(Truth::Absent) if value.is_null() => {}
            Some(Truth::Value(_)) if value.is_number() => {}
            other => panic!(
                "{}: cell {key} = {value} read from the text as {other:?}",
                path.display()
            ),
        }
    }
    assert_eq!(
        cells.len(),
        object.len(),
        "{}: cell keys seen twice or outside `cells`",
        path.display()
    );
    Expected {
        id: id.to_string(),
        format_version,
        year,
        inputs,
        cells,
    }
}

/// Checks one parse against the truth; every problem is one line.
fn check_against(expected: &Expected, result: &pb::ParseResult) -> Vec<String> {
    let empty = pb::AnnualReport::default();
    let report = result.report.as_ref().unwrap_or(&empty);
    let mut problems = Vec::new();
    if report.format_version != expected.format_version as i32 {
        problems.push(format!(
            "format_version: expected {}, got {}",
            expected.format_version.as_str_name(),
            version_name(report.format_version)
        ));
    }
    if report.year != expected.year {
        problems.push(format!(
            "year: expected {}, got {}",
            expected.year, report.year
        ));
    }
    let truth_of = |path: &str| expected.cells.get(path).cloned().unwrap_or(Truth::Unknown);
    // In printed order (the version's catalogue order), then anything else the file lists.
    let mut paths: Vec<String> = all_cells(expected.format_version)
        .iter()
        .map(CellRef::path)
        .filter(|p| expected.cells.contains_key(p))
        .collect();
    let rest: Vec<String> = expected
        .cells
        .keys()
        .filter(|k| !paths.contains(k))
        .cloned()
        .collect();
    paths.extend(rest);
    for path in &paths {
        let truth = &expected.cells[path];
        let Some(cell) = CellRef::from_path(path) else {
            problems.push(format!(
                "{path}: the truth file names a cell the format catalogue does not know"
            ));
            continue;
        };
        if let Err(m) = check_cell(&cell, truth, report, &result.diagnostics, &truth_of, true) {
            problems.push(m);
        }
    }
    // Cells of the other version (not in this version's catalogue, not in the
    // truth file) must stay absent. Cells of this version the truth file omits
    // (016's unreadable carried_forward.total) are not checked.
    let own = all_cells(expected.format_version);
    for cell in cells_of_both_versions() {
        if !own.contains(&cell) && !expected.cells.contains_key(&cell.path()) {
            if let Some(v) = cell.get(report) {
                problems.push(format!(
                    "{}: not a cell of the {} format, expected absent, got {}",
                    cell.path(),
                    expected.format_version.as_str_name(),
                    show_value(&Some(v))
                ));
            }
        }
    }
    problems
}

/// Parses every input of a truth file and fails with all mismatches at once.
fn check_report(id: &str) {
    let expected = load_expected(id);
    assert!(!expected.inputs.is_empty(), "{id}.json lists no inputs");
    let mut failures = Vec::new();
    for input in &expected.inputs {
        let path = corpus_dir().join(input);
        assert!(
            path.is_file(),
            "{id}.json lists input {input}, which is not in {}",
            corpus_dir().display()
        );
        let bytes = read_corpus(input);
        let result = parse_labelled(&bytes, input);
        let problems = check_against(&expected, &result);
        if !problems.is_empty() {
            failures.push(format!(
                "{input}: {} problem(s) over {} cells, version and year\n{}\ndiagnostics:\n{}",
                problems.len(),
                expected.cells.len(),
                problems
                    .iter()
                    .map(|p| format!("  {p}"))
                    .collect::<Vec<_>>()
                    .join("\n"),
                describe_diags(&result.diagnostics)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "corpus report {} ({} {}):\n{}",
        expected.id,
        expected.format_version.as_str_name(),
        expected.year,
        failures.join("\n\n")
    );
}

macro_rules! corpus_reports {
    ($($name:ident => $id:literal,)*) => {
        $(
            #[test]
            fn $name() {
                check_report($id);
            }
        )*
        /// The ids that have a test above.
        const TESTED: &[&str] = &[$($id),*];
    };
}

corpus_reports! {
    report_000_chongchuan_2023_pipe_cells => "000",
    report_002_pingtan_2020_flat => "002",
    report_003_pingtan_2021_flat => "003",
    report_004_pingtan_2022_flat_and_html => "004",
    report_009_jingjifazhanju_2022_utf8_and_gbk => "009",
    report_010_shanghai_2019_html_in_js => "010",
    report_011_ziranziyuan_2022_mixed_spacing => "011",
    report_013_shichangjianduguanliju_2021_missing_rows => "013",
    report_015_shuyang_2025_markdown => "015",
    report_016_shanghai_kewei_2024_pdf_text => "016",
    report_020_jingjifazhanju_2019_spaced_and_html => "020",
    report_022_haitanpianqu_2021_v2019_tables => "022",
}

/// Every truth file has its test above (a new one must be added to the list).
#[test]
fn every_truth_file_has_a_test() {
    let dir = corpus_dir().join("expected");
    let mut ids: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".json"))
                .map(str::to_string)
        })
        .collect();
    ids.sort();
    assert!(!ids.is_empty(), "no truth files in {}", dir.display());
    let missing: Vec<&String> = ids
        .iter()
        .filter(|id| !TESTED.contains(&id.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "truth files without a test in tests/corpus.rs: {missing:?}"
    );
    let stale: Vec<&&str> = TESTED
        .iter()
        .filter(|id| !ids.iter().any(|i| i == *id))
        .collect();
    assert!(
        stale.is_empty(),
        "tests for truth files that do not exist: {stale:?}"
    );
}

/// 000: row （五）1.信访举报投诉类申请 has six cells for seven columns; the parser
/// recovers it (all zeros) and says so with P033.
#[test]
fn report_000_recovered_row_is_reported() {
    let name = "000_2b6e7661ff84f527.txt";
    let result = parse_labelled(&read_corpus(name), name);
    let row = "requests.not_processed_complaint";
    let named = result.diagnostics.iter().any(|d| {
        d.code == "P033"
            && d.field_paths
                .iter()
                .any(|p| p == row || p.starts_with(&format!("{row}.")))
    });
    assert!(
        named,
        "{name}: expected a P033 (CELLS_RECOVERED) diagnostic naming {row} cells; diagnostics:\n{}",
        describe_diags(&result.diagnostics)
    );
}

/// 013: rows （六）2 and （六）3 carry no values at all; their cells stay absent and
/// a P031/P032 diagnostic names each row.
#[test]
fn report_013_rows_without_values_are_absent_and_reported() {
    let name = "013_pingtan_shichangjianduguanliju_2021.txt";
    let result = parse_labelled(&read_corpus(name), name);
    let empty = pb::AnnualReport::default();
    let report = result.report.as_ref().unwrap_or(&empty);
    let mut problems = Vec::new();
    for row in ["other_fee_unpaid", "other_misc"] {
        let prefix = format!("requests.{row}");
        for cell in all_cells(FormatVersion::V2021)
            .into_iter()
            .filter(|c| c.path().starts_with(&format!("{prefix}.")))
        {
            if let Some(v) = cell.get(report) {
                problems.push(format!(
                    "{}: expected absent, got {}",
                    cell.path(),
                    show_value(&Some(v))
                ));
            }
        }
        let named = result.diagnostics.iter().any(|d| {
            (d.code == "P031" || d.code == "P032")
                && d.field_paths
                    .iter()
                    .any(|p| *p == prefix || p.starts_with(&format!("{prefix}.")))
        });
        if !named {
            problems.push(format!("no P031/P032 diagnostic names {prefix}"));
        }
    }
    assert!(
        problems.is_empty(),
        "{name}:\n{}\ndiagnostics:\n{}",
        problems
            .iter()
            .map(|p| format!("  {p}"))
            .collect::<Vec<_>>()
            .join("\n"),
        describe_diags(&result.diagnostics)
    );
}

/// 021: a pre-2019 report (no truth file): LEGACY, year 2018, no panic.
#[test]
fn report_021_legacy_2018() {
    let name = "021_pingtan_2018_pre2019format.txt";
    let result = parse_labelled(&read_corpus(name), name);
    let empty = pb::AnnualReport::default();
    let report = result.report.as_ref().unwrap_or(&empty);
    assert_eq!(
        (version_name(report.format_version), report.year),
        (FormatVersion::Legacy.as_str_name().to_string(), 2018),
        "{name}: expected a LEGACY report for 2018; diagnostics:\n{}",
        describe_diags(&result.diagnostics)
    );
}

/// The exact-decimal comparison the checks above rely on.
#[test]
fn decimals_compare_exactly() {
    for (a, b) in [
        ("0", "0"),
        ("-0.00", "0"),
        ("+12", "12"),
        ("012.500", "12.5"),
        ("73802895.90", "73802895.9"),
        ("24252.311082", "24252.311082"),
        (".5", "0.5"),
        ("7.3802895E7", "73802895"),
        ("1e-3", "0.001"),
        ("-18", "-18"),
    ] {
        assert_eq!(canonical_decimal(a).as_deref(), Some(b), "{a}");
    }
    for bad in ["", "-", "1.2.3", "12元", "abc", "1e999"] {
        assert_eq!(canonical_decimal(bad), None, "{bad}");
    }
    assert_eq!(scaled("24252.311082", 6), Some(24_252_311_082));
    assert_eq!(scaled("9116.36", 6), Some(9_116_360_000));
    assert_eq!(scaled("1.2345678", 6), None);
    assert_eq!(scaled("-3", 2), Some(-300));
}
