//! The demuxer: the first video track of a non-fragmented MP4, as codec parameters and a sample
//! table. Small on purpose; it serves tests and the offline evidence verifier.
//!
//! Invariants (hostile input is expected):
//! - it never panics and never indexes past a buffer: all parsing goes through the bounds-checked
//!   readers of `boxes`;
//! - allocation is bounded by the input: the `moov` is read only after its size has been checked
//!   against the file length (and [`MAX_MOOV_BYTES`]), every table is allocated only after its
//!   entry count has been checked against its box's length, and the sample count is checked
//!   against both [`MAX_SAMPLES`] and the file length (a sample has at least one byte);
//! - nesting is bounded by construction: only the fixed path
//!   `moov/trak/mdia/minf/stbl/stsd/<entry>/<config>` is descended, never arbitrary boxes;
//! - every sample returned lies inside the file (`offset + size <= file length`);
//! - malformed or truncated data is `DataLoss`; well-formed input this reader does not handle
//!   (no video track, fragmented files, other codecs) is `InvalidArgument`.
//!
//! Edit lists and composition offsets (`ctts`) are ignored: samples carry decode times.

use crate::Error;
use crate::boxes::{Reader, children, data_loss, find, require};
use crate::codec::{avc_rfc6381, fourcc_str, hevc_rfc6381};
use crate::mux::{MAX_SAMPLES, SampleInfo, TIMESCALE};
use roeh_domain::{CodecParams, ErrorKind, VideoCodec};
use std::io::{Read, Seek, SeekFrom};

/// Largest `moov` box read, in bytes.
pub const MAX_MOOV_BYTES: u64 = 1 << 30;

/// One sample of a demuxed track.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Byte offset of the sample data in the file.
    pub offset: u64,
    /// Size of the sample data in bytes (never 0).
    pub size: u32,
    /// Duration in units of [`VideoTrack::timescale`].
    pub duration: u32,
    /// Decode time in units of [`VideoTrack::timescale`], from the start of the track.
    pub decode_time: u64,
    /// Whether the sample is a sync sample (key frame).
    pub is_key: bool,
    /// Index into [`VideoTrack::params`] of the sample's entry.
    pub entry: usize,
}

/// The first video track of an MP4.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VideoTrack {
    /// `track_ID` from `tkhd`.
    pub track_id: u32,
    /// Media timescale (units per second) from `mdhd`; never 0.
    pub timescale: u32,
    /// One per sample entry of `stsd`, in order. `rfc6381` uses the entry's own four-character
    /// code (`avc1`, `avc3`, `hvc1`, `hev1`) as prefix.
    pub params: Vec<CodecParams>,
    /// The samples in decode order; never empty.
    pub samples: Vec<Sample>,
}

impl VideoTrack {
    /// Sum of the sample durations, in units of [`VideoTrack::timescale`].
    pub fn duration(&self) -> u64 {
        self.samples
            .last()
            .map_or(0, |s| s.decode_time + u64::from(s.duration))
    }

    /// The data of sample `i` in `file` (the bytes this track was read from).
    pub fn sample_data<'a>(&self, file: &'a [u8], i: usize) -> Option<&'a [u8]> {
        let s = self.samples.get(i)?;
        let start = usize::try_from(s.offset).ok()?;
        file.get(start..start.checked_add(s.size as usize)?)
    }

    /// The sample table rescaled to 90 kHz, ready for [`crate::build_header`]. Decode times are
    /// rescaled (not durations), so rounding never accumulates.
    pub fn sample_infos_90k(&self) -> Result<Vec<SampleInfo>, Error> {
        let scale = |t: u64| u128::from(t) * u128::from(TIMESCALE) / u128::from(self.timescale);
        self.samples
            .iter()
            .map(|s| {
                let start = scale(s.decode_time);
                let end = scale(s.decode_time + u64::from(s.duration));
                let duration = u32::try_from(end - start).map_err(|_| {
                    Error::new(
                        ErrorKind::InvalidArgument,
                        "sample duration exceeds 32 bits at 90 kHz",
                    )
                })?;
                Ok(SampleInfo {
                    size: s.size,
                    duration,
                    is_key: s.is_key,
                    entry: s.entry,
                })
            })
            .collect()
    }
}

