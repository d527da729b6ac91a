//! Fuzz target: every request message of `nianbao.v1` decoded from arbitrary bytes, as
//! the server decodes them, then checked as its handlers check them (inputs, names,
//! statuses with their details). Nothing may panic; a decoded entity goes on to
//! `Source::read` and validation, as `ValidateReport` would take it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message;

use nianbao::names::ReportName;
use nianbao::pb;
use nianbao::service::input;

/// Decodes `data` as `M`; the re-encoding of what decoded must decode to the same.
fn roundtrip<M: Message + Default + PartialEq + std::fmt::Debug>(data: &[u8]) -> Option<M> {
    let m = M::decode(data).ok()?;
    let again = M::decode(m.encode_to_vec().as_slice()).expect("a re-encoding decodes");
    assert_eq!(m, again);
    Some(m)
}

/// What ValidateReport does with a checked input (bounded: only small inputs).
fn validate(source: nianbao::ingest::Source) {
    let read = source.read();
    let _ = read.validate(None);
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, data)) = data.split_first() else {
        return;
    };
    match which % 8 {
        0 => {
            if let Some(r) = roundtrip::<pb::ParseReportRequest>(data) {
                if let Some(t) = r.text {
                    if let Ok(source) = input::text(t, "text") {
                        let _ = source.read();
                    }
                }
            }
        }
        1 => {
            if let Some(r) = roundtrip::<pb::ValidateReportRequest>(data) {
                match input::from_validate(r.input) {
                    Ok(source) => validate(source),
                    Err(e) => drop(tonic::Status::from(e)),
                }
            }
        }
        2 => {
            if let Some(r) = roundtrip::<pb::SubmitReportRequest>(data) {
                if let Err(e) = input::from_submit(r.input) {
                    drop(tonic::Status::from(e));
                }
                let _ = nianbao::names::AgencyId::parse(&r.agency_id);
            }
        }
        3 => {
            if let Some(r) = roundtrip::<pb::GetReportRequest>(data) {
                let _ = r.name.parse::<ReportName>();
            }
        }
        4 => {
            if let Some(r) = roundtrip::<pb::ListReportsRequest>(data) {
                let _ = nianbao::store::ListCursor::from_token(&r.page_token);
            }
        }
        5 => {
            if let Some(r) = roundtrip::<pb::WithdrawReportRequest>(data) {
                let _ = r.name.parse::<ReportName>();
                let _ = nianbao::names::check_free_text(&r.reason, true);
            }
        }
        6 => {
            let _ = roundtrip::<pb::AggregateReportsRequest>(data);
            let _ = roundtrip::<pb::ListReportRevisionsRequest>(data);
        }
        _ => {
            let _ = roundtrip::<pb::ExportReportsRequest>(data);
            let _ = roundtrip::<pb::WatchReportsRequest>(data);
            let _ = roundtrip::<pb::ExportAuditRecordsRequest>(data);
            let _ = roundtrip::<pb::ListRulesRequest>(data);
        }
    }
});
