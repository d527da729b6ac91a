//! What a caller sends as a report: an entity, or the published text. Checked
//! here (field violations name the request's fields) and turned into the
//! domain's [`Source`]. The published text's `charset`, `url` and `label` are free
//! text: no control or bidirectional formatting characters
//! ([`crate::names::check_free_text`]); its content is not checked (the parser reads
//! whatever was published).

use super::status::ApiError;
use crate::ingest::Source;
use crate::names::{check_free_text, echo};
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
    if let Err(e) = check_free_text(&t.charset, false) {
        bad.push((format!("{field}.charset"), e.to_string()));
    } else if !charset.is_empty() && encoding_rs::Encoding::for_label(charset.as_bytes()).is_none()
    {
        bad.push((
            format!("{field}.charset"),
            format!(
                "unknown charset {}: use a label such as GBK, GB18030 or UTF-8, or leave it empty to detect",
                echo(charset)
            ),
        ));
    }
    for (name, value) in [("url", &t.url), ("label", &t.label)] {
        if value.len() > MAX_URL {
            bad.push((
                format!("{field}.{name}"),
                format!("longer than {MAX_URL} bytes ({} bytes)", value.len()),
            ));
        } else if let Err(e) = check_free_text(value, false) {
            bad.push((format!("{field}.{name}"), e.to_string()));
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(t: PublishedText) -> Vec<String> {
        match text(t, "text") {
            Ok(_) => Vec::new(),
            Err(ApiError::InvalidArgument(v)) => v.into_iter().map(|(f, _)| f).collect(),
            Err(e) => panic!("not a field violation: {e}"),
        }
    }

    fn published(charset: &str, url: &str, label: &str) -> PublishedText {
        PublishedText {
            content: b"report".to_vec(),
            charset: charset.into(),
            url: url.into(),
            label: label.into(),
        }
    }

    #[test]
    fn free_text_fields_refuse_control_and_bidi_characters() {
        assert!(fields(published("GBK", "https://example.gov.cn/a", "崇川 2023")).is_empty());
        assert!(fields(published(" utf-8 ", "", "")).is_empty());
        for (t, field) in [
            (published("GBK\0", "", ""), "text.charset"),
            (published("\u{1b}GBK", "", ""), "text.charset"),
            (published("GBK\n", "", ""), "text.charset"),
            (published("", "https://x/\u{202e}fdp.exe", ""), "text.url"),
            (published("", "", "report\u{7f}"), "text.label"),
            (published("", "", "a\u{2066}b"), "text.label"),
            (published("", "", "a\nb"), "text.label"),
        ] {
            assert_eq!(fields(t.clone()), [field], "{t:?}");
        }
    }

    #[test]
    fn long_values_are_not_echoed_whole() {
        let long = "x".repeat(1 << 20);
        let Err(ApiError::InvalidArgument(v)) = text(published(&long, &long, &long), "text") else {
            panic!("accepted");
        };
        let fields: Vec<&str> = v.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["text.charset", "text.url", "text.label"]);
        for (f, d) in &v {
            assert!(d.len() < 300, "{f}: {} bytes", d.len());
        }
    }
}
