//! Text normalisation: NFKC (full-width to half-width), unified quotes and dashes,
//! invisible characters dropped, with a map from every normalised byte back to the
//! byte offset of the source character it came from (for diagnostics).

use unicode_normalization::UnicodeNormalization;

/// Normalised text and its map back to the source.
#[derive(Debug, Default)]
pub struct Normalized {
    pub text: String,
    /// `src[i]` is the source byte offset of the character that produced
    /// normalised byte `i`; one extra entry maps `text.len()` to the source end.
    src: Vec<u32>,
}

impl Normalized {
    /// Source byte offset of a normalised byte offset (clamped to the text).
    pub fn source_offset(&self, pos: usize) -> usize {
        match self.src.get(pos) {
            Some(&o) => o as usize,
            None => self.src.last().map_or(0, |&o| o as usize),
        }
    }
}

/// Normalises `source`. Linear time; every character is handled on its own, so the
/// offset map is exact.
pub fn normalize(source: &str) -> Normalized {
    let mut text = String::with_capacity(source.len());
    let mut src = Vec::with_capacity(source.len() + 1);
    let mut buf = [0u8; 4];
    let mut chars = source.char_indices().peekable();
    while let Some((off, ch)) = chars.next() {
        let off = off as u32;
        if ch == '\r' && chars.peek().is_some_and(|&(_, c)| c == '\n') {
            continue; // CRLF: keep the LF only
        }
        match map_char(ch) {
            Mapped::Drop => {}
            Mapped::One(c) => {
                let s = c.encode_utf8(&mut buf);
                text.push_str(s);
                src.extend(std::iter::repeat_n(off, s.len()));
            }
            Mapped::Nfkc => {
                for c in std::iter::once(ch).nfkc() {
                    let c = match map_char(c) {
                        Mapped::One(c) => c,
                        Mapped::Drop => continue,
                        Mapped::Nfkc => c,
                    };
                    let s = c.encode_utf8(&mut buf);
                    text.push_str(s);
                    src.extend(std::iter::repeat_n(off, s.len()));
                }
            }
        }
    }
    src.push(source.len() as u32);
    Normalized { text, src }
}

enum Mapped {
    Drop,
    One(char),
    Nfkc,
}

fn map_char(ch: char) -> Mapped {
    match ch {
        // Fast path: ASCII and CJK unified ideographs are NFKC-stable.
        '\r' => Mapped::One('\n'),
        '\u{0}'..='\u{7f}' => Mapped::One(ch),
        '\u{4e00}'..='\u{9fff}' => Mapped::One(ch),
        '\u{feff}' | '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{2060}' | '\u{ad}' => Mapped::Drop,
        '\u{a0}' | '\u{3000}' | '\u{2002}'..='\u{200a}' => Mapped::One(' '),
        '“' | '”' | '„' | '〃' | '＂' => Mapped::One('"'),
        '‘' | '’' | '＇' => Mapped::One('\''),
        '〔' | '【' | '［' => Mapped::One('['),
        '〕' | '】' | '］' => Mapped::One(']'),
        '‐' | '‑' | '‒' | '–' | '−' | '－' => Mapped::One('-'),
        '—' | '―' | '─' => Mapped::One('—'),
        '。' | '｡' => Mapped::One('。'),
        '、' | '､' => Mapped::One('、'),
        '．' => Mapped::One('.'),
        '｜' | '│' | '┃' => Mapped::One('|'),
        _ => Mapped::Nfkc,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_becomes_half_width_with_offsets() {
        let n = normalize("（一）１２，“三安全”");
        assert_eq!(n.text, "(一)12,\"三安全\"");
        // '1' came from the full-width '１' at source byte 9.
        let pos = n.text.find('1').unwrap();
        assert_eq!(n.source_offset(pos), "（一）".len());
        assert_eq!(n.source_offset(n.text.len()), "（一）１２，“三安全”".len());
    }

    #[test]
    fn invisible_and_space_variants() {
        let n = normalize("a\u{feff}b\u{a0}c\u{3000}d\r\n");
        assert_eq!(n.text, "ab c d\n");
    }
}
