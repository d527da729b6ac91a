//! Tables 二, 三 and 四: labels aligned against the format's row order, values read
//! into cells, glued or missing cells solved with the format's relations.

use super::lexicon::{Hit, Key};
use super::split::{readings, Cell, Readings, RowRelation, Val};
use super::tokens::{groups, Group, Tok};
use crate::diagnostics::{self as dc, Diag};
use crate::format::phrasing::prose_evidence;
use crate::format::{
    self, CellKind, CellRef, CellValue, PROACTIVE_ROWS, REQUEST_COLUMNS, REQUEST_ROWS,
    REQUEST_TOTAL_COL, REVIEW_COLUMNS, REVIEW_GROUPS,
};
use crate::pb::{self, FormatVersion, MoneyUnit};

/// What the table readers produce besides the cells written into the report.
#[derive(Default)]
pub struct Out {
    pub diags: Vec<Diag>,
    /// Diagnostics' normalised-text spans, parallel to `diags`.
    pub diag_spans: Vec<Option<(usize, usize)>>,
    /// Where each cell was read from (normalised-text offsets).
    pub cells: Vec<(CellRef, (usize, usize))>,
    /// Some glued digit run was split.
    pub glued: bool,
}

impl Out {
    fn push(&mut self, d: Diag, span: Option<(usize, usize)>) {
        self.diags.push(d);
        self.diag_spans.push(span);
    }
}

/// A value row assigned to a table row.
struct Placed {
    row: usize,
    group: Group,
    by_position: bool,
}

/// Aligns value rows with the official row order. Rows whose label stands right
/// before their values are anchors (the longest chain in official order); value
/// rows without a label fill the rows between two anchors when their number is
/// exactly the number of rows missing there.
fn align(
    labelled: Vec<(Option<usize>, Group)>,
    order: &[usize],
    width: usize,
    out: &mut Out,
    table: &str,
) -> Vec<Placed> {
    // Unlabelled values too few to make a row even with missing cells recovered
    // (a stray "1" between rows) are noise, not a row.
    let labelled: Vec<(Option<usize>, Group)> = labelled
        .into_iter()
        .filter(|(r, g)| r.is_some() || g.max_cells() + 2 >= width)
        .collect();
    let pos_of = |row: usize| order.iter().position(|&r| r == row);
    let items: Vec<(Option<usize>, Group)> = labelled
        .into_iter()
        .map(|(r, g)| (r.and_then(pos_of), g))
        .collect();
    // Longest strictly increasing chain of labelled items (O(n²), n is small).
    let n = items.len();
    let mut best = vec![0usize; n];
    let mut prev = vec![usize::MAX; n];
    for i in 0..n {
        let Some(pi) = items[i].0 else { continue };
        best[i] = 1;
        for j in 0..i {
            if let Some(pj) = items[j].0 {
                if pj < pi && best[j] + 1 > best[i] {
                    best[i] = best[j] + 1;
                    prev[i] = j;
                }
            }
        }
    }
    let mut anchors = Vec::new();
    if let Some((mut i, _)) = best
        .iter()
        .enumerate()
        .filter(|(_, &b)| b > 0)
        .max_by_key(|(i, &b)| (b, usize::MAX - i))
    {
        loop {
            anchors.push(i);
            if prev[i] == usize::MAX {
                break;
            }
            i = prev[i];
        }
    }
    anchors.reverse();
    let mut placed = Vec::new();
    // Gaps: before the first anchor, between anchors, after the last.
    let mut bounds: Vec<(Option<usize>, usize)> = Vec::new(); // (item index, row position)
    for &a in &anchors {
        if let Some(p) = items[a].0 {
            bounds.push((Some(a), p));
        }
    }
    let mut lo_item = 0usize;
    let mut lo_pos = 0usize;
    let mut gaps = Vec::new();
    for &(item, pos) in &bounds {
        let item = item.unwrap_or(0);
        gaps.push((lo_item, item, lo_pos, pos));
        lo_item = item + 1;
        lo_pos = pos + 1;
    }
    gaps.push((lo_item, n, lo_pos, order.len()));
    let is_anchor = |i: usize| anchors.contains(&i);
    for (gi, &(from, to, pfrom, pto)) in gaps.iter().enumerate() {
        let free: Vec<usize> = (from..to).filter(|&i| !is_anchor(i)).collect();
        let want = pto.saturating_sub(pfrom);
        // Before the first anchor, only value rows that fit exactly are taken
        // (header debris is common there).
        if free.len() == want && want > 0 {
            for (k, &i) in free.iter().enumerate() {
                placed.push(Placed {
                    row: order[pfrom + k],
                    group: items[i].1.clone(),
                    by_position: true,
                });
            }
        } else if !free.is_empty() && want > 0 && !(gi == 0 && anchors.is_empty()) {
            let span = free
                .first()
                .map(|&i| (items[i].1.start(), items[i].1.end()));
            out.push(
                Diag::new(
                    dc::ROW_MISSING,
                    format!(
                        "{table}有{}行未标注的数值无法对应到{}个缺少标签的行",
                        free.len(),
                        want
                    ),
                    format!(
                        "{} unlabelled value rows of {table} cannot be matched to the {} rows whose labels are missing",
                        free.len(),
                        want
                    ),
                ),
                span,
            );
        }
    }
    for &a in &anchors {
        if let Some(p) = items[a].0 {
            placed.push(Placed {
                row: order[p],
                group: items[a].1.clone(),
                by_position: false,
            });
        }
    }
    placed.sort_by_key(|p| order.iter().position(|&r| r == p.row));
    placed
}

