//! The muxer: recorded samples in, a stock-playable, "faststart" MP4 out, without re-encoding.
//!
//! Layout: `ftyp`, `moov`, then one `mdat` holding the samples back to back in the order given.
//! Because the sample table comes first, the muxer works in two phases: [`build_header`] takes
//! only the sample table and returns every byte before the first sample plus the final file
//! length; the caller then streams the sample bytes unchanged. [`write_mp4`] does both for
//! samples already in memory.
//!
//! Invariants of the output:
//! - one video track, timescale 90 kHz, no composition offsets (roeh records cameras without
//!   B-frames; decode order is presentation order);
//! - one sample entry (`avc1`/`hvc1`, the forms Safari and browsers require) per element of
//!   `params`, in order; in-band parameter sets that cameras repeat before key frames stay in the
//!   samples untouched, which decoders accept; every chunk is a run of
//!   samples that starts at a key frame and uses one entry, so `stsc` can point each chunk at its
//!   entry;
//! - `stco` while every chunk offset fits 32 bits, `co64` otherwise; `mdat` uses a 64-bit size
//!   when its size does not fit 32 bits;
//! - `stss` is present only when some sample is not a key frame.
//!
//! Input rules, each refused with `InvalidArgument`: at least one sample; no sample of size 0;
//! every `entry` indexes `params`; the first sample is a key frame (ranges start at key frames, and
//! a player cannot decode anything before the first one); a sample whose entry differs from the
//! previous sample's is a key frame (parameters change only at key frames); every entry has the
//! same codec, a non-zero size that fits 16 bits, and a configuration record declaring 4-byte NAL
//! lengths (roeh's sample format).
//!
//! Durations of 0 are accepted and written as is: such a sample shares its decode time with the
//! next one, so players show it for no time (or not at all), and a last sample of duration 0 ends
//! the track at its own start. Callers should give the last sample the nominal frame duration.

use crate::Error;
use crate::boxes::BoxWriter;
use crate::codec::nal_length_size;
use roeh_domain::media::check_length_prefixed;
use roeh_domain::{CodecParams, ErrorKind, Pts90k, VideoCodec, WallTime};
use std::io::Write;

/// Media timescale of everything roeh writes: 90 kHz, like [`roeh_domain::Pts90k`].
pub const TIMESCALE: u32 = 90_000;

/// Most samples one file may hold (about 19 days at 30 frames per second). Keeps the sample
/// table, which is built in memory, well under the 4 GiB a `moov` box can hold.
pub const MAX_SAMPLES: usize = 50_000_000;

/// Longest title accepted in [`MuxOptions::title`], in bytes.
pub const MAX_TITLE_BYTES: usize = 1024;

/// Seconds from 1904-01-01 (the MP4 epoch) to 1970-01-01.
const MP4_EPOCH_OFFSET_SECS: i64 = 2_082_844_800;

/// One sample (coded picture) of the table given to the muxer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SampleInfo {
    /// Size in bytes of the sample data (4-byte length-prefixed NAL units).
    pub size: u32,
    /// Duration in 90 kHz units: the decode time of the next sample minus this one's.
    pub duration: u32,
    /// Whether the sample is a random access point (IDR / IRAP).
    pub is_key: bool,
    /// Index into `params` of the codec parameters in force for this sample.
    pub entry: usize,
}

/// Options of an MP4 file that do not come from the samples.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MuxOptions {
    /// Written as creation and modification time of the movie, track and media; when absent,
    /// 0 (1904-01-01), so that the same input always gives the same bytes.
    pub creation_time: Option<WallTime>,
    /// Free-text title, written as an iTunes-style `udta/meta/ilst/©nam` that players show.
    pub title: Option<String>,
}

/// Every byte of the file before the first sample, and the length of the whole file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mp4Header {
    /// `ftyp`, `moov` and the `mdat` box header. The first sample starts at `bytes.len()`;
    /// each further sample follows the previous one directly.
    pub bytes: Vec<u8>,
    /// Length of the complete file: `bytes.len()` plus the sum of the sample sizes.
    pub total_len: u64,
}

