//! HTML → plain text lines for the text parser, with a map back to source offsets.
//!
//! Published reports arrive as Word-exported pages (tables with rowspan/colspan, every
//! cell wrapped in `<p class=MsoNormal><span …>`, `&nbsp;` for blanks, conditional
//! comments, site chrome around the article), and sometimes as an HTML fragment inside a
//! JavaScript string literal (`let content = "<p style=\"…\">…</p>";`). [`extract`] turns
//! either into lines of text:
//!
//! * block elements (`p`, `div`, `h1`–`h6`, `li`, `br`, `tr`, `table`, `title`…) start new
//!   lines; inline elements (`span`, `font`, `b`, `a`…) do not, so a label split over
//!   several spans stays one word;
//! * `<script>`, `<style>`, `<noscript>`, `<template>`, `<iframe>` and comments (including
//!   conditional comments) produce nothing;
//! * whitespace is collapsed (U+00A0 and U+3000 count as spaces) and trimmed per line;
//!   a line break in the markup between two CJK characters is dropped (as CSS does), so a
//!   label wrapped across source lines stays one word;
//! * each table row becomes one line in markdown-pipe form, `| cell1 | cell2 | … |`, with
//!   each cell collapsed to one line (a `<p>` or `<br>` inside a cell becomes a space) and
//!   a blank cell kept as an empty cell (`|  |`). Spans are not expanded: each `<td>`/`<th>`
//!   appears once, in source order. A row that contains a nested table is layout, not data:
//!   its cells are laid out as ordinary blocks and the inner rows become their own lines.
//!   A blank line follows every table.
//!
//! Parsing is html5ever's (through `scraper`); no regular expression ever reads markup.
//! Positions in the output map back to the source through [`Extracted::anchors`], found
//! by searching each text run's first word (and each cell's `<td>` tag) forward in the
//! source with a small tag-aware scanner, never rescanning from the start.
//!
//! Bounded work: html5ever's tree builder is quadratic in the depth of the open-element
//! stack and in the number of attributes of one tag, so before parsing, a linear pre-pass
//! removes start tags nested deeper than [`MAX_DEPTH`] (or more than
//! [`MAX_OPEN_FORMATTING`] open formatting elements) together with their end tags, and
//! strips the attributes of tags longer than [`MAX_TAG_BYTES`]. Text is never removed, and
//! ordinary pages are parsed exactly as given.

use std::borrow::Cow;
use std::collections::HashSet;

use scraper::{Html, Node};

/// Start tags nested deeper than this (by a linear estimate of the open-element stack) are
/// dropped before parsing, with their end tags.
pub const MAX_DEPTH: usize = 256;
/// Open formatting elements (`b`, `font`, `a`…) beyond this many are dropped before parsing
/// (html5ever re-creates every open formatting element for each new block).
pub const MAX_OPEN_FORMATTING: usize = 12;
/// Tags longer than this keep their name but lose their attributes before parsing.
pub const MAX_TAG_BYTES: usize = 2048;

/// Text extracted from HTML, with anchors back to the source.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extracted {
    /// The text: one line per block or table row, `\n`-separated.
    pub text: String,
    /// Sorted `(extracted_byte_offset, source_byte_offset)` anchors, one at the start of
    /// each emitted text run and cell, so a position in `text` maps back to the source:
    /// take the last anchor `<= pos` and add the difference (see
    /// [`Extracted::source_offset`]). Both components are non-decreasing.
    pub anchors: Vec<(usize, usize)>,
}

impl Extracted {
    /// The source byte offset that produced extracted byte offset `pos`: the last anchor at
    /// or before `pos`, plus the distance from it. Exact at anchors; between anchors it is
    /// an estimate (entities and collapsed whitespace make runs differ in length), so the
    /// result may exceed the source length or fall inside a character — slice the source
    /// with `str::get` or clamp it. Before the first anchor it counts back from that anchor.
    #[must_use]
    pub fn source_offset(&self, pos: usize) -> usize {
        let idx = self.anchors.partition_point(|&(ext, _)| ext <= pos);
        match idx.checked_sub(1).and_then(|i| self.anchors.get(i)) {
            Some(&(ext, src)) => src + (pos - ext),
            None => self
                .anchors
                .first()
                .map_or(0, |&(ext, src)| src.saturating_sub(ext - pos)),
        }
    }
}

/// Whether `text` looks like HTML: it has a `<!DOCTYPE html>`, or at least three tags among
/// `p`, `div`, `table`, `tr`, `td`, `html`, `body`, `span`, `li`, `h1`… (open or close, also
/// in the `<\/p>` form of JavaScript strings). `<br>` alone does not count, so markdown with a
/// few `<br>` stays text. Linear, stops at the third tag.
#[must_use]
pub fn looks_like_html(text: &str) -> bool {
    const NEEDED: usize = 3;
    let b = text.as_bytes();
    let mut found = 0;
    let mut i = 0;
    while let Some(off) = b
        .get(i..)
        .and_then(|rest| rest.iter().position(|&c| c == b'<'))
    {
        let p = i + off;
        i = p + 1;
        let mut j = p + 1;
        match b.get(j) {
            Some(b'!') => {
                if b.len() >= j + 13 && b[j + 1..j + 13].eq_ignore_ascii_case(b"doctype html") {
                    return true;
                }
                continue;
            }
            Some(b'/') => j += 1,
            Some(b'\\') if b.get(j + 1) == Some(&b'/') => j += 2,
            _ => {}
        }
        let start = j;
        while j < b.len() && j - start <= 10 && b[j].is_ascii_alphanumeric() {
            j += 1;
        }
        let delimited = matches!(
            b.get(j),
            None | Some(b'>' | b'/' | b'\\' | b' ' | b'\t' | b'\n' | b'\r' | b'\x0c')
        );
        if j == start || !delimited {
            continue;
        }
        if is_marker_tag(&b[start..j]) {
            found += 1;
            if found >= NEEDED {
                return true;
            }
        }
    }
    false
}

/// Tag names that count towards [`looks_like_html`].
fn is_marker_tag(name: &[u8]) -> bool {
    const MARKERS: &[&[u8]] = &[
        b"p", b"div", b"table", b"tbody", b"tr", b"td", b"th", b"html", b"head", b"body", b"title",
        b"meta", b"span", b"font", b"li", b"ul", b"ol", b"h1", b"h2", b"h3", b"h4", b"h5", b"h6",
        b"section", b"article", b"center", b"strong",
    ];
    MARKERS.iter().any(|m| m.eq_ignore_ascii_case(name))
}

/// Extracts text lines from an HTML page or fragment (see the [module documentation](self)).
/// Never panics; linear time apart from html5ever's own (bounded) work.
#[must_use]
pub fn extract(source: &str) -> Extracted {
    let prepared = prepare(source);
    let doc: &str = &prepared.text;
    let guarded = guard(doc);
    let html = Html::parse_document(guarded.as_deref().unwrap_or(doc));
    let mut walker = Walker::new(doc);
    walker.walk(&html);
    let (text, mut anchors) = walker.finish();
    if prepared.map.len() > 1 || prepared.map.first().is_some_and(|&m| m != (0, 0)) {
        for anchor in &mut anchors {
            anchor.1 = map_offset(&prepared.map, anchor.1);
        }
    }
    Extracted { text, anchors }
}

// ---------------------------------------------------------------------------------------
// JavaScript string literals

/// The document to parse: the source, or the unescaped HTML of its JavaScript string
/// literals, with a map from document offsets to source offsets.
struct Prepared<'a> {
    text: Cow<'a, str>,
    /// Sorted `(doc_offset, source_offset)` segment starts; within a segment the two
    /// advance together.
    map: Vec<(usize, usize)>,
}

/// Unescapes the source when it is HTML inside JavaScript string literals.
fn prepare(source: &str) -> Prepared<'_> {
    if looks_js_escaped(source) {
        if let Some((text, map)) = unescape_literals(source) {
            return Prepared {
                text: Cow::Owned(text),
                map,
            };
        }
    }
    Prepared {
        text: Cow::Borrowed(source),
        map: vec![(0, 0)],
    }
}

/// Maps a document offset to a source offset through a segment map.
fn map_offset(map: &[(usize, usize)], doc_off: usize) -> usize {
    let idx = map.partition_point(|&(d, _)| d <= doc_off);
    match idx.checked_sub(1).and_then(|i| map.get(i)) {
        Some(&(d, s)) => s + (doc_off - d),
        None => doc_off,
    }
}

