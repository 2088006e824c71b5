//! A real RTSP server on loopback serving N looping test cameras from real footage.
//!
//! The demo and the integration tests start it in-process; load benchmarks run it with hundreds
//! of cameras. The footage's H.264 or H.265 pictures are read once into memory and served as they
//! are (no re-encoding) through gst-rtsp-server, looping forever with timestamps that keep
//! increasing, paced in real time.
//!
//! Invariants:
//! - mounts are `/cam0 … /cam{N-1}`; URLs never carry credentials;
//! - every client starts at a key frame and receives SPS/PPS (VPS) before every key frame;
//! - PTS and DTS increase strictly across loops: pass `k` of the clip is shifted by `k ×` its
//!   duration;
//! - each server owns its GLib main context and thread; stopping it releases the port at once.
//!
//! ```no_run
//! use roeh_testcam::{TestCamConfig, TestCamServer, default_footage_dir};
//! let server = TestCamServer::start(TestCamConfig::new(default_footage_dir().join("vtest_h264.mp4"), 4))?;
//! println!("{}", server.url(0)); // rtsp://127.0.0.1:PORT/cam0
//! server.stop();
//! # Ok::<(), roeh_testcam::Error>(())
//! ```

mod clip;
mod feed;
mod server;

use std::path::PathBuf;

use gstreamer as gst;
use roeh_domain::{ErrorKind, VideoCodec};

pub use clip::{Clip, MAX_CLIP_BYTES};
pub use server::{MAX_CAMERAS, TestCamConfig, TestCamServer};

roeh_domain::define_error!();

/// Environment variable naming the footage directory.
pub const FOOTAGE_DIR_ENV: &str = "ROEH_FOOTAGE_DIR";

/// Where the test footage lives: `$ROEH_FOOTAGE_DIR`, else `<workspace>/.cache/roeh/footage`
/// (prepared by `scripts/setup.sh`).
pub fn default_footage_dir() -> PathBuf {
    match std::env::var_os(FOOTAGE_DIR_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("..")
            .join(".cache")
            .join("roeh")
            .join("footage"),
    }
}

/// Initialises GStreamer (idempotent, thread-safe).
pub(crate) fn init_gstreamer() -> Result<(), Error> {
    gst::init()
        .map_err(|e| Error::with_source(ErrorKind::Unavailable, "cannot initialise GStreamer", e))
}

/// The parser and RTP payloader serving `codec`, after checking that every element a camera
/// pipeline needs is installed (a missing plugin is a clear error at start, not a hung client).
pub(crate) fn serving_elements(codec: VideoCodec) -> Result<(&'static str, &'static str), Error> {
    let (parse, pay) = match codec {
        VideoCodec::H264 => ("h264parse", "rtph264pay"),
        VideoCodec::H265 => ("h265parse", "rtph265pay"),
        other => {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("codec {} cannot be served", other.as_str()),
            ));
        }
    };
    for name in ["appsrc", "clocksync", parse, pay] {
        if gst::ElementFactory::find(name).is_none() {
            return Err(Error::new(
                ErrorKind::Unavailable,
                format!(
                    "GStreamer element {name} is missing; install gstreamer1.0-plugins-base, \
                     -good and -bad"
                ),
            ));
        }
    }
    Ok((parse, pay))
}
