//! `ReportAdmin`: a thin handler streaming the store's audit records
//! ([`Store::audit_records`]), following new ones when asked, ended on drain. Its
//! streams count against the same limit as the registry's export and watch streams.

use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::{mpsc, watch, Semaphore};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use super::registry::shutting_down;
use super::status::{reason, ApiError};
use crate::pb::report_admin_server::ReportAdmin;
use crate::pb::{AuditRecord, ExportAuditRecordsRequest};
use crate::store::Store;

/// Records a slow reader may have in flight.
const BUFFER: usize = 256;

/// The admin service.
#[derive(Clone)]
pub struct Admin {
    store: Option<Store>,
    /// Open streams, shared with the registry's.
    streams: Arc<Semaphore>,
    max_streams: usize,
    /// Turns true when the server starts draining: open streams end.
    draining: watch::Receiver<bool>,
}

impl Admin {
    /// `streams` (of at most `max_streams` permits) is the server's limit on open
    /// streams; `draining` turns true when the server drains.
    pub fn new(
        store: Option<Store>,
        streams: Arc<Semaphore>,
        max_streams: usize,
        draining: watch::Receiver<bool>,
    ) -> Admin {
        Admin {
            store,
            streams,
            max_streams,
            draining,
        }
    }

    fn store(&self) -> Result<&Store, ApiError> {
        self.store.as_ref().ok_or_else(|| ApiError::Unavailable {
            reason: reason::STORE_UNAVAILABLE,
            message: "the registry's store could not be opened (see the server log)".into(),
        })
    }
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl ReportAdmin for Admin {
    type ExportAuditRecordsStream = BoxStream<AuditRecord>;

    #[tracing::instrument(name = "ExportAuditRecords", skip_all, fields(since, follow))]
    async fn export_audit_records(
        &self,
        request: Request<ExportAuditRecordsRequest>,
    ) -> Result<Response<Self::ExportAuditRecordsStream>, Status> {
        let store = self.store()?.clone();
        let r = request.into_inner();
        let span = tracing::Span::current();
        span.record("since", r.since_sequence);
        span.record("follow", r.follow);
        let permit =
            self.streams
                .clone()
                .try_acquire_owned()
                .map_err(|_| ApiError::ResourceExhausted {
                    reason: reason::TOO_MANY_STREAMS,
                    message: format!(
                        "the server has {} streams open, its limit; retry later",
                        self.max_streams
                    ),
                })?;
        let (tx, rx) = mpsc::channel(BUFFER);
        let mut draining = self.draining.clone();
        let mut appended = store.subscribe_audit();
        // Without `follow`, the export ends at the last record durable now.
        let end = (!r.follow).then(|| *appended.borrow_and_update());
        let mut after = r.since_sequence;
        tokio::spawn(async move {
            let _permit = permit;
            loop {
                if *draining.borrow() {
                    let _ = tx.send(Err(shutting_down())).await;
                    return;
                }
                // Everything durable now, by key; then wait for more (or end).
                let upto = end.unwrap_or_else(|| *appended.borrow_and_update());
                if upto > after {
                    for record in store.audit_records_through(after, upto) {
                        if *draining.borrow() {
                            let _ = tx.send(Err(shutting_down())).await;
                            return;
                        }
                        let item = record.map_err(|e| ApiError::from(e).into());
                        let failed = item.is_err();
                        if tx.send(item).await.is_err() || failed {
                            return;
                        }
                    }
                    after = upto;
                }
                if end.is_some() {
                    return;
                }
                tokio::select! {
                    changed = appended.changed() => if changed.is_err() { return },
                    _ = draining.changed() => {},
                    _ = tx.closed() => return,
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}
