//! Text helpers the facts and the rules share: a section's text, digits (ASCII
//! and full-width), cutting at character boundaries, and keyword matching
//! (automata over keyword families, and which families occur in some texts).

use aho_corasick::{AhoCorasick, MatchKind};

use crate::pb::SectionText;

/// The text of a section, empty when the section is absent.
pub(crate) fn section_text(s: &Option<SectionText>) -> &str {
    s.as_ref().map_or("", |s| s.text.as_str())
}

/// The value of an ASCII or full-width decimal digit.
pub(crate) fn digit(c: char) -> Option<u32> {
    match c {
        '0'..='9' => Some(c as u32 - '0' as u32),
        '０'..='９' => Some(c as u32 - '０' as u32),
        _ => None,
    }
}

/// At most `max` bytes of `s`, cut at a character boundary.
pub(crate) fn prefix(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The last at most `max` bytes of `s`, cut at a character boundary.
pub(crate) fn suffix(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// A keyword automaton (built once per use site). Building from fixed patterns
/// does not fail; if it ever did, the rule reports itself incomplete.
fn automaton(pats: &[&str]) -> Option<AhoCorasick> {
    AhoCorasick::builder()
        .match_kind(MatchKind::Standard)
        .build(pats)
        .ok()
}

/// Flattens keyword families into (patterns, group of each pattern).
fn families(fams: &[&[&'static str]]) -> (Vec<&'static str>, Vec<u8>) {
    let mut pats = Vec::new();
    let mut groups = Vec::new();
    for (g, fam) in fams.iter().enumerate() {
        for p in *fam {
            pats.push(*p);
            groups.push(g as u8);
        }
    }
    (pats, groups)
}

/// One automaton over several keyword families, and the family of each pattern.
pub(crate) struct Families {
    pub ac: AhoCorasick,
    pub groups: Vec<u8>,
}

impl Families {
    /// The automaton over the families; `None` if it cannot be built.
    pub(crate) fn build(fams: &[&[&'static str]]) -> Option<Families> {
        let (pats, groups) = families(fams);
        Some(Families {
            ac: automaton(&pats)?,
            groups,
        })
    }
}

/// Which keyword families occur in the texts: bit g is set when a keyword of
/// family g does. Each family stops at its first hit (a SIMD substring search
/// per keyword), so a topic that is covered costs little.
pub(crate) fn families_found(fams: &[&[&str]], texts: &[&str]) -> u32 {
    let mut found = 0u32;
    for (g, fam) in fams.iter().enumerate() {
        if fam.iter().any(|k| texts.iter().any(|t| t.contains(k))) {
            found |= 1 << g;
        }
    }
    found
}