/// Builds the header of an MP4 holding `samples`, whose data the caller then writes in order,
/// unchanged, directly after it. See the module documentation for the rules on the input.
pub fn build_header(
    params: &[&CodecParams],
    samples: &[SampleInfo],
    opts: &MuxOptions,
) -> Result<Mp4Header, Error> {
    validate(params, samples, opts)?;
    let chunks = chunks(samples);
    let payload_len: u64 = samples.iter().map(|s| u64::from(s.size)).sum();
    let mdat_header_len: u64 = if payload_len + 8 > u64::from(u32::MAX) {
        16
    } else {
        8
    };
    let ftyp = ftyp(params[0].codec);

    // Chunk offsets are written relative to the first sample, then patched once the length of
    // the `moov` (which does not depend on the offsets' values) is known.
    let last_rel = chunks.last().map_or(0, |c| c.rel_offset);
    let mut moov = write_moov(params, samples, &chunks, opts, false);
    let mut base = ftyp.len() as u64 + moov.buf.len() as u64 + mdat_header_len;
    if base + last_rel > u64::from(u32::MAX) {
        moov = write_moov(params, samples, &chunks, opts, true);
        base = ftyp.len() as u64 + moov.buf.len() as u64 + mdat_header_len;
    }
    let MoovOut {
        mut buf,
        offsets_at,
        co64,
    } = moov;
    for (i, c) in chunks.iter().enumerate() {
        if co64 {
            buf.patch_u64(offsets_at + 8 * i, base + c.rel_offset);
        } else {
            // Fits: checked against u32::MAX above.
            buf.patch_u32(offsets_at + 4 * i, (base + c.rel_offset) as u32);
        }
    }
    let moov = buf.finish()?;

    let mut bytes = Vec::with_capacity(ftyp.len() + moov.len() + 16);
    bytes.extend_from_slice(&ftyp);
    bytes.extend_from_slice(&moov);
    if mdat_header_len == 16 {
        bytes.extend_from_slice(&1u32.to_be_bytes());
        bytes.extend_from_slice(b"mdat");
        bytes.extend_from_slice(&(payload_len + 16).to_be_bytes());
    } else {
        bytes.extend_from_slice(&((payload_len + 8) as u32).to_be_bytes());
        bytes.extend_from_slice(b"mdat");
    }
    let total_len = bytes.len() as u64 + payload_len;
    Ok(Mp4Header { bytes, total_len })
}

/// Writes a complete MP4 of `samples` (table entry and data) to `out` and returns its length.
/// Besides the checks of [`build_header`], each sample's data must have the size its table entry
/// states and be well-formed 4-byte length-prefixed NAL data.
pub fn write_mp4<W: Write>(
    params: &[&CodecParams],
    samples: &[(SampleInfo, &[u8])],
    mut out: W,
    opts: &MuxOptions,
) -> Result<u64, Error> {
    for (i, (info, data)) in samples.iter().enumerate() {
        if data.len() != info.size as usize {
            return Err(invalid(format!(
                "sample {i}: {} bytes of data but size {}",
                data.len(),
                info.size
            )));
        }
        check_length_prefixed(data).map_err(|e| invalid(format!("sample {i}: {e}")))?;
    }
    let infos: Vec<SampleInfo> = samples.iter().map(|(s, _)| *s).collect();
    let header = build_header(params, &infos, opts)?;
    let io = |e| Error::with_source(ErrorKind::Unavailable, "writing MP4", e);
    out.write_all(&header.bytes).map_err(io)?;
    for (_, data) in samples {
        out.write_all(data).map_err(io)?;
    }
    out.flush().map_err(io)?;
    Ok(header.total_len)
}

/// Sample durations from presentation times (as in a recorder's frame index): each sample lasts
/// until the next one starts, and the last one lasts `last`. Times must not decrease, and no step
/// may exceed `u32::MAX` units (about 13 hours); otherwise `InvalidArgument`.
pub fn durations_from_pts(pts: &[Pts90k], last: u32) -> Result<Vec<u32>, Error> {
    let mut out = Vec::with_capacity(pts.len());
    for (i, pair) in pts.windows(2).enumerate() {
        let step = pair[1].0.checked_sub(pair[0].0).filter(|&d| d >= 0);
        let step = step.and_then(|d| u32::try_from(d).ok()).ok_or_else(|| {
            invalid(format!(
                "sample {}: time {} after {} is not a valid step",
                i + 1,
                pair[1].0,
                pair[0].0
            ))
        })?;
        out.push(step);
    }
    if !pts.is_empty() {
        out.push(last);
    }
    Ok(out)
}

fn invalid(msg: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::InvalidArgument, msg)
}

