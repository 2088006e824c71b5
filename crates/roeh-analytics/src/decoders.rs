//! The tap side: one decode stage per camera that is to be analysed, started lazily at the
//! camera's next key frame and stopped when the camera is no longer wanted.
//!
//! Invariants:
//! - [`Decoders::offer`] never blocks: it takes two short locks, and hands the access unit to the
//!   camera's decode stage with a `try_send` (the stage drops to the next key frame when full);
//! - a camera is decoded only while it is in the wanted set (analysis on, an enabled rule armed
//!   on it), at the wanted rate; a change of rate restarts its stage;
//! - every decode stage delivers into the one shared frame queue, whose full-policy is
//!   [`crate::FrameQueueFull::DropNewest`]; drops are counted;
//! - a camera's decode counters survive its stages: a stopped stage's counters are added to the
//!   camera's totals;
//! - after [`Decoders::close`] no stage starts again.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use roeh_decode::{
    AnalysisRate, DecodeConfig, DecodeInput, DecodeStage, DecodeStatsSnapshot, DecodedFrame,
    FrameSink, Offer, SinkResult, spawn_decode_stage,
};
use roeh_domain::{AccessUnit, CameraId};
use roeh_metrics::Metrics;
use tokio::sync::mpsc;

use crate::stats::{CameraStats, Counters, add_decode};

/// The decoders' side of the shared frame queue: drops the new frame when full.
struct QueueSink {
    tx: mpsc::Sender<DecodedFrame>,
    counters: Arc<Counters>,
    metrics: Arc<Metrics>,
}

impl FrameSink for QueueSink {
    fn offer(&mut self, frame: DecodedFrame) -> SinkResult {
        match self.tx.try_send(frame) {
            Ok(()) => SinkResult::Sent,
            Err(mpsc::error::TrySendError::Full(_)) => {
                Counters::add(&self.counters.frames_dropped_queue, 1);
                SinkResult::Full
            }
            Err(mpsc::error::TrySendError::Closed(_)) => SinkResult::Closed,
        }
    }

    fn decoded(&mut self, took: Duration) {
        self.metrics.observe_decode(took);
    }
}

struct Running {
    input: DecodeInput,
    stage: DecodeStage,
    fps: f64,
}

#[derive(Default)]
struct Slot {
    running: Option<Running>,
    /// Counters of the camera's stopped stages.
    totals: DecodeStatsSnapshot,
    /// (monotonic time, frames analysed in total), a few seconds' worth.
    samples: VecDeque<(Duration, u64)>,
    /// A start failed; not retried until the wanted set changes.
    failed: bool,
}

impl Slot {
    fn current(&self) -> DecodeStatsSnapshot {
        self.running
            .as_ref()
            .map(|r| r.stage.stats().snapshot())
            .unwrap_or_default()
    }

    fn analysed_total(&self) -> u64 {
        self.totals.analysed + self.current().analysed
    }

    fn total(&self) -> DecodeStatsSnapshot {
        add_decode(&self.totals, &self.current())
    }

    /// Stops the stage (its thread drains and ends on its own) and keeps its counters.
    fn retire(&mut self) {
        if let Some(r) = self.running.take() {
            self.totals = add_decode(&self.totals, &r.stage.stats().snapshot());
            drop(r.input);
            tracing::debug!("Stopped a decode stage.");
        }
        self.samples.clear();
    }
}

/// The per-camera decode stages.
pub(crate) struct Decoders {
    frames: mpsc::Sender<DecodedFrame>,
    decode: DecodeConfig,
    counters: Arc<Counters>,
    metrics: Arc<Metrics>,
    wanted: RwLock<HashMap<CameraId, f64>>,
    slots: Mutex<HashMap<CameraId, Slot>>,
    closed: AtomicBool,
}

impl std::fmt::Debug for Decoders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoders")
            .field("decode", &self.decode)
            .finish_non_exhaustive()
    }
}

/// Seconds of decode-rate samples kept.
const RATE_WINDOW: usize = 5;

impl Decoders {
    pub fn new(
        frames: mpsc::Sender<DecodedFrame>,
        decode: DecodeConfig,
        counters: Arc<Counters>,
        metrics: Arc<Metrics>,
    ) -> Decoders {
        Decoders {
            frames,
            decode,
            counters,
            metrics,
            wanted: RwLock::new(HashMap::new()),
            slots: Mutex::new(HashMap::new()),
            closed: AtomicBool::new(false),
        }
    }

