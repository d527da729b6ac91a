//! Documentation that must not drift from the code: `docs/diagnostics.md` lists
//! exactly the codes of `nianbao::diagnostics::CATALOGUE`, in code order, each
//! with the catalogue's severity and title.

use nianbao::diagnostics::CATALOGUE;
use nianbao::pb::Severity;

const DIAGNOSTICS_MD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/diagnostics.md");

/// One documented code: (code, severity, title), as written in the table.
type Row = (String, String, String);

/// The rows of the catalogue table: lines `| P001 | error | Title | … |`.
fn documented_codes(doc: &str) -> Vec<Row> {
    doc.lines()
        .filter_map(|line| {
            let cells = table_cells(line)?;
            let code = cells.first()?.trim_matches('`');
            let is_code = code.len() == 4
                && code.starts_with('P')
                && code[1..].chars().all(|c| c.is_ascii_digit());
            if !is_code {
                return None;
            }
            let cell = |i: usize| cells.get(i).cloned().unwrap_or_default();
            Some((code.to_string(), cell(1), cell(2)))
        })
        .collect()
}

/// The trimmed cells of a Markdown table row (`\|` is a literal bar), or `None`.
fn table_cells(line: &str) -> Option<Vec<String>> {
    let inner = line.trim().strip_prefix('|')?.strip_suffix('|')?;
    let mut cells = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cells.last_mut()?.push('|');
                chars.next();
            }
            '|' => cells.push(String::new()),
            c => cells.last_mut()?.push(c),
        }
    }
    Some(cells.into_iter().map(|c| c.trim().to_string()).collect())
}

fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
        Severity::Unspecified => "unspecified",
    }
}

#[test]
fn diagnostics_md_matches_the_catalogue() {
    let doc = std::fs::read_to_string(DIAGNOSTICS_MD)
        .unwrap_or_else(|e| panic!("cannot read {DIAGNOSTICS_MD}: {e}"));
    let documented = documented_codes(&doc);
    let expected: Vec<Row> = CATALOGUE
        .iter()
        .map(|c| {
            (
                c.code.to_string(),
                severity_word(c.severity).to_string(),
                c.title.to_string(),
            )
        })
        .collect();

    let mut problems = Vec::new();
    for e in &expected {
        match documented.iter().find(|d| d.0 == e.0) {
            None => problems.push(format!("{} is in CATALOGUE but not documented", e.0)),
            Some(d) if d != e => problems.push(format!(
                "{}: documented as ({}, {:?}), CATALOGUE has ({}, {:?})",
                e.0, d.1, d.2, e.1, e.2
            )),
            Some(_) => {}
        }
    }
    for (i, d) in documented.iter().enumerate() {
        if !expected.iter().any(|e| e.0 == d.0) {
            problems.push(format!("{} is documented but not in CATALOGUE", d.0));
        }
        if documented[..i].iter().any(|x| x.0 == d.0) {
            problems.push(format!("{} is documented twice", d.0));
        }
    }
    if problems.is_empty() {
        let doc_order: Vec<&str> = documented.iter().map(|d| d.0.as_str()).collect();
        let code_order: Vec<&str> = expected.iter().map(|e| e.0.as_str()).collect();
        if doc_order != code_order {
            problems.push(format!(
                "codes are not in CATALOGUE order:\n  doc:  {doc_order:?}\n  code: {code_order:?}"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "docs/diagnostics.md has drifted from nianbao::diagnostics::CATALOGUE:\n- {}",
        problems.join("\n- ")
    );
}

#[test]
fn table_cells_keep_escaped_bars() {
    assert_eq!(
        table_cells(r"| `P035` | error | a \| b | c |").unwrap(),
        ["`P035`", "error", "a | b", "c"]
    );
    assert_eq!(table_cells("not a row"), None);
}