/// Value rows of a region: after each label hit, its values (the first group
/// labelled with the hit's row when it stands right after the label).
fn value_rows(
    text: &str,
    hits: &[Hit],
    region: (usize, usize),
    row_of: impl Fn(&Key) -> Option<usize>,
    numbering_of: impl Fn(&Key) -> &'static str,
    is_table_hit: impl Fn(&Key) -> bool,
) -> Vec<(Option<usize>, Group)> {
    let inside: Vec<&Hit> = hits
        .iter()
        .filter(|h| h.start >= region.0 && h.end <= region.1 && is_table_hit(&h.key))
        .collect();
    let mut out = Vec::new();
    let mut started = false;
    for (i, h) in inside.iter().enumerate() {
        let row = row_of(&h.key);
        if row.is_some() {
            started = true;
        }
        if !started {
            continue;
        }
        let seg_end = inside.get(i + 1).map_or(region.1, |n| n.start);
        if seg_end < h.end {
            continue;
        }
        let numbering = inside.get(i + 1).map_or("", |n| numbering_of(&n.key));
        for (k, g) in groups(text, h.end, seg_end, numbering)
            .into_iter()
            .enumerate()
        {
            let label = if k == 0 && g.labelled { row } else { None };
            // A labelled row of blanks is a row (all cells absent); unlabelled
            // blanks are layout debris.
            if g.has_numbers() || (label.is_some() && !g.toks.is_empty()) {
                out.push((label, g));
            }
        }
    }
    out
}

fn row_relations_7() -> Vec<RowRelation> {
    vec![RowRelation {
        lhs: vec![REQUEST_TOTAL_COL],
        rhs: (0..REQUEST_TOTAL_COL).collect(),
    }]
}

fn review_relations() -> Vec<RowRelation> {
    let w = REVIEW_COLUMNS.len();
    (0..REVIEW_GROUPS.len())
        .map(|g| RowRelation {
            lhs: vec![g * w + w - 1],
            rhs: (g * w..g * w + w - 1).collect(),
        })
        .collect()
}

fn show(r: &[Cell]) -> String {
    r.iter()
        .map(|c| c.val.as_ref().map_or("·".to_string(), Val::to_string))
        .collect::<Vec<_>>()
        .join("|")
}