fn validate(
    params: &[&CodecParams],
    samples: &[SampleInfo],
    opts: &MuxOptions,
) -> Result<(), Error> {
    let Some(first) = samples.first() else {
        return Err(invalid("no samples"));
    };
    if samples.len() > MAX_SAMPLES {
        return Err(invalid(format!(
            "{} samples exceed the limit of {MAX_SAMPLES}",
            samples.len()
        )));
    }
    if !first.is_key {
        return Err(invalid("the first sample is not a key frame"));
    }
    check_params(params)?;
    let mut prev_entry = first.entry;
    for (i, s) in samples.iter().enumerate() {
        if s.size == 0 {
            return Err(invalid(format!("sample {i} has size 0")));
        }
        if s.entry >= params.len() {
            return Err(invalid(format!(
                "sample {i}: entry {} out of range ({} params)",
                s.entry,
                params.len()
            )));
        }
        if s.entry != prev_entry && !s.is_key {
            return Err(invalid(format!(
                "sample {i}: codec parameters change at a sample that is not a key frame"
            )));
        }
        prev_entry = s.entry;
    }
    if let Some(t) = &opts.title
        && t.len() > MAX_TITLE_BYTES
    {
        return Err(invalid(format!(
            "title of {} bytes exceeds {MAX_TITLE_BYTES}",
            t.len()
        )));
    }
    Ok(())
}

/// Checks the codec parameters of one file: at least one, all of one supported codec, sizes that
/// fit 16 bits, configuration records that declare 4-byte NAL lengths.
pub(crate) fn check_params(params: &[&CodecParams]) -> Result<(), Error> {
    let Some(p0) = params.first() else {
        return Err(invalid("no codec parameters"));
    };
    for (i, p) in params.iter().enumerate() {
        let hevc = match p.codec {
            VideoCodec::H264 => false,
            VideoCodec::H265 => true,
            other => {
                return Err(invalid(format!(
                    "params {i}: codec {other:?} is not supported"
                )));
            }
        };
        if p.codec != p0.codec {
            return Err(invalid(
                "all codec parameters of one file must share one codec",
            ));
        }
        if p.width == 0 || p.height == 0 || p.width > 0xffff || p.height > 0xffff {
            return Err(invalid(format!(
                "params {i}: size {}x{} out of range",
                p.width, p.height
            )));
        }
        match nal_length_size(hevc, &p.config_record) {
            Some(4) => {}
            Some(n) => {
                return Err(invalid(format!(
                    "params {i}: configuration record declares {n}-byte NAL lengths, not 4"
                )));
            }
            None => {
                return Err(invalid(format!(
                    "params {i}: malformed decoder configuration record"
                )));
            }
        }
    }
    Ok(())
}

/// A run of consecutive samples stored together.
#[derive(Debug)]
struct Chunk {
    /// Offset of the chunk's first sample from the first sample of the file.
    rel_offset: u64,
    samples: u32,
    entry: usize,
}

/// Splits the samples into chunks: a new chunk at every key frame (so a chunk is a GOP) and at
/// every change of entry (which validation put at key frames).
fn chunks(samples: &[SampleInfo]) -> Vec<Chunk> {
    let mut out: Vec<Chunk> = Vec::new();
    let mut offset = 0u64;
    for s in samples {
        match out.last_mut() {
            Some(c) if !s.is_key && c.entry == s.entry => c.samples += 1,
            _ => out.push(Chunk {
                rel_offset: offset,
                samples: 1,
                entry: s.entry,
            }),
        }
        offset += u64::from(s.size);
    }
    out
}

pub(crate) fn ftyp(codec: VideoCodec) -> Vec<u8> {
    let mut w = BoxWriter::default();
    w.boxed(b"ftyp", |w| {
        w.bytes(b"isom");
        w.u32(0x200);
        w.bytes(b"isomiso6mp41");
        if codec == VideoCodec::H264 {
            w.bytes(b"avc1");
        }
    });
    // Tiny and fixed: cannot be oversize.
    w.finish().unwrap_or_default()
}

struct MoovOut {
    buf: BoxWriter,
    /// Where the first chunk offset entry is in `buf`.
    offsets_at: usize,
    co64: bool,
}

fn mp4_time(t: Option<WallTime>) -> u64 {
    t.map_or(0, |t| {
        u64::try_from(t.as_micros().div_euclid(1_000_000) + MP4_EPOCH_OFFSET_SECS).unwrap_or(0)
    })
}

/// Writes a field that is 32 bits in version 0 boxes and 64 bits in version 1 boxes.
fn versioned(w: &mut BoxWriter, v1: bool, value: u64) {
    if v1 {
        w.u64(value);
    } else {
        // Version 0 is chosen only when every such value fits.
        w.u32(value as u32);
    }
}

const MATRIX: [u32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];

