//! Terminal text helpers shared by the renderers: ANSI colour (only when asked
//! for), and display widths so that tables with Chinese labels line up.
//!
//! Widths are an approximation of East Asian Width (wide and fullwidth ranges count
//! two columns, combining marks none); good enough for report text, and dependency
//! free. Padding is always computed on plain text, before any colour is added.

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

/// Columns a character takes in a terminal.
pub fn char_width(c: char) -> usize {
    let u = c as u32;
    if c.is_control() || matches!(u, 0x0300..=0x036F | 0x200B..=0x200F | 0xFE00..=0xFE0F) {
        return 0;
    }
    let wide = matches!(
        u,
        0x1100..=0x115F
            | 0x2E80..=0x303E
            | 0x3041..=0x33FF
            | 0x3400..=0x4DBF
            | 0x4E00..=0x9FFF
            | 0xA000..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFE30..=0xFE4F
            | 0xFF00..=0xFF60
            | 0xFFE0..=0xFFE6
            | 0x1F300..=0x1F64F
            | 0x1F900..=0x1F9FF
            | 0x20000..=0x3FFFD
    );
    if wide {
        2
    } else {
        1
    }
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
