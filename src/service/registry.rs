//! `ReportRegistry`: thin handlers over [`crate::ingest`] and [`crate::store`].

use std::ops::ControlFlow;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::{mpsc, watch, Semaphore};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use super::auth::Caller;
use super::status::{reason, ApiError};
use super::stored::StoredGetReport;
use super::validator::text_bytes;
use super::work::WorkPool;
use super::{input, Config};
use crate::aggregate::{self, Grouping};
use crate::ingest;
use crate::names::{check_free_text, echo, AgencyId, NameError, ReportName, Scope};
use crate::pb::report_registry_server::ReportRegistry;
use crate::pb::{
    AggregateReportsRequest, AggregateReportsResponse, ExportReportsRequest, ExportReportsResponse,
    FormatVersion, GetReportRequest, GetReportResponse, ListReportRevisionsRequest,
    ListReportRevisionsResponse, ListReportsRequest, ListReportsResponse, ReportFilter,
    SubmitReportRequest, SubmitReportResponse, WatchReportsRequest, WatchReportsResponse,
    WithdrawReportRequest, WithdrawReportResponse,
};
use crate::store::{ListCursor, ListFilter, ListedReport, Store, WithdrawRequest};

/// Longest withdrawal reason, in characters.
const MAX_REASON_CHARS: usize = 2000;
/// Longest request id and etag, in bytes.
const MAX_KEY_BYTES: usize = 128;
/// Events read from the change log per batch of a watch.
const WATCH_BATCH: usize = 256;
/// Metadata key a caller names itself with in plaintext mode (with TLS, the client
/// certificate names it and this is ignored).
pub const SUBMITTER_HEADER: &str = "x-nianbao-submitter";

/// The registry service.
#[derive(Clone)]
pub struct Registry {
    store: Option<Store>,
    default_page_size: u32,
    max_page_size: u32,
    watch_buffer: usize,
    /// Open export and watch streams.
    streams: Arc<Semaphore>,
    max_streams: usize,
    /// Turns true when the server starts draining: open streams end.
    draining: watch::Receiver<bool>,
    /// Where submissions are prepared and aggregations run.
    work: WorkPool,
}

impl Registry {
    pub fn new(
        store: Option<Store>,
        config: &Config,
        work: WorkPool,
        draining: watch::Receiver<bool>,
    ) -> Registry {
        Registry {
            store,
            default_page_size: config.default_page_size.max(1),
            max_page_size: config.max_page_size.max(1),
            watch_buffer: config.watch_buffer.max(1),
            streams: Arc::new(Semaphore::new(config.max_open_streams)),
            max_streams: config.max_open_streams,
            draining,
            work,
        }
    }

    fn store(&self) -> Result<&Store, ApiError> {
        self.store.as_ref().ok_or_else(|| ApiError::Unavailable {
            reason: reason::STORE_UNAVAILABLE,
            message: "the registry's store could not be opened (see the server log); the validator still serves".into(),
        })
    }

    /// GetReport: the requested revision's stored bytes and the report's state.
    /// Records the name in the current span.
    pub(super) fn get_stored(
        &self,
        request: Request<GetReportRequest>,
    ) -> Result<StoredGetReport, ApiError> {
        let caller = Caller::of(&request)?;
        let store = self.store()?;
        let r = request.into_inner();
        tracing::Span::current().record("name", r.name.as_str());
        let name = name_field("name", &r.name)?;
        caller.touches(name.to_string());
        let revision = (r.revision > 0).then_some(r.revision);
        let (revision, state) = store.get_encoded_within(&name, revision, &caller.read)?;
        Ok(StoredGetReport { revision, state })
    }

    /// The server's limit on open streams (export, watch, audit export) and its size.
    pub(super) fn stream_limit(&self) -> (Arc<Semaphore>, usize) {
        (self.streams.clone(), self.max_streams)
    }