/// Whether the markup is backslash-escaped as in a JavaScript string: more `=\"` / `=\'`
/// than `="` / `='` attributes, or more `<\/` than `</` end tags (at least two either way).
fn looks_js_escaped(source: &str) -> bool {
    let b = source.as_bytes();
    let (mut esc_attr, mut attr, mut esc_close, mut close) = (0usize, 0usize, 0usize, 0usize);
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'=' => match (b.get(i + 1), b.get(i + 2)) {
                (Some(b'\\'), Some(b'"' | b'\'')) => esc_attr += 1,
                (Some(b'"' | b'\''), _) => attr += 1,
                _ => {}
            },
            b'<' => match (b.get(i + 1), b.get(i + 2)) {
                (Some(b'\\'), Some(b'/')) => esc_close += 1,
                (Some(b'/'), _) => close += 1,
                _ => {}
            },
            _ => {}
        }
    }
    (esc_attr >= 2 && esc_attr > attr) || (esc_close >= 2 && esc_close > close)
}

/// The unescaped contents of every chain of string literals (`"…" + '…'`) whose text starts
/// with `<`, joined by newlines; when there is none, the whole source unescaped as one
/// literal body. `None` when nothing came out.
fn unescape_literals(source: &str) -> Option<(String, Vec<(usize, usize)>)> {
    let b = source.as_bytes();
    let mut out = String::with_capacity(source.len());
    let mut map = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let q = b[i];
        if matches!(q, b'"' | b'\'' | b'`')
            && literal_may_start(b, i)
            && literal_body_is_markup(&b[i + 1..])
        {
            if !out.is_empty() {
                out.push('\n');
            }
            i = unescape_chain(source, i, &mut out, &mut map);
        } else {
            i += 1;
        }
    }
    if out.trim().is_empty() {
        out.clear();
        map.clear();
        unescape_body(source, 0, None, &mut out, &mut map);
    }
    if out.trim().is_empty() {
        return None;
    }
    Some((out, map))
}

/// Whether a quote at `i` can open a literal: preceded (ignoring whitespace) by the start,
/// `=`, `(`, `:`, `,`, `+`, `[` or `{`.
fn literal_may_start(b: &[u8], i: usize) -> bool {
    let before = b[..i]
        .iter()
        .rev()
        .find(|c| !c.is_ascii_whitespace())
        .copied();
    matches!(
        before,
        None | Some(b'=' | b'(' | b':' | b',' | b'+' | b'[' | b'{')
    )
}

/// Whether literal text starts (after spaces) with `<`, `\u003c` or `\x3c`.
fn literal_body_is_markup(body: &[u8]) -> bool {
    let body = match body.iter().position(|&c| c != b' ' && c != b'\t') {
        Some(p) => &body[p..],
        None => return false,
    };
    body.first() == Some(&b'<')
        || body
            .get(..6)
            .is_some_and(|s| s.eq_ignore_ascii_case(b"\\u003c"))
        || body
            .get(..4)
            .is_some_and(|s| s.eq_ignore_ascii_case(b"\\x3c"))
}

/// Unescapes the literal opening at `i` and any literals concatenated to it with `+`;
/// returns the offset after the chain.
fn unescape_chain(
    source: &str,
    mut i: usize,
    out: &mut String,
    map: &mut Vec<(usize, usize)>,
) -> usize {
    let b = source.as_bytes();
    loop {
        let q = b[i];
        i = unescape_body(source, i + 1, Some(q), out, map);
        let mut k = i;
        while k < b.len() && b[k].is_ascii_whitespace() {
            k += 1;
        }
        if b.get(k) != Some(&b'+') {
            return i;
        }
        k += 1;
        while k < b.len() && b[k].is_ascii_whitespace() {
            k += 1;
        }
        match b.get(k) {
            Some(b'"' | b'\'' | b'`') => i = k,
            _ => return i,
        }
    }
}

/// Unescapes a literal body starting at `i` up to the closing `quote` (or the end);
/// returns the offset after the closing quote.
fn unescape_body(
    source: &str,
    mut i: usize,
    quote: Option<u8>,
    out: &mut String,
    map: &mut Vec<(usize, usize)>,
) -> usize {
    let b = source.as_bytes();
    map.push((out.len(), i));
    while i < b.len() {
        let c = b[i];
        if Some(c) == quote {
            return i + 1;
        }
        if c != b'\\' {
            let run = b[i..]
                .iter()
                .position(|&x| x == b'\\' || Some(x) == quote)
                .map_or(b.len(), |p| i + p);
            out.push_str(source.get(i..run).unwrap_or(""));
            i = run;
            continue;
        }
        i = unescape_one(source, i, out);
        map.push((out.len(), i));
    }
    i
}

/// Unescapes the escape sequence whose backslash is at `i`; returns the offset after it.
fn unescape_one(source: &str, i: usize, out: &mut String) -> usize {
    let b = source.as_bytes();
    let Some(&e) = b.get(i + 1) else {
        return i + 1;
    };
    let simple = match e {
        b'n' => Some('\n'),
        b'r' => Some('\r'),
        b't' => Some('\t'),
        b'b' => Some('\u{8}'),
        b'f' => Some('\u{c}'),
        b'v' => Some('\u{b}'),
        b'0' if !b.get(i + 2).is_some_and(u8::is_ascii_digit) => Some('\0'),
        _ => None,
    };
    if let Some(ch) = simple {
        out.push(ch);
        return i + 2;
    }
    match e {
        b'\r' => {
            // Line continuation.
            if b.get(i + 2) == Some(&b'\n') {
                i + 3
            } else {
                i + 2
            }
        }
        b'\n' => i + 2,
        b'x' => match hex_value(b.get(i + 2..i + 4)) {
            Some(v) => {
                out.push(char::from_u32(v).unwrap_or('\u{FFFD}'));
                i + 4
            }
            None => {
                out.push('x');
                i + 2
            }
        },
        b'u' => unescape_unicode(source, i, out),
        _ => {
            // `\"`, `\'`, `\\`, `\/` and any other character stand for themselves.
            match source.get(i + 1..).and_then(|s| s.chars().next()) {
                Some(ch) if ch == '\u{2028}' || ch == '\u{2029}' => i + 1 + ch.len_utf8(),
                Some(ch) => {
                    out.push(ch);
                    i + 1 + ch.len_utf8()
                }
                None => i + 1,
            }
        }
    }
}

/// Unescapes `\uXXXX` (with surrogate pairs) or `\u{X…}` at `i`.
fn unescape_unicode(source: &str, i: usize, out: &mut String) -> usize {
    let b = source.as_bytes();
    if b.get(i + 2) == Some(&b'{') {
        if let Some(close) = b
            .get(i + 3..)
            .and_then(|r| r.iter().take(8).position(|&c| c == b'}'))
        {
            if let Some(v) = hex_value(b.get(i + 3..i + 3 + close)) {
                out.push(char::from_u32(v).unwrap_or('\u{FFFD}'));
                return i + 4 + close;
            }
        }
        out.push('u');
        return i + 2;
    }
    let Some(hi) = hex_value(b.get(i + 2..i + 6)) else {
        out.push('u');
        return i + 2;
    };
    if (0xD800..0xDC00).contains(&hi) && b.get(i + 6) == Some(&b'\\') && b.get(i + 7) == Some(&b'u')
    {
        if let Some(lo) = hex_value(b.get(i + 8..i + 12)) {
            if (0xDC00..0xE000).contains(&lo) {
                let v = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                out.push(char::from_u32(v).unwrap_or('\u{FFFD}'));
                return i + 12;
            }
        }
    }
    out.push(char::from_u32(hi).unwrap_or('\u{FFFD}'));
    i + 6
}

/// The value of 1–6 hex digits.
fn hex_value(digits: Option<&[u8]>) -> Option<u32> {
    let digits = digits?;
    if digits.is_empty() || digits.len() > 6 {
        return None;
    }
    digits.iter().try_fold(0u32, |acc, &d| {
        let v = (d as char).to_digit(16)?;
        Some(acc * 16 + v)
    })
}

// ---------------------------------------------------------------------------------------
// A small tag-aware scanner (used to bound html5ever's work and to locate text in the
// source; it never decides what the text is — html5ever does)

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TokKind {
    /// Character data (including RCDATA such as `<title>` contents).
    Text,
    /// A start tag.
    Start,
    /// An end tag.
    End,
    /// The contents of a raw-text element (`<script>`, `<style>`…).
    Raw,
    /// A comment, doctype, processing instruction or an unterminated tag.
    Other,
}

