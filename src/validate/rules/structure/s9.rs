//! S9 · Regulations issued by a body without rule-making power.
//!
//! The rule's catalogue entry, its check, what only it uses and its tests.

use crate::format::CellRef;
use crate::pb::{
    AdministrativeLevel, AgencyKind, AnnualReport, FormatVersion, RuleBasis, Severity,
};
use crate::validate::engine::{comparison, Ctx, Out};
use crate::validate::rules::TABLES;
use crate::validate::{Category, Rule};

pub(super) static S9: Rule = Rule {
    code: "S9",
    severity: Severity::Info,
    title: "无规章制定权的机关填报了本年制发规章",
    title_en: "Regulations issued by a body without rule-making power",
    description: "Table 二 （一） 规章 issued this year (V2021 issued, V2019 newly_made) > 0, but only State Council departments (national level), provincial governments and governments of cities with districts (municipal level) may make 规章; their general offices (人民政府办公厅/办公室) count as their government. Unknown agency kind or level: incomplete.",
    versions: TABLES,
    basis: RuleBasis::Official,
    reference: "《立法法》第九十一条、第九十三条",
    category: Category::Structure,
    check,
};

/// Whether an agency may make 规章 (立法法 Art. 91, 93); `None` when unknown.
fn has_rule_making_power(r: &AnnualReport) -> Option<bool> {
    let a = r.agency.as_ref()?;
    let kind = AgencyKind::try_from(a.kind).unwrap_or_default();
    let level = AdministrativeLevel::try_from(a.level).unwrap_or_default();
    if level == AdministrativeLevel::Unspecified {
        return None;
    }
    if level == AdministrativeLevel::National {
        // State Council departments (and the State Council's own office).
        return Some(true);
    }
    let high = matches!(
        level,
        AdministrativeLevel::Provincial | AdministrativeLevel::Municipal
    );
    match kind {
        AgencyKind::Government => Some(high),
        AgencyKind::Department => {
            // A government's general office reports its government's rules.
            let office = [
                "人民政府办公厅",
                "人民政府办公室",
                "政府办公厅",
                "政府办公室",
            ]
            .iter()
            .any(|o| a.name.contains(o));
            Some(high && office)
        }
        AgencyKind::Unspecified => None,
    }
}

fn check(ctx: &Ctx<'_>, out: &mut Out) {
    let r = ctx.report;
    let col = if ctx.version == FormatVersion::V2019 {
        "newly_made"
    } else {
        "issued"
    };
    let cell = CellRef::Proactive { row: 0, col };
    let Some(n) = cell.get_int(r) else {
        out.incomplete = true;
        return;
    };
    if n <= 0 {
        return;
    }
    let Some(power) = has_rule_making_power(r) else {
        out.incomplete = true;
        return;
    };
    if power {
        return;
    }
    let name = r.agency.as_ref().map_or("", |a| a.name.as_str());
    let f = out.fail(
        format!(
            "“{name}”填报本年制发规章{n}件，但只有国务院部门、省级人民政府和设区的市级人民政府有规章制定权；请核对是否应填入行政规范性文件"
        ),
        format!(
            "\"{name}\" reports {n} regulations (规章) issued, but only State Council departments, provincial governments and governments of cities with districts may make 规章; check whether they are normative documents"
        ),
        [cell.path(), "agency".to_string()],
    );
    f.comparisons.push(comparison(
        "regulations issued",
        "a body without rule-making power issues none",
        0,
        cell.path(),
        n,
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::CellValue;
    use crate::pb::{Agency, RuleOutcome};
    use crate::validate::test_support::{base, fails, passes, run};

    #[test]
    fn s9_rule_making_power() {
        let mut r = base("v2021");
        CellRef::Proactive {
            row: 0,
            col: "issued",
        }
        .set(&mut r, Some(CellValue::Int(2)));
        let f = fails(&r, "S9", "proactive.regulations.issued");
        assert_eq!(f.severity, Severity::Info as i32);
        r.agency = Some(Agency {
            name: "某市人民政府".into(),
            kind: AgencyKind::Government as i32,
            level: AdministrativeLevel::Municipal as i32,
            ..Default::default()
        });
        passes(&r, "S9");
        r.agency = Some(Agency {
            name: "上海市人民政府办公厅".into(),
            kind: AgencyKind::Department as i32,
            level: AdministrativeLevel::Provincial as i32,
            ..Default::default()
        });
        passes(&r, "S9");
        r.agency = None;
        assert_eq!(run(&r, "S9").0, RuleOutcome::Incomplete);
        let mut r = base("v2019");
        CellRef::Proactive {
            row: 0,
            col: "newly_made",
        }
        .set(&mut r, Some(CellValue::Int(1)));
        fails(&r, "S9", "proactive.regulations.newly_made");
    }
}
