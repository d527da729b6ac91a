//! N1 · Request counts in the prose agree with table 三.
//!
//! The rule's catalogue entry, its check, what only it uses and its tests.

use super::{quote, request_path, request_total};
use crate::format::phrasing::RequestCount;
use crate::pb::{AnnualReport, RuleBasis, Severity};
use crate::validate::engine::{comparison, Ctx, Out};
use crate::validate::facts::Prose;
use crate::validate::rules::TABLES;
use crate::validate::{Category, Rule};

pub(super) static N1: Rule = Rule {
    code: "N1",
    severity: Severity::Warning,
    title: "正文所述申请件数与表三一致",
    title_en: "Request counts in the prose agree with table 三",
    description: "Request counts stated in the prose (收到/新收/受理/接到 N件; 办结/答复/办理/回复/处理 N件; 上年结转 N件; N件结转下一年度 or 结转下年度 N件), read only as numbers of 件 in sentences about 申请 and not as parts (其中, applicant types, channels, outcomes), agree with requests.new_received.total, results_total.total, carried_over.total and carried_forward.total (a blank total is the sum of its six applicant cells when they are all present). A figure that fits only another reading — received = new_received + carried_over (counting last year's carry-over), handled = new_received − carried_forward (this year's new requests only) — is INFO naming the reading; a figure that fits none is a WARNING. No statement in the prose: passed.",
    versions: TABLES,
    basis: RuleBasis::Heuristic,
    reference: "条例第五十条第（二）项；表三 一、二、（七）、四",
    category: Category::Narrative,
    check,
};

/// What a stated count is compared with: the table-三 row, and the words for it.
struct Subject {
    row: &'static str,
    what_zh: &'static str,
    what_en: &'static str,
    label_zh: &'static str,
}

fn subject(kind: RequestCount) -> Subject {
    let (row, what_zh, what_en, label_zh) = match kind {
        RequestCount::Received => (
            "new_received",
            "收到",
            "received",
            "本年新收政府信息公开申请数量",
        ),
        RequestCount::Handled => ("results_total", "办理", "handled", "（七）总计"),
        RequestCount::CarriedOver => (
            "carried_over",
            "上年结转",
            "carried over from last year",
            "上年结转政府信息公开申请数量",
        ),
        RequestCount::CarriedForward => (
            "carried_forward",
            "结转下年度",
            "carried forward to next year",
            "结转下年度继续办理",
        ),
    };
    Subject {
        row,
        what_zh,
        what_en,
        label_zh,
    }
}

