//! The open segment's journal: what recovery needs to turn a `.partial` data file back into a
//! segment after a crash.
//!
//! # Format (version 2)
//!
//! Header, written once when the segment opens:
//!
//! ```text
//! 8   magic  b"roehjnl2"
//! 4   u32 BE body length L (at most MAX_HEADER_BODY)
//! L   body:  camera uuid (16) | seq u64 | run u64 | start_pts i64 | width u32 | height u32 |
//!            codec name (u8 length + ASCII) | rfc6381 (u16 length + UTF-8) |
//!            config record (u32 length + bytes)
//! 8   first 8 bytes of SHA-256 over the magic, the length and the body
//! ```
//!
//! Then one 48-byte record per frame, appended after the frame's bytes were written to the data
//! file:
//!
//! ```text
//! 0   u64 BE offset of the frame in the data file
//! 8   u32 BE size
//! 12  u8 flags (bit 0: key frame), then 3 zero bytes
//! 16  i64 BE pts offset from the segment's first frame (90 kHz)
//! 24  i64 BE received_at (UTC µs)
//! 32  frame check: CRC-32 (IEEE) of the frame's bytes, then the frame length (u32 BE each)
//! 40  first 8 bytes of SHA-256 of bytes 0..40 of this record
//! ```
//!
//! Recovery keeps the longest prefix of records that are complete, pass their checksum, continue
//! the previous frame's offset exactly, and whose bytes are present in the data file and match
//! their digest. So a torn record, a torn frame, or data that never reached the disk ends the
//! segment there; nothing unverified is ever committed.

use roeh_domain::{CameraId, CodecParams, FrameIndexEntry, Pts90k, VideoCodec, WallTime};
use sha2::{Digest, Sha256};

/// Journal magic, version 1.
pub const MAGIC: &[u8; 8] = b"roehjnl2";
/// Size of one frame record.
pub const RECORD_LEN: usize = 48;
/// Largest header body accepted (the config record dominates).
pub const MAX_HEADER_BODY: usize = 1 << 20;

/// What a journal header says about its segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalHeader {
    /// Camera.
    pub camera: CameraId,
    /// Seq the segment will have.
    pub seq: u64,
    /// Recording run.
    pub run: u64,
    /// Media time of the first frame.
    pub start_pts: Pts90k,
    /// Codec parameters in force.
    pub params: CodecParams,
}

fn check8(b: &[u8]) -> [u8; 8] {
    let d = Sha256::digest(b);
    let mut out = [0u8; 8];
    out.copy_from_slice(&d[..8]);
    out
}

/// Check of a frame's bytes: CRC-32 (IEEE) and the length, big-endian. It only has to catch
/// bytes that never reached the disk or were torn by a crash; integrity against tampering comes
/// from the segment's SHA-256 and the chain, computed over the recovered bytes.
pub fn frame_digest(data: &[u8]) -> [u8; 8] {
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&crc32fast::hash(data).to_be_bytes());
    out[4..].copy_from_slice(&(data.len() as u32).to_be_bytes());
    out
}

/// Encodes a header. Fails if a field does not fit its length prefix.
pub fn encode_header(h: &JournalHeader) -> Result<Vec<u8>, &'static str> {
    let p = &h.params;
    let codec = p.codec.as_str().as_bytes();
    let rfc = p.rfc6381.as_bytes();
    let mut body = Vec::with_capacity(64 + rfc.len() + p.config_record.len());
    body.extend_from_slice(h.camera.0.as_bytes());
    body.extend_from_slice(&h.seq.to_be_bytes());
    body.extend_from_slice(&h.run.to_be_bytes());
    body.extend_from_slice(&h.start_pts.0.to_be_bytes());
    body.extend_from_slice(&p.width.to_be_bytes());
    body.extend_from_slice(&p.height.to_be_bytes());
    body.push(u8::try_from(codec.len()).map_err(|_| "codec name too long")?);
    body.extend_from_slice(codec);
    body.extend_from_slice(
        &u16::try_from(rfc.len())
            .map_err(|_| "codec string too long")?
            .to_be_bytes(),
    );
    body.extend_from_slice(rfc);
    body.extend_from_slice(
        &u32::try_from(p.config_record.len())
            .map_err(|_| "config record too long")?
            .to_be_bytes(),
    );
    body.extend_from_slice(&p.config_record);
    if body.len() > MAX_HEADER_BODY {
        return Err("codec parameters too large for the journal");
    }
    let mut out = Vec::with_capacity(body.len() + 20);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    let c = check8(&out);
    out.extend_from_slice(&c);
    Ok(out)
}

