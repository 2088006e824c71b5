//! The compact encoding of a segment's per-frame index, stored in `segments.frame_index`.
//!
//! # Format (version 1)
//!
//! ```text
//! byte 0        : version, 0x01
//! bytes 1..5    : u32 BE number of entries N
//! N × 21 bytes  : u32 BE size | i64 BE pts_offset (90 kHz) | i64 BE received_at (UTC µs) | u8 flags
//! ```
//!
//! `flags` bit 0 is the key-frame flag; other bits are zero. Offsets are not stored: frames lie
//! back to back in the segment file from offset 0, so entry *i*'s offset is the sum of the sizes
//! before it. [`encode`] refuses an index whose offsets are not contiguous, and [`decode`]
//! refuses trailing bytes, unknown versions and unknown flag bits, so a stored index always
//! round-trips exactly.

use roeh_domain::{FrameIndexEntry, WallTime};

const VERSION: u8 = 1;
const ENTRY_LEN: usize = 21;
const HEADER_LEN: usize = 5;

/// Encodes an index whose frames are contiguous from offset 0.
pub fn encode(entries: &[FrameIndexEntry]) -> Result<Vec<u8>, &'static str> {
    let n = u32::try_from(entries.len()).map_err(|_| "too many frames")?;
    let mut out = Vec::with_capacity(HEADER_LEN + entries.len() * ENTRY_LEN);
    out.push(VERSION);
    out.extend_from_slice(&n.to_be_bytes());
    let mut offset = 0u64;
    for e in entries {
        if e.offset != offset {
            return Err("frame offsets are not contiguous from 0");
        }
        out.extend_from_slice(&e.size.to_be_bytes());
        out.extend_from_slice(&e.pts_offset.to_be_bytes());
        out.extend_from_slice(&e.received_at.0.to_be_bytes());
        out.push(u8::from(e.is_key));
        offset += u64::from(e.size);
    }
    Ok(out)
}

/// Decodes [`encode`] output.
pub fn decode(b: &[u8]) -> Result<Vec<FrameIndexEntry>, &'static str> {
    if b.len() < HEADER_LEN || b[0] != VERSION {
        return Err("unknown frame index version");
    }
    let n = u32::from_be_bytes([b[1], b[2], b[3], b[4]]) as usize;
    let body = &b[HEADER_LEN..];
    if body.len() != n.checked_mul(ENTRY_LEN).ok_or("frame index too long")? {
        return Err("frame index length does not match its count");
    }
    let mut out = Vec::with_capacity(n);
    let mut offset = 0u64;
    for c in body.chunks_exact(ENTRY_LEN) {
        let size = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
        let pts = i64::from_be_bytes([c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11]]);
        let at = i64::from_be_bytes([c[12], c[13], c[14], c[15], c[16], c[17], c[18], c[19]]);
        let is_key = match c[20] {
            0 => false,
            1 => true,
            _ => return Err("unknown frame flags"),
        };
        out.push(FrameIndexEntry {
            offset,
            size,
            pts_offset: pts,
            received_at: WallTime(at),
            is_key,
        });
        offset += u64::from(size);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let mut entries = Vec::new();
        let mut off = 0;
        for i in 0..50u32 {
            let size = 100 + i * 7;
            entries.push(FrameIndexEntry {
                offset: off,
                size,
                pts_offset: i64::from(i) * 9000 - 5,
                received_at: WallTime(1_700_000_000_000_000 + i64::from(i)),
                is_key: i % 20 == 0,
            });
            off += u64::from(size);
        }
        let b = encode(&entries).unwrap();
        assert_eq!(b.len(), 5 + 50 * 21);
        assert_eq!(decode(&b).unwrap(), entries);
        assert_eq!(decode(&encode(&[]).unwrap()).unwrap(), vec![]);
        let mut bad = entries.clone();
        bad[3].offset += 1;
        assert!(encode(&bad).is_err());
        assert!(decode(&b[..b.len() - 1]).is_err());
        let mut flags = b.clone();
        flags[5 + 20] = 2;
        assert!(decode(&flags).is_err());
        assert!(decode(&[2, 0, 0, 0, 0]).is_err());
    }
}
