//! `ReportValidator`: parsing and validation without storage. Thin: check the
//! request, run the domain on a blocking thread (parsing a large text is CPU
//! work), answer.

use tonic::{Request, Response, Status};

use super::status::ApiError;
use super::{blocking, input};
use crate::pb::report_validator_server::ReportValidator;
use crate::pb::{
    FormatVersion, ListRulesRequest, ListRulesResponse, ParseReportRequest, ParseReportResponse,
    ValidateReportRequest, ValidateReportResponse,
};
use crate::validate::{catalogue, RULE_SET_VERSION};

/// The stateless validator.
#[derive(Clone, Debug, Default)]
pub struct Validator;

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
        let result = blocking(move || source.parse()).await?;
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
        let parse_text = source.is_text();
        let run = move || {
            let read = source.read();
            let result = read.validate(previous.as_ref());
            ValidateReportResponse {
                result: Some(result),
                report: Some(read.report),
            }
        };
        // Validating an entity takes tens of microseconds: inline. Parsing a text
        // may take milliseconds: on a blocking thread.
        let response = if parse_text {
            blocking(run).await?
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
