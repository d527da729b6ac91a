//! What a run prepares before the clock starts ([`prepare_workload`]): the connections,
//! the report names to get (read from the server's listing), the ValidateReport
//! request encoded once and the rule-set version the server announces, the pieces of
//! the SubmitReport requests (checked against the typed request), the echo message.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prost::bytes::Bytes;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Channel, ClientTlsConfig};
use tonic::Request;

use nianbao::pb::report_registry_client::ReportRegistryClient;
use nianbao::pb::report_validator_client::ReportValidatorClient;
use nianbao::pb::{
    validate_report_request, GetReportRequest, ListReportsRequest, ListRulesRequest, PublishedText,
    ValidateReportRequest,
};

use crate::cli::{RunArgs, Scenario};
use crate::echo::{EchoMessage, ECHO_MAX_REPLY};
use crate::generate::{check_prefix, template, SubmitBodies};
use crate::measure::CHECK_EVERY;
use crate::net::{client_tls, connect, identity_header};
use crate::workload::{list_filters, Workload, MAX_RESPONSE_BYTES};
use crate::Fallible;

/// Everything `scenario` sends to `addr`, prepared: connections opened (over TLS with
/// `--tls-ca`), names read, requests encoded. The echo scenario sends no identity.
/// Progress and what will be checked go to stderr.
pub async fn prepare_workload(
    args: &RunArgs,
    scenario: Scenario,
    addr: &str,
    timeout: Duration,
) -> Fallible<Workload> {
    let tls = client_tls(&args.tls)?;
    let connections = connect_all(addr, args.connections, timeout, tls.as_ref()).await?;
    let identity = match (&args.identity, scenario) {
        (Some(name), s) if s != Scenario::Echo => Some(identity_header(name)?),
        _ => None,
    };
    let mut names = Vec::new();
    if matches!(scenario, Scenario::Get | Scenario::MixedGetList) {
        names = names_to_get(&connections[0], &identity, scenario, addr, args.names).await?;
    }
    let validate_body = validate_body(scenario, &args.report)?;
    let mut rule_set_version = String::new();
    if validate_body.is_some() {
        rule_set_version = server_rule_set_version(&connections[0], &identity, addr).await?;
    }
    let submit_prefix = submit_prefix(args.agency_prefix.as_deref(), SystemTime::now());
    check_prefix(&submit_prefix)?;
    let submit = match scenario {
        Scenario::Submit => Some(submit_bodies(&args.report, submit_prefix)?),
        _ => None,
    };
    if scenario != Scenario::Echo {
        eprintln!("{}", checking_note(scenario, args.decode_responses));
    }
    Ok(Workload {
        scenario,
        connections,
        identity,
        names,
        filters: list_filters(),
        tokens: Mutex::new(Vec::new()),
        page_size: args.page_size,
        get_percent: args.get_percent.min(100),
        validate_body,
        rule_set_version,
        submit,
        submit_agencies: args.agencies,
        submitted: AtomicU64::new(0),
        group_by: args.group_by,
        echo: echo_message(args.echo_bytes, args.echo_reply_bytes),
        decode_responses: args.decode_responses,
        reported_bad: AtomicBool::new(false),
        print_each: scenario == Scenario::Aggregate,
        calls: AtomicU64::new(0),
    })
}

/// `n` connections to `addr` (at least one), over TLS with `tls`.
async fn connect_all(
    addr: &str,
    n: usize,
    timeout: Duration,
    tls: Option<&ClientTlsConfig>,
) -> Fallible<Vec<Channel>> {
    let mut connections = Vec::new();
    for _ in 0..n.max(1) {
        connections.push(connect(addr, timeout, tls).await?);
    }
    Ok(connections)
}

/// A request of the preparation, with the `--identity` header when there is one.
fn request<T>(message: T, identity: &Option<MetadataValue<Ascii>>) -> Request<T> {
    let mut request = Request::new(message);
    if let Some(value) = identity {
        request
            .metadata_mut()
            .insert(nianbao::service::registry::SUBMITTER_HEADER, value.clone());
    }
    request
}

