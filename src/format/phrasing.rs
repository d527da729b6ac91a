//! The narrative's phrasing: what the prose of a report states (counts and amounts),
//! read from the wording of its sentences.
//!
//! The parser uses [`prose_evidence`] to decide glued table-二 rows; the narrative
//! rules (N1–N5) use every reader here to compare the prose with the tables. All
//! readers are pure functions over `&str`. They read the parser's normalised text
//! (NFKC: ASCII punctuation and digits) as well as un-normalised text (full-width
//! punctuation and digits) and PDF text with line breaks inside sentences.
//!
//! Each reader makes one pass over a text for a rare anchor (`件`, a negation,
//! `事业性收费`) with an automaton built once, and then looks only at the clause
//! around each hit: beyond that pass the work is proportional to the statements.

use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, MatchKind};

use super::{ProactiveRowSpec, PROACTIVE_ROWS};

/// A leftmost-longest automaton over `patterns`; `None` only if it cannot be
/// built (it always can for these few short words).
fn automaton(patterns: &[&str]) -> Option<AhoCorasick> {
    AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .build(patterns)
        .ok()
}

/// The automaton over the concatenated word lists, built once per call site.
macro_rules! automaton {
    ($($patterns:expr),+ $(,)?) => {{
        static AC: OnceLock<Option<AhoCorasick>> = OnceLock::new();
        AC.get_or_init(|| {
            let mut all: Vec<&str> = Vec::new();
            $(all.extend_from_slice(&$patterns);)+
            automaton(&all)
        })
        .as_ref()
    }};
}

// ------------------------------------------------------------------ text helpers

/// The number written directly before byte `end` (whitespace allowed between):
/// its start and value. Not a decimal ("1.5件"), an ordinal ("第3件"), an
/// approximation ("约10件", "近10件") or a run longer than 9 digits.
fn count_before(text: &str, end: usize) -> Option<(usize, i64)> {
    let head = text[..end].trim_end();
    let mut start = head.len();
    let mut digits = 0;
    for (i, c) in head.char_indices().rev() {
        if digit(c).is_none() {
            break;
        }
        start = i;
        digits += 1;
    }
    if digits == 0 || digits > 9 {
        return None;
    }
    let prev = head[..start].chars().next_back();
    if prev.is_some_and(|c| matches!(c, '.' | '．' | '第' | '约' | '近' | '超' | '逾' | '-' | '—'))
    {
        return None;
    }
    let value = head[start..]
        .chars()
        .filter_map(digit)
        .fold(0i64, |v, d| v * 10 + i64::from(d));
    Some((start, value))
}

/// An ASCII or full-width digit's value.
fn digit(c: char) -> Option<u32> {
    match c {
        '0'..='9' => c.to_digit(10),
        '０'..='９' => Some(c as u32 - '０' as u32),
        _ => None,
    }
}

/// The clause (or sentence) around `from..to`: to the nearest separators, at
/// most `cap` bytes further on each side. Byte offsets.
fn bounds(
    text: &str,
    from: usize,
    to: usize,
    sep: impl Fn(char) -> bool,
    cap: usize,
) -> (usize, usize) {
    let b = text.as_bytes();
    // Every separator is ASCII or a CJK punctuation mark (lead byte E3 or EF):
    // other characters need no decoding.
    let may_sep = |lead: u8| lead < 0x80 || lead == 0xE3 || lead == 0xEF;
    let is_sep = |i: usize, j: usize| may_sep(b[i]) && text[i..j].chars().next().is_some_and(&sep);
    let lo = from.saturating_sub(cap);
    let mut start = from;
    while start > 0 {
        let mut j = start - 1;
        while j > 0 && (b[j] & 0xC0) == 0x80 {
            j -= 1;
        }
        if j < lo || is_sep(j, start) {
            break;
        }
        start = j;
    }
    let hi = to.saturating_add(cap);
    let mut end = to;
    while end < b.len() && end <= hi {
        let len = match b[end] {
            0..=0x7F => 1,
            0x80..=0xDF => 2,
            0xE0..=0xEF => 3,
            _ => 4,
        };
        let next = (end + len).min(b.len());
        if is_sep(end, next) {
            break;
        }
        end = next;
    }
    (start, end)
}

/// The longest word of `words` that `s` starts with.
fn longest_prefix<'w>(s: &str, words: &[&'w str]) -> Option<&'w str> {
    words
        .iter()
        .filter(|w| s.starts_with(**w))
        .max_by_key(|w| w.len())
        .copied()
}

/// How far (bytes) a clause and a sentence reach from their anchor at most.
const CLAUSE_CAP: usize = 240;
const SENTENCE_CAP: usize = 450;

// ------------------------------------------------------------------ table 二 （一）

/// Column keywords of the narrative: a clause naming a table-二 document row and
/// one of these (and no other) states that column's value ("现行有效行政规范性文件698件").
pub const PROSE_COLUMNS: [(&str, &[&str]); 6] = [
    ("in_force", &["现行有效"]),
    ("issued", &["制发", "印发", "出台", "新制定"]),
    ("repealed", &["废止"]),
    ("newly_made", &["新制作"]),
    ("newly_published", &["新公开"]),
    ("total_published", &["对外公开总", "累计公开"]),
];

/// Clause separators of [`document_counts`].
fn is_document_sep(c: char) -> bool {
    matches!(c, '。' | ',' | ';' | '；' | '，' | '\n')
}

