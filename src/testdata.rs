//! The test corpus for the library's unit tests: the real published reports in
//! `tests/corpus/` (with their hand-read truth files in `tests/corpus/expected/`),
//! which the repository carries so that a lone clone tests itself.
//!
//! Test-only, and below every layer: it reads files, and imports nothing of the crate.

use std::path::PathBuf;

/// `tests/corpus/` of this crate.
pub fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// The bytes of one corpus file. A missing file fails the test that asked for it:
/// the corpus is part of the repository, so a test never skips without it.
pub fn corpus_file(name: &str) -> Vec<u8> {
    let path = corpus_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("corpus file {}: {e}", path.display()))
}

/// Every published report of the corpus (`.txt` and `.html` files), in name order,
/// with its bytes. Fails the test when the corpus is missing or empty.
pub fn corpus_reports() -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir();
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus directory {}: {e}", dir.display()));
    let mut names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".txt") || n.ends_with(".html"))
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no reports in {}", dir.display());
    names
        .into_iter()
        .map(|n| {
            let bytes = corpus_file(&n);
            (n, bytes)
        })
        .collect()
}
