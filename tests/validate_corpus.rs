//! Validation on the real corpus (`tests/corpus`): what the rules find on
//! published reports, that one wrong cell in tables 三 or 四 is always an ERROR
//! naming it, the cross-year carry-over between consecutive Pingtan reports, and
//! stable fingerprints. A missing corpus fails these tests; it never skips them.
//!
//! Assertions on rules other engineers are still writing (N1, X1, X2) are written
//! against their contract in `spec/format.md` §7, not against an implementation.

use std::path::{Path, PathBuf};

use nianbao::format::{all_cells, CellRef, CellValue};
use nianbao::parse::{parse, ParseOptions};
use nianbao::pb::{
    AnnualReport, Diagnostic, Finding, FormatVersion, ParseResult, RuleOutcome, Severity,
    ValidationResult,
};
use nianbao::validate::{validate, Input, Options};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus");
const CHONGCHUAN: &str = "000_2b6e7661ff84f527.txt";
const PINGTAN_2020: &str = "002_pingtan_2020.txt";
const PINGTAN_2021: &str = "003_pingtan_2021.txt";
const PINGTAN_2022: &str = "004_pingtan_2022.txt";

// === helpers ===

fn corpus_dir() -> PathBuf {
    let dir = PathBuf::from(CORPUS);
    assert!(
        dir.is_dir(),
        "the corpus is missing: expected it at {CORPUS} (it is part of the repository)"
    );
    dir
}

/// Every report of the corpus (`.txt` and `.html`), by name.
fn corpus_files() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt" || e == "html"))
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 10, "too few corpus reports: {names:?}");
    names
}

fn parse_file(name: &str) -> ParseResult {
    let path = Path::new(&corpus_dir()).join(name);
    let bytes =
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let opts = ParseOptions {
        label: name.to_string(),
        ..ParseOptions::default()
    };
    parse(&bytes, &opts)
}

fn report_of(parsed: &ParseResult) -> AnnualReport {
    parsed.report.clone().unwrap_or_default()
}

/// Validates a parsed report as `nianbao validate` does (cell locations and parse
/// diagnostics included), with an optional previous year.
fn validate_parsed(parsed: &ParseResult, previous: Option<&AnnualReport>) -> ValidationResult {
    let report = report_of(parsed);
    let input = Input {
        previous,
        ..Input::parsed(parsed, &report)
    };
    validate(&input, &Options::default())
}

fn outcome(result: &ValidationResult, code: &str) -> RuleOutcome {
    result
        .rules
        .iter()
        .find(|r| r.code == code)
        .and_then(|r| RuleOutcome::try_from(r.outcome).ok())
        .unwrap_or(RuleOutcome::Unspecified)
}

fn severity(f: &Finding) -> Severity {
    Severity::try_from(f.severity).unwrap_or_default()
}

/// The findings and rule outcomes, for assertion messages.
fn describe(result: &ValidationResult) -> String {
    let findings = result.findings.iter().map(|f| {
        format!(
            "  {:?}[{}] {} {:?} {:?}",
            severity(f),
            f.code,
            f.message_en,
            f.comparisons
                .iter()
                .map(|c| format!(
                    "{} = {} vs {} = {}",
                    c.expected_expression, c.expected, c.actual_expression, c.actual
                ))
                .collect::<Vec<_>>(),
            f.field_paths
        )
    });
    let rules = result.rules.iter().map(|r| {
        let o = RuleOutcome::try_from(r.outcome).unwrap_or_default();
        format!(
            "{}={}",
            r.code,
            o.as_str_name().trim_start_matches("RULE_OUTCOME_")
        )
    });
    format!(
        "findings:\n{}\nrules: {}",
        findings.collect::<Vec<_>>().join("\n"),
        rules.collect::<Vec<_>>().join(" ")
    )
}

/// Everything a finding says, as one string (to look for numbers in).
fn finding_text(f: &Finding) -> String {
    let mut text = format!("{} {}", f.message, f.message_en);
    for c in &f.comparisons {
        for part in [
            &c.subject,
            &c.expected_expression,
            &c.expected,
            &c.actual_expression,
            &c.actual,
        ] {
            text.push(' ');
            text.push_str(part);
        }
    }
    text
}