fn to_cell_value(v: &Val) -> CellValue {
    match v {
        Val::Int(i) => CellValue::Int(*i),
        Val::Money { decimal, raw, unit } => CellValue::Money(money(decimal, raw, *unit)),
    }
}

/// Builds a money amount; `fen` is set when the unit is known.
pub fn money(decimal: &str, raw: &str, unit: MoneyUnit) -> pb::MoneyAmount {
    let fen = format::fen(decimal, unit);
    pb::MoneyAmount {
        raw: raw.to_string(),
        fen,
        unit: unit as i32,
        decimal: decimal.to_string(),
    }
}

/// The resolved reading of one table row, or why there is none.
enum Resolved {
    One { cells: Vec<Cell>, how: &'static str },
    Many(Vec<Vec<Cell>>),
    None(Vec<Vec<Cell>>),
}

fn resolve(r: &Readings) -> Resolved {
    if r.forced {
        // One structural reading: taken as published, even if it does not add up
        // (that is the validator's finding to make, not the parser's to hide).
        if let Some(cells) = r.all.first() {
            return Resolved::One {
                cells: cells.clone(),
                how: "plain",
            };
        }
    }
    match r.fitting.len() {
        1 => Resolved::One {
            cells: r.fitting[0].clone(),
            how: if r.missing > 0 { "recovered" } else { "split" },
        },
        0 => Resolved::None(r.all.clone()),
        _ => Resolved::Many(r.fitting.clone()),
    }
}

/// A table-三 row with several readings.
struct Ambiguous {
    row: usize,
    cands: Vec<Vec<Cell>>,
    span: (usize, usize),
    /// Cells missing from the source (0: the readings come from glued digits).
    missing: usize,
}

/// Reads table 三 of `version` in `region`.
pub fn read_requests(
    text: &str,
    hits: &[Hit],
    region: (usize, usize),
    version: FormatVersion,
    report: &mut pb::AnnualReport,
    out: &mut Out,
) {
    let order = format::requests_rows(version);
    let other_handling = format::request_row_index("other_handling").unwrap_or(25);
    let rows = value_rows(
        text,
        hits,
        region,
        |k| match k {
            Key::RequestRow(i) if version == FormatVersion::V2019 || *i != other_handling => {
                Some(*i)
            }
            _ => None,
        },
        |k| match k {
            Key::RequestRow(i) => REQUEST_ROWS[*i].numbering,
            _ => "",
        },
        |k| {
            matches!(
                k,
                Key::RequestRow(_) | Key::RequestGroup | Key::RequestHeader | Key::ReviewHeader
            )
        },
    );
    let placed = align(rows, order, REQUEST_COLUMNS.len(), out, "表三");
    let kinds = [CellKind::Count; 7];
    let rels = row_relations_7();
    let mut seen = vec![false; REQUEST_ROWS.len()];
    let mut ambiguous: Vec<Ambiguous> = Vec::new();
    for p in &placed {
        seen[p.row] = true;
        let span = (p.group.start(), p.group.end());
        let id = REQUEST_ROWS[p.row].id;
        if p.by_position {
            out.push(
                Diag::new(
                    dc::ROW_BY_POSITION,
                    format!(
                        "表三“{}”行没有标签，按其在表中的位置确定",
                        REQUEST_ROWS[p.row].label
                    ),
                    format!("table 三 row `{id}` has no label; it was assigned by its position"),
                )
                .paths(row_paths(p.row)),
                Some(span),
            );
        }
        let r = readings(&p.group.toks, &kinds, &rels);
        note_readings(&r, &mut *out, span, &format!("requests.{id}"));
        match resolve(&r) {
            Resolved::One { cells, how } => {
                report_how(how, &cells, &r, p.row, span, out);
                write_row(report, &cells, |c| CellRef::request(p.row, c), out);
            }
            Resolved::Many(cands) => ambiguous.push(Ambiguous {
                row: p.row,
                cands,
                span,
                missing: r.missing,
            }),
            Resolved::None(all) if r.missing > 0 => {
                let d = Diag::new(
                    dc::CELLS_MISSING,
                    format!("表三“{}”行只有{}个数值（应为7个），行合计无法确定缺失的单元格，单元格留空", REQUEST_ROWS[p.row].label, 7 - r.missing),
                    format!("table 三 row `{id}` has {} values for 7 cells and the row total does not fix the missing ones; the cells are left absent", 7 - r.missing),
                )
                .paths(row_paths(p.row));
                out.push(
                    with_candidates(d, &all, |c| CellRef::request(p.row, c)),
                    Some(span),
                );
            }
            Resolved::None(all) => {
                let d = Diag::new(
                    dc::SPLIT_IMPOSSIBLE,
                    format!("表三“{}”行的数值无法拆分为7个单元格且满足行合计", REQUEST_ROWS[p.row].label),
                    format!("the values of table 三 row `{id}` cannot be read as 7 cells that add up to the row total"),
                )
                .paths(row_paths(p.row));
                out.push(
                    with_candidates(d, &all, |c| CellRef::request(p.row, c)),
                    Some(span),
                );
            }
        }
    }
    if !ambiguous.is_empty() {
        solve_columns(report, version, ambiguous, out);
    }
    for &r in order {
        if !seen[r] {
            out.push(
                Diag::new(
                    dc::ROW_MISSING,
                    format!("表三缺少“{}”行的数值", REQUEST_ROWS[r].label),
                    format!(
                        "table 三 row `{}` has no values in the source; its cells are absent",
                        REQUEST_ROWS[r].id
                    ),
                )
                .paths(row_paths(r)),
                None,
            );
        }
    }
}

fn row_paths(row: usize) -> Vec<String> {
    (0..REQUEST_COLUMNS.len())
        .map(|c| CellRef::request(row, c).path())
        .collect()
}

fn note_readings(r: &Readings, out: &mut Out, span: (usize, usize), what: &str) {
    if r.split {
        out.glued = true;
    }
    if r.extra > 0 {
        out.push(
            Diag::new(
                dc::EXTRA_CELLS,
                format!("{what} 多出{}个数值，已忽略", r.extra),
                format!(
                    "{what} has {} more values than cells; the extra values were ignored",
                    r.extra
                ),
            )
            .path(what),
            Some(span),
        );
    }
    if r.exhausted {
        out.push(
            Diag::new(
                dc::BUDGET_EXCEEDED,
                format!("{what} 的拆分方案过多，未能全部检查"),
                format!("{what}: too many ways to split the values; not all were examined"),
            )
            .path(what),
            Some(span),
        );
    }
}

fn report_how(
    how: &str,
    cells: &[Cell],
    r: &Readings,
    row: usize,
    span: (usize, usize),
    out: &mut Out,
) {
    let id = REQUEST_ROWS[row].id;
    match how {
        "split" => out.push(
            Diag::new(
                dc::SPLIT_UNIQUE,
                format!(
                    "表三“{}”行的连写数字唯一拆分为 {}（行合计校验）",
                    REQUEST_ROWS[row].label,
                    show(cells)
                ),
                format!(
                    "the glued digits of table 三 row `{id}` have one reading that adds up: {}",
                    show(cells)
                ),
            )
            .paths(row_paths(row)),
            Some(span),
        ),
        "recovered" => {
            let d = Diag::new(
                dc::CELLS_RECOVERED,
                format!(
                    "表三“{}”行只有{}个数值（应为7个）；缺失的单元格由行合计唯一确定：{}",
                    REQUEST_ROWS[row].label,
                    7 - r.missing,
                    show(cells)
                ),
                format!(
                    "table 三 row `{id}` has {} values for 7 cells; every placement of the missing cell gives the same row: {}",
                    7 - r.missing,
                    show(cells)
                ),
            )
            .paths(row_paths(row));
            // The recovered reading is the one candidate.
            let d = with_candidates(d, std::slice::from_ref(&cells.to_vec()), |c| {
                CellRef::request(row, c)
            });
            out.push(d, Some(span));
        }
        _ => {}
    }
}

/// At most this many candidate readings are listed in one diagnostic.
const MAX_LISTED: usize = 256;

fn with_candidates(mut d: Diag, cands: &[Vec<Cell>], cell: impl Fn(usize) -> CellRef) -> Diag {
    for c in cands.iter().take(MAX_LISTED) {
        d = d.candidate(
            c.iter()
                .enumerate()
                .map(|(i, v)| {
                    (
                        cell(i).path(),
                        v.val.as_ref().map_or(String::new(), Val::to_string),
                    )
                })
                .collect(),
        );
    }
    d
}

fn write_row(
    report: &mut pb::AnnualReport,
    cells: &[Cell],
    cell: impl Fn(usize) -> CellRef,
    out: &mut Out,
) {
    for (i, c) in cells.iter().enumerate() {
        let r = cell(i);
        r.set(report, c.val.as_ref().map(to_cell_value));
        if let Some(span) = c.span {
            out.cells.push((r, span));
        }
    }
}

/// Chooses among the readings of ambiguous table-三 rows with the column relations
/// (A1, A3). A unique combination is taken; otherwise the rows stay absent.
fn solve_columns(
    report: &mut pb::AnnualReport,
    version: FormatVersion,
    ambiguous: Vec<Ambiguous>,
    out: &mut Out,
) {
    let product: usize = ambiguous
        .iter()
        .map(|a| a.cands.len())
        .try_fold(1usize, |a, n| a.checked_mul(n))
        .unwrap_or(usize::MAX);
    let rels: Vec<&format::Relation> = format::relations(version)
        .iter()
        .filter(|r| {
            r.kind != format::RelationKind::RowTotal && r.kind != format::RelationKind::ReviewTotal
        })
        .collect();
    let mut solutions: Vec<Vec<usize>> = Vec::new();
    if product <= 100_000 {
        let mut choice = vec![0usize; ambiguous.len()];
        'outer: loop {
            let read = |c: &CellRef| -> Option<i64> {
                if let CellRef::Request { row, col } = *c {
                    if let Some(k) = ambiguous.iter().position(|a| a.row == row as usize) {
                        return ambiguous[k].cands[choice[k]][col as usize]
                            .val
                            .as_ref()?
                            .int();
                    }
                }
                c.get_int(report)
            };
            let touches = |r: &format::Relation| {
                r.cells().any(|c| matches!(c, CellRef::Request { row, .. } if ambiguous.iter().any(|a| a.row == *row as usize)))
            };
            if rels
                .iter()
                .filter(|r| touches(r))
                .all(|r| r.residual(read).is_none_or(|v| v == 0))
            {
                solutions.push(choice.clone());
                if solutions.len() > 1 {
                    break;
                }
            }
            for k in 0..choice.len() {
                choice[k] += 1;
                if choice[k] < ambiguous[k].cands.len() {
                    continue 'outer;
                }
                choice[k] = 0;
            }
            break;
        }
    }
    if solutions.len() == 1 {
        for (k, a) in ambiguous.iter().enumerate() {
            let (row, cands, span) = (&a.row, &a.cands, &a.span);
            let cells = &cands[solutions[0][k]];
            out.push(
                Diag::new(
                    dc::SPLIT_UNIQUE,
                    format!("表三“{}”行有{}种拆分，按列勾稽关系（A1/A3）唯一确定为 {}", REQUEST_ROWS[*row].label, cands.len(), show(cells)),
                    format!("table 三 row `{}` has {} readings; the column relations (A1/A3) leave one: {}", REQUEST_ROWS[*row].id, cands.len(), show(cells)),
                )
                .paths(row_paths(*row)),
                Some(*span),
            );
            write_row(report, cells, |c| CellRef::request(*row, c), out);
        }
        return;
    }
    for Ambiguous {
        row,
        cands,
        span,
        missing,
    } in ambiguous
    {
        let d = if missing > 0 {
            Diag::new(
                dc::CELLS_MISSING,
                format!("表三“{}”行只有{}个数值（应为7个），缺失单元格有{}种符合合计的位置，单元格留空", REQUEST_ROWS[row].label, 7 - missing, cands.len()),
                format!("table 三 row `{}` has {} values for 7 cells; {} placements of the missing cells add up; the cells are left absent", REQUEST_ROWS[row].id, 7 - missing, cands.len()),
            )
        } else {
            Diag::new(
                dc::SPLIT_AMBIGUOUS,
                format!("表三“{}”行的连写数字有{}种符合行合计的拆分，无法确定，单元格留空", REQUEST_ROWS[row].label, cands.len()),
                format!("the glued digits of table 三 row `{}` have {} readings that add up; the cells are left absent", REQUEST_ROWS[row].id, cands.len()),
            )
        }
        .paths(row_paths(row));
        out.push(
            with_candidates(d, &cands, |c| CellRef::request(row, c)),
            Some(span),
        );
    }
}

