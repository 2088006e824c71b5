//! The per-camera segment hash chain.
//!
//! Each committed segment of a camera carries a link `chain = SHA-256(encoding)`, where the
//! encoding commits to the segment's metadata, its SHA-256 and the previous segment's link. The
//! first segment of a camera (seq 1) uses 32 zero bytes as the previous link.
//!
//! # Byte layout (version 1) — a public contract
//!
//! The hashed message is exactly 166 bytes. All integers are big-endian, two's complement for
//! signed ones.
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! |      0 |   22 | domain prefix: ASCII `roeh/segment-chain/v1` followed by one `0x00` byte |
//! |     22 |    4 | `u32` length of the body that follows: always 140 in version 1 |
//! |     26 |   16 | camera id: the UUID's 16 bytes in RFC 9562 order |
//! |     42 |    8 | `u64` seq (1-based position in the camera's chain) |
//! |     50 |    8 | `u64` run (recording run number) |
//! |     58 |    8 | `i64` start wall time, microseconds since the Unix epoch, UTC |
//! |     66 |    8 | `i64` end wall time, microseconds since the Unix epoch, UTC |
//! |     74 |    8 | `i64` start media time, 90 kHz units |
//! |     82 |    8 | `i64` media duration, 90 kHz units |
//! |     90 |    4 | `u32` number of frames |
//! |     94 |    8 | `u64` byte length of the segment file |
//! |    102 |   32 | SHA-256 of the segment file's bytes |
//! |    134 |   32 | previous link (32 zero bytes for seq 1) |
//!
//! `link = SHA-256(message)`. A later version changes the prefix (`…/v2\0`) and the body length;
//! a verifier dispatches on the prefix and never guesses.
//!
//! # What verification proves
//!
//! [`verify_chain`] accepts a camera's segments in seq order and names the first seq at which
//! the chain breaks: a hole or reordering in seq, a previous link that differs from the
//! predecessor's link, or a stored link that differs from the recomputed one (any metadata or
//! digest edited). Whether a file's bytes still match its digest is checked by hashing the file
//! (see [`crate::hash`]); the chain itself needs only the rows.

use roeh_domain::{CameraId, Pts90k, Segment, WallTime};
use sha2::{Digest, Sha256};
use std::fmt;

/// Domain-separation prefix of version 1 of the chain encoding.
pub const CHAIN_PREFIX: &[u8; 22] = b"roeh/segment-chain/v1\0";
/// Length of the body after the prefix and the length field, in version 1.
pub const CHAIN_BODY_LEN: u32 = 140;
/// The previous link of a camera's first segment.
pub const ZERO_LINK: [u8; 32] = [0u8; 32];

/// The fields of a segment that its chain link commits to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentLinkInput {
    /// Camera.
    pub camera: CameraId,
    /// Position in the camera's chain, from 1.
    pub seq: u64,
    /// Recording run.
    pub run: u64,
    /// Wall time of the first frame.
    pub start: WallTime,
    /// Wall time at the end of the last frame.
    pub end: WallTime,
    /// Media time of the first frame.
    pub start_pts: Pts90k,
    /// Media duration.
    pub duration: Pts90k,
    /// Number of frames.
    pub frames: u32,
    /// Byte length of the file.
    pub bytes: u64,
    /// SHA-256 of the file.
    pub sha256: [u8; 32],
}

impl From<&Segment> for SegmentLinkInput {
    fn from(s: &Segment) -> Self {
        SegmentLinkInput {
            camera: s.camera,
            seq: s.seq,
            run: s.run,
            start: s.start,
            end: s.end,
            start_pts: s.start_pts,
            duration: s.duration,
            frames: s.frames,
            bytes: s.bytes,
            sha256: s.sha256,
        }
    }
}

/// The exact message hashed for a link (see the module docs for the layout).
pub fn chain_message(prev: &[u8; 32], seg: &SegmentLinkInput) -> [u8; 166] {
    let mut m = [0u8; 166];
    let mut at = 0usize;
    let mut put = |b: &[u8]| {
        m[at..at + b.len()].copy_from_slice(b);
        at += b.len();
    };
    put(CHAIN_PREFIX);
    put(&CHAIN_BODY_LEN.to_be_bytes());
    put(seg.camera.0.as_bytes());
    put(&seg.seq.to_be_bytes());
    put(&seg.run.to_be_bytes());
    put(&seg.start.0.to_be_bytes());
    put(&seg.end.0.to_be_bytes());
    put(&seg.start_pts.0.to_be_bytes());
    put(&seg.duration.0.to_be_bytes());
    put(&seg.frames.to_be_bytes());
    put(&seg.bytes.to_be_bytes());
    put(&seg.sha256);
    put(prev);
    debug_assert_eq!(at, 166);
    m
}

