//! Renders parse diagnostics and validation findings against their source text,
//! rustc style:
//!
//! ```text
//! error[P035]: 表二“行政规范性文件”行的连写数字有10种拆分，…
//!              the glued digits of table 二 row `normative_documents` have 10 readings …
//!   --> 003_pingtan_2021.txt:11:2119
//!    |
//! 11 | …现行有效件数规章 000行政规范性文件693665第二十条第（五）项…
//!    |                                    ^^^^^^
//!    = note: candidate: 69|3|665
//!    = note: fields: proactive.normative_documents.{issued, repealed, in_force}
//! ```
//!
//! Validation findings use the same renderer (`validate.rs` builds a [`Message`]
//! with its own notes: expected, actual, likely, fingerprint).
//!
//! Spans are byte offsets into the decoded text (`SourceSpan`); a span outside that
//! text or off a character boundary is rendered without a snippet, never a panic.
//! Long lines (flattened crawls put a whole table on one line) are shown as a
//! window around the span.
//!
//! Hand-rendered rather than through miette's graphical handler: that handler
//! prints whole source lines, and our lines run to tens of thousands of characters.

use std::io::{self, Write};

use nianbao::pb;

use super::term::{char_width, width, Paint, Style};

/// The widest source excerpt shown, in terminal columns.
const MAX_EXCERPT: usize = 100;

/// The text diagnostics point into.
#[derive(Clone, Copy, Debug)]
pub struct Source<'a> {
    /// The name shown after `-->` (the file as given on the command line).
    pub name: &'a str,
    /// The decoded text the spans index, when it is available.
    pub text: Option<&'a str>,
}

/// The label and colour of a severity.
pub fn severity_label(severity: i32) -> (&'static str, Paint) {
    match pb::Severity::try_from(severity) {
        Ok(pb::Severity::Error) => ("error", Paint::Error),
        Ok(pb::Severity::Warning) => ("warning", Paint::Warning),
        Ok(pb::Severity::Info) => ("info", Paint::Info),
        _ => ("note", Paint::Bold),
    }
}

/// One `= label: text` line under a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub label: &'static str,
    pub text: String,
}

impl Note {
    pub fn new(label: &'static str, text: impl Into<String>) -> Note {
        Note {
            label,
            text: text.into(),
        }
    }
}

/// What one rendered message is made of: a parse diagnostic or a validation
/// finding, each brought to this shape by its caller.
#[derive(Clone, Debug)]
pub struct Message<'a> {
    pub severity: i32,
    /// `P035`, `A1`; empty for none.
    pub code: &'a str,
    pub message: &'a str,
    pub message_en: &'a str,
    /// Where to point in the source, if anywhere.
    pub span: Option<&'a pb::SourceSpan>,
    /// The `= label: text` lines, in order.
    pub notes: Vec<Note>,
}

/// Writes one diagnostic: its candidates and fields as notes.
pub fn write_diagnostic(
    out: &mut dyn Write,
    d: &pb::Diagnostic,
    src: &Source,
    style: &Style,
) -> io::Result<()> {
    let mut notes = candidate_notes(d);
    notes.extend(fields_note(&d.field_paths));
    let m = Message {
        severity: d.severity,
        code: &d.code,
        message: &d.message,
        message_en: &d.message_en,
        span: d.span.as_ref(),
        notes,
    };
    write_message(out, &m, src, style)
}

/// `= note: candidate: 69|3|665`, one per candidate reading of `d`.
pub fn candidate_notes(d: &pb::Diagnostic) -> Vec<Note> {
    d.candidates
        .iter()
        .map(|c| {
            Note::new(
                "note",
                format!("candidate: {}", candidate_text(c, &d.field_paths)),
            )
        })
        .collect()
}

/// `= note: field: …` or `= note: fields: …`; `None` without paths.
pub fn fields_note(paths: &[String]) -> Option<Note> {
    match paths {
        [] => None,
        [one] => Some(Note::new("note", format!("field: {one}"))),
        _ => Some(Note::new("note", format!("fields: {}", fields_text(paths)))),
    }
}

