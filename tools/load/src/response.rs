//! What a response counts as. A call is ok ([`Done`]) when its status is OK and it has
//! a body where one is expected; it failed ([`CallError`]) with a status, or with a
//! response that failed a check (`bad-response`). The `check_*` functions are the
//! checks of the responses that are decoded (a sample, or all with
//! `--decode-responses`): the report asked for, a validation result with the
//! server's rule-set version, the stored name, a listing that matches its filter,
//! group counts that add up. Responses that are not checked are read through the
//! reduced messages [`ListPageToken`] and [`AggregateCount`].

use std::time::Duration;

use prost::bytes::Bytes;
use tonic::{Code, Status};
use tonic_types::StatusExt;

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

impl CallError {
    /// A refusal the caller is told to retry: RESOURCE_EXHAUSTED with `RetryInfo`;
    /// the delay it asks for.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            CallError::Status(s) if s.code() == Code::ResourceExhausted => s
                .get_error_details()
                .retry_info()
                .map(|r| r.retry_delay.unwrap_or_default()),
            _ => None,
        }
    }
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

#[cfg(test)]
mod tests {
    use nianbao::pb::{
        AggregateGroup, AnnualReport, ReportRevision, ReportSummary, ValidationResult,
    };

    use super::*;

    fn reason<T: std::fmt::Debug>(r: Result<T, CallError>) -> String {
        match r {
            Err(CallError::Bad(reason)) => reason,
            other => panic!("not a bad response: {other:?}"),
        }
    }

    fn revision(name: &str, n: u32, report: bool) -> Option<ReportRevision> {
        Some(ReportRevision {
            name: name.into(),
            revision: n,
            report: report.then(AnnualReport::default),
            ..Default::default()
        })
    }

