//! X6 · Text names the wrong year (copy-over residue).
//!
//! The rule's catalogue entry, its check, what only it uses and its tests.

use std::sync::OnceLock;

use regex::Regex;

use crate::pb::{AnnualReport, RuleBasis, Severity};
use crate::validate::engine::{comparison, Ctx, Out};
use crate::validate::text::{digit, section_text, suffix};
use crate::validate::{Category, Rule};

pub(super) static X6: Rule = Rule {
    code: "X6",
    severity: Severity::Warning,
    title: "正文写错年度（沿用上年报告的残留）",
    title_en: "Text names the wrong year (copy-over residue)",
    description: "A phrase naming a report — \"YYYY年(度)政府信息公开工作年度报告\", \"YYYY年度报告\", \"YYYY年政务公开工作年度报告\", \"YYYY年…年报\" — or the stated statistical period names a year other than the report year Y, in the title, preamble, overview, problems, other matters or fee statement. Y−1 is allowed right after an explicit comparison (较/与/比/同比/相比/对比) and where the text refers back to last year's report (…报告中/指出/提出/反映/发现/所列/存在). Bare dates are not checked (publication dates in Y+1 are normal).",
    versions: &[],
    basis: RuleBasis::Heuristic,
    reference: "条例第四十九条、第五十条",
    category: Category::CrossYear,
    check,
};

/// One phrase naming a wrong year.
struct WrongYear {
    field: &'static str,
    year: i32,
    phrase: String,
}

/// Finds "报" (a SIMD substring search); "报告" and "年报" are told apart around it.
fn bao() -> Option<&'static Regex> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    RE.get_or_init(|| Regex::new("报").ok()).as_ref()
}

fn strip_ws_end(s: &str) -> &str {
    s.trim_end()
}

/// Reads a report-naming phrase backwards from just before "报告" / "年报":
/// "YYYY年[度](政府信息公开|政务公开|信息公开)[工作][年度]报告", "YYYY年[年]度报告",
/// "YYYY年[度](…公开)[工作]年报". Returns the year and the byte offset where the
/// year starts.
fn year_before(head: &str, nianbao: bool) -> Option<(i32, usize)> {
    let mut s = strip_ws_end(head);
    let mut niandu = false;
    if !nianbao {
        if let Some(x) = s.strip_suffix("年度") {
            s = strip_ws_end(x);
            niandu = true;
        }
    }
    let mut work = false;
    if let Some(x) = s.strip_suffix("工作") {
        s = strip_ws_end(x);
        work = true;
    }
    let mut topic = false;
    for t in ["政府信息公开", "政务公开", "信息公开"] {
        if let Some(x) = s.strip_suffix(t) {
            s = strip_ws_end(x);
            topic = true;
            break;
        }
    }
    if topic {
        if let Some(x) = s.strip_suffix('度') {
            s = strip_ws_end(x);
        }
        s = strip_ws_end(s.strip_suffix('年')?);
    } else {
        // "YYYY年度报告" / "YYYY年年度报告" only.
        if work || nianbao || !niandu {
            return None;
        }
        if let Some(x) = s.strip_suffix('年') {
            s = strip_ws_end(x);
        }
    }
    // Four digits, not part of a longer number.
    let mut year = 0i32;
    let mut start = s.len();
    let mut n = 0;
    for (i, c) in s.char_indices().rev() {
        match digit(c) {
            Some(d) if n < 4 => {
                year += d as i32 * 10i32.pow(n);
                n += 1;
                start = i;
            }
            Some(_) => return None,
            None => break,
        }
    }
    (n == 4 && (1990..=2100).contains(&year)).then_some((year, start))
}

/// Whether the text right before a year makes it an explicit comparison.
fn comparison_before(head: &str) -> bool {
    let h = suffix(head.trim_end(), 9);
    ["较", "与", "比", "同比", "相比", "对比"]
        .iter()
        .any(|w| h.ends_with(w))
}

/// Whether the text right after a phrase naming last year's report refers back
/// to it ("2022年度报告中指出的问题…已整改"): a follow-up, not residue.
fn follow_up_after(tail: &str) -> bool {
    let t = tail.trim_start();
    ["中", "指出", "提出", "反映", "发现", "所列", "存在"]
        .iter()
        .any(|w| t.starts_with(w))
}

fn wrong_years(r: &AnnualReport) -> Vec<WrongYear> {
    let mut found = Vec::new();
    let Some(re) = bao() else {
        return found;
    };
    let y = r.year;
    let fields = [
        ("title", r.title.as_str()),
        ("preamble", r.preamble.as_str()),
        ("overview", section_text(&r.overview)),
        ("problems", section_text(&r.problems)),
        ("other_matters", section_text(&r.other_matters)),
        ("fee_statement", r.fee_statement.as_str()),
    ];
    for (field, t) in fields {
        for m in re.find_iter(t) {
            let (head, end) = if t[m.end()..].starts_with('告') {
                (&t[..m.start()], m.end() + '告'.len_utf8())
            } else if let Some(h) = t[..m.start()].strip_suffix('年') {
                (h, m.end())
            } else {
                continue;
            };
            let nianbao = end == m.end();
            let Some((year, start)) = year_before(head, nianbao) else {
                continue;
            };
            if year == y
                || (year == y - 1 && (comparison_before(&t[..start]) || follow_up_after(&t[end..])))
            {
                continue;
            }
            if found
                .iter()
                .any(|w: &WrongYear| w.field == field && w.year == year)
            {
                continue;
            }
            found.push(WrongYear {
                field,
                year,
                phrase: t[start..end].to_string(),
            });
        }
    }
    found
}

