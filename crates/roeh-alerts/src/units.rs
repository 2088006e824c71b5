//! Patrol units: status, distance to a hotspot, receipts and response times; and the precision
//! of rules from false-alarm marks.
//!
//! Invariants:
//! - only available units with a known position are suggested, nearest first (ties by id);
//! - a receipt kind is recorded once per dispatch: a second one of the same kind changes nothing;
//! - a receipt id seen before with the same content is a replay (no change), with other content
//!   a conflict.

use crate::{Error, Result};
use roeh_domain::{ErrorKind, WallTime};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use uuid::Uuid;

/// What a unit reports it is doing.
#[cfg_attr(feature = "service", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitStatus {
    /// Free to take a dispatch.
    Available,
    /// On a task.
    Busy,
    /// Not working.
    OffDuty,
}

impl UnitStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            UnitStatus::Available => "available",
            UnitStatus::Busy => "busy",
            UnitStatus::OffDuty => "off_duty",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Result<UnitStatus> {
        Ok(match s {
            "available" => UnitStatus::Available,
            "busy" => UnitStatus::Busy,
            "off_duty" => UnitStatus::OffDuty,
            _ => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("unknown unit status {s:?}"),
                ));
            }
        })
    }
}

/// A point on the ground, degrees (WGS 84).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "service", derive(schemars::JsonSchema))]
pub struct LatLon {
    /// Latitude, −90 to 90.
    #[cfg_attr(feature = "service", schemars(range(min = -90.0, max = 90.0)))]
    pub lat: f64,
    /// Longitude, −180 to 180.
    #[cfg_attr(feature = "service", schemars(range(min = -180.0, max = 180.0)))]
    pub lon: f64,
}

impl LatLon {
    /// A checked point: finite and in range.
    pub fn new(lat: f64, lon: f64) -> Result<LatLon> {
        if !(lat.is_finite() && lon.is_finite() && lat.abs() <= 90.0 && lon.abs() <= 180.0) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "position out of range (lat −90..90, lon −180..180)",
            ));
        }
        Ok(LatLon { lat, lon })
    }
}

/// Mean Earth radius, metres.
const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Great-circle distance between two points, metres (haversine formula).
pub fn haversine_m(a: LatLon, b: LatLon) -> f64 {
    let (p1, p2) = (a.lat.to_radians(), b.lat.to_radians());
    let dp = p2 - p1;
    let dl = (b.lon - a.lon).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

/// A unit as the ranking sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UnitCandidate {
    /// The unit.
    pub id: Uuid,
    /// What it reported.
    pub status: UnitStatus,
    /// Where it last reported being.
    pub position: Option<LatLon>,
}

/// A suggested unit.
#[cfg_attr(feature = "service", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Suggestion {
    /// The unit.
    pub unit: Uuid,
    /// Distance to the target, metres.
    pub distance_m: f64,
}

/// The `limit` nearest available units with a known position, nearest first.
pub fn nearest_available(units: &[UnitCandidate], target: LatLon, limit: usize) -> Vec<Suggestion> {
    let mut v: Vec<Suggestion> = units
        .iter()
        .filter(|u| u.status == UnitStatus::Available)
        .filter_map(|u| {
            u.position.map(|p| Suggestion {
                unit: u.id,
                distance_m: haversine_m(p, target),
            })
        })
        .collect();
    v.sort_by(|a, b| {
        a.distance_m
            .total_cmp(&b.distance_m)
            .then_with(|| a.unit.cmp(&b.unit))
    });
    v.truncate(limit);
    v
}

/// A receipt from a unit's client.
#[cfg_attr(feature = "service", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptKind {
    /// The dispatch reached the client.
    Delivered,
    /// The crew took it.
    Accepted,
    /// The crew is on scene.
    Arrived,
    /// The crew finished.
    Closed,
}

impl ReceiptKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiptKind::Delivered => "delivered",
            ReceiptKind::Accepted => "accepted",
            ReceiptKind::Arrived => "arrived",
            ReceiptKind::Closed => "closed",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Result<ReceiptKind> {
        Ok(match s {
            "delivered" => ReceiptKind::Delivered,
            "accepted" => ReceiptKind::Accepted,
            "arrived" => ReceiptKind::Arrived,
            "closed" => ReceiptKind::Closed,
            _ => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("unknown receipt kind {s:?}"),
                ));
            }
        })
    }
}

