//! Ingest of sources RTSP does not cover, through GStreamer: local video files (`file://`) and
//! HTTP(S) URLs carrying H.264 or H.265 in MP4, MPEG-TS or Matroska.
//!
//! Pipeline, built in code: `urisourcebin ! parsebin ! {h264parse|h265parse} ! capsfilter !
//! appsink`. Nothing is decoded. The parser is chosen from the first video pad's caps and told to
//! output `stream-format=avc|hvc1, alignment=au` (4-byte length-prefixed NAL units, one access
//! unit per buffer) and to insert parameter sets before every key frame (`config-interval=-1`), as
//! the RTSP path does. `codec_data` from the caps becomes [`CodecParams::config_record`]; width and
//! height come from the caps; `is_key` is the absence of `DELTA_UNIT`; `pts` is the buffer PTS in
//! 90 kHz units since the first buffer. Any other video or image format (MJPEG, for one) is
//! refused with an "unsupported codec" error: the recorder stores H.264 and H.265 as received and
//! cannot store it. Other pads (audio, subtitles) go to a `fakesink`.
//!
//! The appsink syncs to the clock, so a file plays at real-time pace, like a camera. A looping
//! source seeks back to the start at end of stream; media time keeps increasing across loops.
//!
//! Since [`roeh_domain::CameraUrl`] only holds RTSP(S) URLs, the location of such a source is a
//! [`GstSource`], given to the [`GstOpener`] when it is made; the [`Camera`] passed to
//! [`Opener::open`] supplies only the identity stamped on each access unit.
//!
//! Blocking GStreamer calls (state changes, pulling samples with a short timeout) run on tokio's
//! blocking pool. Dropping the stream stops the pipeline (synchronously: it must reach NULL).

use crate::Error;
use crate::source::{BoxFuture, MediaStream, Opener, rfc6381_from_config_record};
use bytes::Bytes;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use roeh_domain::{
    AccessUnit, Camera, CameraId, Clock, CodecParams, ErrorKind, Pts90k, VideoCodec,
};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long one blocking pull waits before the loop checks for errors and cancellation again.
const PULL_SLICE: Duration = Duration::from_millis(200);
/// Longest URI accepted.
const MAX_URI_LEN: usize = 4096;
/// Frame duration assumed across a loop point when the stream gives none (90 kHz, 25 fps).
const DEFAULT_FRAME_DURATION: i64 = 3600;

/// Where a GStreamer-read source is: a validated `file://` or `http(s)://` URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GstSource {
    uri: url::Url,
    looping: bool,
}

impl GstSource {
    /// Parses and validates a source URI: `file` with an absolute path, or `http`/`https` with a
    /// host and no credentials; no control characters or whitespace.
    pub fn parse(uri: &str) -> Result<Self, Error> {
        let bad = |why: &str| Error::new(ErrorKind::InvalidArgument, format!("source URI {why}"));
        if uri.len() > MAX_URI_LEN {
            return Err(bad(&format!("is longer than {MAX_URI_LEN} bytes")));
        }
        if uri.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(bad("contains control characters or whitespace"));
        }
        let url = url::Url::parse(uri).map_err(|_| bad("is not a valid URI"))?;
        match url.scheme() {
            "file" => {
                if url
                    .host_str()
                    .is_some_and(|h| !h.is_empty() && h != "localhost")
                {
                    return Err(bad("must name a local file"));
                }
                if url.to_file_path().is_err() {
                    return Err(bad("is not an absolute file path"));
                }
            }
            "http" | "https" => {
                if url.host_str().is_none_or(str::is_empty) {
                    return Err(bad("has no host"));
                }
                if !url.username().is_empty() || url.password().is_some() {
                    return Err(bad("must not contain credentials"));
                }
            }
            _ => return Err(bad("must use the file, http or https scheme")),
        }
        Ok(GstSource {
            uri: url,
            looping: false,
        })
    }

    /// A source for a local file (made absolute against the current directory).
    pub fn from_path(path: &Path) -> Result<Self, Error> {
        let abs = std::path::absolute(path).map_err(|e| {
            Error::with_source(ErrorKind::InvalidArgument, "cannot resolve file path", e)
        })?;
        let url = url::Url::from_file_path(&abs)
            .map_err(|()| Error::new(ErrorKind::InvalidArgument, "not an absolute file path"))?;
        GstSource::parse(url.as_str())
    }

    /// Whether to start over at end of stream (files only make sense here).
    pub fn looping(mut self, looping: bool) -> Self {
        self.looping = looping;
        self
    }

    /// The URI.
    pub fn uri(&self) -> &str {
        self.uri.as_str()
    }

    /// Whether the source loops.
    pub fn is_looping(&self) -> bool {
        self.looping
    }
}