/// Another way the prose may count (format.md §7 N1): the expression, its
/// value, the rows it reads and what it means.
struct Reading {
    expr: &'static str,
    expr_zh: &'static str,
    value: i64,
    rows: [&'static str; 2],
    why_zh: String,
    why_en: String,
}

/// The other readings of a stated count; `None` when one cannot be computed
/// (blank cells).
fn readings(r: &AnnualReport, kind: RequestCount) -> Option<Vec<Reading>> {
    let total = |id| request_total(r, id).map(|(v, _)| v);
    Some(match kind {
        RequestCount::Received => {
            let (n, c) = (total("new_received")?, total("carried_over")?);
            vec![Reading {
                expr: "new_received + carried_over",
                expr_zh: "本年新收加上年结转",
                value: n + c,
                rows: ["new_received", "carried_over"],
                why_zh: format!("本年新收{n}加上年结转{c}——正文所称收到数包含上年结转的申请"),
                why_en: format!(
                    "new_received {n} + carried_over {c}: the prose counts the requests received including last year's carry-over"
                ),
            }]
        }
        RequestCount::Handled => {
            let (n, f) = (total("new_received")?, total("carried_forward")?);
            let co = total("carried_over");
            vec![Reading {
                expr: "new_received − carried_forward",
                expr_zh: "本年新收减结转下年度",
                value: n - f,
                rows: ["new_received", "carried_forward"],
                why_zh: format!(
                    "本年新收{n}减结转下年度{f}——正文只计本年新收申请的办理数{}",
                    co.map_or(String::new(), |c| format!("，未计表中计入办理结果的上年结转{c}件"))
                ),
                why_en: format!(
                    "new_received {n} − carried_forward {f}: the prose counts only this year's new requests as handled{}",
                    co.map_or(String::new(), |c| format!(
                        ", leaving out the {c} carried over from last year that the table counts"
                    ))
                ),
            }]
        }
        RequestCount::CarriedOver | RequestCount::CarriedForward => Vec::new(),
    })
}

fn check(ctx: &Ctx<'_>, out: &mut Out) {
    let r = ctx.report;
    let prose = ctx.prose();
    if prose.is_empty() {
        out.incomplete = true;
        return;
    }
    let mut seen: Vec<(RequestCount, i64)> = Vec::new();
    for &Prose {
        field,
        section_zh,
        text,
        ref said,
    } in prose
    {
        for s in &said.requests {
            if seen.contains(&(s.kind, s.value)) {
                continue;
            }
            seen.push((s.kind, s.value));
            let stated = s.value;
            let Subject {
                row,
                what_zh,
                what_en,
                label_zh,
            } = subject(s.kind);
            let Some((direct, direct_expr)) = request_total(r, row) else {
                out.incomplete = true;
                continue;
            };
            if direct == stated {
                continue;
            }
            let Some(readings) = readings(r, s.kind) else {
                // A reading cannot be computed: the figure cannot be judged.
                out.incomplete = true;
                continue;
            };
            let phrase = quote(text, s.clause);
            let cmp_subject = format!("requests {what_en} stated in {field}");
            let actual_expr = format!("prose: “{phrase}”");
            let direct_cmp = comparison(
                cmp_subject.clone(),
                direct_expr,
                direct,
                actual_expr.clone(),
                stated,
            );
            let head_zh = format!(
                "{section_zh}“{phrase}”：{what_zh}件数{stated}与表三“{label_zh}”（{direct}）"
            );
            let head_en = format!(
                "{field} states {stated} requests {what_en} (“{phrase}”) where table 三 {row}.total is {direct}"
            );
            if let Some(rd) = readings.iter().find(|rd| rd.value == stated) {
                let mut paths = vec![request_path(row)];
                for p in rd.rows.iter().map(|p| request_path(p)) {
                    if !paths.contains(&p) {
                        paths.push(p);
                    }
                }
                paths.push(field.to_string());
                let f = out.fail(
                    format!(
                        "{head_zh}不同，但等于{}。这是统计口径不同，并非错误；必要时在正文中注明口径",
                        rd.why_zh
                    ),
                    format!(
                        "{head_en}; {stated} = {}. A different reading, not an error; the prose may say which it uses",
                        rd.why_en
                    ),
                    paths,
                );
                f.severity = Severity::Info as i32;
                f.comparisons.push(comparison(
                    cmp_subject,
                    rd.expr,
                    rd.value,
                    actual_expr,
                    stated,
                ));
                f.comparisons.push(direct_cmp);
            } else {
                let other_zh: String = readings
                    .iter()
                    .map(|rd| format!("，也不等于{}（{}）", rd.expr_zh, rd.value))
                    .collect();
                let other_en: String = readings
                    .iter()
                    .map(|rd| format!(", nor {} ({})", rd.expr, rd.value))
                    .collect();
                let f = out.fail(
                    format!("{head_zh}不符{other_zh}；请核对正文或表三"),
                    format!("{head_en}{other_en}; correct the prose or the table"),
                    [request_path(row), field.to_string()],
                );
                f.comparisons.push(direct_cmp);
                for rd in &readings {
                    f.comparisons.push(comparison(
                        cmp_subject.clone(),
                        rd.expr,
                        rd.value,
                        actual_expr.clone(),
                        stated,
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::{FormatVersion, RuleOutcome};
    use crate::validate::rules::narrative::tests::{base, set_total, with_overview, WORKED};
    use crate::validate::test_support::run;

    #[test]
    fn n1_worked_example_is_one_info_naming_the_reading() {
        let r = with_overview(base(FormatVersion::V2021), WORKED);
        let (o, f) = run(&r, "N1");
        assert_eq!(o, RuleOutcome::Failed);
        assert_eq!(f.len(), 1, "{f:?}");
        let f = &f[0];
        assert_eq!(f.severity, Severity::Info as i32);
        assert!(
            f.message_en.contains("only this year's new requests"),
            "{}",
            f.message_en
        );
        assert!(f.message.contains("按时办结100件"), "{}", f.message);
        for p in [
            "requests.results_total.total",
            "requests.new_received.total",
            "requests.carried_forward.total",
            "overview",
        ] {
            assert!(
                f.field_paths.iter().any(|x| x == p),
                "{p} in {:?}",
                f.field_paths
            );
        }
        let c = &f.comparisons[0];
        assert_eq!(c.expected_expression, "new_received − carried_forward");
        assert_eq!((c.expected.as_str(), c.actual.as_str()), ("100", "100"));
        assert!(f
            .comparisons
            .iter()
            .any(|c| c.expected_expression == "results_total" && c.expected == "112"));
    }

    #[test]
    fn n1_passes_when_the_prose_agrees() {
        let r = with_overview(
            base(FormatVersion::V2021),
            "2023年,区本级共收到依申请公开110件,办结112件,剩余10件结转下一年度办理。",
        );
        assert_eq!(run(&r, "N1"), (RuleOutcome::Passed, vec![]));
    }

    #[test]
    fn n1_received_including_carry_over_is_info() {
        // 004: "收到申请75件" with 74 new + 1 carried over.
        let r = with_overview(
            base(FormatVersion::V2021),
            "全年收到政府信息公开申请122件,涉及自然人122件。",
        );
        let (o, f) = run(&r, "N1");
        assert_eq!(o, RuleOutcome::Failed);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Info as i32);
        assert_eq!(
            f[0].comparisons[0].expected_expression,
            "new_received + carried_over"
        );
    }

    #[test]
    fn n1_figure_fitting_no_reading_is_a_warning() {
        let r = with_overview(
            base(FormatVersion::V2021),
            "区本级共收到依申请公开99件,按时办结97件。",
        );
        let (o, f) = run(&r, "N1");
        assert_eq!(o, RuleOutcome::Failed);
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f.iter().all(|f| f.severity == Severity::Warning as i32));
        assert!(f[0]
            .field_paths
            .contains(&"requests.new_received.total".to_string()));
        assert!(f[1]
            .field_paths
            .contains(&"requests.results_total.total".to_string()));
    }

    #[test]
    fn n1_ignores_items_parts_and_other_counts() {
        let r = with_overview(
            base(FormatVersion::V2021),
            "依申请公开128条。收到群众诉求348件。其中自然人申请9件。全县共办理相关行政复议案件74件。",
        );
        assert_eq!(run(&r, "N1"), (RuleOutcome::Passed, vec![]));
    }

    #[test]
    fn n1_blank_total_is_incomplete_or_summed() {
        let mut r = with_overview(base(FormatVersion::V2021), WORKED);
        // Blank total, applicant cells present: the sum stands in.
        set_total(&mut r, "carried_forward", None);
        let (_, f) = run(&r, "N1");
        assert_eq!(f.len(), 1);
        // Blank and no applicant cells: the figure cannot be judged.
        if let Some(t) = r.requests.as_mut() {
            t.carried_forward = None;
        }
        let r2 = with_overview(r, "剩余10件结转下一年度办理,均为依申请公开。");
        assert_eq!(run(&r2, "N1"), (RuleOutcome::Incomplete, vec![]));
    }

    #[test]
    fn n1_no_text_is_incomplete_and_no_statement_passes() {
        let mut r = base(FormatVersion::V2021);
        r.preamble.clear();
        r.overview = None;
        r.problems = None;
        r.other_matters = None;
        r.fee_statement.clear();
        assert_eq!(run(&r, "N1").0, RuleOutcome::Incomplete);
        let r = with_overview(base(FormatVersion::V2021), "扎实推进政务公开。");
        assert_eq!(run(&r, "N1").0, RuleOutcome::Passed);
    }
}