    fn slots(&self) -> MutexGuard<'_, HashMap<CameraId, Slot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces the wanted set (camera → analysis rate); stops stages no longer wanted at their
    /// rate.
    pub fn set_wanted(&self, wanted: HashMap<CameraId, f64>) {
        let mut slots = self.slots();
        let mut current = self.wanted.write().unwrap_or_else(|p| p.into_inner());
        for (cam, slot) in slots.iter_mut() {
            let want = wanted.get(cam).copied();
            if let Some(r) = &slot.running
                && Some(r.fps) != want
            {
                tracing::info!(camera = %cam, fps = ?want, "Analysis of the camera changes; stopping its decoder.");
                slot.retire();
            }
            if current.get(cam).copied() != want {
                slot.failed = false;
            }
        }
        *current = wanted;
    }

    /// The cameras wanted now.
    pub fn wanted(&self) -> HashMap<CameraId, f64> {
        self.wanted
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether any camera is wanted now (without copying them).
    pub fn any_wanted(&self) -> bool {
        !self
            .wanted
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    }

    /// Hands `au` to its camera's decoder if the camera is wanted (see the module docs).
    pub fn offer(&self, au: &AccessUnit) {
        let want = self
            .wanted
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&au.camera)
            .copied();
        let mut slots = self.slots();
        if want.is_none() && slots.get(&au.camera).is_none_or(|s| s.running.is_none()) {
            return;
        }
        let slot = slots.entry(au.camera).or_default();
        if let Some(r) = &slot.running
            && Some(r.fps) != want
        {
            slot.retire();
        }
        let Some(fps) = want else {
            return;
        };
        if slot.running.is_none() {
            if !au.is_key || slot.failed || self.closed.load(Ordering::Relaxed) {
                return;
            }
            let cfg = DecodeConfig {
                rate: AnalysisRate::Fps(fps as f32),
                ..self.decode.clone()
            };
            let sink = QueueSink {
                tx: self.frames.clone(),
                counters: self.counters.clone(),
                metrics: self.metrics.clone(),
            };
            match spawn_decode_stage(au.camera, &cfg, sink) {
                Ok((input, stage)) => {
                    tracing::info!(camera = %au.camera, fps, "Started decoding the camera for analysis.");
                    slot.running = Some(Running { input, stage, fps });
                }
                Err(e) => {
                    slot.failed = true;
                    tracing::warn!(camera = %au.camera, err = %e.chain(), "Cannot start decoding the camera for analysis.");
                    return;
                }
            }
        }
        if let Some(r) = &slot.running
            && r.input.offer(au.clone()) == Offer::Closed
        {
            slot.retire();
        }
    }

    /// Records a decode-rate sample of every running camera at monotonic time `now`.
    pub fn sample(&self, now: Duration) {
        let mut slots = self.slots();
        for slot in slots.values_mut() {
            if slot.running.is_none() {
                continue;
            }
            let n = slot.analysed_total();
            slot.samples.push_back((now, n));
            while slot.samples.len() > RATE_WINDOW + 1 {
                slot.samples.pop_front();
            }
        }
    }

    /// Figures of every camera decoded since start, by camera id.
    pub fn stats(&self) -> Vec<CameraStats> {
        let slots = self.slots();
        let mut out: Vec<CameraStats> = slots
            .iter()
            .map(|(cam, slot)| {
                let mut s = CameraStats::from_decode(*cam, &slot.total());
                s.decoding = slot.running.is_some();
                s.fps_target = slot.running.as_ref().map_or(0.0, |r| r.fps);
                s.decode_fps = match (slot.samples.front(), slot.samples.back()) {
                    (Some(a), Some(b)) if b.0 > a.0 => {
                        (b.1.saturating_sub(a.1)) as f64 / (b.0 - a.0).as_secs_f64()
                    }
                    _ => 0.0,
                };
                s
            })
            .collect();
        out.sort_by_key(|s| s.camera);
        out
    }

    /// Cameras with a running stage.
    pub fn running(&self) -> usize {
        self.slots()
            .values()
            .filter(|s| s.running.is_some())
            .count()
    }

    /// Stops every stage and refuses new ones.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        for slot in self.slots().values_mut() {
            slot.retire();
        }
    }
}