/// Opens one [`GstSource`] (see the module docs).
#[derive(Debug)]
pub struct GstOpener {
    source: GstSource,
}

impl GstOpener {
    /// An opener for `source`. Initialises GStreamer (idempotent).
    pub fn new(source: GstSource) -> Result<Self, Error> {
        gst::init().map_err(|e| {
            Error::with_source(ErrorKind::Unavailable, "GStreamer failed to initialise", e)
        })?;
        Ok(GstOpener { source })
    }

    /// The source it opens.
    pub fn source(&self) -> &GstSource {
        &self.source
    }
}

impl Opener for GstOpener {
    fn open<'a>(
        &'a self,
        camera: &'a Camera,
        clock: Arc<dyn Clock>,
    ) -> BoxFuture<'a, Result<Box<dyn MediaStream>, Error>> {
        let source = self.source.clone();
        let id = camera.id;
        Box::pin(async move {
            let stream = GstStream::start(source, id, clock).await?;
            Ok(Box::new(stream) as Box<dyn MediaStream>)
        })
    }
}

fn internal(what: &str, e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Internal, format!("{what}: {e}"))
}

/// Shared between the pad-added handlers and the stream: a refusal found while linking.
type ErrorSlot = Arc<Mutex<Option<Error>>>;

fn set_error(slot: &ErrorSlot, e: Error) {
    let mut g = slot.lock().unwrap_or_else(|p| p.into_inner());
    if g.is_none() {
        *g = Some(e);
    }
}

struct GstStream {
    pipeline: gst::Pipeline,
    sink: gst_app::AppSink,
    errors: ErrorSlot,
    source: GstSource,
    camera: CameraId,
    clock: Arc<dyn Clock>,
    last_caps: Option<gst::Caps>,
    params: Option<Arc<CodecParams>>,
    first_pts: Option<gst::ClockTime>,
    loop_offset: i64,
    last_pts: Option<i64>,
    frame_duration: i64,
    /// A frame pulled while opening, handed out first.
    pending: Option<AccessUnit>,
}

enum Pulled {
    Sample(gst::Sample),
    Eos,
    Failed(Error),
    Nothing,
}

impl GstStream {
    async fn start(
        source: GstSource,
        camera: CameraId,
        clock: Arc<dyn Clock>,
    ) -> Result<GstStream, Error> {
        let uri = source.uri().to_owned();
        let (pipeline, sink, errors) = tokio::task::spawn_blocking(move || build(&uri))
            .await
            .map_err(|e| internal("GStreamer setup task failed", e))??;
        let mut s = GstStream {
            pipeline,
            sink,
            errors,
            source,
            camera,
            clock,
            last_caps: None,
            params: None,
            first_pts: None,
            loop_offset: 0,
            last_pts: None,
            frame_duration: DEFAULT_FRAME_DURATION,
            pending: None,
        };
        // Surface setup failures (missing file, unsupported codec) from `open`.
        s.pending = s.next_frame().await?;
        Ok(s)
    }

    async fn pull(&self) -> Result<Pulled, Error> {
        let sink = self.sink.clone();
        let bus = self.pipeline.bus();
        let errors = self.errors.clone();
        tokio::task::spawn_blocking(move || {
            if let Some(e) = errors.lock().unwrap_or_else(|p| p.into_inner()).take() {
                return Pulled::Failed(e);
            }
            if let Some(msg) = bus
                .as_ref()
                .and_then(|b| b.pop_filtered(&[gst::MessageType::Error, gst::MessageType::Eos]))
            {
                match msg.view() {
                    gst::MessageView::Error(err) => {
                        let from = msg.src().map(|s| s.name().to_string()).unwrap_or_default();
                        return Pulled::Failed(Error::new(
                            ErrorKind::Unavailable,
                            format!("GStreamer error from {from}: {}", err.error()),
                        ));
                    }
                    _ => return Pulled::Eos,
                }
            }
            match sink.try_pull_sample(gst::ClockTime::from_nseconds(PULL_SLICE.as_nanos() as u64))
            {
                Some(s) => Pulled::Sample(s),
                None if sink.is_eos() => Pulled::Eos,
                None => Pulled::Nothing,
            }
        })
        .await
        .map_err(|e| internal("GStreamer pull task failed", e))
    }

    async fn next_frame(&mut self) -> Result<Option<AccessUnit>, Error> {
        if let Some(au) = self.pending.take() {
            return Ok(Some(au));
        }
        loop {
            match self.pull().await? {
                Pulled::Sample(sample) => return self.convert(&sample).map(Some),
                Pulled::Nothing => continue,
                Pulled::Failed(e) => return Err(e),
                Pulled::Eos if self.source.looping && self.last_pts.is_some() => {
                    self.restart().await?;
                }
                Pulled::Eos => return Ok(None),
            }
        }
    }

