//! Validation time on the real corpus (`tests/corpus`): `validate/corpus` runs
//! the full rule catalogue on every parsed corpus report (text and HTML renders)
//! as `nianbao validate` does, with the parse's cell locations and diagnostics.
//! Parsing happens once, before measuring; the time criterion reports is the mean
//! per report (the time of one pass over the corpus divided by the number of
//! reports). Target: under 50 µs per report.
//!
//! `cargo bench --bench validate`.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use nianbao::parse::{parse, ParseOptions};
use nianbao::pb::{AnnualReport, ParseResult};
use nianbao::validate::{validate, Input, Options};

/// The allocator of the `nianbao` binary (src/main.rs), so the figures are the server's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CORPUS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus");

/// Every corpus report (`.txt`, `.html`), parsed, by file name.
fn parsed_corpus() -> Vec<(ParseResult, AnnualReport)> {
    let dir = PathBuf::from(CORPUS_DIR);
    assert!(
        dir.is_dir(),
        "corpus directory not found at {}",
        dir.display()
    );
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("list the corpus")
        .map(|e| e.expect("corpus entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt" || e == "html"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no reports in {}", dir.display());
    paths
        .iter()
        .map(|path| {
            let bytes = std::fs::read(path).expect("read a corpus file");
            let opts = ParseOptions {
                label: path.display().to_string(),
                ..ParseOptions::default()
            };
            let parsed = parse(&bytes, &opts);
            let report = parsed.report.clone().unwrap_or_default();
            (parsed, report)
        })
        .collect()
}

fn bench_validate(c: &mut Criterion) {
    let corpus = parsed_corpus();
    let inputs: Vec<Input<'_>> = corpus
        .iter()
        .map(|(parsed, report)| Input::parsed(parsed, report))
        .collect();
    let options = Options::default();
    let n = inputs.len() as u32;

    let mut group = c.benchmark_group("validate");
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    group.sample_size(30);
    group.bench_function("corpus", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                for input in &inputs {
                    black_box(validate(black_box(input), &options));
                }
            }
            // Per report: criterion's figure is the mean time of one validation.
            start.elapsed() / n
        });
    });
    group.finish();
}

criterion_group!(benches, bench_validate);
criterion_main!(benches);
