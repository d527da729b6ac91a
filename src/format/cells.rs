//! Addressing single table cells of an [`AnnualReport`] by their format ids.

use super::{
    CellKind, Column, PROACTIVE_ROWS, REQUEST_COLUMNS, REQUEST_ROWS, REVIEW_COLUMNS, REVIEW_GROUPS,
};
use crate::pb::{
    AnnualReport, DocumentRow, FeeRow, ItemRow, MoneyAmount, OutcomeGroup, ProcurementRow,
    RequestRow,
};

/// One cell of table 二, 三 or 四. Indexes refer to the format catalogue
/// ([`PROACTIVE_ROWS`] with its column id, [`REQUEST_ROWS`] × [`REQUEST_COLUMNS`],
/// [`REVIEW_GROUPS`] × [`REVIEW_COLUMNS`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CellRef {
    Proactive { row: u8, col: &'static str },
    Request { row: u8, col: u8 },
    Review { group: u8, col: u8 },
}

/// A cell's value.
#[derive(Clone, Debug, PartialEq)]
pub enum CellValue {
    /// Counts and signed counts.
    Int(i64),
    Money(MoneyAmount),
}

impl CellValue {
    pub fn as_int(&self) -> Option<i64> {
        match self {
            CellValue::Int(v) => Some(*v),
            CellValue::Money(_) => None,
        }
    }
}

impl std::fmt::Display for CellValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CellValue::Int(v) => write!(f, "{v}"),
            CellValue::Money(m) => f.write_str(&m.decimal),
        }
    }
}

impl CellRef {
    pub fn request(row: usize, col: usize) -> CellRef {
        CellRef::Request {
            row: row as u8,
            col: col as u8,
        }
    }

    pub fn review(group: usize, col: usize) -> CellRef {
        CellRef::Review {
            group: group as u8,
            col: col as u8,
        }
    }

    /// The proto field path, e.g. `requests.granted.natural_person`.
    pub fn path(&self) -> String {
        if let CellRef::Request { row, col } = *self {
            // The hot case (table 三 has 182 cells): precomputed.
            static PATHS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
            let paths = PATHS.get_or_init(|| {
                (0..REQUEST_ROWS.len() * REQUEST_COLUMNS.len())
                    .map(|i| {
                        let (r, c) = (i / REQUEST_COLUMNS.len(), i % REQUEST_COLUMNS.len());
                        format!("requests.{}.{}", REQUEST_ROWS[r].id, REQUEST_COLUMNS[c].id)
                    })
                    .collect()
            });
            if let Some(p) = paths.get(row as usize * REQUEST_COLUMNS.len() + col as usize) {
                return p.clone();
            }
        }
        self.format_path()
    }

    fn format_path(&self) -> String {
        match *self {
            CellRef::Proactive { row, col } => {
                format!("proactive.{}.{}", PROACTIVE_ROWS[row as usize].id, col)
            }
            CellRef::Request { row, col } => format!(
                "requests.{}.{}",
                REQUEST_ROWS[row as usize].id, REQUEST_COLUMNS[col as usize].id
            ),
            CellRef::Review { group, col } => format!(
                "review_litigation.{}.{}",
                REVIEW_GROUPS[group as usize].0, REVIEW_COLUMNS[col as usize].id
            ),
        }
    }

    /// Parses a field path back into a cell reference.
    pub fn from_path(path: &str) -> Option<CellRef> {
        let mut parts = path.split('.');
        let (table, row, col) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        match table {
            "proactive" => {
                let r = PROACTIVE_ROWS.iter().position(|s| s.id == row)?;
                let spec = &PROACTIVE_ROWS[r];
                let c = spec.v2021.iter().chain(spec.v2019).find(|c| c.id == col)?;
                Some(CellRef::Proactive {
                    row: r as u8,
                    col: c.id,
                })
            }
            "requests" => {
                let r = REQUEST_ROWS.iter().position(|s| s.id == row)?;
                let c = REQUEST_COLUMNS.iter().position(|s| s.id == col)?;
                Some(CellRef::request(r, c))
            }
            "review_litigation" => {
                let g = REVIEW_GROUPS.iter().position(|s| s.0 == row)?;
                let c = REVIEW_COLUMNS.iter().position(|s| s.id == col)?;
                Some(CellRef::review(g, c))
            }
            _ => None,
        }
    }

