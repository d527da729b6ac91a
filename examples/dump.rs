//! Dev helper: parse a file and print `path<TAB>value` for every cell, then the
//! diagnostics (one per line, prefixed with `#`).
use nianbao::format::{all_cells, CellRef};
use nianbao::parse::{parse, ParseOptions};

fn main() {
    for path in std::env::args().skip(1) {
        let Ok(bytes) = std::fs::read(&path) else {
            eprintln!("cannot read {path}");
            continue;
        };
        let r = parse(&bytes, &ParseOptions::default());
        let rep = r.report.unwrap_or_default();
        println!(
            "@ year={} version={} title={:?} agency={:?} date={:?} sections={:?}",
            rep.year,
            rep.format_version,
            rep.title,
            rep.agency.as_ref().map(|a| (&a.name, a.kind, a.level)),
            rep.publication_date
                .as_ref()
                .map(|d| (d.year, d.month, d.day)),
            rep.sections_found
        );
        let v = nianbao::pb::FormatVersion::try_from(rep.format_version).unwrap_or_default();
        let cells: Vec<CellRef> = all_cells(v);
        for c in cells {
            let val = c.get(&rep).map(|v| v.to_string()).unwrap_or("null".into());
            println!("{}\t{}", c.path(), val);
        }
        for d in &r.diagnostics {
            let cands: Vec<String> = d
                .candidates
                .iter()
                .take(6)
                .map(|c| {
                    c.cells
                        .iter()
                        .map(|v| v.value.clone())
                        .collect::<Vec<_>>()
                        .join("|")
                })
                .collect();
            println!(
                "# [{}] {} @{:?} paths={:?} cands({})={:?}",
                d.code,
                d.message_en,
                d.span.as_ref().map(|s| (s.line, s.column)),
                d.field_paths.iter().take(2).collect::<Vec<_>>(),
                d.candidates.len(),
                cands
            );
        }
    }
}