/// A value the narrative states for a table-二 document row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentCount {
    /// Column id (one of [`PROSE_COLUMNS`]; not necessarily a column of the
    /// report's version: "制发" is `issued` in both).
    pub column: &'static str,
    pub value: i64,
    /// Byte range of the clause that states it.
    pub clause: (usize, usize),
}

/// Values the narrative states for a table-二 document row (规章, 行政规范性文件):
/// per clause (split at `。 , ; ； ， \n`) that names the row and exactly one column
/// keyword, the first "N件" after the row's label. One value per column, the
/// first stated. Other rows state nothing.
pub fn document_counts(prose: &str, row: &ProactiveRowSpec) -> Vec<DocumentCount> {
    let mut found = Vec::new();
    if matches!(row.id, "regulations" | "normative_documents") {
        for clause in counted_clauses(prose) {
            document_count_in(prose, clause, row, &mut found);
        }
    }
    found
}

/// [`document_counts`] of both document rows of the catalogue (规章, 行政规范性文件).
pub fn document_counts_by_row(prose: &str) -> [Vec<DocumentCount>; 2] {
    statements(prose).documents
}

/// Values the narrative states for a table-二 document row: `(column id, value)`
/// (see [`document_counts`]).
pub fn prose_evidence(prose: &str, row: &ProactiveRowSpec) -> Vec<(&'static str, i64)> {
    document_counts(prose, row)
        .into_iter()
        .map(|d| (d.column, d.value))
        .collect()
}

/// The clauses (split at `。 , ; ； ， \n`) with an ASCII digit right before a 件,
/// in text order, each once: only they can state a document count.
fn counted_clauses(prose: &str) -> Vec<(usize, usize)> {
    let mut clauses: Vec<(usize, usize)> = Vec::new();
    let Some(units) = automaton!(["件"]) else {
        return clauses;
    };
    for m in units.find_iter(prose) {
        let p = m.start();
        if clauses.last().is_some_and(|&(_, e)| p < e) {
            continue;
        }
        if !prose.as_bytes()[..p].last().is_some_and(u8::is_ascii_digit) {
            continue;
        }
        clauses.push(bounds(prose, p, p, is_document_sep, usize::MAX));
    }
    clauses
}

/// The count one clause states for a row, added to `found` unless its column
/// is already there.
fn document_count_in(
    prose: &str,
    (s, e): (usize, usize),
    row: &ProactiveRowSpec,
    found: &mut Vec<DocumentCount>,
) {
    let clause = &prose[s..e];
    let Some(at) = row.keys.iter().find_map(|k| clause.find(k)) else {
        return;
    };
    if row.id == "regulations" && clause.contains("规范性文件") {
        return;
    }
    // The first "N件" after the label.
    let after = &clause[at..];
    let digits = after
        .match_indices('件')
        .map(|(i, _)| {
            let head = &after[..i];
            let run = head.bytes().rev().take_while(u8::is_ascii_digit).count();
            &head[head.len() - run..]
        })
        .find(|d| !d.is_empty())
        .unwrap_or_default();
    let Ok(value) = digits.parse::<i64>() else {
        return;
    };
    let mut col = None;
    let mut cols = 0;
    for (c, kws) in PROSE_COLUMNS {
        if kws.iter().any(|k| clause.contains(k)) {
            col = Some(c);
            cols += 1;
        }
    }
    let (Some(col), 1) = (col, cols) else {
        return;
    };
    if !found.iter().any(|f| f.column == col) {
        found.push(DocumentCount {
            column: col,
            value,
            clause: (s, e),
        });
    }
}

// ------------------------------------------------------------------ one pass

/// The administrative fee's name in the prose (行政事业性收费).
const FEE_NAME: &str = "事业性收费";

/// Everything the readers of this module find in one text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Statements {
    /// [`request_counts`].
    pub requests: Vec<RequestStatement>,
    /// [`denials`].
    pub denials: Vec<Denial>,
    /// [`document_counts`] of 规章 and 行政规范性文件 ([`PROACTIVE_ROWS`] 0 and 1).
    pub documents: [Vec<DocumentCount>; 2],
    /// [`administrative_fee_amounts`].
    pub fees: Vec<FeeAmount>,
}

/// Reads a text once: one automaton finds every anchor of every reader (`件`,
/// the negations, 事业性收费) in a single pass; each hit is handed to its reader,
/// which looks only at the clause around it. None of the anchors can overlap
/// another, so the pass finds what separate passes would.
pub fn statements(text: &str) -> Statements {
    let mut st = Statements::default();
    static ANCHORS: OnceLock<Option<AhoCorasick>> = OnceLock::new();
    let anchors = ANCHORS.get_or_init(|| {
        // Each negation once (the two lists share some): fewer patterns, a faster
        // prefilter. A negation hit is read against both lists by its text.
        let mut all = vec!["件", FEE_NAME];
        for n in NO_REQUEST_NEGATIONS.iter().chain(&NO_REVIEW_NEGATIONS) {
            if !all.contains(n) {
                all.push(n);
            }
        }
        automaton(&all)
    });
    let Some(anchors) = anchors.as_ref() else {
        return st;
    };
    let rows = automaton!(PROACTIVE_ROWS[0].keys, PROACTIVE_ROWS[1].keys);
    let (mut counted_end, mut fee_done) = (0, 0);
    for m in anchors.find_iter(text) {
        let p = m.start();
        match m.pattern().as_usize() {
            0 => {
                request_at(text, p, &mut st.requests);
                // A counted clause (an ASCII digit right before 件), each once.
                if p >= counted_end && text.as_bytes()[..p].last().is_some_and(u8::is_ascii_digit) {
                    let clause = bounds(text, p, p, is_document_sep, usize::MAX);
                    counted_end = clause.1;
                    // Most counted clauses name neither row: one search tells.
                    if rows.is_none_or(|k| k.is_match(&text[clause.0..clause.1])) {
                        for (row, found) in PROACTIVE_ROWS.iter().zip(st.documents.iter_mut()) {
                            document_count_in(text, clause, row, found);
                        }
                    }
                }
            }
            1 => fee_at(text, p, &mut fee_done, &mut st.fees),
            _ => denial_at(text, p, m.end(), &mut st.denials),
        }
    }
    st
}

