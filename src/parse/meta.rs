//! Report metadata (title, agency, year, publication date, URL) and section headings.

use std::sync::OnceLock;

use regex::Regex;

use super::lexicon::{Compact, Hit, Key};
use crate::format::{credit_code, SECTIONS};
use crate::pb::{self, AdministrativeLevel, AgencyKind, SectionId};

fn re(cell: &'static OnceLock<Option<Regex>>, pat: &str) -> Option<&'static Regex> {
    cell.get_or_init(|| Regex::new(pat).ok()).as_ref()
}

/// Title, agency and year from the compact (whitespace-free) text.
pub struct Title {
    pub title: String,
    pub agency: String,
    pub year: Option<i32>,
}

pub fn title(compact: &Compact) -> Option<Title> {
    static T: OnceLock<Option<Regex>> = OnceLock::new();
    let r = re(
        &T,
        r"(?P<pre>[\p{Han}()（）]{0,40}?)(?P<year>(?:19|20)\d{2})年度?(?P<mid>[\p{Han}()（）]{0,40}?)政府信息公开(?:工作)?年度报告",
    )?;
    // Prefer a 标题 line, then the first occurrence.
    let text = compact.text.as_str();
    let scope = text
        .find("标题:")
        .map(|p| &text[p + "标题:".len()..])
        .unwrap_or(text);
    let m = r.captures(scope)?;
    let year = m.name("year").and_then(|y| y.as_str().parse().ok());
    let pre = clean_agency(m.name("pre").map_or("", |x| x.as_str()));
    let mid = clean_agency(m.name("mid").map_or("", |x| x.as_str()));
    let agency = if !pre.is_empty() { pre } else { mid };
    let whole = m.get(0).map_or("", |x| x.as_str());
    Some(Title {
        title: strip_prefixes(whole).to_string(),
        agency,
        year,
    })
}

const PREFIXES: [&str; 8] = [
    "现公布",
    "现将",
    "公布",
    "发布",
    "现予公布",
    "编制",
    "特",
    "本",
];

fn strip_prefixes(s: &str) -> &str {
    let mut s = s;
    loop {
        let before = s;
        for p in PREFIXES {
            s = s.strip_prefix(p).unwrap_or(s);
        }
        if s == before {
            return s;
        }
    }
}

fn clean_agency(s: &str) -> String {
    let s = strip_prefixes(s);
    let s = s.trim_end_matches("关于");
    s.to_string()
}

/// Publication date: a 发布时间/发布日期 line, else a date in the closing lines.
pub fn publication_date(text: &str) -> Option<pb::Date> {
    static LABELLED: OnceLock<Option<Regex>> = OnceLock::new();
    static CN: OnceLock<Option<Regex>> = OnceLock::new();
    let l = re(
        &LABELLED,
        r"(?:发布时间|发布日期|成文日期|时间)\s*[:：]?\s*((?:19|20)\d{2})[-/.年]\s*(\d{1,2})[-/.月]\s*(\d{1,2})",
    )?;
    let date = |c: regex::Captures| -> Option<pb::Date> {
        let d = pb::Date {
            year: c.get(1)?.as_str().parse().ok()?,
            month: c.get(2)?.as_str().parse().ok()?,
            day: c.get(3)?.as_str().parse().ok()?,
        };
        ((1..=12).contains(&d.month) && (1..=31).contains(&d.day)).then_some(d)
    };
    if let Some(d) = l.captures(text).and_then(date) {
        return Some(d);
    }
    let cn = re(
        &CN,
        r"((?:19|20)\d{2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日",
    )?;
    // The signature date at the end of the report.
    let tail_start = floor_char(text, text.len().saturating_sub(600));
    if let Some(d) = cn
        .captures_iter(&text[tail_start..])
        .filter_map(date)
        .last()
    {
        return Some(d);
    }
    // A date line of its own near the top, e.g. "(2026年1月23日)".
    let head_end = floor_char(text, 600.min(text.len()));
    text[..head_end]
        .lines()
        .filter(|l| l.trim().chars().count() <= 16)
        .find_map(|l| cn.captures(l).and_then(date))
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The report year from the statistical period, when the title has none.
pub fn period_year(text: &str) -> Option<i32> {
    static P: OnceLock<Option<Regex>> = OnceLock::new();
    let r = re(&P, r"((?:19|20)\d{2})\s*年\s*1\s*月\s*1\s*日")?;
    r.captures(text)?.get(1)?.as_str().parse().ok()
}

/// A URL stated in the text (原文链接).
pub fn url(text: &str) -> Option<String> {
    static U: OnceLock<Option<Regex>> = OnceLock::new();
    let r = re(
        &U,
        r"(?:原文链接|原文地址|链接)\s*[:：]\s*(https?://[^\s|]+)",
    )?;
    Some(r.captures(text)?.get(1)?.as_str().to_string())
}

/// A unified social credit code stated in the text (with a valid check character).
pub fn credit_code(text: &str) -> Option<String> {
    static C: OnceLock<Option<Regex>> = OnceLock::new();
    let r = re(&C, r"统一社会信用代码\s*[:：]?\s*([0-9A-HJ-NPQRTUWXY]{18})")?;
    let code = r.captures(text)?.get(1)?.as_str();
    credit_code::is_valid(code).then(|| code.to_string())
}

/// Agency kind and level from its name.
pub fn classify(name: &str) -> (AgencyKind, AdministrativeLevel) {
    let government = name.ends_with("人民政府")
        || name.ends_with("实验区")
        || name.ends_with("管委会")
        || name.ends_with("管理委员会") && !name.contains("局");
    let kind = if name.is_empty() {
        AgencyKind::Unspecified
    } else if government {
        AgencyKind::Government
    } else {
        AgencyKind::Department
    };
    const MUNICIPALITIES: [&str; 4] = ["北京市", "上海市", "天津市", "重庆市"];
    let level = if name.is_empty() {
        AdministrativeLevel::Unspecified
    } else if name.starts_with("国务院")
        || name.starts_with("国家")
        || name.starts_with("中华人民共和国")
    {
        AdministrativeLevel::National
    } else if name.contains("乡")
        || name.contains("镇")
        || name.contains("街道")
        || name.contains("片区")
    {
        AdministrativeLevel::Township
    } else if name.contains('县')
        || name.contains("区人民政府")
        || name.contains("实验区")
        || regex_county(name)
    {
        AdministrativeLevel::County
    } else if (MUNICIPALITIES.iter().any(|m| name.starts_with(m))
        && !super::sub(name, 9, name.len()).contains('区'))
        || name.contains('省')
        || name.contains("自治区")
    {
        AdministrativeLevel::Provincial
    } else if name.contains('市') {
        AdministrativeLevel::Municipal
    } else {
        AdministrativeLevel::Unspecified
    };
    (kind, level)
}

fn regex_county(name: &str) -> bool {
    // "…市…区…" (a district of a city).
    name.find('市').is_some_and(|p| name[p..].contains('区'))
}

/// A section heading found in the text.
#[derive(Clone, Copy, Debug)]
pub struct Heading {
    pub section: usize,
    pub start: usize,
    pub end: usize,
}

/// Section headings: a section key right after a Chinese numeral and 、 (or a
/// markdown heading), in the format's order; the first heading-like occurrence of
/// each section after the previous one is taken.
pub fn headings(compact: &Compact, text: &str, hits: &[Hit]) -> Vec<Heading> {
    let mut out: Vec<Heading> = Vec::new();
    for h in hits {
        let Key::Section(s) = h.key else { continue };
        if out.last().is_some_and(|l| l.section >= s) {
            continue;
        }
        if !numbered_before(&compact.text, h.cstart) {
            continue;
        }
        // The heading runs to the end of its line (or of the key, in flat text).
        let line_end = super::sub(text, h.end, text.len())
            .find('\n')
            .map_or(text.len(), |p| h.end + p);
        let end = if line_end - h.end <= 24 {
            line_end
        } else {
            h.end
        };
        let start = heading_start(text, h.start);
        out.push(Heading {
            section: s,
            start,
            end,
        });
    }
    out
}

/// Whether a numeral and 、 stand shortly before `cpos` in the compact text.
fn numbered_before(compact: &str, cpos: usize) -> bool {
    let before = &compact[..cpos];
    let tail: Vec<char> = before.chars().rev().take(16).collect();
    for (i, &c) in tail.iter().enumerate() {
        if matches!(c, '、' | '.' | ',') {
            return tail
                .get(i + 1)
                .is_some_and(|n| "一二三四五六七八九十".contains(*n));
        }
        let han = ('\u{4e00}'..='\u{9fff}').contains(&c);
        if !han {
            return false;
        }
    }
    false
}

/// Backs up from a key to the start of its heading ("三、" before the key).
fn heading_start(text: &str, key_start: usize) -> usize {
    let before = super::sub(text, 0, key_start);
    let mut start = key_start;
    for (i, c) in before.char_indices().rev().take(20) {
        if c == '、' {
            // include the numeral(s) before 、
            let mut s = i;
            for (j, n) in before[..i].char_indices().rev() {
                if "一二三四五六七八九十".contains(n) {
                    s = j;
                } else {
                    break;
                }
            }
            start = s;
            break;
        }
        if c == '\n' || c == '。' {
            break;
        }
    }
    start
}

/// The section id of a [`SECTIONS`] index.
pub fn section_id(i: usize) -> SectionId {
    SECTIONS.get(i).map_or(SectionId::Unspecified, |s| s.id)
}
