//! Submitting a report to the registry: input → parse → name → validate (against
//! the stored previous year) → store. One path for `nianbao import` and the
//! `SubmitReport` RPC, so both store the same thing for the same input.

use sha2::{Digest, Sha256};

use crate::names::{AgencyId, NameError, ReportName, YEARS};
use crate::parse::{parse, ParseOptions};
use crate::pb::{AnnualReport, CellLocation, Diagnostic, ParseResult, ValidationResult};
use crate::store::{Store, StoreError, Submission, SubmitOutcome};
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
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The report, its cell locations and parse diagnostics: the text parsed, or the
    /// entity as it is (no locations, no diagnostics).
    pub fn into_parts(self) -> (AnnualReport, Vec<CellLocation>, Vec<Diagnostic>) {
        match self {
            Source::Entity(r) => (*r, Vec::new(), Vec::new()),
            text @ Source::Text { .. } => {
                let p = text.parse();
                (
                    p.report.unwrap_or_default(),
                    p.cell_locations,
                    p.diagnostics,
                )
            }
        }
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
}

/// One submission.
#[derive(Debug, Clone)]
pub struct Request {
    pub source: Source,
    /// `{agency}` of the name; `None`: the stated credit code, else derived from the name.
    pub agency: Option<String>,
    pub submitter: String,
    pub request_id: Option<String>,
    pub expected_etag: Option<String>,
    /// Refuse (store nothing) when validation finds an ERROR.
    pub reject_on_error: bool,
}

/// Why a submission was not stored.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The agency id given, or none could be found or derived.
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

/// A report checked and validated, ready to store.
#[derive(Debug)]
pub struct Prepared {
    pub name: ReportName,
    pub report: AnnualReport,
    pub validation: ValidationResult,
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses, names and validates a submission (CPU work: call it off async threads).
/// Cross-year rules run against the stored previous year of the same agency.
pub fn prepare(store: &Store, request: &Request) -> Result<Prepared, IngestError> {
    let ParseResult {
        report,
        diagnostics,
        cell_locations,
    } = request.source.parse();
    let report = report.unwrap_or_default();
    let agency =
        AgencyId::resolve(request.agency.as_deref(), &report).map_err(IngestError::Agency)?;
    if !YEARS.contains(&report.year) {
        return Err(IngestError::Year(if report.year == 0 {
            "the report year could not be read from the report (its title or 统计期限); a report is stored under its year".to_string()
        } else {
            format!(
                "report year {} is outside {}..={}",
                report.year,
                YEARS.start(),
                YEARS.end()
            )
        }));
    }
    let name = ReportName::new(agency, report.year).map_err(IngestError::Agency)?;
    let previous = store
        .previous_year(&name.agency, name.year)?
        .and_then(|r| r.report);
    let input = Input {
        report: &report,
        previous: previous.as_ref(),
        locations: &cell_locations,
        diagnostics: &diagnostics,
    };
    let validation = validate(&input, &Options::default());
    if request.reject_on_error && validation.errors > 0 {
        return Err(IngestError::Rejected(Box::new(validation)));
    }
    Ok(Prepared {
        name,
        report,
        validation,
        diagnostics,
    })
}

/// Prepares and stores a submission; the outcome is durable when this returns.
pub async fn submit(store: &Store, request: Request) -> Result<SubmitOutcome, IngestError> {
    let (request, prepared) = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || {
            let prepared = prepare(&store, &request);
            (request, prepared)
        })
        .await
        .map_err(|e| IngestError::Worker(e.to_string()))?
    };
    let prepared = prepared?;
    let submission = Submission {
        name: prepared.name,
        report: prepared.report,
        validation: prepared.validation,
        submitter: request.submitter,
        input_sha256: request.source.sha256(),
        request_id: request.request_id,
        expected_etag: request.expected_etag,
        time: None,
    };
    Ok(store.submit(submission).await?)
}