    /// Seeks back to the start; media time continues after the last frame.
    async fn restart(&mut self) -> Result<(), Error> {
        let last = self.last_pts.unwrap_or(0);
        self.loop_offset = last.saturating_add(self.frame_duration);
        self.first_pts = None;
        self.last_pts = None;
        let pipeline = self.pipeline.clone();
        tokio::task::spawn_blocking(move || {
            pipeline.seek_simple(
                gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT,
                gst::ClockTime::ZERO,
            )
        })
        .await
        .map_err(|e| internal("GStreamer seek task failed", e))?
        .map_err(|e| {
            Error::new(
                ErrorKind::Unavailable,
                format!("cannot loop the source: {e}"),
            )
        })
    }

    fn convert(&mut self, sample: &gst::Sample) -> Result<AccessUnit, Error> {
        let bad = |m: &str| Error::new(ErrorKind::DataLoss, m.to_owned());
        let buffer = sample
            .buffer()
            .ok_or_else(|| bad("sample without a buffer"))?;
        let caps = sample.caps().ok_or_else(|| bad("sample without caps"))?;
        if self.last_caps.as_ref().is_none_or(|c| c != caps) {
            self.params = Some(Arc::new(params_from_caps(caps)?));
            self.last_caps = Some(caps.to_owned());
        }
        let params = self
            .params
            .clone()
            .ok_or_else(|| bad("no codec parameters"))?;
        let ts = buffer
            .pts()
            .or_else(|| buffer.dts())
            .ok_or_else(|| bad("buffer without a timestamp"))?;
        let first = *self.first_pts.get_or_insert(ts);
        let rel =
            i64::try_from(ts.nseconds().saturating_sub(first.nseconds()) as u128 * 9 / 100_000)
                .unwrap_or(i64::MAX);
        let pts = self.loop_offset.saturating_add(rel);
        if let Some(d) = buffer.duration().filter(|d| d.nseconds() > 0) {
            self.frame_duration =
                i64::try_from(d.nseconds() as u128 * 9 / 100_000).unwrap_or(DEFAULT_FRAME_DURATION);
        } else if let Some(prev) = self.last_pts.filter(|&p| pts > p) {
            self.frame_duration = pts - prev;
        }
        self.last_pts = Some(pts);
        let map = buffer
            .map_readable()
            .map_err(|_| bad("buffer not readable"))?;
        Ok(AccessUnit {
            camera: self.camera,
            pts: Pts90k(pts),
            received_at: self.clock.wall(),
            is_key: !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT),
            params,
            data: Bytes::copy_from_slice(map.as_slice()),
        })
    }
}

impl MediaStream for GstStream {
    fn next(&mut self) -> BoxFuture<'_, Result<Option<AccessUnit>, Error>> {
        Box::pin(self.next_frame())
    }
}

