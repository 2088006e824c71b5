//! Streaming SHA-256 of a segment's bytes.
//!
//! Invariant: [`SegmentHasher::finish`] returns the digest of exactly the bytes passed to
//! [`SegmentHasher::update`], in order, and their total length. The recorder hashes while it
//! writes, so a segment is never read back just to be hashed.

use sha2::{Digest, Sha256};
use std::io::{self, Read};

/// Incremental SHA-256 over a segment's bytes, counting them as it goes.
#[derive(Clone, Debug, Default)]
pub struct SegmentHasher {
    inner: Sha256,
    len: u64,
}

impl SegmentHasher {
    /// A hasher that has seen nothing.
    pub fn new() -> Self {
        SegmentHasher::default()
    }

    /// Feeds the next bytes of the segment.
    pub fn update(&mut self, bytes: &[u8]) {
        self.inner.update(bytes);
        self.len += bytes.len() as u64;
    }

    /// Bytes fed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing has been fed yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The digest of everything fed, and its length.
    pub fn finish(self) -> ([u8; 32], u64) {
        (self.inner.finalize().into(), self.len)
    }
}

/// SHA-256 and length of everything `r` yields, read in 64 KiB blocks.
pub fn sha256_reader(mut r: impl Read) -> io::Result<([u8; 32], u64)> {
    let mut h = SegmentHasher::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        h.update(&buf[..n]);
    }
    Ok(h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector() {
        // FIPS 180-2 test vector "abc".
        let (d, n) = sha256_reader(&b"abc"[..]).unwrap();
        assert_eq!(n, 3);
        assert_eq!(
            hex::encode(d),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn incremental_equals_one_shot() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let mut h = SegmentHasher::new();
        for chunk in data.chunks(777) {
            h.update(chunk);
        }
        let (a, n) = h.finish();
        assert_eq!(n, data.len() as u64);
        assert_eq!(sha256_reader(&data[..]).unwrap(), (a, n));
        let direct: [u8; 32] = Sha256::digest(&data).into();
        assert_eq!(a, direct);
    }
}
