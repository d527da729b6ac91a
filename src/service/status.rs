//! Errors at the edge: every failure of a request becomes a canonical gRPC code
//! with `google.rpc` details — `ErrorInfo` (a stable `reason` in the domain
//! [`DOMAIN`]) always, `BadRequest` field violations for bad fields,
//! `PreconditionFailure` for an etag mismatch, `ResourceInfo` for a missing report.
//! A caller's mistake is never UNKNOWN or INTERNAL.

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// The `ErrorInfo.domain` of every nianbao error.
pub const DOMAIN: &str = "nianbao.v1";

/// Stable `ErrorInfo.reason` values (part of the contract; README lists them).
pub mod reason {
    pub const INVALID_ARGUMENT: &str = "INVALID_ARGUMENT";
    pub const REPORT_NOT_FOUND: &str = "REPORT_NOT_FOUND";
    pub const REVISION_NOT_FOUND: &str = "REVISION_NOT_FOUND";
    pub const ETAG_MISMATCH: &str = "ETAG_MISMATCH";
    pub const REQUEST_ID_REUSED: &str = "REQUEST_ID_REUSED";
    pub const ALREADY_WITHDRAWN: &str = "ALREADY_WITHDRAWN";
    pub const REJECTED_ON_ERROR: &str = "REJECTED_ON_ERROR";
    pub const REQUEST_TOO_LARGE: &str = "REQUEST_TOO_LARGE";
    pub const UNREADABLE_REPORT: &str = "UNREADABLE_REPORT";
    pub const STORE_UNAVAILABLE: &str = "STORE_UNAVAILABLE";
    pub const STORE_FAILURE: &str = "STORE_FAILURE";
    pub const DEADLINE_EXCEEDED: &str = "DEADLINE_EXCEEDED";
    pub const SHUTTING_DOWN: &str = "SHUTTING_DOWN";
    pub const INTERNAL: &str = "INTERNAL";
    pub const TOO_MANY_STREAMS: &str = "TOO_MANY_STREAMS";
}

/// A refused or failed request, before it becomes a [`Status`].
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// One or more fields are wrong: (field, what is wrong).
    #[error("{}", describe(.0))]
    InvalidArgument(Vec<(String, String)>),
    #[error("{what} {name} does not exist")]
    NotFound {
        reason: &'static str,
        what: &'static str,
        name: String,
    },
    #[error("{message}")]
    FailedPrecondition {
        reason: &'static str,
        subject: String,
        message: String,
        violation_type: &'static str,
    },
    #[error("{message}")]
    AlreadyExists {
        reason: &'static str,
        message: String,
    },
    #[error("{message}")]
    ResourceExhausted {
        reason: &'static str,
        message: String,
    },
    #[error("{message}")]
    DeadlineExceeded { message: String },
    #[error("{message}")]
    Unavailable {
        reason: &'static str,
        message: String,
    },
    /// Our fault (disk, corruption): INTERNAL, with the cause logged.
    #[error("{message}")]
    Internal {
        reason: &'static str,
        message: String,
    },
}

fn describe(v: &[(String, String)]) -> String {
    let parts: Vec<String> = v.iter().map(|(f, d)| format!("{f}: {d}")).collect();
    format!("invalid request: {}", parts.join("; "))
}

impl ApiError {
    /// One bad field.
    pub fn field(field: impl Into<String>, description: impl Into<String>) -> ApiError {
        ApiError::InvalidArgument(vec![(field.into(), description.into())])
    }

    /// The stable reason of this error.
    pub fn reason(&self) -> &'static str {
        match self {
            ApiError::InvalidArgument(_) => reason::INVALID_ARGUMENT,
            ApiError::DeadlineExceeded { .. } => reason::DEADLINE_EXCEEDED,
            ApiError::NotFound { reason, .. }
            | ApiError::FailedPrecondition { reason, .. }
            | ApiError::AlreadyExists { reason, .. }
            | ApiError::ResourceExhausted { reason, .. }
            | ApiError::Unavailable { reason, .. }
            | ApiError::Internal { reason, .. } => reason,
        }
    }
}

impl From<ApiError> for Status {
    fn from(e: ApiError) -> Status {
        let message = e.to_string();
        let mut details = ErrorDetails::new();
        details.set_error_info(e.reason(), DOMAIN, HashMap::<String, String>::new());
        let code = match &e {
            ApiError::InvalidArgument(violations) => {
                details.set_bad_request(
                    violations
                        .iter()
                        .map(|(f, d)| FieldViolation::new(f.clone(), d.clone()))
                        .collect::<Vec<_>>(),
                );
                Code::InvalidArgument
            }
            ApiError::NotFound { what, name, .. } => {
                details.set_resource_info(*what, name.clone(), "", message.clone());
                Code::NotFound
            }
            ApiError::FailedPrecondition {
                subject,
                violation_type,
                message,
                ..
            } => {
                details.add_precondition_failure_violation(
                    *violation_type,
                    subject.clone(),
                    message.clone(),
                );
                Code::FailedPrecondition
            }
            ApiError::AlreadyExists { .. } => Code::AlreadyExists,
            ApiError::ResourceExhausted { .. } => Code::ResourceExhausted,
            ApiError::DeadlineExceeded { .. } => Code::DeadlineExceeded,
            ApiError::Unavailable { .. } => Code::Unavailable,
            ApiError::Internal { .. } => {
                tracing::error!(error = %message, "internal error");
                Code::Internal
            }
        };
        Status::with_error_details(code, message, details)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_carries_its_reason_and_details() {
        let s: Status = ApiError::InvalidArgument(vec![
            (
                "name".into(),
                "must be agencies/{agency}/reports/{year}".into(),
            ),
            ("reason".into(), "required".into()),
        ])
        .into();
        assert_eq!(s.code(), Code::InvalidArgument);
        let d = s.get_error_details();
        assert_eq!(
            d.error_info().map(|i| i.reason.as_str()),
            Some(reason::INVALID_ARGUMENT)
        );
        let fields: Vec<&str> = d
            .bad_request()
            .map(|b| {
                b.field_violations
                    .iter()
                    .map(|v| v.field.as_str())
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(fields, ["name", "reason"]);

        let s: Status = ApiError::FailedPrecondition {
            reason: reason::ETAG_MISMATCH,
            subject: "agencies/x/reports/2023".into(),
            message: "etag \"1-a\" is not current".into(),
            violation_type: "ETAG",
        }
        .into();
        assert_eq!(s.code(), Code::FailedPrecondition);
        let d = s.get_error_details();
        assert_eq!(
            d.precondition_failure()
                .map(|p| p.violations[0].r#type.as_str()),
            Some("ETAG")
        );
        assert_eq!(d.error_info().map(|i| i.domain.as_str()), Some(DOMAIN));
    }
}