impl Drop for GstStream {
    fn drop(&mut self) {
        // Synchronous on purpose: a deferred task might never run (runtime shutting down), and a
        // pipeline must reach NULL before its last reference goes. Stopping unblocks the clock
        // waits and pulls, so this returns promptly.
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

fn params_from_caps(caps: &gst::CapsRef) -> Result<CodecParams, Error> {
    let bad = |m: String| Error::new(ErrorKind::DataLoss, m);
    let s = caps.structure(0).ok_or_else(|| bad("empty caps".into()))?;
    let codec = match s.name().as_str() {
        "video/x-h264" => VideoCodec::H264,
        "video/x-h265" => VideoCodec::H265,
        other => return Err(unsupported(other)),
    };
    let dim = |f: &str| -> Result<u32, Error> {
        let v = s
            .get::<i32>(f)
            .map_err(|_| bad(format!("caps carry no {f}")))?;
        u32::try_from(v).map_err(|_| bad(format!("negative {f} in caps")))
    };
    let (width, height) = (dim("width")?, dim("height")?);
    let record = s
        .get::<gst::Buffer>("codec_data")
        .map_err(|_| bad("caps carry no codec_data".into()))?;
    let config_record = record
        .map_readable()
        .map_err(|_| bad("codec_data not readable".into()))?
        .as_slice()
        .to_vec();
    let rfc6381 = rfc6381_from_config_record(codec, &config_record)
        .ok_or_else(|| bad("codec_data too short".into()))?;
    Ok(CodecParams {
        codec,
        width,
        height,
        rfc6381,
        config_record,
    })
}

fn unsupported(media: &str) -> Error {
    Error::new(
        ErrorKind::FailedPrecondition,
        format!(
            "unsupported codec: the source carries {media}; only H.264 and H.265 can be recorded"
        ),
    )
}

fn make(factory: &str) -> Result<gst::Element, Error> {
    gst::ElementFactory::make(factory).build().map_err(|e| {
        Error::new(
            ErrorKind::FailedPrecondition,
            format!("GStreamer element {factory} is not available: {e}"),
        )
    })
}

/// Builds and starts the pipeline (blocking).
fn build(uri: &str) -> Result<(gst::Pipeline, gst_app::AppSink, ErrorSlot), Error> {
    let pipeline = gst::Pipeline::new();
    let src = make("urisourcebin")?;
    src.set_property("uri", uri);
    let parse = make("parsebin")?;
    let sink = gst_app::AppSink::builder()
        .sync(true)
        .max_buffers(8)
        .drop(false)
        .build();
    pipeline
        .add_many([&src, &parse, sink.upcast_ref()])
        .map_err(|e| internal("cannot assemble the pipeline", e))?;
    let errors: ErrorSlot = Arc::new(Mutex::new(None));

    let parse_weak = parse.downgrade();
    src.connect_pad_added(move |_, pad| {
        let Some(parse) = parse_weak.upgrade() else {
            return;
        };
        if let Some(sinkpad) = parse.static_pad("sink")
            && !sinkpad.is_linked()
        {
            let _ = pad.link(&sinkpad);
        }
    });

    let pipeline_weak = pipeline.downgrade();
    let sink_weak = sink.downgrade();
    let slot = errors.clone();
    parse.connect_pad_added(move |_, pad| {
        let (Some(pipeline), Some(sink)) = (pipeline_weak.upgrade(), sink_weak.upgrade()) else {
            return;
        };
        if let Err(e) = link_parsed_pad(&pipeline, &sink, pad) {
            set_error(&slot, e);
        }
    });

    pipeline.set_state(gst::State::Playing).map_err(|e| {
        let detail = pipeline
            .bus()
            .and_then(|b| b.pop_filtered(&[gst::MessageType::Error]))
            .and_then(|m| match m.view() {
                gst::MessageView::Error(err) => Some(err.error().to_string()),
                _ => None,
            })
            .unwrap_or_else(|| e.to_string());
        let _ = pipeline.set_state(gst::State::Null);
        Error::new(
            ErrorKind::Unavailable,
            format!("cannot start the source: {detail}"),
        )
    })?;
    Ok((pipeline, sink, errors))
}

/// Links a pad exposed by parsebin: the first H.264/H.265 video pad to parser → caps → appsink;
/// a video or image pad of any other format is refused; everything else goes to a fakesink.
fn link_parsed_pad(
    pipeline: &gst::Pipeline,
    sink: &gst_app::AppSink,
    pad: &gst::Pad,
) -> Result<(), Error> {
    let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
    let media = caps
        .structure(0)
        .map(|s| s.name().to_string())
        .unwrap_or_default();
    let chosen = match media.as_str() {
        "video/x-h264" => Some(("h264parse", "video/x-h264,stream-format=avc,alignment=au")),
        "video/x-h265" => Some(("h265parse", "video/x-h265,stream-format=hvc1,alignment=au")),
        _ => None,
    };
    let sink_free = sink.static_pad("sink").is_some_and(|p| !p.is_linked());
    match chosen {
        Some((parser, caps)) if sink_free => {
            let parser = make(parser)?;
            parser.set_property("config-interval", -1i32);
            let filter = make("capsfilter")?;
            let caps: gst::Caps = caps
                .parse()
                .map_err(|e| internal("bad caps description", e))?;
            filter.set_property("caps", &caps);
            pipeline
                .add_many([&parser, &filter])
                .map_err(|e| internal("cannot add the parser", e))?;
            gst::Element::link_many([&parser, &filter, sink.upcast_ref()])
                .map_err(|e| internal("cannot link the parser", e))?;
            for e in [&parser, &filter] {
                e.sync_state_with_parent()
                    .map_err(|e| internal("cannot start the parser", e))?;
            }
            let target = parser
                .static_pad("sink")
                .ok_or_else(|| internal("parser has no sink pad", ""))?;
            pad.link(&target)
                .map_err(|e| internal("cannot link the parsed stream", e))?;
            Ok(())
        }
        _ => {
            let fakesink = gst::ElementFactory::make("fakesink")
                .property("sync", false)
                .property("async", false)
                .build()
                .map_err(|e| internal("fakesink is not available", e))?;
            pipeline
                .add(&fakesink)
                .map_err(|e| internal("cannot add a fakesink", e))?;
            fakesink
                .sync_state_with_parent()
                .map_err(|e| internal("cannot start a fakesink", e))?;
            if let Some(target) = fakesink.static_pad("sink") {
                let _ = pad.link(&target);
            }
            if chosen.is_none() && (media.starts_with("video/") || media.starts_with("image/")) {
                return Err(unsupported(&media));
            }
            Ok(())
        }
    }
}