/// Reads table 二 of `version` in `region`. `prose` is the narrative before the
/// table: numbers it states decide between readings of glued rows.
pub fn read_proactive(
    text: &str,
    hits: &[Hit],
    region: (usize, usize),
    version: FormatVersion,
    prose: &str,
    report: &mut pb::AnnualReport,
    out: &mut Out,
) {
    let order = format::proactive_rows(version);
    let rows = value_rows(
        text,
        hits,
        region,
        |k| match k {
            Key::ProactiveRow(i) => Some(*i),
            _ => None,
        },
        |_| "",
        |k| matches!(k, Key::ProactiveRow(_) | Key::ProactiveHeader),
    );
    // Table 二 rows each carry their own distinctive label, and conversions do
    // reorder its sub-tables: take the first labelled value row of each row.
    let mut placed: Vec<Placed> = Vec::new();
    for (label, group) in rows {
        if let Some(row) = label {
            if order.contains(&row) && !placed.iter().any(|p| p.row == row) {
                placed.push(Placed {
                    row,
                    group,
                    by_position: false,
                });
            }
        }
    }
    let mut seen = vec![false; PROACTIVE_ROWS.len()];
    for p in &placed {
        seen[p.row] = true;
        let spec = &PROACTIVE_ROWS[p.row];
        let cols = spec.columns(version);
        let kinds: Vec<CellKind> = cols.iter().map(|c| c.kind).collect();
        let span = (p.group.start(), p.group.end());
        let cell = |i: usize| CellRef::Proactive {
            row: p.row as u8,
            col: cols[i].id,
        };
        let paths: Vec<String> = (0..cols.len()).map(|i| cell(i).path()).collect();
        let r = readings(&p.group.toks, &kinds, &[]);
        note_readings(&r, out, span, &format!("proactive.{}", spec.id));
        match resolve(&r) {
            Resolved::One { cells, how } => {
                if how == "split" {
                    out.push(
                        Diag::new(
                            dc::SPLIT_UNIQUE,
                            format!(
                                "表二“{}”行的连写数字唯一拆分为 {}",
                                spec.label,
                                show(&cells)
                            ),
                            format!(
                                "the glued digits of table 二 row `{}` have one reading: {}",
                                spec.id,
                                show(&cells)
                            ),
                        )
                        .paths(paths.clone()),
                        Some(span),
                    );
                }
                write_row(report, &cells, cell, out);
            }
            Resolved::Many(c) => {
                let evidence = prose_evidence(prose, spec);
                let agree: Vec<&Vec<Cell>> = c
                    .iter()
                    .filter(|r| {
                        evidence.iter().all(|(col, v)| {
                            cols.iter()
                                .position(|k| k.id == *col)
                                .is_none_or(|i| r[i].val.as_ref().and_then(Val::int) == Some(*v))
                        })
                    })
                    .collect();
                let stated: Vec<String> =
                    evidence.iter().map(|(c, v)| format!("{c}={v}")).collect();
                if agree.len() == 1 && !evidence.is_empty() {
                    let cells = agree[0].clone();
                    out.push(
                        Diag::new(
                            dc::SPLIT_UNIQUE,
                            format!("表二“{}”行的连写数字有{}种拆分，正文所述数字（{}）唯一确定为 {}", spec.label, c.len(), stated.join("，"), show(&cells)),
                            format!("the glued digits of table 二 row `{}` have {} readings; the numbers the narrative states ({}) leave one: {}", spec.id, c.len(), stated.join(", "), show(&cells)),
                        )
                        .paths(paths.clone()),
                        Some(span),
                    );
                    write_row(report, &cells, cell, out);
                    continue;
                }
                let note = if stated.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; the narrative states {} but does not decide",
                        stated.join(", ")
                    )
                };
                let d = Diag::new(
                    dc::SPLIT_AMBIGUOUS,
                    format!("表二“{}”行的连写数字有{}种拆分，表二没有勾稽关系可以判定，单元格留空", spec.label, c.len()),
                    format!("the glued digits of table 二 row `{}` have {} readings and table 二 has no arithmetic to choose{note}; the cells are left absent", spec.id, c.len()),
                )
                .paths(paths);
                out.push(with_candidates(d, &c, cell), Some(span));
            }
            Resolved::None(all) => {
                let d = Diag::new(
                    dc::SPLIT_IMPOSSIBLE,
                    format!("表二“{}”行的数值无法读成{}个单元格", spec.label, cols.len()),
                    format!(
                        "the values of table 二 row `{}` cannot be read as {} cells",
                        spec.id,
                        cols.len()
                    ),
                )
                .paths(paths);
                out.push(with_candidates(d, &all, cell), Some(span));
            }
        }
    }
    for &r in order {
        if !seen[r] {
            let spec = &PROACTIVE_ROWS[r];
            out.push(
                Diag::new(
                    dc::ROW_MISSING,
                    format!("表二缺少“{}”行的数值", spec.label),
                    format!(
                        "table 二 row `{}` has no values in the source; its cells are absent",
                        spec.id
                    ),
                )
                .paths(
                    spec.columns(version)
                        .iter()
                        .map(|c| format!("proactive.{}.{}", spec.id, c.id)),
                ),
                None,
            );
        }
    }
}

