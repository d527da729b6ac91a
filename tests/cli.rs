//! The `nianbao` command line, run as the built binary: its contract of arguments,
//! output shapes and exit statuses (0 clean, 1 error diagnostics, 2 usage or I/O).
//!
//! What the parser reads from a report is tested with the parser, not here: these
//! tests assert only what holds for any correct parse.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_nianbao");
const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus");
/// The top-level fields of `nianbao.v1.ParseResult` in proto3 JSON.
const PARSE_RESULT_KEYS: [&str; 3] = ["report", "diagnostics", "cellLocations"];

// === helpers ===

/// A corpus file (`tests/corpus`); fails clearly when it is missing.
fn corpus(name: &str) -> String {
    let path = Path::new(CORPUS).join(name);
    assert!(
        path.is_file(),
        "corpus file {} is missing: these tests read the corpus at {CORPUS}",
        path.display()
    );
    utf8(path)
}

/// A path in this test target's scratch directory that does not exist.
fn missing_path(test: &str) -> String {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(test)
        .join("no-such-report.txt");
    assert!(!path.exists(), "{} should not exist", path.display());
    utf8(path)
}

fn utf8(path: PathBuf) -> String {
    path.into_os_string()
        .into_string()
        .expect("test paths are UTF-8")
}

/// One finished run of the binary.
struct Run {
    args: Vec<String>,
    output: Output,
}

impl Run {
    fn code(&self) -> i32 {
        self.output
            .status
            .code()
            .expect("nianbao ended by a signal")
    }

    fn stdout(&self) -> String {
        String::from_utf8(self.output.stdout.clone()).expect("stdout is not UTF-8")
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// The command and everything it printed, for assertion messages.
    fn describe(&self) -> String {
        format!(
            "command: {BIN} {}\nstatus: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.args.join(" "),
            self.output.status,
            self.stdout(),
            self.stderr()
        )
    }

    fn assert_code(&self, expected: i32) -> &Run {
        assert_eq!(
            self.code(),
            expected,
            "unexpected exit status\n{}",
            self.describe()
        );
        self
    }

    /// Exit 0 or 1: the run worked, whatever the parser found.
    fn assert_ran(&self) -> &Run {
        assert!(
            matches!(self.code(), 0 | 1),
            "expected exit status 0 or 1\n{}",
            self.describe()
        );
        self
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout())
            .unwrap_or_else(|e| panic!("stdout is not one JSON document: {e}\n{}", self.describe()))
    }
}

/// Runs `nianbao ARGS`, with `stdin` as standard input (none when `None`).
fn nianbao(args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    let mut child = cmd.spawn().expect("cannot start nianbao");
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        pipe.write_all(bytes)
            .expect("cannot write to nianbao's stdin");
    }
    let output = child.wait_with_output().expect("cannot wait for nianbao");
    let args = args.iter().map(|a| a.to_string()).collect();
    Run { args, output }
}

/// Checks that `v` is the proto3 JSON of a `ParseResult` and survives a round trip
/// through `nianbao::pb::ParseResult` unchanged.
fn assert_parse_result(v: &Value, run: &Run) {
    let obj = v
        .as_object()
        .unwrap_or_else(|| panic!("expected a JSON object, got {v}\n{}", run.describe()));
    for key in obj.keys() {
        assert!(
            PARSE_RESULT_KEYS.contains(&key.as_str()),
            "unexpected top-level key {key:?}\n{}",
            run.describe()
        );
    }
    let text = serde_json::to_string(v).unwrap();
    let parsed: nianbao::pb::ParseResult = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("not a ParseResult: {e}\n{}", run.describe()));
    let again = serde_json::to_value(&parsed).unwrap();
    assert_eq!(
        &again, v,
        "the JSON does not round-trip through ParseResult"
    );
}

