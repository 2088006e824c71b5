//! Hotspots: places the control room watches, with their cameras, zones, trip lines and schedule.
//!
//! Invariants after [`Hotspot::validate`] (which [`Hotspot::parse_json`] and the rule engine
//! call):
//! - the name is not blank and at most [`MAX_NAME_LEN`] bytes; `lat` is within `-90..=90` and
//!   `lon` within `-180..=180`;
//! - the cameras are distinct; every zone and trip line is on one of them;
//! - zone ids are non-empty and distinct among the hotspot's zones, and likewise for line ids;
//! - zone polygons and lines are valid by construction (see [`crate::geometry`]), and the schedule
//!   passes [`Schedule::validate`].
//!
//! `priority` orders hotspots for operators: a larger number is more urgent.
//!
//! JSON: `{"id": "<uuid>", "name": "North gate", "lat": 31.77, "lon": 35.21, "priority": 3,
//! "cameras": ["<uuid>"], "zones": [{"id": "yard", "camera": "<uuid>", "name": "Yard",
//! "polygon": [[0.1, 0.5], [0.9, 0.5], [0.9, 1.0], [0.1, 1.0]]}], "lines": [{"id": "gate",
//! "camera": "<uuid>", "name": "Gate", "line": [[0.5, 0.2], [0.5, 0.9]], "direction": "a_to_b"}],
//! "schedule": {...}}` (the schedule as in [`crate::schedule`]).

use std::collections::HashSet;
use std::fmt;

use roeh_domain::{CameraId, ErrorKind};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Error;
use crate::geometry::{Direction, Line, Polygon};
use crate::schedule::Schedule;

/// Longest hotspot, zone or line name accepted.
pub const MAX_NAME_LEN: usize = 200;

/// A hotspot's identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HotspotId(pub Uuid);

impl HotspotId {
    /// A fresh random id.
    pub fn new_random() -> HotspotId {
        HotspotId(Uuid::new_v4())
    }
}

impl fmt::Display for HotspotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// An area of one camera's picture, on the ground.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Zone {
    /// Unique within the hotspot; rules name zones by it.
    pub id: String,
    /// The camera whose picture the polygon is drawn on.
    pub camera: CameraId,
    /// For people.
    #[serde(default)]
    pub name: String,
    /// The area, in normalised image coordinates.
    pub polygon: Polygon,
}

/// A line on one camera's picture that people may cross.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TripLine {
    /// Unique within the hotspot; rules name lines by it.
    pub id: String,
    /// The camera whose picture the line is drawn on.
    pub camera: CameraId,
    /// For people.
    #[serde(default)]
    pub name: String,
    /// The segment, in normalised image coordinates.
    pub line: Line,
    /// Which crossings count.
    pub direction: Direction,
}

/// A watched place; see the module docs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hotspot {
    /// Identity.
    pub id: HotspotId,
    /// For people.
    pub name: String,
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// Larger is more urgent.
    #[serde(default)]
    pub priority: u8,
    /// The cameras that see it.
    pub cameras: Vec<CameraId>,
    /// Zones, each on one camera.
    #[serde(default)]
    pub zones: Vec<Zone>,
    /// Trip lines, each on one camera.
    #[serde(default)]
    pub lines: Vec<TripLine>,
    /// When it is armed.
    pub schedule: Schedule,
}

/// Checks what zones and lines have alike: `id` is not empty and not in `ids` yet (it is added),
/// `name` is not too long, `camera` is one of `cams`. A failure is the field (`id`, `name` or
/// `camera`) and why; `kind` (`zone`, `line`) names the part in the message.
fn check_part<'a>(
    ids: &mut HashSet<&'a str>,
    cams: &HashSet<CameraId>,
    kind: &str,
    id: &'a str,
    name: &str,
    camera: CameraId,
) -> Result<(), (&'static str, String)> {
    if id.trim().is_empty() {
        return Err(("id", "is empty".into()));
    }
    if !ids.insert(id) {
        return Err(("id", format!("{kind} id {id:?} is used twice")));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(("name", format!("is longer than {MAX_NAME_LEN} bytes")));
    }
    if !cams.contains(&camera) {
        return Err((
            "camera",
            format!("camera {camera} is not one of the hotspot's cameras"),
        ));
    }
    Ok(())
}

