//! Terminal text helpers shared by the renderers: ANSI colour (only when asked
//! for), and display widths so that tables with Chinese labels line up.
//!
//! Widths are Unicode's East Asian Width (the `unicode-width` crate): wide and
//! fullwidth characters count two columns, combining marks none. Padding is always
//! computed on plain text, before any colour is added.

use unicode_width::UnicodeWidthChar;

/// Colour on or off for one output stream.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    color: bool,
}

/// The colours the renderers use.
#[derive(Clone, Copy, Debug)]
pub enum Paint {
    Bold,
    Dim,
    Error,
    Warning,
    Info,
    Gutter,
}

impl Style {
    pub fn new(color: bool) -> Style {
        Style { color }
    }

    /// `s` wrapped in the ANSI codes of `paint` when colour is on.
    pub fn paint(&self, paint: Paint, s: &str) -> String {
        if !self.color || s.is_empty() {
            return s.to_string();
        }
        let code = match paint {
            Paint::Bold => "1",
            Paint::Dim => "2",
            Paint::Error => "1;31",
            Paint::Warning => "1;33",
            Paint::Info => "1;36",
            Paint::Gutter => "1;34",
        };
        format!("\x1b[{code}m{s}\x1b[0m")
    }
}

/// Columns a character takes in a terminal (Unicode's East Asian Width: wide and
/// fullwidth characters two, combining marks and control characters none).
pub fn char_width(c: char) -> usize {
    UnicodeWidthChar::width(c).unwrap_or(0)
}

/// Columns a string takes in a terminal.
pub fn width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

/// `s` cut to at most `max` columns, ending in `…` when cut.
pub fn truncate(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    let mut out = String::new();
    let mut w = 0;
    for c in s.chars() {
        let cw = char_width(c);
        if w + cw + 1 > max {
            break;
        }
        out.push(c);
        w += cw;
    }
    out.push('…');
    out
}

/// Spaces that pad text of `used` columns to `to` columns.
pub fn pad(used: usize, to: usize) -> String {
    " ".repeat(to.saturating_sub(used))
}

/// `s` followed by spaces up to `to` columns.
pub fn pad_right(s: &str, to: usize) -> String {
    format!("{s}{}", pad(width(s), to))
}

/// Spaces up to `to` columns, then `s`.
pub fn pad_left(s: &str, to: usize) -> String {
    format!("{}{s}", pad(width(s), to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_counts_two_columns() {
        assert_eq!(width("自然人"), 6);
        assert_eq!(width("(一)予以公开"), 1 + 2 + 1 + 8);
        assert_eq!(width("〔2021〕"), 2 + 4 + 2);
        assert_eq!(width("·—…"), 3);
        assert_eq!(
            width("a\u{301}\u{200b}\t"),
            1,
            "combining, zero-width, control"
        );
    }

    #[test]
    fn truncate_fits_the_budget() {
        assert_eq!(truncate("规章", 10), "规章");
        let t = truncate("部分公开(区分处理的,只计这一情形)", 12);
        assert!(width(&t) <= 12, "{t}");
        assert!(t.ends_with('…'));
    }

    #[test]
    fn padding_uses_display_width() {
        assert_eq!(pad_right("总计", 6), "总计  ");
        assert_eq!(pad_left("12", 4), "  12");
        assert_eq!(pad_left("自然人", 4), "自然人");
    }

    #[test]
    fn paint_only_when_colour_is_on() {
        assert_eq!(Style::new(false).paint(Paint::Error, "x"), "x");
        assert_eq!(
            Style::new(true).paint(Paint::Error, "x"),
            "\x1b[1;31mx\x1b[0m"
        );
    }
}
