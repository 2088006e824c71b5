//! Tracking and rules of roeh: pure, clock-injected logic between detections and incidents.
//!
//! Nothing here reads a clock, does I/O or runs async: every time comes in as a [`WallTime`]
//! argument, so tests drive the whole crate with a simulated clock.
//!
//! - [`geometry`]: points, validated zone polygons and trip lines in normalised image coordinates;
//! - [`schedule`]: when a hotspot is armed (weekly windows, date ranges, exceptions, time zone);
//! - [`tracker`]: an IoU multi-object tracker giving stable track ids;
//! - [`hotspot`]: a hotspot (place, priority, cameras, zones, lines, schedule);
//! - [`rule`]: rules (intrusion, loitering, crowding, line crossing, camera tamper);
//! - [`frame_stats`]: mean luma and a picture digest for camera tamper checks;
//! - [`engine`]: the rule engine turning frames and detections into incident events;
//! - `schema` (feature `schema`): JSON Schemas of the hotspot and rule documents, for the HTTP
//!   API's OpenAPI document.

pub mod engine;
pub mod frame_stats;
pub mod geometry;
pub mod hotspot;
pub mod rule;
pub mod schedule;
#[cfg(feature = "schema")]
pub mod schema;
pub mod tracker;

pub use engine::{EngineConfig, IncidentKey, RuleEngine, RuleEvent};
pub use frame_stats::FrameStats;
pub use geometry::{Crossing, Direction, Line, Point, Polygon};
pub use hotspot::{Hotspot, HotspotId, TripLine, Zone};
pub use rule::{Rule, RuleId, RuleKind, Severity};
pub use schedule::{DateRange, Schedule, Weekdays, WeeklyWindow, local_day_start};
pub use tracker::{Detected, Track, Tracker, TrackerConfig};

#[doc(no_inline)]
pub use roeh_domain::WallTime;

roeh_domain::define_error!();
