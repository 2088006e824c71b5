//! The synchronous decoder of one camera: access units in, selected RGB24 frames out.
//!
//! Invariants:
//! - decoding starts, and resumes after any error, at a key frame: until one arrives, access
//!   units are dropped and counted (`dropped_until_key`), and the codec is flushed before it so
//!   that no picture references data from before the break;
//! - parameter sets travel in-band: every key frame is fed with the Annex B parameter sets of its
//!   configuration record in front, so a decoder can start at any key frame;
//! - new codec parameters (different contents, not merely a different `Arc`) recreate the codec;
//! - every picture fed is decoded, but swscale runs only for the pictures the [`Selector`]
//!   picks, once, straight to packed RGB24 at [`target_size`]; the scaler is reused until the
//!   source size or pixel format changes;
//! - pictures flagged as damaged by the codec are never handed out.
//!
//! A [`Decoder`] holds FFmpeg state that is not `Send`: create it on the thread that uses it.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use ffmpeg_next::codec::{self as avcodec, threading};
use ffmpeg_next::format::Pixel;
use ffmpeg_next::software::scaling;
use ffmpeg_next::{Packet, frame};
use roeh_domain::{AccessUnit, CameraId, CodecParams, ErrorKind, Pts90k, VideoCodec, WallTime};

use crate::annexb::{parameter_sets, to_annexb};
use crate::select::Selector;
use crate::stats::Counter;
use crate::{AnalysisRate, DecodeConfig, DecodeStats, Error, HwAccel, Result, target_size};

/// Access units remembered between feeding and output, to give each picture the wall time and
/// key flag of its access unit (more than the codec's delay ever needs).
const MAX_PENDING: usize = 64;

/// A decoded picture, converted for analytics.
#[derive(Clone)]
pub struct DecodedFrame {
    /// Camera of the access unit.
    pub camera: CameraId,
    /// Media time of the picture (of its access unit).
    pub pts: Pts90k,
    /// When ingest received its access unit.
    pub received_at: WallTime,
    /// Whether its access unit was a key frame.
    pub is_key: bool,
    /// Width in pixels (even, at most the source width).
    pub width: u32,
    /// Height in pixels (even).
    pub height: u32,
    /// Packed RGB24, rows back to back without padding: `width * height * 3` bytes.
    pub data: Arc<[u8]>,
    /// Width of the decoded picture before scaling.
    pub source_width: u32,
    /// Height of the decoded picture before scaling.
    pub source_height: u32,
}

impl fmt::Debug for DecodedFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecodedFrame")
            .field("camera", &self.camera)
            .field("pts", &self.pts)
            .field("received_at", &self.received_at)
            .field("is_key", &self.is_key)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("bytes", &self.data.len())
            .field("source_width", &self.source_width)
            .field("source_height", &self.source_height)
            .finish()
    }
}

/// What is remembered of a fed access unit until its picture comes out.
#[derive(Clone, Copy, Debug)]
struct Pending {
    camera: CameraId,
    pts: Pts90k,
    received_at: WallTime,
    is_key: bool,
}

/// An open codec.
struct Codec {
    video: ffmpeg_next::decoder::Video,
    hardware: bool,
}

/// The scaler and its output buffer, valid for one input format and size.
struct Scaler {
    ctx: scaling::Context,
    out: frame::Video,
    src: (Pixel, u32, u32),
    dst: (u32, u32),
}

/// Decodes one camera's access units; see the module documentation.
pub struct Decoder {
    cfg: DecodeConfig,
    stats: DecodeStats,
    params: Arc<CodecParams>,
    /// Annex B parameter sets of `params`, fed in front of every key frame.
    prefix: Vec<u8>,
    codec: Option<Codec>,
    scaler: Option<Scaler>,
    selector: Selector,
    /// Drop access units until the next key frame.
    await_key: bool,
    /// Flush the codec before feeding that key frame.
    flush_before_key: bool,
    pending: VecDeque<Pending>,
    annexb: Vec<u8>,
    picture: frame::Video,
    ready: VecDeque<DecodedFrame>,
}

impl fmt::Debug for Decoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decoder")
            .field("codec", &self.params.codec)
            .field("open", &self.codec.is_some())
            .field("hardware", &self.is_hardware())
            .field("await_key", &self.await_key)
            .finish_non_exhaustive()
    }
}

fn decode_error(msg: String, e: ffmpeg_next::Error) -> Error {
    Error::with_source(ErrorKind::DataLoss, msg, e)
}