    fn summary(agency: &str, year: i32, division: &str) -> ReportSummary {
        ReportSummary {
            name: format!("agencies/{agency}/reports/{year}"),
            agency_id: agency.into(),
            year,
            division_code: division.into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_refusal_is_resource_exhausted_with_retry_info() {
        let mut details = tonic_types::ErrorDetails::new();
        details.set_retry_info(Some(Duration::from_millis(250)));
        let refused = Status::with_error_details(Code::ResourceExhausted, "busy", details);
        assert_eq!(
            CallError::from(refused).retry_after(),
            Some(Duration::from_millis(250))
        );
        let bare = Status::resource_exhausted("too large");
        assert_eq!(CallError::from(bare).retry_after(), None);
        assert_eq!(
            CallError::from(Status::unavailable("x")).retry_after(),
            None
        );
        assert_eq!(CallError::Bad("odd".into()).retry_after(), None);
    }

    #[test]
    fn empty_bodies_and_undecodable_bodies_are_bad() {
        assert!(non_empty(&Bytes::from_static(b"\x08\x01")).is_ok());
        assert_eq!(reason(non_empty(&Bytes::new())), "the response is empty");
        // A length-delimited field 1 that claims more bytes than there are.
        let r = decoded::<GetReportResponse>(&Bytes::from_static(b"\x0a\x05ab"));
        assert!(reason(r).starts_with("it does not decode"));
    }

    #[test]
    fn the_reduced_messages_read_the_full_ones() {
        let full = ListReportsResponse {
            reports: vec![summary("a-00001", 2021, "110105")],
            next_page_token: "next".into(),
        };
        let body = Bytes::from(prost::Message::encode_to_vec(&full));
        let token: ListPageToken = decoded(&body).unwrap();
        assert_eq!(token.next_page_token, "next");

        let full = AggregateReportsResponse {
            reports: 12,
            groups: vec![AggregateGroup {
                reports: 12,
                ..Default::default()
            }],
        };
        let body = Bytes::from(prost::Message::encode_to_vec(&full));
        let count: AggregateCount = decoded(&body).unwrap();
        assert_eq!(count.reports, 12);
    }

    #[test]
    fn a_report_is_the_one_asked_for() {
        let name = "agencies/a-00001/reports/2023";
        let ok = GetReportResponse {
            revision: revision(name, 3, true),
            ..Default::default()
        };
        assert_eq!(check_report(name, &ok).unwrap(), Done::checked(3));
        let other = GetReportResponse {
            revision: revision("agencies/a-00002/reports/2023", 3, true),
            ..Default::default()
        };
        assert!(reason(check_report(name, &other)).contains("answered with revision 3"));
        let empty = GetReportResponse {
            revision: revision(name, 3, false),
            ..Default::default()
        };
        assert!(reason(check_report(name, &empty)).contains("has no report"));
        let none = GetReportResponse::default();
        assert!(reason(check_report(name, &none)).ends_with("no revision"));
    }

    #[test]
    fn a_listing_matches_its_filter_and_page_size() {
        let filter = ReportFilter {
            division_prefix: "11".into(),
            year: 2022,
            ..Default::default()
        };
        let page = |reports| ListReportsResponse {
            reports,
            ..Default::default()
        };
        let good = page(vec![
            summary("a-00000", 2022, "110101"),
            summary("a-00001", 2022, "110105"),
        ]);
        assert_eq!(check_listing(&filter, 2, &good).unwrap(), Done::checked(2));
        assert!(reason(check_listing(&filter, 1, &good)).contains("2 reports in a page of 1"));
        let wrong_year = page(vec![summary("a-00000", 2023, "110101")]);
        assert!(reason(check_listing(&filter, 50, &wrong_year)).contains("under year 2022"));
        let wrong_place = page(vec![summary("a-00002", 2022, "310101")]);
        assert!(reason(check_listing(&filter, 50, &wrong_place)).contains("division prefix 11"));
        let mut misnamed = summary("a-00000", 2022, "110101");
        misnamed.name = "agencies/a-00009/reports/2022".into();
        assert!(reason(check_listing(&filter, 50, &page(vec![misnamed]))).contains("is about"));
        // No filter: anything goes, an empty page too.
        let any = ReportFilter::default();
        assert!(check_listing(&any, 50, &wrong_place).is_ok());
        assert_eq!(
            check_listing(&any, 50, &page(vec![])).unwrap(),
            Done::checked(0)
        );
    }

    #[test]
    fn a_validation_is_of_the_servers_rule_set() {
        let response = |version: &str, report: bool| ValidateReportResponse {
            result: Some(ValidationResult {
                rule_set_version: version.into(),
                errors: 2,
                ..Default::default()
            }),
            report: report.then(AnnualReport::default),
        };
        assert_eq!(
            check_validation("v7", &response("v7", true)).unwrap(),
            Done::checked(2)
        );
        assert!(reason(check_validation("v7", &response("v6", true))).contains("\"v6\""));
        assert!(reason(check_validation("", &response("", true))).contains("rule set"));
        assert!(reason(check_validation("v7", &response("v7", false))).contains("no report"));
        let none = ValidateReportResponse::default();
        assert!(reason(check_validation("v7", &none)).contains("no result"));
    }

    #[test]
    fn a_submission_is_stored_under_its_name() {
        let name = "agencies/s1-00000/reports/2021";
        let ok = SubmitReportResponse {
            revision: revision(name, 1, false),
            ..Default::default()
        };
        assert_eq!(check_submission(name, &ok).unwrap(), Done::checked(1));
        let zero = SubmitReportResponse {
            revision: revision(name, 0, false),
            ..Default::default()
        };
        assert!(reason(check_submission(name, &zero)).contains("stored revision 0"));
        let elsewhere = SubmitReportResponse {
            revision: revision("agencies/s1-00001/reports/2021", 1, false),
            ..Default::default()
        };
        assert!(check_submission(name, &elsewhere).is_err());
    }

    #[test]
    fn aggregate_groups_add_up_to_the_count() {
        let group = |reports| AggregateGroup {
            reports,
            ..Default::default()
        };
        let ok = AggregateReportsResponse {
            reports: 5,
            groups: vec![group(2), group(3)],
        };
        assert_eq!(check_aggregate(&ok).unwrap(), Done::checked(5));
        let short = AggregateReportsResponse {
            reports: 6,
            groups: vec![group(2), group(3)],
        };
        assert!(reason(check_aggregate(&short)).contains("its groups hold 5"));
    }
}