/// The table-三 and table-四 cells of a version.
fn cells_3_and_4(version: FormatVersion) -> Vec<CellRef> {
    all_cells(version)
        .into_iter()
        .filter(|c| matches!(c, CellRef::Request { .. } | CellRef::Review { .. }))
        .collect()
}

// === the worked example: 崇川区 2023 ===

#[test]
fn chongchuan_2023_recovered_cell_prose_reading_and_clean_arithmetic() {
    let parsed = parse_file(CHONGCHUAN);
    let result = validate_parsed(&parsed, None);
    let all = describe(&result);

    // The row with six values for seven cells: recovered, and said so.
    let p033 = result
        .findings
        .iter()
        .find(|f| {
            f.code == "P033"
                && f.field_paths
                    .iter()
                    .any(|p| p.starts_with("requests.not_processed_complaint."))
        })
        .unwrap_or_else(|| panic!("no P033 on requests.not_processed_complaint\n{all}"));
    assert_eq!(severity(p033), Severity::Info, "{all}");
    assert!(
        !p033.locations.is_empty(),
        "the recovered row is located in the source\n{all}"
    );

    for code in ["A1", "A2", "A3", "A5"] {
        assert_eq!(outcome(&result, code), RuleOutcome::Passed, "{code}\n{all}");
    }
    let errors: Vec<&Finding> = result
        .findings
        .iter()
        .filter(|f| severity(f) == Severity::Error)
        .collect();
    assert!(errors.is_empty(), "no ERROR findings expected\n{all}");
    assert_eq!(result.errors, 0, "{all}");

    // "按时办结100件" against （七）总计 112: fits only "handled out of this year's new
    // requests" (110 − 10), so N1 reports it as INFO naming the reading.
    assert!(
        result.findings.iter().any(|f| {
            let text = finding_text(f);
            f.code == "N1"
                && severity(f) == Severity::Info
                && text.contains("100")
                && text.contains("112")
        }),
        "expected an N1 INFO finding about 100 vs 112 (format.md §7 worked example)\n{all}"
    );
}

// === one wrong cell is always caught ===

#[test]
fn one_more_in_any_cell_of_tables_3_and_4_is_an_error_naming_it() {
    let mut checked = Vec::new();
    let mut misses = Vec::new();
    for name in corpus_files() {
        let parsed = parse_file(&name);
        let report = report_of(&parsed);
        let version = FormatVersion::try_from(report.format_version).unwrap_or_default();
        if !matches!(version, FormatVersion::V2019 | FormatVersion::V2021) {
            continue;
        }
        let cells = cells_3_and_4(version);
        if cells.iter().any(|c| c.get_int(&report).is_none()) {
            continue; // tables 三 and 四 not complete
        }
        checked.push(name.clone());
        for cell in &cells {
            let mut changed = report.clone();
            let value = cell.get_int(&report).unwrap_or_default();
            cell.set(&mut changed, Some(CellValue::Int(value + 1)));
            let result = validate(&Input::entity(&changed), &Options::default());
            let path = cell.path();
            let named = result
                .findings
                .iter()
                .any(|f| severity(f) == Severity::Error && f.field_paths.contains(&path));
            if !named {
                misses.push(format!("{name}: {path} = {value} + 1"));
            }
        }
    }
    assert!(
        checked.len() >= 5,
        "too few corpus reports with complete tables 三 and 四: {checked:?}"
    );
    assert!(
        misses.is_empty(),
        "{} cell(s) set to value + 1 gave no ERROR finding naming them (checked {checked:?}):\n{}",
        misses.len(),
        misses.join("\n")
    );
}

// === cross-year: 平潭综合实验区 2020 → 2021 → 2022 ===

