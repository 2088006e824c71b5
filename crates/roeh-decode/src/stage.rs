//! The decode stage of one camera: a [`Decoder`] on its own named OS thread, between ingest and
//! the detector.
//!
//! Invariants:
//! - the ingest side never blocks: [`DecodeInput::offer`] only ever `try_send`s into a bounded
//!   queue of [`DecodeConfig::queue_capacity`] access units. When the queue is full the unit is
//!   dropped and so is everything after it until the next key frame
//!   ([`InputFullPolicy::DropUntilKeyFrame`]); that key frame reaches the decoder marked as
//!   following a gap, so the decoder flushes before it and no picture is decoded against missing
//!   references;
//! - the decoder never blocks on its consumer: a [`FrameSink`] that is full drops the new frame
//!   ([`OutputFullPolicy::DropNewest`]);
//! - every drop is counted in [`DecodeStats`];
//! - the sink is told how long each access unit took to decode ([`FrameSink::decoded`]);
//! - the thread ends when the [`DecodeInput`] is dropped (after draining the queue and the codec)
//!   or when the consumer goes away.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use roeh_domain::{AccessUnit, CameraId, ErrorKind};

use crate::stats::Counter;
use crate::{AnalysisRate, DecodeConfig, DecodeStats, DecodedFrame, Decoder, Error, Result};

/// What the stage's input does when its queue is full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InputFullPolicy {
    /// Drop the access unit and every later one until the next key frame, which is queued as
    /// soon as there is room (counted as `dropped_full`, then `dropped_until_key`).
    #[default]
    DropUntilKeyFrame,
}

/// What the stage does when its consumer's channel is full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputFullPolicy {
    /// Drop the frame just converted (counted as `dropped_output`); the consumer keeps the older
    /// frames it has not read yet.
    #[default]
    DropNewest,
}

/// What became of an offered access unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Offer {
    /// Queued for decoding.
    Queued,
    /// Dropped: the queue was full. Units are now dropped until the next key frame.
    DroppedFull,
    /// Dropped while waiting for a key frame after an earlier drop.
    DroppedUntilKey,
    /// Not needed: the rate is key frames only and this is not one.
    SkippedNonKey,
    /// The stage has ended (its consumer went away, or its thread failed).
    Closed,
}

/// Result of handing a frame to a [`FrameSink`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SinkResult {
    /// Accepted.
    Sent,
    /// No room; the frame was dropped.
    Full,
    /// The consumer is gone; the stage stops.
    Closed,
}

/// Where the stage puts converted frames. Implementations must not block.
pub trait FrameSink: Send + 'static {
    /// Hands over `frame` without blocking.
    fn offer(&mut self, frame: DecodedFrame) -> SinkResult;

    /// Told, on the stage's thread, how long decoding one access unit took (with the conversion
    /// of the picture it selected, if any); nothing is told for a unit that failed. Must not
    /// block. Ignored by default.
    fn decoded(&mut self, took: Duration) {
        let _ = took;
    }
}

impl FrameSink for tokio::sync::mpsc::Sender<DecodedFrame> {
    fn offer(&mut self, frame: DecodedFrame) -> SinkResult {
        match self.try_send(frame) {
            Ok(()) => SinkResult::Sent,
            Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => SinkResult::Full,
            Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => SinkResult::Closed,
        }
    }
}

impl FrameSink for SyncSender<DecodedFrame> {
    fn offer(&mut self, frame: DecodedFrame) -> SinkResult {
        match self.try_send(frame) {
            Ok(()) => SinkResult::Sent,
            Err(TrySendError::Full(_)) => SinkResult::Full,
            Err(TrySendError::Disconnected(_)) => SinkResult::Closed,
        }
    }
}

/// Latest frame wins: never full, the consumer always sees the newest frame.
impl FrameSink for tokio::sync::watch::Sender<Option<DecodedFrame>> {
    fn offer(&mut self, frame: DecodedFrame) -> SinkResult {
        if self.is_closed() {
            return SinkResult::Closed;
        }
        self.send_replace(Some(frame));
        SinkResult::Sent
    }
}

/// One queued access unit.
struct Item {
    au: AccessUnit,
    /// Units were dropped just before this one.
    after_gap: bool,
}

/// The ingest side of a decode stage. Dropping it ends the stage.
#[derive(Debug)]
pub struct DecodeInput {
    tx: SyncSender<Item>,
    /// Units are being dropped until the next key frame.
    skipping: AtomicBool,
    key_frames_only: bool,
    stats: DecodeStats,
}

impl std::fmt::Debug for Item {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Item")
            .field("pts", &self.au.pts)
            .field("is_key", &self.au.is_key)
            .field("after_gap", &self.after_gap)
            .finish()
    }
}

