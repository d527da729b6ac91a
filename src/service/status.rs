//! Errors at the edge, mapped in one place: the domain's and the store's typed
//! errors become an [`ApiError`] here (`From<StoreError>`, `From<IngestError>`,
//! `From<GroupingError>`, a failed worker), and every `ApiError` becomes a canonical
//! gRPC code with `google.rpc` details — `ErrorInfo` (a stable `reason` in the domain
//! [`DOMAIN`]) always, `BadRequest` field violations for bad fields,
//! `PreconditionFailure` for an etag mismatch, `ResourceInfo` for a missing report.
//! A caller's mistake is never UNKNOWN or INTERNAL. The matches have no wildcard
//! arm, so a new error variant must choose its status here.
//!
//! Every message that repeats a caller's value repeats it through
//! [`crate::names::echo`] (a short prefix and its length). As a last safety net the
//! status's message and every text of its details are cut here too
//! ([`MAX_MESSAGE_BYTES`], [`MAX_DETAIL_BYTES`], at most [`MAX_VIOLATIONS`] field
//! violations), so that a status's trailers stay a few KiB whatever an error says:
//! clients refuse trailers over 16 KiB (grpcio: "metadata size exceeds hard limit").

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

use crate::aggregate::GroupingError;
use crate::ingest::IngestError;
use crate::names::NameError;
use crate::store::StoreError;

/// The `ErrorInfo.domain` of every nianbao error.
pub const DOMAIN: &str = "nianbao.v1";

/// Longest status message, in bytes (`grpc-message` percent-encodes it: up to three
/// times as many on the wire).
pub const MAX_MESSAGE_BYTES: usize = 1024;
/// Longest text of a detail (a field violation's description, a resource name, a
/// precondition's subject and description), in bytes.
pub const MAX_DETAIL_BYTES: usize = 512;
/// Longest field path of a field violation, in bytes.
const MAX_FIELD_BYTES: usize = 128;
/// The descriptions of all field violations together, in bytes (each keeps at least
/// [`MIN_DESCRIPTION_BYTES`]).
const MAX_DESCRIPTIONS_BYTES: usize = 2048;
const MIN_DESCRIPTION_BYTES: usize = 64;
/// Most field violations one status carries; the last says how many more there were.
pub const MAX_VIOLATIONS: usize = 8;

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
    pub const STORE_UNAVAILABLE: &str = "STORE_UNAVAILABLE";
    pub const STORE_FAILURE: &str = "STORE_FAILURE";
    /// RESOURCE_EXHAUSTED: the store's disk is below its reserve of free space; nothing
    /// was written, writes resume once space is freed (gRPC's own example of the code:
    /// "the entire file system is out of space").
    pub const STORAGE_FULL: &str = "STORAGE_FULL";
    /// UNAVAILABLE: a write to disk failed (an fsync, or sled's log) and the store has
    /// stopped accepting writes until the server is restarted; reads work. The write is
    /// not acknowledged: retry it, with the same request id, after the restart.
    pub const STORE_FAILED: &str = "STORE_FAILED";
    pub const DEADLINE_EXCEEDED: &str = "DEADLINE_EXCEEDED";
    pub const SHUTTING_DOWN: &str = "SHUTTING_DOWN";
    pub const INTERNAL: &str = "INTERNAL";
    pub const TOO_MANY_STREAMS: &str = "TOO_MANY_STREAMS";
    /// UNAUTHENTICATED: the call carries no identity (no client certificate).
    pub const IDENTITY_REQUIRED: &str = "IDENTITY_REQUIRED";
    /// PERMISSION_DENIED: the identity is not in the access policy.
    pub const UNKNOWN_CALLER: &str = "UNKNOWN_CALLER";
    /// PERMISSION_DENIED: none of the caller's roles allows the method.
    pub const METHOD_NOT_ALLOWED: &str = "METHOD_NOT_ALLOWED";
    /// PERMISSION_DENIED: a write outside the caller's write scope.
    pub const OUTSIDE_SCOPE: &str = "OUTSIDE_SCOPE";
    /// RESOURCE_EXHAUSTED (with RetryInfo): the caller is over its rate.
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
    /// RESOURCE_EXHAUSTED (with RetryInfo): the server is at one of its limits — calls
    /// in flight (`--max-in-flight`), CPU work running and queued (`--workers`,
    /// `--work-queue`), or request text being parsed (`--parse-budget-mb`).
    pub const OVERLOADED: &str = "OVERLOADED";
}

