//! What a response counts as. A call is ok ([`Done`]) when its status is OK and it has
//! a body where one is expected; it failed ([`CallError`]) with a status, or with a
//! response that failed a check (`bad-response`). The `check_*` functions are the
//! checks of the responses that are decoded (a sample, or all with
//! `--decode-responses`): the report asked for, a validation result with the
//! server's rule-set version, the stored name, a listing that matches its filter,
//! group counts that add up. Responses that are not checked are read through the
//! reduced messages [`ListPageToken`] and [`AggregateCount`].

use prost::bytes::Bytes;
use tonic::Status;

use nianbao::pb::{
    AggregateReportsResponse, GetReportResponse, ListReportsResponse, ReportFilter,
    SubmitReportResponse, ValidateReportResponse,
};

/// The errors-by-code entry of responses that fail a check.
pub const BAD_RESPONSE: &str = "bad-response";

/// Why a call did not count as ok.
#[derive(Debug)]
pub enum CallError {
    /// The server answered with this status (or the call failed on the way).
    Status(Status),
    /// Status OK, but the response failed a check: why.
    Bad(String),
}

impl From<Status> for CallError {
    fn from(s: Status) -> Self {
        CallError::Status(s)
    }
}

/// A successful call: a count worth showing (reports aggregated...), and whether its
/// response was decoded and checked.
#[derive(Debug, PartialEq, Eq)]
pub struct Done {
    pub count: u64,
    pub checked: bool,
}

impl Done {
    pub fn unchecked() -> Done {
        Done {
            count: 0,
            checked: false,
        }
    }

    pub fn checked(count: u64) -> Done {
        Done {
            count,
            checked: true,
        }
    }
}

/// `ListReportsResponse` reduced to its page token: decoding it skips the summaries
/// (field 1) without looking into them.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ListPageToken {
    #[prost(string, tag = "2")]
    pub next_page_token: String,
}

/// `AggregateReportsResponse` reduced to its count: decoding it skips the groups.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AggregateCount {
    #[prost(uint32, tag = "2")]
    pub reports: u32,
}

/// `body` decoded as an `M`; a body that does not decode is a bad response.
pub fn decoded<M: prost::Message + Default>(body: &Bytes) -> Result<M, CallError> {
    M::decode(body.clone()).map_err(|e| CallError::Bad(format!("it does not decode: {e}")))
}

/// A method that always answers with a message must not answer with nothing.
pub fn non_empty(body: &Bytes) -> Result<(), CallError> {
    if body.is_empty() {
        Err(CallError::Bad("the response is empty".into()))
    } else {
        Ok(())
    }
}

fn bad<T>(reason: String) -> Result<T, CallError> {
    Err(CallError::Bad(reason))
}

/// A GetReport of `name`: the latest revision of that report, with its report.
pub fn check_report(name: &str, r: &GetReportResponse) -> Result<Done, CallError> {
    let Some(revision) = &r.revision else {
        return bad(format!("GetReport {name}: no revision"));
    };
    if revision.name != name {
        return bad(format!(
            "GetReport {name} answered with revision {} of {:?}",
            revision.revision, revision.name
        ));
    }
    if revision.report.is_none() {
        return bad(format!(
            "GetReport {name}: revision {} has no report",
            revision.revision
        ));
    }
    Ok(Done::checked(u64::from(revision.revision)))
}

/// A sampled ListReports page: every summary must match the filter it was listed with.
pub fn check_listing(
    filter: &ReportFilter,
    page_size: i32,
    r: &ListReportsResponse,
) -> Result<Done, CallError> {
    if page_size > 0 && r.reports.len() > page_size as usize {
        return bad(format!(
            "{} reports in a page of {page_size}",
            r.reports.len()
        ));
    }
    for s in &r.reports {
        let name = format!("agencies/{}/reports/{}", s.agency_id, s.year);
        if s.name != name {
            return bad(format!("the summary of {:?} is about {name}", s.name));
        }
        if filter.year != 0 && s.year != filter.year {
            return bad(format!("{} listed under year {}", s.name, filter.year));
        }
        if !s.division_code.starts_with(&filter.division_prefix) {
            return bad(format!(
                "{} (division {:?}) listed under division prefix {}",
                s.name, s.division_code, filter.division_prefix
            ));
        }
    }
    Ok(Done::checked(r.reports.len() as u64))
}

/// A ValidateReport: a result of the rule set the server announces, and the report.
pub fn check_validation(
    rule_set_version: &str,
    r: &ValidateReportResponse,
) -> Result<Done, CallError> {
    let Some(result) = &r.result else {
        return bad("ValidateReport: no result".into());
    };
    if result.rule_set_version.is_empty() || result.rule_set_version != rule_set_version {
        return bad(format!(
            "ValidateReport: rule set {:?}, the server's is {:?}",
            result.rule_set_version, rule_set_version
        ));
    }
    if r.report.is_none() {
        return bad("ValidateReport: no report in the response".into());
    }
    Ok(Done::checked(u64::from(result.errors)))
}

/// A SubmitReport of the report to be named `name`: a revision of that name.
pub fn check_submission(name: &str, r: &SubmitReportResponse) -> Result<Done, CallError> {
    let Some(revision) = &r.revision else {
        return bad(format!("SubmitReport of {name}: no revision"));
    };
    if revision.name != name || revision.revision == 0 {
        return bad(format!(
            "SubmitReport of {name} stored revision {} of {:?}",
            revision.revision, revision.name
        ));
    }
    Ok(Done::checked(u64::from(revision.revision)))
}

/// An AggregateReports answer: its groups hold all its reports.
pub fn check_aggregate(r: &AggregateReportsResponse) -> Result<Done, CallError> {
    let grouped: u64 = r.groups.iter().map(|g| u64::from(g.reports)).sum();
    if grouped != u64::from(r.reports) {
        return bad(format!(
            "AggregateReports: {} reports, but its groups hold {grouped}",
            r.reports
        ));
    }
    Ok(Done::checked(u64::from(r.reports)))
}