/// Reads the first video track of the MP4 in `bytes`.
pub fn read_video_track(bytes: &[u8]) -> Result<VideoTrack, Error> {
    read_video_track_from(&mut std::io::Cursor::new(bytes))
}

/// Reads the first video track of the MP4 that `r` holds from position 0 to its end. Only the
/// top-level box headers and the `moov` are read, so a large file costs little memory.
pub fn read_video_track_from<R: Read + Seek>(r: &mut R) -> Result<VideoTrack, Error> {
    let io = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => data_loss("file shorter than its boxes"),
        _ => Error::with_source(ErrorKind::Unavailable, "reading MP4", e),
    };
    let file_len = r.seek(SeekFrom::End(0)).map_err(io)?;
    let mut pos = 0u64;
    let mut moov: Option<Vec<u8>> = None;
    while pos < file_len {
        let left = file_len - pos;
        if left < 8 {
            return Err(data_loss(format!(
                "{left} stray bytes at the end of the file"
            )));
        }
        r.seek(SeekFrom::Start(pos)).map_err(io)?;
        let mut head = [0u8; 8];
        r.read_exact(&mut head).map_err(io)?;
        let typ = [head[4], head[5], head[6], head[7]];
        let (size, header) = match u32::from_be_bytes([head[0], head[1], head[2], head[3]]) {
            0 => (left, 8),
            1 => {
                let mut large = [0u8; 8];
                r.read_exact(&mut large).map_err(io)?;
                (u64::from_be_bytes(large), 16)
            }
            s => (u64::from(s), 8),
        };
        if size < header || size > left {
            return Err(data_loss(format!(
                "top-level box {} at {pos}: size {size} invalid ({left} bytes left in file)",
                fourcc_str(&typ)
            )));
        }
        if &typ == b"moov" {
            if moov.is_some() {
                return Err(data_loss("more than one moov box"));
            }
            let len = size - header;
            if len > MAX_MOOV_BYTES {
                return Err(Error::new(
                    ErrorKind::ResourceExhausted,
                    format!("moov of {len} bytes exceeds {MAX_MOOV_BYTES}"),
                ));
            }
            // Bounded by the file length (checked above) and MAX_MOOV_BYTES.
            let mut buf = vec![0u8; len as usize];
            r.read_exact(&mut buf).map_err(io)?;
            moov = Some(buf);
        }
        pos += size;
    }
    let moov = moov.ok_or_else(|| Error::new(ErrorKind::InvalidArgument, "no moov box"))?;
    parse_moov(&moov, file_len)
}

fn unsupported(msg: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::InvalidArgument, msg)
}

fn parse_moov(moov: &[u8], file_len: u64) -> Result<VideoTrack, Error> {
    let mut fragmented = false;
    let mut video = None;
    for child in children(moov) {
        let (typ, body) = child?;
        match &typ {
            b"mvex" => fragmented = true,
            b"trak" if video.is_none() => video = parse_trak(body, file_len)?,
            _ => {}
        }
    }
    match video {
        Some(track) if !track.samples.is_empty() => Ok(track),
        _ if fragmented => Err(unsupported("fragmented MP4 is not supported")),
        Some(_) => Err(data_loss("the video track has no samples")),
        None => Err(unsupported("no video track")),
    }
}

/// Parses a `trak`; `None` if it is not a video track.
fn parse_trak(trak: &[u8], file_len: u64) -> Result<Option<VideoTrack>, Error> {
    let mdia = require(trak, b"mdia", "trak")?;
    let mut r = Reader::new(require(mdia, b"hdlr", "mdia")?, "hdlr");
    r.full_header()?;
    r.skip(4)?;
    if &r.fourcc()? != b"vide" {
        return Ok(None);
    }

    let mut r = Reader::new(require(trak, b"tkhd", "trak")?, "tkhd");
    let (version, _) = r.full_header()?;
    r.skip(if version == 1 { 16 } else { 8 })?;
    let track_id = r.u32()?;

    let mut r = Reader::new(require(mdia, b"mdhd", "mdia")?, "mdhd");
    let (version, _) = r.full_header()?;
    r.skip(if version == 1 { 16 } else { 8 })?;
    let timescale = r.u32()?;
    if timescale == 0 {
        return Err(data_loss("mdhd: timescale 0"));
    }

    let minf = require(mdia, b"minf", "mdia")?;
    let stbl = require(minf, b"stbl", "minf")?;
    let params = parse_stsd(require(stbl, b"stsd", "stbl")?)?;
    let samples = parse_sample_table(stbl, params.len(), file_len)?;
    Ok(Some(VideoTrack {
        track_id,
        timescale,
        params,
        samples,
    }))
}