    /// The column this cell is in.
    pub fn column(&self) -> Column {
        match *self {
            CellRef::Proactive { row, col } => {
                let spec = &PROACTIVE_ROWS[row as usize];
                spec.v2021
                    .iter()
                    .chain(spec.v2019)
                    .find(|c| c.id == col)
                    .copied()
                    .unwrap_or(super::count("?", "?"))
            }
            CellRef::Request { col, .. } => REQUEST_COLUMNS[col as usize],
            CellRef::Review { col, .. } => REVIEW_COLUMNS[col as usize],
        }
    }

    pub fn kind(&self) -> CellKind {
        self.column().kind
    }

    /// Reads the cell; `None` when absent.
    pub fn get(&self, report: &AnnualReport) -> Option<CellValue> {
        match *self {
            CellRef::Request { row, col } => {
                let t = report.requests.as_ref()?;
                let r = request_row(t, row as usize)?;
                request_cell(r, col as usize).map(|v| CellValue::Int(v.into()))
            }
            CellRef::Review { group, col } => {
                let t = report.review_litigation.as_ref()?;
                let g = match group {
                    0 => t.review.as_ref(),
                    1 => t.litigation_direct.as_ref(),
                    _ => t.litigation_after_review.as_ref(),
                }?;
                outcome_cell(g, col as usize).map(|v| CellValue::Int(v.into()))
            }
            CellRef::Proactive { row, col } => {
                let t = report.proactive.as_ref()?;
                match row {
                    0 | 1 => {
                        let r = if row == 0 {
                            t.regulations.as_ref()
                        } else {
                            t.normative_documents.as_ref()
                        }?;
                        document_cell(r, col).map(|v| CellValue::Int(v.into()))
                    }
                    2..=5 => {
                        let r = match row {
                            2 => t.administrative_licensing.as_ref(),
                            3 => t.other_external_services.as_ref(),
                            4 => t.administrative_penalty.as_ref(),
                            _ => t.administrative_coercion.as_ref(),
                        }?;
                        match col {
                            "decisions" => r.decisions.map(|v| CellValue::Int(v.into())),
                            "prev_year_items" => {
                                r.prev_year_items.map(|v| CellValue::Int(v.into()))
                            }
                            "change_this_year" => {
                                r.change_this_year.map(|v| CellValue::Int(v.into()))
                            }
                            _ => None,
                        }
                    }
                    6 => {
                        let r = t.administrative_fees.as_ref()?;
                        match col {
                            "amount" => r.amount.clone().map(CellValue::Money),
                            "prev_year_items" => {
                                r.prev_year_items.map(|v| CellValue::Int(v.into()))
                            }
                            "change_this_year" => {
                                r.change_this_year.map(|v| CellValue::Int(v.into()))
                            }
                            _ => None,
                        }
                    }
                    _ => {
                        let r = t.centralized_procurement.as_ref()?;
                        match col {
                            "procurement_projects" => {
                                r.procurement_projects.map(|v| CellValue::Int(v.into()))
                            }
                            "procurement_amount" => {
                                r.procurement_amount.clone().map(CellValue::Money)
                            }
                            _ => None,
                        }
                    }
                }
            }
        }
    }

    /// Reads an integer cell (counts, signed counts); `None` when absent or money.
    pub fn get_int(&self, report: &AnnualReport) -> Option<i64> {
        // Tables 三 and 四 are read for every relation of every validation: read
        // them directly instead of through a `CellValue`.
        match *self {
            CellRef::Request { row, col } => {
                let r = request_row(report.requests.as_ref()?, row as usize)?;
                request_cell(r, col as usize).map(i64::from)
            }
            CellRef::Review { group, col } => {
                let t = report.review_litigation.as_ref()?;
                let g = match group {
                    0 => t.review.as_ref(),
                    1 => t.litigation_direct.as_ref(),
                    _ => t.litigation_after_review.as_ref(),
                }?;
                outcome_cell(g, col as usize).map(i64::from)
            }
            CellRef::Proactive { .. } => self.get(report).and_then(|v| v.as_int()),
        }
    }

