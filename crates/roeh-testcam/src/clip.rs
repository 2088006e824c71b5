//! Loading a clip: every coded picture of an MP4 file's video track, held in memory as-is.
//!
//! Invariants:
//! - pictures are never decoded or re-encoded: the bytes served are the bytes in the file;
//! - the first picture of a [`Clip`] is a key frame (leading non-key pictures are dropped), so a
//!   stream that starts at the clip's start is decodable;
//! - timestamps are relative to the clip's start: `rel_dts <= rel_pts`, `rel_dts` is strictly
//!   increasing, and every picture ends at or before [`Clip::duration`];
//! - the clip is read once; cameras share it through an `Arc` and copy only buffer metadata.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use roeh_domain::{ErrorKind, VideoCodec};

use crate::Error;

/// Largest clip kept in memory; larger files are refused rather than exhausting memory.
pub const MAX_CLIP_BYTES: usize = 512 * 1024 * 1024;

/// How long reading a clip may take before it is abandoned.
const LOAD_DEADLINE: Duration = Duration::from_secs(120);

/// Frame duration assumed when the file gives none and no neighbour tells it.
const FALLBACK_FRAME_DURATION: gst::ClockTime = gst::ClockTime::from_mseconds(100);

/// One coded picture of the clip.
#[derive(Debug, Clone)]
pub(crate) struct Picture {
    /// The access unit as the demuxer and parser produced it (stream-format avc / hvc1).
    pub buffer: gst::Buffer,
    /// Presentation time since the clip's start.
    pub rel_pts: gst::ClockTime,
    /// Decoding time since the clip's start.
    pub rel_dts: gst::ClockTime,
    /// How long the picture is shown.
    pub duration: gst::ClockTime,
}

/// The video track of a footage file, in memory.
#[derive(Debug)]
pub struct Clip {
    codec: VideoCodec,
    caps: gst::Caps,
    width: u32,
    height: u32,
    pictures: Vec<Picture>,
    duration: gst::ClockTime,
    bytes: usize,
}

