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
const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus");
/// The top-level fields of `nianbao.v1.ParseResult` in proto3 JSON.
const PARSE_RESULT_KEYS: [&str; 3] = ["report", "diagnostics", "cellLocations"];

// === helpers ===

/// A corpus file; fails clearly when `../shared` is not beside the repository.
fn corpus(name: &str) -> String {
    let path = Path::new(CORPUS).join(name);
    assert!(
        path.is_file(),
        "corpus file {} is missing: these tests expect the shared corpus at {CORPUS}",
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