/// The chain link of `seg` following `prev`.
pub fn chain_link(prev: &[u8; 32], seg: &SegmentLinkInput) -> [u8; 32] {
    Sha256::digest(chain_message(prev, seg)).into()
}

/// How a chain breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChainFault {
    /// The seq is not the one expected (a hole, a duplicate or a reordering).
    SeqOrder {
        /// The seq that should have come next.
        expected: u64,
    },
    /// The segment belongs to a different camera than the chain.
    CameraMismatch,
    /// The segment's stored previous link differs from its predecessor's link.
    PrevMismatch,
    /// The segment's stored link differs from the one recomputed from its fields.
    LinkMismatch,
}

impl fmt::Display for ChainFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainFault::SeqOrder { expected } => write!(f, "expected seq {expected}"),
            ChainFault::CameraMismatch => f.write_str("segment of another camera"),
            ChainFault::PrevMismatch => f.write_str("previous link does not match predecessor"),
            ChainFault::LinkMismatch => f.write_str("link does not match segment contents"),
        }
    }
}

/// The first place a chain fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainError {
    /// Seq of the first failing segment (as stored in it).
    pub seq: u64,
    /// What is wrong there.
    pub what: ChainFault,
}

impl fmt::Display for ChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "hash chain broken at seq {}: {}", self.seq, self.what)
    }
}

impl std::error::Error for ChainError {}

/// Verifies a camera's whole chain: `segments` must start at seq 1 (previous link zero) and
/// continue without holes. An empty slice verifies.
pub fn verify_chain(segments: &[Segment]) -> Result<(), ChainError> {
    verify_chain_from(None, segments)
}