fn parse_stsd(stsd: &[u8]) -> Result<Vec<CodecParams>, Error> {
    let mut r = Reader::new(stsd, "stsd");
    r.full_header()?;
    let count = r.count(8)?;
    let mut params = Vec::with_capacity(count);
    for child in children(r.rest()).take(count) {
        let (typ, body) = child?;
        params.push(parse_visual_entry(&typ, body)?);
    }
    if params.len() != count || count == 0 {
        return Err(data_loss(format!(
            "stsd: {count} entries declared, {} present",
            params.len()
        )));
    }
    Ok(params)
}

fn parse_visual_entry(typ: &[u8; 4], body: &[u8]) -> Result<CodecParams, Error> {
    let (codec, config_type) = match typ {
        b"avc1" | b"avc3" => (VideoCodec::H264, b"avcC"),
        b"hvc1" | b"hev1" => (VideoCodec::H265, b"hvcC"),
        _ => {
            return Err(unsupported(format!(
                "sample entry {} is not supported",
                fourcc_str(typ)
            )));
        }
    };
    let mut r = Reader::new(body, "visual sample entry");
    r.skip(24)?;
    let width = r.u16()?;
    let height = r.u16()?;
    r.skip(50)?;
    let config = require(r.rest(), config_type, "visual sample entry")?;
    // Four ASCII letters, checked by the match above.
    let prefix = std::str::from_utf8(typ).unwrap_or("avc1");
    let rfc6381 = match codec {
        VideoCodec::H265 => hevc_rfc6381(prefix, config),
        _ => avc_rfc6381(prefix, config),
    }
    .ok_or_else(|| data_loss(format!("malformed {}", fourcc_str(config_type))))?;
    Ok(CodecParams {
        codec,
        width: u32::from(width),
        height: u32::from(height),
        rfc6381,
        config_record: config.to_vec(),
    })
}

