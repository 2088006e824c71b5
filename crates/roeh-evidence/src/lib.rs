//! Evidence primitives of roeh: the SHA-256 of a segment's bytes and the per-camera hash chain.
//!
//! This crate has no async runtime and does no I/O of its own (it only reads from a caller's
//! [`std::io::Read`]), so the offline verifier can use it unchanged.
//!
//! Invariants:
//! - a segment's digest is SHA-256 over exactly the bytes of its file, in order ([`hash`]);
//! - a camera's segments form one chain, numbered from 1 without holes; each link commits to the
//!   segment's metadata, its digest and the previous link ([`chain`]). Rows of segments deleted by
//!   retention keep their links, so the chain of a camera always verifies from seq 1.

pub mod chain;
pub mod hash;

pub use chain::{
    CHAIN_BODY_LEN, CHAIN_PREFIX, ChainError, ChainFault, SegmentLinkInput, ZERO_LINK, chain_link,
    verify_chain, verify_chain_from,
};
pub use hash::{SegmentHasher, sha256_reader};
