//! The leaves of the site's Merkle log (`docs/design/0005-evidence-format.md` §1) — a public
//! contract.
//!
//! Every leaf is `kind (u8) ‖ body`; all integers are big-endian, signed ones two's complement;
//! strings are UTF-8 behind a length prefix.
//!
//! | kind | leaf | body |
//! |-----:|------|------|
//! | 1 | committed segment | the 166-byte chain message of [`crate::chain`] ‖ `H(frame index v1)` (32) ‖ `H(decoder configuration record)` (32): 231 bytes in all |
//! | 2 | closed gap | `roeh/gap/v1\0` ‖ camera (16) ‖ gap id (u64) ‖ start (i64) ‖ end (i64) ‖ reason (u16 length ‖ UTF-8) ‖ detail (u32 length ‖ UTF-8) |
//! | 3 | event | `roeh/event/v1\0` ‖ time (i64) ‖ u32 length ‖ the event's JSON, byte for byte |
//!
//! Frame index v1: `roeh/frame-index/v1\0` ‖ u32 count ‖ per frame: offset (u64) ‖ size (u32) ‖
//! pts offset (i64, 90 kHz) ‖ flags (u8, bit 0 = key frame). Receive times are not committed.
//!
//! Invariants: the encoders never truncate. A string or JSON too long for its length prefix is
//! refused with a [`LeafError`] (so [`gap_leaf`] and [`event_leaf`] return `Result`); the same
//! bytes always give the same leaf.

use crate::chain::{SegmentLinkInput, chain_message};
use crate::merkle::Hash;
use roeh_domain::{CameraId, FrameIndexEntry, WallTime};
use sha2::{Digest, Sha256};
use std::fmt;

/// Leaf kind of a committed segment.
pub const LEAF_SEGMENT: u8 = 1;
/// Leaf kind of a closed gap.
pub const LEAF_GAP: u8 = 2;
/// Leaf kind of an event.
pub const LEAF_EVENT: u8 = 3;

/// Domain prefix of the frame index encoding, version 1.
pub const FRAME_INDEX_PREFIX: &[u8] = b"roeh/frame-index/v1\0";
/// Domain prefix of a gap leaf's body, version 1.
pub const GAP_PREFIX: &[u8] = b"roeh/gap/v1\0";
/// Domain prefix of an event leaf's body, version 1.
pub const EVENT_PREFIX: &[u8] = b"roeh/event/v1\0";

/// Length of a segment leaf: kind, chain message, frame index hash, config hash.
pub const SEGMENT_LEAF_LEN: usize = 1 + 166 + 32 + 32;

/// One frame of a segment as the log commits to it (no receive time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexedFrame {
    /// Byte offset of the frame in the segment file.
    pub offset: u64,
    /// Byte length of the frame.
    pub size: u32,
    /// Media time from the segment's first frame, 90 kHz.
    pub pts_offset: i64,
    /// Whether the frame is a key frame.
    pub is_key: bool,
}

impl From<&FrameIndexEntry> for IndexedFrame {
    fn from(e: &FrameIndexEntry) -> Self {
        IndexedFrame {
            offset: e.offset,
            size: e.size,
            pts_offset: e.pts_offset,
            is_key: e.is_key,
        }
    }
}

/// A field too long for its length prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeafError {
    /// Which field (`reason`, `detail`, `json`).
    pub field: &'static str,
    /// Its length in bytes.
    pub len: usize,
    /// The largest length its prefix can hold.
    pub max: u64,
}

impl fmt::Display for LeafError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "log leaf: {} is {} bytes, more than the {} its length prefix allows",
            self.field, self.len, self.max
        )
    }
}

impl std::error::Error for LeafError {}

