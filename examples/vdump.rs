//! Dev helper: parse and validate files, print the findings compactly.
fn main() {
    for path in std::env::args().skip(1) {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let parsed = nianbao::parse::parse(&bytes, &Default::default());
        let report = parsed.report.clone().unwrap_or_default();
        let input = nianbao::validate::Input::parsed(&parsed, &report);
        let r = nianbao::validate::validate(&input, &Default::default());
        println!(
            "== {path}: passed {} failed {} incomplete {} n/a {} | E{} W{} I{}",
            r.rules_passed,
            r.rules_failed,
            r.rules_incomplete,
            r.rules_not_applicable,
            r.errors,
            r.warnings,
            r.infos
        );
        for f in &r.findings {
            if f.code.starts_with('P') && std::env::var("ALL").is_err() {
                continue;
            }
            println!(
                "  [{}] sev={} {} | suspects={:?} {} paths={}",
                f.code,
                f.severity,
                f.message_en,
                f.suspect_paths,
                f.suspect_reason,
                f.field_paths.len()
            );
        }
    }
}