// ------------------------------------------------------------------ table 三 totals

/// Which table-三 total a stated request count is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RequestCount {
    /// 收到/新收/受理/接到 N件 — `new_received`.
    Received,
    /// 办结/答复/办理/回复/处理 N件 — `results_total`.
    Handled,
    /// 上年结转 N件 — `carried_over`.
    CarriedOver,
    /// N件结转下一年度 / 结转下年度 N件 — `carried_forward`.
    CarriedForward,
}

/// A request count the narrative states.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestStatement {
    pub kind: RequestCount,
    pub value: i64,
    /// Byte range of the clause that states it.
    pub clause: (usize, usize),
}

/// Verbs of a received count.
pub const RECEIVED_VERBS: [&str; 6] = ["收到", "新收", "受理", "接到", "接收", "收悉"];
/// Verbs of a handled count.
pub const HANDLED_VERBS: [&str; 7] = ["办结", "答复", "办理", "回复", "处理", "办复", "完成"];
/// A clause with one of these states last year's carry-over.
#[rustfmt::skip]
pub const CARRIED_OVER_KEYS: [&str; 8] = [
    "上年结转", "上年度结转", "上一年度结转", "上一年结转", "上年转入", "上年度转入",
    "上一年度转入", "往年结转",
];
/// A clause with one of these states the carry-forward to next year (the number
/// before or after: "10件结转下一年度办理", "结转下一年31件").
#[rustfmt::skip]
pub const CARRIED_FORWARD_KEYS: [&str; 11] = [
    "结转下", "结转至下", "结转到下", "转入下", "转下一", "转下年", "转至下", "顺延到下",
    "顺延至下", "延至下", "留待下",
];
/// Words that, before the number, make it a part of the total (an applicant
/// type, a channel, an outcome, a change) rather than the total.
#[rustfmt::skip]
pub const REQUEST_QUALIFIERS: [&str; 35] = [
    "其中", "自然人", "法人", "商业企业", "科研机构", "社会公益组织", "法律服务机构",
    "其他组织", "予以公开", "同意公开", "部分公开", "不予公开", "无法提供", "不予处理",
    "其他处理", "不予受理", "告知", "网上", "网络", "在线", "当面", "信函", "邮寄", "传真",
    "邮件", "现场", "逾期", "超期", "同比", "较上年", "较去年", "比上年", "比去年", "增加",
    "减少",
];
/// Clauses with one of these count something other than disclosure requests.
#[rustfmt::skip]
pub const REQUEST_EXCLUDED: [&str; 14] = [
    "诉求", "投诉", "咨询", "留言", "来信", "建议", "提案", "案件", "复议", "诉讼", "热线",
    "工单", "信访", "举报",
];

/// Clause separators of the request reader. Not `\n`: PDF text breaks lines
/// inside sentences.
#[rustfmt::skip]
fn is_clause_sep(c: char) -> bool {
    matches!(c, '。' | ',' | '，' | ';' | '；' | ':' | '：' | '(' | ')' | '（' | '）' | '、'
        | '!' | '?' | '！' | '？')
}

fn is_sentence_sep(c: char) -> bool {
    matches!(c, '。' | '!' | '?' | '！' | '？')
}

/// Request counts the narrative states ("共收到依申请公开110件", "按时办结100件",
/// "剩余10件结转下一年度办理", "上年结转政府信息公开申请2件").
///
/// A count is a number directly before `件` (information items counted in `条`
/// are not requests) in a sentence that mentions 申请, in a clause (split at
/// `。 , ; : ( ) 、` and their full-width forms) that
/// - names last year's carry-over ([`CARRIED_OVER_KEYS`]): `CarriedOver`; else
/// - names the carry-forward ([`CARRIED_FORWARD_KEYS`]): `CarriedForward`; else
/// - has a received or handled verb before the number: the nearest decides,
///
/// with none of [`REQUEST_QUALIFIERS`] before the number (a part, not the total)
/// and none of [`REQUEST_EXCLUDED`] in it (complaints, cases, reviews…).
pub fn request_counts(text: &str) -> Vec<RequestStatement> {
    statements(text).requests
}

