//! Helpers shared by the unit tests of the HTML extractor's parts: corpus files and
//! assertions on the extracted lines and their anchors.

use super::Extracted;

/// A corpus file as text (`tests/corpus`); a missing file fails the test.
pub(super) fn corpus(name: &str) -> String {
    String::from_utf8(crate::testdata::corpus_file(name)).expect("a UTF-8 corpus file")
}

/// The lines of `text`.
pub(super) fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

/// Asserts that `ex.text` has exactly the line `line`.
#[track_caller]
pub(super) fn assert_line(ex: &Extracted, line: &str) {
    assert!(
        ex.text.lines().any(|l| l == line),
        "missing line {line:?} in:\n{}",
        ex.text
    );
}

/// Checks the anchor invariants.
#[track_caller]
pub(super) fn assert_anchors_sane(ex: &Extracted, source: &str) {
    for pair in ex.anchors.windows(2) {
        assert!(
            pair[0].0 < pair[1].0,
            "extracted offsets increase: {pair:?}"
        );
        assert!(
            pair[0].1 <= pair[1].1,
            "source offsets never decrease: {pair:?}"
        );
    }
    for &(ext, src) in &ex.anchors {
        assert!(ext <= ex.text.len() && src <= source.len());
    }
}

/// The extracted offset of `needle` within the first line starting with `line_start`.
pub(super) fn offset_in_line(text: &str, line_start: &str, needle: &str) -> usize {
    let line = text.find(&format!("\n{line_start}")).unwrap() + 1;
    line + text[line..].find(needle).unwrap()
}
