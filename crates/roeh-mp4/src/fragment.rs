//! Fragmented MP4 for live viewing: an initialisation segment, then one media fragment per
//! picture, the form Media Source Extensions take (ISO/IEC 23009-1 byte stream format for MP4).
//!
//! Layout: [`init_segment`] is `ftyp` + `moov` (one video track, no samples, `mvex/trex`);
//! [`media_fragment`] is `moof` (`mfhd`, `traf` with `tfhd`, `tfdt`, `trun`) + `mdat` holding the
//! picture's bytes exactly as the camera sent them.
//!
//! Invariants:
//! - the samples are never re-encoded or rewritten: the `mdat` is the access unit's
//!   length-prefixed NAL data;
//! - every fragment states its own decode time (`tfdt`, 64-bit), so a wrong duration estimate
//!   never accumulates drift; the caller chooses the times;
//! - the sample description comes from the same writer as recorded exports (`avc1`/`hvc1` with
//!   the camera's configuration record), so what plays in an export plays live.

use crate::Error;
use crate::boxes::BoxWriter;
use crate::mux::{check_params, ftyp, write_mvhd, write_stsd, write_trak};
use roeh_domain::media::check_length_prefixed;
use roeh_domain::{CodecParams, ErrorKind};

/// `trun` sample flags of a key frame: depends on no other sample.
const KEY_FLAGS: u32 = 0x0200_0000;
/// `trun` sample flags of another picture: depends on others, is a non-sync sample.
const NON_KEY_FLAGS: u32 = 0x0101_0000;

/// The initialisation segment of a live stream with codec parameters `params`.
pub fn init_segment(params: &CodecParams) -> Result<Vec<u8>, Error> {
    check_params(&[params])?;
    let mut w = BoxWriter::with_capacity(1024 + params.config_record.len());
    w.boxed(b"moov", |w| {
        // Duration unknown (live), times 0: the same boxes as a recorded export's.
        write_mvhd(w, false, 0, 0);
        write_trak(w, false, 0, 0, params, |w| {
            write_stsd(w, &[params]);
            // Empty tables: the samples come in fragments.
            w.full(b"stts", 0, 0, |w| w.u32(0));
            w.full(b"stsc", 0, 0, |w| w.u32(0));
            w.full(b"stsz", 0, 0, |w| {
                w.u32(0);
                w.u32(0);
            });
            w.full(b"stco", 0, 0, |w| w.u32(0));
        });
        w.boxed(b"mvex", |w| {
            w.full(b"trex", 0, 0, |w| {
                w.u32(1); // track id
                w.u32(1); // default sample description index
                w.u32(0); // default duration
                w.u32(0); // default size
                w.u32(0); // default flags
            });
        });
    });
    let moov = w.finish()?;
    let mut out = ftyp(params.codec);
    out.extend_from_slice(&moov);
    Ok(out)
}

/// One picture of a live stream as a media fragment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fragment<'a> {
    /// Fragment sequence number (`mfhd`), counting from 1 per stream.
    pub sequence: u32,
    /// Decode (and presentation) time of the picture in 90 kHz units from the start of the
    /// stream.
    pub decode_time: u64,
    /// How long the picture is shown, in 90 kHz units.
    pub duration: u32,
    /// Whether the picture is a random access point.
    pub is_key: bool,
    /// The picture: 4-byte length-prefixed NAL units, as recorded.
    pub data: &'a [u8],
}

/// The `moof` + `mdat` of one picture. Refuses empty or malformed NAL data and pictures too
/// large for one 32-bit box (`InvalidArgument`).
pub fn media_fragment(f: &Fragment<'_>) -> Result<Vec<u8>, Error> {
    check_length_prefixed(f.data)
        .map_err(|e| Error::new(ErrorKind::InvalidArgument, format!("picture: {e}")))?;
    let size = u32::try_from(f.data.len())
        .ok()
        .filter(|&n| n < u32::MAX - 8)
        .ok_or_else(|| Error::new(ErrorKind::InvalidArgument, "picture too large"))?;
    let mut w = BoxWriter::with_capacity(128 + f.data.len());
    let mut data_offset_at = 0;
    w.boxed(b"moof", |w| {
        w.full(b"mfhd", 0, 0, |w| w.u32(f.sequence));
        w.boxed(b"traf", |w| {
            // default-base-is-moof: data offsets count from the start of this `moof`.
            w.full(b"tfhd", 0, 0x02_0000, |w| w.u32(1));
            w.full(b"tfdt", 1, 0, |w| w.u64(f.decode_time));
            // Flags: data offset, sample duration, sample size, sample flags present.
            w.full(b"trun", 0, 0x0001 | 0x0100 | 0x0200 | 0x0400, |w| {
                w.u32(1); // sample count
                data_offset_at = w.len();
                w.u32(0); // data offset, patched below
                w.u32(f.duration);
                w.u32(size);
                w.u32(if f.is_key { KEY_FLAGS } else { NON_KEY_FLAGS });
            });
        });
    });
    let moof_len = w.len();
    // The sample starts after the `moof` and the 8-byte `mdat` header; small and fixed.
    w.patch_u32(data_offset_at, moof_len as u32 + 8);
    w.boxed(b"mdat", |w| w.bytes(f.data));
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use roeh_domain::VideoCodec;

    fn params() -> CodecParams {
        CodecParams {
            codec: VideoCodec::H264,
            width: 768,
            height: 576,
            rfc6381: "avc1.4d401f".into(),
            // version 1, profile 0x4d, compat 0x40, level 0x1f, 4-byte lengths, 0 SPS, 0 PPS
            config_record: vec![1, 0x4d, 0x40, 0x1f, 0xff, 0xe0, 0],
        }
    }

    #[test]
    fn init_segment_has_a_movie_extends_box_and_no_samples() {
        let init = init_segment(&params()).unwrap();
        assert_eq!(&init[4..8], b"ftyp");
        let find = |tag: &[u8]| init.windows(4).any(|w| w == tag);
        assert!(find(b"mvex") && find(b"trex") && find(b"avcC"));
        assert!(!find(b"mdat"));
    }

    #[test]
    fn init_segment_refuses_two_byte_nal_lengths() {
        let mut p = params();
        p.config_record[4] = 0xfd;
        assert_eq!(
            init_segment(&p).unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    }

    #[test]
    fn fragment_points_its_data_offset_at_the_picture() {
        let data = [0u8, 0, 0, 3, 0x65, 0xaa, 0xbb];
        let frag = media_fragment(&Fragment {
            sequence: 7,
            decode_time: 1 << 40,
            duration: 9000,
            is_key: true,
            data: &data,
        })
        .unwrap();
        let moof_len = u32::from_be_bytes(frag[0..4].try_into().unwrap()) as usize;
        assert_eq!(&frag[moof_len + 4..moof_len + 8], b"mdat");
        assert_eq!(&frag[moof_len + 8..], &data);
        let trun = frag.windows(4).position(|w| w == b"trun").unwrap();
        let offset = u32::from_be_bytes(frag[trun + 12..trun + 16].try_into().unwrap());
        assert_eq!(offset as usize, moof_len + 8);
        let tfdt = frag.windows(4).position(|w| w == b"tfdt").unwrap();
        let t = u64::from_be_bytes(frag[tfdt + 8..tfdt + 16].try_into().unwrap());
        assert_eq!(t, 1 << 40);
    }

    #[test]
    fn fragment_refuses_malformed_nal_data() {
        let err = media_fragment(&Fragment {
            sequence: 1,
            decode_time: 0,
            duration: 1,
            is_key: true,
            data: &[0, 0, 0, 9, 1],
        })
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    }
}