/// The times of one dispatch (one alert to one unit).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispatchTimes {
    /// When the operator dispatched.
    pub dispatched_at: WallTime,
    /// `delivered` receipt.
    pub delivered_at: Option<WallTime>,
    /// `accepted` receipt.
    pub accepted_at: Option<WallTime>,
    /// `arrived` receipt.
    pub arrived_at: Option<WallTime>,
    /// `closed` receipt.
    pub closed_at: Option<WallTime>,
}

impl DispatchTimes {
    fn slot(&mut self, kind: ReceiptKind) -> &mut Option<WallTime> {
        match kind {
            ReceiptKind::Delivered => &mut self.delivered_at,
            ReceiptKind::Accepted => &mut self.accepted_at,
            ReceiptKind::Arrived => &mut self.arrived_at,
            ReceiptKind::Closed => &mut self.closed_at,
        }
    }
}

/// What a receipt did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReceiptOutcome {
    /// Recorded: the new times.
    Recorded(DispatchTimes),
    /// This kind was recorded before; nothing changes.
    AlreadyRecorded,
}

/// Applies a receipt of `kind` received `at` to a dispatch.
pub fn apply_receipt(times: &DispatchTimes, kind: ReceiptKind, at: WallTime) -> ReceiptOutcome {
    let mut t = *times;
    let slot = t.slot(kind);
    if slot.is_some() {
        return ReceiptOutcome::AlreadyRecorded;
    }
    *slot = Some(at);
    ReceiptOutcome::Recorded(t)
}

/// A receipt id met again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replay {
    /// Never seen: apply it.
    New,
    /// Seen with the same alert and kind: a replay, change nothing.
    Same,
    /// Seen with another alert or kind: refuse.
    Conflict,
}

/// Decides what to do with a receipt for (`alert`, `kind`) whose id was stored before as `seen`.
pub fn replay(seen: Option<(Uuid, ReceiptKind)>, alert: Uuid, kind: ReceiptKind) -> Replay {
    match seen {
        None => Replay::New,
        Some(s) if s == (alert, kind) => Replay::Same,
        Some(_) => Replay::Conflict,
    }
}

/// Response times of one dispatch, from the dispatch.
#[cfg_attr(feature = "service", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct ResponseTimes {
    /// Dispatch to delivered, seconds.
    pub delivered_s: Option<f64>,
    /// Dispatch to accepted, seconds.
    pub accepted_s: Option<f64>,
    /// Dispatch to arrived (the response time), seconds.
    pub arrived_s: Option<f64>,
    /// Arrived to closed (time on scene), seconds.
    pub on_scene_s: Option<f64>,
}

impl ResponseTimes {
    /// Computes them from a dispatch's times.
    pub fn of(t: &DispatchTimes) -> ResponseTimes {
        let since = |from: WallTime, to: Option<WallTime>| {
            to.map(|to| to.duration_since(from).as_secs_f64())
        };
        ResponseTimes {
            delivered_s: since(t.dispatched_at, t.delivered_at),
            accepted_s: since(t.dispatched_at, t.accepted_at),
            arrived_s: since(t.dispatched_at, t.arrived_at),
            on_scene_s: t.arrived_at.and_then(|a| since(a, t.closed_at)),
        }
    }

    /// Dispatch to arrival as a duration.
    pub fn arrival(t: &DispatchTimes) -> Option<Duration> {
        t.arrived_at.map(|a| a.duration_since(t.dispatched_at))
    }
}

