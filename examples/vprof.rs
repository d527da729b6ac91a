//! Dev helper: validate the given files ITER times each (after parsing once), for
//! profiling with callgrind (`valgrind --tool=callgrind`); the criterion bench
//! `cargo bench --bench validate` gives the real figure.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let iter: usize = std::env::var("ITER")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let parsed: Vec<_> = std::env::args()
        .skip(1)
        .filter_map(|p| std::fs::read(&p).ok())
        .map(|b| {
            let p = nianbao::parse::parse(&b, &Default::default());
            let r = p.report.clone().unwrap_or_default();
            (p, r)
        })
        .collect();
    let t = std::time::Instant::now();
    for _ in 0..iter {
        for (p, r) in &parsed {
            let input = nianbao::validate::Input::parsed(p, r);
            std::hint::black_box(nianbao::validate::validate(&input, &Default::default()));
        }
    }
    let n = (iter * parsed.len()).max(1);
    eprintln!(
        "{:.1} µs/report over {n}",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
}