/// When a hotspot document does not parse, the zone, line or schedule that refuses on its own,
/// named as [`Hotspot::validate`] names fields (`hotspot "Square": zones[1].polygon: polygon is
/// self-intersecting: …`), so the message can be shown next to the part it concerns; `None` when
/// no single part is at fault.
fn part_refused(v: &serde_json::Value) -> Option<String> {
    let name = v
        .get("name")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("");
    let why = |e: &dyn fmt::Display| {
        let text = e.to_string();
        let kind = format!("{}: ", ErrorKind::InvalidArgument.as_str());
        text.strip_prefix(&kind).map(str::to_owned).unwrap_or(text)
    };
    let parts = |key: &str| {
        v.get(key)
            .and_then(serde_json::Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    for (i, z) in parts("zones").into_iter().enumerate() {
        if let Some(p) = z.get("polygon")
            && let Err(e) = serde_json::from_value::<Polygon>(p.clone())
        {
            return Some(format!("hotspot {name:?}: zones[{i}].polygon: {}", why(&e)));
        }
        if let Err(e) = serde_json::from_value::<Zone>(z) {
            return Some(format!("hotspot {name:?}: zones[{i}]: {}", why(&e)));
        }
    }
    for (i, l) in parts("lines").into_iter().enumerate() {
        if let Some(p) = l.get("line")
            && let Err(e) = serde_json::from_value::<Line>(p.clone())
        {
            return Some(format!("hotspot {name:?}: lines[{i}].line: {}", why(&e)));
        }
        if let Err(e) = serde_json::from_value::<TripLine>(l) {
            return Some(format!("hotspot {name:?}: lines[{i}]: {}", why(&e)));
        }
    }
    if let Some(sch) = v.get("schedule")
        && let Err(e) = Schedule::from_value(sch)
    {
        return Some(format!("hotspot {name:?}: schedule: {}", e.message()));
    }
    None
}

impl Hotspot {
    /// Parses and validates the JSON form.
    pub fn parse_json(s: &str) -> Result<Hotspot, Error> {
        let h: Hotspot = serde_json::from_str(s).map_err(|e| {
            let named = serde_json::from_str::<serde_json::Value>(s)
                .ok()
                .and_then(|v| part_refused(&v));
            let message = named.unwrap_or_else(|| format!("hotspot: {e}"));
            Error::with_source(ErrorKind::InvalidArgument, message, e)
        })?;
        h.validate()?;
        Ok(h)
    }

    /// Checks the invariants in the module docs; the error names the hotspot and the field.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |field: &str, why: String| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("hotspot {:?} ({}): {field}: {why}", self.name, self.id),
            )
        };
        check_name(&self.name).map_err(|w| bad("name", w))?;
        if !(self.lat.is_finite() && (-90.0..=90.0).contains(&self.lat)) {
            return Err(bad("lat", format!("{} is outside -90..90", self.lat)));
        }
        if !(self.lon.is_finite() && (-180.0..=180.0).contains(&self.lon)) {
            return Err(bad("lon", format!("{} is outside -180..180", self.lon)));
        }
        let mut cams = HashSet::new();
        for (i, c) in self.cameras.iter().enumerate() {
            if !cams.insert(*c) {
                return Err(bad(
                    &format!("cameras[{i}]"),
                    format!("camera {c} is listed twice"),
                ));
            }
        }
        let mut ids = HashSet::new();
        for (i, z) in self.zones.iter().enumerate() {
            let f = |k: &str| format!("zones[{i}].{k}");
            check_part(&mut ids, &cams, "zone", &z.id, &z.name, z.camera)
                .map_err(|(k, why)| bad(&f(k), why))?;
            // Fields are public: check the polygon again.
            Polygon::new(z.polygon.points().to_vec())
                .map_err(|e| bad(&f("polygon"), e.message().to_owned()))?;
        }
        let mut ids = HashSet::new();
        for (i, l) in self.lines.iter().enumerate() {
            let f = |k: &str| format!("lines[{i}].{k}");
            check_part(&mut ids, &cams, "line", &l.id, &l.name, l.camera)
                .map_err(|(k, why)| bad(&f(k), why))?;
        }
        self.schedule
            .validate()
            .map_err(|e| bad("schedule", e.message().to_owned()))?;
        Ok(())
    }

    /// The zone with this id.
    pub fn zone(&self, id: &str) -> Option<&Zone> {
        self.zones.iter().find(|z| z.id == id)
    }

    /// The trip line with this id.
    pub fn line(&self, id: &str) -> Option<&TripLine> {
        self.lines.iter().find(|l| l.id == id)
    }
}

