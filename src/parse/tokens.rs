//! The values between one label and the next: number runs, blanks and cell
//! separators, grouped into value rows.

use crate::pb::MoneyUnit;

/// One value token. Offsets are into the normalised text.
#[derive(Clone, Debug, PartialEq)]
pub struct Tok {
    pub start: usize,
    pub end: usize,
    pub val: TokVal,
    /// A digit run from unstructured text that may hold several glued cells.
    pub splittable: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TokVal {
    /// A blank cell: empty, "/", "—", "-", "无".
    Blank,
    Num(Num),
}

/// A number as written: sign, integer digits, fraction digits, unit suffix.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Num {
    pub sign: Option<char>,
    pub digits: String,
    pub frac: Option<String>,
    pub unit: Option<MoneyUnit>,
}

/// A row of values, and whether a label stands right before it.
#[derive(Clone, Debug, Default)]
pub struct Group {
    pub toks: Vec<Tok>,
    pub labelled: bool,
}

impl Group {
    /// The most cells these values can make (every glued digit its own cell).
    pub fn max_cells(&self) -> usize {
        self.toks
            .iter()
            .map(|t| match &t.val {
                TokVal::Num(n) if t.splittable => n.digits.len(),
                _ => 1,
            })
            .sum()
    }

    pub fn has_numbers(&self) -> bool {
        self.toks.iter().any(|t| matches!(t.val, TokVal::Num(_)))
    }
    pub fn start(&self) -> usize {
        self.toks.first().map_or(0, |t| t.start)
    }
    pub fn end(&self) -> usize {
        self.toks.last().map_or(0, |t| t.end)
    }
}

/// Reads the value rows in `text[start..end]`, the stretch after a label.
/// `next_numbering` is the numbering of the label that ends the stretch (e.g. "2"
/// for "2.其他法律…"): its digits are the label's, not this row's.
pub fn groups(text: &str, start: usize, end: usize, next_numbering: &str) -> Vec<Group> {
    let end = strip_numbering(text, start, end, next_numbering);
    let seg = super::sub(text, start, end);
    let mut out = Vec::new();
    let mut flow = Group::default();
    let mut flow_done = false;
    // Whether a line with text (not only values) has passed since the label.
    let mut text_line_passed = false;
    let mut first_line = true;
    let mut line_start = 0usize;
    for (line_no, line) in seg.split_inclusive('\n').enumerate() {
        let abs = start + line_start;
        line_start += line.len();
        let body = line.trim_end_matches(['\n', '\r']);
        let trimmed = body.trim();
        if trimmed.is_empty() {
            continue;
        }
        let mut lead = body.len() - body.trim_start().len();
        let mut trimmed = trimmed;
        if first_line && !trimmed.starts_with('|') && in_markdown_row(text, start) {
            // The label's cell ends on this line: the rest of the row is cells.
            if let Some(p) = body.find('|') {
                lead = p;
                trimmed = body[p..].trim_end();
            }
        }
        if trimmed.starts_with('|') && trimmed.len() > 1 {
            let only_rules = trimmed.chars().all(|c| matches!(c, '|' | '-' | ':' | ' '));
            let blank_row = only_rules && line_no == 0 && trimmed.contains(' ');
            if only_rules && !blank_row {
                // A markdown separator row (`|---|`) or a run of pipes (merged cells).
                continue;
            }
            // A markdown row: one group of its own.
            // A markdown row belongs to the label only when it is the label's own
            // row (same line); a label floating on the lines above is not enough.
            let mut g = Group {
                toks: Vec::new(),
                labelled: line_no == 0,
            };
            markdown_row(trimmed, abs + lead, &mut g.toks);
            if !g.toks.is_empty() {
                out.push(g);
            } else if !first_line {
                text_line_passed = true;
            }
            first_line = false;
            continue;
        }
        // Pipe cells ("110 |"), or plain text.
        let content = trimmed.trim_end_matches('|').trim_end();
        if content.is_empty() {
            first_line = false;
            continue;
        }
        if !flow_done {
            let before = flow.toks.len();
            let saw_text = plain(content, abs + lead, &mut flow.toks, &mut flow_done);
            if before == 0 && !flow.toks.is_empty() {
                flow.labelled = !text_line_passed;
            }
            if flow.toks.is_empty() && saw_text && !first_line {
                // Pipe-cell label tails ("数量 |") on the label's own line do not count.
                text_line_passed = true;
            }
        }
        first_line = false;
    }
    if flow.has_numbers() {
        // Keep document order: the flow values precede any later markdown rows
        // only if they started earlier.
        let pos = out
            .iter()
            .position(|g| g.start() > flow.start())
            .unwrap_or(out.len());
        out.insert(pos, flow);
    }
    out
}