/// Decodes a header from the start of a journal; returns it and its length in bytes.
pub fn decode_header(b: &[u8]) -> Result<(JournalHeader, usize), &'static str> {
    if b.len() < 12 || &b[..8] != MAGIC {
        return Err("not a roeh journal");
    }
    let len = u32::from_be_bytes([b[8], b[9], b[10], b[11]]) as usize;
    if len > MAX_HEADER_BODY {
        return Err("journal header too long");
    }
    let total = 12 + len + 8;
    if b.len() < total {
        return Err("journal header truncated");
    }
    if check8(&b[..12 + len]) != b[12 + len..total] {
        return Err("journal header checksum mismatch");
    }
    let mut r = Reader(&b[12..12 + len]);
    let camera = CameraId(uuid::Uuid::from_bytes(r.array::<16>()?));
    let seq = u64::from_be_bytes(r.array()?);
    let run = u64::from_be_bytes(r.array()?);
    let start_pts = Pts90k(i64::from_be_bytes(r.array()?));
    let width = u32::from_be_bytes(r.array()?);
    let height = u32::from_be_bytes(r.array()?);
    let n = r.array::<1>()?[0] as usize;
    let codec = std::str::from_utf8(r.take(n)?).map_err(|_| "bad codec name")?;
    let codec = VideoCodec::parse(codec).ok_or("unknown codec")?;
    let n = u16::from_be_bytes(r.array()?) as usize;
    let rfc6381 = String::from_utf8(r.take(n)?.to_vec()).map_err(|_| "bad codec string")?;
    let n = u32::from_be_bytes(r.array()?) as usize;
    let config_record = r.take(n)?.to_vec();
    if !r.0.is_empty() {
        return Err("trailing bytes in journal header");
    }
    Ok((
        JournalHeader {
            camera,
            seq,
            run,
            start_pts,
            params: CodecParams {
                codec,
                width,
                height,
                rfc6381,
                config_record,
            },
        },
        total,
    ))
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        if self.0.len() < n {
            return Err("journal header truncated");
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], &'static str> {
        let s = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }
}

/// Encodes one frame record.
pub fn encode_record(e: &FrameIndexEntry, digest: [u8; 8]) -> [u8; RECORD_LEN] {
    let mut r = [0u8; RECORD_LEN];
    r[0..8].copy_from_slice(&e.offset.to_be_bytes());
    r[8..12].copy_from_slice(&e.size.to_be_bytes());
    r[12] = u8::from(e.is_key);
    r[16..24].copy_from_slice(&e.pts_offset.to_be_bytes());
    r[24..32].copy_from_slice(&e.received_at.0.to_be_bytes());
    r[32..40].copy_from_slice(&digest);
    let c = check8(&r[..40]);
    r[40..48].copy_from_slice(&c);
    r
}

/// Decodes one frame record; `None` if its checksum or reserved bytes are wrong.
pub fn decode_record(r: &[u8]) -> Option<(FrameIndexEntry, [u8; 8])> {
    if r.len() != RECORD_LEN || check8(&r[..40]) != r[40..48] {
        return None;
    }
    if r[12] > 1 || r[13..16] != [0, 0, 0] {
        return None;
    }
    let be8 = |s: &[u8]| {
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        a
    };
    let entry = FrameIndexEntry {
        offset: u64::from_be_bytes(be8(&r[0..8])),
        size: u32::from_be_bytes([r[8], r[9], r[10], r[11]]),
        pts_offset: i64::from_be_bytes(be8(&r[16..24])),
        received_at: WallTime(i64::from_be_bytes(be8(&r[24..32]))),
        is_key: r[12] == 1,
    };
    Some((entry, be8(&r[32..40])))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> JournalHeader {
        JournalHeader {
            camera: CameraId::new_random(),
            seq: 9,
            run: 3,
            start_pts: Pts90k(-12345),
            params: CodecParams {
                codec: VideoCodec::H265,
                width: 768,
                height: 576,
                rfc6381: "hvc1.1.6.L93.B0".into(),
                config_record: (0..300u32).map(|i| i as u8).collect(),
            },
        }
    }

    #[test]
    fn header_round_trip_and_corruption() {
        let h = header();
        let mut b = encode_header(&h).unwrap();
        let n = b.len();
        b.extend_from_slice(&[1, 2, 3]);
        assert_eq!(decode_header(&b).unwrap(), (h, n));
        for i in 0..n {
            let mut c = b.clone();
            c[i] ^= 0x01;
            assert!(decode_header(&c).is_err(), "flip at {i} accepted");
        }
        assert!(decode_header(&b[..n - 1]).is_err());
    }

    #[test]
    fn record_round_trip_and_corruption() {
        let e = FrameIndexEntry {
            offset: 123_456,
            size: 789,
            pts_offset: 9000,
            received_at: WallTime(1_700_000_000_123_456),
            is_key: true,
        };
        let r = encode_record(&e, [7; 8]);
        assert_eq!(decode_record(&r), Some((e, [7; 8])));
        for i in 0..RECORD_LEN {
            let mut c = r;
            c[i] ^= 0x10;
            assert_eq!(decode_record(&c), None, "flip at {i} accepted");
        }
    }
}