fn codes(v: &Value) -> Vec<String> {
    v["diagnostics"]
        .as_array()
        .map(|ds| {
            ds.iter()
                .filter_map(|d| d["code"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

// === usage ===

#[test]
fn no_arguments_is_a_usage_error() {
    let run = nianbao(&[], None);
    run.assert_code(2);
    assert!(run.stderr().contains("Usage"), "{}", run.describe());
}

#[test]
fn bad_arguments_are_usage_errors() {
    let file = &*corpus("000_2b6e7661ff84f527.txt");
    for args in [
        vec!["frobnicate"],
        vec!["parse"],
        vec!["parse", "--bogus", file],
        vec!["parse", "--format", "xml", file],
        vec![
            "parse",
            "--url",
            "https://example.gov.cn/a.html",
            file,
            file,
        ],
    ] {
        let run = nianbao(&args, None);
        run.assert_code(2);
        assert!(
            run.stdout().is_empty(),
            "usage errors print nothing on stdout\n{}",
            run.describe()
        );
    }
}

#[test]
fn help_lists_the_parse_command() {
    let run = nianbao(&["--help"], None);
    run.assert_code(0);
    assert!(run.stdout().contains("parse"), "{}", run.describe());
}

// === unreadable inputs ===

#[test]
fn missing_file_exits_2_and_names_it() {
    let missing = missing_path("missing_file_exits_2_and_names_it");
    let run = nianbao(&["parse", &*missing], None);
    run.assert_code(2);
    let stderr = run.stderr();
    assert!(stderr.contains(&*missing), "{}", run.describe());
    assert!(
        stderr.contains("os error"),
        "the OS error is reported\n{}",
        run.describe()
    );
}

#[test]
fn unreadable_file_does_not_stop_the_others() {
    let missing = missing_path("unreadable_file_does_not_stop_the_others");
    let good = corpus("000_2b6e7661ff84f527.txt");
    let run = nianbao(&["parse", "--format=json", &*missing, &*good], None);
    run.assert_code(2);
    assert!(run.stderr().contains(&*missing), "{}", run.describe());
    let v = run.json();
    let items = v.as_array().expect("several FILEs give a JSON array");
    assert_eq!(
        items.len(),
        1,
        "the readable file is still parsed\n{}",
        run.describe()
    );
    assert_parse_result(&items[0], &run);
}

// === JSON output ===

#[test]
fn json_output_round_trips_through_parse_result() {
    let file = corpus("000_2b6e7661ff84f527.txt");
    let run = nianbao(&["parse", "--format", "json", &*file], None);
    run.assert_ran();
    assert_parse_result(&run.json(), &run);
}

#[test]
fn json_output_of_a_report_has_a_report() {
    let file = corpus("000_2b6e7661ff84f527.txt");
    let run = nianbao(&["parse", "--format=json", &*file], None);
    let v = run.assert_ran().json();
    assert!(
        v.get("report").is_some(),
        "no `report` key\n{}",
        run.describe()
    );
}

#[test]
fn several_files_give_one_array_in_argument_order() {
    let a = corpus("000_2b6e7661ff84f527.txt");
    let b = corpus("003_pingtan_2021.txt");
    let run = nianbao(&["parse", "--format=json", &*a, &*b], None);
    let v = run.assert_ran().json();
    let items = v.as_array().expect("several FILEs give a JSON array");
    assert_eq!(items.len(), 2, "{}", run.describe());
    for item in items {
        assert_parse_result(item, &run);
    }
    // Each element is the same as parsing that file alone.
    for (item, file) in items.iter().zip([&a, &b]) {
        let alone = nianbao(&["parse", "--format=json", file], None);
        assert_eq!(item, &alone.json(), "{}", alone.describe());
    }
}

// === standard input ===

/// `v` without the input's label (`report.source.label`), which names the input.
fn without_label(mut v: Value) -> Value {
    if let Some(source) = v
        .pointer_mut("/report/source")
        .and_then(Value::as_object_mut)
    {
        source.remove("label");
    }
    v
}

#[test]
fn dash_reads_standard_input() {
    let file = corpus("000_2b6e7661ff84f527.txt");
    let bytes = std::fs::read(&file).unwrap();
    let from_stdin = nianbao(&["parse", "--format", "json", "-"], Some(&bytes));
    let v = from_stdin.assert_ran().json();
    assert_parse_result(&v, &from_stdin);
    let from_file = nianbao(&["parse", "--format=json", &*file], None);
    assert_eq!(
        without_label(v),
        without_label(from_file.json()),
        "stdin and the file give the same result\n{}",
        from_stdin.describe()
    );
    assert_eq!(from_stdin.code(), from_file.code());

    let text = nianbao(&["parse", "-"], Some(&bytes));
    text.assert_ran();
    assert!(text.stdout().contains("<stdin>"), "{}", text.describe());
}

#[test]
fn empty_input_is_an_error_p001_exit_1() {
    let run = nianbao(&["parse", "--format=json", "-"], Some(b""));
    let v = run.assert_code(1).json();
    assert_parse_result(&v, &run);
    assert!(codes(&v).iter().any(|c| c == "P001"), "{}", run.describe());

    let text = nianbao(&["parse", "-"], Some(b""));
    text.assert_code(1);
    assert!(text.stdout().contains("error[P001]"), "{}", text.describe());
}

// === text output ===

#[test]
fn text_output_names_the_file_and_shows_the_tables() {
    let file = corpus("000_2b6e7661ff84f527.txt");
    let run = nianbao(&["parse", &*file], None);
    let out = run.assert_ran().stdout();
    for needle in [
        "000_2b6e7661ff84f527.txt",
        "format version",
        "二、主动公开政府信息情况",
        "三、收到和处理政府信息公开申请情况",
        "四、政府信息公开行政复议、行政诉讼情况",
    ] {
        assert!(
            out.contains(needle),
            "missing {needle:?}\n{}",
            run.describe()
        );
    }
    assert!(
        !out.contains('\x1b'),
        "no colour when stdout is not a terminal\n{}",
        run.describe()
    );
}

#[test]
fn colour_can_be_forced() {
    let file = corpus("000_2b6e7661ff84f527.txt");
    let run = nianbao(&["parse", "--color=always", &*file], None);
    assert!(
        run.assert_ran().stdout().contains("\x1b["),
        "{}",
        run.describe()
    );
}

// === validate ===

/// The top-level fields of `nianbao.v1.ValidationResult` in proto3 JSON.
const VALIDATION_RESULT_KEYS: [&str; 11] = [
    "findings",
    "label",
    "ruleSetVersion",
    "rules",
    "rulesPassed",
    "rulesFailed",
    "rulesIncomplete",
    "rulesNotApplicable",
    "errors",
    "warnings",
    "infos",
];

/// A fresh scratch directory named after the test.
fn scratch_dir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(test);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The conformance base report (`tests/conformance/base/v2021.json`): every rule
/// passes on it.
fn clean_report() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/base/v2021.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Checks that `v` is the proto3 JSON of a `ValidationResult` and survives a
/// round trip through `nianbao::pb::ValidationResult` unchanged.
fn assert_validation_result(v: &Value, run: &Run) -> nianbao::pb::ValidationResult {
    let obj = v
        .as_object()
        .unwrap_or_else(|| panic!("expected a JSON object, got {v}\n{}", run.describe()));
    for key in obj.keys() {
        assert!(
            VALIDATION_RESULT_KEYS.contains(&key.as_str()),
            "unexpected top-level key {key:?}\n{}",
            run.describe()
        );
    }
    let result: nianbao::pb::ValidationResult = serde_json::from_value(v.clone())
        .unwrap_or_else(|e| panic!("not a ValidationResult: {e}\n{}", run.describe()));
    assert_eq!(
        &serde_json::to_value(&result).unwrap(),
        v,
        "the JSON does not round-trip through ValidationResult"
    );
    result
}

fn finding_codes(v: &Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .map(|fs| {
            fs.iter()
                .filter_map(|f| f["code"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn help_lists_the_validate_and_rules_commands() {
    let run = nianbao(&["--help"], None);
    run.assert_code(0);
    for command in ["validate", "rules"] {
        assert!(run.stdout().contains(command), "{}", run.describe());
    }
}

#[test]
fn validate_usage_errors() {
    let file = &*corpus("000_2b6e7661ff84f527.txt");
    for args in [
        vec!["validate"],
        vec!["validate", "--format", "xml", file],
        vec!["validate", "--deny", "infos", file],
        vec!["validate", "--input", "yaml", file],
        vec!["validate", "-", "--previous", "-"],
        vec!["rules", "--format", "csv"],
    ] {
        let run = nianbao(&args, Some(b""));
        run.assert_code(2);
        assert!(run.stdout().is_empty(), "{}", run.describe());
    }
}

#[test]
fn validate_text_renders_findings_against_the_source() {
    let file = corpus("000_2b6e7661ff84f527.txt");
    let run = nianbao(&["validate", &*file], None);
    let out = run.assert_code(0).stdout();
    for needle in [
        "000_2b6e7661ff84f527.txt",
        "info[P033]",
        "000_2b6e7661ff84f527.txt:204:",
        "^",
        "= fingerprint: ",
        "= note: fields: requests.not_processed_complaint.",
        " passed, ",
        " not applicable",
    ] {
        assert!(
            out.contains(needle),
            "missing {needle:?}\n{}",
            run.describe()
        );
    }
}

#[test]
fn validate_text_shows_expected_actual_and_the_likely_cell() {
    // 海坛片区 2021: （七）总计 puts 1 under 自然人 while every other cell is 0.
    let file = corpus("022_pingtan_haitanpianqu_2021.txt");
    let run = nianbao(&["validate", &*file], None);
    let out = run.assert_code(1).stdout();
    for needle in [
        "error[A1]",
        "= expected: new_received + carried_over = 0",
        "= actual: results_total + carried_forward = 1",
        "= likely: requests.results_total.natural_person",
    ] {
        assert!(
            out.contains(needle),
            "missing {needle:?}\n{}",
            run.describe()
        );
    }
}

#[test]
fn validate_json_is_a_validation_result() {
    let file = corpus("000_2b6e7661ff84f527.txt");
    let run = nianbao(&["validate", "--format=json", &*file], None);
    let v = run.assert_code(0).json();
    let result = assert_validation_result(&v, &run);
    let p033 = result
        .findings
        .iter()
        .find(|f| f.code == "P033")
        .unwrap_or_else(|| panic!("no P033\n{}", run.describe()));
    assert!(!p033.field_paths.is_empty() && !p033.fingerprint.is_empty());
    assert_eq!(v["findings"][0]["severity"], "SEVERITY_INFO");
    assert!(
        v["findings"][0]["fieldPaths"].is_array(),
        "{}",
        run.describe()
    );
    let codes: Vec<&str> = nianbao::validate::catalogue()
        .iter()
        .map(|r| r.code)
        .collect();
    let ran: Vec<&str> = result.rules.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(ran, codes, "one outcome per rule, in catalogue order");
}

#[test]
fn validate_reads_report_and_parse_result_json() {
    let dir = scratch_dir("validate_reads_report_and_parse_result_json");
    let file = corpus("000_2b6e7661ff84f527.txt");
    let parsed = nianbao(&["parse", "--format=json", &*file], None).json();
    let parse_result = dir.join("parse-result.json");
    let report = dir.join("report.json");
    std::fs::write(&parse_result, parsed.to_string()).unwrap();
    std::fs::write(&report, parsed["report"].to_string()).unwrap();

    let mut from_text = nianbao(&["validate", "--format=json", &*file], None).json();
    // A ParseResult carries the diagnostics and locations: the same result, but
    // for the label, which names the input.
    let run = nianbao(
        &["validate", "--format=json", &*utf8(parse_result.clone())],
        None,
    );
    let mut from_json = run.assert_code(0).json();
    assert_eq!(
        from_json["label"],
        Value::from(utf8(parse_result)),
        "{}",
        run.describe()
    );
    assert_eq!(
        from_text["label"],
        Value::from(file.to_string()),
        "{}",
        run.describe()
    );
    from_json["label"].take();
    from_text["label"].take();
    assert_eq!(from_json, from_text, "{}", run.describe());
    // An AnnualReport alone: the same rule outcomes and rule findings, without
    // parse diagnostics or locations.
    let run = nianbao(
        &["validate", "--format=json", "--input=json", &*utf8(report)],
        None,
    );
    let v = run.assert_code(0).json();
    assert_validation_result(&v, &run);
    assert_eq!(v["rules"], from_text["rules"], "{}", run.describe());
    let rule_prints = |v: &Value| -> Vec<(String, String)> {
        v["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| !f["code"].as_str().unwrap_or("P").starts_with('P'))
            .map(|f| (f["code"].to_string(), f["fingerprint"].to_string()))
            .collect()
    };
    assert_eq!(rule_prints(&v), rule_prints(&from_text));
    assert!(!finding_codes(&v).iter().any(|c| c.starts_with('P')));
    assert!(v["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .all(|f| f.get("locations").is_none()));
}

#[test]
fn json_of_another_shape_is_an_input_error() {
    let dir = scratch_dir("json_of_another_shape_is_an_input_error");
    let other = dir.join("result.json");
    std::fs::write(&other, r#"{"findings": []}"#).unwrap();
    let other = utf8(other);
    let run = nianbao(&["validate", &*other], None);
    run.assert_code(2);
    assert!(run.stderr().contains(&*other), "{}", run.describe());

    // --input json on published text: named, status 2.
    let text = corpus("000_2b6e7661ff84f527.txt");
    let run = nianbao(&["validate", "--input", "json", &*text], None);
    run.assert_code(2);
    assert!(run.stderr().contains(&*text), "{}", run.describe());
}

#[test]
fn warnings_fail_the_run_only_when_denied() {
    // The clean base report with fewer documents in force than issued − repealed
    // (A7, a WARNING rule).
    let dir = scratch_dir("warnings_fail_the_run_only_when_denied");
    let mut report = clean_report();
    report["proactive"]["normativeDocuments"] =
        serde_json::json!({ "issued": 20, "repealed": 1, "inForce": 14 });
    let path = dir.join("a7.json");
    std::fs::write(&path, report.to_string()).unwrap();
    let path = utf8(path);

    let run = nianbao(&["validate", "--format=json", &*path], None);
    let result = assert_validation_result(&run.assert_code(0).json(), &run);
    assert_eq!(result.errors, 0, "{}", run.describe());
    assert!(result.warnings > 0, "{}", run.describe());
    assert!(finding_codes(&run.json()).iter().any(|c| c == "A7"));

    nianbao(&["validate", "--deny", "warnings", &*path], None).assert_code(1);
}

#[test]
fn errors_exit_1() {
    let file = corpus("022_pingtan_haitanpianqu_2021.txt");
    let run = nianbao(&["validate", "--format=json", &*file], None);
    let result = assert_validation_result(&run.assert_code(1).json(), &run);
    assert!(result.errors > 0);
    assert!(result.rules_failed > 0);
}

#[test]
fn a_directory_is_every_visible_file_in_name_order_with_a_summary() {
    let dir = scratch_dir("a_directory_is_every_visible_file_in_name_order_with_a_summary");
    std::fs::copy(
        corpus("022_pingtan_haitanpianqu_2021.txt"),
        dir.join("a.txt"),
    )
    .unwrap();
    std::fs::write(dir.join("b.json"), clean_report().to_string()).unwrap();
    std::fs::write(dir.join(".hidden"), "not a report").unwrap();
    std::fs::create_dir(dir.join("sub")).unwrap();
    std::fs::write(dir.join("sub").join("c.txt"), "not looked at").unwrap();
    let d = utf8(dir);

    let run = nianbao(&["validate", &*d], None);
    let out = run.assert_code(1).stdout();
    let header = |name: &str| {
        out.lines()
            .position(|l| l.starts_with("── ") && l.contains(&format!("/{name} ")))
    };
    let (a, b) = (header("a.txt"), header("b.json"));
    assert!(
        matches!((a, b), (Some(a), Some(b)) if a < b),
        "{}",
        run.describe()
    );
    assert!(
        !out.contains(".hidden") && !out.contains("c.txt"),
        "{}",
        run.describe()
    );
    let last = out
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    assert!(
        last.starts_with("2 reports: 1 with errors; errors A1×1 "),
        "summary line: {last:?}\n{}",
        run.describe()
    );
    assert!(last.contains("A2×1") && last.contains("A3×1"), "{last}");

    let run = nianbao(&["validate", "--format=json", &*d], None);
    let v = run.assert_code(1).json();
    let items = v.as_array().expect("a directory gives a JSON array");
    assert_eq!(items.len(), 2, "{}", run.describe());
    for item in items {
        assert_validation_result(item, &run);
    }
    assert!(items[0]["errors"].as_u64() > Some(0));
    assert_eq!(
        items[1]["errors"].as_u64(),
        None,
        "the clean report has no errors"
    );
}

#[test]
fn an_unreadable_input_is_named_and_the_others_still_validated() {
    let missing = missing_path("an_unreadable_input_is_named_and_the_others_still_validated");
    let good = corpus("000_2b6e7661ff84f527.txt");
    let run = nianbao(&["validate", "--format=json", &*missing, &*good], None);
    run.assert_code(2);
    assert!(run.stderr().contains(&*missing), "{}", run.describe());
    let v = run.json();
    let items = v.as_array().expect("several FILEs give a JSON array");
    assert_eq!(items.len(), 1, "{}", run.describe());
    assert_validation_result(&items[0], &run);

    // An unreadable previous year stops the run before any input.
    let run = nianbao(&["validate", "--previous", &*missing, &*good], None);
    run.assert_code(2);
    assert!(run.stdout().is_empty(), "{}", run.describe());
    assert!(run.stderr().contains(&*missing), "{}", run.describe());
}

#[test]
fn previous_year_is_given_to_every_input() {
    let previous = corpus("003_pingtan_2021.txt");
    let file = corpus("004_pingtan_2022.txt");
    let run = nianbao(&["validate", "--previous", &*previous, &*file], None);
    run.assert_ran();
    assert!(
        run.stdout().contains("previous: 平潭综合实验区, 2021"),
        "{}",
        run.describe()
    );
    let run = nianbao(
        &[
            "validate",
            "--format=json",
            "--previous",
            &*previous,
            &*file,
        ],
        None,
    );
    assert_validation_result(&run.assert_ran().json(), &run);
}

// === rules ===

#[test]
fn rules_json_is_the_catalogue() {
    let run = nianbao(&["rules", "--format", "json"], None);
    let v = run.assert_code(0).json();
    let items = v.as_array().expect("a JSON array of rules");
    let catalogue = nianbao::validate::catalogue();
    assert_eq!(items.len(), catalogue.len(), "{}", run.describe());
    for (item, rule) in items.iter().zip(catalogue) {
        let parsed: nianbao::pb::Rule = serde_json::from_value(item.clone())
            .unwrap_or_else(|e| panic!("not a Rule: {e}\n{item}"));
        assert_eq!(parsed, rule.to_proto());
        assert_eq!(item["code"], rule.code);
    }
}

#[test]
fn rules_text_and_markdown_list_every_rule() {
    let text = nianbao(&["rules"], None);
    let markdown = nianbao(&["rules", "--format=markdown"], None);
    for rule in nianbao::validate::catalogue() {
        assert!(text.assert_code(0).stdout().contains(rule.title_en));
        assert!(markdown
            .assert_code(0)
            .stdout()
            .contains(&format!("### {} · ", rule.code)));
    }
}

// === the registry commands ===

#[test]
fn import_list_get_history_on_a_local_store() {
    let dir = scratch_dir("registry_commands");
    let data = utf8(dir.join("data"));
    let files = [
        "003_pingtan_2021.txt",
        "004_pingtan_2022.txt",
        "000_2b6e7661ff84f527.txt",
    ];
    let paths: Vec<String> = files
        .iter()
        .map(|f| utf8(Path::new(CORPUS).join(f)))
        .collect();
    let mut args = vec!["import", "--data-dir", &data, "--agency", "pingtan"];
    args.extend(paths[..2].iter().map(String::as_str));
    let run = nianbao(&args, None);
    assert_eq!(run.code(), 0, "{}", run.describe());
    // One line per stored report, oldest year first.
    let lines: Vec<String> = run.stdout().lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 2, "{}", run.describe());
    assert!(
        lines[0].starts_with("stored agencies/pingtan/reports/2021 revision 1 ("),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with("stored agencies/pingtan/reports/2022 revision 1 ("),
        "{lines:?}"
    );

    // No --agency: the id derived from the agency's name; the same report again is revision 2.
    for expected in ["revision 1", "revision 2"] {
        let run = nianbao(&["import", "--data-dir", &data, &paths[2]], None);
        assert_eq!(run.code(), 0, "{}", run.describe());
        let out = run.stdout();
        assert!(
            out.starts_with("stored agencies/name-") && out.contains(expected),
            "{out}"
        );
    }

    let run = nianbao(&["list", "--data-dir", &data, "--format", "json"], None);
    assert_eq!(run.code(), 0, "{}", run.describe());
    let listed = run.json();
    let names: Vec<&str> = listed
        .as_array()
        .expect("an array of ReportSummary")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(names.contains(&"agencies/pingtan/reports/2022"));
    let run = nianbao(&["list", "--data-dir", &data, "--year", "2021"], None);
    assert_eq!(run.stdout().lines().count(), 1, "{}", run.describe());

    let run = nianbao(
        &[
            "get",
            "--data-dir",
            &data,
            "--format",
            "json",
            "agencies/pingtan/reports/2022",
        ],
        None,
    );
    assert_eq!(run.code(), 0, "{}", run.describe());
    let got: nianbao::pb::GetReportResponse =
        serde_json::from_value(run.json()).expect("the JSON of a GetReportResponse");
    let revision = got.revision.expect("a revision");
    assert_eq!(revision.report.map(|r| r.year), Some(2022));
    // Checked against the stored 2021 report: X1 ran.
    let x1 = revision
        .validation
        .and_then(|v| v.rules.into_iter().find(|r| r.code == "X1"))
        .map(|r| r.outcome);
    assert_eq!(x1, Some(nianbao::pb::RuleOutcome::Passed as i32));

    let name = names
        .iter()
        .find(|n| n.starts_with("agencies/name-"))
        .expect("the derived name")
        .to_string();
    let run = nianbao(
        &["history", "--data-dir", &data, "--format", "json", &name],
        None,
    );
    assert_eq!(run.code(), 0, "{}", run.describe());
    let history: nianbao::pb::ListReportRevisionsResponse =
        serde_json::from_value(run.json()).expect("the JSON of ListReportRevisionsResponse");
    let numbers: Vec<u32> = history.revisions.iter().map(|r| r.revision).collect();
    assert_eq!(numbers, [2, 1], "newest first");

    let run = nianbao(
        &["get", "--data-dir", &data, "agencies/pingtan/reports/1999"],
        None,
    );
    assert_eq!(run.code(), 2, "{}", run.describe());
    let run = nianbao(
        &["get", "--data-dir", &data, "agencies/pingtan/reports/2030"],
        None,
    );
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr().contains("does not exist"),
        "{}",
        run.describe()
    );
}

#[test]
fn import_lists_what_it_cannot_store_and_goes_on() {
    let dir = scratch_dir("import_skips");
    let data = utf8(dir.join("data"));
    let junk = dir.join("notes.txt");
    std::fs::write(&junk, "会议纪要，无年度报告内容。").unwrap();
    let run = nianbao(
        &[
            "import",
            "--data-dir",
            &data,
            &utf8(junk),
            &utf8(Path::new(CORPUS).join("000_2b6e7661ff84f527.txt")),
        ],
        None,
    );
    assert_eq!(run.code(), 1, "{}", run.describe());
    assert!(
        run.stderr().contains("skipped") && run.stderr().contains("notes.txt"),
        "{}",
        run.describe()
    );
    assert_eq!(run.stdout().lines().count(), 1, "{}", run.describe());
}

#[test]
fn backup_restore_and_fsck() {
    let dir = scratch_dir("backup_restore");
    let data = utf8(dir.join("data"));
    let backup = utf8(dir.join("store.backup"));
    let restored = utf8(dir.join("restored"));
    let run = nianbao(
        &[
            "import",
            "--data-dir",
            &data,
            &utf8(Path::new(CORPUS).join("002_pingtan_2020.txt")),
            &utf8(Path::new(CORPUS).join("016_shanghai_kewei_2024.txt")),
        ],
        None,
    );
    assert_eq!(run.code(), 0, "{}", run.describe());
    let run = nianbao(&["fsck", "--data-dir", &data], None);
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert!(run.stdout().contains("0 problem(s)"), "{}", run.describe());

    let run = nianbao(&["backup", "--data-dir", &data, &backup], None);
    assert_eq!(run.code(), 0, "{}", run.describe());
    // An existing file is not overwritten.
    let run = nianbao(&["backup", "--data-dir", &data, &backup], None);
    assert_eq!(run.code(), 2, "{}", run.describe());

    let run = nianbao(&["restore", "--data-dir", &restored, &backup], None);
    assert_eq!(run.code(), 0, "{}", run.describe());
    let list = |d: &str| nianbao(&["list", "--data-dir", d, "--format", "json"], None).json();
    assert_eq!(list(&data), list(&restored));
    // Only into an empty store.
    let run = nianbao(&["restore", "--data-dir", &restored, &backup], None);
    assert_eq!(run.code(), 2, "{}", run.describe());
    assert!(run.stderr().contains("not empty"), "{}", run.describe());
}

#[test]
fn a_store_in_use_by_a_server_is_refused_with_a_clear_message() {
    let dir = scratch_dir("store_in_use");
    let data = utf8(dir.join("data"));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    let mut server = Command::new(BIN)
        .args(["serve", "--addr", &addr, "--data-dir", &data])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot start nianbao serve");
    // Wait until the server has the store open (its lock file exists and it listens).
    // A guard against a server that never starts, not a timing: generous on a busy machine.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let run = nianbao(&["list", "--data-dir", &data], None);
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(run.code(), 2, "{}", run.describe());
    assert!(
        run.stderr().contains("in use by another process"),
        "{}",
        run.describe()
    );
}

/// Waits until nothing holds the sled lock of the store in `dir` (a closed database
/// may keep it a moment longer); a guard against hanging, not a timing.
fn wait_unlocked(dir: &Path) {
    use fs2::FileExt;
    let file = std::fs::File::open(dir.join("db")).expect("the store's db file");
    let started = std::time::Instant::now();
    while file.try_lock_exclusive().is_err() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the store stays locked"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let _ = FileExt::unlock(&file);
}

#[test]
fn audit_verify_and_export_on_an_intact_and_a_tampered_store() {
    use nianbao::store::{AuditEntry, Store, StoreConfig, DEFAULT_SEGMENT_SIZE};
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("audit_cli");
    let _ = std::fs::remove_dir_all(&dir);
    let data = utf8(dir.join("data"));
    {
        let store = Store::open(&StoreConfig::new(&data)).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let entries = (1..=5)
            .map(|i| AuditEntry {
                time: std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000 + i),
                identity: format!("user-{i}"),
                peer: "10.1.2.3:4567".into(),
                method: "/nianbao.v1.ReportRegistry/GetReport".into(),
                resources: vec!["agencies/a/reports/2023".into()],
                request_id: format!("req-{i}"),
                code: if i == 2 { 5 } else { 0 },
                reason: if i == 2 {
                    "REPORT_NOT_FOUND".into()
                } else {
                    String::new()
                },
            })
            .collect();
        rt.block_on(store.append_audit(entries)).unwrap();
        rt.block_on(store.flush()).unwrap();
    }

    let run = nianbao(&["audit", "verify", "--data-dir", &data], None);
    run.assert_code(0);
    assert_eq!(run.stdout().trim(), "5 audit record(s): chain intact");

    let run = nianbao(
        &["audit", "export", "--data-dir", &data, "--format", "json"],
        None,
    );
    run.assert_code(0);
    let records: Vec<Value> = run
        .stdout()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(records.len(), 5, "{}", run.describe());
    for (i, r) in records.iter().enumerate() {
        // proto3 JSON: uint64 as a string, bytes as base64, RFC 3339 times.
        assert_eq!(r["sequence"], Value::String((i + 1).to_string()));
        assert_eq!(r["requestId"], format!("req-{}", i + 1));
        assert!(r["hash"].as_str().is_some_and(|h| h.len() == 44), "{r}");
        assert!(
            r["time"]
                .as_str()
                .is_some_and(|t| t.starts_with("2023-11-14T22:13:2")),
            "{r}"
        );
    }
    assert_eq!(records[1]["reason"], "REPORT_NOT_FOUND");
    assert_eq!(records[1]["code"], 5);

    let run = nianbao(
        &["audit", "export", "--data-dir", &data, "--since", "3"],
        None,
    );
    run.assert_code(0);
    let lines: Vec<String> = run.stdout().lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 2, "{}", run.describe());
    assert!(
        lines[0].starts_with("4 2023-11-14T22:13:24+00:00 user-4 10.1.2.3:4567 "),
        "{lines:?}"
    );
    assert!(lines[0].contains(" request_id=req-4 "), "{lines:?}");
    assert!(lines[0].contains(" hash="), "{lines:?}");

    // Tamper with record 3, as someone with the files could: sled directly.
    wait_unlocked(Path::new(&data));
    {
        let db = sled::Config::new()
            .path(&data)
            .segment_size(DEFAULT_SEGMENT_SIZE)
            .open()
            .unwrap();
        let audit = db.open_tree("audit").unwrap();
        // Records are stored in blocks (one per batch): find the one holding record 3.
        let (key, mut v) = audit
            .iter()
            .map(|kv| kv.unwrap())
            .map(|(k, v)| (k.to_vec(), v.to_vec()))
            .find(|(_, v)| v.windows(6).any(|w| w == b"user-3"))
            .expect("the block holding record 3");
        let at = v.windows(6).position(|w| w == b"user-3").unwrap();
        v[at + 5] = b'9';
        audit.insert(key, v).unwrap();
        db.flush().unwrap();
    }
    wait_unlocked(Path::new(&data));
    let run = nianbao(&["audit", "verify", "--data-dir", &data], None);
    run.assert_code(1);
    assert!(
        run.stdout().contains("chain BROKEN at audit record 3:"),
        "{}",
        run.describe()
    );
}