/// The request statement whose `件` is at byte `p`, if any (see [`request_counts`]).
fn request_at(text: &str, p: usize, out: &mut Vec<RequestStatement>) {
    let Some(words) = automaton!(
        RECEIVED_VERBS,
        HANDLED_VERBS,
        CARRIED_OVER_KEYS,
        CARRIED_FORWARD_KEYS,
        REQUEST_QUALIFIERS,
        REQUEST_EXCLUDED,
    ) else {
        return;
    };
    // Pattern index ranges of `words`, in the order given.
    let received = RECEIVED_VERBS.len();
    let handled = received + HANDLED_VERBS.len();
    let over = handled + CARRIED_OVER_KEYS.len();
    let forward = over + CARRIED_FORWARD_KEYS.len();
    let qualifier = forward + REQUEST_QUALIFIERS.len();
    let Some((num_start, value)) = count_before(text, p) else {
        return;
    };
    let (cs, ce) = bounds(text, num_start, p, is_clause_sep, CLAUSE_CAP);
    let prefix_len = num_start - cs;
    let (mut co, mut cf, mut skip) = (false, false, false);
    let (mut last_received, mut last_handled) = (None, None);
    for w in words.find_iter(&text[cs..ce]) {
        let i = w.pattern().as_usize();
        let in_prefix = w.end() <= prefix_len;
        if i < received {
            if in_prefix {
                last_received = Some(w.end());
            }
        } else if i < handled {
            if in_prefix {
                last_handled = Some(w.end());
            }
        } else if i < over {
            co = true;
        } else if i < forward {
            cf = true;
        } else if i < qualifier {
            skip |= in_prefix;
        } else {
            skip = true;
        }
    }
    if skip {
        return;
    }
    let kind = if co {
        RequestCount::CarriedOver
    } else if cf {
        RequestCount::CarriedForward
    } else {
        match (last_received, last_handled) {
            (Some(r), Some(h)) if r > h => RequestCount::Received,
            (Some(_), None) => RequestCount::Received,
            (_, Some(_)) => RequestCount::Handled,
            (None, None) => return,
        }
    };
    let (ss, se) = bounds(text, num_start, p, is_sentence_sep, SENTENCE_CAP);
    if !text[ss..se].contains("申请") {
        return;
    }
    out.push(RequestStatement {
        kind,
        value,
        clause: (cs, ce),
    });
}

// ------------------------------------------------------------------ "none" statements

/// What a "none" statement denies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Denied {
    /// "未收到政府信息公开申请": `new_received` is 0.
    Requests,
    /// "未发生行政复议": table 四 `review` total is 0.
    Review,
    /// "未发生行政诉讼": both litigation groups' totals are 0.
    Litigation,
}

/// A "none" statement of the narrative.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denial {
    pub denied: Denied,
    /// Byte range of the clause that states it.
    pub clause: (usize, usize),
}

/// Negations before 申请 ("未收到…申请", "暂未接到…申请").
#[rustfmt::skip]
pub const NO_REQUEST_NEGATIONS: [&str; 17] = [
    "未收到", "没有收到", "暂未收到", "未曾收到", "尚未收到", "未接到", "没有接到", "暂未接到",
    "未接收到", "没有接收到", "未受理", "没有受理", "暂未受理", "未收", "暂无", "无", "没有",
];
/// Negations before 复议 / 诉讼 ("未发生行政复议、行政诉讼", "未被申请行政复议").
#[rustfmt::skip]
pub const NO_REVIEW_NEGATIONS: [&str; 14] = [
    "未发生", "没有发生", "未出现", "没有出现", "未有", "没有", "无", "未被", "未收到", "未接到",
    "未涉及", "不存在", "暂无", "零",
];
/// Negations that must be followed directly by what they deny (无正当理由…).
const SHORT_NEGATIONS: [&str; 6] = ["无", "没有", "暂无", "未收", "零", "未有"];
/// What may directly follow a short negation before requests.
const SHORT_REQUEST_NEXT: [&str; 4] = ["依", "政府信息公开", "信息公开", "申请"];
/// What may directly follow a short negation before review or litigation.
const SHORT_REVIEW_NEXT: [&str; 7] = ["因", "行政", "政府信息公开", "发生", "被", "复议", "诉讼"];
/// What a request denial names: the requests.
const REQUEST_TARGETS: [&str; 3] = ["申请", "依申请公开", "依申请"];
/// What a review denial names.
const REVIEW_TARGETS: [&str; 4] = ["行政复议", "行政诉讼", "复议", "诉讼"];
/// Words allowed between a negation and the requests: who applied, about what.
/// Anything else ("未收到涉及商业秘密的申请") makes the statement about a part.
#[rustfmt::skip]
const REQUEST_FILLER: [&str; 44] = [
    "政府信息公开", "依申请公开", "信息公开", "政府信息", "依申请", "依", "公开", "信息", "任何",
    "有关", "相关", "群众", "公民", "法人", "其他组织", "组织", "社会公众", "公众", "个人",
    "申请人", "提出的", "提交的", "提出", "提交", "的", "对", "关于", "和", "或者", "或", "及",
    "、", "本机关", "本单位", "我局", "我办", "我委", "我县", "我区", "我镇", "我街道", "书面",
    "过", "到",
];
/// Words allowed after the requests, to the end of the clause.
#[rustfmt::skip]
const REQUEST_TAIL: [&str; 11] = [
    "公开", "信息", "工作", "事项", "情况", "的情况", "件", "等", "也", "均", "、",
];
/// Words allowed between a negation and 复议/诉讼, and after them.
#[rustfmt::skip]
const REVIEW_FILLER: [&str; 39] = [
    "收到", "接到", "政府信息公开", "信息公开", "依申请公开", "因", "申请", "工作", "行政",
    "引起的", "引起", "引发的", "引发", "产生的", "导致的", "而", "被", "提起", "相关", "有关",
    "的", "或者", "或", "和", "及", "与", "、", "任何", "发生", "行政复议", "行政诉讼", "复议",
    "诉讼", "案件", "情况", "事项", "等", "也", "均",
];

