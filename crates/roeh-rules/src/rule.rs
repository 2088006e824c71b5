//! Rules: what, on a hotspot, opens an incident.
//!
//! A [`Rule`] belongs to one hotspot and has a [`RuleKind`]:
//! - `intrusion {zone}`: a tracked object (of the rule's labels, at or above its minimum
//!   confidence) stands in the zone while the hotspot is armed;
//! - `loitering {zone, dwell_secs}`: such an object has stood in the zone for `dwell_secs` or more;
//! - `crowding {zone, min_count, for_secs}`: at least `min_count` such objects stand in the zone,
//!   without a break, for `for_secs` or more;
//! - `line_crossing {line}`: such an object's foot point crossed the trip line in the line's
//!   direction;
//! - `tamper {no_frames_secs, frozen_secs, dark_luma_max, dark_secs}`: a camera of the hotspot
//!   sent no frame for `no_frames_secs`, sent the same picture for `frozen_secs`, or sent pictures
//!   no brighter than `dark_luma_max` for `dark_secs`; each check is off when its field is absent.
//!
//! Every rule has a [`Severity`], a cooldown (after an incident closes, the same rule on the same
//! camera does not open a new one until `cooldown_secs` have passed since the close), a minimum
//! confidence for detections, the labels it considers (default `["person"]`), `enabled`, and
//! `alerting` (whether its incidents should alert operators; the engine reports it and does not
//! act on it). A rule follows its hotspot's schedule unless `always_armed` is set (useful for
//! tamper rules).
//!
//! JSON: the kind's fields sit beside the rule's, tagged by `kind`:
//! `{"id": "<uuid>", "hotspot": "<uuid>", "name": "After hours", "kind": "intrusion",
//! "zone": "yard", "severity": "high", "cooldown_secs": 60, "min_confidence": 0.5}`.
//!
//! Invariants after [`Rule::validate`]: the name is not blank; `min_confidence` is within `0..=1`;
//! labels are not empty and none is blank; zone and line ids are not blank; `dwell_secs >= 1`;
//! `min_count >= 1`; a tamper rule has at least one check, with positive durations and
//! `dark_luma_max` within `0..=255`. Whether the named zone or line exists on the hotspot is
//! checked by [`Rule::validate_for`].

use std::fmt;
use std::time::Duration;

use roeh_domain::ErrorKind;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Error;
use crate::hotspot::{Hotspot, HotspotId, MAX_NAME_LEN};

/// A rule's identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RuleId(pub Uuid);

impl RuleId {
    /// A fresh random id.
    pub fn new_random() -> RuleId {
        RuleId(Uuid::new_v4())
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// How urgent a rule's incidents are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth a look.
    Low,
    /// Worth attention.
    Medium,
    /// Act soon.
    High,
    /// Act now.
    Critical,
}

/// What a rule watches for; see the module docs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RuleKind {
    /// Presence in a zone while armed.
    Intrusion {
        /// Zone id on the rule's hotspot.
        zone: String,
    },
    /// Presence in a zone for at least `dwell_secs`.
    Loitering {
        /// Zone id on the rule's hotspot.
        zone: String,
        /// Seconds in the zone.
        dwell_secs: u64,
    },
    /// At least `min_count` objects in a zone for at least `for_secs`.
    Crowding {
        /// Zone id on the rule's hotspot.
        zone: String,
        /// Objects at once.
        min_count: u32,
        /// Seconds the count must hold.
        for_secs: u64,
    },
    /// A crossing of a trip line, in the line's direction.
    LineCrossing {
        /// Line id on the rule's hotspot.
        line: String,
    },
    /// A camera without frames, frozen or dark.
    Tamper {
        /// Seconds without any frame.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        no_frames_secs: Option<u64>,
        /// Seconds of the same picture.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        frozen_secs: Option<u64>,
        /// Highest mean luma (0..=255) that counts as dark.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dark_luma_max: Option<f32>,
        /// Seconds the picture must stay dark (0: the first dark frame).
        #[serde(default)]
        dark_secs: u64,
    },
}

impl RuleKind {
    /// The kind's name as in JSON, e.g. `line_crossing`.
    pub fn name(&self) -> &'static str {
        match self {
            RuleKind::Intrusion { .. } => "intrusion",
            RuleKind::Loitering { .. } => "loitering",
            RuleKind::Crowding { .. } => "crowding",
            RuleKind::LineCrossing { .. } => "line_crossing",
            RuleKind::Tamper { .. } => "tamper",
        }
    }
}

pub(crate) fn default_cooldown() -> u64 {
    60
}
pub(crate) fn default_min_confidence() -> f32 {
    0.5
}
pub(crate) fn default_labels() -> Vec<String> {
    vec!["person".to_owned()]
}
pub(crate) fn yes() -> bool {
    true
}