/// Writes one message: the head line(s), the location and source excerpt when
/// the span indexes the text, then the notes and a blank line.
pub fn write_message(
    out: &mut dyn Write,
    m: &Message<'_>,
    src: &Source,
    style: &Style,
) -> io::Result<()> {
    let (sev, paint) = severity_label(m.severity);
    let head = if m.code.is_empty() {
        format!("{sev}: ")
    } else {
        format!("{sev}[{}]: ", m.code)
    };
    let (first, second) = match (m.message.is_empty(), m.message_en.is_empty()) {
        (false, false) if m.message != m.message_en => (m.message, Some(m.message_en)),
        (true, false) => (m.message_en, None),
        _ => (m.message, None),
    };
    writeln!(
        out,
        "{}{}",
        style.paint(paint, head.trim_end_matches(' ')),
        style.paint(Paint::Bold, &format!(" {first}"))
    )?;
    if let Some(en) = second {
        writeln!(out, "{}{en}", " ".repeat(width(&head)))?;
    }

    let excerpt = match (m.span, src.text) {
        (Some(span), Some(text)) => Excerpt::new(text, span),
        _ => None,
    };
    let line_no = excerpt.as_ref().map(|e| e.line);
    let gutter = line_no.map_or(1, |n| n.to_string().len());
    let bar = style.paint(Paint::Gutter, "|");
    let indent = " ".repeat(gutter);

    let location = match (m.span, &excerpt) {
        (Some(s), e) if s.line > 0 => {
            let column = match (s.column, e) {
                (0, Some(e)) => e.column,
                (c, _) => c.max(1) as usize,
            };
            format!("{}:{}:{column}", src.name, s.line)
        }
        (_, Some(e)) => format!("{}:{}:{}", src.name, e.line, e.column),
        _ => src.name.to_string(),
    };
    writeln!(
        out,
        "{indent}{} {location}",
        style.paint(Paint::Gutter, "-->")
    )?;

    if let Some(e) = &excerpt {
        writeln!(out, "{indent} {bar}")?;
        let n = style.paint(Paint::Gutter, &e.line.to_string());
        writeln!(out, "{n} {bar} {}", e.text)?;
        let marks = style.paint(paint, &"^".repeat(e.mark_width.max(1)));
        let tail = match e.continues_to {
            Some(l) => format!(" (continues to line {l})"),
            None => String::new(),
        };
        writeln!(
            out,
            "{indent} {bar} {}{marks}{tail}",
            " ".repeat(e.mark_start)
        )?;
    }

    for n in &m.notes {
        let label = format!("= {}:", n.label);
        writeln!(
            out,
            "{indent} {} {}",
            style.paint(Paint::Bold, &label),
            n.text
        )?;
    }
    writeln!(out)
}

/// Field paths, with consecutive paths of one parent written once:
/// `requests.granted.{natural_person, total}`.
pub fn fields_text(paths: &[String]) -> String {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for p in paths {
        let (parent, leaf) = p.rsplit_once('.').unwrap_or(("", p));
        match groups.last_mut() {
            Some((last, leaves)) if !parent.is_empty() && *last == parent => leaves.push(leaf),
            _ => groups.push((parent, vec![leaf])),
        }
    }
    groups
        .iter()
        .map(
            |(parent, leaves)| match (parent.is_empty(), leaves.as_slice()) {
                (true, _) => leaves.join(", "),
                (false, [leaf]) => format!("{parent}.{leaf}"),
                (false, _) => format!("{parent}.{{{}}}", leaves.join(", ")),
            },
        )
        .collect::<Vec<_>>()
        .join(", ")
}