/// Clause separators of the denial reader: not `、` ("未发生行政复议、行政诉讼").
#[rustfmt::skip]
fn is_denial_sep(c: char) -> bool {
    matches!(c, '。' | ',' | '，' | ';' | '；' | ':' | '：' | '(' | ')' | '（' | '）' | '!' | '?'
        | '！' | '？')
}

/// Skips whitespace from `pos`, line breaks too (PDF text).
fn skip_space(s: &str, mut pos: usize) -> usize {
    while let Some(c) = s[pos..].chars().next() {
        if !c.is_whitespace() {
            break;
        }
        pos += c.len_utf8();
    }
    pos
}

/// From `pos`, only `filler` words to the end of the clause (a separator, a
/// line break or the end of the text): that end.
fn filler_to_clause_end(s: &str, mut pos: usize, filler: &[&str]) -> Option<usize> {
    loop {
        if s[pos..]
            .trim_start_matches([' ', '\t', '\u{3000}'])
            .starts_with(['\n', '\r'])
        {
            return Some(pos);
        }
        pos = skip_space(s, pos);
        match s[pos..].chars().next() {
            None => return Some(pos),
            Some(c) if is_denial_sep(c) => return Some(pos),
            _ => {}
        }
        pos += longest_prefix(&s[pos..], filler)?.len();
    }
}

/// After a negation (`s` is the text following it): only `filler` words, then
/// one of `targets`, then only `tail` words to the end of the clause. The byte
/// offsets (in `s`) of the target and of the clause end.
fn denied_target(
    s: &str,
    filler: &[&str],
    targets: &[&str],
    tail: &[&str],
) -> Option<(usize, usize)> {
    let mut pos = 0;
    loop {
        pos = skip_space(s, pos);
        let rest = &s[pos..];
        match rest.chars().next() {
            None => return None,
            Some(c) if is_denial_sep(c) => return None,
            _ => {}
        }
        if let Some(t) = longest_prefix(rest, targets) {
            if let Some(end) = filler_to_clause_end(s, pos + t.len(), tail) {
                return Some((pos, end));
            }
        }
        pos += longest_prefix(rest, filler)?.len();
    }
}

/// "None" statements: "未收到政府信息公开申请" (and 暂未接到/没有收到/无…申请),
/// "未发生行政复议、行政诉讼" (and 未被申请行政复议/没有…诉讼…). A negation
/// ([`NO_REQUEST_NEGATIONS`], [`NO_REVIEW_NEGATIONS`]) counts only when filler
/// words (who applied, about what, "因…引起的") lead from it to what it denies
/// and nothing but such words follows to the end of the clause; a bare 无/没有/
/// 暂无 must be followed directly by it. So "未收到涉及商业秘密的申请",
/// "无正当理由大量反复申请" and "该行政复议件未被复议审查机关纠错" deny nothing.
pub fn denials(text: &str) -> Vec<Denial> {
    statements(text).denials
}

/// The denials of the negation matched at `start..end` (see [`denials`]).
fn denial_at(text: &str, start: usize, end: usize, out: &mut Vec<Denial>) {
    let word = &text[start..end];
    for (requests, list, filler, targets, tail, next) in [
        (
            true,
            &NO_REQUEST_NEGATIONS[..],
            &REQUEST_FILLER[..],
            &REQUEST_TARGETS[..],
            &REQUEST_TAIL[..],
            &SHORT_REQUEST_NEXT[..],
        ),
        (
            false,
            &NO_REVIEW_NEGATIONS[..],
            &REVIEW_FILLER[..],
            &REVIEW_TARGETS[..],
            &REVIEW_FILLER[..],
            &SHORT_REVIEW_NEXT[..],
        ),
    ] {
        // The automaton reports the longest negation of both lists: take
        // the longest of this list that it starts with.
        let Some(neg) = longest_prefix(word, list) else {
            continue;
        };
        let after = start + neg.len();
        let rest = &text[after..];
        if SHORT_NEGATIONS.contains(&neg) && longest_prefix(rest, next).is_none() {
            continue;
        }
        let Some((t, end)) = denied_target(rest, filler, targets, tail) else {
            continue;
        };
        let (cs, _) = bounds(text, start, start, is_denial_sep, CLAUSE_CAP);
        let clause = (cs, after + end);
        let named = &rest[t..end];
        let denied: &[Denied] = if requests {
            &[Denied::Requests]
        } else {
            match (named.contains("复议"), named.contains("诉讼")) {
                (true, true) => &[Denied::Review, Denied::Litigation],
                (true, false) => &[Denied::Review],
                (false, true) => &[Denied::Litigation],
                (false, false) => &[],
            }
        };
        for &d in denied {
            if !out.iter().any(|x| x.denied == d && x.clause == clause) {
                out.push(Denial { denied: d, clause });
            }
        }
    }
}

// ------------------------------------------------------------------ fees

/// Words of section 六 that speak of fee notices or processing fees (N4).
pub const FEE_NOTICE_KEYS: [&str; 6] = [
    "收费通知",
    "缴费通知",
    "信息处理费",
    "处理费",
    "缴纳费用",
    "缴费",
];

/// Whether a text speaks of fee notices or processing fees ([`FEE_NOTICE_KEYS`]).
pub fn mentions_fee_notice(text: &str) -> bool {
    FEE_NOTICE_KEYS.iter().any(|k| text.contains(k))
}

/// An administrative-fee amount the narrative states.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeeAmount {
    /// The amount in fen (0.01 yuan).
    pub fen: i64,
    /// Byte range of the amount as written ("9116.36万元"); empty, at the
    /// fee's name, for a "none" statement ("未收取行政事业性收费").
    pub amount: (usize, usize),
    /// Byte range of the clause that states it.
    pub clause: (usize, usize),
}

