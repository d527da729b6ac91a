//! A GetReport answer written around the revision's stored bytes.
//!
//! A stored revision is the protobuf encoding of a `ReportRevision`. The generated
//! service would decode it and prost would encode it again, byte for byte the same,
//! for every GetReport: a third of the call's CPU. [`StoredGetReport`] is the answer
//! as stored bytes plus the state, and [`StoredCodec`] writes it as a
//! `GetReportResponse` (field 1 the revision as stored, field 2 the state), byte for
//! byte what prost writes. `registry_server` routes GetReport through it.

use prost::bytes::BufMut;
use prost::encoding::{encode_key, encode_varint, encoded_len_varint, WireType};
use prost::Message;
use tonic::codec::{Codec, EncodeBuf, Encoder};
use tonic::Status;
use tonic_prost::ProstDecoder;

use crate::pb::{GetReportRequest, GetReportResponse, ReportState};
use crate::store::{EncodedRevision, StoreError};

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
pub struct StoredCodec;

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
