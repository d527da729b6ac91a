//! The client's codec for the nianbao methods ([`RawCodec`]): a request goes out as a
//! message encoded on the way or as bytes encoded before the run ([`Wire`]), and a
//! response comes back as its protobuf bytes, undecoded (a view of tonic's buffer),
//! so that the client decodes only what it checks.

use std::marker::PhantomData;

use prost::bytes::{Buf, BufMut, Bytes};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::Status;

/// A request as [`RawCodec`] sends it: a message, encoded on the way out, or bytes
/// encoded before (a request sent again and again is encoded once).
pub enum Wire<M> {
    Message(M),
    Encoded(Bytes),
}

/// The client's codec for the nianbao methods: requests as [`Wire`], responses as
/// their protobuf bytes, not decoded (the caller decodes what it checks).
pub struct RawCodec<M>(PhantomData<fn(M)>);

impl<M> Default for RawCodec<M> {
    fn default() -> Self {
        RawCodec(PhantomData)
    }
}

pub struct RawEncoder<M>(PhantomData<fn(M)>);

pub struct RawDecoder;

impl<M: prost::Message + 'static> Codec for RawCodec<M> {
    type Encode = Wire<M>;
    type Decode = Bytes;
    type Encoder = RawEncoder<M>;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> RawEncoder<M> {
        RawEncoder(PhantomData)
    }

    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

impl<M: prost::Message> Encoder for RawEncoder<M> {
    type Item = Wire<M>;
    type Error = Status;

    fn encode(&mut self, item: Wire<M>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        match item {
            Wire::Message(m) => m
                .encode(dst)
                .map_err(|e| Status::internal(format!("cannot encode the request: {e}"))),
            Wire::Encoded(bytes) => {
                dst.reserve(bytes.len());
                dst.put_slice(&bytes);
                Ok(())
            }
        }
    }
}

impl Decoder for RawDecoder {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        // The message's bytes as they are (a view of tonic's buffer, no copy).
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}