fn write_moov(
    params: &[&CodecParams],
    samples: &[SampleInfo],
    chunks: &[Chunk],
    opts: &MuxOptions,
    co64: bool,
) -> MoovOut {
    let duration: u64 = samples.iter().map(|s| u64::from(s.duration)).sum();
    let time = mp4_time(opts.creation_time);
    let v1 = duration > u64::from(u32::MAX) || time > u64::from(u32::MAX);
    let shown = params[samples[0].entry];
    let mut w = BoxWriter::with_capacity(1024 + samples.len() * 4 + chunks.len() * 8);
    let mut offsets_at = 0;
    w.boxed(b"moov", |w| {
        write_mvhd(w, v1, time, duration);
        write_trak(w, v1, time, duration, shown, |w| {
            write_stsd(w, params);
            write_stts(w, samples);
            if samples.iter().any(|s| !s.is_key) {
                w.full(b"stss", 0, 0, |w| {
                    let keys = samples.iter().filter(|s| s.is_key).count();
                    w.u32(keys as u32);
                    for (i, s) in samples.iter().enumerate() {
                        if s.is_key {
                            w.u32(i as u32 + 1);
                        }
                    }
                });
            }
            write_stsc(w, chunks);
            w.full(b"stsz", 0, 0, |w| {
                w.u32(0);
                w.u32(samples.len() as u32);
                samples.iter().for_each(|s| w.u32(s.size));
            });
            let fourcc = if co64 { b"co64" } else { b"stco" };
            w.full(fourcc, 0, 0, |w| {
                w.u32(chunks.len() as u32);
                offsets_at = w.len();
                let width = if co64 { 8 } else { 4 };
                w.zeros(chunks.len() * width);
            });
        });
        if let Some(title) = &opts.title {
            write_title(w, title);
        }
    });
    MoovOut {
        buf: w,
        offsets_at,
        co64,
    }
}

/// The `mvhd` of a movie with one track (id 1).
pub(crate) fn write_mvhd(w: &mut BoxWriter, v1: bool, time: u64, duration: u64) {
    w.full(b"mvhd", u8::from(v1), 0, |w| {
        versioned(w, v1, time);
        versioned(w, v1, time);
        w.u32(TIMESCALE);
        versioned(w, v1, duration);
        w.u32(0x0001_0000); // rate 1.0
        w.u16(0x0100); // volume 1.0
        w.zeros(10);
        MATRIX.iter().for_each(|&m| w.u32(m));
        w.zeros(24);
        w.u32(2); // next track id
    });
}

/// The video track (id 1): `tkhd`, `mdia` with `mdhd`, `hdlr`, `minf` with `vmhd`, `dinf`, and
/// the sample table written by `stbl`.
pub(crate) fn write_trak(
    w: &mut BoxWriter,
    v1: bool,
    time: u64,
    duration: u64,
    shown: &CodecParams,
    stbl: impl FnOnce(&mut BoxWriter),
) {
    let version = u8::from(v1);
    w.boxed(b"trak", |w| {
        w.full(b"tkhd", version, 0x3, |w| {
            // Flags: enabled, in movie.
            versioned(w, v1, time);
            versioned(w, v1, time);
            w.u32(1); // track id
            w.u32(0);
            versioned(w, v1, duration);
            w.zeros(8);
            w.u16(0); // layer
            w.u16(0); // alternate group
            w.u16(0); // volume
            w.u16(0);
            MATRIX.iter().for_each(|&m| w.u32(m));
            w.u32(shown.width << 16);
            w.u32(shown.height << 16);
        });
        w.boxed(b"mdia", |w| {
            w.full(b"mdhd", version, 0, |w| {
                versioned(w, v1, time);
                versioned(w, v1, time);
                w.u32(TIMESCALE);
                versioned(w, v1, duration);
                w.u16(0x55c4); // language "und"
                w.u16(0);
            });
            w.full(b"hdlr", 0, 0, |w| {
                w.u32(0);
                w.bytes(b"vide");
                w.zeros(12);
                w.bytes(b"VideoHandler\0");
            });
            w.boxed(b"minf", |w| {
                w.full(b"vmhd", 0, 1, |w| w.zeros(8));
                w.boxed(b"dinf", |w| {
                    w.full(b"dref", 0, 0, |w| {
                        w.u32(1);
                        w.full(b"url ", 0, 1, |_| {});
                    });
                });
                w.boxed(b"stbl", stbl);
            });
        });
    });
}

pub(crate) fn write_stsd(w: &mut BoxWriter, params: &[&CodecParams]) {
    w.full(b"stsd", 0, 0, |w| {
        w.u32(params.len() as u32);
        for p in params {
            let (entry, config) = match p.codec {
                VideoCodec::H265 => (b"hvc1", b"hvcC"),
                _ => (b"avc1", b"avcC"),
            };
            w.boxed(entry, |w| {
                w.zeros(6);
                w.u16(1); // data reference index
                w.zeros(16);
                w.u16(p.width as u16); // validated to fit
                w.u16(p.height as u16);
                w.u32(0x0048_0000); // 72 dpi
                w.u32(0x0048_0000);
                w.u32(0);
                w.u16(1); // frame count
                w.zeros(32); // compressor name
                w.u16(0x0018); // depth
                w.u16(0xffff); // pre-defined -1
                w.boxed(config, |w| w.bytes(&p.config_record));
            });
        }
    });
}