/// The report names GetReport picks from (at most `max`, at least one), and a note on
/// stderr with the size of one GetReport response.
async fn names_to_get(
    channel: &Channel,
    identity: &Option<MetadataValue<Ascii>>,
    scenario: Scenario,
    addr: &str,
    max: usize,
) -> Fallible<Vec<String>> {
    let names = list_names(channel, identity, max.max(1)).await?;
    let Some(first) = names.first() else {
        return Err(format!(
            "{addr} has no reports to get: seed it first (nianbao-load seed)"
        ));
    };
    let sample = ReportRegistryClient::new(channel.clone())
        .max_decoding_message_size(MAX_RESPONSE_BYTES)
        .get_report(request(
            GetReportRequest {
                name: first.clone(),
                revision: 0,
            },
            identity,
        ))
        .await
        .map_err(|s| format!("GetReport {first} failed: {:?}: {}", s.code(), s.message()))?;
    eprintln!(
        "{}: {} report names to get; a GetReport response is {} bytes",
        scenario.name(),
        names.len(),
        prost::Message::encoded_len(sample.get_ref())
    );
    Ok(names)
}

/// Every report name of the store's listing (at most `max`), for GetReport.
async fn list_names(
    channel: &Channel,
    identity: &Option<MetadataValue<Ascii>>,
    max: usize,
) -> Fallible<Vec<String>> {
    let mut client =
        ReportRegistryClient::new(channel.clone()).max_decoding_message_size(MAX_RESPONSE_BYTES);
    let mut names = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_reports(request(
                ListReportsRequest {
                    filter: None,
                    page_size: 1000,
                    page_token: token,
                },
                identity,
            ))
            .await
            .map_err(|s| {
                format!(
                    "listing the store's reports failed: {:?}: {}",
                    s.code(),
                    s.message()
                )
            })?
            .into_inner();
        names.extend(page.reports.into_iter().map(|r| r.name));
        if page.next_page_token.is_empty() || names.len() >= max {
            names.truncate(max);
            return Ok(names);
        }
        token = page.next_page_token;
    }
}

/// validate, validate-text: the one ValidateReportRequest sent every time (the
/// report parsed here, or its published text), encoded; other scenarios: none.
fn validate_body(scenario: Scenario, report: &Path) -> Fallible<Option<Bytes>> {
    let input = match scenario {
        Scenario::Validate => validate_report_request::Input::Report(template(report)?),
        Scenario::ValidateText => validate_report_request::Input::Text(PublishedText {
            content: std::fs::read(report)
                .map_err(|e| format!("cannot read {}: {e}", report.display()))?,
            label: "nianbao-load".into(),
            ..Default::default()
        }),
        _ => return Ok(None),
    };
    let request = ValidateReportRequest {
        input: Some(input),
        previous: None,
    };
    Ok(Some(Bytes::from(prost::Message::encode_to_vec(&request))))
}

/// The rule-set version `addr` announces (ListRules), which validation results must
/// carry.
async fn server_rule_set_version(
    channel: &Channel,
    identity: &Option<MetadataValue<Ascii>>,
    addr: &str,
) -> Fallible<String> {
    let version = ReportValidatorClient::new(channel.clone())
        .list_rules(request(ListRulesRequest::default(), identity))
        .await
        .map_err(|s| format!("ListRules failed: {:?}: {}", s.code(), s.message()))?
        .into_inner()
        .rule_set_version;
    if version.is_empty() {
        return Err(format!("{addr} announces no rule-set version (ListRules)"));
    }
    Ok(version)
}

/// The prefix of the submitted agency ids: `--agency-prefix`, else `s` and the
/// seconds of `now` since the epoch (so that every run creates new reports).
fn submit_prefix(given: Option<&str>, now: SystemTime) -> String {
    match given {
        Some(p) => p.to_string(),
        None => {
            let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
            format!("s{secs}")
        }
    }
}

