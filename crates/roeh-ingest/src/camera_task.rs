//! The camera task: one per camera, for the camera's whole life.
//!
//! ```text
//! loop { open (bounded) → wait for a key frame → Connected → Frame… → (error | EOF | stall |
//!        bad data | full queue) → Disconnected → back off → reopen }
//! ```
//!
//! Invariants:
//! - `Connected` is sent just before the first key frame of a connection; frames before it are
//!   dropped (they cannot be decoded). The `Frame`s that follow pass [`FrameCheck`].
//! - `Disconnected` is sent once per outage: after a run (a `Connected`) ends, and for the first
//!   failure before any run so that the recorder knows footage is missing from the start. Repeated
//!   failed attempts during one outage send nothing more.
//! - Every wait is bounded: opening by `connect_timeout`, the first key frame by
//!   [`IngestOptions::key_frame_wait`], the gap between frames by `stall_timeout`, a frame's wait
//!   for room in the recorder's queue by `backpressure_timeout` ([`WhenFull::Block`]).
//! - Every `select!` polls cancellation first. On cancellation an open run is closed with
//!   `Disconnected { reason: Shutdown }` (itself bounded by `backpressure_timeout`), health turns
//!   `Stopped`, and the task returns. If the recorder's receiver is gone, the task returns too.
//! - Detail text in events, health and logs is passed through [`redact`] first.
//! - The optional [`crate::FrameTap`] sees a frame only after the recorder's queue accepted it;
//!   the tap never blocks, so the recording path behaves the same with or without it.

use crate::health::HealthHandle;
use crate::options::{IngestOptions, WhenFull};
use crate::redact::redact;
use crate::source::{MediaStream, Opener};
use crate::validate::FrameCheck;
use roeh_domain::{
    AccessUnit, Camera, Clock, ErrorKind, GapReason, IngestEvent, StreamState, WallTime,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::Sender;
use tokio::sync::mpsc::error::SendTimeoutError;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info, warn};

/// Capped exponential backoff: `initial`, doubling after each failure, never above `max`.
#[derive(Clone, Debug)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// A backoff starting at `initial` (at most `max`).
    pub fn new(initial: Duration, max: Duration) -> Self {
        let initial = initial.min(max);
        Backoff {
            initial,
            max,
            next: initial,
        }
    }

    /// The delay before the next attempt; advances the sequence.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = self.next.saturating_mul(2).min(self.max);
        d
    }

    /// Starts the sequence over (after a connection that streamed long enough).
    pub fn reset(&mut self) {
        self.next = self.initial;
    }
}

/// How one connection ended.
enum End {
    /// Cancelled; `run_open` says whether a `Connected` is outstanding.
    Cancelled { run_open: bool },
    /// The recorder's receiver is gone; nothing more can be delivered.
    OutputClosed,
    /// The connection failed or was torn down.
    Failed {
        reason: GapReason,
        detail: String,
        run_open: bool,
        /// Wall time of the last frame delivered in this connection.
        last_frame_at: Option<WallTime>,
        /// How long the run streamed (zero if it never started).
        streamed_for: Duration,
    },
}

/// Drives one camera until `cancel` fires or `out` closes. See the module docs for the event
/// protocol. `health` is updated throughout; `clock` stamps every event.
pub async fn run_camera(
    camera: Camera,
    opener: Arc<dyn Opener>,
    clock: Arc<dyn Clock>,
    out: Sender<IngestEvent>,
    health: HealthHandle,
    cancel: CancellationToken,
    opts: IngestOptions,
) {
    let span = tracing::info_span!("camera", id = %camera.id, name = %camera.name);
    camera_loop(camera, opener, clock, out, health, cancel, opts)
        .instrument(span)
        .await
}