/// A rule; see the module docs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// Identity.
    pub id: RuleId,
    /// The hotspot it watches.
    pub hotspot: HotspotId,
    /// For people.
    pub name: String,
    /// What it watches for.
    #[serde(flatten)]
    pub kind: RuleKind,
    /// How urgent its incidents are.
    pub severity: Severity,
    /// Seconds after a close before the same rule and camera may open again.
    #[serde(default = "default_cooldown")]
    pub cooldown_secs: u64,
    /// Detections below this score are ignored.
    #[serde(default = "default_min_confidence")]
    pub min_confidence: f32,
    /// Detection labels it considers.
    #[serde(default = "default_labels")]
    pub labels: Vec<String>,
    /// A disabled rule produces nothing.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Whether its incidents should alert operators.
    #[serde(default = "yes")]
    pub alerting: bool,
    /// Ignore the hotspot's schedule: armed at all times.
    #[serde(default)]
    pub always_armed: bool,
}

impl Rule {
    /// A rule with the defaults: cooldown 60 s, minimum confidence 0.5, label `person`, enabled,
    /// alerting, following the hotspot's schedule.
    pub fn new(
        id: RuleId,
        hotspot: HotspotId,
        name: &str,
        kind: RuleKind,
        severity: Severity,
    ) -> Rule {
        Rule {
            id,
            hotspot,
            name: name.to_owned(),
            kind,
            severity,
            cooldown_secs: default_cooldown(),
            min_confidence: default_min_confidence(),
            labels: default_labels(),
            enabled: true,
            alerting: true,
            always_armed: false,
        }
    }

    /// Parses and validates the JSON form (see the module docs).
    pub fn parse_json(s: &str) -> Result<Rule, Error> {
        let r: Rule = serde_json::from_str(s)
            .map_err(|e| Error::with_source(ErrorKind::InvalidArgument, format!("rule: {e}"), e))?;
        r.validate()?;
        Ok(r)
    }

    /// The cooldown as a duration.
    pub fn cooldown(&self) -> Duration {
        Duration::from_secs(self.cooldown_secs)
    }

    /// Whether the rule considers a detection of this label.
    pub fn wants_label(&self, label: &str) -> bool {
        self.labels.iter().any(|l| l == label)
    }

