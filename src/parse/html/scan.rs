//! The tag scanner: a small, linear, tag-aware tokenizer of markup (text, start and end
//! tags, comments and declarations, the raw contents of `<script>`, `<style>`…).
//!
//! It serves the depth guard (which counts open elements before html5ever sees the page)
//! and the source locator (which finds text and cells in the source); it never decides
//! what the text is — html5ever does.

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TokKind {
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

/// A token: its kind and byte range in the document.
#[derive(Clone, Copy, Debug)]
pub(super) struct Tok {
    pub(super) kind: TokKind,
    pub(super) start: usize,
    pub(super) end: usize,
    /// The tag name's byte range (start and end tags only).
    pub(super) name: (usize, usize),
    pub(super) self_closing: bool,
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
pub(super) struct Lexer<'a> {
    b: &'a [u8],
    pos: usize,
    raw: Option<RawMode>,
}

impl<'a> Lexer<'a> {
    pub(super) fn new(doc: &'a str) -> Self {
        Lexer {
            b: doc.as_bytes(),
            pos: 0,
            raw: None,
        }
    }

    /// Continues at `pos`, which must be in text or at the `<` of a tag.
    pub(super) fn reset(&mut self, pos: usize) {
        self.pos = pos;
        self.raw = None;
    }

    /// Where the next token starts.
    #[inline]
    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    /// The same scanner, reading no further than `end` in `doc` (a token cut there is
    /// simply incomplete).
    #[inline]
    pub(super) fn limited(mut self, doc: &'a str, end: usize) -> Self {
        self.b = doc.as_bytes().get(..end).unwrap_or(b"");
        self
    }

    /// The bytes of a token, `None` when it lies beyond the input.
    #[inline]
    pub(super) fn bytes(&self, tok: &Tok) -> Option<&'a [u8]> {
        self.b.get(tok.start..tok.end)
    }

    /// The tag name of a start or end tag (empty for other tokens).
    #[inline]
    pub(super) fn name(&self, tok: &Tok) -> &'a [u8] {
        self.b.get(tok.name.0..tok.name.1).unwrap_or(b"")
    }

    /// The next token, `None` at the end.
    pub(super) fn next_tok(&mut self) -> Option<Tok> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The kinds and texts of every token of `doc`.
    fn tokens(doc: &str) -> Vec<(TokKind, &str, &str)> {
        let mut lexer = Lexer::new(doc);
        let mut out = Vec::new();
        while let Some(tok) = lexer.next_tok() {
            let name = std::str::from_utf8(lexer.name(&tok)).unwrap();
            out.push((tok.kind, &doc[tok.start..tok.end], name));
        }
        out
    }

    #[test]
    fn tokens_are_text_tags_comments_and_raw_contents() {
        use TokKind::*;
        assert_eq!(
            tokens("a<p class=\"x>y\">b</P><!-- c > d --><script>if (a<b) {}</script>e < f<br/>"),
            [
                (Text, "a", ""),
                (Start, "<p class=\"x>y\">", "p"),
                (Text, "b", ""),
                (End, "</P>", "P"),
                (Other, "<!-- c > d -->", ""),
                (Start, "<script>", "script"),
                (Raw, "if (a<b) {}", ""),
                (End, "</script>", "script"),
                (Text, "e < f", ""),
                (Start, "<br/>", "br"),
            ]
        );
        // Title contents are text; an unterminated tag runs to the end.
        assert_eq!(
            tokens("<title>a<b></title><div x='"),
            [
                (Start, "<title>", "title"),
                (Text, "a<b>", ""),
                (End, "</title>", "title"),
                (Other, "<div x='", ""),
            ]
        );
    }
}
