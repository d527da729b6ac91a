//! The scenarios: what a run sends ([`Workload`], everything prepared before the clock
//! starts), which request is next ([`pick_op`]), building it (a GetReport of a random
//! name, a ListReports page that resumes a listing, the pre-encoded ValidateReport and
//! SubmitReport bodies, an AggregateReports of the chosen grouping, an echo), sending
//! it with [`RawCodec`], and checking the response when it is sampled.
//!
//! Responses are not decoded by default: the client's cost per request is kept close
//! to the echo client's so that the server is what is measured. A sampled response
//! (see `measure`), or every one with `--decode-responses`, is decoded with the
//! `nianbao::pb` types and checked (`response`); the first bad one is described on
//! stderr.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use fastrand::Rng;
use prost::bytes::Bytes;
use tonic::codegen::http;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;
use tonic::{Request, Status};

use nianbao::pb::{
    AggregateReportsRequest, AggregateReportsResponse, GetReportRequest, GetReportResponse,
    GroupBy, ListReportsRequest, ListReportsResponse, ReportFilter, SubmitReportRequest,
    SubmitReportResponse, ValidateReportRequest, ValidateReportResponse,
};

use crate::cli::{Grouping, Scenario};
use crate::codec::{RawCodec, Wire};
use crate::echo::{echo_call, EchoMessage};
use crate::generate::{SubmitBodies, DIVISIONS, SUBMIT_YEARS};
use crate::net::submitter;
use crate::response::{
    check_aggregate, check_listing, check_report, check_submission, check_validation, decoded,
    non_empty, AggregateCount, CallError, Done, ListPageToken, BAD_RESPONSE,
};

/// The methods called (see proto/nianbao/v1/service.proto).
const GET_REPORT: &str = "/nianbao.v1.ReportRegistry/GetReport";
const LIST_REPORTS: &str = "/nianbao.v1.ReportRegistry/ListReports";
const SUBMIT_REPORT: &str = "/nianbao.v1.ReportRegistry/SubmitReport";
const AGGREGATE_REPORTS: &str = "/nianbao.v1.ReportRegistry/AggregateReports";
const VALIDATE_REPORT: &str = "/nianbao.v1.ReportValidator/ValidateReport";

/// Largest response the client accepts.
pub const MAX_RESPONSE_BYTES: usize = 256 << 20;

/// Most listings in progress kept to be resumed (their next page tokens).
const MAX_OPEN_LISTINGS: usize = 4096;

/// What one run sends: everything prepared before the clock starts
/// (`prepare::prepare_workload`).
pub struct Workload {
    pub scenario: Scenario,
    pub connections: Vec<Channel>,
    /// `--identity`: sent as `x-nianbao-submitter` with every call.
    pub identity: Option<MetadataValue<Ascii>>,
    /// get, mixed-get-list: the report names to pick from.
    pub names: Vec<String>,
    /// list, mixed-get-list: the filters listings start with ([`list_filters`]).
    pub filters: Vec<ReportFilter>,
    /// Listings in progress: (filter, next page token).
    pub tokens: Mutex<Vec<(usize, String)>>,
    pub page_size: i32,
    pub get_percent: u32,
    /// validate, validate-text: the ValidateReportRequest, encoded once.
    pub validate_body: Option<Bytes>,
    /// validate, validate-text: the rule-set version the server announces (ListRules).
    pub rule_set_version: String,
    /// submit: the requests' pieces.
    pub submit: Option<SubmitBodies>,
    pub submit_agencies: Option<u64>,
    pub submitted: AtomicU64,
    pub group_by: Grouping,
    pub echo: EchoMessage,
    /// Decode and check every response (`--decode-responses`), not just a sample.
    pub decode_responses: bool,
    /// Whether a bad response has been described on stderr (only the first is).
    pub reported_bad: AtomicBool,
    /// Whether to print each call (aggregate).
    pub print_each: bool,
    /// Calls printed so far (aggregate).
    pub calls: AtomicU64,
}

/// One kind of request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Get,
    List,
    Validate,
    ValidateText,
    Submit,
    Aggregate,
    Echo,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Get => "GetReport",
            Op::List => "ListReports",
            Op::Validate => "ValidateReport (entity)",
            Op::ValidateText => "ValidateReport (text)",
            Op::Submit => "SubmitReport",
            Op::Aggregate => "AggregateReports",
            Op::Echo => "Echo",
        }
    }
}

