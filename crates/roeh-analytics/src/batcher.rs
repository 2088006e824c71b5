//! The detection batcher: frames of every camera from the shared frame queue, in batches of up
//! to `max_batch` frames gathered for at most `max_wait`, through the detector on a blocking
//! thread, and on to the rule engine.
//!
//! Invariants:
//! - one batch runs at a time; frames of one camera stay in queue order, so the rule engine sees
//!   each camera's frames in time order;
//! - a frame older than `max_frame_age` (against the injected clock) when its batch forms is
//!   skipped and counted as stale, so a backlog never turns into late incidents;
//! - the hand-over to the rule engine waits for room (policy `Block`): results are few and must
//!   not be lost. While it waits, the frame queue fills and the decoders drop (counted);
//! - every loop selects on cancellation first;
//! - frame ages are judged by the injected clock (wall time); the duration of a detector call is
//!   measured with Tokio's clock, like every other elapsed-time bound in roeh, because a
//!   simulated wall clock does not move while the detector works. That duration also goes to
//!   `roeh_inference_seconds`; the frame queue's depth is set each time a frame is taken.

use std::sync::Arc;
use std::time::Duration;

use roeh_decode::DecodedFrame;
use roeh_detect::{Detections, Detector, RgbFrame};
use roeh_domain::Clock;
use roeh_metrics::{Metrics, Queue};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::stats::Counters;

/// One analysed frame and what the detector found in it.
#[derive(Clone, Debug)]
pub(crate) struct Analysed {
    pub frame: DecodedFrame,
    pub detections: Detections,
}

/// Batching settings, and where the batcher's measurements go.
#[derive(Clone, Debug)]
pub(crate) struct BatchSettings {
    pub max_batch: usize,
    pub max_wait: Duration,
    pub max_frame_age: Duration,
    pub metrics: Arc<Metrics>,
}

/// Runs until cancelled or until the frame queue closes.
pub(crate) async fn run(
    mut frames: mpsc::Receiver<DecodedFrame>,
    out: mpsc::Sender<Analysed>,
    detector: Arc<dyn Detector>,
    clock: Arc<dyn Clock>,
    settings: BatchSettings,
    counters: Arc<Counters>,
    cancel: CancellationToken,
) {
    let metrics = settings.metrics.clone();
    let mut depth = metrics.queue(Queue::AnalyticsFrames);
    loop {
        let first = tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            f = frames.recv() => match f {
                Some(f) => f,
                None => break,
            },
        };
        depth.set(frames.len());
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + settings.max_wait;
        while batch.len() < settings.max_batch {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return,
                f = frames.recv() => match f {
                    Some(f) => {
                        depth.set(frames.len());
                        batch.push(f);
                    }
                    None => break,
                },
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        let now = clock.wall();
        let before = batch.len();
        batch.retain(|f| now.duration_since(f.received_at) <= settings.max_frame_age);
        Counters::add(
            &counters.frames_dropped_stale,
            (before - batch.len()) as u64,
        );
        if batch.is_empty() {
            continue;
        }
        let Some(results) = detect(&detector, &batch, &counters, &metrics).await else {
            continue;
        };
        for (frame, detections) in batch.into_iter().zip(results) {
            let sent = tokio::select! {
                biased;
                _ = cancel.cancelled() => return,
                r = out.send(Analysed { frame, detections }) => r,
            };
            if sent.is_err() {
                return;
            }
        }
    }
    tracing::debug!("Detection batcher stopped.");
}

/// Runs the detector on `batch` on a blocking thread; `None` (counted, logged) on failure.
async fn detect(
    detector: &Arc<dyn Detector>,
    batch: &[DecodedFrame],
    counters: &Counters,
    metrics: &Metrics,
) -> Option<Vec<Detections>> {
    let mut rgb = Vec::with_capacity(batch.len());
    for f in batch {
        match RgbFrame::new(f.camera, f.pts, f.width, f.height, f.data.clone()) {
            Ok(r) => rgb.push(r),
            Err(e) => {
                // Decoded frames always have the right size; this is a bug, not input.
                tracing::error!(err = %e.chain(), "Frame refused by the detector.");
                Counters::add(&counters.detect_errors, batch.len() as u64);
                return None;
            }
        }
    }
    let n = rgb.len();
    let d = detector.clone();
    let started = tokio::time::Instant::now();
    let result = tokio::task::spawn_blocking(move || d.detect_batch(&rgb)).await;
    let took = started.elapsed();
    match result {
        Ok(Ok(dets)) if dets.len() == n => {
            counters.batch(n, took);
            metrics.observe_inference(took);
            Counters::add(&counters.frames_analysed, n as u64);
            Some(dets)
        }
        Ok(Ok(dets)) => {
            tracing::error!(
                frames = n,
                results = dets.len(),
                "The detector returned the wrong number of results."
            );
            Counters::add(&counters.detect_errors, n as u64);
            None
        }
        Ok(Err(e)) => {
            tracing::warn!(frames = n, err = %e.chain(), "Detection failed.");
            Counters::add(&counters.detect_errors, n as u64);
            None
        }
        Err(e) => {
            tracing::error!(frames = n, err = %e, "The detection thread failed.");
            Counters::add(&counters.detect_errors, n as u64);
            None
        }
    }
}