/// `H(frame index v1)` of a segment's frames, in file order.
///
/// A segment never holds more than `u32::MAX` frames (its chain message counts them in a `u32`).
/// For a longer slice the count field saturates at `u32::MAX` while every frame is still hashed,
/// so the result can never equal the hash of a real segment's index.
pub fn frame_index_hash(frames: &[IndexedFrame]) -> Hash {
    let mut h = Sha256::new();
    h.update(FRAME_INDEX_PREFIX);
    h.update(
        u32::try_from(frames.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    for f in frames {
        let mut rec = [0u8; 21];
        rec[0..8].copy_from_slice(&f.offset.to_be_bytes());
        rec[8..12].copy_from_slice(&f.size.to_be_bytes());
        rec[12..20].copy_from_slice(&f.pts_offset.to_be_bytes());
        rec[20] = u8::from(f.is_key);
        h.update(rec);
    }
    h.finalize().into()
}

/// The leaf of a committed segment: `1 ‖ chain message(prev, seg) ‖ frame index hash ‖
/// config hash` ([`SEGMENT_LEAF_LEN`] bytes), where the config hash is [`config_hash`] of the
/// segment's decoder configuration record (`avcC`/`hvcC`).
pub fn segment_leaf(
    prev: &[u8; 32],
    seg: &SegmentLinkInput,
    frame_index_hash: &Hash,
    config_hash: &Hash,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(SEGMENT_LEAF_LEN);
    out.push(LEAF_SEGMENT);
    out.extend_from_slice(&chain_message(prev, seg));
    out.extend_from_slice(frame_index_hash);
    out.extend_from_slice(config_hash);
    out
}

/// SHA-256 of a decoder configuration record, exactly as stored (`avcC`/`hvcC` payload).
pub fn config_hash(config_record: &[u8]) -> Hash {
    Sha256::digest(config_record).into()
}

/// The leaf of a closed gap. Refuses a `reason` longer than `u16::MAX` bytes or a `detail`
/// longer than `u32::MAX` bytes.
pub fn gap_leaf(
    camera: CameraId,
    gap_id: u64,
    start: WallTime,
    end: WallTime,
    reason: &str,
    detail: &str,
) -> Result<Vec<u8>, LeafError> {
    let reason_len = u16::try_from(reason.len()).map_err(|_| LeafError {
        field: "reason",
        len: reason.len(),
        max: u64::from(u16::MAX),
    })?;
    let detail_len = u32::try_from(detail.len()).map_err(|_| LeafError {
        field: "detail",
        len: detail.len(),
        max: u64::from(u32::MAX),
    })?;
    let mut out =
        Vec::with_capacity(1 + GAP_PREFIX.len() + 16 + 24 + 2 + reason.len() + 4 + detail.len());
    out.push(LEAF_GAP);
    out.extend_from_slice(GAP_PREFIX);
    out.extend_from_slice(camera.0.as_bytes());
    out.extend_from_slice(&gap_id.to_be_bytes());
    out.extend_from_slice(&start.0.to_be_bytes());
    out.extend_from_slice(&end.0.to_be_bytes());
    out.extend_from_slice(&reason_len.to_be_bytes());
    out.extend_from_slice(reason.as_bytes());
    out.extend_from_slice(&detail_len.to_be_bytes());
    out.extend_from_slice(detail.as_bytes());
    Ok(out)
}

/// The leaf of an event: its time and its JSON, byte for byte as stored. Refuses JSON longer
/// than `u32::MAX` bytes.
pub fn event_leaf(time: WallTime, json: &[u8]) -> Result<Vec<u8>, LeafError> {
    let len = u32::try_from(json.len()).map_err(|_| LeafError {
        field: "json",
        len: json.len(),
        max: u64::from(u32::MAX),
    })?;
    let mut out = Vec::with_capacity(1 + EVENT_PREFIX.len() + 8 + 4 + json.len());
    out.push(LEAF_EVENT);
    out.extend_from_slice(EVENT_PREFIX);
    out.extend_from_slice(&time.0.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(json);
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use roeh_domain::Pts90k;
    use uuid::Uuid;

    fn cam() -> CameraId {
        CameraId(Uuid::from_bytes([
            0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x10, 0x32, 0x54, 0x76, 0x98, 0xba,
            0xdc, 0xfe,
        ]))
    }

    #[test]
    fn segment_leaf_layout() {
        let seg = SegmentLinkInput {
            camera: cam(),
            seq: 9,
            run: 2,
            start: WallTime(1_000),
            end: WallTime(2_000),
            start_pts: Pts90k(-3),
            duration: Pts90k(90_000),
            frames: 25,
            bytes: 12_345,
            sha256: [0xaa; 32],
        };
        let fih = [0xcc; 32];
        let cfg = config_hash(&[1, 0x4d, 0, 0x1e]);
        let leaf = segment_leaf(&[0xbb; 32], &seg, &fih, &cfg);
        assert_eq!(leaf.len(), 231);
        assert_eq!(SEGMENT_LEAF_LEN, 231);
        assert_eq!(leaf[0], 1);
        assert_eq!(&leaf[1..23], b"roeh/segment-chain/v1\0");
        assert_eq!(&leaf[23..27], &[0, 0, 0, 140]);
        assert_eq!(&leaf[27..43], cam().0.as_bytes());
        assert_eq!(&leaf[43..51], &9u64.to_be_bytes());
        assert_eq!(&leaf[59..67], &1_000i64.to_be_bytes());
        assert_eq!(&leaf[75..83], &(-3i64).to_be_bytes());
        assert_eq!(&leaf[103..135], &[0xaa; 32]);
        assert_eq!(&leaf[135..167], &[0xbb; 32]);
        assert_eq!(&leaf[167..199], &[0xcc; 32]);
        assert_eq!(&leaf[199..231], &cfg);
        let direct: Hash = Sha256::digest([1u8, 0x4d, 0, 0x1e]).into();
        assert_eq!(cfg, direct);
        assert_eq!(&leaf[1..167], &chain_message(&[0xbb; 32], &seg)[..]);
    }

    #[test]
    fn frame_index_layout() {
        let frames = [
            IndexedFrame {
                offset: 0x0102_0304_0506_0708,
                size: 0x0a0b_0c0d,
                pts_offset: -1,
                is_key: true,
            },
            IndexedFrame {
                offset: 5,
                size: 6,
                pts_offset: 3_600,
                is_key: false,
            },
        ];
        let mut expected: Vec<u8> = b"roeh/frame-index/v1\0".to_vec();
        expected.extend_from_slice(&[0, 0, 0, 2]);
        expected.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        expected.extend_from_slice(&[0x0a, 0x0b, 0x0c, 0x0d]);
        expected.extend_from_slice(&[0xff; 8]);
        expected.push(1);
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 5]);
        expected.extend_from_slice(&[0, 0, 0, 6]);
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0x0e, 0x10]);
        expected.push(0);
        assert_eq!(expected.len(), 20 + 4 + 2 * 21);
        let direct: Hash = Sha256::digest(&expected).into();
        assert_eq!(frame_index_hash(&frames), direct);
        // The empty index is the prefix and a zero count.
        let empty: Hash = Sha256::digest(b"roeh/frame-index/v1\0\0\0\0\0").into();
        assert_eq!(frame_index_hash(&[]), empty);
        // Order and the key flag matter.
        assert_ne!(
            frame_index_hash(&[frames[1], frames[0]]),
            frame_index_hash(&frames)
        );
        let mut unkeyed = frames;
        unkeyed[0].is_key = false;
        assert_ne!(frame_index_hash(&unkeyed), frame_index_hash(&frames));
    }

    #[test]
    fn frame_from_index_entry_drops_receive_time() {
        let e = FrameIndexEntry {
            offset: 7,
            size: 8,
            pts_offset: 9,
            received_at: WallTime(123),
            is_key: true,
        };
        let f = IndexedFrame::from(&e);
        assert_eq!(
            f,
            IndexedFrame {
                offset: 7,
                size: 8,
                pts_offset: 9,
                is_key: true
            }
        );
    }

    #[test]
    fn gap_leaf_layout() {
        let leaf = gap_leaf(
            cam(),
            0x1122,
            WallTime(-2),
            WallTime(0x0102),
            "camera_offline",
            "connection refused: é",
        )
        .unwrap();
        let detail = "connection refused: é".as_bytes();
        assert_eq!(detail.len(), 22);
        assert_eq!(leaf[0], 2);
        assert_eq!(&leaf[1..13], b"roeh/gap/v1\0");
        assert_eq!(&leaf[13..29], cam().0.as_bytes());
        assert_eq!(&leaf[29..37], &[0, 0, 0, 0, 0, 0, 0x11, 0x22]);
        assert_eq!(
            &leaf[37..45],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]
        );
        assert_eq!(&leaf[45..53], &[0, 0, 0, 0, 0, 0, 1, 2]);
        assert_eq!(&leaf[53..55], &[0, 14]);
        assert_eq!(&leaf[55..69], b"camera_offline");
        assert_eq!(&leaf[69..73], &[0, 0, 0, 22]);
        assert_eq!(&leaf[73..], detail);
        assert_eq!(leaf.len(), 73 + 22);

        // Empty strings still carry their length fields.
        let leaf = gap_leaf(cam(), 1, WallTime(0), WallTime(0), "", "").unwrap();
        assert_eq!(leaf.len(), 1 + 12 + 16 + 24 + 2 + 4);
        assert_eq!(&leaf[53..], &[0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn gap_leaf_refuses_overlong_reason() {
        let max = "r".repeat(usize::from(u16::MAX));
        let leaf = gap_leaf(cam(), 1, WallTime(0), WallTime(1), &max, "").unwrap();
        assert_eq!(&leaf[53..55], &[0xff, 0xff]);
        let long = "r".repeat(usize::from(u16::MAX) + 1);
        let e = gap_leaf(cam(), 1, WallTime(0), WallTime(1), &long, "").unwrap_err();
        assert_eq!(e.field, "reason");
        assert_eq!(e.len, 65_536);
        assert!(e.to_string().contains("reason"));
    }

    #[test]
    fn event_leaf_layout() {
        let json = br#"{"type":"hold_set","time":"2026-01-01T00:00:00.000000Z"}"#;
        let leaf = event_leaf(WallTime(0x0102_0304), json).unwrap();
        assert_eq!(leaf[0], 3);
        assert_eq!(&leaf[1..15], b"roeh/event/v1\0");
        assert_eq!(&leaf[15..23], &[0, 0, 0, 0, 1, 2, 3, 4]);
        assert_eq!(&leaf[23..27], &(json.len() as u32).to_be_bytes());
        assert_eq!(&leaf[27..], &json[..]);
        assert_eq!(leaf.len(), 27 + json.len());
    }
}