impl Clip {
    /// Reads the H.264 or H.265 video track of the MP4 file at `path`.
    pub fn load(path: &Path) -> Result<Clip, Error> {
        if !path.is_file() {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!(
                    "footage file {} not found; run scripts/setup.sh to prepare the test footage \
                     (or set ROEH_FOOTAGE_DIR)",
                    path.display()
                ),
            ));
        }
        crate::init_gstreamer()?;
        let loader = Loader::build(path)?;
        let result = loader.run(path);
        // Always tear the pipeline down, whether reading succeeded or not.
        let _ = loader.pipeline.set_state(gst::State::Null);
        let (caps, raw) = result?;
        Clip::from_samples(path, caps, raw)
    }

    fn from_samples(path: &Path, caps: gst::Caps, raw: Vec<gst::Buffer>) -> Result<Clip, Error> {
        let structure = caps.structure(0).ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("{}: video track has empty caps", path.display()),
            )
        })?;
        let codec = match structure.name().as_str() {
            "video/x-h264" => VideoCodec::H264,
            "video/x-h265" => VideoCodec::H265,
            other => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "{}: video track is {other}, not H.264 or H.265",
                        path.display()
                    ),
                ));
            }
        };
        let width = structure
            .get::<i32>("width")
            .ok()
            .and_then(|w| u32::try_from(w).ok())
            .unwrap_or(0);
        let height = structure
            .get::<i32>("height")
            .ok()
            .and_then(|h| u32::try_from(h).ok())
            .unwrap_or(0);
        let nominal = nominal_frame_duration(structure);

        // Drop anything before the first key frame: a stream must start decodable.
        let first_key = raw
            .iter()
            .position(|b| !b.flags().contains(gst::BufferFlags::DELTA_UNIT))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidArgument,
                    format!("{}: video track has no key frame", path.display()),
                )
            })?;
        let raw = &raw[first_key..];

        let base = raw
            .first()
            .and_then(|b| match (b.dts(), b.pts()) {
                (Some(d), Some(p)) => Some(d.min(p)),
                (d, p) => d.or(p),
            })
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidArgument,
                    format!("{}: first picture has no timestamp", path.display()),
                )
            })?;

        let mut pictures: Vec<Picture> = Vec::with_capacity(raw.len());
        let mut bytes = 0usize;
        for (i, buffer) in raw.iter().enumerate() {
            let dts = buffer.dts().or(buffer.pts());
            let pts = buffer.pts().or(buffer.dts());
            let (Some(dts), Some(pts)) = (dts, pts) else {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("{}: picture {i} has no timestamp", path.display()),
                ));
            };
            let rel_dts = dts.saturating_sub(base);
            let rel_pts = pts.saturating_sub(base).max(rel_dts);
            if let Some(prev) = pictures.last()
                && rel_dts <= prev.rel_dts
            {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "{}: decoding times do not increase at picture {i}",
                        path.display()
                    ),
                ));
            }
            let next_dts = raw
                .get(i + 1)
                .and_then(|n| n.dts().or(n.pts()))
                .map(|d| d.saturating_sub(base));
            let duration = buffer
                .duration()
                .filter(|d| !d.is_zero())
                .or_else(|| {
                    next_dts
                        .map(|n| n.saturating_sub(rel_dts))
                        .filter(|d| !d.is_zero())
                })
                .or(nominal)
                .unwrap_or(FALLBACK_FRAME_DURATION);
            bytes += buffer.size();
            pictures.push(Picture {
                buffer: buffer.clone(),
                rel_pts,
                rel_dts,
                duration,
            });
        }

        // The clip ends when its last-shown picture ends; decoding of the next loop starts there.
        let duration = pictures
            .iter()
            .map(|p| (p.rel_pts + p.duration).max(p.rel_dts + p.duration))
            .max()
            .unwrap_or(gst::ClockTime::ZERO);
        if pictures.is_empty() || duration.is_zero() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("{}: video track is empty", path.display()),
            ));
        }
        Ok(Clip {
            codec,
            caps,
            width,
            height,
            pictures,
            duration,
            bytes,
        })
    }

    /// The clip's codec.
    pub fn codec(&self) -> VideoCodec {
        self.codec
    }

    /// Coded width in pixels (0 if the file does not say).
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Coded height in pixels (0 if the file does not say).
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Number of pictures in one pass of the clip.
    pub fn frames(&self) -> usize {
        self.pictures.len()
    }

    /// Length of one pass of the clip.
    pub fn duration(&self) -> Duration {
        Duration::from_nanos(self.duration.nseconds())
    }

    /// Total size of the coded pictures in bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub(crate) fn caps(&self) -> &gst::Caps {
        &self.caps
    }

    pub(crate) fn pictures(&self) -> &[Picture] {
        &self.pictures
    }

    pub(crate) fn clock_duration(&self) -> gst::ClockTime {
        self.duration
    }
}

/// `1 / framerate` from the caps, if the caps carry a usable frame rate.
fn nominal_frame_duration(structure: &gst::StructureRef) -> Option<gst::ClockTime> {
    let rate = structure.get::<gst::Fraction>("framerate").ok()?;
    let (num, den) = (
        u64::try_from(rate.numer()).ok()?,
        u64::try_from(rate.denom()).ok()?,
    );
    if num == 0 || den == 0 {
        return None;
    }
    gst::ClockTime::SECOND
        .nseconds()
        .checked_mul(den)
        .map(|n| gst::ClockTime::from_nseconds(n / num))
}

/// `filesrc ! qtdemux ! {h264parse|h265parse} ! appsink`, linked when the demuxer finds the
/// video track.
struct Loader {
    pipeline: gst::Pipeline,
    sink: gst_app::AppSink,
}