fn check(ctx: &Ctx<'_>, out: &mut Out) {
    let r = ctx.report;
    if r.year <= 0 {
        out.incomplete = true;
        return;
    }
    let y = r.year;
    for w in wrong_years(r) {
        let f = out.fail(
            format!(
                "{}中“{}”写的是{}年，而本报告是{y}年度报告，疑似沿用往年报告未改",
                field_zh(w.field),
                w.phrase,
                w.year
            ),
            format!(
                "{} names \"{}\" ({}), but this is the {y} report: probably left over from another year's report",
                w.field, w.phrase, w.year
            ),
            [w.field.to_string()],
        );
        f.comparisons.push(comparison(
            "year named",
            "the report year",
            y,
            w.field,
            w.year,
        ));
    }
    if let Some(p) = ctx.period() {
        let (a, b) = (p.start.0, p.end.0);
        if a != y || b != y {
            let named = if a == b {
                a.to_string()
            } else {
                format!("{a}–{b}")
            };
            let f = out.fail(
                format!(
                    "{}中的统计期限“{}”写的是{named}年，而本报告是{y}年度报告",
                    field_zh(p.field),
                    p.quote.trim()
                ),
                format!(
                    "the statistical period in {} (\"{}\") names {named}, but this is the {y} report",
                    p.field,
                    p.quote.trim()
                ),
                [p.field.to_string()],
            );
            f.comparisons.push(comparison(
                "statistical period year",
                "the report year",
                y,
                p.field,
                named,
            ));
        }
    }
}

fn field_zh(field: &str) -> &'static str {
    match field {
        "title" => "标题",
        "preamble" => "前言",
        "overview" => "“总体情况”",
        "problems" => "“存在的主要问题及改进情况”",
        "other_matters" => "“其他需要报告的事项”",
        "fee_statement" => "信息处理费说明",
        _ => "正文",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::RuleOutcome;
    use crate::validate::test_support::{base, run_with as run, section};

    #[test]
    fn x6_wrong_year() {
        let mut r = base("v2021");
        assert_eq!(run(&r, None, "X6").0, RuleOutcome::Passed);
        r.preamble = "根据条例，现公布本机关2022年度政府信息公开工作年度报告。".into();
        let (o, f) = run(&r, None, "X6");
        assert_eq!(o, RuleOutcome::Failed);
        assert_eq!(f[0].field_paths, ["preamble"]);
        assert_eq!(f[0].comparisons[0].actual, "2022");
        // Explicit comparisons and publication dates are fine.
        r.preamble = "本报告于2024年1月20日公布，较2022年度报告增加了专栏。".into();
        assert_eq!(run(&r, None, "X6").0, RuleOutcome::Passed);
        r.problems = section("针对2022年度报告中指出的问题，已逐项整改。");
        assert_eq!(run(&r, None, "X6").0, RuleOutcome::Passed);
        r.problems = base("v2021").problems;
        r.preamble.clear();
        // Other forms.
        r.other_matters = section("详见2021年度报告。");
        assert_eq!(run(&r, None, "X6").0, RuleOutcome::Failed);
        r.other_matters = section("2022 年 政务公开工作年度报告已公布。");
        assert_eq!(run(&r, None, "X6").0, RuleOutcome::Failed);
        r.other_matters = section("2022年政府工作报告提出…；12022年度报告");
        assert_eq!(run(&r, None, "X6").0, RuleOutcome::Passed);
        // The statistical period.
        r.other_matters = base("v2021").other_matters;
        r.preamble = "所列数据的统计期限从2022年1月1日起到2022年12月31日止。".into();
        let (o, f) = run(&r, None, "X6");
        assert_eq!(o, RuleOutcome::Failed);
        assert!(f[0].message_en.contains("statistical period"));
        r.year = 0;
        assert_eq!(run(&r, None, "X6").0, RuleOutcome::Incomplete);
    }

    #[test]
    fn year_phrases() {
        assert_eq!(
            year_before("关于做好2021年政府信息公开工作年度", false).map(|x| x.0),
            Some(2021)
        );
        assert_eq!(
            year_before("编制完成2019年政府信息公开工作年度", false).map(|x| x.0),
            Some(2019)
        );
        assert_eq!(year_before("2020年度", false).map(|x| x.0), Some(2020));
        assert_eq!(year_before("2020年年度", false).map(|x| x.0), Some(2020));
        assert_eq!(
            year_before("2024 年度政务公开工作", false).map(|x| x.0),
            Some(2024)
        );
        assert_eq!(
            year_before("2022年政府信息公开", true).map(|x| x.0),
            Some(2022)
        );
        assert_eq!(year_before("2022年政府工作", false), None);
        assert_eq!(year_before("本年度", false), None);
        assert_eq!(year_before("12022年度", false), None);
        assert_eq!(year_before("２０２１年度", false).map(|x| x.0), Some(2021));
    }
}
