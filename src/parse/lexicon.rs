//! The recogniser's vocabulary: every label, heading and header word of the format
//! (taken from [`crate::format`]), found in one pass over a whitespace-free view of
//! the text, so labels broken across lines or cells ("商业\n企业") still match.

use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

use crate::format::{
    PROACTIVE_ROWS, REQUEST_GROUP_KEYS, REQUEST_ROWS, REVIEW_HEADER_KEYS, SECTIONS,
};

/// What a key found in the text is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    /// A section heading key (index into [`SECTIONS`]).
    Section(usize),
    /// A table-三 row label (index into [`REQUEST_ROWS`]).
    RequestRow(usize),
    /// A table-三 group label (no numbers of its own).
    RequestGroup,
    /// A table-二 row label (index into [`PROACTIVE_ROWS`]).
    ProactiveRow(usize),
    /// A table-二 caption or column header (ends the previous row's values).
    ProactiveHeader,
    /// A table-四 header word.
    ReviewHeader,
    /// Table-三 column headers and the 勾稽 note (end a row's values).
    RequestHeader,
}

/// A key occurrence, in normalised-text byte offsets.
#[derive(Clone, Copy, Debug)]
pub struct Hit {
    pub key: Key,
    pub start: usize,
    pub end: usize,
    /// Start in the compact view (for looking at what precedes it).
    pub cstart: usize,
}

struct Lexicon {
    ac: AhoCorasick,
    keys: Vec<Key>,
}

/// Table-二 captions and column headers, with typos and truncations seen in
/// published reports (先行有效, 本公开数量).
const PROACTIVE_HEADERS: [&str; 21] = [
    "第二十条第(一)项",
    "第二十条第(五)项",
    "第二十条第(六)项",
    "第二十条第(八)项",
    "第二十条第(九)项",
    "信息内容",
    "本年制发件数",
    "本年废止件数",
    "现行有效件数",
    "先行有效件数",
    "本公开数量",
    "本年处理决定数量",
    "本年收费金额",
    "本年新制作数量",
    "本年新公开数量",
    "对外公开总数量",
    "上一年项目数量",
    "采购项目数量",
    "本年增/减",
    "采购总金额",
    "处理决定数量",
];

const REQUEST_HEADERS: [&str; 6] = [
    "申请人情况",
    "勾稽关系",
    "钩稽关系",
    "法人或其他组织",
    "社会公益组织",
    "法律服务机构",
];

fn lexicon() -> Option<&'static Lexicon> {
    static LEX: OnceLock<Option<Lexicon>> = OnceLock::new();
    LEX.get_or_init(|| {
        let mut pats: Vec<String> = Vec::new();
        let mut keys: Vec<Key> = Vec::new();
        let mut add = |p: &str, k: Key| {
            if !pats.iter().any(|q| q == p) {
                pats.push(p.to_string());
                keys.push(k);
            }
        };
        for (i, r) in REQUEST_ROWS.iter().enumerate() {
            for k in r.keys {
                add(k, Key::RequestRow(i));
            }
        }
        for k in REQUEST_GROUP_KEYS {
            add(k, Key::RequestGroup);
        }
        for (i, r) in PROACTIVE_ROWS.iter().enumerate() {
            for k in r.keys {
                add(k, Key::ProactiveRow(i));
            }
        }
        for k in PROACTIVE_HEADERS {
            add(k, Key::ProactiveHeader);
        }
        for k in REQUEST_HEADERS {
            add(k, Key::RequestHeader);
        }
        for k in REVIEW_HEADER_KEYS {
            add(k, Key::ReviewHeader);
        }
        for (i, s) in SECTIONS.iter().enumerate() {
            for k in s.keys {
                add(k, Key::Section(i));
            }
        }
        // Building from these fixed patterns does not fail; if it ever did, the
        // recogniser finds nothing and says so instead of panicking.
        let ac = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&pats)
            .ok()?;
        Some(Lexicon { ac, keys })
    })
    .as_ref()
}

/// The whitespace-free view of a text and its key hits.
#[derive(Debug, Default)]
pub struct Compact {
    pub text: String,
    /// Sorted `(compact offset, text offset)` pairs where characters were left
    /// out; between two anchors offsets advance together.
    anchors: Vec<(u32, u32)>,
    text_len: usize,
}

fn skipped(b: u8) -> bool {
    matches!(
        b,
        b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c' | b'|' | b'#' | b'*'
    )
}

impl Compact {
    pub fn new(text: &str) -> Compact {
        // Only ASCII bytes are left out (the text is normalised: other
        // whitespace became ' '), so slicing at them keeps char boundaries.
        let bytes = text.as_bytes();
        let mut out = String::with_capacity(text.len());
        let mut anchors = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            let start = i;
            while i < bytes.len() && !skipped(bytes[i]) {
                i += 1;
            }
            if i > start {
                if start > 0 {
                    anchors.push((out.len() as u32, start as u32));
                }
                out.push_str(&text[start..i]);
            }
            while i < bytes.len() && skipped(bytes[i]) {
                i += 1;
            }
        }
        Compact {
            text: out,
            anchors,
            text_len: text.len(),
        }
    }

    /// Normalised offset of a compact offset.
    pub fn to_text(&self, c: usize) -> usize {
        if c >= self.text.len() {
            return self.text_len;
        }
        let c32 = c as u32;
        let i = self.anchors.partition_point(|&(k, _)| k <= c32);
        let (k, t) = if i == 0 { (0, 0) } else { self.anchors[i - 1] };
        (t + (c32 - k)) as usize
    }

    /// Normalised end offset of a compact range ending (exclusive) at `c`.
    pub fn end_to_text(&self, text: &str, c: usize) -> usize {
        if c == 0 {
            return 0;
        }
        // Kept runs are copied byte for byte, so the byte after the range's last
        // byte is the end in the text too.
        (self.to_text(c - 1) + 1).min(text.len())
    }

    /// Every key occurrence, in order.
    pub fn hits(&self, text: &str) -> Vec<Hit> {
        let Some(lex) = lexicon() else {
            return Vec::new();
        };
        lex.ac
            .find_iter(&self.text)
            .filter_map(|m| {
                let key = *lex.keys.get(m.pattern().as_usize())?;
                Some(Hit {
                    key,
                    start: self.to_text(m.start()),
                    end: self.end_to_text(text, m.end()),
                    cstart: m.start(),
                })
            })
            .collect()
    }
}
