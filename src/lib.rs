//! nianbao: parse, validate, store and serve government information-disclosure
//! annual reports (政府信息公开工作年度报告).
//!
//! The domain core ([`format`], [`diagnostics`], [`parse`], [`validate`], [`names`])
//! knows nothing of gRPC, storage or files. [`store`] keeps revisions in sled;
//! [`ingest`] and [`aggregate`] join the domain to the store; [`service`] is the gRPC
//! edge. Each layer imports only from the layers below it: `ARCHITECTURE.md`
//! ("Layers") lists them, and `tests/tidy.rs` fails on an import upwards.

pub mod pb {
    //! Types generated from `proto/nianbao/v1` (the entity model).
    #![allow(clippy::all, missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/nianbao.v1.rs"));
    include!(concat!(env!("OUT_DIR"), "/nianbao.v1.serde.rs"));

    /// The encoded descriptor set of every nianbao proto (for reflection).
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/nianbao_descriptor.bin"));
}

pub mod aggregate;
pub mod diagnostics;
pub mod format;
pub mod ingest;
pub mod names;
pub mod parse;
pub mod service;
pub mod store;
pub mod validate;

#[cfg(test)]
mod testdata;
