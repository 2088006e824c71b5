//! Camera ingest: turns a camera into a stream of [`IngestEvent`]s for the recorder.
//!
//! Shape (STYLE.md rule 1): a camera is opened through the [`Opener`] trait, which yields a
//! [`MediaStream`] of [`AccessUnit`]s. Real openers are [`RetinaOpener`] (RTSP via retina) and,
//! with the `gstreamer` feature, [`GstOpener`] (local files and HTTP(S) sources via GStreamer).
//! Tests inject scripted fakes. [`run_camera`] drives one camera for its whole life:
//! connect, stream, validate, report health, back off and reconnect, until cancelled.
//!
//! Invariants kept by this crate:
//! - the first [`IngestEvent::Frame`] after every [`IngestEvent::Connected`] is a key frame, and
//!   every frame carries well-formed 4-byte length-prefixed NAL data of at most
//!   [`roeh_domain::media::MAX_ACCESS_UNIT_BYTES`], sane dimensions and non-decreasing media time;
//! - a frame is never dropped silently on the recording path: if the recorder does not take a
//!   frame within [`IngestOptions::backpressure_timeout`], the run ends with
//!   `Disconnected { reason: Backpressure }` (policy [`WhenFull::Block`]);
//! - every wait is bounded (connect, first key frame, stall, backpressure) and every loop selects
//!   on cancellation first;
//! - credentials are handed to the RTSP client as options only; they never appear in URLs, error
//!   messages, health or logs ([`redact`]).
//! - nothing a camera sends can make this crate panic.
//!
//! [`IngestEvent`]: roeh_domain::IngestEvent
//! [`IngestEvent::Frame`]: roeh_domain::IngestEvent::Frame
//! [`IngestEvent::Connected`]: roeh_domain::IngestEvent::Connected
//! [`AccessUnit`]: roeh_domain::AccessUnit

roeh_domain::define_error!();

mod any_source;
mod camera_task;
#[cfg(feature = "gstreamer")]
mod gst_source;
mod health;
mod live;
mod ondemand;
mod options;
mod redact;
mod retina_source;
mod source;
mod tap;
mod validate;

pub use any_source::CameraOpener;
pub use camera_task::{Backoff, run_camera};
#[cfg(feature = "gstreamer")]
pub use gst_source::{GstOpener, GstSource};
pub use health::{HealthHandle, StateChange};
pub use live::{LIVE_RING, LiveHub, LiveStart, MAX_GOP_BYTES, MAX_GOP_FRAMES, Taps};
pub use ondemand::{OnDemand, SubViewer};
pub use options::{IngestOptions, WhenFull};
pub use redact::redact;
pub use retina_source::RetinaOpener;
pub use source::{BoxFuture, MediaStream, Opener, rfc6381_from_config_record};
pub use tap::FrameTap;
pub use validate::{FrameCheck, MAX_DIMENSION, MIN_DIMENSION};
