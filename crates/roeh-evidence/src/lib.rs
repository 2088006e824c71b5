//! Evidence of roeh (docs/design/0005-evidence-format.md): the SHA-256 of a segment's bytes, the
//! per-camera hash chain, the site's RFC 9162 Merkle log and its leaves, Ed25519 site keys,
//! signed checkpoints, clip bundles and their offline verification.
//!
//! This crate has no async runtime and no ffmpeg, GStreamer or ONNX Runtime: the standalone
//! `roeh-verify` depends on it alone. Its file I/O is limited to key files ([`keys`]) and
//! bundles ([`bundle`], [`verify`]).
//!
//! Invariants:
//! - a segment's digest is SHA-256 over exactly the bytes of its file, in order ([`hash`]);
//! - a camera's segments form one chain, numbered from 1 without holes; each link commits to the
//!   segment's metadata, its digest and the previous link ([`chain`]). Rows of segments deleted by
//!   retention keep their links, so the chain of a camera always verifies from seq 1;
//! - the verifier never panics and never writes: bundle entry names are looked up, never used as
//!   paths.

pub mod bundle;
pub mod chain;
pub mod checkpoint;
pub mod hash;
pub mod keys;
pub mod leaf;
pub mod manifest;
pub mod merkle;
pub mod tsa;
pub mod verify;

pub use bundle::{BundleError, BundleForm, BundleInput, write_bundle};
pub use chain::{
    CHAIN_BODY_LEN, CHAIN_PREFIX, ChainError, ChainFault, SegmentLinkInput, ZERO_LINK, chain_link,
    verify_chain, verify_chain_from,
};
pub use hash::{SegmentHasher, sha256_reader};
pub use manifest::Manifest;
pub use verify::{Verdict, verify_bundle};
