//! The statistical period a report states (统计期限), read once per report for
//! S7 and X6: where it is stated, its dates, and the statement as published.

use crate::pb::AnnualReport;
use crate::validate::text::{digit, prefix, section_text};

/// A statistical period stated in the text.
pub struct Period {
    /// The field it was found in (`preamble` or `overview`).
    pub field: &'static str,
    pub start: (i32, u32, u32),
    pub end: (i32, u32, u32),
    /// The statement as published (from 统计 to the end date).
    pub quote: String,
}

impl Period {
    pub fn show(&self) -> String {
        let (a, b) = (self.start, self.end);
        format!(
            "{}-{:02}-{:02} – {}-{:02}-{:02}",
            a.0, a.1, a.2, b.0, b.1, b.2
        )
    }
}

/// How far into the overview a period statement is looked for (bytes).
const PERIOD_OVERVIEW_BYTES: usize = 1200;

/// The first statistical period stated in the preamble or near the start of the
/// overview: 统计 + 期限/时限/周期/期间/区间/时间/时段/范围/起止, then a date
/// ("YYYY年M月D日") and an end date ("[YYYY年]M月D日"), or a year ("YYYY年度").
pub fn stated_period(r: &AnnualReport) -> Option<Period> {
    let overview = prefix(section_text(&r.overview), PERIOD_OVERVIEW_BYTES);
    for (field, t) in [("preamble", r.preamble.as_str()), ("overview", overview)] {
        for (i, m) in t.match_indices("统计") {
            let rest = &t[i + m.len()..];
            if let Some((start, end, used)) = parse_period(rest) {
                return Some(Period {
                    field,
                    start,
                    end,
                    quote: t[i..i + m.len() + used].to_string(),
                });
            }
        }
    }
    None
}

/// A cursor over text that skips whitespace between tokens.
struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl Cursor<'_> {
    fn skip_ws(&mut self) {
        let rest = &self.s[self.pos..];
        self.pos += rest.len() - rest.trim_start().len();
    }
    fn peek(&mut self) -> Option<char> {
        self.skip_ws();
        self.s[self.pos..].chars().next()
    }
    fn bump(&mut self) {
        if let Some(c) = self.s[self.pos..].chars().next() {
            self.pos += c.len_utf8();
        }
    }
    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.bump();
            true
        } else {
            false
        }
    }
    fn eat_str(&mut self, w: &str) -> bool {
        self.skip_ws();
        if self.s[self.pos..].starts_with(w) {
            self.pos += w.len();
            true
        } else {
            false
        }
    }
    /// A run of 1..=max digits (no whitespace inside).
    fn number(&mut self, max: usize) -> Option<(u32, usize)> {
        self.skip_ws();
        let mut v = 0u32;
        let mut n = 0;
        while let Some(c) = self.s[self.pos..].chars().next() {
            let Some(d) = digit(c) else { break };
            if n == max {
                return None;
            }
            v = v * 10 + d;
            n += 1;
            self.pos += c.len_utf8();
        }
        (n > 0).then_some((v, n))
    }
    /// Skips up to `max` characters that are not digits; fails at a sentence end.
    fn skip_words(&mut self, max: usize) -> bool {
        for _ in 0..=max {
            match self.peek() {
                Some(c) if digit(c).is_some() => return true,
                Some('。' | '；' | ';') | None => return false,
                Some(_) => self.bump(),
            }
        }
        false
    }
}

const PERIOD_WORDS: [&str; 9] = [
    "期限", "时限", "周期", "期间", "区间", "时间", "时段", "范围", "起止",
];

type Ymd = (i32, u32, u32);

fn parse_period(s: &str) -> Option<(Ymd, Ymd, usize)> {
    let mut c = Cursor { s, pos: 0 };
    if !PERIOD_WORDS.iter().any(|w| c.eat_str(w)) {
        return None;
    }
    if !c.skip_words(6) {
        return None;
    }
    let (y1, n) = c.number(4)?;
    if n != 4 || !c.eat('年') {
        return None;
    }
    let y1 = y1 as i32;
    if c.eat('度') || c.eat_str("全年") {
        return Some(((y1, 1, 1), (y1, 12, 31), c.pos));
    }
    let (m1, _) = c.number(2)?;
    if !c.eat('月') {
        return None;
    }
    let (d1, _) = c.number(2)?;
    if !(c.eat('日') || c.eat('号')) {
        return None;
    }
    if !c.skip_words(4) {
        return None;
    }
    let (n, len) = c.number(4)?;
    let (y2, m2) = if c.eat('年') {
        if len != 4 {
            return None;
        }
        (n as i32, c.number(2)?.0)
    } else if len <= 2 {
        (y1, n)
    } else {
        return None;
    };
    if !c.eat('月') {
        return None;
    }
    let (d2, _) = c.number(2)?;
    if !(c.eat('日') || c.eat('号')) {
        return None;
    }
    let ok = |m: u32, d: u32| (1..=12).contains(&m) && (1..=31).contains(&d);
    (ok(m1, d1) && ok(m2, d2)).then_some(((y1, m1, d1), (y2, m2, d2), c.pos))
}

#[cfg(test)]
mod tests {
    use super::parse_period;

    #[test]
    fn period_parser() {
        let p = parse_period("期限从2023年1月1日起到2023年12月31日止").map(|p| (p.0, p.1));
        assert_eq!(p, Some(((2023, 1, 1), (2023, 12, 31))));
        let p = parse_period("时限为2022年1月1日至2022年12月31日").map(|p| (p.0, p.1));
        assert_eq!(p, Some(((2022, 1, 1), (2022, 12, 31))));
        let p = parse_period("期间为２０２１年度").map(|p| (p.0, p.1));
        assert_eq!(p, Some(((2021, 1, 1), (2021, 12, 31))));
        assert!(parse_period("局2023年1月1日").is_none());
        assert!(parse_period("期限。2023年1月1日至12月31日").is_none());
        assert!(parse_period("期限为2023年13月1日至12月31日").is_none());
    }
}