fn is_again(e: &ffmpeg_next::Error) -> bool {
    matches!(e, ffmpeg_next::Error::Other { errno } if *errno == ffmpeg_next::error::EAGAIN)
}

/// Opens `codec` with `threads` decoder threads.
fn open_codec(codec: ffmpeg_next::Codec, threads: usize) -> Result<ffmpeg_next::decoder::Video> {
    let mut ctx = avcodec::Context::new_with_codec(codec);
    ctx.set_threading(threading::Config {
        kind: if threads > 1 {
            threading::Type::Frame
        } else {
            threading::Type::None
        },
        count: threads,
        ..threading::Config::default()
    });
    let opened = ctx.decoder().open_as(codec).map_err(|e| {
        Error::with_source(
            ErrorKind::Unavailable,
            format!("opening decoder {}", codec.name()),
            e,
        )
    })?;
    opened.video().map_err(|e| {
        Error::with_source(
            ErrorKind::Internal,
            format!("decoder {} is not a video decoder", codec.name()),
            e,
        )
    })
}

impl Decoder {
    /// A decoder for streams with `params`, with fresh [`DecodeStats`].
    pub fn new(params: &CodecParams, cfg: &DecodeConfig) -> Result<Decoder> {
        Decoder::with_stats(params, cfg, DecodeStats::new())
    }

    /// A decoder that counts into `stats`.
    pub fn with_stats(
        params: &CodecParams,
        cfg: &DecodeConfig,
        stats: DecodeStats,
    ) -> Result<Decoder> {
        cfg.validate()?;
        crate::init_ffmpeg()?;
        let mut d = Decoder {
            cfg: cfg.clone(),
            stats,
            params: Arc::new(params.clone()),
            prefix: Vec::new(),
            codec: None,
            scaler: None,
            selector: Selector::new(cfg.rate),
            await_key: true,
            flush_before_key: false,
            pending: VecDeque::new(),
            annexb: Vec::new(),
            picture: frame::Video::empty(),
            ready: VecDeque::new(),
        };
        d.open()?;
        Ok(d)
    }

    /// The counters this decoder updates.
    pub fn stats(&self) -> &DecodeStats {
        &self.stats
    }

    /// Whether the open codec is a hardware decoder.
    pub fn is_hardware(&self) -> bool {
        self.codec.as_ref().is_some_and(|c| c.hardware)
    }

    /// Decodes `au` and returns the next frame selected by the analysis rate, if any. When one
    /// access unit yields several selected frames (possible with frame threading), the others wait
    /// in [`Decoder::pop_ready`].
    ///
    /// An error means this access unit (or a picture it completed) was damaged or undecodable;
    /// it is counted, and decoding resumes at the next key frame.
    pub fn decode(&mut self, au: &AccessUnit) -> Result<Option<DecodedFrame>> {
        self.stats.incr(Counter::Received);
        self.feed(au, false)
    }

    /// A selected frame left over from an earlier call, if any.
    pub fn pop_ready(&mut self) -> Option<DecodedFrame> {
        self.ready.pop_front()
    }

    /// Declares a break in the input (access units were dropped before `au` arrives): nothing is
    /// fed until the next key frame, and the codec is flushed before it.
    pub fn discontinuity(&mut self) {
        self.await_key = true;
        self.flush_before_key = true;
    }

    /// Drains the pictures the codec still holds (frame threading delays output) and returns the
    /// selected ones, leftovers of [`Decoder::pop_ready`] first. The decoder then waits for a key
    /// frame.
    pub fn finish(&mut self) -> Result<Vec<DecodedFrame>> {
        let mut result = Ok(());
        if let Some(codec) = self.codec.as_mut() {
            match codec.video.send_eof() {
                Ok(()) => result = self.receive_all(),
                Err(ffmpeg_next::Error::Eof) => {}
                Err(e) => result = Err(decode_error("draining the decoder".into(), e)),
            }
            if let Some(codec) = self.codec.as_mut() {
                codec.video.flush();
            }
        }
        self.await_key = true;
        self.flush_before_key = false;
        self.pending.clear();
        result?;
        Ok(self.ready.drain(..).collect())
    }