/// How long a caller refused with `OVERLOADED` is asked to wait (`RetryInfo`).
pub const OVERLOADED_RETRY: std::time::Duration = std::time::Duration::from_millis(250);

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
    /// RESOURCE_EXHAUSTED with `RetryInfo`: retry after `retry_after`.
    #[error("{message}")]
    RetryLater {
        reason: &'static str,
        message: String,
        retry_after: std::time::Duration,
    },
    /// No identity: UNAUTHENTICATED.
    #[error("{message}")]
    Unauthenticated {
        reason: &'static str,
        message: String,
    },
    /// A known caller that may not do this: PERMISSION_DENIED.
    #[error("{message}")]
    PermissionDenied {
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
            | ApiError::RetryLater { reason, .. }
            | ApiError::Unauthenticated { reason, .. }
            | ApiError::PermissionDenied { reason, .. }
            | ApiError::Unavailable { reason, .. }
            | ApiError::Internal { reason, .. } => reason,
        }
    }
}

impl From<StoreError> for ApiError {
    /// Store errors as the caller should see them: its own mistakes (a missing
    /// report, a stale etag, a reused request id, a bad page token) with their
    /// details, a store that cannot serve (or no longer takes writes: `STORE_FAILED`)
    /// as UNAVAILABLE, a full disk as RESOURCE_EXHAUSTED (`STORAGE_FULL`), damage and
    /// other disk trouble as INTERNAL.
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::NotFound { name } => ApiError::NotFound {
                reason: reason::REPORT_NOT_FOUND,
                what: "report",
                name,
            },
            StoreError::RevisionNotFound {
                name,
                revision,
                latest,
            } => ApiError::NotFound {
                reason: reason::REVISION_NOT_FOUND,
                what: "revision",
                name: format!("{name} revision {revision} (latest: {latest})"),
            },
            StoreError::EtagMismatch { ref name, .. } => ApiError::FailedPrecondition {
                reason: reason::ETAG_MISMATCH,
                subject: name.clone(),
                message: e.to_string(),
                violation_type: "ETAG",
            },
            StoreError::AlreadyWithdrawn { ref name, .. } => ApiError::FailedPrecondition {
                reason: reason::ALREADY_WITHDRAWN,
                subject: name.clone(),
                message: e.to_string(),
                violation_type: "STATE",
            },
            e @ StoreError::OutsideScope { .. } => ApiError::PermissionDenied {
                reason: reason::OUTSIDE_SCOPE,
                message: e.to_string(),
            },
            e @ StoreError::IdempotencyMismatch { .. } => ApiError::AlreadyExists {
                reason: reason::REQUEST_ID_REUSED,
                message: e.to_string(),
            },
            StoreError::InvalidCursor(detail) => ApiError::field(
                "page_token",
                format!("{detail}; list again from the start without a token"),
            ),
            StoreError::InvalidArgument(detail) => ApiError::field("filter", detail),
            e @ (StoreError::Locked { .. }
            | StoreError::NewerSchema { .. }
            | StoreError::Incompatible { .. }) => ApiError::Unavailable {
                reason: reason::STORE_UNAVAILABLE,
                message: e.to_string(),
            },
            e @ StoreError::StorageFull { .. } => ApiError::ResourceExhausted {
                reason: reason::STORAGE_FULL,
                message: e.to_string(),
            },
            e @ StoreError::Failed { .. } => {
                tracing::warn!(error = %e, "a write refused: the store has failed");
                ApiError::Unavailable {
                    reason: reason::STORE_FAILED,
                    message: e.to_string(),
                }
            }
            e @ (StoreError::Corrupt { .. }
            | StoreError::NotEmpty { .. }
            | StoreError::InvalidBackup { .. }
            | StoreError::Io { .. }
            | StoreError::Storage { .. }
            | StoreError::NotDurable(_)) => ApiError::Internal {
                reason: reason::STORE_FAILURE,
                message: e.to_string(),
            },
        }
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> ApiError {
        match e {
            IngestError::Agency(NameError::NoAgency) => ApiError::field(
                "agency_id",
                "the report names no agency: give agency_id, or a report whose agency name (or 统一社会信用代码) can be read",
            ),
            IngestError::Agency(e) => ApiError::field("agency_id", e.to_string()),
            IngestError::Year(detail) => ApiError::field("report.year", detail),
            e @ IngestError::Rejected(_) => ApiError::FailedPrecondition {
                reason: reason::REJECTED_ON_ERROR,
                subject: "report".into(),
                message: format!("{e}; validate it with ValidateReport to see the findings"),
                violation_type: "VALIDATION",
            },
            IngestError::Store(e) => e.into(),
            e @ IngestError::Worker(_) => ApiError::Internal {
                reason: reason::INTERNAL,
                message: e.to_string(),
            },
        }
    }
}

