//! From the recorder's framing to the decoder's: 4-byte length-prefixed NAL units (ISO/IEC
//! 14496-15) become Annex B byte streams (start code + NAL unit), and the parameter sets of the
//! decoder configuration record (avcC: SPS, PPS; hvcC: VPS, SPS, PPS and whatever else its arrays
//! hold) are turned into an Annex B prefix that goes in front of every key frame.
//!
//! Invariants: parsing is bounds-checked and never panics; the length-size field of the record is
//! not trusted for access unit data, which roeh always frames with 4-byte lengths (see
//! `roeh_domain::media`). Records without parameter sets are accepted (the stream may carry them
//! in-band); malformed records and access units are `DataLoss` errors.

use roeh_domain::{CodecParams, ErrorKind, VideoCodec};

use crate::{Error, Result};

/// The Annex B start code written before every NAL unit.
const START_CODE: [u8; 4] = [0, 0, 0, 1];

fn malformed(what: &str) -> Error {
    Error::new(ErrorKind::DataLoss, what)
}

/// A bounds-checked cursor over a byte slice.
struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.rest.split_first()?;
        self.rest = rest;
        Some(b)
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes([self.u8()?, self.u8()?]))
    }

    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.rest.len() {
            return None;
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Some(head)
    }

    fn skip(&mut self, n: usize) -> Option<()> {
        self.bytes(n).map(|_| ())
    }
}

/// Appends `nal` to `out` as one Annex B NAL unit (empty units are left out).
fn push_nal(out: &mut Vec<u8>, nal: &[u8]) {
    if !nal.is_empty() {
        out.extend_from_slice(&START_CODE);
        out.extend_from_slice(nal);
    }
}

/// The parameter sets of `params.config_record` as an Annex B byte stream (possibly empty).
pub(crate) fn parameter_sets(params: &CodecParams) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut c = Cursor {
        rest: &params.config_record,
    };
    match params.codec {
        VideoCodec::H264 => {
            let err = || malformed("truncated avcC decoder configuration record");
            if c.u8().ok_or_else(err)? != 1 {
                return Err(malformed("avcC configuration version is not 1"));
            }
            // profile, compatibility, level, length size.
            c.skip(4).ok_or_else(err)?;
            let sps = c.u8().ok_or_else(err)? & 0x1f;
            for _ in 0..sps {
                let len = usize::from(c.u16().ok_or_else(err)?);
                push_nal(&mut out, c.bytes(len).ok_or_else(err)?);
            }
            let pps = c.u8().ok_or_else(err)?;
            for _ in 0..pps {
                let len = usize::from(c.u16().ok_or_else(err)?);
                push_nal(&mut out, c.bytes(len).ok_or_else(err)?);
            }
            // High-profile extensions (chroma format, SPS extensions) follow; the SPS carries
            // the same information, so they are not needed.
        }
        VideoCodec::H265 => {
            let err = || malformed("truncated hvcC decoder configuration record");
            if c.u8().ok_or_else(err)? != 1 {
                return Err(malformed("hvcC configuration version is not 1"));
            }
            // The fixed part up to and including lengthSizeMinusOne.
            c.skip(21).ok_or_else(err)?;
            let arrays = c.u8().ok_or_else(err)?;
            for _ in 0..arrays {
                let _nal_type = c.u8().ok_or_else(err)? & 0x3f;
                let n = c.u16().ok_or_else(err)?;
                for _ in 0..n {
                    let len = usize::from(c.u16().ok_or_else(err)?);
                    push_nal(&mut out, c.bytes(len).ok_or_else(err)?);
                }
            }
        }
        other => {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("codec {other:?} is not supported by the decoder"),
            ));
        }
    }
    Ok(out)
}

/// Writes `prefix` (Annex B parameter sets, may be empty) and then the 4-byte length-prefixed
/// NAL units of `data` as Annex B into `out`, which is cleared first. On error `out` holds
/// garbage and must not be decoded.
pub(crate) fn to_annexb(data: &[u8], prefix: &[u8], out: &mut Vec<u8>) -> Result<()> {
    out.clear();
    if data.is_empty() {
        return Err(malformed("empty access unit"));
    }
    out.reserve(prefix.len() + data.len() + 16);
    out.extend_from_slice(prefix);
    let mut c = Cursor { rest: data };
    while !c.rest.is_empty() {
        let len = c
            .bytes(4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| malformed("access unit: truncated NAL length prefix"))?;
        if len == 0 {
            return Err(malformed("access unit: zero-length NAL unit"));
        }
        let nal = usize::try_from(len)
            .ok()
            .and_then(|len| c.bytes(len))
            .ok_or_else(|| malformed("access unit: NAL length exceeds the access unit"))?;
        push_nal(out, nal);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(codec: VideoCodec, record: Vec<u8>) -> CodecParams {
        CodecParams {
            codec,
            width: 16,
            height: 16,
            rfc6381: String::new(),
            config_record: record,
        }
    }

    #[test]
    fn avcc_parameter_sets() {
        let record = vec![
            1, 0x4d, 0x40, 0x1e, 0xff, 0xe1, 0, 3, 0x67, 1, 2, 1, 0, 2, 0x68, 9,
        ];
        let ps = parameter_sets(&params(VideoCodec::H264, record.clone())).unwrap();
        assert_eq!(ps, [0, 0, 0, 1, 0x67, 1, 2, 0, 0, 0, 1, 0x68, 9]);
        // Truncated anywhere: an error, never a panic.
        for cut in 0..record.len() {
            assert!(
                parameter_sets(&params(VideoCodec::H264, record[..cut].to_vec())).is_err(),
                "cut at {cut}"
            );
        }
        let mut bad = record;
        bad[0] = 2;
        assert!(parameter_sets(&params(VideoCodec::H264, bad)).is_err());
    }

    #[test]
    fn hvcc_parameter_sets() {
        let mut record = vec![1];
        record.extend_from_slice(&[0; 20]);
        record.push(0x0f); // lengthSizeMinusOne = 3
        record.push(2); // two arrays
        record.extend_from_slice(&[0x20, 0, 1, 0, 2, 0x40, 1]); // VPS
        record.extend_from_slice(&[0x21, 0, 2, 0, 1, 0x42, 0, 1, 0x43]); // two SPS
        let ps = parameter_sets(&params(VideoCodec::H265, record.clone())).unwrap();
        assert_eq!(
            ps,
            [0, 0, 0, 1, 0x40, 1, 0, 0, 0, 1, 0x42, 0, 0, 0, 1, 0x43]
        );
        for cut in 0..record.len() {
            assert!(
                parameter_sets(&params(VideoCodec::H265, record[..cut].to_vec())).is_err(),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn length_prefixed_to_annexb() {
        let mut out = vec![7; 3];
        to_annexb(&[0, 0, 0, 2, 0x65, 1, 0, 0, 0, 1, 0x06], &[9], &mut out).unwrap();
        assert_eq!(out, [9, 0, 0, 0, 1, 0x65, 1, 0, 0, 0, 1, 0x06]);
        for bad in [
            &[][..],
            &[0, 0, 0, 0],
            &[0, 0, 0, 5, 1],
            &[0, 0, 0, 1, 0x65, 0, 0],
            &[0xff, 0xff, 0xff, 0xff, 1],
        ] {
            assert!(to_annexb(bad, &[], &mut out).is_err(), "{bad:?}");
        }
    }
}