/// Whether the line holding `pos` is a markdown row (starts with `|`).
fn in_markdown_row(text: &str, pos: usize) -> bool {
    // A label cell is short: look back at most this far for the row's start (a
    // flattened report is one very long line).
    const MAX_LABEL_CELL: usize = 256;
    let bytes = &text.as_bytes()[..pos];
    let from = pos.saturating_sub(MAX_LABEL_CELL);
    let line_start = match bytes[from..].iter().rposition(|&b| b == b'\n') {
        Some(p) => from + p + 1,
        None if from == 0 => 0,
        None => return false,
    };
    text.get(line_start..pos)
        .is_some_and(|l| l.trim_start().starts_with('|'))
}

/// Cuts the next label's own numbering ("…00000002." + "其他法律…") off the end.
fn strip_numbering(text: &str, start: usize, end: usize, numbering: &str) -> usize {
    if numbering.is_empty() || !numbering.bytes().all(|b| b.is_ascii_digit()) {
        return end;
    }
    let Some(seg) = text.as_bytes().get(start..end) else {
        return end;
    };
    let Some(last) = seg.iter().rposition(u8::is_ascii_digit) else {
        return end;
    };
    let after = &text[start + last + 1..end];
    if !after.starts_with(['.', '、', ',']) {
        return end;
    }
    let n = numbering.len();
    if last + 1 >= n && &seg[last + 1 - n..=last] == numbering.as_bytes() {
        start + last + 1 - n
    } else {
        end
    }
}

fn markdown_row(row: &str, abs: usize, toks: &mut Vec<Tok>) {
    let inner = row.trim_start_matches('|');
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    let base = abs + (row.len() - row.trim_start_matches('|').len());
    let mut off = 0usize;
    let mut seen_number = false;
    for cell in inner.split('|') {
        let cell_abs = base + off;
        off += cell.len() + 1;
        let t = cell.trim();
        let t_abs = cell_abs + (cell.len() - cell.trim_start().len());
        if t.is_empty() || is_placeholder(t) {
            // Blanks before the first value are the label's own empty cells only
            // when no value has been seen and the row has not started; keep them:
            // the row's cell count decides.
            toks.push(Tok {
                start: t_abs,
                end: t_abs + t.len(),
                val: TokVal::Blank,
                splittable: false,
            });
            continue;
        }
        if let Some(num) = whole_number(t).or_else(|| number_with_note(t)) {
            seen_number = true;
            toks.push(Tok {
                start: t_abs,
                end: t_abs + t.len(),
                val: TokVal::Num(num),
                splittable: false,
            });
            continue;
        }
        if seen_number {
            break; // text after the values: not part of this row
        }
        // A text cell before the values (the label): blanks before it were the
        // label's neighbours, not data.
        toks.clear();
    }
    // Trailing blanks after the last number are kept; the caller trims to width.
}

/// A cell that holds exactly one number (with optional sign, fraction, thousands
/// separators and a 元/万元 unit).
fn whole_number(t: &str) -> Option<Num> {
    let mut toks = Vec::new();
    let mut done = false;
    plain(t, 0, &mut toks, &mut done);
    if toks.len() != 1 {
        // "1,234" with thousands separators.
        let cleaned: String = t.chars().filter(|&c| c != ',').collect();
        if cleaned != t && valid_thousands(t) {
            return whole_number(&cleaned);
        }
        return None;
    }
    let tok = toks.pop()?;
    if tok.start != 0 || tok.end != t.len() {
        return None;
    }
    match tok.val {
        TokVal::Num(n) => Some(n),
        TokVal::Blank => None,
    }
}

/// "55(含自然失效29件)": the value and a parenthetical note on it.
fn number_with_note(t: &str) -> Option<Num> {
    let open = t.find('(')?;
    if !t.ends_with(')') {
        return None;
    }
    whole_number(t[..open].trim_end())
}

fn valid_thousands(t: &str) -> bool {
    let mut parts = t.split(',');
    let Some(first) = parts.next() else {
        return false;
    };
    (1..=3).contains(&first.len())
        && first.bytes().all(|b| b.is_ascii_digit())
        && parts.all(|p| {
            let int = p.split('.').next().unwrap_or(p);
            int.len() == 3 && int.bytes().all(|b| b.is_ascii_digit())
        })
}