/// Reads table 四 (one row of 15 cells) in `region`.
pub fn read_review(
    text: &str,
    hits: &[Hit],
    region: (usize, usize),
    report: &mut pb::AnnualReport,
    out: &mut Out,
) {
    let inside: Vec<&Hit> = hits
        .iter()
        .filter(|h| h.start >= region.0 && h.end <= region.1)
        .collect();
    let Some(first) = inside.iter().position(|h| h.key == Key::ReviewHeader) else {
        out.push(
            Diag::new(
                dc::TABLE_MISSING,
                "未找到表四（行政复议、行政诉讼情况）的表头",
                "table 四 (reconsideration and litigation) was not found: no header row",
            )
            .path("review_litigation"),
            None,
        );
        return;
    };
    let mut toks: Vec<Tok> = Vec::new();
    for (i, h) in inside.iter().enumerate().skip(first) {
        let end = inside.get(i + 1).map_or(region.1, |n| n.start);
        if end < h.end {
            continue;
        }
        for g in groups(text, h.end, end, "") {
            if g.has_numbers() {
                toks.extend(g.toks);
            }
        }
    }
    let paths: Vec<String> = (0..15)
        .map(|i| CellRef::review(i / 5, i % 5).path())
        .collect();
    if toks.is_empty() {
        out.push(
            Diag::new(
                dc::ROW_MISSING,
                "表四没有数值",
                "table 四 has no values; its cells are absent",
            )
            .paths(paths),
            None,
        );
        return;
    }
    let span = (toks[0].start, toks[toks.len() - 1].end);
    let r = readings(&toks, &[CellKind::Count; 15], &review_relations());
    note_readings(&r, out, span, "review_litigation");
    let cell = |i: usize| CellRef::review(i / 5, i % 5);
    match resolve(&r) {
        Resolved::One { cells, how } => {
            if how == "split" {
                out.push(
                    Diag::new(
                        dc::SPLIT_UNIQUE,
                        format!("表四的连写数字唯一拆分为 {}（各组合计校验）", show(&cells)),
                        format!("the glued digits of table 四 have one reading where every group adds up: {}", show(&cells)),
                    )
                    .paths(paths),
                    Some(span),
                );
            } else if how == "recovered" {
                out.push(
                    Diag::new(
                        dc::CELLS_RECOVERED,
                        format!(
                            "表四少了{}个数值，由各组合计唯一确定：{}",
                            r.missing,
                            show(&cells)
                        ),
                        format!(
                            "table 四 lacks {} values; the group totals fix them: {}",
                            r.missing,
                            show(&cells)
                        ),
                    )
                    .paths(paths),
                    Some(span),
                );
            }
            write_row(report, &cells, cell, out);
        }
        Resolved::Many(c) => {
            let d = Diag::new(
                dc::SPLIT_AMBIGUOUS,
                format!("表四的连写数字有{}种符合合计的拆分，单元格留空", c.len()),
                format!("the glued digits of table 四 have {} readings that add up; the cells are left absent", c.len()),
            )
            .paths(paths);
            out.push(with_candidates(d, &c, cell), Some(span));
        }
        Resolved::None(all) => {
            let d = Diag::new(
                dc::CELLS_MISSING,
                format!("表四的数值无法读成15个单元格（找到{}个数值）", toks.len()),
                format!(
                    "table 四 values cannot be read as 15 cells ({} values found)",
                    toks.len()
                ),
            )
            .paths(paths);
            out.push(with_candidates(d, &all, cell), Some(span));
        }
    }
}