    /// Checks the invariants in the module docs; the error names the rule and the field.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |field: &str, why: String| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("rule {:?} ({}): {field}: {why}", self.name, self.id),
            )
        };
        if self.name.trim().is_empty() {
            return Err(bad("name", "is empty".into()));
        }
        if self.name.len() > MAX_NAME_LEN {
            return Err(bad("name", format!("is longer than {MAX_NAME_LEN} bytes")));
        }
        if !(self.min_confidence.is_finite() && (0.0..=1.0).contains(&self.min_confidence)) {
            return Err(bad(
                "min_confidence",
                format!("{} is outside 0..1", self.min_confidence),
            ));
        }
        if self.labels.is_empty() {
            return Err(bad("labels", "is empty; name at least one label".into()));
        }
        if let Some(i) = self.labels.iter().position(|l| l.trim().is_empty()) {
            return Err(bad(&format!("labels[{i}]"), "is empty".into()));
        }
        match &self.kind {
            RuleKind::Intrusion { zone } => {
                if zone.trim().is_empty() {
                    return Err(bad("zone", "is empty".into()));
                }
            }
            RuleKind::Loitering { zone, dwell_secs } => {
                if zone.trim().is_empty() {
                    return Err(bad("zone", "is empty".into()));
                }
                if *dwell_secs == 0 {
                    return Err(bad("dwell_secs", "must be at least 1".into()));
                }
            }
            RuleKind::Crowding {
                zone, min_count, ..
            } => {
                if zone.trim().is_empty() {
                    return Err(bad("zone", "is empty".into()));
                }
                if *min_count == 0 {
                    return Err(bad("min_count", "must be at least 1".into()));
                }
            }
            RuleKind::LineCrossing { line } => {
                if line.trim().is_empty() {
                    return Err(bad("line", "is empty".into()));
                }
            }
            RuleKind::Tamper {
                no_frames_secs,
                frozen_secs,
                dark_luma_max,
                ..
            } => {
                if no_frames_secs.is_none() && frozen_secs.is_none() && dark_luma_max.is_none() {
                    return Err(bad(
                        "kind",
                        "a tamper rule needs at least one of no_frames_secs, frozen_secs, \
                         dark_luma_max"
                            .into(),
                    ));
                }
                if *no_frames_secs == Some(0) {
                    return Err(bad("no_frames_secs", "must be at least 1".into()));
                }
                if *frozen_secs == Some(0) {
                    return Err(bad("frozen_secs", "must be at least 1".into()));
                }
                if let Some(d) = dark_luma_max
                    && !(d.is_finite() && (0.0..=255.0).contains(d))
                {
                    return Err(bad("dark_luma_max", format!("{d} is outside 0..255")));
                }
            }
        }
        Ok(())
    }

    /// [`Rule::validate`], plus: the rule is for this hotspot, and its zone or line exists there.
    pub fn validate_for(&self, hotspot: &Hotspot) -> Result<(), Error> {
        self.validate()?;
        let bad = |field: &str, why: String| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("rule {:?} ({}): {field}: {why}", self.name, self.id),
            )
        };
        if self.hotspot != hotspot.id {
            return Err(bad(
                "hotspot",
                format!("is {}, not {}", self.hotspot, hotspot.id),
            ));
        }
        match &self.kind {
            RuleKind::Intrusion { zone }
            | RuleKind::Loitering { zone, .. }
            | RuleKind::Crowding { zone, .. } => {
                if hotspot.zone(zone).is_none() {
                    return Err(bad(
                        "zone",
                        format!("{zone:?} is not a zone of hotspot {:?}", hotspot.name),
                    ));
                }
            }
            RuleKind::LineCrossing { line } => {
                if hotspot.line(line).is_none() {
                    return Err(bad(
                        "line",
                        format!("{line:?} is not a line of hotspot {:?}", hotspot.name),
                    ));
                }
            }
            RuleKind::Tamper { .. } => {}
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const BASE: &str = r#""id":"11111111-1111-4111-8111-111111111111","hotspot":"22222222-2222-4222-8222-222222222222","name":"r","severity":"high""#;

    fn parse(kind: &str) -> Result<Rule, Error> {
        Rule::parse_json(&format!("{{{BASE},{kind}}}"))
    }

    #[test]
    fn kinds_parse_with_defaults_and_round_trip() {
        let r = parse(r#""kind":"loitering","zone":"yard","dwell_secs":30"#).unwrap();
        assert_eq!(
            r.kind,
            RuleKind::Loitering {
                zone: "yard".into(),
                dwell_secs: 30
            }
        );
        assert_eq!(r.cooldown(), Duration::from_secs(60));
        assert_eq!(r.min_confidence, 0.5);
        assert_eq!(r.labels, vec!["person".to_owned()]);
        assert!(r.enabled && r.alerting && !r.always_armed);
        let back = Rule::parse_json(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);

        let r = parse(r#""kind":"tamper","no_frames_secs":30,"dark_luma_max":12.5"#).unwrap();
        assert_eq!(r.kind.name(), "tamper");
        let back = Rule::parse_json(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
        let r = parse(r#""kind":"crowding","zone":"yard","min_count":4,"for_secs":10"#).unwrap();
        assert_eq!(r.kind.name(), "crowding");
        let r = parse(r#""kind":"line_crossing","line":"gate","labels":["person","car"]"#).unwrap();
        assert!(r.wants_label("car") && !r.wants_label("dog"));
    }

    #[test]
    fn refusals_name_the_field() {
        let cases = [
            (
                r#""kind":"loitering","zone":"yard""#,
                "missing field `dwell_secs`",
            ),
            (
                r#""kind":"loitering","zone":"yard","dwel_secs":3"#,
                "unknown field `dwel_secs`",
            ),
            (r#""kind":"teleport""#, "unknown variant `teleport`"),
            (
                r#""kind":"loitering","zone":"yard","dwell_secs":0"#,
                "dwell_secs: must be at least 1",
            ),
            (
                r#""kind":"intrusion","zone":"","min_confidence":0.5"#,
                "zone: is empty",
            ),
            (
                r#""kind":"intrusion","zone":"y","min_confidence":1.5"#,
                "min_confidence: 1.5 is outside 0..1",
            ),
            (
                r#""kind":"intrusion","zone":"y","labels":[]"#,
                "labels: is empty",
            ),
            (
                r#""kind":"crowding","zone":"y","min_count":0,"for_secs":1"#,
                "min_count: must be at least 1",
            ),
            (r#""kind":"tamper""#, "at least one of no_frames_secs"),
            (
                r#""kind":"tamper","dark_luma_max":300"#,
                "dark_luma_max: 300 is outside 0..255",
            ),
            (
                r#""kind":"tamper","frozen_secs":0"#,
                "frozen_secs: must be at least 1",
            ),
        ];
        for (kind, want) in cases {
            let got = parse(kind).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(got.contains(want), "{kind}: got {got:?}, want {want:?}");
        }
    }
}
