//! The source locator: where each piece of extracted text came from.
//!
//! While the walker writes text, the [`Locator`] searches forward in the markup for each
//! text run's first word (and each cell's `<td>` tag) with the tag scanner, never
//! rescanning from the start, so every run and cell gets an anchor
//! `(extracted_offset, markup_offset)`. [`Extracted::source_offset`] then maps any
//! extracted offset back to the source through those anchors.

use super::scan::{Lexer, Tok, TokKind};
use super::write::is_invisible;
use super::Extracted;

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

/// Searches forward in the document for text runs and cells; the cursor only moves forward,
/// and failed searches draw on a budget proportional to the document, so the total work is
/// linear.
pub(super) struct Locator<'a> {
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
    pub(super) fn new(doc: &'a str) -> Self {
        Locator {
            doc,
            lexer: Lexer::new(doc),
            last: 0,
            budget: doc.len().saturating_mul(4).saturating_add(1 << 16),
        }
    }

    /// The document offset of the last anchor found (where a run or cell that cannot be
    /// found is placed).
    #[inline]
    pub(super) fn last(&self) -> usize {
        self.last
    }

    /// The document offset of `word` in the next text that contains it, or `None`.
    #[inline]
    pub(super) fn find_text(&mut self, word: &str) -> Option<usize> {
        let needle = word.as_bytes();
        if needle.is_empty() {
            return None;
        }
        self.search(|lx, tok| {
            if tok.kind != TokKind::Text {
                return None;
            }
            let hay = lx.bytes(tok)?;
            let i = hay.windows(needle.len()).position(|w| w == needle)?;
            Some(tok.start + i)
        })
    }

    /// The document offset of the next `<td>` or `<th>` start tag, or `None`.
    #[inline]
    pub(super) fn find_cell(&mut self) -> Option<usize> {
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
        let start = self.lexer.pos();
        let work_end = start
            .saturating_add(self.budget.max(MIN_WINDOW))
            .min(self.doc.len());
        // The scan never reads past `work_end`: a token cut there is simply incomplete.
        let mut lx = self.lexer.limited(self.doc, work_end);
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
        self.charge(lx.pos().saturating_sub(start));
        None
    }

    fn charge(&mut self, scanned: usize) {
        self.budget = self.budget.saturating_sub(scanned);
    }
}

/// The first searchable word of a text node: its byte offset and the word, made of
/// characters that appear literally in markup (not whitespace, not `&<>"'`, not controls).
#[inline]
pub(super) fn first_word(text: &str) -> Option<(usize, &str)> {
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

#[cfg(test)]
mod tests {
    use crate::parse::html::testing::{assert_anchors_sane, corpus, offset_in_line};
    use crate::parse::html::{extract, Extracted};

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
}
