//! A caller's text, as errors show it and as free-text fields accept it.
//!
//! [`echo`]: an error that repeats a caller's value repeats a short prefix of it
//! ([`ECHO_CHARS`] characters, cut at a character boundary, control and bidirectional
//! formatting characters escaped) and states its full length, so that no input makes
//! an error message long (a gRPC status travels in trailers, which clients cap at a
//! few KiB) or lets it reorder or hide text on the reader's terminal:
//! `"aaaa…" (10000 characters)`.
//!
//! [`check_free_text`]: a free-text field (a withdrawal reason, a label, a URL) holds
//! no control characters (C0 except those the field allows, DEL, C1) and no
//! bidirectional formatting characters (U+061C, U+200E, U+200F, U+202A–U+202E,
//! U+2066–U+2069): stored text reads the same everywhere it is shown.

use std::fmt;

/// Characters of a caller's value an error repeats.
pub const ECHO_CHARS: usize = 48;

/// A caller's value as an error shows it (see the module docs); `Display` only.
#[derive(Debug, Clone, Copy)]
pub struct Echo<'a>(&'a str);

/// `value` as an error shows it: quoted, at most [`ECHO_CHARS`] characters, escaped,
/// with its length in characters when cut.
pub fn echo(value: &str) -> Echo<'_> {
    Echo(value)
}

impl fmt::Display for Echo<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        let mut chars = self.0.chars();
        for c in chars.by_ref().take(ECHO_CHARS) {
            write_escaped(f, c)?;
        }
        if chars.next().is_some() {
            write!(f, "…\" ({} characters)", self.0.chars().count())
        } else {
            f.write_str("\"")
        }
    }
}

fn write_escaped(f: &mut fmt::Formatter<'_>, c: char) -> fmt::Result {
    match c {
        '"' => f.write_str("\\\""),
        '\\' => f.write_str("\\\\"),
        '\n' => f.write_str("\\n"),
        '\r' => f.write_str("\\r"),
        '\t' => f.write_str("\\t"),
        c if c.is_control() || is_invisible_format(c) => write!(f, "\\u{{{:04x}}}", c as u32),
        c => write!(f, "{c}"),
    }
}

/// Bidirectional formatting characters (Unicode's `Bidi_Control`): they reorder the
/// text around them when shown.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

/// What an echo escapes besides control characters: bidi controls, zero-width
/// characters, line and paragraph separators, the byte-order mark.
fn is_invisible_format(c: char) -> bool {
    is_bidi_control(c)
        || matches!(
            c,
            '\u{200b}'..='\u{200d}' | '\u{2028}' | '\u{2029}' | '\u{feff}'
        )
}

/// A character a free text may not hold, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "character {position} is U+{code:04X}, {kind}; this field takes no control characters \
     (C0, DEL, C1{allowed}) and no bidirectional formatting characters (U+061C, U+200E, \
     U+200F, U+202A to U+202E, U+2066 to U+2069)",
    code = *.character as u32,
    kind = if is_bidi_control(*.character) { "a bidirectional formatting character" } else { "a control character" },
    allowed = if *.multi_line { "; tab and line feed are allowed" } else { "" },
)]
pub struct ForbiddenChar {
    /// Its position, counting characters from 1.
    pub position: usize,
    pub character: char,
    /// The field allows tab and line feed.
    pub multi_line: bool,
}

/// Checks a free-text field: the first forbidden character (see the module docs), if
/// any. `multi_line`: tab and line feed are allowed (a withdrawal reason).
pub fn check_free_text(value: &str, multi_line: bool) -> Result<(), ForbiddenChar> {
    let found = value.chars().enumerate().find(|&(_, c)| {
        let allowed = multi_line && matches!(c, '\n' | '\t');
        !allowed && (c.is_control() || is_bidi_control(c))
    });
    match found {
        None => Ok(()),
        Some((i, character)) => Err(ForbiddenChar {
            position: i + 1,
            character,
            multi_line,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_echoed_whole_and_quoted() {
        assert_eq!(echo("abc").to_string(), "\"abc\"");
        assert_eq!(echo("").to_string(), "\"\"");
        let exactly = "x".repeat(ECHO_CHARS);
        assert_eq!(echo(&exactly).to_string(), format!("\"{exactly}\""));
    }

    #[test]
    fn long_values_are_cut_at_a_character_boundary_with_their_length() {
        let long = "a".repeat(10_000);
        assert_eq!(
            echo(&long).to_string(),
            format!("\"{}…\" (10000 characters)", "a".repeat(ECHO_CHARS))
        );
        // Multi-byte characters: cut between characters, counted as characters.
        let han = "崇".repeat(1_000_000);
        let shown = echo(&han).to_string();
        assert_eq!(
            shown,
            format!("\"{}…\" (1000000 characters)", "崇".repeat(ECHO_CHARS))
        );
        assert!(shown.len() < 200);
    }

    #[test]
    fn control_and_bidi_characters_are_escaped() {
        assert_eq!(
            echo("a\0b\u{1b}[31m\"\\\n").to_string(),
            "\"a\\u{0000}b\\u{001b}[31m\\\"\\\\\\n\""
        );
        assert_eq!(
            echo("x\u{202e}y\u{2066}\u{7f}\u{85}").to_string(),
            "\"x\\u{202e}y\\u{2066}\\u{007f}\\u{0085}\""
        );
        // The worst case: every character escaped, still a few hundred bytes.
        let worst = "\u{202e}".repeat(100_000);
        assert!(echo(&worst).to_string().len() < 500);
    }

    #[test]
    fn free_text_refuses_control_and_bidi_characters() {
        assert_eq!(check_free_text("公开年报 2023", false), Ok(()));
        assert_eq!(check_free_text("line one\nline two\tend", true), Ok(()));
        for (text, multi_line, position, character) in [
            ("a\nb", false, 2, '\n'),
            ("ab\0", true, 3, '\0'),
            ("\u{1b}[2J", true, 1, '\u{1b}'),
            ("a\rb", true, 2, '\r'),
            ("del\u{7f}", true, 4, '\u{7f}'),
            ("c1\u{9b}", true, 3, '\u{9b}'),
            ("evil\u{202e}txt", true, 5, '\u{202e}'),
            ("\u{2067}x", false, 1, '\u{2067}'),
            ("\u{200f}", false, 1, '\u{200f}'),
            ("\u{61c}", false, 1, '\u{61c}'),
        ] {
            let e = check_free_text(text, multi_line).expect_err(text);
            assert_eq!((e.position, e.character), (position, character), "{text:?}");
        }
        let e = check_free_text("x\u{202e}", true).expect_err("bidi");
        assert!(e.to_string().contains("U+202E, a bidirectional"), "{e}");
        let e = check_free_text("x\0", false).expect_err("nul");
        assert!(
            e.to_string()
                .starts_with("character 2 is U+0000, a control"),
            "{e}"
        );
    }
}
