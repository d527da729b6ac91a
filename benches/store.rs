//! Store benchmarks (`src/store`), on realistic reports: the corpus report
//! `000_2b6e7661ff84f527.txt` parsed and validated once, then varied in agency, year,
//! division code, format version and error count.
//!
//! - `store/submit/{1,16,64}`: durable submissions (each acknowledged after its group
//!   commit) from 1, 16 and 64 concurrent tokio tasks on a 2-thread runtime; the
//!   throughput is submissions per second. Target: ≥ 2,000/s at 64 writers.
//! - `store/get_latest`: point reads of a report's latest revision in the big store,
//!   decoded into a `ReportRevision`; `store/get_latest_encoded`: the same read without
//!   decoding (the stored protobuf, as a server sends it on). Target: ≥ 100,000/s.
//! - `store/list_province`: listing every report under one province's division prefix
//!   (`32`); `store/list_division_all`: every report of the big store through the
//!   division index (prefix `3`); `store/list_all`: every report, no filter. Pages of
//!   1,000. Target: 100,000 entries in under 1 s.
//! - Printed once: how long building the big store took, and its bytes on disk per
//!   report against the encoded revision size. Target: under 3×.
//!
//! `cargo bench --bench store` builds a store of 100,000 reports (set
//! `NIANBAO_BENCH_REPORTS` for another size) in a temporary directory. Without `--bench`
//! (as under `cargo test --all-targets`, where criterion runs each benchmark once) it
//! uses 500, to stay fast.

use std::hint::black_box;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use nianbao::names::{AgencyId, ReportName};
use nianbao::parse::{parse, ParseOptions};
use nianbao::pb::{AnnualReport, FormatVersion, ValidationResult};
use nianbao::store::{ListFilter, Store, StoreConfig, Submission};
use nianbao::validate::{validate, Input, Options};
use prost::Message;
use sha2::{Digest, Sha256};

const CORPUS_REPORT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/corpus/000_2b6e7661ff84f527.txt"
);

/// Province codes the generated reports are spread over (31 Shanghai to 37 Shandong):
/// prefix `32` lists one of them, prefix `3` all of them through the division index.
const PROVINCES: [&str; 7] = ["31", "32", "33", "34", "35", "36", "37"];
const YEARS: i32 = 5;

type Template = Arc<(AnnualReport, ValidationResult)>;

fn full_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn template() -> Template {
    let bytes = std::fs::read(CORPUS_REPORT).expect("read the corpus report");
    let parsed = parse(&bytes, &ParseOptions::default());
    let report = parsed.report.clone().expect("the corpus report parses");
    let validation = validate(&Input::parsed(&parsed, &report), &Options::default());
    Arc::new((report, validation))
}

/// Report `i` of a generated population: agency `i / YEARS`, year `2019 + i % YEARS`,
/// one of the provinces, 20 cities and 20 counties in each.
fn generated(t: &Template, i: u64, salt: u64) -> Submission {
    let agency_no = i / YEARS as u64;
    let year = 2019 + (i % YEARS as u64) as i32;
    let province = PROVINCES[(agency_no % PROVINCES.len() as u64) as usize];
    let division = format!(
        "{province}{:02}{:02}",
        1 + (agency_no / 8) % 20,
        1 + (agency_no / 160) % 20
    );
    let agency = format!("bench-{agency_no:07}");
    let mut report = t.0.clone();
    report.year = year;
    report.format_version = if year >= 2021 {
        FormatVersion::V2021 as i32
    } else {
        FormatVersion::V2019 as i32
    };
    let a = report.agency.get_or_insert_with(Default::default);
    a.name = format!("第{agency_no}号 人民政府办公室");
    a.division_code = Some(division);
    let mut validation = t.1.clone();
    validation.errors = if i.is_multiple_of(7) { 2 } else { 0 };
    let digest = Sha256::digest(format!("{agency} {year} {salt}").as_bytes());
    Submission {
        name: ReportName::new(AgencyId::parse(&agency).expect("agency id"), year).expect("name"),
        report,
        validation,
        submitter: "bench".into(),
        input_sha256: hex::encode(digest),
        request_id: None,
        expected_etag: None,
        time: None,
        audit: None,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Submits `count` generated reports (numbers from `next`) from `writers` tasks.
fn submit_many(
    rt: &tokio::runtime::Runtime,
    store: &Store,
    t: &Template,
    writers: usize,
    count: u64,
    next: &Arc<AtomicU64>,
    salt: u64,
) {
    let end = next.load(Ordering::Relaxed) + count;
    rt.block_on(async {
        let mut tasks = Vec::with_capacity(writers);
        for _ in 0..writers {
            let (store, t, next) = (store.clone(), t.clone(), next.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= end {
                        return;
                    }
                    store.submit(generated(&t, i, salt)).await.expect("submit");
                }
            }));
        }
        for task in tasks {
            task.await.expect("writer task");
        }
    });
}