/// The next request of `scenario`: its one kind, or for mixed-get-list a GetReport
/// `get_percent` times in 100 and a ListReports otherwise.
pub fn pick_op(scenario: Scenario, get_percent: u32, rng: &mut Rng) -> Op {
    match scenario {
        Scenario::Get => Op::Get,
        Scenario::List => Op::List,
        Scenario::MixedGetList => {
            if rng.u32(..100) < get_percent {
                Op::Get
            } else {
                Op::List
            }
        }
        Scenario::Validate => Op::Validate,
        Scenario::ValidateText => Op::ValidateText,
        Scenario::Submit => Op::Submit,
        Scenario::Aggregate => Op::Aggregate,
        Scenario::Echo => Op::Echo,
    }
}

/// The filters a listing starts with: none, each province of [`DIVISIONS`], every third
/// of their cities, each year 2021..=2025.
pub fn list_filters() -> Vec<ReportFilter> {
    let mut filters = vec![ReportFilter::default()];
    let mut provinces: Vec<&str> = DIVISIONS.iter().map(|(c, _)| &c[..2]).collect();
    provinces.dedup();
    for p in provinces {
        filters.push(ReportFilter {
            division_prefix: p.to_string(),
            ..Default::default()
        });
    }
    for (code, _) in DIVISIONS.iter().step_by(3) {
        filters.push(ReportFilter {
            division_prefix: code[..4].to_string(),
            ..Default::default()
        });
    }
    for year in 2021..=2025 {
        filters.push(ReportFilter {
            year,
            ..Default::default()
        });
    }
    filters
}

/// The AggregateReports request of a `--group-by`, over the whole store.
pub fn aggregate_request(grouping: Grouping) -> AggregateReportsRequest {
    let (group_by, division_prefix_length) = match grouping {
        Grouping::None => (GroupBy::Unspecified, 0),
        Grouping::Year => (GroupBy::Year, 0),
        Grouping::Province => (GroupBy::DivisionPrefix, 2),
        Grouping::City => (GroupBy::DivisionPrefix, 4),
        Grouping::Level => (GroupBy::AgencyLevel, 0),
        Grouping::Kind => (GroupBy::AgencyKind, 0),
    };
    AggregateReportsRequest {
        filter: None,
        group_by: group_by as i32,
        division_prefix_length,
    }
}

/// Which generated report the `n`th submission is: `n`, or with `--agencies K` `n`
/// modulo the K agencies' reports, so that later submissions make new revisions.
pub fn submission_index(n: u64, agencies: Option<u64>) -> u64 {
    match agencies {
        Some(a) => n % (a.max(1) * SUBMIT_YEARS),
        None => n,
    }
}

impl Workload {
    /// The connection of `caller` (round robin).
    fn channel(&self, caller: u64) -> Channel {
        self.connections[(caller % self.connections.len() as u64) as usize].clone()
    }

    /// One request. `sample`: decode and check the response (always done with
    /// `--decode-responses`). A failed check is described on stderr the first time.
    pub async fn call(&self, caller: u64, rng: &mut Rng, sample: bool) -> Result<Done, CallError> {
        let op = pick_op(self.scenario, self.get_percent, rng);
        let check = sample || self.decode_responses;
        let result = match op {
            Op::Get => self.get(caller, rng, check).await,
            Op::List => self.list(caller, rng, check).await,
            Op::Validate | Op::ValidateText => self.validate(caller, check).await,
            Op::Submit => self.submit(caller, check).await,
            Op::Aggregate => self.aggregate(caller, check).await,
            Op::Echo => self.echo(caller).await,
        };
        if let Err(CallError::Bad(reason)) = &result {
            if !self.reported_bad.swap(true, Ordering::Relaxed) {
                eprintln!(
                    "nianbao-load: a bad {} response (counted as `{BAD_RESPONSE}`; only the first is shown): {reason}",
                    op.name()
                );
            }
        }
        result
    }