fn check_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("is empty".into());
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!("is longer than {MAX_NAME_LEN} bytes"));
    }
    if name.chars().any(char::is_control) {
        return Err("contains control characters".into());
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const CAM: &str = "6f1c2f5e-8a47-4a55-9a0e-0d6d3a9f0a11";
    const OTHER: &str = "0b7e0c55-2a1e-4a3b-8a4f-7b2f1c9d1e22";

    fn json(zone_cam: &str, polygon: &str, lat: f64) -> String {
        format!(
            r#"{{"id":"a3b1c2d4-0000-4000-8000-000000000001","name":"North gate","lat":{lat},"lon":35.2,
            "priority":3,"cameras":["{CAM}"],
            "zones":[{{"id":"yard","camera":"{zone_cam}","name":"Yard","polygon":{polygon}}}],
            "lines":[{{"id":"gate","camera":"{CAM}","line":[[0.5,0.2],[0.5,0.9]],"direction":"a_to_b"}}],
            "schedule":{{"tz":"Asia/Jerusalem","windows":[{{"days":["sun","mon"],"from":"22:00","to":"05:00"}}]}}}}"#
        )
    }

    const SQUARE: &str = "[[0.1,0.5],[0.9,0.5],[0.9,1.0],[0.1,1.0]]";

    #[test]
    fn parses_and_round_trips() {
        let h = Hotspot::parse_json(&json(CAM, SQUARE, 31.77)).unwrap();
        assert_eq!(h.priority, 3);
        assert_eq!(h.zone("yard").unwrap().polygon.points().len(), 4);
        assert_eq!(h.line("gate").unwrap().direction, Direction::AToB);
        let back: Hotspot = serde_json::from_str(&serde_json::to_string(&h).unwrap()).unwrap();
        assert_eq!(back, h);
    }

    #[test]
    fn shapes_refused_while_parsing_name_their_zone_or_line() {
        let crossed = "[[0.1,0.3],[0.9,0.8],[0.9,0.3],[0.1,0.8]]";
        let e = Hotspot::parse_json(&json(CAM, crossed, 31.77)).unwrap_err();
        assert!(
            e.message().starts_with(
                "hotspot \"North gate\": zones[0].polygon: polygon is self-intersecting"
            ),
            "{}",
            e.message()
        );
        let e = Hotspot::parse_json(&json(CAM, "[[0.1,0.3]]", 31.77)).unwrap_err();
        assert!(
            e.message()
                .starts_with("hotspot \"North gate\": zones[0].polygon: polygon has 1 point"),
            "{}",
            e.message()
        );
        let same =
            json(CAM, SQUARE, 31.77).replace("[[0.5,0.2],[0.5,0.9]]", "[[0.5,0.2],[0.5,0.2]]");
        let e = Hotspot::parse_json(&same).unwrap_err();
        assert!(
            e.message()
                .starts_with("hotspot \"North gate\": lines[0].line: "),
            "{}",
            e.message()
        );
        // Not a shape: the parser's own message, as before.
        let e = Hotspot::parse_json("{\"name\": 3}").unwrap_err();
        assert!(e.message().starts_with("hotspot: "), "{}", e.message());
    }

    #[test]
    fn refusals_name_the_field() {
        let e = Hotspot::parse_json(&json(OTHER, SQUARE, 31.77)).unwrap_err();
        assert!(
            e.message().contains("zones[0].camera: camera 0b7e0c55"),
            "{e}"
        );
        let e = Hotspot::parse_json(&json(CAM, SQUARE, 91.0)).unwrap_err();
        assert!(e.message().contains("lat: 91 is outside -90..90"), "{e}");
        let e = Hotspot::parse_json(&json(CAM, "[[0,0],[1,1],[1,0],[0,1]]", 31.0)).unwrap_err();
        assert!(e.message().contains("polygon is self-intersecting"), "{e}");
        let e = Hotspot::parse_json(&json(CAM, "[[0,0],[1.2,1],[1,0]]", 31.0)).unwrap_err();
        assert!(
            e.message().contains("point 1 (1.2, 1) is outside 0..1"),
            "{e}"
        );
        let bad_sched = json(CAM, SQUARE, 31.0).replace("22:00", "22h");
        let e = Hotspot::parse_json(&bad_sched).unwrap_err();
        assert!(e.message().contains("schedule.windows[0].from"), "{e}");
        let mut h = Hotspot::parse_json(&json(CAM, SQUARE, 31.77)).unwrap();
        h.zones.push(h.zones[0].clone());
        let e = h.validate().unwrap_err();
        assert!(
            e.message()
                .contains("zones[1].id: zone id \"yard\" is used twice"),
            "{e}"
        );
    }
}
