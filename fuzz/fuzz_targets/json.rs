//! Fuzz target: the JSON input (a report entity in proto3 JSON, as `nianbao validate`
//! and records platforms give it) from arbitrary bytes: deserialising never panics, and
//! an entity that deserialises is validated and written back as JSON that reads again.
#![no_main]

use libfuzzer_sys::fuzz_target;

use nianbao::pb::AnnualReport;
use nianbao::validate::{validate, Input, Options};

fuzz_target!(|data: &[u8]| {
    let Ok(report) = serde_json::from_slice::<AnnualReport>(data) else {
        return;
    };
    let _ = validate(&Input::entity(&report), &Options::default());
    let json = serde_json::to_vec(&report).expect("an entity writes as JSON");
    let again: AnnualReport = serde_json::from_slice(&json).expect("its JSON reads back");
    assert_eq!(report, again);
});