    /// [`Decoder::decode`] without counting the unit as received (the stage counted it).
    /// `after_gap` declares a [`Decoder::discontinuity`] first.
    pub(crate) fn feed(
        &mut self,
        au: &AccessUnit,
        after_gap: bool,
    ) -> Result<Option<DecodedFrame>> {
        if after_gap {
            self.discontinuity();
        }
        let changed = !Arc::ptr_eq(&au.params, &self.params) && *au.params != *self.params;
        if !Arc::ptr_eq(&au.params, &self.params) {
            self.params = Arc::clone(&au.params);
        }
        if changed {
            tracing::info!(camera = %au.camera, codec = self.params.codec.as_str(),
                width = self.params.width, height = self.params.height,
                "Codec parameters changed; reopening the decoder");
            self.codec = None;
        }
        if self.codec.is_none() && (changed || au.is_key) {
            self.open()
                .inspect_err(|_| self.stats.incr(Counter::Errors))?;
        }
        if self.cfg.rate == AnalysisRate::KeyFramesOnly && !au.is_key {
            self.stats.incr(Counter::SkippedNonKey);
            return Ok(self.ready.pop_front());
        }
        if self.await_key || self.codec.is_none() {
            if !au.is_key || self.codec.is_none() {
                self.stats.incr(Counter::DroppedUntilKey);
                return Ok(self.ready.pop_front());
            }
            if self.flush_before_key
                && let Some(codec) = self.codec.as_mut()
            {
                codec.video.flush();
                self.pending.clear();
            }
            self.await_key = false;
            self.flush_before_key = false;
        }
        let result = self.send(au).and_then(|()| self.receive_all());
        if let Err(e) = result {
            self.stats.incr(Counter::Errors);
            self.discontinuity();
            return Err(e);
        }
        Ok(self.ready.pop_front())
    }