/// Verifies a stretch of a camera's chain. `anchor` is `(seq, link)` of the segment just before
/// the stretch, if known (trusted, e.g. from a signed checkpoint); with `None` the stretch must
/// start at seq 1.
pub fn verify_chain_from(
    anchor: Option<(u64, [u8; 32])>,
    segments: &[Segment],
) -> Result<(), ChainError> {
    let (mut expected_seq, mut prev) = match anchor {
        Some((seq, link)) => (seq.saturating_add(1), link),
        None => (1, ZERO_LINK),
    };
    let camera = segments.first().map(|s| s.camera);
    for s in segments {
        let fail = |what| Err(ChainError { seq: s.seq, what });
        if Some(s.camera) != camera {
            return fail(ChainFault::CameraMismatch);
        }
        if s.seq != expected_seq {
            return fail(ChainFault::SeqOrder {
                expected: expected_seq,
            });
        }
        if s.prev_chain != prev {
            return fail(ChainFault::PrevMismatch);
        }
        if chain_link(&s.prev_chain, &SegmentLinkInput::from(s)) != s.chain {
            return fail(ChainFault::LinkMismatch);
        }
        prev = s.chain;
        expected_seq = expected_seq.saturating_add(1);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use roeh_domain::{SegmentState, VideoCodec};
    use uuid::Uuid;

    fn random_chain(rng: &mut StdRng, n: usize) -> Vec<Segment> {
        let camera = CameraId(uuid_from(rng));
        let mut prev = ZERO_LINK;
        let mut out = Vec::new();
        let mut wall = rng.random_range(0..1_000_000_000_000i64);
        for seq in 1..=n as u64 {
            let dur = rng.random_range(1..2_000_000i64);
            let mut sha = [0u8; 32];
            rng.fill(&mut sha[..]);
            let mut s = Segment {
                id: seq as i64,
                camera,
                seq,
                run: 1 + seq / 4,
                codec: VideoCodec::H264,
                start: WallTime(wall),
                end: WallTime(wall + dur),
                start_pts: Pts90k(rng.random_range(0..1_000_000)),
                duration: Pts90k(dur * 9 / 100),
                frames: rng.random_range(1..500),
                bytes: rng.random_range(1..10_000_000),
                sha256: sha,
                prev_chain: prev,
                chain: ZERO_LINK,
                config_record: vec![1, 2, 3],
                width: 768,
                height: 576,
                rfc6381: "avc1.4d401e".into(),
                recovered: false,
                state: SegmentState::Committed,
            };
            s.chain = chain_link(&prev, &SegmentLinkInput::from(&s));
            prev = s.chain;
            wall += dur;
            out.push(s);
        }
        out
    }

    fn uuid_from(rng: &mut StdRng) -> Uuid {
        let mut b = [0u8; 16];
        rng.fill(&mut b[..]);
        Uuid::from_bytes(b)
    }

    /// Alters one field of one segment; returns which seq was altered.
    fn tamper(rng: &mut StdRng, segs: &mut [Segment]) -> u64 {
        let i = rng.random_range(0..segs.len());
        let s = &mut segs[i];
        match rng.random_range(0..11) {
            0 => s.sha256[rng.random_range(0..32)] ^= 1 << rng.random_range(0..8),
            1 => s.bytes ^= 1,
            2 => s.frames = s.frames.wrapping_add(1),
            3 => s.start.0 += 1,
            4 => s.end.0 -= 1,
            5 => s.start_pts.0 += 1,
            6 => s.duration.0 += 1,
            7 => s.run += 1,
            8 => s.chain[rng.random_range(0..32)] ^= 1,
            9 => s.prev_chain[rng.random_range(0..32)] ^= 1,
            _ => {
                let mut b = *s.camera.0.as_bytes();
                b[0] ^= 0x80;
                s.camera = CameraId(Uuid::from_bytes(b));
            }
        }
        s.seq
    }

    #[test]
    fn layout_is_stable() {
        let s = SegmentLinkInput {
            camera: CameraId(Uuid::from_bytes([0x11; 16])),
            seq: 1,
            run: 2,
            start: WallTime(3),
            end: WallTime(4),
            start_pts: Pts90k(-5),
            duration: Pts90k(6),
            frames: 7,
            bytes: 8,
            sha256: [0xaa; 32],
        };
        let m = chain_message(&[0xbb; 32], &s);
        assert_eq!(&m[..22], b"roeh/segment-chain/v1\0");
        assert_eq!(&m[22..26], &[0, 0, 0, 140]);
        assert_eq!(&m[26..42], &[0x11; 16]);
        assert_eq!(&m[42..50], &1u64.to_be_bytes());
        assert_eq!(&m[50..58], &2u64.to_be_bytes());
        assert_eq!(&m[58..66], &3i64.to_be_bytes());
        assert_eq!(&m[66..74], &4i64.to_be_bytes());
        assert_eq!(&m[74..82], &(-5i64).to_be_bytes());
        assert_eq!(&m[82..90], &6i64.to_be_bytes());
        assert_eq!(&m[90..94], &7u32.to_be_bytes());
        assert_eq!(&m[94..102], &8u64.to_be_bytes());
        assert_eq!(&m[102..134], &[0xaa; 32]);
        assert_eq!(&m[134..166], &[0xbb; 32]);
        let direct: [u8; 32] = Sha256::digest(m).into();
        assert_eq!(chain_link(&[0xbb; 32], &s), direct);
    }

    #[test]
    fn intact_chains_verify() {
        let mut rng = StdRng::seed_from_u64(1);
        for n in 0..40 {
            let segs = random_chain(&mut rng, n);
            verify_chain(&segs).unwrap();
            if n > 3 {
                let anchor = (segs[1].seq, segs[1].chain);
                verify_chain_from(Some(anchor), &segs[2..]).unwrap();
            }
        }
    }

    #[test]
    fn any_alteration_is_caught_at_its_seq() {
        let mut rng = StdRng::seed_from_u64(2);
        for _ in 0..2000 {
            let n = rng.random_range(1..30);
            let mut segs = random_chain(&mut rng, n);
            let seq = tamper(&mut rng, &mut segs);
            let e = verify_chain(&segs).expect_err("tampered chain verified");
            // A changed link of seq k is caught at k + 1 (prev mismatch), unless k is last;
            // then it is caught at k itself. Every other change is caught at k.
            assert!(e.seq == seq || e.seq == seq + 1, "{e} vs altered {seq}");
            assert!(e.seq <= seq + 1);
        }
    }

    #[test]
    fn drops_swaps_and_inserts_are_caught() {
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..500 {
            let n = rng.random_range(2..30);
            let segs = random_chain(&mut rng, n);
            // Drop one (not the last: dropping the tail leaves a valid shorter chain, which
            // only a signed checkpoint of the head can catch).
            let i = rng.random_range(0..n - 1);
            let mut d = segs.clone();
            d.remove(i);
            assert_eq!(verify_chain(&d).unwrap_err().seq, segs[i + 1].seq);
            // Swap two neighbours.
            let mut s = segs.clone();
            s.swap(i, i + 1);
            assert_eq!(
                verify_chain(&s).unwrap_err().what,
                ChainFault::SeqOrder {
                    expected: i as u64 + 1
                }
            );
            // Renumber after a drop so seqs look contiguous: the prev link catches it.
            let mut r = d.clone();
            for (k, seg) in r.iter_mut().enumerate() {
                seg.seq = k as u64 + 1;
            }
            assert!(verify_chain(&r).is_err());
            // Duplicate one.
            let mut dup = segs.clone();
            dup.insert(i, segs[i].clone());
            assert!(verify_chain(&dup).is_err());
        }
    }
}