fn open(path: &Path) -> Store {
    Store::open(&StoreConfig::new(path)).expect("open the bench store")
}

fn bench_submit(c: &mut Criterion, t: &Template) {
    let rt = runtime();
    let mut group = c.benchmark_group("store/submit");
    group.throughput(Throughput::Elements(1));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(if full_run() { 8 } else { 1 }));
    for writers in [1usize, 16, 64] {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = open(&dir.path().join("store"));
        let next = Arc::new(AtomicU64::new(0));
        group.bench_with_input(BenchmarkId::from_parameter(writers), &writers, |b, &w| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                submit_many(&rt, &store, t, w, iters, &next, 1);
                start.elapsed()
            });
        });
    }
    group.finish();
}

/// The big store, built once.
struct Big {
    _dir: tempfile::TempDir,
    store: Store,
    reports: u64,
}

fn build_big(t: &Template) -> Big {
    let reports = if full_run() {
        std::env::var("NIANBAO_BENCH_REPORTS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(100_000)
    } else {
        500
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&dir.path().join("store"));
    let rt = runtime();
    let start = Instant::now();
    submit_many(&rt, &store, t, 64, reports, &Arc::new(AtomicU64::new(0)), 0);
    let took = start.elapsed();
    rt.block_on(store.flush()).expect("flush");
    let stats = store.stats().expect("stats");
    assert_eq!(stats.reports, reports);
    let (sample, _) = store
        .get(&generated(t, 1, 0).name, None)
        .expect("a stored report");
    let encoded = sample.encoded_len() as f64;
    let per_report = stats.size_on_disk as f64 / reports as f64;
    println!(
        "store/build: {reports} reports by 64 writers in {took:.2?} ({:.0} durable submits/s)",
        reports as f64 / took.as_secs_f64()
    );
    println!(
        "store/size: {} bytes on disk, {per_report:.0} bytes per report, encoded revision \
         {encoded:.0} bytes: {:.2}x",
        stats.size_on_disk,
        per_report / encoded
    );
    Big {
        _dir: dir,
        store,
        reports,
    }
}

fn bench_reads(c: &mut Criterion, big: &Big, t: &Template) {
    let names: Vec<ReportName> = (0..4096u64)
        .map(|k| generated(t, (k * 7919) % big.reports, 0).name)
        .collect();
    let mut group = c.benchmark_group("store");
    group.throughput(Throughput::Elements(1));
    group.bench_function("get_latest", |b| {
        let mut k = 0usize;
        b.iter(|| {
            k = (k + 1) % names.len();
            black_box(big.store.get(&names[k], None).expect("get"));
        });
    });
    group.bench_function("get_latest_encoded", |b| {
        let mut k = 0usize;
        b.iter(|| {
            k = (k + 1) % names.len();
            black_box(big.store.get_encoded(&names[k], None).expect("get"));
        });
    });

    let list_all = |filter: &ListFilter| -> usize {
        let mut n = 0;
        let mut after = None;
        loop {
            let page = big.store.list(filter, after.as_ref(), 1000).expect("list");
            n += page.items.len();
            black_box(&page.items);
            match page.next {
                Some(c) => after = Some(c),
                None => return n,
            }
        }
    };
    let prefix = |p: &str| ListFilter {
        division_prefix: Some(p.to_string()),
        ..Default::default()
    };
    let (province, division_all) = (prefix("32"), prefix("3"));
    let everything = ListFilter::default();
    let in_province = list_all(&province);
    let all = list_all(&everything);
    assert_eq!(all as u64, big.reports);
    assert_eq!(list_all(&division_all), all);
    println!("store/list: {in_province} reports under prefix 32, {all} under prefix 3 and in all");
    group.sample_size(10);
    group.throughput(Throughput::Elements(in_province as u64));
    group.bench_function("list_province", |b| b.iter(|| list_all(&province)));
    group.throughput(Throughput::Elements(all as u64));
    group.bench_function("list_division_all", |b| b.iter(|| list_all(&division_all)));
    group.bench_function("list_all", |b| b.iter(|| list_all(&everything)));
    group.finish();
}

fn benches(c: &mut Criterion) {
    let t = template();
    bench_submit(c, &t);
    let big = build_big(&t);
    bench_reads(c, &big, &t);
}

criterion_group!(store, benches);
criterion_main!(store);
