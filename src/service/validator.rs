//! `ReportValidator`: parsing and validation without storage. Thin: check the
//! request, run the domain on the [`WorkPool`] (parsing a large text is CPU work;
//! a full pool refuses at once), answer.

use tonic::{Request, Response, Status};

use super::input;
use super::status::ApiError;
use super::work::WorkPool;
use crate::ingest::Source;
use crate::pb::report_validator_server::ReportValidator;
use crate::pb::{
    FormatVersion, ListRulesRequest, ListRulesResponse, ParseReportRequest, ParseReportResponse,
    ValidateReportRequest, ValidateReportResponse,
};
use crate::validate::{catalogue, RULE_SET_VERSION};

/// The stateless validator.
#[derive(Clone, Debug)]
pub struct Validator {
    work: WorkPool,
}

impl Validator {
    /// A validator whose parsing runs on `work`.
    pub fn new(work: WorkPool) -> Validator {
        Validator { work }
    }
}

/// The bytes of text reading `source` parses (0 for an entity).
pub(crate) fn text_bytes(source: &Source) -> usize {
    match source {
        Source::Text { bytes, .. } => bytes.len(),
        Source::Entity(_) => 0,
    }
}

#[tonic::async_trait]
impl ReportValidator for Validator {
    #[tracing::instrument(name = "ParseReport", skip_all, fields(bytes))]
    async fn parse_report(
        &self,
        request: Request<ParseReportRequest>,
    ) -> Result<Response<ParseReportResponse>, Status> {
        let text = request
            .into_inner()
            .text
            .ok_or_else(|| ApiError::field("text", "required: the published report's bytes"))?;
        tracing::Span::current().record("bytes", text.content.len());
        let source = input::text(text, "text")?;
        let bytes = text_bytes(&source);
        let result = self.work.run(bytes, move || source.parse()).await?;
        Ok(Response::new(ParseReportResponse {
            result: Some(result),
        }))
    }

    #[tracing::instrument(name = "ValidateReport", skip_all)]
    async fn validate_report(
        &self,
        request: Request<ValidateReportRequest>,
    ) -> Result<Response<ValidateReportResponse>, Status> {
        let request = request.into_inner();
        let source = input::from_validate(request.input)?;
        let previous = request.previous;
        let bytes = text_bytes(&source);
        let parse_text = source.is_text();
        let run = move || {
            let read = source.read();
            let result = read.validate(previous.as_ref());
            ValidateReportResponse {
                result: Some(result),
                report: Some(read.report),
            }
        };
        // Validating an entity takes tens of microseconds: inline (bounded by the
        // in-flight limit; it starts no thread). Parsing a text may take milliseconds
        // and many times its size in memory: on the work pool, within its budgets.
        let response = if parse_text {
            self.work.run(bytes, run).await?
        } else {
            run()
        };
        Ok(Response::new(response))
    }

    #[tracing::instrument(name = "ListRules", skip_all)]
    async fn list_rules(
        &self,
        request: Request<ListRulesRequest>,
    ) -> Result<Response<ListRulesResponse>, Status> {
        let version = request.into_inner().format_version;
        let version = FormatVersion::try_from(version).map_err(|_| {
            ApiError::field(
                "format_version",
                format!("{version} is not a FormatVersion"),
            )
        })?;
        let rules = catalogue()
            .iter()
            .filter(|r| {
                version == FormatVersion::Unspecified
                    || r.versions.is_empty()
                    || r.versions.contains(&version)
            })
            .map(|r| r.to_proto())
            .collect();
        Ok(Response::new(ListRulesResponse {
            rules,
            rule_set_version: RULE_SET_VERSION.to_string(),
        }))
    }
}