/// Expands `stsz`, `stts`, `stss`, `stsc` and `stco`/`co64` into one entry per sample.
fn parse_sample_table(stbl: &[u8], entries: usize, file_len: u64) -> Result<Vec<Sample>, Error> {
    // Sizes.
    let mut r = Reader::new(require(stbl, b"stsz", "stbl")?, "stsz");
    r.full_header()?;
    let constant = r.u32()?;
    let count = r.u32()? as usize;
    if count > MAX_SAMPLES || count as u64 > file_len {
        return Err(data_loss(format!("stsz: {count} samples is implausible")));
    }
    let sizes: Vec<u32> = if constant == 0 {
        if count.saturating_mul(4) > r.remaining() {
            return Err(data_loss("stsz: truncated"));
        }
        (0..count).map(|_| r.u32()).collect::<Result<_, _>>()?
    } else {
        vec![constant; count]
    };
    if let Some(i) = sizes.iter().position(|&s| s == 0) {
        return Err(data_loss(format!("sample {i} has size 0")));
    }

    // Durations, run-length coded.
    let mut r = Reader::new(require(stbl, b"stts", "stbl")?, "stts");
    r.full_header()?;
    let n = r.count(8)?;
    let mut durations = Vec::with_capacity(count);
    for _ in 0..n {
        let run = r.u32()? as usize;
        let delta = r.u32()?;
        if run > count - durations.len() {
            return Err(data_loss("stts: more durations than samples"));
        }
        durations.resize(durations.len() + run, delta);
    }
    if durations.len() != count {
        return Err(data_loss(format!(
            "stts: {} durations for {count} samples",
            durations.len()
        )));
    }

    // Key frames; without stss every sample is one.
    let mut keys = vec![true; count];
    if let Some(stss) = find(stbl, b"stss")? {
        keys.fill(false);
        let mut r = Reader::new(stss, "stss");
        r.full_header()?;
        for _ in 0..r.count(4)? {
            let k = r.u32()? as usize;
            let slot = k.checked_sub(1).and_then(|i| keys.get_mut(i));
            *slot.ok_or_else(|| data_loss(format!("stss: sample {k} out of range")))? = true;
        }
    }

    // Chunk offsets.
    let chunk_offsets: Vec<u64> = if let Some(stco) = find(stbl, b"stco")? {
        let mut r = Reader::new(stco, "stco");
        r.full_header()?;
        let n = r.count(4)?;
        (0..n)
            .map(|_| r.u32().map(u64::from))
            .collect::<Result<_, _>>()?
    } else {
        let co64 = find(stbl, b"co64")?.ok_or_else(|| data_loss("stbl has no stco or co64 box"))?;
        let mut r = Reader::new(co64, "co64");
        r.full_header()?;
        let n = r.count(8)?;
        (0..n).map(|_| r.u64()).collect::<Result<_, _>>()?
    };

    // Sample-to-chunk runs: (first chunk, samples per chunk, entry), 1-based in the file.
    let mut r = Reader::new(require(stbl, b"stsc", "stbl")?, "stsc");
    r.full_header()?;
    let n = r.count(12)?;
    let mut runs = Vec::with_capacity(n);
    for i in 0..n {
        let first = r.u32()?;
        let per_chunk = r.u32()?;
        let desc = r.u32()? as usize;
        let prev_first = runs.last().map_or(0, |&(f, _, _)| f);
        if (i == 0 && first != 1) || first <= prev_first {
            return Err(data_loss("stsc: first chunks not increasing from 1"));
        }
        if desc == 0 || desc > entries {
            return Err(data_loss(format!("stsc: sample entry {desc} out of range")));
        }
        runs.push((first, per_chunk, desc - 1));
    }

    let mut samples = Vec::with_capacity(count);
    let mut run = 0;
    let mut decode_time = 0u64;
    for (chunk_index, &chunk_offset) in chunk_offsets.iter().enumerate() {
        if samples.len() == count {
            break;
        }
        let chunk = chunk_index as u64 + 1;
        while runs
            .get(run + 1)
            .is_some_and(|&(f, _, _)| u64::from(f) <= chunk)
        {
            run += 1;
        }
        let &(_, per_chunk, entry) = runs
            .get(run)
            .ok_or_else(|| data_loss("stsc: no entries but chunks present"))?;
        let mut offset = chunk_offset;
        for _ in 0..per_chunk {
            let i = samples.len();
            if i == count {
                break;
            }
            let (size, duration) = (sizes[i], durations[i]);
            let end = offset
                .checked_add(u64::from(size))
                .filter(|&e| e <= file_len)
                .ok_or_else(|| data_loss(format!("sample {i} lies outside the file")))?;
            samples.push(Sample {
                offset,
                size,
                duration,
                decode_time,
                is_key: keys[i],
                entry,
            });
            decode_time += u64::from(duration);
            offset = end;
        }
    }
    if samples.len() != count {
        return Err(data_loss(format!(
            "chunks hold {} of {count} samples",
            samples.len()
        )));
    }
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boxes::BoxWriter;
    use crate::{MuxOptions, write_mp4};
    use std::path::{Path, PathBuf};

    fn footage(name: &str) -> Vec<u8> {
        let dir = std::env::var_os("ROEH_FOOTAGE_DIR").map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/roeh/footage"),
            PathBuf::from,
        );
        std::fs::read(dir.join(name)).expect("test footage; run scripts/setup.sh")
    }

    /// xorshift64*: deterministic, so a failure reproduces.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Parses `bytes`; if that succeeds, the result must keep the documented invariants.
    fn parse_checked(bytes: &[u8]) {
        if let Ok(t) = read_video_track(bytes) {
            assert!(!t.samples.is_empty());
            assert!(t.timescale > 0);
            for (i, s) in t.samples.iter().enumerate() {
                assert!(s.size > 0 && s.entry < t.params.len());
                assert!(
                    t.sample_data(bytes, i).is_some(),
                    "sample {i} outside the file"
                );
            }
        }
    }

    /// The original file (moov at the end) and a remux of it (moov first).
    fn corpus() -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for name in ["vtest_h264.mp4", "vtest_h265.mp4"] {
            let file = footage(name);
            let t = read_video_track(&file).unwrap();
            let infos = t.sample_infos_90k().unwrap();
            let samples: Vec<_> = infos
                .iter()
                .enumerate()
                .map(|(i, s)| (*s, t.sample_data(&file, i).unwrap()))
                .collect();
            let mut remuxed = Vec::new();
            write_mp4(
                &[&t.params[0]],
                &samples,
                &mut remuxed,
                &MuxOptions::default(),
            )
            .unwrap();
            out.push(file);
            out.push(remuxed);
        }
        out
    }

    /// Where the `moov` box of a file starts and ends (boxes before it must be intact).
    fn moov_range(file: &[u8]) -> std::ops::Range<usize> {
        let mut pos = 0;
        loop {
            let size = u32::from_be_bytes(file[pos..pos + 4].try_into().unwrap()) as usize;
            if &file[pos + 4..pos + 8] == b"moov" {
                return pos..pos + size;
            }
            pos += size;
        }
    }

    #[test]
    fn truncations_never_panic() {
        for file in corpus() {
            let moov = moov_range(&file);
            // Every cut through the header region, and a spread of cuts elsewhere.
            let mut cuts: Vec<usize> = (0..64.min(file.len())).collect();
            cuts.extend(
                moov.clone()
                    .chain(moov.end..(moov.end + 64).min(file.len())),
            );
            cuts.extend((0..file.len()).step_by(9973));
            for cut in cuts {
                let r = read_video_track(&file[..cut]);
                assert!(r.is_err(), "a cut at {cut} of {} parsed", file.len());
                parse_checked(&file[..cut]);
            }
        }
    }

    #[test]
    fn random_flips_never_panic() {
        let mut rng = Rng(0x5eed_f0e4);
        for file in corpus() {
            let moov = moov_range(&file);
            for _ in 0..3000 {
                let mut f = file.clone();
                for _ in 0..1 + rng.below(8) {
                    // Mostly in the moov, where parsing happens; sometimes anywhere.
                    let at = if rng.below(8) == 0 {
                        rng.below(f.len())
                    } else {
                        moov.start + rng.below(moov.len())
                    };
                    f[at] = match rng.below(4) {
                        0 => 0,
                        1 => 0xff,
                        _ => rng.next() as u8,
                    };
                }
                parse_checked(&f);
            }
        }
    }

    fn craft(stbl: impl FnOnce(&mut BoxWriter)) -> Vec<u8> {
        let mut w = BoxWriter::default();
        w.boxed(b"moov", |w| {
            w.boxed(b"trak", |w| {
                w.full(b"tkhd", 0, 3, |w| w.zeros(80));
                w.boxed(b"mdia", |w| {
                    w.full(b"mdhd", 0, 0, |w| {
                        w.zeros(8);
                        w.u32(90_000);
                        w.zeros(8);
                    });
                    w.full(b"hdlr", 0, 0, |w| {
                        w.u32(0);
                        w.bytes(b"vide");
                        w.zeros(13);
                    });
                    w.boxed(b"minf", |w| w.boxed(b"stbl", stbl));
                });
            });
        });
        w.finish().unwrap()
    }

    fn avc_stsd(w: &mut BoxWriter) {
        w.full(b"stsd", 0, 0, |w| {
            w.u32(1);
            w.boxed(b"avc1", |w| {
                w.zeros(24);
                w.u16(64);
                w.u16(48);
                w.zeros(50);
                w.boxed(b"avcC", |w| w.bytes(&[1, 0x4d, 0x40, 0x1e, 0xff, 0xe0, 0]));
            });
        });
    }

    #[test]
    fn hostile_tables_are_refused_without_huge_allocation() {
        let kind = |f: &[u8]| read_video_track(f).unwrap_err().kind();
        // stsz: constant size, four billion samples.
        let f = craft(|w| {
            avc_stsd(w);
            w.full(b"stsz", 0, 0, |w| {
                w.u32(1);
                w.u32(u32::MAX);
            });
        });
        assert_eq!(kind(&f), ErrorKind::DataLoss);
        // stts: a run far longer than the sample count.
        let f = craft(|w| {
            avc_stsd(w);
            w.full(b"stsz", 0, 0, |w| {
                w.u32(1);
                w.u32(2);
            });
            w.full(b"stts", 0, 0, |w| {
                w.u32(1);
                w.u32(u32::MAX);
                w.u32(1);
            });
        });
        assert_eq!(kind(&f), ErrorKind::DataLoss);
        // stss/stco/stsc entry counts larger than their boxes.
        for (typ, entry) in [(b"stss", 4), (b"stco", 4), (b"stsc", 12)] {
            let f = craft(|w| {
                avc_stsd(w);
                w.full(b"stsz", 0, 0, |w| {
                    w.u32(1);
                    w.u32(2);
                });
                w.full(b"stts", 0, 0, |w| {
                    w.u32(1);
                    w.u32(2);
                    w.u32(1);
                });
                w.full(typ, 0, 0, |w| {
                    w.u32(u32::MAX);
                    w.zeros(entry);
                });
            });
            assert_eq!(kind(&f), ErrorKind::DataLoss, "{typ:?}");
        }
        // A well-formed table whose samples lie past the end of the file.
        let f = craft(|w| {
            avc_stsd(w);
            w.full(b"stsz", 0, 0, |w| {
                w.u32(1);
                w.u32(2);
            });
            w.full(b"stts", 0, 0, |w| {
                w.u32(1);
                w.u32(2);
                w.u32(3000);
            });
            w.full(b"stsc", 0, 0, |w| {
                w.u32(1);
                w.u32(1);
                w.u32(2);
                w.u32(1);
            });
            w.full(b"stco", 0, 0, |w| {
                w.u32(1);
                w.u32(u32::MAX - 1);
            });
        });
        assert_eq!(kind(&f), ErrorKind::DataLoss);
        // The same table pointing inside the file parses.
        let f = craft(|w| {
            avc_stsd(w);
            w.full(b"stsz", 0, 0, |w| {
                w.u32(1);
                w.u32(2);
            });
            w.full(b"stts", 0, 0, |w| {
                w.u32(1);
                w.u32(2);
                w.u32(3000);
            });
            w.full(b"stsc", 0, 0, |w| {
                w.u32(1);
                w.u32(1);
                w.u32(2);
                w.u32(1);
            });
            w.full(b"stco", 0, 0, |w| {
                w.u32(1);
                w.u32(8);
            });
        });
        let t = read_video_track(&f).unwrap();
        assert_eq!(t.samples.len(), 2);
        assert_eq!(t.params[0].rfc6381, "avc1.4d401e");
        assert_eq!((t.params[0].width, t.params[0].height), (64, 48));
        assert_eq!(t.samples[1].offset, 9);
        assert_eq!(t.samples[1].decode_time, 3000);
    }

    #[test]
    fn top_level_hostility() {
        let kind = |f: &[u8]| read_video_track(f).unwrap_err().kind();
        assert_eq!(kind(&[]), ErrorKind::InvalidArgument);
        assert_eq!(kind(b"\0\0\0\x08free"), ErrorKind::InvalidArgument);
        // A 64-bit size of 2^64 - 1, and a size larger than the file.
        assert_eq!(
            kind(b"\0\0\0\x01moov\xff\xff\xff\xff\xff\xff\xff\xff"),
            ErrorKind::DataLoss
        );
        assert_eq!(kind(b"\x7f\0\0\0moov"), ErrorKind::DataLoss);
        // Size 0 (to the end of the file) on a moov with nothing inside.
        assert_eq!(kind(b"\0\0\0\0moov"), ErrorKind::InvalidArgument);
        // Stray bytes after the last box.
        assert_eq!(kind(b"\0\0\0\x08free\0\0\0"), ErrorKind::DataLoss);
        // Deep nesting is not descended: a trak made of nested trak boxes has no mdia.
        let mut nested = Vec::new();
        for _ in 0..10_000 {
            let mut b = ((nested.len() + 8) as u32).to_be_bytes().to_vec();
            b.extend_from_slice(b"trak");
            b.extend_from_slice(&nested);
            nested = b;
        }
        let mut moov = ((nested.len() + 8) as u32).to_be_bytes().to_vec();
        moov.extend_from_slice(b"moov");
        moov.extend_from_slice(&nested);
        assert_eq!(kind(&moov), ErrorKind::DataLoss);
    }
}
