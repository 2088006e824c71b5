//! Pure ISO BMFF (MP4) remuxing for roeh: recorded samples in, a stock-playable MP4 out; and a
//! small, hardened reader for MP4s (tests, the offline evidence verifier).
//!
//! Invariants:
//! - sample bytes are never changed: the muxer writes them as given, the demuxer reports where
//!   they are; an export is a remux, never a re-encode;
//! - the crate does no I/O of its own beyond the `Read`/`Write` handed to it, has no async
//!   runtime and no native dependencies, so the offline verifier can use it as is;
//! - hostile input never panics the demuxer and never makes it allocate more than a small
//!   multiple of the input's size.
//!
//! Muxing is two-phase so that long ranges stream: [`build_header`] takes the sample table and
//! returns every byte before the first sample and the total length; the caller then writes the
//! sample data in order. [`write_mp4`] does both for samples in memory.
//!
//! ```
//! use roeh_domain::{CodecParams, Pts90k, VideoCodec};
//! use roeh_mp4::{MuxOptions, SampleInfo, build_header, durations_from_pts};
//!
//! let params = CodecParams {
//!     codec: VideoCodec::H264,
//!     width: 768,
//!     height: 576,
//!     rfc6381: "avc1.4d401e".into(),
//!     config_record: vec![1, 0x4d, 0x40, 0x1e, 0xff, 0xe0, 0], // a real one carries SPS/PPS
//! };
//! // From a recorder's frame index: sizes, presentation times, key flags.
//! let index = [(1200u32, 0i64, true), (300, 9000, false), (310, 18000, false)];
//! let pts: Vec<Pts90k> = index.iter().map(|f| Pts90k(f.1)).collect();
//! let durations = durations_from_pts(&pts, 9000)?;
//! let table: Vec<SampleInfo> = index
//!     .iter()
//!     .zip(durations)
//!     .map(|(f, duration)| SampleInfo { size: f.0, duration, is_key: f.2, entry: 0 })
//!     .collect();
//! let header = build_header(&[&params], &table, &MuxOptions::default())?;
//! assert_eq!(header.total_len, header.bytes.len() as u64 + 1810);
//! // Send `header.bytes` (e.g. with Content-Length: total_len), then each frame's bytes in order.
//! # Ok::<(), roeh_mp4::Error>(())
//! ```

mod boxes;
mod codec;
mod demux;
mod fragment;
mod mux;

roeh_domain::define_error!();

pub use demux::{MAX_MOOV_BYTES, Sample, VideoTrack, read_video_track, read_video_track_from};
pub use fragment::{Fragment, init_segment, media_fragment};
pub use mux::{
    MAX_SAMPLES, MAX_TITLE_BYTES, Mp4Header, MuxOptions, SampleInfo, TIMESCALE, build_header,
    durations_from_pts, write_mp4,
};