/// Precision of a rule on a camera: 1 − false alarms / closed alerts; `None` before any alert
/// was closed.
pub fn precision(false_alarms: u64, closed: u64) -> Option<f64> {
    if closed == 0 {
        return None;
    }
    let fa = false_alarms.min(closed);
    Some(1.0 - fa as f64 / closed as f64)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use roeh_domain::{Clock, SimClock};

    #[test]
    fn haversine_matches_known_distances() {
        // One degree of latitude is about 111.2 km.
        let d = haversine_m(
            LatLon::new(59.0, 18.0).unwrap(),
            LatLon::new(60.0, 18.0).unwrap(),
        );
        assert!((d - 111_195.0).abs() < 50.0, "{d}");
        // Stockholm Central to Gothenburg Central, about 398 km.
        let d = haversine_m(
            LatLon::new(59.3300, 18.0580).unwrap(),
            LatLon::new(57.7089, 11.9733).unwrap(),
        );
        assert!((d - 398_000.0).abs() < 3_000.0, "{d}");
        assert_eq!(
            haversine_m(
                LatLon::new(1.0, 2.0).unwrap(),
                LatLon::new(1.0, 2.0).unwrap()
            ),
            0.0
        );
        assert!(LatLon::new(91.0, 0.0).is_err());
        assert!(LatLon::new(0.0, f64::NAN).is_err());
    }

    #[test]
    fn nearest_available_units_come_first() {
        let target = LatLon::new(59.33, 18.06).unwrap();
        let u = |n: u128, status, pos: Option<(f64, f64)>| UnitCandidate {
            id: Uuid::from_u128(n),
            status,
            position: pos.map(|(a, b)| LatLon::new(a, b).unwrap()),
        };
        let units = [
            u(1, UnitStatus::Available, Some((59.40, 18.06))),
            u(2, UnitStatus::Available, Some((59.331, 18.06))),
            u(3, UnitStatus::Busy, Some((59.33, 18.06))),
            u(4, UnitStatus::OffDuty, Some((59.33, 18.06))),
            u(5, UnitStatus::Available, None),
            u(6, UnitStatus::Available, Some((59.35, 18.06))),
        ];
        let s = nearest_available(&units, target, 10);
        let ids: Vec<u128> = s.iter().map(|s| s.unit.as_u128()).collect();
        assert_eq!(ids, vec![2, 6, 1]);
        assert!(s[0].distance_m < s[1].distance_m);
        assert_eq!(nearest_available(&units, target, 1).len(), 1);
    }

    #[test]
    fn receipts_apply_once_and_give_response_times() {
        let clock = SimClock::new(WallTime::from_secs(5_000));
        let mut t = DispatchTimes {
            dispatched_at: clock.wall(),
            ..Default::default()
        };
        for (kind, after) in [
            (ReceiptKind::Delivered, 2),
            (ReceiptKind::Accepted, 10),
            (ReceiptKind::Arrived, 240),
            (ReceiptKind::Closed, 600),
        ] {
            clock.advance(Duration::from_secs(after));
            match apply_receipt(&t, kind, clock.wall()) {
                ReceiptOutcome::Recorded(n) => t = n,
                ReceiptOutcome::AlreadyRecorded => panic!("{kind:?} first time"),
            }
            assert_eq!(
                apply_receipt(&t, kind, clock.wall()),
                ReceiptOutcome::AlreadyRecorded
            );
        }
        let r = ResponseTimes::of(&t);
        assert_eq!(r.delivered_s, Some(2.0));
        assert_eq!(r.accepted_s, Some(12.0));
        assert_eq!(r.arrived_s, Some(252.0));
        assert_eq!(r.on_scene_s, Some(600.0));
        assert_eq!(ResponseTimes::arrival(&t), Some(Duration::from_secs(252)));
    }

    #[test]
    fn replayed_receipt_ids_change_nothing_and_reused_ids_conflict() {
        let a = Uuid::from_u128(7);
        assert_eq!(replay(None, a, ReceiptKind::Accepted), Replay::New);
        assert_eq!(
            replay(Some((a, ReceiptKind::Accepted)), a, ReceiptKind::Accepted),
            Replay::Same
        );
        assert_eq!(
            replay(Some((a, ReceiptKind::Accepted)), a, ReceiptKind::Closed),
            Replay::Conflict
        );
        assert_eq!(
            replay(
                Some((a, ReceiptKind::Accepted)),
                Uuid::from_u128(8),
                ReceiptKind::Accepted
            ),
            Replay::Conflict
        );
        for k in ["delivered", "accepted", "arrived", "closed"] {
            assert_eq!(ReceiptKind::parse(k).unwrap().as_str(), k);
        }
        for k in ["available", "busy", "off_duty"] {
            assert_eq!(UnitStatus::parse(k).unwrap().as_str(), k);
        }
        assert!(UnitStatus::parse("asleep").is_err());
    }

    #[test]
    fn precision_is_one_minus_false_alarm_share() {
        assert_eq!(precision(0, 0), None);
        assert_eq!(precision(0, 4), Some(1.0));
        assert_eq!(precision(1, 4), Some(0.75));
        assert_eq!(precision(4, 4), Some(0.0));
    }
}
