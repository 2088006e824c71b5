//! Alerts of roeh, as pure functions: the alert lifecycle, merging incidents into alerts,
//! escalation deadlines, patrol units and the nearest of them, unit receipts, response times,
//! shifts and their statistics, and rule precision. With the feature `service`, [`service`]
//! runs them over the store: the alert service and the push fan-out.
//!
//! Invariants:
//! - outside [`service`], no I/O and no clock reads: every time is an argument, so callers decide (and tests use a
//!   simulated clock);
//! - [`transition`] is the only way an alert changes state; an illegal move, a move by a role
//!   that may not make it, or a move on an alert claimed by someone else is a typed
//!   [`TransitionError`], never a silent no-op;
//! - `resolved` and `false_alarm` are terminal: nothing leaves them;
//! - an alert escalates by its deadline at most once ([`escalation_due`] is false once
//!   escalated);
//! - a receipt is applied at most once per kind and dispatch; a replayed receipt (same id, same
//!   content) changes nothing, and the same id with other content is refused ([`replay`]);
//! - every pushed message is signed and carries an expiry; [`push::PushVerifier`] is what a
//!   receiving client runs to refuse forged, stale or replayed ones.

mod lifecycle;
pub mod push;
#[cfg(feature = "service")]
pub mod service;
pub mod shifts;
mod units;

pub use lifecycle::{
    Action, Actor, ActorRole, AlertState, AlertsConfig, EscalationLimits, MergeCandidate, Severity,
    Transition, TransitionError, escalation_deadline, escalation_due, joins, transition,
};
pub use shifts::{DurationStats, Shift, Shifts, nearest_rank};
pub use units::{
    DispatchTimes, LatLon, ReceiptKind, ReceiptOutcome, Replay, ResponseTimes, Suggestion,
    UnitCandidate, UnitStatus, apply_receipt, haversine_m, nearest_available, precision, replay,
};

roeh_domain::define_error!();

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
