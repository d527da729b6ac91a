//! The depth guard: bounds html5ever's work before it sees the page.
//!
//! html5ever's tree builder is quadratic in the depth of the open-element stack and in
//! the number of attributes of one tag, so a linear pre-pass over the scanner's tokens
//! keeps an estimate of that stack and removes start tags nested deeper than
//! [`MAX_DEPTH`] (or beyond [`MAX_OPEN_FORMATTING`] open formatting elements) together
//! with their end tags, and strips the attributes of tags longer than [`MAX_TAG_BYTES`].
//! Text is never removed, and ordinary pages are parsed exactly as given ([`guard`]
//! returns `None`).

use std::hash::Hasher;

use super::scan::{Lexer, TokKind};

/// Start tags nested deeper than this (by a linear estimate of the open-element stack) are
/// dropped before parsing, with their end tags.
pub const MAX_DEPTH: usize = 256;
/// Open formatting elements (`b`, `font`, `a`…) beyond this many are dropped before parsing
/// (html5ever re-creates every open formatting element for each new block).
pub const MAX_OPEN_FORMATTING: usize = 12;
/// Tags longer than this keep their name but lose their attributes before parsing.
pub const MAX_TAG_BYTES: usize = 2048;

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

/// A hash of an ASCII-lowercased tag name (64-bit FNV-1a), for cheap comparisons; a
/// collision only makes the depth estimate slightly off.
fn name_key(name: &[u8]) -> u64 {
    let mut hasher = fnv::FnvHasher::default();
    for &c in name {
        hasher.write(&[c.to_ascii_lowercase()]);
    }
    hasher.finish()
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
pub(super) fn guard(doc: &str) -> Option<String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::html::extract;
    use crate::parse::html::testing::{assert_anchors_sane, corpus};

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
        // Each returns with sane anchors; how long it takes is the benchmarks' business
        // (a test never decides on the clock), and a blow-up shows as a hang here.
        for (what, src) in cases {
            let ex = extract(&src);
            assert_anchors_sane(&ex, &src);
            assert!(ex.text.len() <= src.len() * 2, "{what}: text out of bounds");
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

    #[test]
    fn name_key_is_fnv_1a_of_the_lowercased_name() {
        // The 64-bit FNV-1a values the hand-written hash gave (offset basis for "").
        assert_eq!(name_key(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(name_key(b"div"), 0xcaa8_3a18_f46e_5888);
        assert_eq!(name_key(b"DiV"), name_key(b"div"));
        assert_eq!(name_key(b"FONT"), 0xdd0e_f679_0c22_b410);
    }
}