#[derive(Clone, Copy, Debug)]
struct Tok {
    kind: TokKind,
    start: usize,
    end: usize,
    /// The tag name's byte range (start and end tags only).
    name: (usize, usize),
    self_closing: bool,
}

/// Elements whose contents are not markup: (name, contents are text).
const RAW_ELEMENTS: &[(&[u8], bool)] = &[
    (b"script", false),
    (b"style", false),
    (b"xmp", false),
    (b"iframe", false),
    (b"noembed", false),
    (b"noframes", false),
    (b"noscript", false),
    (b"plaintext", false),
    (b"title", true),
    (b"textarea", true),
];

#[derive(Clone, Copy, Debug)]
struct RawMode {
    /// The element name's byte range in the document.
    name: (usize, usize),
    text: bool,
    to_eof: bool,
}

/// Tokenizes markup coarsely: text, tags, comments, raw-text contents. Linear.
#[derive(Clone, Copy, Debug)]
struct Lexer<'a> {
    b: &'a [u8],
    pos: usize,
    raw: Option<RawMode>,
}

impl<'a> Lexer<'a> {
    fn new(doc: &'a str) -> Self {
        Lexer {
            b: doc.as_bytes(),
            pos: 0,
            raw: None,
        }
    }

    /// Continues at `pos`, which must be in text or at the `<` of a tag.
    fn reset(&mut self, pos: usize) {
        self.pos = pos;
        self.raw = None;
    }

    fn name(&self, tok: &Tok) -> &'a [u8] {
        self.b.get(tok.name.0..tok.name.1).unwrap_or(b"")
    }

    fn next_tok(&mut self) -> Option<Tok> {
        let b = self.b;
        let len = b.len();
        if self.pos >= len {
            return None;
        }
        if let Some(raw) = self.raw.take() {
            let start = self.pos;
            let end = if raw.to_eof {
                len
            } else {
                find_end_tag(b, start, b.get(raw.name.0..raw.name.1).unwrap_or(b""))
            };
            if end > start {
                self.pos = end;
                let kind = if raw.text {
                    TokKind::Text
                } else {
                    TokKind::Raw
                };
                return Some(plain_tok(kind, start, end));
            }
        }
        let start = self.pos;
        if b[start] == b'<' {
            if let Some(tok) = self.tag_at(start) {
                self.pos = tok.end.max(start + 1);
                return Some(tok);
            }
        }
        let end = next_tag_start(b, start + 1);
        self.pos = end;
        Some(plain_tok(TokKind::Text, start, end))
    }

    /// The tag, comment or declaration at `p` (where `b[p] == '<'`), or `None` when the
    /// `<` is text.
    fn tag_at(&mut self, p: usize) -> Option<Tok> {
        let b = self.b;
        let len = b.len();
        match b.get(p + 1) {
            Some(b'!') => {
                let end = if b.get(p + 2..p + 4) == Some(b"--") {
                    comment_end(b, p + 4)
                } else {
                    find_byte(b, p + 2, b'>').map_or(len, |i| i + 1)
                };
                Some(plain_tok(TokKind::Other, p, end))
            }
            Some(b'?') => {
                let end = find_byte(b, p + 2, b'>').map_or(len, |i| i + 1);
                Some(plain_tok(TokKind::Other, p, end))
            }
            Some(b'/') => match b.get(p + 2) {
                Some(c) if c.is_ascii_alphabetic() => {
                    let name_end = tag_name_end(b, p + 2);
                    let end = tag_end(b, name_end);
                    let kind = if end.is_some() {
                        TokKind::End
                    } else {
                        TokKind::Other
                    };
                    Some(Tok {
                        kind,
                        start: p,
                        end: end.unwrap_or(len),
                        name: (p + 2, name_end),
                        self_closing: false,
                    })
                }
                Some(b'>') => Some(plain_tok(TokKind::Other, p, p + 3)),
                None => None,
                Some(_) => {
                    let end = find_byte(b, p + 2, b'>').map_or(len, |i| i + 1);
                    Some(plain_tok(TokKind::Other, p, end))
                }
            },
            Some(c) if c.is_ascii_alphabetic() => {
                let name_end = tag_name_end(b, p + 1);
                let Some(end) = tag_end(b, name_end) else {
                    return Some(plain_tok(TokKind::Other, p, len));
                };
                let name = (p + 1, name_end);
                let self_closing = end >= 2 && end - 2 >= name_end && b[end - 2] == b'/';
                let tag_name = b.get(name.0..name.1).unwrap_or(b"");
                if let Some(&(raw_name, text)) = RAW_ELEMENTS
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(tag_name))
                {
                    self.raw = Some(RawMode {
                        name,
                        text,
                        to_eof: raw_name == b"plaintext",
                    });
                }
                Some(Tok {
                    kind: TokKind::Start,
                    start: p,
                    end,
                    name,
                    self_closing,
                })
            }
            _ => None,
        }
    }
}

fn plain_tok(kind: TokKind, start: usize, end: usize) -> Tok {
    Tok {
        kind,
        start,
        end,
        name: (start, start),
        self_closing: false,
    }
}

fn find_byte(b: &[u8], from: usize, x: u8) -> Option<usize> {
    b.get(from..)?
        .iter()
        .position(|&c| c == x)
        .map(|i| from + i)
}

/// The next `<` at or after `from` that starts a tag (or the end).
fn next_tag_start(b: &[u8], from: usize) -> usize {
    let mut i = from;
    while let Some(p) = find_byte(b, i, b'<') {
        match b.get(p + 1) {
            Some(c) if c.is_ascii_alphabetic() || matches!(c, b'/' | b'!' | b'?') => return p,
            _ => i = p + 1,
        }
    }
    b.len()
}

/// The end of a comment whose text starts at `from` (after `<!--`).
fn comment_end(b: &[u8], from: usize) -> usize {
    if b.get(from) == Some(&b'>') {
        return from + 1;
    }
    if b.get(from..from + 2) == Some(b"->") {
        return from + 2;
    }
    let mut i = from;
    while let Some(p) = find_byte(b, i, b'>') {
        if p >= from + 2 && &b[p - 2..p] == b"--" {
            return p + 1;
        }
        if p >= from + 3 && &b[p - 3..p] == b"--!" {
            return p + 1;
        }
        i = p + 1;
    }
    b.len()
}

/// The end of a tag name starting at `from`.
fn tag_name_end(b: &[u8], from: usize) -> usize {
    let mut i = from;
    while i < b.len() && !matches!(b[i], b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' | b'/' | b'>') {
        i += 1;
    }
    i
}

/// The offset after the `>` closing a tag whose attributes start at `from`, honouring quoted
/// attribute values; `None` when the input ends first.
fn tag_end(b: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i < b.len() {
        match b[i] {
            b'>' => return Some(i + 1),
            b'=' => {
                i += 1;
                while i < b.len() && b[i].is_ascii_whitespace() {
                    i += 1;
                }
                if let Some(&q) = b.get(i).filter(|&&q| q == b'"' || q == b'\'') {
                    i = find_byte(b, i + 1, q)? + 1;
                }
            }
            _ => i += 1,
        }
    }
    None
}

