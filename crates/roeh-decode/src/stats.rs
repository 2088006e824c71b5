//! Counters of one camera's decode path, shared between the ingest side, the decoder thread and
//! whoever reports them.
//!
//! Invariants: counters only grow (relaxed atomics: each is exact, but a snapshot taken while the
//! stage runs is not one consistent instant); cloning a [`DecodeStats`] shares the counters.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

#[derive(Debug, Default)]
struct Counters {
    received: AtomicU64,
    skipped_non_key: AtomicU64,
    decoded: AtomicU64,
    analysed: AtomicU64,
    dropped_full: AtomicU64,
    dropped_until_key: AtomicU64,
    dropped_output: AtomicU64,
    errors: AtomicU64,
    reopened: AtomicU64,
    hw_fallback: AtomicBool,
}

/// A cloneable handle on the counters of one camera's decode path.
#[derive(Clone, Debug, Default)]
pub struct DecodeStats(Arc<Counters>);

/// The counters at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecodeStatsSnapshot {
    /// Access units handed in (offered to the stage, or passed to [`crate::Decoder::decode`]).
    pub received: u64,
    /// Non-key access units not decoded because the rate is key frames only.
    pub skipped_non_key: u64,
    /// Pictures the decoder produced.
    pub decoded: u64,
    /// Pictures selected by the analysis rate and converted.
    pub analysed: u64,
    /// Access units dropped because the stage's input queue was full.
    pub dropped_full: u64,
    /// Access units dropped while waiting for a key frame (after a full queue, a decode error, a
    /// parameter change or a start on a non-key frame).
    pub dropped_until_key: u64,
    /// Converted frames dropped because the consumer's channel was full.
    pub dropped_output: u64,
    /// Decode errors (malformed access units, decoder failures, corrupt pictures).
    pub errors: u64,
    /// Times the decoder was (re)created for new codec parameters, the first one included.
    pub reopened: u64,
    /// Hardware decoding was asked for but software decoding is in use.
    pub hw_fallback: bool,
}

/// The counters, by name, for [`DecodeStats::add`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Counter {
    Received,
    SkippedNonKey,
    Decoded,
    Analysed,
    DroppedFull,
    DroppedUntilKey,
    DroppedOutput,
    Errors,
    Reopened,
}

impl DecodeStats {
    /// Fresh counters, all zero.
    pub fn new() -> DecodeStats {
        DecodeStats::default()
    }

    /// The current values.
    pub fn snapshot(&self) -> DecodeStatsSnapshot {
        let c = &self.0;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        DecodeStatsSnapshot {
            received: get(&c.received),
            skipped_non_key: get(&c.skipped_non_key),
            decoded: get(&c.decoded),
            analysed: get(&c.analysed),
            dropped_full: get(&c.dropped_full),
            dropped_until_key: get(&c.dropped_until_key),
            dropped_output: get(&c.dropped_output),
            errors: get(&c.errors),
            reopened: get(&c.reopened),
            hw_fallback: c.hw_fallback.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn add(&self, counter: Counter, n: u64) {
        let c = &self.0;
        let a = match counter {
            Counter::Received => &c.received,
            Counter::SkippedNonKey => &c.skipped_non_key,
            Counter::Decoded => &c.decoded,
            Counter::Analysed => &c.analysed,
            Counter::DroppedFull => &c.dropped_full,
            Counter::DroppedUntilKey => &c.dropped_until_key,
            Counter::DroppedOutput => &c.dropped_output,
            Counter::Errors => &c.errors,
            Counter::Reopened => &c.reopened,
        };
        a.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn incr(&self, counter: Counter) {
        self.add(counter, 1);
    }

    pub(crate) fn set_hw_fallback(&self, on: bool) {
        self.0.hw_fallback.store(on, Ordering::Relaxed);
    }
}