fn is_placeholder(t: &str) -> bool {
    matches!(
        t,
        "/" | "-" | "—" | "——" | "无" | "--" | "－" | "\\" | "×" | "空"
    )
}

/// Scans unstructured text for values. Text before the first value is skipped
/// (label tails); text after a value ends the row (`done`). Returns whether any
/// text was seen.
fn plain(s: &str, abs: usize, toks: &mut Vec<Tok>, done: &mut bool) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let mut saw_text = false;
    while i < b.len() {
        let c = b[i];
        if c == b' ' || c == b'\t' || c == b'|' {
            i += 1;
            continue;
        }
        let sign = (c == b'-' || c == b'+') && b.get(i + 1).is_some_and(u8::is_ascii_digit);
        if c.is_ascii_digit() || sign {
            let st = i;
            if sign {
                i += 1;
            }
            let ds = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let digits = &s[ds..i];
            let mut frac = None;
            if i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_digit() {
                let fs = i + 1;
                i = fs;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                frac = Some(s[fs..i].to_string());
            }
            let rest = &s[i..];
            let rest_nospace = rest.trim_start_matches([' ', '\t']);
            let mut unit = None;
            if rest.starts_with("万元") {
                unit = Some(MoneyUnit::WanYuan);
                i += "万元".len();
            } else if rest.starts_with('元') {
                unit = Some(MoneyUnit::Yuan);
                i += '元'.len_utf8();
            }
            // A year or another prose quantity: "2025年", "5件", "12月".
            if unit.is_none() && frac.is_none() && !sign {
                let prose = ["年", "月", "日", "件", "条", "%", "个", "次", "人", "项"]
                    .iter()
                    .any(|u| rest_nospace.starts_with(u));
                if prose {
                    if rest.starts_with('年') && digits.len() > 4 {
                        let cut = digits.len() - 4;
                        let year = &digits[cut..];
                        if year.starts_with("19") || year.starts_with("20") {
                            push_num(
                                toks,
                                abs + st,
                                abs + ds + cut,
                                None,
                                &digits[..cut],
                                None,
                                None,
                            );
                        }
                    }
                    if !toks.is_empty() {
                        *done = true;
                        return true;
                    }
                    saw_text = true;
                    continue;
                }
            }
            let sign_c = if sign { Some(c as char) } else { None };
            push_num(toks, abs + st, abs + i, sign_c, digits, frac, unit);
            continue;
        }
        let rest = &s[i..];
        // A note on the previous value, "55(含自然失效29件)": not a cell.
        if c == b'(' && !toks.is_empty() && i > 0 && b[i - 1].is_ascii_digit() {
            if let Some(close) = rest.find(')').filter(|&p| p <= 96) {
                i += close + 1;
                continue;
            }
        }
        // A page marker from PDF conversion, "— 4 —" or "- 12 -": not cells.
        if let Some(len) = page_marker(rest) {
            i += len;
            continue;
        }
        // Placeholder blanks standing alone.
        let ch = rest.chars().next().unwrap_or(' ');
        let clen = ch.len_utf8();
        let standalone = |len: usize| {
            let prev_ok = i == 0 || matches!(b[i - 1], b' ' | b'\t' | b'|');
            let next = rest[len..].chars().next();
            prev_ok && next.is_none_or(|n| n == ' ' || n == '|' || n == '\t')
        };
        if matches!(ch, '/' | '—' | '-' | '无') && standalone(clen) {
            toks.push(Tok {
                start: abs + i,
                end: abs + i + clen,
                val: TokVal::Blank,
                splittable: false,
            });
            i += clen;
            continue;
        }
        if rest.starts_with("——") && standalone("——".len()) {
            toks.push(Tok {
                start: abs + i,
                end: abs + i + "——".len(),
                val: TokVal::Blank,
                splittable: false,
            });
            i += "——".len();
            continue;
        }
        // Text.
        saw_text = true;
        if !toks.is_empty() {
            *done = true;
            return true;
        }
        i += clen;
    }
    saw_text
}