impl From<GroupingError> for ApiError {
    fn from(e: GroupingError) -> ApiError {
        let field = match e {
            GroupingError::PrefixLength(_) => "division_prefix_length",
            GroupingError::Unknown(_) => "group_by",
        };
        ApiError::field(field, e.to_string())
    }
}

impl From<tokio::task::JoinError> for ApiError {
    /// A worker thread that panicked or was cancelled: our fault, never the caller's.
    fn from(e: tokio::task::JoinError) -> ApiError {
        ApiError::Internal {
            reason: reason::INTERNAL,
            message: format!("the worker failed: {e}"),
        }
    }
}

/// The domain's errors straight to a status (through [`ApiError`]), so that a
/// handler's `?` maps them.
macro_rules! status_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Status {
            fn from(e: $t) -> Status {
                ApiError::from(e).into()
            }
        }
    )*};
}

status_from!(StoreError, IngestError, GroupingError);

/// `text` cut to at most `max` bytes at a character boundary, saying so when cut.
fn bounded(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    const MARK: &str = "… (cut)";
    let mut end = max.saturating_sub(MARK.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{MARK}", &text[..end])
}

/// The field violations as a `BadRequest` carries them: each text bounded, the
/// descriptions together too, at most [`MAX_VIOLATIONS`].
fn bounded_violations(violations: &[(String, String)]) -> Vec<FieldViolation> {
    let mut budget = MAX_DESCRIPTIONS_BYTES;
    let mut out: Vec<FieldViolation> = violations
        .iter()
        .take(MAX_VIOLATIONS)
        .map(|(f, d)| {
            let description = bounded(d, MAX_DETAIL_BYTES.min(budget).max(MIN_DESCRIPTION_BYTES));
            budget = budget.saturating_sub(description.len());
            FieldViolation::new(bounded(f, MAX_FIELD_BYTES), description)
        })
        .collect();
    if violations.len() > MAX_VIOLATIONS {
        if let Some(last) = out.last_mut() {
            last.description = bounded(
                &format!(
                    "{} (and {} more field violations not shown)",
                    last.description,
                    violations.len() - MAX_VIOLATIONS
                ),
                MAX_DETAIL_BYTES,
            );
        }
    }
    out
}

impl From<ApiError> for Status {
    fn from(e: ApiError) -> Status {
        let message = bounded(&e.to_string(), MAX_MESSAGE_BYTES);
        let mut details = ErrorDetails::new();
        details.set_error_info(e.reason(), DOMAIN, HashMap::<String, String>::new());
        let code = match &e {
            ApiError::InvalidArgument(violations) => {
                details.set_bad_request(bounded_violations(violations));
                Code::InvalidArgument
            }
            ApiError::NotFound { what, name, .. } => {
                details.set_resource_info(
                    *what,
                    bounded(name, MAX_DETAIL_BYTES),
                    "",
                    bounded(&message, MAX_DETAIL_BYTES),
                );
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
                    bounded(subject, MAX_DETAIL_BYTES),
                    bounded(message, MAX_DETAIL_BYTES),
                );
                Code::FailedPrecondition
            }
            ApiError::AlreadyExists { .. } => Code::AlreadyExists,
            ApiError::ResourceExhausted { .. } => Code::ResourceExhausted,
            ApiError::RetryLater { retry_after, .. } => {
                details.set_retry_info(Some(*retry_after));
                Code::ResourceExhausted
            }
            ApiError::Unauthenticated { .. } => Code::Unauthenticated,
            ApiError::PermissionDenied { .. } => Code::PermissionDenied,
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

    /// Bytes of the status's headers as sent (grpc-message percent-encoded, details
    /// in base64).
    fn wire_bytes(s: &Status) -> usize {
        let mut headers = http::HeaderMap::new();
        s.add_header(&mut headers).expect("a status's headers");
        headers
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len())
            .sum()
    }

    #[test]
    fn statuses_stay_small_whatever_an_error_says() {
        let huge = "崇\u{1b}\"".repeat(100_000);
        let violations = (0..20)
            .map(|i| (format!("field{i}{huge}"), huge.clone()))
            .collect();
        let s: Status = ApiError::InvalidArgument(violations).into();
        assert!(s.message().len() <= MAX_MESSAGE_BYTES);
        assert!(s.message().ends_with("… (cut)"), "{}", s.message());
        let d = s.get_error_details();
        let v = &d.bad_request().expect("a BadRequest").field_violations;
        assert_eq!(v.len(), MAX_VIOLATIONS);
        assert!(v
            .iter()
            .all(|v| v.field.len() <= MAX_FIELD_BYTES && v.description.len() <= MAX_DETAIL_BYTES));
        assert!(v[0].description.ends_with("… (cut)"));
        assert!(v[MAX_VIOLATIONS - 1]
            .description
            .ends_with("(and 12 more field violations not shown)"));
        assert!(wire_bytes(&s) < 10 * 1024, "{} bytes", wire_bytes(&s));

        for e in [
            ApiError::NotFound {
                reason: reason::REPORT_NOT_FOUND,
                what: "report",
                name: huge.clone(),
            },
            ApiError::FailedPrecondition {
                reason: reason::ETAG_MISMATCH,
                subject: huge.clone(),
                message: huge.clone(),
                violation_type: "ETAG",
            },
            ApiError::PermissionDenied {
                reason: reason::UNKNOWN_CALLER,
                message: huge.clone(),
            },
        ] {
            let s: Status = e.into();
            assert!(s.message().len() <= MAX_MESSAGE_BYTES);
            assert!(wire_bytes(&s) < 8 * 1024, "{} bytes", wire_bytes(&s));
        }
        assert_eq!(bounded("short", 8), "short");
        assert_eq!(bounded("崇崇崇崇崇崇", 12), "崇… (cut)");
    }

    fn code_and_reason(e: impl Into<ApiError>) -> (Code, String) {
        let s: Status = e.into().into();
        let reason = s
            .get_error_details()
            .error_info()
            .map(|i| i.reason.clone())
            .unwrap_or_default();
        (s.code(), reason)
    }

    #[test]
    fn store_errors_are_the_callers_or_ours_as_they_are() {
        let cases = [
            (
                StoreError::NotFound { name: "n".into() },
                Code::NotFound,
                reason::REPORT_NOT_FOUND,
            ),
            (
                StoreError::EtagMismatch {
                    name: "n".into(),
                    expected: "a".into(),
                    current: None,
                },
                Code::FailedPrecondition,
                reason::ETAG_MISMATCH,
            ),
            (
                StoreError::IdempotencyMismatch {
                    request_id: "r".into(),
                    detail: "d".into(),
                },
                Code::AlreadyExists,
                reason::REQUEST_ID_REUSED,
            ),
            (
                StoreError::InvalidCursor("x".into()),
                Code::InvalidArgument,
                reason::INVALID_ARGUMENT,
            ),
            (
                StoreError::Locked { path: "/d".into() },
                Code::Unavailable,
                reason::STORE_UNAVAILABLE,
            ),
            (
                StoreError::NotDurable("closed".into()),
                Code::Internal,
                reason::STORE_FAILURE,
            ),
            (
                StoreError::StorageFull {
                    path: "/d".into(),
                    available: 1,
                    reserved: 2,
                },
                Code::ResourceExhausted,
                reason::STORAGE_FULL,
            ),
            (
                StoreError::Failed {
                    cause: "the disk is full: writing sled's log".into(),
                },
                Code::Unavailable,
                reason::STORE_FAILED,
            ),
        ];
        for (e, code, reason) in cases {
            assert_eq!(code_and_reason(e), (code, reason.to_string()));
        }
        let (code, reason) = code_and_reason(IngestError::Agency(NameError::NoAgency));
        assert_eq!(
            (code, reason.as_str()),
            (Code::InvalidArgument, reason::INVALID_ARGUMENT)
        );
        let (code, _) = code_and_reason(IngestError::Store(StoreError::NotFound {
            name: "n".into(),
        }));
        assert_eq!(code, Code::NotFound);
        let (code, _) = code_and_reason(GroupingError::PrefixLength(9));
        assert_eq!(code, Code::InvalidArgument);
    }
}