impl Loader {
    fn build(path: &Path) -> Result<Loader, Error> {
        let internal = |what: &str, e: glib::BoolError| {
            Error::with_source(
                ErrorKind::Internal,
                format!("building the footage reader: {what}"),
                e,
            )
        };
        let pipeline = gst::Pipeline::with_name("roeh-testcam-footage");
        let src = gst::ElementFactory::make("filesrc")
            .property("location", path)
            .build()
            .map_err(|e| internal("filesrc", e))?;
        let demux = gst::ElementFactory::make("qtdemux")
            .build()
            .map_err(|e| internal("qtdemux", e))?;
        let caps = gst::Caps::builder("video/x-h264")
            .field("stream-format", "avc")
            .field("alignment", "au")
            .build();
        let mut all = caps;
        all.merge(
            gst::Caps::builder("video/x-h265")
                .field("stream-format", "hvc1")
                .field("alignment", "au")
                .build(),
        );
        let sink = gst_app::AppSink::builder()
            .caps(&all)
            .sync(false)
            .max_buffers(64)
            .build();
        pipeline
            .add_many([&src, &demux, sink.upcast_ref()])
            .map_err(|e| internal("adding elements", e))?;
        src.link(&demux)
            .map_err(|e| internal("linking filesrc to qtdemux", e))?;

        let linked = Arc::new(AtomicBool::new(false));
        let weak_pipeline = pipeline.downgrade();
        let weak_sink = sink.downgrade();
        let linked_in_pad_added = Arc::clone(&linked);
        demux.connect_pad_added(move |_, pad| {
            let (Some(pipeline), Some(sink)) = (weak_pipeline.upgrade(), weak_sink.upgrade())
            else {
                return;
            };
            let name = pad
                .current_caps()
                .or_else(|| Some(pad.query_caps(None)))
                .and_then(|c| c.structure(0).map(|s| s.name().to_string()))
                .unwrap_or_default();
            let parser = match name.as_str() {
                // Only the first video track is served.
                _ if linked_in_pad_added.load(Ordering::SeqCst) => None,
                "video/x-h264" => Some("h264parse"),
                "video/x-h265" => Some("h265parse"),
                _ => None,
            };
            // Other tracks drain into a fakesink so the demuxer never stalls on them.
            let Ok(element) = gst::ElementFactory::make(parser.unwrap_or("fakesink")).build()
            else {
                return;
            };
            if pipeline.add(&element).is_err() || element.sync_state_with_parent().is_err() {
                return;
            }
            let Some(sinkpad) = element.static_pad("sink") else {
                return;
            };
            if pad.link(&sinkpad).is_ok() && parser.is_some() && element.link(&sink).is_ok() {
                linked_in_pad_added.store(true, Ordering::SeqCst);
            }
        });
        let weak_sink = sink.downgrade();
        demux.connect_no_more_pads(move |_| {
            if !linked.load(Ordering::SeqCst)
                && let Some(sink) = weak_sink.upgrade()
            {
                // No video track: end the appsink so the reader stops waiting for pictures.
                let _ = sink.send_event(gst::event::Eos::new());
            }
        });
        Ok(Loader { pipeline, sink })
    }

    fn run(&self, path: &Path) -> Result<(gst::Caps, Vec<gst::Buffer>), Error> {
        let bus = self
            .pipeline
            .bus()
            .ok_or_else(|| Error::new(ErrorKind::Internal, "footage reader has no bus"))?;
        self.pipeline.set_state(gst::State::Playing).map_err(|e| {
            bus_error(&bus, path).unwrap_or_else(|| {
                Error::with_source(
                    ErrorKind::InvalidArgument,
                    format!("{}: cannot start reading", path.display()),
                    e,
                )
            })
        })?;
        let deadline = Instant::now() + LOAD_DEADLINE;
        let mut caps: Option<gst::Caps> = None;
        let mut buffers = Vec::new();
        let mut bytes = 0usize;
        loop {
            if let Some(err) = bus_error(&bus, path) {
                return Err(err);
            }
            if Instant::now() > deadline {
                return Err(Error::new(
                    ErrorKind::DeadlineExceeded,
                    format!(
                        "{}: reading the footage took longer than {LOAD_DEADLINE:?}",
                        path.display()
                    ),
                ));
            }
            let Some(sample) = self
                .sink
                .try_pull_sample(gst::ClockTime::from_mseconds(200))
            else {
                if self.sink.is_eos() {
                    break;
                }
                continue;
            };
            if caps.is_none() {
                caps = sample.caps_owned();
            }
            if let Some(buffer) = sample.buffer_owned() {
                bytes += buffer.size();
                if bytes > MAX_CLIP_BYTES {
                    return Err(Error::new(
                        ErrorKind::ResourceExhausted,
                        format!(
                            "{}: video track exceeds {MAX_CLIP_BYTES} bytes",
                            path.display()
                        ),
                    ));
                }
                buffers.push(buffer);
            }
        }
        match caps {
            Some(caps) if !buffers.is_empty() => Ok((caps, buffers)),
            _ => Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("{}: no H.264 or H.265 video track found", path.display()),
            )),
        }
    }
}

/// The first error message waiting on the bus, if any.
fn bus_error(bus: &gst::Bus, path: &Path) -> Option<Error> {
    while let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error]) {
        if let gst::MessageView::Error(e) = msg.view() {
            return Some(Error::with_source(
                ErrorKind::InvalidArgument,
                format!(
                    "{}: cannot read footage (is it an MP4 file?)",
                    path.display()
                ),
                e.error(),
            ));
        }
    }
    None
}