    /// Writes the cell (`None` clears it). An integer out of the cell's range is
    /// clamped into it; callers check ranges before writing.
    pub fn set(&self, report: &mut AnnualReport, value: Option<CellValue>) {
        let int = value.as_ref().and_then(CellValue::as_int);
        let count = int.map(|v| v.clamp(0, u32::MAX as i64) as u32);
        let signed = int.map(|v| v.clamp(i32::MIN as i64, i32::MAX as i64) as i32);
        match *self {
            CellRef::Request { row, col } => {
                let t = report.requests.get_or_insert_with(Default::default);
                let r = request_row_mut(t, row as usize).get_or_insert_with(Default::default);
                *request_cell_mut(r, col as usize) = count;
            }
            CellRef::Review { group, col } => {
                let t = report
                    .review_litigation
                    .get_or_insert_with(Default::default);
                let g = match group {
                    0 => &mut t.review,
                    1 => &mut t.litigation_direct,
                    _ => &mut t.litigation_after_review,
                }
                .get_or_insert_with(Default::default);
                *outcome_cell_mut(g, col as usize) = count;
            }
            CellRef::Proactive { row, col } => {
                let t = report.proactive.get_or_insert_with(Default::default);
                match row {
                    0 | 1 => {
                        let r: &mut DocumentRow = if row == 0 {
                            &mut t.regulations
                        } else {
                            &mut t.normative_documents
                        }
                        .get_or_insert_with(Default::default);
                        match col {
                            "issued" => r.issued = count,
                            "repealed" => r.repealed = count,
                            "in_force" => r.in_force = count,
                            "newly_made" => r.newly_made = count,
                            "newly_published" => r.newly_published = count,
                            "total_published" => r.total_published = count,
                            _ => {}
                        }
                    }
                    2..=5 => {
                        let r: &mut ItemRow = match row {
                            2 => &mut t.administrative_licensing,
                            3 => &mut t.other_external_services,
                            4 => &mut t.administrative_penalty,
                            _ => &mut t.administrative_coercion,
                        }
                        .get_or_insert_with(Default::default);
                        match col {
                            "decisions" => r.decisions = count,
                            "prev_year_items" => r.prev_year_items = count,
                            "change_this_year" => r.change_this_year = signed,
                            _ => {}
                        }
                    }
                    6 => {
                        let r: &mut FeeRow =
                            t.administrative_fees.get_or_insert_with(Default::default);
                        match col {
                            "amount" => r.amount = money(value),
                            "prev_year_items" => r.prev_year_items = count,
                            "change_this_year" => r.change_this_year = signed,
                            _ => {}
                        }
                    }
                    _ => {
                        let r: &mut ProcurementRow = t
                            .centralized_procurement
                            .get_or_insert_with(Default::default);
                        match col {
                            "procurement_projects" => r.procurement_projects = count,
                            "procurement_amount" => r.procurement_amount = money(value),
                            _ => {}
                        }
                    }
                }
            }
        }
    }
}

fn money(value: Option<CellValue>) -> Option<MoneyAmount> {
    match value? {
        CellValue::Money(m) => Some(m),
        CellValue::Int(v) => Some(MoneyAmount {
            raw: v.to_string(),
            fen: None,
            unit: 0,
            decimal: v.to_string(),
        }),
    }
}

/// The row of table 三 at a [`REQUEST_ROWS`] index.
pub fn request_row(t: &crate::pb::RequestsTable, row: usize) -> Option<&RequestRow> {
    match row {
        0 => t.new_received.as_ref(),
        1 => t.carried_over.as_ref(),
        2 => t.granted.as_ref(),
        3 => t.partially_granted.as_ref(),
        4 => t.denied_state_secret.as_ref(),
        5 => t.denied_prohibited_by_law.as_ref(),
        6 => t.denied_security_stability.as_ref(),
        7 => t.denied_third_party_rights.as_ref(),
        8 => t.denied_internal_affairs.as_ref(),
        9 => t.denied_process_info.as_ref(),
        10 => t.denied_enforcement_file.as_ref(),
        11 => t.denied_admin_inquiry.as_ref(),
        12 => t.unable_not_held.as_ref(),
        13 => t.unable_needs_creation.as_ref(),
        14 => t.unable_unclear_after_correction.as_ref(),
        15 => t.not_processed_complaint.as_ref(),
        16 => t.not_processed_duplicate.as_ref(),
        17 => t.not_processed_publication.as_ref(),
        18 => t.not_processed_excessive.as_ref(),
        19 => t.not_processed_confirm_reissue.as_ref(),
        20 => t.other_no_correction.as_ref(),
        21 => t.other_fee_unpaid.as_ref(),
        22 => t.other_misc.as_ref(),
        23 => t.results_total.as_ref(),
        24 => t.carried_forward.as_ref(),
        25 => t.other_handling.as_ref(),
        _ => None,
    }
}