/// `69|3|665` when the candidate's cells are the diagnostic's fields in order,
/// `path=value, …` otherwise.
fn candidate_text(c: &pb::Candidate, field_paths: &[String]) -> String {
    let same_fields = c.cells.len() == field_paths.len()
        && c.cells
            .iter()
            .zip(field_paths)
            .all(|(v, p)| &v.field_path == p);
    if same_fields || c.cells.iter().all(|v| v.field_path.is_empty()) {
        c.cells
            .iter()
            .map(|v| v.value.as_str())
            .collect::<Vec<_>>()
            .join("|")
    } else {
        c.cells
            .iter()
            .map(|v| format!("{}={}", v.field_path, v.value))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

// === impl Excerpt ===

/// The source line of a span, cut to a window around it, with where to underline.
#[derive(Debug, PartialEq)]
struct Excerpt {
    /// 1-based line of the span's start, counted in the text.
    line: usize,
    /// 1-based column (Unicode scalar values) of the span's start.
    column: usize,
    /// The line as shown (tabs and control characters as spaces, `…` where cut).
    text: String,
    /// Columns before the underline.
    mark_start: usize,
    /// Columns of the underline (0 for an empty span).
    mark_width: usize,
    /// The last line of a span that runs past its first line.
    continues_to: Option<usize>,
}

impl Excerpt {
    /// `None` when the span does not index `text` (out of range, reversed, or not on
    /// a character boundary).
    fn new(text: &str, span: &pb::SourceSpan) -> Option<Excerpt> {
        let start = usize::try_from(span.byte_start).ok()?;
        let end = usize::try_from(span.byte_end).ok()?;
        if start > end
            || end > text.len()
            || !text.is_char_boundary(start)
            || !text.is_char_boundary(end)
        {
            return None;
        }
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let line = text[..line_start].matches('\n').count() + 1;
        let column = text[line_start..start].chars().count() + 1;
        let mark_end = end.min(line_end);
        let continues_to = (end > line_end && text[line_end..end].trim() != "")
            .then(|| line + text[line_end..end].matches('\n').count());

        let shown = |s: &str| -> Vec<(char, usize)> {
            s.chars()
                .filter(|&c| c != '\r')
                .map(|c| if c == '\t' || c.is_control() { ' ' } else { c })
                .map(|c| (c, char_width(c)))
                .collect()
        };
        let before = shown(&text[line_start..start]);
        let marked = shown(&text[start..mark_end]);
        let after = shown(&text[mark_end..line_end]);
        let w = |cs: &[(char, usize)]| cs.iter().map(|c| c.1).sum::<usize>();
        let (wb, wm, wa) = (w(&before), w(&marked), w(&after));

        // Budget: the marked part first (capped), then context split around it.
        let cap = MAX_EXCERPT - 20;
        let marked_cut = wm > cap;
        let marked = take_front(&marked, if marked_cut { cap - 1 } else { wm });
        let wm = w(&marked) + usize::from(marked_cut);
        let avail = MAX_EXCERPT.saturating_sub(wm);
        let (left, right) = if wb + wa <= avail {
            (wb, wa)
        } else {
            let left = wb.min((avail / 2).max(avail.saturating_sub(wa)));
            (left, wa.min(avail - left))
        };
        let left_cut = left < wb;
        let right_cut = right < wa || marked_cut;
        let before = take_back(&before, if left_cut { left.saturating_sub(1) } else { wb });
        let after = if marked_cut {
            Vec::new()
        } else {
            take_front(
                &after,
                if right_cut {
                    right.saturating_sub(1)
                } else {
                    wa
                },
            )
        };

        let mut shown_text = String::new();
        if left_cut {
            shown_text.push('…');
        }
        shown_text.extend(before.iter().map(|c| c.0));
        let mark_start = width(&shown_text);
        shown_text.extend(marked.iter().map(|c| c.0));
        let mark_width = w(&marked);
        shown_text.extend(after.iter().map(|c| c.0));
        if right_cut {
            shown_text.push('…');
        }
        Some(Excerpt {
            line,
            column,
            text: shown_text,
            mark_start,
            mark_width,
            continues_to,
        })
    }
}

/// The longest prefix of `cs` within `max` columns.
fn take_front(cs: &[(char, usize)], max: usize) -> Vec<(char, usize)> {
    let mut used = 0;
    cs.iter()
        .take_while(|c| {
            used += c.1;
            used <= max
        })
        .copied()
        .collect()
}

/// The longest suffix of `cs` within `max` columns.
fn take_back(cs: &[(char, usize)], max: usize) -> Vec<(char, usize)> {
    let mut used = 0;
    let mut v: Vec<_> = cs
        .iter()
        .rev()
        .take_while(|c| {
            used += c.1;
            used <= max
        })
        .copied()
        .collect();
    v.reverse();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(start: u64, end: u64) -> pb::SourceSpan {
        pb::SourceSpan {
            line: 0,
            column: 0,
            byte_start: start,
            byte_end: end,
        }
    }

    fn diag(span: Option<pb::SourceSpan>) -> pb::Diagnostic {
        pb::Diagnostic {
            code: "P035".into(),
            severity: pb::Severity::Error as i32,
            message: "粘连数字有多种读法".into(),
            message_en: "Glued cells have several readings; left absent".into(),
            field_paths: vec![
                "proactive.normative_documents.issued".into(),
                "proactive.normative_documents.repealed".into(),
                "proactive.normative_documents.in_force".into(),
            ],
            span,
            candidates: vec![pb::Candidate {
                cells: ["69", "3", "665"]
                    .iter()
                    .zip([
                        "proactive.normative_documents.issued",
                        "proactive.normative_documents.repealed",
                        "proactive.normative_documents.in_force",
                    ])
                    .map(|(v, p)| pb::CellValue {
                        field_path: p.into(),
                        value: v.to_string(),
                    })
                    .collect(),
            }],
        }
    }

    fn render(d: &pb::Diagnostic, text: Option<&str>) -> String {
        let mut out = Vec::new();
        let src = Source {
            name: "r.txt",
            text,
        };
        write_diagnostic(&mut out, d, &src, &Style::new(false)).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn renders_rustc_style_with_caret_under_the_span() {
        let text = "一、总体情况\n规章000行政规范性文件693665\n";
        let start = text.find("693665").unwrap() as u64;
        let out = render(&diag(Some(span(start, start + 6))), Some(text));
        let expected = "\
error[P035]: 粘连数字有多种读法
             Glued cells have several readings; left absent
 --> r.txt:2:13
  |
2 | 规章000行政规范性文件693665
  |                      ^^^^^^
  = note: candidate: 69|3|665
  = note: fields: proactive.normative_documents.{issued, repealed, in_force}

";
        assert_eq!(out, expected);
    }

    #[test]
    fn bad_spans_render_without_a_snippet() {
        let text = "规章000";
        for s in [
            span(0, 100),
            span(1, 2),
            span(5, 2),
            span(u64::MAX, u64::MAX),
        ] {
            let out = render(&diag(Some(s)), Some(text));
            assert!(out.contains(" --> r.txt\n"), "{out}");
            assert!(!out.contains('^'), "{out}");
        }
        let out = render(&diag(Some(span(0, 3))), None);
        assert!(!out.contains('^'), "{out}");
        let out = render(&diag(None), Some(text));
        assert!(out.contains(" --> r.txt\n"), "{out}");
    }

    #[test]
    fn long_lines_are_windowed_around_the_span() {
        let line = format!("{}693665{}", "行".repeat(5000), "政".repeat(5000));
        let start = line.find("693665").unwrap() as u64;
        let e = Excerpt::new(&line, &span(start, start + 6)).unwrap();
        assert!(width(&e.text) <= MAX_EXCERPT + 2, "{}", e.text);
        assert!(e.text.starts_with('…') && e.text.ends_with('…'));
        let marked: String = e.text.chars().skip_while(|&c| c != '6').take(6).collect();
        assert_eq!(marked, "693665");
        assert_eq!(width(&e.text[..e.text.find('6').unwrap()]), e.mark_start);
        assert_eq!(e.column, 5001);
    }

    #[test]
    fn multi_line_and_empty_spans() {
        let text = "a\nbc\nde\n";
        let e = Excerpt::new(text, &span(2, 7)).unwrap();
        assert_eq!(
            (e.line, e.text.as_str(), e.continues_to),
            (2, "bc", Some(3))
        );
        let e = Excerpt::new(text, &span(3, 3)).unwrap();
        assert_eq!((e.mark_start, e.mark_width), (1, 0));
        let e = Excerpt::new("", &span(0, 0)).unwrap();
        assert_eq!((e.line, e.column), (1, 1));
    }

    #[test]
    fn field_paths_share_their_parent() {
        let paths: Vec<String> = ["a.x.p", "a.x.q", "a.y.p", "problems", "b.z"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(fields_text(&paths), "a.x.{p, q}, a.y.p, problems, b.z");
    }

    #[test]
    fn candidates_with_other_fields_name_them() {
        let mut d = diag(None);
        d.field_paths.clear();
        let out = render(&d, None);
        assert!(out.contains(
            "candidate: proactive.normative_documents.issued=69, \
             proactive.normative_documents.repealed=3, proactive.normative_documents.in_force=665"
        ));
    }
}