    /// Opens the codec for `self.params` (hardware first when asked for).
    fn open(&mut self) -> Result<()> {
        self.codec = None;
        self.prefix = parameter_sets(&self.params)?;
        let (id, hw_name) = match self.params.codec {
            VideoCodec::H264 => (avcodec::Id::H264, "h264_cuvid"),
            VideoCodec::H265 => (avcodec::Id::HEVC, "hevc_cuvid"),
            other => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("codec {other:?} is not supported by the decoder"),
                ));
            }
        };
        if self.cfg.hwaccel == HwAccel::Cuda {
            let hw = ffmpeg_next::decoder::find_by_name(hw_name)
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::Unavailable,
                        format!("FFmpeg has no {hw_name} decoder"),
                    )
                })
                .and_then(|c| open_codec(c, 1));
            match hw {
                Ok(video) => {
                    self.codec = Some(Codec {
                        video,
                        hardware: true,
                    });
                    self.stats.set_hw_fallback(false);
                    self.after_open();
                    return Ok(());
                }
                Err(e) => {
                    tracing::warn!(decoder = hw_name, err = %e.chain(),
                        "Hardware decoding unavailable; decoding in software");
                    self.stats.set_hw_fallback(true);
                }
            }
        }
        let codec = ffmpeg_next::decoder::find(id).ok_or_else(|| {
            Error::new(
                ErrorKind::Unavailable,
                format!("FFmpeg has no {} decoder", self.params.codec.as_str()),
            )
        })?;
        self.codec = Some(Codec {
            video: open_codec(codec, self.cfg.threads)?,
            hardware: false,
        });
        self.after_open();
        Ok(())
    }

    fn after_open(&mut self) {
        self.stats.incr(Counter::Reopened);
        self.await_key = true;
        self.flush_before_key = false;
        self.pending.clear();
    }

    /// Feeds one access unit to the codec.
    fn send(&mut self, au: &AccessUnit) -> Result<()> {
        let prefix: &[u8] = if au.is_key { &self.prefix } else { &[] };
        to_annexb(&au.data, prefix, &mut self.annexb).map_err(|e| {
            Error::new(
                e.kind(),
                format!("camera {} pts {}: {}", au.camera, au.pts.0, e.message()),
            )
        })?;
        let Some(codec) = self.codec.as_mut() else {
            return Err(Error::new(ErrorKind::Internal, "decoder is not open"));
        };
        let mut packet = Packet::copy(&self.annexb);
        packet.set_pts(Some(au.pts.0));
        packet.set_dts(Some(au.pts.0));
        codec.video.send_packet(&packet).map_err(|e| {
            decode_error(
                format!(
                    "camera {} pts {}: the {} decoder rejected the access unit",
                    au.camera,
                    au.pts.0,
                    self.params.codec.as_str()
                ),
                e,
            )
        })?;
        if self.pending.len() == MAX_PENDING {
            self.pending.pop_front();
        }
        self.pending.push_back(Pending {
            camera: au.camera,
            pts: au.pts,
            received_at: au.received_at,
            is_key: au.is_key,
        });
        Ok(())
    }

    /// Takes every picture the codec has ready; selects and converts.
    fn receive_all(&mut self) -> Result<()> {
        let mut first_err = None;
        while let Some(codec) = self.codec.as_mut() {
            match codec.video.receive_frame(&mut self.picture) {
                Ok(()) => {
                    if let Err(e) = self.on_picture()
                        && first_err.is_none()
                    {
                        first_err = Some(e);
                    }
                }
                Err(e) if is_again(&e) || e == ffmpeg_next::Error::Eof => break,
                Err(e) => {
                    return Err(decode_error(
                        format!("decoding {}", self.params.codec.as_str()),
                        e,
                    ));
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Handles the picture in `self.picture`.
    fn on_picture(&mut self) -> Result<()> {
        self.stats.incr(Counter::Decoded);
        let pts = self.picture.timestamp().or(self.picture.pts());
        let meta = pts
            .and_then(|p| self.pending.iter().position(|m| m.pts.0 == p))
            .and_then(|i| self.pending.remove(i))
            .or_else(|| self.pending.pop_front());
        let Some(meta) = meta else {
            return Err(Error::new(
                ErrorKind::Internal,
                format!(
                    "the {} decoder returned a picture that was never fed",
                    self.params.codec.as_str()
                ),
            ));
        };
        if self.picture.is_corrupt() || self.picture.has_decode_errors() {
            return Err(Error::new(
                ErrorKind::DataLoss,
                format!(
                    "camera {} pts {}: the {} decoder flagged the picture as damaged",
                    meta.camera,
                    meta.pts.0,
                    self.params.codec.as_str()
                ),
            ));
        }
        if !self.selector.select(meta.pts.0) {
            return Ok(());
        }
        let frame = self.convert(meta)?;
        self.stats.incr(Counter::Analysed);
        self.ready.push_back(frame);
        Ok(())
    }

    /// Scales and converts `self.picture` to packed RGB24 in one swscale pass.
    fn convert(&mut self, meta: Pending) -> Result<DecodedFrame> {
        let (format, sw, sh) = (
            self.picture.format(),
            self.picture.width(),
            self.picture.height(),
        );
        let Some((tw, th)) = target_size(sw, sh, self.cfg.max_width) else {
            return Err(Error::new(
                ErrorKind::DataLoss,
                format!(
                    "camera {} pts {}: decoded picture of {sw}x{sh} is too small",
                    meta.camera, meta.pts.0
                ),
            ));
        };
        let scaler = match self.scaler.take() {
            Some(s) if s.src == (format, sw, sh) && s.dst == (tw, th) => s,
            _ => Scaler {
                ctx: scaling::Context::get(
                    format,
                    sw,
                    sh,
                    Pixel::RGB24,
                    tw,
                    th,
                    scaling::Flags::BILINEAR,
                )
                .map_err(|e| {
                    Error::with_source(
                        ErrorKind::Internal,
                        format!("no scaler from {format:?} {sw}x{sh} to RGB24 {tw}x{th}"),
                        e,
                    )
                })?,
                out: frame::Video::new(Pixel::RGB24, tw, th),
                src: (format, sw, sh),
                dst: (tw, th),
            },
        };
        let scaler = self.scaler.insert(scaler);
        scaler
            .ctx
            .run(&self.picture, &mut scaler.out)
            .map_err(|e| Error::with_source(ErrorKind::Internal, "scaling a picture", e))?;
        let out = &scaler.out;
        let row = tw as usize * 3;
        let rows = th as usize;
        let stride = if out.planes() >= 1 { out.stride(0) } else { 0 };
        let plane = if out.planes() >= 1 { out.data(0) } else { &[] };
        let data: Option<Arc<[u8]>> = if stride == row {
            plane.get(..row * rows).map(Arc::from)
        } else if stride > row {
            let mut v = Vec::with_capacity(row * rows);
            for r in plane.chunks(stride).take(rows) {
                v.extend_from_slice(r.get(..row).unwrap_or_default());
            }
            (v.len() == row * rows).then(|| Arc::from(v))
        } else {
            None
        };
        let Some(data) = data else {
            return Err(Error::new(
                ErrorKind::Internal,
                format!("scaler output of {tw}x{th} has an unexpected layout (stride {stride})"),
            ));
        };
        Ok(DecodedFrame {
            camera: meta.camera,
            pts: meta.pts,
            received_at: meta.received_at,
            is_key: meta.is_key,
            width: tw,
            height: th,
            data,
            source_width: sw,
            source_height: sh,
        })
    }
}