/// The offset of the `</name` ending raw text that starts at `from` (or the end).
fn find_end_tag(b: &[u8], from: usize, name: &[u8]) -> usize {
    let mut i = from;
    while let Some(p) = find_byte(b, i, b'<') {
        if b.get(p + 1) == Some(&b'/')
            && b.get(p + 2..p + 2 + name.len())
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
            && matches!(
                b.get(p + 2 + name.len()),
                None | Some(b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' | b'/' | b'>')
            )
        {
            return p;
        }
        i = p + 1;
    }
    b.len()
}

// ---------------------------------------------------------------------------------------
// The pre-parse guard

fn is_one_of(name: &[u8], set: &[&[u8]]) -> bool {
    set.iter().any(|s| s.eq_ignore_ascii_case(name))
}

/// Elements without contents.
const VOID: &[&[u8]] = &[
    b"area",
    b"base",
    b"br",
    b"col",
    b"embed",
    b"hr",
    b"img",
    b"image",
    b"input",
    b"link",
    b"meta",
    b"param",
    b"source",
    b"track",
    b"wbr",
    b"keygen",
    b"basefont",
    b"bgsound",
    b"frame",
    b"menuitem",
];
/// Elements html5ever closes implicitly (they never nest deeply without a tracked element
/// in between), and elements whose contents the scanner skips.
const UNTRACKED: &[&[u8]] = &[
    b"p",
    b"li",
    b"dt",
    b"dd",
    b"tr",
    b"td",
    b"th",
    b"tbody",
    b"thead",
    b"tfoot",
    b"caption",
    b"colgroup",
    b"option",
    b"optgroup",
    b"rb",
    b"rt",
    b"rp",
    b"rtc",
    b"html",
    b"head",
    b"body",
    b"script",
    b"style",
    b"xmp",
    b"iframe",
    b"noembed",
    b"noframes",
    b"noscript",
    b"plaintext",
    b"title",
    b"textarea",
];
/// Formatting elements (re-created by html5ever after block boundaries while open).
const FORMATTING: &[&[u8]] = &[
    b"a", b"b", b"big", b"code", b"em", b"font", b"i", b"nobr", b"s", b"small", b"strike",
    b"strong", b"tt", b"u",
];
/// Estimated depth from which end tags matching no open element are dropped.
const UNMATCHED_END_DEPTH: usize = 64;
/// How far down the estimated stack an end tag looks for its start tag.
const END_TAG_WINDOW: usize = 64;

/// A hash of an ASCII-lowercased tag name (FNV-1a), for cheap comparisons; a collision only
/// makes the depth estimate slightly off.
fn name_key(name: &[u8]) -> u64 {
    name.iter().fold(0xcbf2_9ce4_8422_2325, |h, &c| {
        (h ^ u64::from(c.to_ascii_lowercase())).wrapping_mul(0x0100_0000_01b3)
    })
}

struct Open {
    /// [`name_key`] of the element name.
    key: u64,
    kept: bool,
    formatting: bool,
    foreign: bool,
}

/// Elements html5ever closes when another of the same name starts while it is open.
const REOPEN_CLOSES: &[&[u8]] = &[b"a", b"nobr", b"button", b"select"];
/// Headings: a heading start tag closes a heading that is the current node.
const HEADINGS: &[&[u8]] = &[b"h1", b"h2", b"h3", b"h4", b"h5", b"h6"];

/// A linear estimate of html5ever's stack of open elements.
#[derive(Default)]
struct StackEstimate {
    stack: Vec<Open>,
    kept_depth: usize,
    formatting_open: usize,
    foreign_depth: usize,
}

impl StackEstimate {
    /// The position from the top of the nearest open element named by `key`, looking
    /// [`END_TAG_WINDOW`] entries down.
    fn find(&self, key: u64) -> Option<usize> {
        self.stack
            .iter()
            .rev()
            .take(END_TAG_WINDOW)
            .position(|o| o.key == key)
    }

    /// Pops `count` entries; whether the last one popped was kept.
    fn pop(&mut self, count: usize) -> bool {
        let mut kept = true;
        for _ in 0..count {
            if let Some(open) = self.stack.pop() {
                if open.kept {
                    self.kept_depth -= 1;
                    self.formatting_open -= usize::from(open.formatting);
                }
                self.foreign_depth -= usize::from(open.foreign);
                kept = open.kept;
            }
        }
        kept
    }

    /// A start tag: whether it is kept.
    fn start(&mut self, name: &[u8], self_closing: bool) -> bool {
        if is_one_of(name, VOID)
            || is_one_of(name, UNTRACKED)
            || (self_closing && self.foreign_depth > 0)
        {
            return true;
        }
        let key = name_key(name);
        if is_one_of(name, REOPEN_CLOSES) {
            if let Some(from_top) = self.find(key) {
                self.pop(from_top + 1);
            }
        }
        if is_one_of(name, HEADINGS) {
            if let Some(top) = self.stack.last() {
                if HEADINGS.iter().any(|h| name_key(h) == top.key) {
                    self.pop(1);
                }
            }
        }
        let formatting = is_one_of(name, FORMATTING);
        let kept = self.kept_depth < MAX_DEPTH
            && (!formatting || self.formatting_open < MAX_OPEN_FORMATTING);
        let foreign = name.eq_ignore_ascii_case(b"svg") || name.eq_ignore_ascii_case(b"math");
        if kept {
            self.kept_depth += 1;
            self.formatting_open += usize::from(formatting);
        }
        self.foreign_depth += usize::from(foreign);
        self.stack.push(Open {
            key,
            kept,
            formatting,
            foreign,
        });
        kept
    }

    /// An end tag: whether it is kept.
    fn end(&mut self, name: &[u8]) -> bool {
        match self.find(name_key(name)) {
            Some(from_top) => self.pop(from_top + 1),
            // html5ever ignores an end tag with no open element, but looks for it down the
            // whole stack: past a moderate depth, drop it here instead.
            None => is_one_of(name, UNTRACKED) || self.kept_depth < UNMATCHED_END_DEPTH,
        }
    }
}

/// Rewrites `doc` when its markup would make html5ever's work superlinear (see the module
/// documentation); `None` when it can be parsed as it is.
fn guard(doc: &str) -> Option<String> {
    let mut lexer = Lexer::new(doc);
    let mut estimate = StackEstimate::default();
    let mut out: Option<String> = None;
    let mut copied = 0usize;
    while let Some(tok) = lexer.next_tok() {
        let name = lexer.name(&tok);
        let keep = match tok.kind {
            TokKind::Start => estimate.start(name, tok.self_closing),
            TokKind::End => estimate.end(name),
            _ => continue,
        };
        let long = tok.end - tok.start > MAX_TAG_BYTES;
        if keep && !long {
            continue;
        }
        let o = out.get_or_insert_with(|| String::with_capacity(doc.len()));
        o.push_str(doc.get(copied..tok.start).unwrap_or(""));
        if keep {
            // A long tag: keep its name only.
            o.push_str(if tok.kind == TokKind::End { "</" } else { "<" });
            o.push_str(doc.get(tok.name.0..tok.name.1).unwrap_or(""));
            o.push_str(if tok.self_closing { "/>" } else { ">" });
        }
        copied = tok.end;
    }
    let mut o = out?;
    o.push_str(doc.get(copied..).unwrap_or(""));
    Some(o)
}

// ---------------------------------------------------------------------------------------
// Locating text in the source

/// Searches forward in the document for text runs and cells; the cursor only moves forward,
/// and failed searches draw on a budget proportional to the document, so the total work is
/// linear.
struct Locator<'a> {
    doc: &'a str,
    lexer: Lexer<'a>,
    /// Document offset of the last anchor found.
    last: usize,
    budget: usize,
}

/// Longest search word (bytes).
const WORD_BYTES: usize = 32;
/// Bytes a failed search may scan once the budget is spent.
const MIN_WINDOW: usize = 256;
/// Bytes of text and tags a search passes over before giving up (a text run is expected
/// close to the previous one; this keeps one unfindable run from dragging the cursor far).
const MAX_JUMP: usize = 64 << 10;

impl<'a> Locator<'a> {
    fn new(doc: &'a str) -> Self {
        Locator {
            doc,
            lexer: Lexer::new(doc),
            last: 0,
            budget: doc.len().saturating_mul(4).saturating_add(1 << 16),
        }
    }

    /// The document offset of `word` in the next text that contains it, or `None`.
    fn find_text(&mut self, word: &str) -> Option<usize> {
        let needle = word.as_bytes();
        if needle.is_empty() {
            return None;
        }
        self.search(|lx, tok| {
            if tok.kind != TokKind::Text {
                return None;
            }
            let hay = lx.b.get(tok.start..tok.end)?;
            let i = hay.windows(needle.len()).position(|w| w == needle)?;
            Some(tok.start + i)
        })
    }

    /// The document offset of the next `<td>` or `<th>` start tag, or `None`.
    fn find_cell(&mut self) -> Option<usize> {
        self.search(|lx, tok| {
            let name = lx.name(tok);
            let cell = tok.kind == TokKind::Start
                && (name.eq_ignore_ascii_case(b"td") || name.eq_ignore_ascii_case(b"th"));
            cell.then_some(tok.start)
        })
    }

