//! Decoding for analytics: H.264 and H.265 access units from ingest to packed RGB24 frames sized
//! for the detection model, with FFmpeg (libavcodec + libswscale through `ffmpeg-next`).
//!
//! - [`Decoder`] decodes one camera synchronously. Every fed picture is decoded (references need
//!   it), but only the pictures the [`AnalysisRate`] selects are converted, in one swscale pass
//!   straight to RGB24 at the target size.
//! - [`spawn_decode_stage`] runs a [`Decoder`] on its own named OS thread behind a bounded queue.
//!   The ingest side never blocks: a full queue drops the unit and everything after it until the
//!   next key frame ([`InputFullPolicy::DropUntilKeyFrame`]); a full output drops the new frame
//!   ([`OutputFullPolicy::DropNewest`]). Everything dropped is counted in [`DecodeStats`].
//!
//! Invariants:
//! - no `unsafe`: parameter sets reach the decoder in-band (Annex B, prepended to key frames),
//!   never through codec extradata;
//! - nothing here panics on hostile input: malformed access units and decoder failures become
//!   [`Error`]s, after which decoding resumes at the next key frame;
//! - a [`DecodedFrame`] always holds exactly `width * height * 3` bytes, with even, non-zero
//!   dimensions no larger than the source.

mod annexb;
mod config;
mod decoder;
mod select;
mod stage;
mod stats;

pub use config::{AnalysisRate, DecodeConfig, HwAccel, target_size};
pub use decoder::{DecodedFrame, Decoder};
pub use stage::{
    DecodeInput, DecodeStage, FrameSink, InputFullPolicy, Offer, OutputFullPolicy, SinkResult,
    spawn_decode_stage,
};
pub use stats::{DecodeStats, DecodeStatsSnapshot};

roeh_domain::define_error!();

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Initialises FFmpeg once per process and lowers its own logging to fatal messages only: decode
/// problems are reported through [`Error`], `tracing` and [`DecodeStats`], so that a damaged
/// stream does not flood stderr with per-macroblock messages that bypass the log pipeline.
pub(crate) fn init_ffmpeg() -> Result<()> {
    static INIT: std::sync::OnceLock<std::result::Result<(), String>> = std::sync::OnceLock::new();
    INIT.get_or_init(|| {
        ffmpeg_next::init().map_err(|e| e.to_string())?;
        ffmpeg_next::util::log::set_level(ffmpeg_next::util::log::Level::Fatal);
        Ok(())
    })
    .clone()
    .map_err(|e| {
        Error::new(
            roeh_domain::ErrorKind::Internal,
            format!("FFmpeg initialisation failed: {e}"),
        )
    })
}