/// A clause with one of these is not about the fees collected this year: the
/// processing fee, waivers and refunds, fee items and standards, other revenue.
#[rustfmt::skip]
const FEE_EXCLUDED: [&str; 19] = [
    "处理费", "免", "减", "降", "停征", "退", "清理", "取消", "罚没", "罚款", "税", "基金",
    "预算", "采购", "资金", "项目", "标准", "目录", "清单",
];
/// Negations right before 行政事业性收费 that state it is 0.
#[rustfmt::skip]
const FEE_NEGATIONS: [&str; 9] = [
    "未收取", "没有收取", "未产生", "没有产生", "未发生", "没有发生", "未征收", "无", "不涉及",
];

fn is_fee_sep(c: char) -> bool {
    matches!(c, '。' | ',' | '，' | ';' | '；' | '!' | '?' | '！' | '？')
}

/// Amounts of 行政事业性收费 the narrative states ("全年行政事业性收费9116.36万元",
/// "收取行政事业性收费共计380元"; "未收取行政事业性收费" is 0): per clause naming
/// the fee, the first "X元" / "X万元" after the name, converted exactly to fen.
/// The 信息处理费 of section 六 is another fee (no table cell holds it): clauses
/// naming it are skipped, as are approximations ("约", "万余元") and clauses
/// about waivers, fee items, standards or other revenue ([`FEE_EXCLUDED`]).
pub fn administrative_fee_amounts(text: &str) -> Vec<FeeAmount> {
    statements(text).fees
}

/// The fee amount of the clause whose 事业性收费 is at byte `p`, unless that
/// clause (ending at `done`) was read already (see [`administrative_fee_amounts`]).
fn fee_at(text: &str, p: usize, done: &mut usize, out: &mut Vec<FeeAmount>) {
    if p < *done {
        return;
    }
    let name_end = p + FEE_NAME.len();
    let (cs, ce) = bounds(text, p, name_end, is_fee_sep, CLAUSE_CAP);
    *done = ce.max(name_end);
    let clause = &text[cs..ce];
    if FEE_EXCLUDED.iter().any(|w| clause.contains(w)) {
        return;
    }
    match first_amount(&text[name_end..ce]) {
        Some(Some((s, e, fen))) => out.push(FeeAmount {
            fen,
            amount: (name_end + s, name_end + e),
            clause: (cs, ce),
        }),
        Some(None) => {}
        None => {
            // No amount: a "none" statement states 0.
            let head = &text[cs..p];
            let head = head.strip_suffix("行政").unwrap_or(head);
            if FEE_NEGATIONS.iter().any(|n| head.ends_with(n)) {
                out.push(FeeAmount {
                    fen: 0,
                    amount: (p, p),
                    clause: (cs, ce),
                });
            }
        }
    }
}

