//! The analytics tap: a side exit for access units that reached the recorder.
//!
//! Invariants:
//! - the camera task calls [`FrameTap::offer`] only after the access unit was accepted by the
//!   recorder's queue, so the tap sees a subset of what is recorded, in order, and never delays
//!   or changes the recording path;
//! - implementations must return at once: no blocking, no waiting for room. A tap that cannot
//!   keep up drops (and counts) on its own side.

use roeh_domain::AccessUnit;

/// Receives a copy of every access unit handed to the recorder. Cloning an [`AccessUnit`] is
/// cheap (reference-counted payload and parameters).
pub trait FrameTap: Send + Sync + std::fmt::Debug {
    /// Takes a look at `au` without blocking.
    fn offer(&self, au: &AccessUnit);
}