/// The length of a page marker ("— 4 —", "- 12 -") at the start of `s`.
fn page_marker(s: &str) -> Option<usize> {
    let dash = |t: &str| {
        ["—", "-"]
            .into_iter()
            .find(|d| t.starts_with(d))
            .map(str::len)
    };
    let mut i = dash(s)?;
    let sp = |t: &str| t.len() - t.trim_start_matches(' ').len();
    i += sp(&s[i..]);
    let digits = s[i..].bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 3 {
        return None;
    }
    i += digits;
    i += sp(&s[i..]);
    let close = dash(&s[i..])?;
    let end = i + close;
    let spaced = s[..end].contains(' ');
    // With ASCII hyphens, "- 4 - 7" could be blank, 4, blank, 7: only a marker
    // when no value follows.
    let em = s.starts_with('—');
    let next_digit = s[end..]
        .trim_start_matches(' ')
        .starts_with(|c: char| c.is_ascii_digit());
    (spaced && (em || !next_digit)).then_some(end)
}

fn push_num(
    toks: &mut Vec<Tok>,
    start: usize,
    end: usize,
    sign: Option<char>,
    digits: &str,
    frac: Option<String>,
    unit: Option<MoneyUnit>,
) {
    if digits.is_empty() {
        return;
    }
    toks.push(Tok {
        start,
        end,
        splittable: digits.len() > 1,
        val: TokVal::Num(Num {
            sign,
            digits: digits.to_string(),
            frac,
            unit,
        }),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(gs: &[Group]) -> Vec<Vec<String>> {
        gs.iter()
            .map(|g| {
                g.toks
                    .iter()
                    .map(|t| match &t.val {
                        TokVal::Blank => "_".to_string(),
                        TokVal::Num(n) => format!(
                            "{}{}{}",
                            n.sign.map(String::from).unwrap_or_default(),
                            n.digits,
                            n.frac.as_ref().map(|f| format!(".{f}")).unwrap_or_default()
                        ),
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn glued_run_with_next_numbering() {
        let t = "国家秘密00000002.其他";
        let gs = groups(t, "国家秘密".len(), t.len(), "2");
        assert_eq!(vals(&gs), vec![vec!["0000000"]]);
        assert!(gs[0].labelled);
    }

    #[test]
    fn pipe_cells() {
        let t = "申请数量 |\n110 |\n0 |\n||\n";
        let gs = groups(t, 0, t.len(), "");
        assert_eq!(vals(&gs), vec![vec!["110", "0"]]);
        assert!(gs[0].labelled);
    }

    #[test]
    fn markdown_rows_and_blanks() {
        let t = " | 1 | 0 |  |\n| 0 | 2 | 3 |\n";
        let gs = groups(t, 0, t.len(), "");
        assert_eq!(vals(&gs), vec![vec!["1", "0", "_"], vec!["0", "2", "3"]]);
        assert!(gs[0].labelled);
        assert!(!gs[1].labelled);
    }

    #[test]
    fn label_cell_then_cells_with_blanks() {
        let t = "| 本年新收 申请数量 | 859 |  | 1 |";
        let st = t.find("本年新收").unwrap() + "本年新收".len();
        let gs = groups(t, st, t.len(), "");
        assert_eq!(vals(&gs), vec![vec!["859", "_", "1"]]);
    }

    #[test]
    fn notes_and_page_markers_are_not_cells() {
        let t = "55(含自然失效29件) 3 — 4 — 7";
        assert_eq!(vals(&groups(t, 0, t.len(), "")), vec![vec!["55", "3", "7"]]);
        let t = "| 55(含自然失效29件) | 3 |";
        assert_eq!(vals(&groups(t, 0, t.len(), "")), vec![vec!["55", "3"]]);
        // A standalone dash is still a blank cell.
        let t = "1 - 2";
        assert_eq!(vals(&groups(t, 0, t.len(), "")), vec![vec!["1", "_", "2"]]);
    }

    #[test]
    fn floating_label_is_not_attached_to_markdown_row() {
        let t = "府信息\n| 1 | 0 |\n";
        let gs = groups(t, "府信息".len(), t.len(), "");
        assert!(!gs[0].labelled);
    }

    #[test]
    fn signs_years_and_money() {
        let t = "2648-18538 第二十条";
        let gs = groups(t, 0, t.len(), "");
        assert_eq!(vals(&gs), vec![vec!["2648", "-18538"]]);
        let t = "02025年,我们";
        assert_eq!(vals(&groups(t, 0, t.len(), "")), vec![vec!["0"]]);
        let t = "39573802895.90元三、";
        let gs = groups(t, 0, t.len(), "");
        assert_eq!(vals(&gs), vec![vec!["39573802895.90"]]);
    }
}
