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
//!
//! # How the parts fit
//!
//! [`extract`] runs the parts in this order; each is a file of its own, and none of them
//! imports another except as the arrows say:
//!
//! 1. `js_string` — when the markup sits backslash-escaped inside JavaScript string
//!    literals, unescapes those literals into the markup to parse (with a map back to
//!    the source); otherwise the source is the markup.
//! 2. `guard` (reads tokens from `scan`) — bounded work: html5ever's tree builder is
//!    quadratic in the depth of the open-element stack and in the number of attributes
//!    of one tag, so a linear pre-pass removes start tags nested deeper than
//!    [`MAX_DEPTH`] (or more than [`MAX_OPEN_FORMATTING`] open formatting elements)
//!    together with their end tags, and strips the attributes of tags longer than
//!    [`MAX_TAG_BYTES`]. Text is never removed, and ordinary pages are parsed exactly as
//!    given.
//! 3. html5ever parses the (guarded) markup into a tree.
//! 4. `walk` (drives `write` and `locate`) — visits the tree and tells the writer what
//!    each node is (text, block, table, row, cell, nothing).
//!    * `write` — the text writer: collapsed whitespace, lines, `| a | b |` rows, blank
//!      lines after tables, and the anchors.
//!    * `locate` (reads tokens from `scan`, and the writer's rule of invisible
//!      characters) — finds each text run's first word and each cell's `<td>` tag by
//!      searching forward in the markup, never rescanning from the start; its anchors
//!      map positions of the output back to the source ([`Extracted::source_offset`]).
//! 5. The anchors, found in the markup, are carried back through the `js_string` map to
//!    source offsets.
//!
//! `scan` is the small tag-aware tokenizer below `guard` and `locate`; it never decides
//! what the text is — html5ever does.

mod guard;
mod js_string;
mod locate;
mod scan;
#[cfg(test)]
mod testing;
mod walk;
mod write;

use scraper::Html;

pub use guard::{MAX_DEPTH, MAX_OPEN_FORMATTING, MAX_TAG_BYTES};

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
    let unescaped = js_string::unescape_js_strings(source);
    let doc: &str = &unescaped.text;
    let guarded = guard::guard(doc);
    let html = Html::parse_document(guarded.as_deref().unwrap_or(doc));
    let (text, mut anchors) = walk::walk(&html, doc);
    if unescaped.moves_offsets() {
        for anchor in &mut anchors {
            anchor.1 = unescaped.source_offset(anchor.1);
        }
    }
    Extracted { text, anchors }
}

#[cfg(test)]
mod tests {
    use super::testing::{assert_anchors_sane, corpus};
    use super::*;

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
}