/// The SubmitReport pieces of `report`, checked to make the typed request.
fn submit_bodies(report: &Path, prefix: String) -> Fallible<SubmitBodies> {
    let t = template(report)?;
    let pieces = SubmitBodies::new(&t, prefix);
    pieces.verify(&t)?;
    Ok(pieces)
}

/// The echo scenario's request: `bytes` of payload, and the reply size asked for
/// (at most what the echo server answers with).
fn echo_message(bytes: usize, reply_bytes: u32) -> EchoMessage {
    EchoMessage {
        payload: Bytes::from(vec![b'e'; bytes]),
        reply_bytes: reply_bytes.min(ECHO_MAX_REPLY as u32),
    }
}

/// The note on stderr saying which responses are decoded and checked.
fn checking_note(scenario: Scenario, decode_responses: bool) -> String {
    let what = if decode_responses {
        "every response decoded and checked (--decode-responses)".to_string()
    } else {
        format!(
            "responses not decoded; each caller's first, its first measured and 1 in {CHECK_EVERY} decoded and checked"
        )
    };
    format!("{}: {what}", scenario.name())
}

#[cfg(test)]
mod tests {
    use nianbao::pb::ValidateReportRequest;

    use super::*;
    use crate::generate::tests::corpus_report;

    #[test]
    fn only_the_validate_scenarios_have_a_validate_body() {
        let report = corpus_report();
        for scenario in [Scenario::Get, Scenario::Submit, Scenario::Echo] {
            assert!(validate_body(scenario, &report).unwrap().is_none());
        }
        let entity = validate_body(Scenario::Validate, &report).unwrap().unwrap();
        let r: ValidateReportRequest = prost::Message::decode(entity).unwrap();
        let Some(validate_report_request::Input::Report(report_entity)) = r.input else {
            panic!("not an entity: {r:?}");
        };
        assert_eq!(report_entity, template(&report).unwrap());

        let text = validate_body(Scenario::ValidateText, &report)
            .unwrap()
            .unwrap();
        let r: ValidateReportRequest = prost::Message::decode(text).unwrap();
        let Some(validate_report_request::Input::Text(published)) = r.input else {
            panic!("not a text: {r:?}");
        };
        assert_eq!(published.content, std::fs::read(&report).unwrap());
        assert_eq!(published.label, "nianbao-load");
    }

    #[test]
    fn a_missing_report_is_an_error_not_a_panic() {
        let missing = Path::new("/nonexistent/report.txt");
        assert!(validate_body(Scenario::Validate, missing).is_err());
        assert!(validate_body(Scenario::ValidateText, missing).is_err());
        assert!(submit_bodies(missing, "s1".into()).is_err());
        // A scenario that sends no report does not read it.
        assert!(validate_body(Scenario::Get, missing).unwrap().is_none());
    }

    #[test]
    fn the_submit_prefix_is_given_or_the_time() {
        let t = UNIX_EPOCH + Duration::from_secs(1_764_000_000);
        assert_eq!(submit_prefix(Some("run7"), t), "run7");
        assert_eq!(submit_prefix(None, t), "s1764000000");
        assert_eq!(
            submit_prefix(None, UNIX_EPOCH - Duration::from_secs(1)),
            "s0"
        );
    }

    #[test]
    fn echo_replies_are_capped_at_the_servers_buffer() {
        let m = echo_message(3, 10);
        assert_eq!((m.payload.as_ref(), m.reply_bytes), (&b"eee"[..], 10));
        assert_eq!(echo_message(0, u32::MAX).reply_bytes, ECHO_MAX_REPLY as u32);
    }

    #[test]
    fn the_checking_note_says_what_is_checked() {
        assert_eq!(
            checking_note(Scenario::Get, false),
            "get: responses not decoded; each caller's first, its first measured and 1 in 256 decoded and checked"
        );
        assert_eq!(
            checking_note(Scenario::ValidateText, true),
            "validate-text: every response decoded and checked (--decode-responses)"
        );
    }
}