/// The first "X元" / "X万元" of `s`: `None` when there is no 元 at all,
/// `Some(None)` when the first one is not an exact amount (approximate, another
/// unit, more decimals than fen), else its byte range and value in fen.
fn first_amount(s: &str) -> Option<Option<(usize, usize, i64)>> {
    let (q, _) = s.match_indices('元').next()?;
    let head = &s[..q];
    let (head, scale, places) = match head.strip_suffix('万') {
        Some(h) => (h, 1_000_000i64, 6),
        None => (head, 100i64, 2),
    };
    let head = head.trim_end();
    // digits [. digits]
    let mut start = head.len();
    for (i, c) in head.char_indices().rev() {
        if digit(c).is_none() && !matches!(c, '.' | '．') {
            break;
        }
        start = i;
    }
    if start == head.len() {
        return Some(None);
    }
    let prev = head[..start].chars().next_back();
    if prev.is_some_and(|c| matches!(c, '约' | '近' | '超' | '逾' | '-' | ',')) {
        return Some(None);
    }
    let number: String = head[start..]
        .chars()
        .map(|c| match c {
            '．' => '.',
            c => digit(c).and_then(|d| char::from_digit(d, 10)).unwrap_or(c),
        })
        .collect();
    let (int, frac) = number.split_once('.').unwrap_or((&number, ""));
    let frac = frac.trim_end_matches('0');
    if int.is_empty() || int.len() > 12 || frac.len() > places || frac.contains('.') {
        return Some(None);
    }
    let Ok(i) = int.parse::<i64>() else {
        return Some(None);
    };
    let f: i64 = if frac.is_empty() {
        0
    } else {
        match format!("{frac:0<places$}").parse() {
            Ok(v) => v,
            Err(_) => return Some(None),
        }
    };
    let fen = i.checked_mul(scale).and_then(|v| v.checked_add(f));
    Some(fen.map(|fen| (start, q + '元'.len_utf8(), fen)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::PROACTIVE_ROWS;

    /// The parser's original reading (split into clauses, then search), kept to
    /// show that [`document_counts`] reads the same.
    fn reference(prose: &str, row: &ProactiveRowSpec) -> Vec<(&'static str, i64)> {
        let mut found = Vec::new();
        if !matches!(row.id, "regulations" | "normative_documents") {
            return found;
        }
        for clause in prose.split(['。', ',', ';', '；', '，', '\n']) {
            let Some(at) = row.keys.iter().find_map(|k| clause.find(k)) else {
                continue;
            };
            if row.id == "regulations" && clause.contains("规范性文件") {
                continue;
            }
            let cols: Vec<&str> = PROSE_COLUMNS
                .iter()
                .filter(|(_, kws)| kws.iter().any(|k| clause.contains(k)))
                .map(|(c, _)| *c)
                .collect();
            let [col] = cols[..] else { continue };
            let after = &clause[at..];
            let digits: String = after
                .match_indices('件')
                .map(|(i, _)| {
                    let run: Vec<char> = after[..i]
                        .chars()
                        .rev()
                        .take_while(char::is_ascii_digit)
                        .collect();
                    run.into_iter().rev().collect::<String>()
                })
                .find(|d| !d.is_empty())
                .unwrap_or_default();
            if let Ok(v) = digits.parse::<i64>() {
                if !found.iter().any(|(c, _)| *c == col) {
                    found.push((col, v));
                }
            }
        }
        found
    }

    #[test]
    fn prose_states_document_counts() {
        let prose = "集中公开现行有效行政规范性文件698件,动态更新本年度制发的规范性文件88件。";
        let ev = prose_evidence(prose, &PROACTIVE_ROWS[1]);
        assert_eq!(ev, vec![("in_force", 698), ("issued", 88)]);
    }

    #[test]
    fn document_counts_read_as_the_parser_did() {
        let samples = [
            "集中公开现行有效行政规范性文件698件,动态更新本年度制发的规范性文件88件。",
            "本年制发规章2件,废止规章1件;现行有效规章30件\n印发规范性文件5件,规范性文件现行有效12件",
            "规范性文件印发规范性文件3件和行政规范性文件4件,制发规章和规范性文件9件",
            "行政规范性文件制发废止5件,出台规章件,新制作规范性文件12345678901234567890件,新公开规章7件",
            "规章规章规章制发1件。规范性文件,规范性文件累计公开20件。对外公开总规章3件",
            "经清理,已宣布废止规范性文件5件,拟适时修改3件,实现规范性文件动态管理",
            "",
            "规章",
            "制发,规章10件;;,。规章现行有效11件规章",
        ];
        for s in samples {
            for row in &PROACTIVE_ROWS {
                assert_eq!(
                    prose_evidence(s, row),
                    reference(s, row),
                    "{s:?} {}",
                    row.id
                );
            }
        }
    }

    #[test]
    fn document_counts_match_reference_on_the_corpus() {
        for (_, bytes) in crate::testdata::corpus_reports() {
            let text = String::from_utf8_lossy(&bytes);
            for row in &PROACTIVE_ROWS {
                assert_eq!(prose_evidence(&text, row), reference(&text, row));
            }
            let both = document_counts_by_row(&text);
            for (i, row) in PROACTIVE_ROWS[..2].iter().enumerate() {
                assert_eq!(both[i], document_counts(&text, row));
            }
        }
    }

    proptest::proptest! {
        /// Any text made of the words that matter reads as the parser read it.
        #[test]
        fn document_counts_read_as_the_parser_did_on_any_text(
            words in proptest::collection::vec(0usize..20, 0..40)
        ) {
            const WORDS: [&str; 20] = [
                "规章", "行政规范性文件", "规范性文件", "制发", "现行有效", "废止", "新公开",
                "件", "1", "23", "。", ",", "，", ";", "\n", "文件", "的", " ", "印发", "累计公开",
            ];
            let text: String = words.iter().map(|&i| WORDS[i]).collect();
            let both = document_counts_by_row(&text);
            for (i, row) in PROACTIVE_ROWS.iter().enumerate() {
                proptest::prop_assert_eq!(prose_evidence(&text, row), reference(&text, row));
                if i < 2 {
                    proptest::prop_assert_eq!(&both[i], &document_counts(&text, row));
                }
            }
        }
    }

    fn kinds(text: &str) -> Vec<(RequestCount, i64)> {
        request_counts(text)
            .into_iter()
            .map(|s| (s.kind, s.value))
            .collect()
    }

    #[test]
    fn request_counts_of_the_worked_example() {
        use RequestCount::*;
        let t = "2023年,区本级共收到依申请公开110件,按时办结100件,剩余10件结转下一年度办理。";
        assert_eq!(
            kinds(t),
            vec![(Received, 110), (Handled, 100), (CarriedForward, 10)]
        );
        // Full-width punctuation reads the same.
        let t = "2023年，区本级共收到依申请公开110件，按时办结100件，剩余10件结转下一年度办理。";
        assert_eq!(
            kinds(t),
            vec![(Received, 110), (Handled, 100), (CarriedForward, 10)]
        );
    }

    #[test]
    fn request_counts_of_corpus_phrasings() {
        use RequestCount::*;
        // 003: the number before 申请.
        assert_eq!(
            kinds("本年度全区共收到70件申请,及时依法依规办结69件,1件结转下年度继续办理。"),
            vec![(Received, 70), (Handled, 69), (CarriedForward, 1)]
        );
        // 004: the applicant breakdown is not a total.
        assert_eq!(
            kinds("2022年,全区收到政府信息公开申请75件,涉及自然人72件、商业企业3件,均在法定期限内予以答复,办结率100%。"),
            vec![(Received, 75)]
        );
        // 009/020: information items (条) are not requests.
        assert!(
            kinds("共制发政府信息316条,其中,主动公开政府信息121条、依申请公开128条。").is_empty()
        );
        // 010: carried over inside the handled count, carried forward before the verb.
        assert_eq!(
            kinds("共受理政府信息公开申请859件,申请数量较去年回落12.3%;答复政府信息公开申请805件(含上年度结转申请18件,另有72件申请按照《条例》顺延到下年度答复),均在法定期限内予以答复。"),
            vec![(Received, 859), (Handled, 805), (CarriedOver, 18), (CarriedForward, 72)]
        );
        // 015: spaces around numbers; cases of review and litigation are not requests.
        assert_eq!(
            kinds("全县全年共受理政府信息公开申请 749 件,其中自然人申请 741 件,法人或其他组织申请 8 件;共办理 718 件,结转下一年 31 件。依法做好相关行政复议、行政诉讼案件的应诉工作,全县共办理相关案件 74 件。"),
            vec![(Received, 749), (Handled, 718), (CarriedForward, 31)]
        );
        // 016: PDF line breaks; outcomes are parts.
        assert_eq!(
            kinds("全年收到政府信息公开申请 34 件,上年结转政府信息公开\n申请 2 件,所有申请均已按要求办理完成。所有办结的信息公开\n申请中同意公开答复 9 件,部分公开答复 0 件,不予公开答复 2\n件,无法提供的 10 件,不予处理 0 件,其他处理 14 件,转下一\n年度办理答复的有 1 件。"),
            vec![(Received, 34), (CarriedOver, 2), (CarriedForward, 1)]
        );
        // 002: complaints are not requests; the nearest verb decides.
        assert_eq!(
            kinds("收到群众诉求348件,现场解决162件。4.认真办理依申请公开2020年全区各级行政机关共受理政府信息公开申请21件,受理的申请件已按规定在法定期限内予以答复。"),
            vec![(Received, 21)]
        );
        // No 申请 in the sentence: not about requests.
        assert!(kinds("截至目前共收到15564件咨询投诉件,已办结15042件。").is_empty());
        assert!(kinds("全年办结群众来件30件。").is_empty());
        // Approximations and decimals.
        assert!(kinds("共收到申请约110件,办结1.5件。").is_empty());
    }

    fn denied(text: &str) -> Vec<Denied> {
        denials(text).into_iter().map(|d| d.denied).collect()
    }

    #[test]
    fn denial_statements() {
        use Denied::*;
        assert_eq!(denied("本年度未收到政府信息公开申请。"), vec![Requests]);
        assert_eq!(
            denied("2021年暂未接到群众对依申请公开信息申请"),
            vec![Requests]
        );
        assert_eq!(
            denied("本年度没有收到公民、法人或其他组织提出的政府信息公开申请,未发生行政复议、行政诉讼。"),
            vec![Requests, Review, Litigation]
        );
        assert_eq!(
            denied("未发生因政府信息公开申请引起的行政复议和行政诉讼案件。"),
            vec![Review, Litigation]
        );
        assert_eq!(
            denied("本机关未被申请行政复议,未被提起行政诉讼。"),
            vec![Review, Litigation]
        );
        assert_eq!(denied("本年度无依申请公开事项。"), vec![Requests]);
        // A line break ends the clause after what is denied (a heading follows).
        assert_eq!(
            denied("本年度未收到政府信息公开申请\n二、主动公开政府信息情况"),
            vec![Requests]
        );
        // PDF line breaks inside the statement.
        assert_eq!(denied("本年度未收到政府信息公开\n申请。"), vec![Requests]);
        // Parts, other things, and other meanings deny nothing.
        assert!(denied("未收到涉及商业秘密的申请。").is_empty());
        assert!(denied("该行政复议件未被复议审查机关纠错。").is_empty());
        assert!(denied("无正当理由大量反复申请").is_empty());
        assert!(denied("未收到申请人缴纳的费用").is_empty());
        assert!(denied("全年收到申请12件,无法提供2件").is_empty());
        assert!(denied("无行政复议机关纠错情况").is_empty());
    }

    fn fees(text: &str) -> Vec<i64> {
        administrative_fee_amounts(text)
            .into_iter()
            .map(|f| f.fen)
            .collect()
    }

    #[test]
    fn fee_amounts() {
        assert_eq!(fees("全年行政事业性收费9116.36万元。"), vec![9_116_360_000]);
        assert_eq!(fees("收取行政事业性收费共计380元"), vec![38_000]);
        assert_eq!(fees("收取行政事业性收费共计380.5元"), vec![38_050]);
        assert_eq!(fees("本年度未收取行政事业性收费。"), vec![0]);
        assert_eq!(fees("行政事业性收费收入9116.36万元"), vec![9_116_360_000]);
        assert_eq!(fees("行政事业性收费:１２万元"), vec![12_000_000]);
        assert_eq!(
            fees("行政事业性收费金额为 24252.311082 万元"),
            vec![24_252_311_082]
        );
        // The processing fee, approximations, items, waivers: nothing.
        assert!(fees("收取信息处理费共计380元").is_empty());
        assert!(fees("行政事业性收费约9000万元").is_empty());
        assert!(fees("行政事业性收费9000万余元").is_empty());
        assert!(fees("推进行政事业性收费项目目录清单等信息公开").is_empty());
        assert!(fees("免征行政事业性收费1200万元").is_empty());
        assert!(fees("行政事业性收费1.2345678万元").is_empty());
    }

    #[test]
    fn fee_notices() {
        assert!(mentions_fee_notice("本年度未发出收费通知。"));
        assert!(mentions_fee_notice("本年度没有产生信息公开处理费"));
        assert!(!mentions_fee_notice(
            "本年度政府信息公开事项未收取任何费用。"
        ));
    }
}