/// Which table-三 shape the region follows: V2019 if its （六）其他处理 row carries
/// values and no V2021 （六） sub-row is labelled.
pub fn requests_version(text: &str, hits: &[Hit], region: (usize, usize)) -> Option<FormatVersion> {
    let mut v2021 = false;
    let mut v2019 = false;
    let other_handling = format::request_row_index("other_handling").unwrap_or(25);
    for (i, h) in hits.iter().enumerate() {
        if h.start < region.0 || h.end > region.1 {
            continue;
        }
        if let Key::RequestRow(r) = h.key {
            if REQUEST_ROWS[r].versions == format::Versions::V2021Only {
                v2021 = true;
            }
            if r == other_handling {
                let end = hits.get(i + 1).map_or(region.1, |n| n.start).min(region.1);
                if end >= h.end
                    && groups(text, h.end, end, "")
                        .iter()
                        .any(|g| g.has_numbers() && g.labelled)
                {
                    v2019 = true;
                }
            }
        }
    }
    match (v2021, v2019) {
        (true, _) => Some(FormatVersion::V2021),
        (false, true) => Some(FormatVersion::V2019),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prose_states_document_counts() {
        let prose = "集中公开现行有效行政规范性文件698件,动态更新本年度制发的规范性文件88件。";
        let ev = prose_evidence(prose, &PROACTIVE_ROWS[1]);
        assert_eq!(ev, vec![("in_force", 698), ("issued", 88)]);
    }
}
