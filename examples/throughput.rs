//! Dev helper: rough parse throughput over the given files (use the criterion
//! bench `cargo bench --bench parse` for the real figures).
fn main() {
    let files: Vec<(String, Vec<u8>)> = std::env::args()
        .skip(1)
        .filter_map(|p| std::fs::read(&p).ok().map(|b| (p, b)))
        .collect();
    for (name, bytes) in &files {
        let t = std::time::Instant::now();
        let mut n = 0;
        let fixed: Option<usize> = std::env::var("ITER").ok().and_then(|v| v.parse().ok());
        while fixed.map_or(t.elapsed().as_millis() < 300, |f| n < f) {
            let r = nianbao::parse::parse(bytes, &Default::default());
            std::hint::black_box(r);
            n += 1;
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "{name}: {:.1} MB/s ({n} runs)",
            bytes.len() as f64 * n as f64 / secs / 1e6
        );
    }
}
