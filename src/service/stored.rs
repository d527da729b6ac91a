//! GetReport answered with the revision's stored bytes.
//!
//! A stored revision is the protobuf encoding of a `ReportRevision`. The generated
//! service would decode it and prost would encode it again, byte for byte the same,
//! for every GetReport: a third of the call's CPU. [`RegistryService`] routes
//! `GetReport` to a unary handler whose codec writes the response around the stored
//! bytes (`GetReportResponse` field 1 is the revision as stored, field 2 the state);
//! every other method goes to the generated server. Same limits, compression, span
//! and errors as the generated path; callers see no difference on the wire.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use prost::bytes::BufMut;
use prost::encoding::{encode_key, encode_varint, encoded_len_varint, WireType};
use prost::Message;
use tonic::codec::{Codec, CompressionEncoding, EncodeBuf, Encoder};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Request, Response, Status};
use tonic_prost::ProstDecoder;
use tracing::Instrument;

use super::registry::Registry;
use crate::pb::report_registry_server::ReportRegistryServer;
use crate::pb::{GetReportRequest, GetReportResponse, ReportState};
use crate::store::{EncodedRevision, StoreError};

/// The method answered from stored bytes.
pub const GET_REPORT_PATH: &str = "/nianbao.v1.ReportRegistry/GetReport";

/// A GetReport answer: the stored revision's bytes and the report's state.
#[derive(Debug)]
pub struct StoredGetReport {
    pub revision: EncodedRevision,
    pub state: ReportState,
}

impl StoredGetReport {
    /// Field 1 (`revision`) and field 2 (`state`) of `GetReportResponse`.
    const REVISION: u32 = 1;
    const STATE: u32 = 2;

    /// Length of the encoded `GetReportResponse`.
    pub fn encoded_len(&self) -> usize {
        let revision = self.revision.len();
        let state = self.state.encoded_len();
        1 + encoded_len_varint(revision as u64)
            + revision
            + 1
            + encoded_len_varint(state as u64)
            + state
    }

    /// Writes the `GetReportResponse` encoding: the same bytes prost writes for the
    /// decoded message (fields in number order, both present).
    pub fn encode(&self, buf: &mut impl BufMut) {
        encode_key(Self::REVISION, WireType::LengthDelimited, buf);
        encode_varint(self.revision.len() as u64, buf);
        buf.put_slice(&self.revision);
        encode_key(Self::STATE, WireType::LengthDelimited, buf);
        encode_varint(self.state.encoded_len() as u64, buf);
        self.state.encode_raw(buf);
    }

    /// The decoded message (for callers of the generated service trait).
    pub fn into_message(self) -> Result<GetReportResponse, StoreError> {
        Ok(GetReportResponse {
            revision: Some(self.revision.decode()?),
            state: Some(self.state),
        })
    }
}

/// Encodes [`StoredGetReport`]s; decodes requests as the generated path does (prost's
/// decoder, whose errors `edge::caller_errors` turns into field violations).
#[derive(Debug, Default, Clone, Copy)]
struct StoredCodec;

impl Codec for StoredCodec {
    type Encode = StoredGetReport;
    type Decode = GetReportRequest;
    type Encoder = StoredCodec;
    type Decoder = ProstDecoder<GetReportRequest>;

    fn encoder(&mut self) -> Self::Encoder {
        StoredCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        ProstDecoder::default()
    }
}

impl Encoder for StoredCodec {
    type Item = StoredGetReport;
    type Error = Status;

    fn encode(&mut self, item: StoredGetReport, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.reserve(item.encoded_len());
        item.encode(dst);
        Ok(())
    }
}

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
                let stored = registry.get_stored(request.into_inner())?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::{ReportRevision, Withdrawal};

    fn stored(revision: &ReportRevision, state: ReportState) -> StoredGetReport {
        StoredGetReport {
            revision: EncodedRevision::from_bytes(&revision.encode_to_vec()),
            state,
        }
    }

    /// The hand-written encoding is exactly prost's for the same message, so a
    /// caller's generated stubs cannot tell the paths apart.
    #[test]
    fn the_stored_encoding_is_prosts_encoding_of_the_message() {
        let report = crate::pb::AnnualReport {
            title: "某某县人民政府2024年政府信息公开工作年度报告".into(),
            ..Default::default()
        };
        let revisions = [
            ReportRevision::default(),
            ReportRevision {
                name: "agencies/a-1/reports/2024".into(),
                revision: 3,
                etag: "e".repeat(40),
                report: Some(report.clone()),
                ..Default::default()
            },
            ReportRevision {
                name: "agencies/a-1/reports/2024".into(),
                // Over 127 and 16,383 bytes: two- and three-byte length prefixes.
                report: Some(crate::pb::AnnualReport {
                    title: "年".repeat(6000),
                    ..report
                }),
                ..Default::default()
            },
        ];
        let states = [
            ReportState::default(),
            ReportState {
                latest_revision: 7,
                withdrawal: Some(Withdrawal {
                    reason: "重复报送".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ];
        for revision in &revisions {
            for state in &states {
                let message = GetReportResponse {
                    revision: Some(revision.clone()),
                    state: Some(state.clone()),
                };
                let s = stored(revision, state.clone());
                let mut buf = Vec::new();
                s.encode(&mut buf);
                assert_eq!(buf.len(), s.encoded_len());
                assert_eq!(buf, message.encode_to_vec());
                assert_eq!(
                    GetReportResponse::decode(&buf[..]).ok(),
                    Some(message.clone())
                );
                assert_eq!(s.into_message().ok(), Some(message));
            }
        }
    }
}
