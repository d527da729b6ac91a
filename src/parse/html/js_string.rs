//! Pages whose markup sits inside a JavaScript string (`let content = "<p style=\"…\">…<\/p>";`):
//! detecting them and unescaping their string literals into the markup to parse, with a
//! map from offsets in that markup back to offsets in the source.
//!
//! Only this step knows about JavaScript; the scanner, the guard and html5ever then read
//! the unescaped markup like any page, and [`Unescaped::source_offset`] carries the
//! anchors found in it back to the published bytes.

use std::borrow::Cow;

/// The markup to parse: the source itself, or the unescaped HTML of its JavaScript string
/// literals, with a map from markup offsets to source offsets.
pub(super) struct Unescaped<'a> {
    pub(super) text: Cow<'a, str>,
    /// Sorted `(markup_offset, source_offset)` segment starts; within a segment the two
    /// advance together.
    map: Vec<(usize, usize)>,
}

/// The markup of `source`: unescaped from its JavaScript string literals when the
/// source is HTML inside such literals, else the source as it is.
pub(super) fn unescape_js_strings(source: &str) -> Unescaped<'_> {
    if looks_js_escaped(source) {
        if let Some((text, map)) = unescape_literals(source) {
            return Unescaped {
                text: Cow::Owned(text),
                map,
            };
        }
    }
    Unescaped {
        text: Cow::Borrowed(source),
        map: vec![(0, 0)],
    }
}

impl Unescaped<'_> {
    /// Whether markup offsets differ from source offsets (something was unescaped).
    pub(super) fn moves_offsets(&self) -> bool {
        self.map.len() > 1 || self.map.first().is_some_and(|&m| m != (0, 0))
    }

    /// The source offset of a markup offset.
    pub(super) fn source_offset(&self, doc_off: usize) -> usize {
        let map = &self.map;
        let idx = map.partition_point(|&(d, _)| d <= doc_off);
        match idx.checked_sub(1).and_then(|i| map.get(i)) {
            Some(&(d, s)) => s + (doc_off - d),
            None => doc_off,
        }
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

#[cfg(test)]
mod tests {
    use crate::parse::html::extract;
    use crate::parse::html::testing::{assert_anchors_sane, assert_line, corpus, lines};

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
}