    /// One unary call of `path`; the response's bytes, undecoded. The submitter header
    /// carries `--identity` when given, else `nianbao-load` when `with_submitter`.
    async fn unary<M: prost::Message + 'static>(
        &self,
        caller: u64,
        path: &'static str,
        body: Wire<M>,
        with_submitter: bool,
    ) -> Result<Bytes, Status> {
        let mut grpc = tonic::client::Grpc::new(self.channel(caller))
            .max_decoding_message_size(MAX_RESPONSE_BYTES);
        grpc.ready()
            .await
            .map_err(|e| Status::unavailable(format!("the connection is not ready: {e}")))?;
        let mut request = Request::new(body);
        let submitter = match &self.identity {
            Some(identity) => Some(identity.clone()),
            None => with_submitter.then(submitter),
        };
        if let Some(value) = submitter {
            request
                .metadata_mut()
                .insert(nianbao::service::registry::SUBMITTER_HEADER, value);
        }
        let response = grpc
            .unary(
                request,
                http::uri::PathAndQuery::from_static(path),
                RawCodec::<M>::default(),
            )
            .await?;
        Ok(response.into_inner())
    }

    /// GetReport (latest revision) of a name picked at random.
    async fn get(&self, caller: u64, rng: &mut Rng, check: bool) -> Result<Done, CallError> {
        let name = rng
            .choice(&self.names)
            .ok_or_else(|| Status::internal("no report names to get"))?;
        let request = GetReportRequest {
            name: name.clone(),
            revision: 0,
        };
        let body = self
            .unary(caller, GET_REPORT, Wire::Message(request), false)
            .await?;
        non_empty(&body)?;
        if !check {
            return Ok(Done::unchecked());
        }
        check_report(name, &decoded::<GetReportResponse>(&body)?)
    }

    /// The next page of a listing in progress, or the first page of a new one under a
    /// random filter; a listing with more pages is kept to be resumed.
    async fn list(&self, caller: u64, rng: &mut Rng, check: bool) -> Result<Done, CallError> {
        let (filter, token) = self.listing_to_continue(rng)?;
        let request = ListReportsRequest {
            filter: Some(self.filters[filter].clone()),
            page_size: self.page_size,
            page_token: token,
        };
        // An empty body is an answer: no reports, last page.
        let body = self
            .unary(caller, LIST_REPORTS, Wire::Message(request), false)
            .await?;
        let (next, done) = if check {
            let r: ListReportsResponse = decoded(&body)?;
            let done = check_listing(&self.filters[filter], self.page_size, &r)?;
            (r.next_page_token, done)
        } else {
            let r: ListPageToken = decoded(&body)?;
            (r.next_page_token, Done::unchecked())
        };
        self.keep_listing(filter, next);
        Ok(done)
    }

    /// A listing in progress (filter, page token), or a new one: (random filter, "").
    fn listing_to_continue(&self, rng: &mut Rng) -> Result<(usize, String), Status> {
        if let Some(resumed) = self.tokens.lock().ok().and_then(|mut t| t.pop()) {
            return Ok(resumed);
        }
        let filter = rng
            .choice(0..self.filters.len())
            .ok_or_else(|| Status::internal("no filters to list with"))?;
        Ok((filter, String::new()))
    }

    /// Keeps a listing with a next page to be resumed (up to [`MAX_OPEN_LISTINGS`]).
    fn keep_listing(&self, filter: usize, next_page_token: String) {
        if next_page_token.is_empty() {
            return;
        }
        if let Ok(mut t) = self.tokens.lock() {
            if t.len() < MAX_OPEN_LISTINGS {
                t.push((filter, next_page_token));
            }
        }
    }

    /// ValidateReport of the request encoded once (entity or published text).
    async fn validate(&self, caller: u64, check: bool) -> Result<Done, CallError> {
        let request = self
            .validate_body
            .clone()
            .ok_or_else(|| Status::internal("no report to send"))?;
        let body = self
            .unary::<ValidateReportRequest>(caller, VALIDATE_REPORT, Wire::Encoded(request), false)
            .await?;
        non_empty(&body)?;
        if !check {
            return Ok(Done::unchecked());
        }
        check_validation(
            &self.rule_set_version,
            &decoded::<ValidateReportResponse>(&body)?,
        )
    }

    /// SubmitReport of the next generated report, pieced together.
    async fn submit(&self, caller: u64, check: bool) -> Result<Done, CallError> {
        let pieces = self
            .submit
            .as_ref()
            .ok_or_else(|| Status::internal("no report to send"))?;
        let n = self.submitted.fetch_add(1, Ordering::Relaxed);
        let i = submission_index(n, self.submit_agencies);
        let (name, request) = pieces.request(i).map_err(Status::internal)?;
        let body = self
            .unary::<SubmitReportRequest>(caller, SUBMIT_REPORT, Wire::Encoded(request), true)
            .await?;
        non_empty(&body)?;
        if !check {
            return Ok(Done::unchecked());
        }
        check_submission(&name, &decoded::<SubmitReportResponse>(&body)?)
    }

    /// AggregateReports over the whole store; the count of reports is always read
    /// (it is printed for each call).
    async fn aggregate(&self, caller: u64, check: bool) -> Result<Done, CallError> {
        let request = aggregate_request(self.group_by);
        // An empty body is an answer: an empty store.
        let body = self
            .unary(caller, AGGREGATE_REPORTS, Wire::Message(request), false)
            .await?;
        if !check {
            // Read the count, skipping the groups.
            let r: AggregateCount = decoded(&body)?;
            return Ok(Done {
                count: u64::from(r.reports),
                checked: false,
            });
        }
        check_aggregate(&decoded::<AggregateReportsResponse>(&body)?)
    }

    /// The echo method (`echo-server`).
    async fn echo(&self, caller: u64) -> Result<Done, CallError> {
        let r = echo_call(self.channel(caller), self.echo.clone()).await?;
        Ok(Done {
            count: r.get_ref().payload.len() as u64,
            checked: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn single_scenarios_always_pick_their_request() {
        let mut rng = Rng::with_seed(1);
        let cases = [
            (Scenario::Get, Op::Get),
            (Scenario::List, Op::List),
            (Scenario::Validate, Op::Validate),
            (Scenario::ValidateText, Op::ValidateText),
            (Scenario::Submit, Op::Submit),
            (Scenario::Aggregate, Op::Aggregate),
            (Scenario::Echo, Op::Echo),
        ];
        for (scenario, op) in cases {
            for percent in [0, 80, 100] {
                assert_eq!(pick_op(scenario, percent, &mut rng), op);
            }
        }
    }

    #[test]
    fn the_mix_follows_get_percent() {
        let mut rng = Rng::with_seed(7);
        let picks = |rng: &mut Rng, percent| {
            (0..10_000)
                .filter(|_| pick_op(Scenario::MixedGetList, percent, rng) == Op::Get)
                .count()
        };
        assert_eq!(picks(&mut rng, 0), 0);
        assert_eq!(picks(&mut rng, 100), 10_000);
        let gets = picks(&mut rng, 80);
        // 8,000 expected; the standard deviation is 40.
        assert!((7_800..=8_200).contains(&gets), "{gets} of 10,000");
    }

    #[test]
    fn the_same_seed_picks_the_same_requests() {
        let run = |seed| {
            let mut rng = Rng::with_seed(seed);
            (0..64)
                .map(|_| pick_op(Scenario::MixedGetList, 50, &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
    }

    #[test]
    fn listings_start_unfiltered_by_province_by_city_and_by_year() {
        let filters = list_filters();
        assert_eq!(filters[0], ReportFilter::default());
        let prefixes: Vec<&str> = filters
            .iter()
            .map(|f| f.division_prefix.as_str())
            .filter(|p| !p.is_empty())
            .collect();
        let provinces = prefixes.iter().filter(|p| p.len() == 2).count();
        let cities = prefixes.iter().filter(|p| p.len() == 4).count();
        assert_eq!(provinces, 10, "{prefixes:?}");
        assert_eq!(cities, 7, "{prefixes:?}");
        let years: Vec<i32> = filters.iter().map(|f| f.year).filter(|y| *y != 0).collect();
        assert_eq!(years, [2021, 2022, 2023, 2024, 2025]);
        let distinct: BTreeSet<(i32, &str)> = filters
            .iter()
            .map(|f| (f.year, f.division_prefix.as_str()))
            .collect();
        assert_eq!(distinct.len(), filters.len(), "a filter appears twice");
        // Every division filter matches some generated agency.
        for p in prefixes {
            assert!(DIVISIONS.iter().any(|(code, _)| code.starts_with(p)), "{p}");
        }
    }

    #[test]
    fn groupings_are_the_requests_group_by() {
        let r = aggregate_request(Grouping::None);
        assert_eq!(
            (r.group_by, r.division_prefix_length),
            (GroupBy::Unspecified as i32, 0)
        );
        let r = aggregate_request(Grouping::Province);
        assert_eq!(
            (r.group_by, r.division_prefix_length),
            (GroupBy::DivisionPrefix as i32, 2)
        );
        let r = aggregate_request(Grouping::City);
        assert_eq!(
            (r.group_by, r.division_prefix_length),
            (GroupBy::DivisionPrefix as i32, 4)
        );
        assert_eq!(
            aggregate_request(Grouping::Year).group_by,
            GroupBy::Year as i32
        );
        assert_eq!(
            aggregate_request(Grouping::Level).group_by,
            GroupBy::AgencyLevel as i32
        );
        assert_eq!(
            aggregate_request(Grouping::Kind).group_by,
            GroupBy::AgencyKind as i32
        );
        assert!(aggregate_request(Grouping::Kind).filter.is_none());
    }

    #[test]
    fn submissions_are_new_reports_unless_agencies_cycle() {
        assert_eq!(submission_index(0, None), 0);
        assert_eq!(submission_index(1_000_003, None), 1_000_003);
        // Two agencies × 5 years: the 11th submission is the first report again.
        assert_eq!(submission_index(9, Some(2)), 9);
        assert_eq!(submission_index(10, Some(2)), 0);
        assert_eq!(submission_index(13, Some(2)), 3);
        // Zero agencies count as one.
        assert_eq!(submission_index(7, Some(0)), 2);
    }
}