fn request_row_mut(t: &mut crate::pb::RequestsTable, row: usize) -> &mut Option<RequestRow> {
    match row {
        0 => &mut t.new_received,
        1 => &mut t.carried_over,
        2 => &mut t.granted,
        3 => &mut t.partially_granted,
        4 => &mut t.denied_state_secret,
        5 => &mut t.denied_prohibited_by_law,
        6 => &mut t.denied_security_stability,
        7 => &mut t.denied_third_party_rights,
        8 => &mut t.denied_internal_affairs,
        9 => &mut t.denied_process_info,
        10 => &mut t.denied_enforcement_file,
        11 => &mut t.denied_admin_inquiry,
        12 => &mut t.unable_not_held,
        13 => &mut t.unable_needs_creation,
        14 => &mut t.unable_unclear_after_correction,
        15 => &mut t.not_processed_complaint,
        16 => &mut t.not_processed_duplicate,
        17 => &mut t.not_processed_publication,
        18 => &mut t.not_processed_excessive,
        19 => &mut t.not_processed_confirm_reissue,
        20 => &mut t.other_no_correction,
        21 => &mut t.other_fee_unpaid,
        22 => &mut t.other_misc,
        23 => &mut t.results_total,
        24 => &mut t.carried_forward,
        _ => &mut t.other_handling,
    }
}

/// A cell of a table-三 row at a [`REQUEST_COLUMNS`] index.
pub fn request_cell(r: &RequestRow, col: usize) -> Option<u32> {
    match col {
        0 => r.natural_person,
        1 => r.commercial_enterprise,
        2 => r.research_institution,
        3 => r.public_welfare_org,
        4 => r.legal_service_org,
        5 => r.other_org,
        _ => r.total,
    }
}

fn request_cell_mut(r: &mut RequestRow, col: usize) -> &mut Option<u32> {
    match col {
        0 => &mut r.natural_person,
        1 => &mut r.commercial_enterprise,
        2 => &mut r.research_institution,
        3 => &mut r.public_welfare_org,
        4 => &mut r.legal_service_org,
        5 => &mut r.other_org,
        _ => &mut r.total,
    }
}

fn outcome_cell(g: &OutcomeGroup, col: usize) -> Option<u32> {
    match col {
        0 => g.upheld,
        1 => g.corrected,
        2 => g.other_outcome,
        3 => g.pending,
        _ => g.total,
    }
}

fn outcome_cell_mut(g: &mut OutcomeGroup, col: usize) -> &mut Option<u32> {
    match col {
        0 => &mut g.upheld,
        1 => &mut g.corrected,
        2 => &mut g.other_outcome,
        3 => &mut g.pending,
        _ => &mut g.total,
    }
}

fn document_cell(r: &DocumentRow, col: &str) -> Option<u32> {
    match col {
        "issued" => r.issued,
        "repealed" => r.repealed,
        "in_force" => r.in_force,
        "newly_made" => r.newly_made,
        "newly_published" => r.newly_published,
        "total_published" => r.total_published,
        _ => None,
    }
}

/// Every cell of the tables of a version, in printed order (table 二, 三, 四).
pub fn all_cells(version: crate::pb::FormatVersion) -> Vec<CellRef> {
    let mut out = Vec::with_capacity(220);
    for &r in super::proactive_rows(version) {
        for c in PROACTIVE_ROWS[r].columns(version) {
            out.push(CellRef::Proactive {
                row: r as u8,
                col: c.id,
            });
        }
    }
    for &r in super::requests_rows(version) {
        for c in 0..REQUEST_COLUMNS.len() {
            out.push(CellRef::request(r, c));
        }
    }
    for g in 0..REVIEW_GROUPS.len() {
        for c in 0..REVIEW_COLUMNS.len() {
            out.push(CellRef::review(g, c));
        }
    }
    out
}
