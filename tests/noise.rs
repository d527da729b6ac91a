//! Hostile inputs: `parse` must return (never panic) on anything, and say so with
//! an ERROR diagnostic when the input is clearly not a report.
//!
//! Inputs come from a seeded generator (`fastrand`), so every run sees the same bytes.
//! No timing is asserted here (the parser bounds its own work; see the benches).

mod common;

use common::{corpus_dir, describe_diags, is_error, read_corpus};
use nianbao::format::{REQUEST_ROWS, SECTIONS};
use nianbao::parse::{parse, ParseOptions, DEFAULT_MAX_BYTES};
use nianbao::pb;

/// `len` bytes from the test's seeded generator.
fn noise(rng: &mut fastrand::Rng, len: usize) -> Vec<u8> {
    let mut out = vec![0; len];
    rng.fill(&mut out);
    out
}

fn opts(label: &str) -> ParseOptions {
    ParseOptions {
        label: label.to_string(),
        ..Default::default()
    }
}

/// Parses and returns the result; a panic fails the test with the input's name.
fn parse_named(name: &str, input: &[u8], options: &ParseOptions) -> pb::ParseResult {
    match std::panic::catch_unwind(|| parse(input, options)) {
        Ok(r) => r,
        Err(e) => {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("parse panicked on {name} ({} bytes): {msg}", input.len())
        }
    }
}

/// Not a report (or over a limit, or unreadable): parse returns and reports an ERROR.
fn assert_rejected(name: &str, input: &[u8]) {
    assert_rejected_with(name, input, &opts(name));
}

fn assert_rejected_with(name: &str, input: &[u8], options: &ParseOptions) {
    let result = parse_named(name, input, options);
    assert!(
        result.diagnostics.iter().any(is_error),
        "{name} ({} bytes) must be refused with an ERROR diagnostic, but parse gave none; diagnostics:\n{}",
        input.len(),
        describe_diags(&result.diagnostics)
    );
}

#[test]
fn empty_input() {
    assert_rejected("empty input", b"");
}

#[test]
fn one_byte() {
    for b in [0x00u8, b'0', b'|', b'<', b' ', b'\n', 0x80, 0xFF] {
        assert_rejected(&format!("the single byte {b:#04x}"), &[b]);
    }
}

#[test]
fn random_bytes() {
    let mut rng = fastrand::Rng::with_seed(0x6e69_616e_6261_6f01);
    for len in [2usize, 3, 7, 64, 997, 4096, 65_536] {
        let input = noise(&mut rng, len);
        assert_rejected(&format!("{len} random bytes"), &input);
        // also read as GBK, as a caller naming a legacy charset would
        let gbk = ParseOptions {
            charset: Some("gbk".to_string()),
            ..opts("random.gbk")
        };
        assert_rejected_with(&format!("{len} random bytes as GBK"), &input, &gbk);
    }
}

#[test]
fn ten_megabytes_of_noise() {
    let mut rng = fastrand::Rng::with_seed(0x6e69_616e_6261_6f02);
    let input = noise(&mut rng, 10 << 20);
    assert_rejected("10 MB of random bytes", &input);
}

/// Text-like noise: digits, separators and characters of the format's labels,
/// but no report.
#[test]
fn megabyte_of_label_soup() {
    let mut rng = fastrand::Rng::with_seed(0x6e69_616e_6261_6f03);
    let alphabet: Vec<char> = REQUEST_ROWS
        .iter()
        .flat_map(|r| r.label.chars())
        .chain("0123456789 |\n、.()（）".chars())
        .collect();
    let mut text = String::new();
    while text.len() < 1 << 20 {
        text.push(alphabet[rng.usize(..alphabet.len())]);
    }
    assert_rejected("1 MB of label characters and digits", text.as_bytes());
}

#[test]
fn over_the_size_limit() {
    let input = vec![b'0'; DEFAULT_MAX_BYTES + 1];
    assert_rejected("one byte over DEFAULT_MAX_BYTES", &input);
    let report = read_corpus("004_pingtan_2022.txt");
    let small = ParseOptions {
        max_bytes: 1000,
        ..opts("004 with max_bytes 1000")
    };
    assert_rejected_with("a real report over a 1000-byte limit", &report, &small);
}