    fn stream_permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
        self.streams
            .clone()
            .try_acquire_owned()
            .map_err(|_| ApiError::ResourceExhausted {
                reason: reason::TOO_MANY_STREAMS,
                message: format!(
                    "the server has {} export/watch streams open, its limit; retry later",
                    self.max_streams
                ),
            })
    }

    /// The page size for a request's `page_size`: 0 the default, larger than the
    /// maximum lowered to it, negative refused (AIP-158).
    fn page_size(&self, asked: i32) -> Result<usize, ApiError> {
        let n = match u32::try_from(asked) {
            Err(_) => {
                return Err(ApiError::field(
                    "page_size",
                    format!(
                        "{asked} is negative: give 0 for the default ({}) or up to {}",
                        self.default_page_size, self.max_page_size
                    ),
                ))
            }
            Ok(0) => self.default_page_size,
            Ok(n) => n.min(self.max_page_size),
        };
        Ok(n as usize)
    }
}

fn name_field(field: &str, name: &str) -> Result<ReportName, ApiError> {
    if name.is_empty() {
        return Err(ApiError::field(
            field,
            "required: agencies/{agency}/reports/{year}",
        ));
    }
    name.parse()
        .map_err(|e: NameError| ApiError::field(field, e.to_string()))
}

/// An optional key (request id, etag): printable ASCII, at most [`MAX_KEY_BYTES`].
fn key_field(field: &str, value: String) -> Result<Option<String>, ApiError> {
    if value.is_empty() {
        return Ok(None);
    }
    if value.len() > MAX_KEY_BYTES || !value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(ApiError::field(
            field,
            format!(
                "at most {MAX_KEY_BYTES} printable ASCII characters, not {}",
                echo(&value)
            ),
        ));
    }
    Ok(Some(value))
}

