//! Parse throughput on the real corpus (`tests/corpus`), grouped by layout:
//! `parse/text` (every .txt report: pipe-cells, flat, mixed, spaced, markdown,
//! pdf-text, GB18030) and `parse/html` (the Word-style HTML renders). Each group
//! has one benchmark per file and `all` (every file of the group per iteration);
//! throughput is in bytes, so criterion prints MB/s.
//!
//! `cargo bench --bench parse` (add `-- parse/html` to run one group).

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use nianbao::parse::{parse, ParseOptions};

/// The allocator of the `nianbao` binary (src/main.rs), so the figures are the server's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CORPUS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus");
const HTML_FILES: [&str; 2] = ["004_render.html", "020_render.html"];

/// (file name, bytes) of the corpus files of one layout group, sorted by name.
type Files = Vec<(String, Vec<u8>)>;

/// The text reports and the HTML renders.
fn corpus_files() -> (Files, Files) {
    let dir = PathBuf::from(CORPUS_DIR);
    assert!(
        dir.is_dir(),
        "corpus directory not found at {}",
        dir.display()
    );
    let mut text = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("list the corpus") {
        let path = entry.expect("corpus entry").path();
        if path.extension().is_some_and(|e| e == "txt") {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            text.push((name, std::fs::read(&path).expect("read a corpus file")));
        }
    }
    text.sort();
    assert!(!text.is_empty(), "no .txt reports in {}", dir.display());
    let html = HTML_FILES
        .iter()
        .map(|name| {
            let path = dir.join(name);
            let bytes = std::fs::read(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            (name.to_string(), bytes)
        })
        .collect();
    (text, html)
}

fn bench_parse(c: &mut Criterion) {
    let (text, html) = corpus_files();
    for (group_name, files) in [("parse/text", text), ("parse/html", html)] {
        let mut group = c.benchmark_group(group_name);
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(3));
        group.sample_size(20);
        for (name, bytes) in &files {
            let opts = ParseOptions {
                label: name.clone(),
                ..Default::default()
            };
            group.throughput(Throughput::Bytes(bytes.len() as u64));
            group.bench_with_input(BenchmarkId::from_parameter(name), bytes, |b, bytes| {
                b.iter(|| parse(black_box(bytes), &opts));
            });
        }
        let total: usize = files.iter().map(|(_, b)| b.len()).sum();
        let opts = ParseOptions::default();
        group.throughput(Throughput::Bytes(total as u64));
        group.bench_function("all", |b| {
            b.iter(|| {
                for (_, bytes) in &files {
                    black_box(parse(black_box(bytes), &opts));
                }
            });
        });
        group.finish();
    }
}

criterion_group!(benches, bench_parse);
criterion_main!(benches);