impl DecodeInput {
    /// Offers an access unit to the decoder without ever blocking; see [`InputFullPolicy`].
    pub fn offer(&self, au: AccessUnit) -> Offer {
        self.stats.incr(Counter::Received);
        if self.key_frames_only && !au.is_key {
            self.stats.incr(Counter::SkippedNonKey);
            return Offer::SkippedNonKey;
        }
        let gap = self.skipping.load(Ordering::Relaxed);
        if gap && !au.is_key {
            self.stats.incr(Counter::DroppedUntilKey);
            return Offer::DroppedUntilKey;
        }
        match self.tx.try_send(Item { au, after_gap: gap }) {
            Ok(()) => {
                if gap {
                    self.skipping.store(false, Ordering::Relaxed);
                }
                Offer::Queued
            }
            Err(TrySendError::Full(_)) => {
                self.skipping.store(true, Ordering::Relaxed);
                self.stats.incr(Counter::DroppedFull);
                Offer::DroppedFull
            }
            Err(TrySendError::Disconnected(_)) => Offer::Closed,
        }
    }

    /// The stage's counters.
    pub fn stats(&self) -> &DecodeStats {
        &self.stats
    }
}

/// The running stage: its thread and counters.
#[derive(Debug)]
pub struct DecodeStage {
    camera: CameraId,
    stats: DecodeStats,
    thread: JoinHandle<()>,
}

impl DecodeStage {
    /// The stage's counters (a shared handle).
    pub fn stats(&self) -> DecodeStats {
        self.stats.clone()
    }

    /// Whether the thread has ended.
    pub fn is_finished(&self) -> bool {
        self.thread.is_finished()
    }

    /// Waits for the thread to end (drop the [`DecodeInput`] first, or this waits forever).
    pub fn join(self) -> Result<()> {
        self.thread.join().map_err(|_| {
            Error::new(
                ErrorKind::Internal,
                format!("decode thread of camera {} panicked", self.camera),
            )
        })
    }
}

/// Starts the decode stage of `camera`: a thread named `decode-<first 8 characters of the camera
/// id>` that decodes what the returned [`DecodeInput`] queues and hands selected frames to `sink`.
/// The codec is opened from the parameters of the first key frame, and reopened whenever they
/// change.
pub fn spawn_decode_stage<S: FrameSink>(
    camera: CameraId,
    cfg: &DecodeConfig,
    sink: S,
) -> Result<(DecodeInput, DecodeStage)> {
    cfg.validate()?;
    crate::init_ffmpeg()?;
    let (tx, rx) = sync_channel(cfg.queue_capacity);
    let stats = DecodeStats::new();
    let id = camera.to_string();
    let name = format!("decode-{}", id.get(..8).unwrap_or(&id));
    let thread = {
        let cfg = cfg.clone();
        let stats = stats.clone();
        std::thread::Builder::new()
            .name(name)
            .spawn(move || run(camera, cfg, rx, sink, stats))
            .map_err(|e| Error::with_source(ErrorKind::Internal, "spawning a decode thread", e))?
    };
    let input = DecodeInput {
        tx,
        skipping: AtomicBool::new(false),
        key_frames_only: cfg.rate == AnalysisRate::KeyFramesOnly,
        stats: stats.clone(),
    };
    Ok((
        input,
        DecodeStage {
            camera,
            stats,
            thread,
        },
    ))
}

/// Hands `frame` to the sink; `false` once the consumer is gone.
fn deliver<S: FrameSink>(sink: &mut S, stats: &DecodeStats, frame: DecodedFrame) -> bool {
    match sink.offer(frame) {
        SinkResult::Sent => true,
        SinkResult::Full => {
            stats.incr(Counter::DroppedOutput);
            true
        }
        SinkResult::Closed => false,
    }
}

/// The body of the stage thread.
fn run<S: FrameSink>(
    camera: CameraId,
    cfg: DecodeConfig,
    rx: Receiver<Item>,
    mut sink: S,
    stats: DecodeStats,
) {
    let _span = tracing::info_span!("decode", camera = %camera).entered();
    tracing::debug!("Decode stage started");
    let mut decoder: Option<Decoder> = None;
    'items: while let Ok(item) = rx.recv() {
        if decoder.is_none() {
            if !item.au.is_key {
                stats.incr(Counter::DroppedUntilKey);
                continue;
            }
            match Decoder::with_stats(&item.au.params, &cfg, stats.clone()) {
                Ok(d) => decoder = Some(d),
                Err(e) => {
                    stats.incr(Counter::Errors);
                    tracing::warn!(err = %e.chain(), "Cannot open the decoder; retrying at the next key frame");
                    continue;
                }
            }
        }
        let Some(d) = decoder.as_mut() else {
            continue;
        };
        // Work time on this thread, not a stage deadline: the injected clock has no part here.
        let started = Instant::now();
        let fed = d.feed(&item.au, item.after_gap);
        if fed.is_ok() {
            sink.decoded(started.elapsed());
        }
        match fed {
            Ok(Some(frame)) => {
                if !deliver(&mut sink, &stats, frame) {
                    break 'items;
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(pts = item.au.pts.0, err = %e.chain(),
                    "Decode error; skipping to the next key frame");
            }
        }
        while let Some(frame) = d.pop_ready() {
            if !deliver(&mut sink, &stats, frame) {
                break 'items;
            }
        }
    }
    if let Some(d) = decoder.as_mut() {
        match d.finish() {
            Ok(frames) => {
                for frame in frames {
                    if !deliver(&mut sink, &stats, frame) {
                        break;
                    }
                }
            }
            Err(e) => tracing::warn!(err = %e.chain(), "Draining the decoder failed"),
        }
    }
    tracing::debug!("Decode stage ended");
}