fn write_stts(w: &mut BoxWriter, samples: &[SampleInfo]) {
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for s in samples {
        match runs.last_mut() {
            Some((n, d)) if *d == s.duration => *n += 1,
            _ => runs.push((1, s.duration)),
        }
    }
    w.full(b"stts", 0, 0, |w| {
        w.u32(runs.len() as u32);
        for (n, d) in runs {
            w.u32(n);
            w.u32(d);
        }
    });
}

fn write_stsc(w: &mut BoxWriter, chunks: &[Chunk]) {
    // (first chunk, samples per chunk, sample description index), all 1-based, run-length.
    let mut runs: Vec<(u32, u32, u32)> = Vec::new();
    for (i, c) in chunks.iter().enumerate() {
        let desc = c.entry as u32 + 1;
        match runs.last() {
            Some(&(_, n, d)) if n == c.samples && d == desc => {}
            _ => runs.push((i as u32 + 1, c.samples, desc)),
        }
    }
    w.full(b"stsc", 0, 0, |w| {
        w.u32(runs.len() as u32);
        for (first, n, d) in runs {
            w.u32(first);
            w.u32(n);
            w.u32(d);
        }
    });
}

fn write_title(w: &mut BoxWriter, title: &str) {
    w.boxed(b"udta", |w| {
        w.full(b"meta", 0, 0, |w| {
            w.full(b"hdlr", 0, 0, |w| {
                w.u32(0);
                w.bytes(b"mdir");
                w.bytes(b"appl");
                w.zeros(8);
                w.u8(0);
            });
            w.boxed(b"ilst", |w| {
                w.boxed(b"\xa9nam", |w| {
                    w.boxed(b"data", |w| {
                        w.u32(1); // UTF-8 text
                        w.u32(0); // default locale
                        w.bytes(title.as_bytes());
                    });
                });
            });
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_from_pts_steps() {
        let p = |v: &[i64]| v.iter().map(|&x| Pts90k(x)).collect::<Vec<_>>();
        assert_eq!(
            durations_from_pts(&p(&[5, 9005, 18005]), 9000).unwrap(),
            [9000, 9000, 9000]
        );
        assert_eq!(
            durations_from_pts(&p(&[0, 0, 3000]), 1).unwrap(),
            [0, 3000, 1]
        );
        assert!(durations_from_pts(&[], 9000).unwrap().is_empty());
        for bad in [&[10, 5][..], &[0, 1 << 40], &[i64::MIN, i64::MAX]] {
            let e = durations_from_pts(&p(bad), 9000).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        }
    }

    fn params() -> CodecParams {
        CodecParams {
            codec: VideoCodec::H264,
            width: 64,
            height: 48,
            rfc6381: "avc1.4d401e".to_owned(),
            config_record: vec![1, 0x4d, 0x40, 0x1e, 0xff, 0xe0, 0],
        }
    }

    #[test]
    fn chunks_follow_key_frames_and_entries() {
        let s = |is_key, entry| SampleInfo {
            size: 10,
            duration: 1,
            is_key,
            entry,
        };
        let samples = [
            s(true, 0),
            s(false, 0),
            s(true, 0),
            s(false, 0),
            s(true, 1),
            s(false, 1),
        ];
        let c = chunks(&samples);
        let got: Vec<_> = c
            .iter()
            .map(|c| (c.rel_offset, c.samples, c.entry))
            .collect();
        assert_eq!(got, [(0, 2, 0), (20, 2, 0), (40, 2, 1)]);
        // All key frames: no stss box.
        let p = params();
        let all_key = [s(true, 0), s(true, 0)];
        let h = build_header(&[&p], &all_key, &MuxOptions::default()).unwrap();
        assert!(!h.bytes.windows(4).any(|w| w == b"stss"));
        let h = build_header(&[&p, &p], &samples, &MuxOptions::default()).unwrap();
        assert!(h.bytes.windows(4).any(|w| w == b"stss"));
        assert_eq!(h.total_len, h.bytes.len() as u64 + 60);
        // The same input gives the same bytes.
        let again = build_header(&[&p, &p], &samples, &MuxOptions::default()).unwrap();
        assert_eq!(h, again);
    }
}
