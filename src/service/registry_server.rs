//! `nianbao.v1.ReportRegistry` as served: the generated server for every method but
//! GetReport, which is answered from the revision's stored bytes ([`StoredCodec`])
//! with the same limits, compression, span and errors as the generated path, so that
//! callers see no difference on the wire.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::codec::CompressionEncoding;
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Request, Response, Status};
use tracing::Instrument;

use super::registry::Registry;
use super::stored::{StoredCodec, StoredGetReport};
use crate::pb::report_registry_server::ReportRegistryServer;
use crate::pb::GetReportRequest;

/// The method answered from stored bytes.
pub const GET_REPORT_PATH: &str = "/nianbao.v1.ReportRegistry/GetReport";

/// The unary handler of GetReport.
struct GetStored(Arc<Registry>);

impl UnaryService<GetReportRequest> for GetStored {
    type Response = StoredGetReport;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Response<StoredGetReport>, Status>> + Send>,
    >;

    fn call(&mut self, request: Request<GetReportRequest>) -> Self::Future {
        let registry = Arc::clone(&self.0);
        let span = tracing::info_span!("GetReport", name = tracing::field::Empty);
        Box::pin(
            async move {
                let stored = registry.get_stored(request)?;
                Ok(Response::new(stored))
            }
            .instrument(span),
        )
    }
}

/// `nianbao.v1.ReportRegistry`: the generated server, with GetReport answered from
/// stored bytes.
#[derive(Clone)]
pub struct RegistryService {
    generated: ReportRegistryServer<Registry>,
    registry: Arc<Registry>,
    max_request_bytes: usize,
    max_response_bytes: usize,
}

impl RegistryService {
    /// Serves `registry`, accepting and offering gzip, with these message size limits.
    pub fn new(registry: Registry, max_request_bytes: usize, max_response_bytes: usize) -> Self {
        let registry = Arc::new(registry);
        let generated = ReportRegistryServer::from_arc(Arc::clone(&registry))
            .max_decoding_message_size(max_request_bytes)
            .max_encoding_message_size(max_response_bytes)
            .accept_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Gzip);
        RegistryService {
            generated,
            registry,
            max_request_bytes,
            max_response_bytes,
        }
    }
}

impl NamedService for RegistryService {
    const NAME: &'static str = <ReportRegistryServer<Registry> as NamedService>::NAME;
}

type BoxedResponse = std::pin::Pin<
    Box<
        dyn std::future::Future<Output = Result<http::Response<tonic::body::Body>, Infallible>>
            + Send,
    >,
>;

impl tower::Service<http::Request<tonic::body::Body>> for RegistryService {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxedResponse;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        if request.uri().path() != GET_REPORT_PATH {
            return self.generated.call(request);
        }
        let method = GetStored(Arc::clone(&self.registry));
        let (max_in, max_out) = (self.max_request_bytes, self.max_response_bytes);
        Box::pin(async move {
            let mut grpc = Grpc::new(StoredCodec)
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(max_in)
                .max_encoding_message_size(max_out);
            Ok(grpc.unary(method, request).await)
        })
    }
}