/// Real reports cut at every 997th byte (often inside a UTF-8 sequence or a
/// digit run): no panic. They may or may not still read as a report.
#[test]
fn truncated_reports() {
    assert!(corpus_dir().is_dir());
    for name in [
        "000_2b6e7661ff84f527.txt",
        "004_pingtan_2022.txt",
        "009_gbk.txt",
        "010_shanghai_shizhengfubangongting_2019.txt",
    ] {
        let bytes = read_corpus(name);
        for cut in (997..bytes.len()).step_by(997) {
            parse_named(
                &format!("{name} cut at byte {cut}"),
                &bytes[..cut],
                &opts(name),
            );
        }
    }
}

/// One row label repeated 10 000 times, with and without digits, and the six
/// section headings repeated 10 000 times: not a report.
#[test]
fn repeated_labels() {
    let label = format!("{}、{}", REQUEST_ROWS[0].numbering, REQUEST_ROWS[0].label);
    assert_rejected("a row label ×10000", label.repeat(10_000).as_bytes());
    assert_rejected(
        "a row label and seven zeros ×10000",
        format!("{label}0000000").repeat(10_000).as_bytes(),
    );
    let headings: String = SECTIONS
        .iter()
        .map(|s| format!("{}、{}\n", s.numeral, s.heading))
        .collect();
    assert_rejected(
        "the six section headings ×10000",
        headings.repeat(10_000).as_bytes(),
    );
}

/// A real report whose table 三 has one row label repeated 10 000 times: no panic.
#[test]
fn repeated_row_inside_a_real_report() {
    let text = String::from_utf8(read_corpus("004_pingtan_2022.txt")).expect("004 is UTF-8");
    let row = "（一）予以公开 210000021";
    assert!(text.contains(row), "004 changed: {row:?} not found");
    let hostile = text.replacen(row, &row.repeat(10_000), 1);
    parse_named(
        "004 with row （一） ×10000",
        hostile.as_bytes(),
        &opts("004-repeated.txt"),
    );
}

/// A 200-digit glued run after a row label: alone it is no report; inside a real
/// report no reading of it fits seven cells, so there must be an error.
#[test]
fn two_hundred_digit_run() {
    let mut rng = fastrand::Rng::with_seed(0x6e69_616e_6261_6f04);
    let digits: String = (0..200)
        .map(|_| char::from(b'0' + rng.usize(..10) as u8))
        .collect();
    let label = format!("{}、{}", REQUEST_ROWS[0].numbering, REQUEST_ROWS[0].label);
    assert_rejected(
        "a row label and 200 digits",
        format!("{label}{digits}").as_bytes(),
    );

    let text = String::from_utf8(read_corpus("004_pingtan_2022.txt")).expect("004 is UTF-8");
    let row = "一、本年新收政府信息公开申请数量 713000074";
    assert!(text.contains(row), "004 changed: {row:?} not found");
    let hostile = text.replacen(
        row,
        &format!("一、本年新收政府信息公开申请数量 {digits}"),
        1,
    );
    assert_rejected("004 with a 200-digit 本年新收 row", hostile.as_bytes());
}

/// Deeply nested HTML (no report inside): no panic, no stack overflow, an error.
#[test]
fn deep_html_nesting() {
    let depth = 50_000;
    let divs = format!(
        "<html><body>{}平潭{}</body></html>",
        "<div>".repeat(depth),
        "</div>".repeat(depth)
    );
    assert_rejected("50 000 nested <div>s", divs.as_bytes());
    let unclosed = format!(
        "<html><body>{}规章0</body></html>",
        "<span><b>".repeat(depth)
    );
    assert_rejected("100 000 unclosed inline elements", unclosed.as_bytes());
    let tables = format!(
        "<html><body>{}0{}</body></html>",
        "<table><tr><td>".repeat(5_000),
        "</td></tr></table>".repeat(5_000)
    );
    assert_rejected("5 000 nested tables", tables.as_bytes());
}

/// A real HTML report wrapped in 10 000 <div>s: no panic.
#[test]
fn deep_nesting_around_a_real_report() {
    let html = String::from_utf8(read_corpus("004_render.html")).expect("004_render.html is UTF-8");
    let wrapped = html.replacen("<body>", &format!("<body>{}", "<div>".repeat(10_000)), 1);
    parse_named(
        "004_render.html inside 10 000 <div>s",
        wrapped.as_bytes(),
        &opts("004-deep.html"),
    );
}