    /// Scans tokens forward from the cursor until `hit` returns a position (in text or at a
    /// tag), which becomes the new cursor. The scan stops after [`MAX_JUMP`] bytes of text
    /// and tags (raw-text contents such as scripts do not count) or when the work budget is
    /// spent; a failed scan is charged to the budget, a successful one moves the cursor.
    fn search(&mut self, mut hit: impl FnMut(&Lexer<'a>, &Tok) -> Option<usize>) -> Option<usize> {
        let start = self.lexer.pos;
        let work_end = start
            .saturating_add(self.budget.max(MIN_WINDOW))
            .min(self.doc.len());
        let mut lx = self.lexer;
        // The scan never reads past `work_end`: a token cut there is simply incomplete.
        lx.b = self.doc.as_bytes().get(..work_end).unwrap_or(b"");
        let mut passed = 0usize;
        while let Some(tok) = lx.next_tok() {
            if let Some(p) = hit(&lx, &tok) {
                self.lexer.reset(p);
                self.last = p;
                return Some(p);
            }
            if !matches!(tok.kind, TokKind::Raw | TokKind::Other) {
                passed += tok.end - tok.start;
                if passed > MAX_JUMP {
                    break;
                }
            }
        }
        self.charge(lx.pos.saturating_sub(start));
        None
    }

    fn charge(&mut self, scanned: usize) {
        self.budget = self.budget.saturating_sub(scanned);
    }
}

/// The first searchable word of a text node: its byte offset and the word, made of
/// characters that appear literally in markup (not whitespace, not `&<>"'`, not controls).
fn first_word(text: &str) -> Option<(usize, &str)> {
    let searchable = |c: char| {
        !(c.is_whitespace()
            || c.is_control()
            || matches!(c, '&' | '<' | '>' | '"' | '\'' | '\u{FFFD}')
            || is_invisible(c))
    };
    let (start, _) = text.char_indices().find(|&(_, c)| searchable(c))?;
    let mut end = start;
    for (i, c) in text[start..].char_indices() {
        if !searchable(c) || i + c.len_utf8() > WORD_BYTES {
            break;
        }
        end = start + i + c.len_utf8();
    }
    Some((start, &text[start..end]))
}

// ---------------------------------------------------------------------------------------
// Writing lines

/// Characters dropped from text (zero-width and soft hyphen).
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}')
}

/// Wide East Asian characters between which a source line break vanishes (CSS Text 3,
/// segment break transformation; Hangul excluded).
fn is_wide(c: char) -> bool {
    matches!(c as u32,
        0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6 | 0x20000..=0x3FFFD)
}

/// Builds the output text: whitespace collapsing, lines, table rows, anchors.
struct Writer {
    out: String,
    anchors: Vec<(usize, usize)>,
    /// The current line has characters.
    line_dirty: bool,
    /// No content yet since the start of the line or cell.
    at_start: bool,
    /// Whitespace is pending before the next character.
    pending: bool,
    /// The pending whitespace contains a source line break…
    pending_break: bool,
    /// …and other than collapsible ASCII spaces (so it cannot vanish between CJK).
    pending_hard: bool,
    last_char: char,
    in_row: bool,
    in_cell: bool,
    row_cells: usize,
    pre_depth: usize,
}

impl Writer {
    fn new(capacity: usize) -> Self {
        Writer {
            out: String::with_capacity(capacity),
            anchors: Vec::new(),
            line_dirty: false,
            at_start: true,
            pending: false,
            pending_break: false,
            pending_hard: false,
            last_char: ' ',
            in_row: false,
            in_cell: false,
            row_cells: 0,
            pre_depth: 0,
        }
    }

    fn anchor(&mut self, src: usize) {
        let ext = self.out.len();
        match self.anchors.last_mut() {
            Some(last) if last.0 == ext => last.1 = last.1.max(src),
            Some(last) if last.1 > src => {}
            _ => self.anchors.push((ext, src)),
        }
    }

    fn clear_pending(&mut self) {
        self.pending = false;
        self.pending_break = false;
        self.pending_hard = false;
    }

    fn space(&mut self, hard: bool, segment_break: bool) {
        if self.at_start {
            return;
        }
        self.pending = true;
        self.pending_hard |= hard;
        self.pending_break |= segment_break;
    }

    /// Appends a text node; `anchor` is (byte offset in `text`, document offset).
    fn text(&mut self, text: &str, anchor: Option<(usize, usize)>) {
        for (i, c) in text.char_indices() {
            match c {
                ' ' | '\t' | '\r' | '\x0c' => self.space(false, false),
                '\n' if self.pre_depth > 0 => self.block(),
                '\n' => self.space(false, true),
                c if c.is_whitespace() => self.space(true, false),
                c if c.is_control() || is_invisible(c) => {}
                c => {
                    if self.pending {
                        let vanish = self.pending_break
                            && !self.pending_hard
                            && is_wide(self.last_char)
                            && is_wide(c);
                        if !vanish {
                            self.out.push(' ');
                        }
                    }
                    self.clear_pending();
                    if let Some((at, src)) = anchor {
                        if at == i {
                            self.anchor(src);
                        }
                    }
                    self.out.push(c);
                    self.last_char = c;
                    self.at_start = false;
                    self.line_dirty = true;
                }
            }
        }
    }

    /// A block boundary: a new line, or a space inside a table cell.
    fn block(&mut self) {
        if self.in_cell {
            self.space(true, false);
            return;
        }
        if self.line_dirty {
            self.out.push('\n');
            self.line_dirty = false;
        }
        self.at_start = true;
        self.clear_pending();
    }

    fn table_end(&mut self) {
        self.block();
        if !self.in_cell && !self.out.is_empty() && !self.out.ends_with("\n\n") {
            self.out.push('\n');
        }
    }

    fn row_open(&mut self) {
        self.block();
        self.in_row = true;
        self.row_cells = 0;
    }

    fn row_close(&mut self) {
        if self.row_cells > 0 {
            self.out.push('|');
            self.line_dirty = true;
        }
        self.in_row = false;
        self.block();
    }

    fn cell_open(&mut self, src: Option<usize>) {
        self.out.push_str("| ");
        self.line_dirty = true;
        self.in_cell = true;
        self.row_cells += 1;
        self.at_start = true;
        self.clear_pending();
        if let Some(src) = src {
            self.anchor(src);
        }
    }

    fn cell_close(&mut self) {
        self.clear_pending();
        self.out.push(' ');
        self.in_cell = false;
        self.at_start = true;
    }
}

// ---------------------------------------------------------------------------------------
// Walking the tree

/// What entering an element did, undone on leaving it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Nothing,
    Block,
    Table,
    Row,
    Cell,
    Pre,
}

/// Elements whose contents produce nothing.
const SKIPPED: &[&str] = &[
    "script", "style", "noscript", "template", "iframe", "noembed", "noframes",
];
/// Elements that start and end lines.
const BLOCKS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "body",
    "caption",
    "center",
    "dd",
    "details",
    "dialog",
    "dir",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "frameset",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "head",
    "header",
    "hgroup",
    "hr",
    "html",
    "legend",
    "li",
    "main",
    "menu",
    "nav",
    "ol",
    "optgroup",
    "option",
    "p",
    "section",
    "select",
    "summary",
    "tbody",
    "tfoot",
    "thead",
    "title",
    "ul",
];
/// Elements whose line breaks are kept.
const PRE: &[&str] = &["pre", "listing", "xmp", "textarea", "plaintext"];

struct Walker<'a> {
    writer: Writer,
    locator: Locator<'a>,
}

impl<'a> Walker<'a> {
    fn new(doc: &'a str) -> Self {
        Walker {
            writer: Writer::new(doc.len() / 2),
            locator: Locator::new(doc),
        }
    }