/// The truth files agree: carried_over(Y) = carried_forward(Y−1) in every column,
/// for 2020 → 2021 (0 → 0) and 2021 → 2022 (1 → 1).
#[test]
fn the_truth_files_carry_over_what_the_year_before_carried_forward() {
    let truth = |n: &str| -> serde_json::Value {
        let path = corpus_dir().join("expected").join(format!("{n}.json"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        serde_json::from_str(&text).unwrap()
    };
    for (prev, this) in [("002", "003"), ("003", "004")] {
        let (p, t) = (truth(prev), truth(this));
        for col in nianbao::format::REQUEST_COLUMNS {
            let forward = &p["cells"][format!("requests.carried_forward.{}", col.id)];
            let over = &t["cells"][format!("requests.carried_over.{}", col.id)];
            assert!(forward.is_number(), "{prev}: carried_forward.{}", col.id);
            assert_eq!(forward, over, "{prev} → {this}, column {}", col.id);
        }
    }
}

#[test]
fn consecutive_pingtan_reports_pass_the_carry_over() {
    let p2020 = parse_file(PINGTAN_2020);
    let p2021 = parse_file(PINGTAN_2021);
    let p2022 = parse_file(PINGTAN_2022);
    let (r2020, r2021) = (report_of(&p2020), report_of(&p2021));

    // 2021 against 2020 (V2021 after V2019: X1 holds across versions).
    let result = validate_parsed(&p2021, Some(&r2020));
    let all = describe(&result);
    assert_eq!(
        outcome(&result, "X1"),
        RuleOutcome::Passed,
        "2021 ← 2020\n{all}"
    );
    // X2 compares V2021 documents in force; 2020 is V2019 (no in_force column).
    assert!(
        matches!(
            outcome(&result, "X2"),
            RuleOutcome::Passed | RuleOutcome::Incomplete | RuleOutcome::NotApplicable
        ),
        "2021 ← 2020: X2 {:?}\n{all}",
        outcome(&result, "X2")
    );

    // 2022 against 2021: 2021's 行政规范性文件 cells are ambiguous in the text (absent),
    // so X2 can pass (regulations: 0 = 0 + 0 − 0) or be incomplete, never fail.
    let result = validate_parsed(&p2022, Some(&r2021));
    let all = describe(&result);
    assert_eq!(
        outcome(&result, "X1"),
        RuleOutcome::Passed,
        "2022 ← 2021\n{all}"
    );
    assert!(
        matches!(
            outcome(&result, "X2"),
            RuleOutcome::Passed | RuleOutcome::Incomplete
        ),
        "2022 ← 2021: X2 {:?}\n{all}",
        outcome(&result, "X2")
    );
}

#[test]
fn a_carry_over_that_last_year_did_not_carry_forward_is_an_x1_error() {
    let p2021 = parse_file(PINGTAN_2021);
    let p2022 = parse_file(PINGTAN_2022);
    let r2021 = report_of(&p2021);
    let mut r2022 = report_of(&p2022);
    for path in [
        "requests.carried_over.total",
        "requests.carried_over.natural_person",
    ] {
        let cell = CellRef::from_path(path).unwrap();
        let v = cell.get_int(&r2022).unwrap();
        cell.set(&mut r2022, Some(CellValue::Int(v + 1)));
    }
    let input = Input {
        previous: Some(&r2021),
        ..Input::entity(&r2022)
    };
    let result = validate(&input, &Options::default());
    let all = describe(&result);
    assert_eq!(outcome(&result, "X1"), RuleOutcome::Failed, "{all}");
    assert!(
        result.findings.iter().any(|f| f.code == "X1"
            && severity(f) == Severity::Error
            && f.field_paths.iter().any(|p| p == "requests.carried_over.total")),
        "expected an X1 ERROR naming requests.carried_over.total (error on the total column)\n{all}"
    );
}

// === fingerprints ===

#[test]
fn fingerprints_are_stable_across_runs() {
    for name in [
        CHONGCHUAN,
        PINGTAN_2020,
        "022_pingtan_haitanpianqu_2021.txt",
    ] {
        let parsed = parse_file(name);
        let a = validate_parsed(&parsed, None);
        let b = validate_parsed(&parse_file(name), None);
        let prints = |r: &ValidationResult| -> Vec<(String, String)> {
            r.findings
                .iter()
                .map(|f| (f.code.clone(), f.fingerprint.clone()))
                .collect()
        };
        assert!(!a.findings.is_empty(), "{name}: no findings to compare");
        assert_eq!(prints(&a), prints(&b), "{name}");
        for f in &a.findings {
            assert!(
                f.fingerprint.len() >= 16 && f.fingerprint.chars().all(|c| c.is_ascii_hexdigit()),
                "{name}: [{}] fingerprint {:?} is not hex",
                f.code,
                f.fingerprint
            );
        }
    }
}

#[test]
fn fingerprints_do_not_depend_on_the_order_of_field_paths() {
    // A parse diagnostic (P036: no reading of the row fits) on two count cells,
    // given with its paths in either order. It becomes a finding of its own and,
    // through A4, a rule finding on the same cells.
    let paths = [
        "requests.granted.natural_person",
        "requests.granted.total",
        "requests.partially_granted.other_org",
    ];
    let diagnostic = |order: &[&str]| Diagnostic {
        code: "P036".into(),
        severity: Severity::Error as i32,
        message: "无法拆分".into(),
        message_en: "no reading fits".into(),
        field_paths: order.iter().map(|p| p.to_string()).collect(),
        span: None,
        candidates: Vec::new(),
    };
    let report = report_of(&parse_file(CHONGCHUAN));
    let run = |order: &[&str]| -> ValidationResult {
        let diagnostics = [diagnostic(order)];
        let input = Input {
            diagnostics: &diagnostics,
            ..Input::entity(&report)
        };
        validate(&input, &Options::default())
    };
    let forward = run(&paths);
    let reversed = run(&[paths[2], paths[0], paths[1]]);
    for code in ["P036", "A4"] {
        let print = |r: &ValidationResult| -> (Vec<String>, String) {
            let f = r
                .findings
                .iter()
                .find(|f| f.code == code)
                .unwrap_or_else(|| panic!("no {code} finding\n{}", describe(r)));
            (f.field_paths.clone(), f.fingerprint.clone())
        };
        let (a_paths, a) = print(&forward);
        let (b_paths, b) = print(&reversed);
        assert_ne!(
            a_paths, b_paths,
            "{code}: the paths should come in another order"
        );
        assert_eq!(
            a, b,
            "{code}: the fingerprint depends on the order of the paths"
        );
    }
    // Other cells, another fingerprint.
    let other = run(&paths[..2]);
    let p036 = |r: &ValidationResult| {
        r.findings
            .iter()
            .find(|f| f.code == "P036")
            .map(|f| f.fingerprint.clone())
    };
    assert_ne!(p036(&forward), p036(&other));
}

#[test]
fn findings_point_into_the_source_whatever_the_order_of_cell_locations() {
    // The parser gives cell locations sorted by path; a caller may give them in any
    // order. Break one relation so that a finding names cells with locations.
    let mut parsed = parse_file(CHONGCHUAN);
    let mut report = report_of(&parsed);
    let cell = CellRef::from_path("requests.granted.natural_person").unwrap();
    let v = cell
        .get_int(&report)
        .expect("the worked example has the cell");
    cell.set(&mut report, Some(CellValue::Int(v + 1)));
    let run = |parsed: &ParseResult| {
        let input = Input::parsed(parsed, &report);
        validate(&input, &Options::default())
    };
    let sorted = run(&parsed);
    assert!(
        sorted
            .findings
            .iter()
            .any(|f| f.locations.iter().any(|l| l.field_path == cell.path())),
        "no finding locates {}:\n{}",
        cell.path(),
        describe(&sorted)
    );
    parsed.cell_locations.reverse();
    assert_eq!(run(&parsed), sorted);
}

/// What N1–N5 say on every corpus report: no WARNING anywhere, and INFO exactly
/// where the prose counts with another reading.
#[test]
fn narrative_rules_inform_only_where_the_prose_counts_another_way() {
    let mut infos = Vec::new();
    for name in corpus_files() {
        let parsed = parse_file(&name);
        let res = validate_parsed(&parsed, None);
        for f in res.findings.iter().filter(|f| f.code.starts_with('N')) {
            assert_eq!(severity(f), Severity::Info, "{name}: {f:?}");
            let c = &f.comparisons[0];
            infos.push(format!(
                "{} {} {}={}",
                &name[..3],
                f.code,
                c.expected_expression,
                c.actual
            ));
        }
    }
    infos.sort();
    infos.dedup(); // 004 and 009 come as text and as HTML or GBK too
    assert_eq!(
        infos,
        vec![
            "000 N1 new_received − carried_forward=100",
            "004 N1 new_received + carried_over=75",
            "015 N1 new_received + carried_over=749",
        ]
    );
}