async fn camera_loop(
    camera: Camera,
    opener: Arc<dyn Opener>,
    clock: Arc<dyn Clock>,
    out: Sender<IngestEvent>,
    health: HealthHandle,
    cancel: CancellationToken,
    opts: IngestOptions,
) {
    let mut backoff = Backoff::new(opts.backoff_initial, opts.backoff_max);
    // Whether the recorder has been told about an outage since the last run. A failed run always
    // reports; this only stops repeated failed attempts from reporting the same outage again.
    let mut outage_reported = false;
    let mut first_attempt = true;
    loop {
        if !first_attempt {
            health.count_reconnect();
        }
        first_attempt = false;
        health.set_state(StreamState::Connecting);
        let end = connection(&camera, &*opener, &clock, &out, &health, &cancel, &opts).await;
        match end {
            End::Cancelled { run_open } => {
                if run_open {
                    let ev = IngestEvent::Disconnected {
                        camera: camera.id,
                        at: clock.wall(),
                        reason: GapReason::Shutdown,
                        detail: "ingest stopped".into(),
                    };
                    if out
                        .send_timeout(ev, opts.backpressure_timeout)
                        .await
                        .is_err()
                    {
                        warn!("Could not deliver the shutdown event to the recorder.");
                    }
                }
                health.set_state(StreamState::Stopped);
                info!("Camera ingest stopped.");
                return;
            }
            End::OutputClosed => {
                health.set_state(StreamState::Stopped);
                info!("Recorder queue closed; camera ingest stopped.");
                return;
            }
            End::Failed {
                reason,
                detail,
                run_open,
                last_frame_at,
                streamed_for,
            } => {
                let detail = redact(&detail, camera.credentials.as_ref());
                health.set_error(detail.clone());
                if streamed_for >= opts.backoff_reset_after {
                    backoff.reset();
                }
                let delay = backoff.next_delay();
                warn!(
                    reason = reason.as_str(),
                    detail = %detail,
                    retry_in_ms = delay.as_millis() as u64,
                    "Camera stream ended."
                );
                if run_open || !outage_reported {
                    outage_reported = true;
                    let ev = IngestEvent::Disconnected {
                        camera: camera.id,
                        at: last_frame_at.unwrap_or_else(|| clock.wall()),
                        reason,
                        detail,
                    };
                    match send_control(&out, ev, &cancel, opts.backpressure_timeout).await {
                        Sent::Delivered => {}
                        Sent::Closed => {
                            health.set_state(StreamState::Stopped);
                            return;
                        }
                        Sent::Cancelled => {
                            health.set_state(StreamState::Stopped);
                            info!("Camera ingest stopped.");
                            return;
                        }
                    }
                }
                health.set_state(StreamState::Backoff);
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => {
                        health.set_state(StreamState::Stopped);
                        info!("Camera ingest stopped.");
                        return;
                    }
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
}

enum Sent {
    Delivered,
    Closed,
    Cancelled,
}

/// Sends a control event, waiting as long as needed for room, unless cancelled; on cancellation
/// the event is still offered for up to `grace`, so the recorder learns of the boundary.
async fn send_control(
    out: &Sender<IngestEvent>,
    ev: IngestEvent,
    cancel: &CancellationToken,
    grace: Duration,
) -> Sent {
    let permit = tokio::select! {
        biased;
        _ = cancel.cancelled() => None,
        p = out.reserve() => Some(p),
    };
    match permit {
        Some(Ok(p)) => {
            p.send(ev);
            Sent::Delivered
        }
        Some(Err(_)) => Sent::Closed,
        None => {
            let _ = out.send_timeout(ev, grace).await;
            Sent::Cancelled
        }
    }
}

/// `now + d`, saturating far in the future instead of overflowing.
fn after(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 86_400))
}

/// Why an error from opening or reading a source ends the run.
fn reason_for(kind: ErrorKind) -> GapReason {
    match kind {
        ErrorKind::InvalidArgument
        | ErrorKind::DataLoss
        | ErrorKind::FailedPrecondition
        | ErrorKind::ResourceExhausted => GapReason::BadStream,
        _ => GapReason::CameraOffline,
    }
}

/// One connection: open, stream until something ends it.
async fn connection(
    camera: &Camera,
    opener: &dyn Opener,
    clock: &Arc<dyn Clock>,
    out: &Sender<IngestEvent>,
    health: &HealthHandle,
    cancel: &CancellationToken,
    opts: &IngestOptions,
) -> End {
    let fail = |reason: GapReason, detail: String| End::Failed {
        reason,
        detail,
        run_open: false,
        last_frame_at: None,
        streamed_for: Duration::ZERO,
    };
    debug!(url = %camera.url, "Opening camera stream.");
    let opened = tokio::select! {
        biased;
        _ = cancel.cancelled() => return End::Cancelled { run_open: false },
        r = tokio::time::timeout(opts.connect_timeout, opener.open(camera, clock.clone())) => r,
    };
    let mut stream: Box<dyn MediaStream> = match opened {
        Err(_) => {
            return fail(
                GapReason::CameraOffline,
                format!(
                    "connecting timed out after {:.1} s",
                    opts.connect_timeout.as_secs_f64()
                ),
            );
        }
        Ok(Err(e)) => return fail(reason_for(e.kind()), e.chain()),
        Ok(Ok(s)) => s,
    };
    debug!("Camera stream opened; waiting for a key frame.");

    let key_deadline = after(opts.key_frame_wait());
    let mut check = FrameCheck::new(opts.max_pts_jump);
    let mut run_started: Option<Instant> = None;
    let mut last_frame_at: Option<WallTime> = None;
    let mut frames_seen = 0u64;
    loop {
        let wait_started = Instant::now();
        let mut deadline = after(opts.stall_timeout);
        if run_started.is_none() {
            deadline = deadline.min(key_deadline);
        }
        let next = tokio::select! {
            biased;
            _ = cancel.cancelled() => return End::Cancelled { run_open: run_started.is_some() },
            r = tokio::time::timeout_at(deadline, stream.next()) => r,
        };
        let streamed_for = run_started.map(|s| s.elapsed()).unwrap_or_default();
        let failed = |reason: GapReason, detail: String| End::Failed {
            reason,
            detail,
            run_open: run_started.is_some(),
            last_frame_at,
            streamed_for,
        };
        let mut au: AccessUnit = match next {
            Err(_) if run_started.is_none() && frames_seen > 0 => {
                return failed(
                    GapReason::BadStream,
                    format!(
                        "no key frame within {:.1} s of connecting ({frames_seen} frames dropped)",
                        opts.key_frame_wait().as_secs_f64()
                    ),
                );
            }
            Err(_) => {
                return failed(
                    GapReason::Stall,
                    format!("no frame for {:.1} s", wait_started.elapsed().as_secs_f64()),
                );
            }
            Ok(Err(e)) => return failed(reason_for(e.kind()), e.chain()),
            Ok(Ok(None)) => {
                return failed(GapReason::CameraOffline, "the stream ended".into());
            }
            Ok(Ok(Some(au))) => au,
        };
        frames_seen += 1;
        au.camera = camera.id;
        if run_started.is_none() && !au.is_key {
            continue;
        }
        if let Err(why) = check.check(&au) {
            return failed(GapReason::BadStream, why);
        }
        if run_started.is_none() {
            let ev = IngestEvent::Connected {
                camera: camera.id,
                at: au.received_at,
            };
            match send_control(out, ev, cancel, opts.backpressure_timeout).await {
                Sent::Delivered => {}
                Sent::Closed => return End::OutputClosed,
                Sent::Cancelled => return End::Cancelled { run_open: true },
            }
            info!(
                codec = au.params.codec.as_str(),
                rfc6381 = %au.params.rfc6381,
                width = au.params.width,
                height = au.params.height,
                "Camera stream connected."
            );
            run_started = Some(Instant::now());
            health.set_state(StreamState::Streaming);
        }
        let received_at = au.received_at;
        health.frame(&au, clock.monotonic());
        // A copy for the analytics tap, handed over only once the recorder took the original.
        let tapped = opts.tap.as_ref().map(|_| au.clone());
        let sent = match opts.when_full {
            WhenFull::Block => tokio::select! {
                biased;
                _ = cancel.cancelled() => return End::Cancelled { run_open: true },
                r = out.send_timeout(IngestEvent::Frame(au), opts.backpressure_timeout) => r,
            },
        };
        match sent {
            Ok(()) => {
                last_frame_at = Some(received_at);
                if let (Some(tap), Some(au)) = (&opts.tap, &tapped) {
                    tap.offer(au);
                }
            }
            Err(SendTimeoutError::Timeout(_)) => {
                return End::Failed {
                    reason: GapReason::Backpressure,
                    detail: format!(
                        "recorder queue stayed full for {:.1} s; a frame was lost",
                        opts.backpressure_timeout.as_secs_f64()
                    ),
                    run_open: true,
                    last_frame_at,
                    streamed_for: run_started.map(|s| s.elapsed()).unwrap_or_default(),
                };
            }
            Err(SendTimeoutError::Closed(_)) => return End::OutputClosed,
        }
    }
}
