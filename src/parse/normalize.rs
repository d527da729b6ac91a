//! Text normalisation: NFKC (full-width to half-width), unified quotes and dashes,
//! invisible characters dropped, with a map from every normalised byte back to the
//! byte offset of the source character it came from (for diagnostics).

use unicode_normalization::UnicodeNormalization;

/// Normalised text and its map back to the source.
#[derive(Debug, Default)]
pub struct Normalized {
    pub text: String,
    /// Sorted `(normalised offset, source offset)` pairs, one where the mapping
    /// stops being a plain shift: between two anchors, offsets advance together.
    anchors: Vec<(u32, u32)>,
    /// Normalised offsets inside a replacement (e.g. the ")" of "(" + "一" + ")"
    /// from one "㈠") map to the replaced character's start: the end of each
    /// replacement is recorded so positions never run past it.
    src_len: u32,
}

impl Normalized {
    /// Source byte offset of a normalised byte offset (clamped to the text).
    pub fn source_offset(&self, pos: usize) -> usize {
        let pos = pos.min(self.text.len()) as u32;
        let i = self.anchors.partition_point(|&(n, _)| n <= pos);
        let (n, s) = if i == 0 { (0, 0) } else { self.anchors[i - 1] };
        (s + (pos - n)).min(self.src_len) as usize
    }
}

/// Normalises `source`. Linear time; characters that need no change are copied
/// in runs.
pub fn normalize(source: &str) -> Normalized {
    let mut text = String::with_capacity(source.len());
    let mut anchors: Vec<(u32, u32)> = Vec::new();
    let mut buf = [0u8; 4];
    let mut run_start = 0usize; // start of the pending unchanged run in `source`
    let mut chars = source.char_indices().peekable();
    // Records that normalised `text.len()` corresponds to source `src`.
    fn anchor(anchors: &mut Vec<(u32, u32)>, norm: usize, src: usize) {
        let (n, s) = (norm as u32, src as u32);
        match anchors.last_mut() {
            Some(last) if last.0 == n => last.1 = s,
            _ => anchors.push((n, s)),
        }
    }
    while let Some((off, ch)) = chars.next() {
        let mapped = if ch == '\r' && chars.peek().is_some_and(|&(_, c)| c == '\n') {
            Mapped::Drop // CRLF: keep the LF only
        } else {
            map_char(ch)
        };
        if let Mapped::Keep = mapped {
            continue;
        }
        // Flush the unchanged run before this character.
        text.push_str(&source[run_start..off]);
        anchor(&mut anchors, text.len(), off);
        match mapped {
            Mapped::Keep | Mapped::Drop => {}
            Mapped::One(c) => text.push_str(c.encode_utf8(&mut buf)),
            Mapped::Nfkc => {
                for c in std::iter::once(ch).nfkc() {
                    let c = match map_char(c) {
                        Mapped::One(c) => c,
                        Mapped::Drop => continue,
                        Mapped::Keep | Mapped::Nfkc => c,
                    };
                    text.push_str(c.encode_utf8(&mut buf));
                }
            }
        }
        run_start = off + ch.len_utf8();
        anchor(&mut anchors, text.len(), run_start);
    }
    text.push_str(&source[run_start..]);
    Normalized {
        text,
        anchors,
        src_len: source.len() as u32,
    }
}

enum Mapped {
    /// Unchanged.
    Keep,
    Drop,
    One(char),
    Nfkc,
}

fn map_char(ch: char) -> Mapped {
    match ch {
        '\r' => Mapped::One('\n'),
        // ASCII and CJK unified ideographs are NFKC-stable.
        '\u{0}'..='\u{7f}' | '\u{4e00}'..='\u{9fff}' => Mapped::Keep,
        '\u{feff}' | '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{2060}' | '\u{ad}' => Mapped::Drop,
        '\u{a0}' | '\u{3000}' | '\u{2002}'..='\u{200a}' => Mapped::One(' '),
        '“' | '”' | '„' | '〃' | '＂' => Mapped::One('"'),
        '‘' | '’' | '＇' => Mapped::One('\''),
        '〔' | '【' | '［' => Mapped::One('['),
        '〕' | '】' | '］' => Mapped::One(']'),
        '‐' | '‑' | '‒' | '–' | '−' | '－' => Mapped::One('-'),
        '―' | '─' => Mapped::One('—'),
        '。' | '、' | '—' => Mapped::Keep,
        '｡' => Mapped::One('。'),
        '､' => Mapped::One('、'),
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
        let src = "（一）１２，“三安全”";
        let n = normalize(src);
        assert_eq!(n.text, "(一)12,\"三安全\"");
        // '1' came from the full-width '１' right after "（一）".
        let pos = n.text.find('1').unwrap();
        assert_eq!(n.source_offset(pos), "（一）".len());
        // '三' is unchanged and maps exactly.
        let pos = n.text.find('三').unwrap();
        assert_eq!(n.source_offset(pos), src.find('三').unwrap());
        assert_eq!(n.source_offset(n.text.len()), src.len());
    }

    #[test]
    fn invisible_and_space_variants() {
        let n = normalize("a\u{feff}b\u{a0}c\u{3000}d\r\n");
        assert_eq!(n.text, "ab c d\n");
        assert_eq!(n.source_offset(1), "a\u{feff}".len());
    }

    #[test]
    fn unchanged_text_maps_identically() {
        let src = "一、总体情况 2023年 abc";
        let n = normalize(src);
        assert_eq!(n.text, src);
        for (i, _) in src.char_indices() {
            assert_eq!(n.source_offset(i), i);
        }
    }
}