/// A request's filter as the store's, limited to what the caller may read.
pub(super) fn filter(f: Option<ReportFilter>, caller: &Caller) -> Result<ListFilter, ApiError> {
    let f = f.unwrap_or_default();
    let mut bad = Vec::new();
    let division_prefix = (!f.division_prefix.is_empty()).then_some(f.division_prefix);
    if let Some(p) = &division_prefix {
        if p.len() > 6 || !p.bytes().all(|b| b.is_ascii_digit()) {
            bad.push((
                "filter.division_prefix".to_string(),
                format!(
                    "1 to 6 digits of an administrative division code (32, 3206, 320602), not {}",
                    echo(p)
                ),
            ));
        }
    }
    let agency = if f.agency_id.is_empty() {
        None
    } else {
        match AgencyId::parse(&f.agency_id) {
            Ok(a) => Some(a),
            Err(e) => {
                bad.push(("filter.agency_id".to_string(), e.to_string()));
                None
            }
        }
    };
    let format_version = match FormatVersion::try_from(f.format_version) {
        Ok(FormatVersion::Unspecified) => None,
        Ok(v) => Some(v as i32),
        Err(_) => {
            bad.push((
                "filter.format_version".to_string(),
                format!("{} is not a FormatVersion", f.format_version),
            ));
            None
        }
    };
    if f.year < 0 {
        bad.push((
            "filter.year".to_string(),
            "a year is positive (0: any)".into(),
        ));
    }
    if !bad.is_empty() {
        return Err(ApiError::InvalidArgument(bad));
    }
    Ok(ListFilter {
        year: (f.year > 0).then_some(f.year),
        division_prefix,
        agency,
        format_version,
        has_errors: f.has_errors,
        include_withdrawn: f.include_withdrawn,
        within: (!caller.read.is_national()).then(|| Scope::clone(&caller.read)),
    })
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl ReportRegistry for Registry {
    #[tracing::instrument(name = "SubmitReport", skip_all, fields(name, revision, replayed))]
    async fn submit_report(
        &self,
        request: Request<SubmitReportRequest>,
    ) -> Result<Response<SubmitReportResponse>, Status> {
        let caller = Caller::of(&request)?;
        let store = self.store()?.clone();
        let r = request.into_inner();
        let source = input::from_submit(r.input)?;
        let request_id = key_field("request_id", r.request_id)?;
        if let Some(id) = &request_id {
            caller.request_id(id);
        }
        let expected_etag = key_field("etag", r.etag)?;
        let agency = if r.agency_id.is_empty() {
            None
        } else {
            Some(
                AgencyId::parse(&r.agency_id)
                    .map_err(|e| ApiError::field("agency_id", e.to_string()))?,
            )
        };
        let request = ingest::Request {
            source,
            agency,
            submitter: caller.identity.to_string(),
            request_id,
            expected_etag,
            reject_on_error: r.reject_on_error,
            within: Some(Scope::clone(&caller.write)),
            audit: Some(caller.write_record()),
        };
        // Read, name and validate on the work pool (within its budgets); then store.
        let bytes = text_bytes(&request.source);
        let submission = {
            let store = store.clone();
            self.work
                .run(bytes, move || ingest::prepare_submission(&store, request))
                .await??
        };
        let outcome = store.submit(submission).await?;
        caller.touches(outcome.name.to_string());
        if !outcome.replayed {
            caller.committed();
        }
        let span = tracing::Span::current();
        span.record("name", tracing::field::display(&outcome.name));
        span.record("revision", outcome.revision.revision);
        span.record("replayed", outcome.replayed);
        Ok(Response::new(SubmitReportResponse {
            revision: Some(outcome.revision),
            state: Some(outcome.state),
            replayed: outcome.replayed,
        }))
    }

    /// Served by [`super::registry_server::RegistryService`] from the stored bytes; this typed
    /// answer is for embedders of the generated server alone.
    #[tracing::instrument(name = "GetReport", skip_all, fields(name))]
    async fn get_report(
        &self,
        request: Request<GetReportRequest>,
    ) -> Result<Response<GetReportResponse>, Status> {
        let stored = self.get_stored(request)?;
        Ok(Response::new(stored.into_message()?))
    }

    #[tracing::instrument(name = "ListReports", skip_all)]
    async fn list_reports(
        &self,
        request: Request<ListReportsRequest>,
    ) -> Result<Response<ListReportsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let store = self.store()?;
        let r = request.into_inner();
        let filter = filter(r.filter, &caller)?;
        let limit = self.page_size(r.page_size)?;
        let cursor = if r.page_token.is_empty() {
            None
        } else {
            Some(ListCursor::from_token(&r.page_token)?)
        };
        let page = store.list(&filter, cursor.as_ref(), limit)?;
        Ok(Response::new(ListReportsResponse {
            reports: page
                .items
                .into_iter()
                .map(ListedReport::into_summary)
                .collect(),
            next_page_token: page.next.map(|c| c.to_token()).unwrap_or_default(),
        }))
    }

    #[tracing::instrument(name = "ListReportRevisions", skip_all, fields(name))]
    async fn list_report_revisions(
        &self,
        request: Request<ListReportRevisionsRequest>,
    ) -> Result<Response<ListReportRevisionsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let store = self.store()?;
        let r = request.into_inner();
        tracing::Span::current().record("name", r.name.as_str());
        let name = name_field("name", &r.name)?;
        caller.touches(name.to_string());
        if !store.exists_within(&name, &caller.read)? {
            return Err(ApiError::from(crate::store::StoreError::NotFound {
                name: name.to_string(),
            })
            .into());
        }
        let revisions = store.revisions(&name)?;
        let state = store.state(&name)?;
        Ok(Response::new(ListReportRevisionsResponse {
            revisions,
            state,
        }))
    }

    #[tracing::instrument(name = "WithdrawReport", skip_all, fields(name))]
    async fn withdraw_report(
        &self,
        request: Request<WithdrawReportRequest>,
    ) -> Result<Response<WithdrawReportResponse>, Status> {
        let caller = Caller::of(&request)?;
        let store = self.store()?;
        let r = request.into_inner();
        tracing::Span::current().record("name", r.name.as_str());
        let mut bad = Vec::new();
        let name = name_field("name", &r.name).map_err(|e| match e {
            ApiError::InvalidArgument(v) => v,
            _ => Vec::new(),
        });
        let reason_text = r.reason.trim();
        if reason_text.is_empty() {
            bad.push((
                "reason".to_string(),
                "required: why the report is withdrawn".to_string(),
            ));
        } else if reason_text.chars().count() > MAX_REASON_CHARS {
            bad.push((
                "reason".to_string(),
                format!(
                    "at most {MAX_REASON_CHARS} characters, not {}",
                    reason_text.chars().count()
                ),
            ));
        } else if let Err(e) = check_free_text(&r.reason, true) {
            bad.push(("reason".to_string(), e.to_string()));
        }
        let etag = key_field("etag", r.etag);
        let request_id = key_field("request_id", r.request_id);
        for e in [etag.as_ref().err(), request_id.as_ref().err()]
            .into_iter()
            .flatten()
        {
            if let ApiError::InvalidArgument(v) = e {
                bad.extend(v.iter().cloned());
            }
        }
        let name = match name {
            Ok(n) => n,
            Err(v) => {
                bad.extend(v);
                return Err(ApiError::InvalidArgument(bad).into());
            }
        };
        if !bad.is_empty() {
            return Err(ApiError::InvalidArgument(bad).into());
        }
        let (etag, request_id) = (etag?, request_id?);
        caller.touches(name.to_string());
        if let Some(id) = &request_id {
            caller.request_id(id);
        }
        let by = caller.identity.to_string();
        let outcome = store
            .withdraw(WithdrawRequest {
                name,
                reason: reason_text.to_string(),
                by,
                expected_etag: etag,
                request_id,
                audit: Some(caller.write_record()),
                read_scope: Some(Scope::clone(&caller.read)),
                write_scope: Some(Scope::clone(&caller.write)),
            })
            .await?;
        Ok(Response::new(WithdrawReportResponse {
            state: Some(outcome.state),
        }))
    }

    #[tracing::instrument(name = "AggregateReports", skip_all)]
    async fn aggregate_reports(
        &self,
        request: Request<AggregateReportsRequest>,
    ) -> Result<Response<AggregateReportsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let store = self.store()?.clone();
        let r = request.into_inner();
        let grouping = Grouping::from_request(r.group_by, r.division_prefix_length)?;
        let filter = filter(r.filter, &caller)?;
        let response = self
            .work
            .run(0, move || aggregate::aggregate(&store, &filter, grouping))
            .await??;
        Ok(Response::new(response))
    }

    type ExportReportsStream = BoxStream<ExportReportsResponse>;

    #[tracing::instrument(name = "ExportReports", skip_all)]
    async fn export_reports(
        &self,
        request: Request<ExportReportsRequest>,
    ) -> Result<Response<Self::ExportReportsStream>, Status> {
        let caller = Caller::of(&request)?;
        let store = self.store()?.clone();
        let filter = filter(request.into_inner().filter, &caller)?;
        let permit = self.stream_permit()?;
        let (tx, rx) = mpsc::channel(16);
        let mut draining = self.draining.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let result = store.for_each_latest(&filter, |revision| {
                if *draining.borrow_and_update() {
                    let _ = tx.blocking_send(Err(shutting_down()));
                    return ControlFlow::Break(());
                }
                match tx.blocking_send(Ok(ExportReportsResponse {
                    revision: Some(revision),
                })) {
                    Ok(()) => ControlFlow::Continue(()),
                    // The caller went away.
                    Err(_) => ControlFlow::Break(()),
                }
            });
            if let Err(e) = result {
                let _ = tx.blocking_send(Err(ApiError::from(e).into()));
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    type WatchReportsStream = BoxStream<WatchReportsResponse>;

    #[tracing::instrument(name = "WatchReports", skip_all, fields(after))]
    async fn watch_reports(
        &self,
        request: Request<WatchReportsRequest>,
    ) -> Result<Response<Self::WatchReportsStream>, Status> {
        let caller = Caller::of(&request)?;
        let store = self.store()?.clone();
        let mut after = request.into_inner().after_sequence;
        tracing::Span::current().record("after", after);
        let permit = self.stream_permit()?;
        // A bounded channel: a slow watcher holds at most `watch_buffer` events; the
        // rest stay in the change log until it catches up.
        let (tx, rx) = mpsc::channel(self.watch_buffer);
        let mut draining = self.draining.clone();
        let mut committed = store.subscribe();
        tokio::spawn(async move {
            let _permit = permit;
            loop {
                if *draining.borrow() {
                    let _ = tx.send(Err(shutting_down())).await;
                    return;
                }
                let batch = match store.changes(after, WATCH_BATCH) {
                    Ok(b) => b,
                    Err(e) => {
                        let _ = tx.send(Err(ApiError::from(e).into())).await;
                        return;
                    }
                };
                if batch.is_empty() {
                    tokio::select! {
                        changed = committed.changed() => if changed.is_err() { return },
                        _ = draining.changed() => {},
                        _ = tx.closed() => return,
                    }
                    continue;
                }
                for event in batch {
                    after = event.sequence;
                    let division = Some(event.division_code.as_str()).filter(|d| !d.is_empty());
                    if !caller.read.contains(division) {
                        continue;
                    }
                    if tx
                        .send(Ok(WatchReportsResponse { event: Some(event) }))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

pub(super) fn shutting_down() -> Status {
    ApiError::Unavailable {
        reason: reason::SHUTTING_DOWN,
        message: "the server is shutting down; reconnect and resume from the last sequence number received".into(),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::Scope;

    fn registry() -> Registry {
        let (_, draining) = watch::channel(false);
        let work = WorkPool::new(super::super::WorkLimits {
            workers: 1,
            ..Default::default()
        })
        .expect("a pool");
        Registry::new(None, &Config::default(), work, draining)
    }

    fn violated(e: ApiError) -> Vec<(String, String)> {
        match e {
            ApiError::InvalidArgument(v) => v,
            other => panic!("not a field violation: {other}"),
        }
    }

    #[test]
    fn page_sizes_are_defaulted_capped_and_never_negative() {
        let r = registry();
        assert_eq!(r.page_size(0).ok(), Some(50));
        assert_eq!(r.page_size(7).ok(), Some(7));
        assert_eq!(r.page_size(i32::MAX).ok(), Some(1000));
        for asked in [-1, i32::MIN] {
            let v = violated(r.page_size(asked).expect_err("negative"));
            assert_eq!(v[0].0, "page_size");
        }
    }

    #[test]
    fn filters_and_keys_echo_a_bounded_prefix() {
        let caller = Caller::new(
            "t".into(),
            None,
            std::sync::Arc::new(Scope::national()),
            std::sync::Arc::new(Scope::national()),
            "/m".into(),
        );
        let long = "9".repeat(100_000);
        let v = violated(
            filter(
                Some(ReportFilter {
                    division_prefix: long.clone(),
                    agency_id: long.clone(),
                    ..Default::default()
                }),
                &caller,
            )
            .expect_err("bad filter"),
        );
        let fields: Vec<&str> = v.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["filter.division_prefix", "filter.agency_id"]);
        for (f, d) in &v {
            assert!(
                d.len() < 400 && d.contains("(100000 characters)"),
                "{f}: {d}"
            );
        }
        let v = violated(key_field("etag", long).expect_err("long etag"));
        assert!(v[0].1.len() < 300, "{}", v[0].1);
        assert_eq!(key_field("etag", String::new()).ok(), Some(None));
    }
}