    fn walk(&mut self, html: &Html) {
        // Rows that contain a nested table are layout: mark them (each node visited once).
        let mut layout_rows = HashSet::new();
        let mut visited = HashSet::new();
        for node in html.tree.nodes() {
            if node
                .value()
                .as_element()
                .is_some_and(|e| e.name() == "table")
            {
                for ancestor in node.ancestors() {
                    if !visited.insert(ancestor.id()) {
                        break;
                    }
                    if ancestor
                        .value()
                        .as_element()
                        .is_some_and(|e| e.name() == "tr")
                    {
                        layout_rows.insert(ancestor.id());
                    }
                }
            }
        }

        // Iterative depth-first traversal (no recursion: the tree may be deep).
        let root = html.tree.root();
        let mut actions: Vec<Action> = Vec::new();
        let mut node = root;
        'walk: loop {
            let (action, descend) = match node.value() {
                Node::Text(text) => {
                    self.text(text);
                    (Action::Nothing, false)
                }
                Node::Element(el) => {
                    let is_layout_row = el.name() == "tr" && layout_rows.contains(&node.id());
                    self.enter(el.name(), is_layout_row)
                }
                Node::Document | Node::Fragment => (Action::Nothing, true),
                _ => (Action::Nothing, false),
            };
            actions.push(action);
            if descend {
                if let Some(child) = node.first_child() {
                    node = child;
                    continue;
                }
            }
            loop {
                if let Some(action) = actions.pop() {
                    self.leave(action);
                }
                if node.id() == root.id() {
                    break 'walk;
                }
                if let Some(sibling) = node.next_sibling() {
                    node = sibling;
                    continue 'walk;
                }
                match node.parent() {
                    Some(parent) => node = parent,
                    None => break 'walk,
                }
            }
        }
    }

    fn text(&mut self, text: &str) {
        let anchor = first_word(text).map(|(at, word)| {
            let src = self.locator.find_text(word).unwrap_or(self.locator.last);
            (at, src)
        });
        self.writer.text(text, anchor);
    }

    /// Enters an element: what to undo on leaving, and whether to visit its children.
    fn enter(&mut self, name: &str, is_layout_row: bool) -> (Action, bool) {
        let w = &mut self.writer;
        if SKIPPED.contains(&name) {
            return (Action::Nothing, false);
        }
        match name {
            "br" => {
                if w.in_cell {
                    w.space(true, false);
                } else {
                    w.block();
                }
                (Action::Nothing, false)
            }
            "tr" if !w.in_row && !w.in_cell && !is_layout_row => {
                w.row_open();
                (Action::Row, true)
            }
            "td" | "th" if w.in_row && !w.in_cell => {
                let src = self.locator.find_cell().unwrap_or(self.locator.last);
                self.writer.cell_open(Some(src));
                (Action::Cell, true)
            }
            "table" => {
                w.block();
                (Action::Table, true)
            }
            "tr" | "td" | "th" => {
                w.block();
                (Action::Block, true)
            }
            _ if PRE.contains(&name) => {
                w.block();
                w.pre_depth += 1;
                (Action::Pre, true)
            }
            _ if BLOCKS.contains(&name) => {
                w.block();
                (Action::Block, true)
            }
            _ => (Action::Nothing, true),
        }
    }

    fn leave(&mut self, action: Action) {
        let w = &mut self.writer;
        match action {
            Action::Nothing => {}
            Action::Block => w.block(),
            Action::Table => w.table_end(),
            Action::Row => w.row_close(),
            Action::Cell => w.cell_close(),
            Action::Pre => {
                w.pre_depth = w.pre_depth.saturating_sub(1);
                w.block();
            }
        }
    }

    fn finish(mut self) -> (String, Vec<(usize, usize)>) {
        self.writer.block();
        let mut out = self.writer.out;
        while out.ends_with("\n\n") {
            out.pop();
        }
        (out, self.writer.anchors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A corpus file as text (`tests/corpus`); a missing file fails the test.
    fn corpus(name: &str) -> String {
        String::from_utf8(crate::testdata::corpus_file(name)).expect("a UTF-8 corpus file")
    }

    /// The lines of `text`.
    fn lines(text: &str) -> Vec<&str> {
        text.lines().collect()
    }

    /// Asserts that `ex.text` has exactly the line `line`.
    #[track_caller]
    fn assert_line(ex: &Extracted, line: &str) {
        assert!(
            ex.text.lines().any(|l| l == line),
            "missing line {line:?} in:\n{}",
            ex.text
        );
    }

    /// Checks the anchor invariants.
    #[track_caller]
    fn assert_anchors_sane(ex: &Extracted, source: &str) {
        for pair in ex.anchors.windows(2) {
            assert!(
                pair[0].0 < pair[1].0,
                "extracted offsets increase: {pair:?}"
            );
            assert!(
                pair[0].1 <= pair[1].1,
                "source offsets never decrease: {pair:?}"
            );
        }
        for &(ext, src) in &ex.anchors {
            assert!(ext <= ex.text.len() && src <= source.len());
        }
    }

    /// The extracted offset of `needle` within the first line starting with `line_start`.
    fn offset_in_line(text: &str, line_start: &str, needle: &str) -> usize {
        let line = text.find(&format!("\n{line_start}")).unwrap() + 1;
        line + text[line..].find(needle).unwrap()
    }

    #[test]
    fn looks_like_html_on_corpus_and_fragments() {
        for name in ["004_render.html", "020_render.html"] {
            {
                let src = corpus(name);
                assert!(looks_like_html(&src), "{name}");
            }
        }
        {
            let src = corpus("010_shanghai_shizhengfubangongting_2019.txt");
            assert!(looks_like_html(&src));
        }
        for name in [
            "000_2b6e7661ff84f527.txt",
            "004_pingtan_2022.txt",
            "015_shuyangxian_2025.txt",
        ] {
            {
                let src = corpus(name);
                assert!(!looks_like_html(&src), "{name}");
            }
        }
        assert!(looks_like_html("<!doctype HTML><title>x</title>"));
        assert!(looks_like_html("<P>年报</P><p>二</p>"));
        assert!(looks_like_html("<table><tr><td>1</td></tr></table>"));
        assert!(looks_like_html(r#"x = "<p>a<\/p><div>b<\/div>";"#));
        assert!(!looks_like_html(
            "| 项目 | 数量 |<br>| a | 1 |<br>| b | 2 |<br>"
        ));
        assert!(!looks_like_html("a < b, c <p, <pre> <path> <tdx>"));
        assert!(!looks_like_html(""));
        assert!(!looks_like_html("<"));
    }

    #[test]
    fn word_export_004_rows_are_pipe_lines() {
        let src = corpus("004_render.html");
        let ex = extract(&src);
        // 表三 (rowspan/colspan not expanded, each cell once, in source order).
        assert_line(
            &ex,
            "| 一、本年新收政府信息公开申请数量 | 71 | 3 | 0 | 0 | 0 | 0 | 74 |",
        );
        assert_line(
            &ex,
            "| 二、上年结转政府信息公开申请数量 | 1 | 0 | 0 | 0 | 0 | 0 | 1 |",
        );
        assert_line(
            &ex,
            "| 三、本年度办理结果 | （一）予以公开 | 21 | 0 | 0 | 0 | 0 | 0 | 21 |",
        );
        assert_line(
            &ex,
            "| （四）无法提供 | 1.本机关不掌握相关政府信息 | 37 | 0 | 0 | 0 | 0 | 0 | 37 |",
        );
        assert_line(&ex, "| 3.其他 | 0 | 2 | 0 | 0 | 0 | 0 | 2 |");
        assert_line(&ex, "| （七）总计 | 72 | 3 | 0 | 0 | 0 | 0 | 75 |");
        assert_line(&ex, "| 自然人 | 法人或其他组织 | 总计 |");
        // 表二.
        assert_line(&ex, "| 行政规范性文件 | 88 | 55 | 698 |");
        assert_line(&ex, "| 行政许可 | 10690 |");
        assert_line(&ex, "| 行政事业性收费 | 9116.36 |");
        // 表四: one row of fifteen cells.
        assert_line(
            &ex,
            "| 0 | 1 | 1 | 0 | 2 | 1 | 0 | 0 | 0 | 1 | 0 | 0 | 0 | 0 | 0 |",
        );
        // Headings and prose are their own lines; spans do not break them.
        assert_line(&ex, "二、主动公开政府信息情况");
        assert_line(&ex, "六、其他需要报告的事项");
        assert_line(&ex, "2022年，无收取信息处理费情况。");
        // Site chrome is kept (entities decoded), as is the title.
        let ls = lines(&ex.text);
        assert_eq!(ls[0], "平潭综合实验区2022年度政府信息公开工作年度报告");
        assert_line(&ex, "首页 > 政务公开 > 政府信息公开年报");
        assert_line(&ex, "发布时间：2023-02-20 15:07");
        assert_eq!(ls.last(), Some(&"主办单位 版权所有"));
        // A blank line follows each table, and no other blank lines appear.
        let before_heading = ls
            .iter()
            .position(|l| *l == "三、收到和处理政府信息公开申请情况")
            .unwrap();
        assert_eq!(ls[before_heading - 1], "");
        assert!(ls[before_heading - 2].starts_with("| 行政事业性收费"));
        assert_eq!(ls.iter().filter(|l| l.is_empty()).count(), 3);
        // No markup or entities leak through.
        assert!(
            !ex.text.contains("<span") && !ex.text.contains("&nbsp;") && !ex.text.contains("&gt;")
        );
        assert_anchors_sane(&ex, &src);
    }

    #[test]
    fn word_export_020_rows_are_pipe_lines() {
        let src = corpus("020_render.html");
        let ex = extract(&src);
        assert_line(
            &ex,
            "| 信息内容 | 本年新制作数量 | 本年新公开数量 | 对外公开总数量 |",
        );
        assert_line(&ex, "| 规范性文件 | 6 | 6 | 6 |");
        assert_line(&ex, "| 行政许可 | 17 | 0 | 2 |");
        assert_line(&ex, "| 行政处罚 | 12 | 0 | 0 |");
        assert_line(
            &ex,
            "| 一、本年新收政府信息公开申请数量 | 0 | 0 | 0 | 0 | 0 | 0 | 0 |",
        );
        assert_line(&ex, "| （六）其他处理 | 0 | 0 | 0 | 0 | 0 | 0 | 0 |");
        assert_line(&ex, "首页 > 政务公开 > 政府信息公开年报");
        assert!(ex.text.contains("当前位置： 首页政务公开政府信息公开"));
        assert_anchors_sane(&ex, &src);
    }

    #[test]
    fn js_string_page_010_keeps_blank_cells() {
        let src = corpus("010_shanghai_shizhengfubangongting_2019.txt");
        let ex = extract(&src);
        // `&nbsp;` cells stay empty cells: blank is absent, not zero.
        assert_line(
            &ex,
            "| 一、本年新收政府信息公开申请数量 | 821 | 35 |  |  | 2 | 1 | 859 |",
        );
        assert_line(
            &ex,
            "| 二、上年结转政府信息公开申请数量 | 18 |  |  |  |  |  | 18 |",
        );
        assert_line(
            &ex,
            "| 三、本年度办理结果 | （一）予以公开 | 258 | 12 |  |  | 1 | 1 |  |",
        );
        assert_line(&ex, "| 2.其他法律行政法规禁止公开 |  |  |  |  |  |  |  |");
        assert_line(&ex, "| （七）总计 | 767 | 35 |  |  | 2 | 1 | 805 |");
        assert_line(&ex, "| 四、结转下年度继续办理 | 72 |  |  |  |  |  | 72 |");
        assert_line(&ex, "| 5 |  |  | 2 | 7 | 8 |  |  | 1 | 9 |  |  |  |  |  |");
        // A `<br />` inside a cell is a space.
        assert_line(
            &ex,
            "| 信息内容 | 本年新 制作数量 | 本年新 公开数量 | 对外公开总数量 |",
        );
        assert_line(&ex, "| 政府集中采购 | 6 | 251000元 |");
        // The JavaScript around the literal and the escapes are gone.
        let ls = lines(&ex.text);
        assert_eq!(ls[0], "2019年上海市人民政府办公厅政府信息公开工作年度报告");
        assert_eq!(ls[1], "发布日期：2020-01-31");
        assert_eq!(ls.last(), Some(&"无。"));
        assert!(!ex.text.contains("let content") && !ex.text.contains('\\'));
        assert!(ex
            .text
            .contains("《上海市贯彻<长江三角洲区域一体化发展规划纲要>实施方案》"));
        assert_anchors_sane(&ex, &src);
    }

    #[test]
    fn source_offset_maps_cells_back_to_their_text() {
        {
            let src = corpus("004_render.html");
            let ex = extract(&src);
            let row = "| 一、本年新收政府信息公开申请数量 |";
            for (needle, expect) in [
                ("一、本年新收", "一、本年新收"),
                ("71", "71<"),
                ("74", "74<"),
            ] {
                let pos = offset_in_line(&ex.text, row, needle);
                let off = ex.source_offset(pos);
                assert!(
                    src[off..].starts_with(expect),
                    "{needle}: {:?}",
                    &src[off..off + 20]
                );
            }
            // The first zero of that row maps to its own cell, not to an attribute.
            let pos = offset_in_line(&ex.text, row, "| 0 |") + 2;
            let off = ex.source_offset(pos);
            assert!(src[off..].starts_with("0</span>"));
            assert!(src[..off].ends_with('>'));
            let off71 = ex.source_offset(offset_in_line(&ex.text, row, "71"));
            assert!(off > off71 && off - off71 < 1000, "{off71} {off}");
            // Prose maps into its paragraph, heading lines to their heading.
            let pos = ex.text.find("六、其他需要报告的事项").unwrap();
            assert!(src[ex.source_offset(pos)..].starts_with("六、其他需要报告的事项"));
            let pos = ex.text.find("无收取信息处理费").unwrap();
            assert!(src[ex.source_offset(pos)..].starts_with("无收取信息处理费"));
        }
        {
            let src = corpus("010_shanghai_shizhengfubangongting_2019.txt");
            // Through the JavaScript unescaping, back to the original file's offsets.
            let ex = extract(&src);
            let row = "| 一、本年新收政府信息公开申请数量 |";
            for needle in ["一、本年新收", "821", "859"] {
                let pos = offset_in_line(&ex.text, row, needle);
                let off = ex.source_offset(pos);
                assert!(src[off..].starts_with(needle), "{needle}");
            }
            // A blank cell maps to its `<td` tag.
            let pos = offset_in_line(&ex.text, row, "|  |") + 2;
            assert!(src[ex.source_offset(pos)..].starts_with("<td"));
            let pos = ex.text.find("无。").unwrap();
            assert!(src[ex.source_offset(pos)..].starts_with("无。"));
        }
    }

    #[test]
    fn source_offset_between_and_before_anchors() {
        let ex = Extracted {
            text: "abcdef".into(),
            anchors: vec![(2, 10), (4, 20)],
        };
        assert_eq!(ex.source_offset(0), 8);
        assert_eq!(ex.source_offset(2), 10);
        assert_eq!(ex.source_offset(3), 11);
        assert_eq!(ex.source_offset(5), 21);
        assert_eq!(Extracted::default().source_offset(7), 0);
    }

    #[test]
    fn scripts_styles_and_comments_produce_nothing() {
        let src = r#"<html><head><title>年报</title><style>p { color: red }</style>
            <script>var x = "<p>不要</p>"; if (a < b) {}</script></head>
            <body><div class="nav">首页 &gt; 政务公开</div><noscript>请启用脚本</noscript>
            <!--[if !supportMisalignedColumns]--><p>正文</p><!--[endif]-->
            <![if !supportLists]><span>1.</span><![endif]><!-- 注释 --><p>结束</p>
            <template><p>模板</p></template><script src="x.js"></script></body></html>"#;
        let ex = extract(src);
        assert_eq!(ex.text, "年报\n首页 > 政务公开\n正文\n1.\n结束\n");
        assert_anchors_sane(&ex, src);
        let pos = ex.text.find("结束").unwrap();
        assert!(src[ex.source_offset(pos)..].starts_with("结束"));
    }

    #[test]
    fn inline_elements_do_not_break_words() {
        let ex = extract(
            "<p class=MsoNormal><span>一、本年</span><span lang=EN-US>新收</span><b><span>政府信息</span></b>公开申请</p>",
        );
        assert_eq!(ex.text, "一、本年新收政府信息公开申请\n");
        // A source line break between CJK characters vanishes; between others it is a space.
        let ex = extract(
            "<p><span>一、本年\n  新收</span>\n<span>数量</span></p><p>total\nrows 3\n件</p>",
        );
        assert_eq!(ex.text, "一、本年新收数量\ntotal rows 3 件\n");
        // But a real space or non-breaking space stays.
        let ex = extract("<p>一、本年 新收&nbsp;数量</p>");
        assert_eq!(ex.text, "一、本年 新收 数量\n");
    }

    #[test]
    fn whitespace_is_collapsed_and_trimmed() {
        let ex = extract("<div>&nbsp; a \t\u{3000} b&nbsp;</div><p>\u{3000}\u{3000}第二行\u{200B}</p>x<br>y<br><br>  <br>z");
        assert_eq!(ex.text, "a b\n第二行\nx\ny\nz\n");
        assert_eq!(extract("").text, "");
        assert_eq!(extract("   \n\t ").text, "");
        assert_eq!(
            extract("plain text, no markup").text,
            "plain text, no markup\n"
        );
    }

    #[test]
    fn table_cells_are_one_line_and_blanks_are_kept() {
        let src = "<table><tr><th>项目</th><th colspan=2>数量</th></tr>\
            <tr><td rowspan=2><p>（二）部分</p><p>公开</p></td><td>本年<br>新收</td><td>&nbsp;</td></tr>\
            <tr><td></td><td> 0 </td></tr><tr></tr></table>after";
        let ex = extract(src);
        assert_eq!(
            ex.text,
            "| 项目 | 数量 |\n| （二）部分 公开 | 本年 新收 |  |\n|  | 0 |\n\nafter\n"
        );
        assert_anchors_sane(&ex, src);
        // Implied rows and cells (no <tr>, no </td>) still come out as rows.
        let ex = extract("<table><td>a<td>b</table><table><tr><td>c</table>");
        assert_eq!(ex.text, "| a | b |\n\n| c |\n");
    }

    #[test]
    fn nested_tables_give_inner_rows_their_own_lines() {
        let src = "<table><tr><td>导航</td><td><p>标题</p>\
            <table><tr><td>规章</td><td>5</td></tr><tr><td>文件</td><td>7</td></tr></table>\
            <p>正文</p></td></tr><tr><td>页脚</td><td>1</td></tr></table>";
        let ex = extract(src);
        assert_eq!(
            ex.text,
            "导航\n标题\n| 规章 | 5 |\n| 文件 | 7 |\n\n正文\n| 页脚 | 1 |\n"
        );
        assert_anchors_sane(&ex, src);
    }

    #[test]
    fn javascript_literals_are_unescaped() {
        let src = r#"var a = 1; let content = "<p style=\"x\">第一\u4e00段<\/p>\n<p class=\"y\">\ud83d\ude00 \x41\/B\\C\'\u{5e74}</p>" +
            '<table><tr><td>1</td><td>\"&nbsp;\"</td></tr></table>';"#;
        let ex = extract(src);
        assert_eq!(ex.text, "第一一段\n😀 A/B\\C'年\n| 1 | \" \" |\n");
        assert_anchors_sane(&ex, src);
        let pos = ex.text.find("1 |").unwrap();
        assert!(src[ex.source_offset(pos)..].starts_with("1</td>"));
        // Escaped markup without surrounding quotes is unescaped as a whole.
        let ex = extract(r#"<p class=\"a\">一<\/p><p class=\"b\">二<\/p><div id=\"c\">三<\/div>"#);
        assert_eq!(ex.text, "一\n二\n三\n");
        // A page that merely contains a script with escapes is not unescaped.
        let page =
            r#"<p class="a">x\ty</p><script>s = "<b class=\"q\">";</script><p class="b">z</p>"#;
        assert_eq!(extract(page).text, "x\\ty\nz\n");
        // Broken escapes do not panic.
        for s in [
            r#"x="<p a=\"1\" b=\"2\">\u12"#,
            r#"x="<p a=\"1\" b=\"2\">\ud800\u{110000}\x"#,
            "x='<p a=\\'1\\' b=\\'\\",
        ] {
            let _ = extract(s);
        }
    }

    #[test]
    fn garbage_does_not_panic() {
        for src in [
            "<<<>>>",
            "<",
            "</",
            "<!--",
            "<!-- x",
            "<div",
            "<div class=\"unterminated>text",
            "<p>unclosed <b>bold <i>italic <table><tr><td>cell",
            "</p></div></table></td></tr>",
            "<script>never closed",
            "<title>t",
            "<plaintext><p>x",
            "<table><table><table>",
            "<td>1</td><tr>2</tr>",
            "<svg><tr><td>x</td></tr></svg><table><tr><td><svg><td>y</td></svg></td></tr></table>",
            "<math><mi>x</mi></math>&#0;&#xFFFFFF;&bogus;&",
            "\0\u{1}<p>\u{FFFD}</p>",
        ] {
            let ex = extract(src);
            assert_anchors_sane(&ex, src);
            let _ = ex.source_offset(usize::MAX / 2);
            let _ = looks_like_html(src);
        }
        assert_eq!(extract("<<<>>>").text, "<<<>>>\n");
    }

    #[test]
    fn random_markup_keeps_anchor_invariants() {
        const PIECES: &[&str] = &[
            "<p>",
            "</p>",
            "<div>",
            "</div>",
            "<table>",
            "</table>",
            "<tr>",
            "<td>",
            "</td>",
            "<span>",
            "</span>",
            "<b>",
            "</b>",
            "<br>",
            "<!--",
            "-->",
            "<script>",
            "</script>",
            "&nbsp;",
            "&lt;",
            " ",
            "\n",
            "年报",
            "71",
            "0",
            "\"",
            "'",
            "=",
            "<",
            ">",
            "\\\"",
            "<td class=\"x\">",
            "<p style='a:b'>",
            "<svg>",
            "<![CDATA[",
            "]]>",
            "\u{3000}",
        ];
        let mut state = 0x9e37_79b9_u32;
        for _ in 0..300 {
            let mut src = String::new();
            for _ in 0..60 {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                src.push_str(PIECES[state as usize % PIECES.len()]);
            }
            let ex = extract(&src);
            assert_anchors_sane(&ex, &src);
        }
    }

    #[test]
    fn deep_nesting_and_other_hostile_markup_are_bounded() {
        let mb = 1 << 20;
        // The other hostile shapes at a quarter of the size in debug builds (html5ever is
        // slow unoptimised); release runs them at 1 MB too.
        let big = if cfg!(debug_assertions) { mb / 4 } else { mb };
        let cases: Vec<(&str, String)> = vec![
            ("div nesting", "<div>".repeat(mb / 5)),
            ("div nesting with text", "<div>x".repeat(big / 6)),
            ("span nesting", "<span>".repeat(big / 6)),
            (
                "b then unmatched end tags",
                format!("{}{}", "<b>".repeat(big / 8), "</i>".repeat(big / 8)),
            ),
            (
                "distinct open fonts",
                (0..big / 20)
                    .map(|i| format!("<font color={i}>"))
                    .collect::<String>()
                    + &"<p>x</p>".repeat(big / 16),
            ),
            (
                "many attributes",
                format!(
                    "<div{}>x</div>",
                    (0..big / 8).map(|i| format!(" a{i}=1")).collect::<String>()
                ),
            ),
            ("nested tables", "<table><tr><td>".repeat(big / 16)),
            ("self-closing divs", "<div/>".repeat(big / 6)),
            (
                "unterminated comment",
                format!("<p>x</p><!--{}", "<div>".repeat(big / 5)),
            ),
            ("lone angle brackets", "<<<>>>".repeat(big / 6)),
            (
                "unfindable runs before a big script",
                format!(
                    "{}<script>{}</script><p>end</p>",
                    "<p>&#20013;</p>".repeat(big / 32),
                    "x".repeat(big / 2)
                ),
            ),
        ];
        for (what, src) in cases {
            let start = std::time::Instant::now();
            let ex = extract(&src);
            let took = start.elapsed();
            eprintln!("{what}: {took:?}");
            assert!(took.as_secs() < 20, "{what}: {took:?}");
            assert_anchors_sane(&ex, &src);
        }
        // Text under deep nesting is kept.
        let src = format!("{}深处{}", "<div>".repeat(5000), "</div>".repeat(5000));
        assert_eq!(extract(&src).text, "深处\n");
    }

    #[test]
    fn guard_leaves_ordinary_pages_alone() {
        for name in ["004_render.html", "020_render.html"] {
            {
                let src = corpus(name);
                assert!(guard(&src).is_none(), "{name}");
            }
        }
        assert!(guard("<div><p>a<b>b</b></p></div>").is_none());
        let deep = "<div>".repeat(MAX_DEPTH + 10);
        let guarded = guard(&deep).unwrap();
        assert_eq!(guarded, "<div>".repeat(MAX_DEPTH));
        let long = format!("<p {}>x</p>", "a".repeat(MAX_TAG_BYTES));
        assert_eq!(guard(&long).as_deref(), Some("<p>x</p>"));
        let long = format!("<svg><path d=\"{}\"/></svg>", "1".repeat(MAX_TAG_BYTES));
        assert_eq!(guard(&long).as_deref(), Some("<svg><path/></svg>"));
        // Elements html5ever closes implicitly do not count as nested.
        let sloppy = "<a href=x>link<h2>heading<h3>sub".repeat(MAX_DEPTH * 2);
        assert!(guard(&sloppy).is_none());
        let sloppy = "<li><p><td><option>x".repeat(MAX_DEPTH * 2);
        assert!(guard(&sloppy).is_none());
    }
}
