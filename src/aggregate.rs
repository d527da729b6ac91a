//! Aggregation (`AggregateReports`, what a supervising office compiles): the sums
//! of every numeric cell over the latest revision of the reports matching a
//! filter, optionally grouped.
//!
//! It reads each report's [`Projection`] from the store's listing (the numeric
//! cells, a few hundred bytes), never the whole revision.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use crate::format::projection::{cells, Projection};
use crate::format::CellKind;
use crate::names::ReportName;
use crate::pb::{
    AdministrativeLevel, AgencyKind, AggregateGroup, AggregateReportsResponse, CellTotal, GroupBy,
};
use crate::store::{ListFilter, Store, StoreError};

/// How to group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grouping {
    All,
    Year,
    DivisionPrefix(usize),
    Level,
    Kind,
}

/// Why a grouping was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupingError {
    #[error("1 to 6 (2: province, 4: city, 6: county) with GROUP_BY_DIVISION_PREFIX, not {0}")]
    PrefixLength(u32),
    #[error("{0} is not a GroupBy")]
    Unknown(i32),
}

impl Grouping {
    pub fn from_request(group_by: i32, prefix_len: u32) -> Result<Grouping, GroupingError> {
        match GroupBy::try_from(group_by) {
            Ok(GroupBy::Unspecified) => Ok(Grouping::All),
            Ok(GroupBy::Year) => Ok(Grouping::Year),
            Ok(GroupBy::AgencyLevel) => Ok(Grouping::Level),
            Ok(GroupBy::AgencyKind) => Ok(Grouping::Kind),
            Ok(GroupBy::DivisionPrefix) => match prefix_len {
                1..=6 => Ok(Grouping::DivisionPrefix(prefix_len as usize)),
                n => Err(GroupingError::PrefixLength(n)),
            },
            Err(_) => Err(GroupingError::Unknown(group_by)),
        }
    }

    fn key(self, name: &ReportName, division: Option<&str>, p: &Projection) -> String {
        match self {
            Grouping::All => String::new(),
            Grouping::Year => name.year.to_string(),
            Grouping::DivisionPrefix(n) => match division {
                Some(d) if d.len() >= n => d[..n].to_string(),
                _ => "unknown".to_string(),
            },
            Grouping::Level => AdministrativeLevel::try_from(p.level)
                .map_or("unknown", |l| l.as_str_name())
                .to_string(),
            Grouping::Kind => AgencyKind::try_from(p.kind)
                .map_or("unknown", |k| k.as_str_name())
                .to_string(),
        }
    }
}

#[derive(Default)]
struct Sums {
    reports: u32,
    blanks: u32,
    errors: u32,
    sum: Vec<i64>,
    present: Vec<u32>,
}

/// Sums the latest revisions matching `filter`, grouped.
pub fn aggregate(
    store: &Store,
    filter: &ListFilter,
    grouping: Grouping,
) -> Result<AggregateReportsResponse, StoreError> {
    let cells = cells();
    let mut groups: BTreeMap<String, Sums> = BTreeMap::new();
    let mut total = 0u32;
    store.for_each_listed(filter, |listed| {
        let Some(p) = Projection::decode(&listed.projection) else {
            tracing::warn!(name = %listed.name, "a stored projection is unreadable; the report is left out of the aggregate");
            return ControlFlow::Continue(());
        };
        let key = grouping.key(&listed.name, listed.division_code.as_deref(), &p);
        let g = groups.entry(key).or_insert_with(|| Sums {
            sum: vec![0; cells.len()],
            present: vec![0; cells.len()],
            ..Sums::default()
        });
        g.reports += 1;
        g.blanks += u32::from(p.has_blanks);
        g.errors += u32::from(listed.has_errors);
        for (i, v) in p.values {
            if let (Some(s), Some(n)) = (g.sum.get_mut(i as usize), g.present.get_mut(i as usize)) {
                *s = s.saturating_add(v);
                *n += 1;
            }
        }
        total += 1;
        ControlFlow::Continue(())
    })?;
    let groups = groups
        .into_iter()
        .map(|(key, g)| AggregateGroup {
            key,
            reports: g.reports,
            reports_with_blanks: g.blanks,
            reports_with_errors: g.errors,
            cells: cells
                .iter()
                .enumerate()
                .filter(|&(i, _)| g.present[i] > 0)
                .map(|(i, c)| CellTotal {
                    field_path: c.path(),
                    sum: g.sum[i],
                    reports: g.present[i],
                    money: matches!(c.kind(), CellKind::Money(_)),
                })
                .collect(),
        })
        .collect();
    Ok(AggregateReportsResponse {
        groups,
        reports: total,
    })
}
