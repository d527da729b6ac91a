//! Submitting a report to the registry: input → parse → name → validate (against
//! the stored previous year) → store. One path for `nianbao import` and the
//! `SubmitReport` RPC, so both store the same thing for the same input.

use sha2::{Digest, Sha256};

use crate::names::{AgencyId, NameError, ReportName, Scope, YEARS};
use crate::parse::{parse, ParseOptions};
use crate::pb::{AnnualReport, CellLocation, Diagnostic, ParseResult, ValidationResult};
use crate::store::{AuditEntry, Store, StoreError, Submission, SubmitOutcome};
use crate::validate::{validate, Input, Options};

/// A report as received: structured, or the published bytes.
#[derive(Debug, Clone)]
pub enum Source {
    Entity(Box<AnnualReport>),
    Text {
        bytes: Vec<u8>,
        options: ParseOptions,
    },
}

impl Source {
    /// Lower-case hex SHA-256 of the input: the bytes, or the encoded entity.
    pub fn sha256(&self) -> String {
        let digest = match self {
            Source::Entity(r) => Sha256::digest(prost::Message::encode_to_vec(r.as_ref())),
            Source::Text { bytes, .. } => Sha256::digest(bytes),
        };
        hex::encode(digest)
    }

    /// Whether reading it means parsing text (CPU work worth a blocking thread).
    pub fn is_text(&self) -> bool {
        matches!(self, Source::Text { .. })
    }

    /// The parse result: the text parsed, or the entity as it is.
    pub fn parse(&self) -> ParseResult {
        match self {
            Source::Entity(r) => ParseResult {
                report: Some(r.as_ref().clone()),
                diagnostics: Vec::new(),
                cell_locations: Vec::new(),
            },
            Source::Text { bytes, options } => parse(bytes, options),
        }
    }

    /// The report as the rules see it: the text parsed (with where each cell was
    /// read and what the parser noticed), or the entity as it is, not copied.
    pub fn read(self) -> Read {
        match self {
            Source::Entity(r) => Read {
                report: *r,
                locations: Vec::new(),
                diagnostics: Vec::new(),
            },
            Source::Text { bytes, options } => {
                let p = parse(&bytes, &options);
                Read {
                    report: p.report.unwrap_or_default(),
                    locations: p.cell_locations,
                    diagnostics: p.diagnostics,
                }
            }
        }
    }
}

/// A report read from its [`Source`], ready for the rules. The one way a report is
/// prepared for validation, by `ValidateReport`, `SubmitReport` and `nianbao import`.
#[derive(Debug, Clone, Default)]
pub struct Read {
    pub report: AnnualReport,
    /// Where each cell was read (`ParseResult.cell_locations`); empty for an entity.
    pub locations: Vec<CellLocation>,
    /// The parse diagnostics; empty for an entity.
    pub diagnostics: Vec<Diagnostic>,
}

impl Read {
    /// Runs the rule catalogue, the cross-year rules against `previous` (the same
    /// agency's report for the year before) when there is one.
    pub fn validate(&self, previous: Option<&AnnualReport>) -> ValidationResult {
        let input = Input {
            report: &self.report,
            previous,
            locations: &self.locations,
            diagnostics: &self.diagnostics,
        };
        validate(&input, &Options::default())
    }
}

/// One submission.
#[derive(Debug, Clone)]
pub struct Request {
    pub source: Source,
    /// `{agency}` of the name; `None`: the stated credit code, else derived from the name.
    pub agency: Option<AgencyId>,
    pub submitter: String,
    pub request_id: Option<String>,
    pub expected_etag: Option<String>,
    /// Refuse (store nothing) when validation finds an ERROR.
    pub reject_on_error: bool,
    /// The submitter's write scope (see [`Submission::within`]); `None`: any division.
    pub within: Option<Scope>,
    /// The call's audit record, committed with the revision ([`Submission::audit`]).
    pub audit: Option<AuditEntry>,
}

/// Why a submission was not stored.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// No agency id was given and none could be found or derived.
    #[error("{0}")]
    Agency(NameError),
    /// The report year is missing or implausible.
    #[error("{0}")]
    Year(String),
    /// `reject_on_error` and validation found errors; the result says which.
    #[error("the report has {} ERROR finding(s) and the request asked to reject it on error: nothing was stored", .0.errors)]
    Rejected(Box<ValidationResult>),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the validation worker failed: {0}")]
    Worker(String),
}

/// Reads, names and validates a submission (CPU work: call it off async threads):
/// what the store is asked to keep. Cross-year rules run against the stored previous
/// year of the same agency.
pub fn prepare_submission(store: &Store, request: Request) -> Result<Submission, IngestError> {
    let input_sha256 = request.source.sha256();
    let read = request.source.read();
    let agency = AgencyId::resolve(request.agency, &read.report).map_err(IngestError::Agency)?;
    let year = read.report.year;
    if !YEARS.contains(&year) {
        return Err(IngestError::Year(if year == 0 {
            "the report year could not be read from the report (its title or 统计期限); a report is stored under its year".to_string()
        } else {
            format!(
                "report year {year} is outside {}..={}",
                YEARS.start(),
                YEARS.end()
            )
        }));
    }
    let name = ReportName::new(agency, year).map_err(IngestError::Agency)?;
    let previous = store
        .previous_year(&name.agency, name.year)?
        .and_then(|r| r.report);
    let validation = read.validate(previous.as_ref());
    if request.reject_on_error && validation.errors > 0 {
        return Err(IngestError::Rejected(Box::new(validation)));
    }
    Ok(Submission {
        name,
        report: read.report,
        validation,
        submitter: request.submitter,
        input_sha256,
        request_id: request.request_id,
        expected_etag: request.expected_etag,
        time: None,
        within: request.within,
        audit: request.audit,
    })
}

/// Prepares and stores a submission; the outcome is durable when this returns.
pub async fn submit(store: &Store, request: Request) -> Result<SubmitOutcome, IngestError> {
    let submission = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || prepare_submission(&store, request))
            .await
            .map_err(|e| IngestError::Worker(e.to_string()))??
    };
    Ok(store.submit(submission).await?)
}
