//! What a caller sends as a report: an entity, or the published text. Checked
//! here (field violations name the request's fields) and turned into the
//! domain's [`Source`].

use super::status::ApiError;
use crate::ingest::Source;
use crate::parse::ParseOptions;
use crate::pb::{self, PublishedText};

/// Longest URL or label accepted.
const MAX_URL: usize = 2048;

const INPUT_REQUIRED: &str =
    "required: give `report` (an AnnualReport) or `text` (the published report)";

pub fn from_validate(
    input: Option<pb::validate_report_request::Input>,
) -> Result<Source, ApiError> {
    use pb::validate_report_request::Input as I;
    match input {
        Some(I::Report(r)) => Ok(Source::Entity(Box::new(r))),
        Some(I::Text(t)) => text(t, "text"),
        None => Err(ApiError::field("input", INPUT_REQUIRED)),
    }
}

pub fn from_submit(input: Option<pb::submit_report_request::Input>) -> Result<Source, ApiError> {
    use pb::submit_report_request::Input as I;
    match input {
        Some(I::Report(r)) => Ok(Source::Entity(Box::new(r))),
        Some(I::Text(t)) => text(t, "text"),
        None => Err(ApiError::field("input", INPUT_REQUIRED)),
    }
}

/// A published text, checked; `field` is its name in the request.
pub fn text(t: PublishedText, field: &str) -> Result<Source, ApiError> {
    let mut bad = Vec::new();
    if t.content.is_empty() {
        bad.push((
            format!("{field}.content"),
            "required: the report's bytes, as published".to_string(),
        ));
    }
    let charset = t.charset.trim();
    if !charset.is_empty() && encoding_rs::Encoding::for_label(charset.as_bytes()).is_none() {
        bad.push((
            format!("{field}.charset"),
            format!("unknown charset `{charset}`: use a label such as GBK, GB18030 or UTF-8, or leave it empty to detect"),
        ));
    }
    if t.url.len() > MAX_URL {
        bad.push((
            format!("{field}.url"),
            format!("longer than {MAX_URL} bytes"),
        ));
    }
    if t.label.len() > MAX_URL {
        bad.push((
            format!("{field}.label"),
            format!("longer than {MAX_URL} bytes"),
        ));
    }
    if !bad.is_empty() {
        return Err(ApiError::InvalidArgument(bad));
    }
    let options = ParseOptions {
        charset: (!charset.is_empty()).then(|| charset.to_string()),
        label: t.label,
        url: (!t.url.is_empty()).then_some(t.url),
        // The server's request-size limit bounds the input already.
        max_bytes: usize::MAX,
    };
    Ok(Source::Text {
        bytes: t.content,
        options,
    })
}
