//! JSON Schemas of the hotspot and rule documents that [`Hotspot::parse_json`] and
//! [`Rule::parse_json`] accept, for an OpenAPI document built with `schemars`. With the feature
//! `schema`.
//!
//! The parsers check more than a schema can say (distinct ids, zones on the hotspot's cameras,
//! simple polygons, ordered date ranges, a known time zone). These types only describe the
//! documents: nothing builds them. [`Severity`] is the crate's own type; the others stand for
//! the crate's types in their JSON form (the crate's [`crate::Point`], [`crate::Zone`],
//! [`crate::Hotspot`] and so on).
//!
//! [`Hotspot::parse_json`]: crate::Hotspot::parse_json
//! [`Rule::parse_json`]: crate::Rule::parse_json

// Only their schemas are used: nothing builds these types or reads their fields.
#![allow(dead_code)]

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

pub use crate::rule::Severity;

use crate::hotspot::MAX_NAME_LEN;

/// A point `[x, y]` in normalised image coordinates: fractions of the frame's width and
/// height, from the top left.
#[derive(Debug)]
pub struct Point;

impl JsonSchema for Point {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Point".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "[x, y]: fractions of the frame's width and height, from the \
                            top left.",
            "type": "array",
            "items": { "type": "number", "minimum": 0.0, "maximum": 1.0 },
            "minItems": 2,
            "maxItems": 2,
        })
    }
}

/// Which crossings of a trip line count.
#[derive(Debug, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From side A (left of the line, walking from its first point to its second) to B.
    AToB,
    /// From side B to side A.
    BToA,
    /// Either way.
    Both,
}

/// An area of one camera's picture (`roeh_rules::Zone`).
#[derive(Debug, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Zone {
    /// Unique within the hotspot; rules name zones by it.
    #[schemars(length(min = 1))]
    id: String,
    /// The camera whose picture the polygon is drawn on: one of the hotspot's cameras.
    camera: uuid::Uuid,
    /// For people.
    #[serde(default)]
    #[schemars(length(max = MAX_NAME_LEN))]
    name: String,
    /// The area: a simple polygon (no self-intersection, not degenerate).
    #[schemars(length(min = 3))]
    polygon: Vec<Point>,
}

/// A line on one camera's picture that people may cross (`roeh_rules::TripLine`).
#[derive(Debug, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TripLine {
    /// Unique within the hotspot; rules name lines by it.
    #[schemars(length(min = 1))]
    id: String,
    /// The camera whose picture the line is drawn on: one of the hotspot's cameras.
    camera: uuid::Uuid,
    /// For people.
    #[serde(default)]
    #[schemars(length(max = MAX_NAME_LEN))]
    name: String,
    /// The segment: two distinct points.
    line: [Point; 2],
    /// Which crossings count.
    direction: Direction,
}

/// A day of the week: its English name or the name's first three letters, in any case.
#[derive(Debug)]
pub struct Day;

impl JsonSchema for Day {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Day".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        day()
    }
}

fn day() -> Schema {
    let days = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let any_case = |s: &str| -> String {
        s.chars()
            .map(|c| format!("[{}{}]", c.to_ascii_uppercase(), c))
            .collect()
    };
    let names: Vec<String> = days
        .iter()
        .map(|d| format!("{}(?:{})?", any_case(&d[..3]), any_case(&d[3..])))
        .collect();
    json_schema!({
        "type": "string",
        "pattern": format!("^(?:{})$", names.join("|")),
        "examples": ["mon", "Saturday"],
    })
}

/// A local time of day, `HH:MM` or `HH:MM:SS`.
fn time_of_day(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "pattern": "^(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9])?$",
        "examples": ["22:00"],
    })
}

/// A local date, `YYYY-MM-DD`.
fn date(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "format": "date",
        "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
        "examples": ["2026-07-01"],
    })
}

/// A window repeated on some weekdays, in local time; `to <= from` ends on the next day.
#[derive(Debug, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WeeklyWindow {
    /// The days an occurrence may start on.
    #[schemars(length(min = 1))]
    days: Vec<Day>,
    /// Local start time (included).
    #[schemars(schema_with = "time_of_day")]
    from: String,
    /// Local end time (excluded).
    #[schemars(schema_with = "time_of_day")]
    to: String,
}

/// An inclusive range of local dates (`from` not after `to`).
#[derive(Debug, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DateRange {
    /// First date.
    #[schemars(schema_with = "date")]
    from: String,
    /// Last date (included).
    #[schemars(schema_with = "date")]
    to: String,
    /// What the range is, e.g. "summer holidays".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    label: Option<String>,
}

/// When a hotspot is armed (`roeh_rules::Schedule`): weekly windows, limited to `dates`
/// when given and never on `except`, in the IANA time zone `tz`; `always` arms it at
/// every time of a counted date.
#[derive(Debug, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// An IANA time zone name.
    #[schemars(length(min = 1), example = &"Europe/Stockholm")]
    tz: String,
    /// Armed at all times (subject to `dates` and `except`).
    #[serde(default)]
    always: bool,
    /// Weekly windows.
    #[serde(default)]
    windows: Vec<WeeklyWindow>,
    /// If not empty, only occurrences starting on these dates count.
    #[serde(default)]
    dates: Vec<DateRange>,
    /// Occurrences starting on these dates never count.
    #[serde(default)]
    except: Vec<DateRange>,
    /// Armed all day on these dates (unless in `except`), besides the windows: "every night
    /// 22:00–06:00 and all of August" is one window and one range here. Left out when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    all_day: Vec<DateRange>,
}

/// A hotspot document (`roeh_rules::Hotspot`): a watched place with its cameras, zones,
/// trip lines and schedule. In a request `id` may be left out (a new id is chosen, or the
/// path's); stored documents always have it.
#[derive(Debug, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Hotspot {
    /// Identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<uuid::Uuid>,
    /// For people: not blank, at most 200 bytes, no control characters.
    #[schemars(
        length(min = 1, max = MAX_NAME_LEN),
        regex(pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")
    )]
    name: String,
    /// Latitude, degrees.
    #[schemars(range(min = -90.0, max = 90.0))]
    lat: f64,
    /// Longitude, degrees.
    #[schemars(range(min = -180.0, max = 180.0))]
    lon: f64,
    /// Larger is more urgent.
    #[serde(default)]
    priority: u8,
    /// The cameras that see it, each once.
    #[schemars(extend("uniqueItems" = true))]
    cameras: Vec<uuid::Uuid>,
    /// Zones, each on one of the cameras, with distinct ids.
    #[serde(default)]
    zones: Vec<Zone>,
    /// Trip lines, each on one of the cameras, with distinct ids.
    #[serde(default)]
    lines: Vec<TripLine>,
    /// When it is armed.
    schedule: Schedule,
}

/// What a rule watches for, tagged by `kind`; its fields sit beside the rule's.
#[derive(Debug, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RuleKind {
    /// Presence in a zone while armed.
    Intrusion {
        /// Zone id on the rule's hotspot.
        #[schemars(length(min = 1))]
        zone: String,
    },
    /// Presence in a zone for at least `dwell_secs`.
    Loitering {
        /// Zone id on the rule's hotspot.
        #[schemars(length(min = 1))]
        zone: String,
        /// Seconds in the zone.
        #[schemars(range(min = 1))]
        dwell_secs: u64,
    },
    /// At least `min_count` objects in a zone for at least `for_secs`.
    Crowding {
        /// Zone id on the rule's hotspot.
        #[schemars(length(min = 1))]
        zone: String,
        /// Objects at once.
        #[schemars(range(min = 1))]
        min_count: u32,
        /// Seconds the count must hold.
        for_secs: u64,
    },
    /// A crossing of a trip line, in the line's direction.
    LineCrossing {
        /// Line id on the rule's hotspot.
        #[schemars(length(min = 1))]
        line: String,
    },
    /// A camera without frames, frozen or dark: at least one of `no_frames_secs`,
    /// `frozen_secs` and `dark_luma_max`.
    #[schemars(extend("anyOf" = [
        { "required": ["no_frames_secs"], "properties": { "no_frames_secs": { "type": "integer" } } },
        { "required": ["frozen_secs"], "properties": { "frozen_secs": { "type": "integer" } } },
        { "required": ["dark_luma_max"], "properties": { "dark_luma_max": { "type": "number" } } },
    ]))]
    Tamper {
        /// Seconds without any frame.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(range(min = 1))]
        no_frames_secs: Option<u64>,
        /// Seconds of the same picture.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(range(min = 1))]
        frozen_secs: Option<u64>,
        /// Highest mean luma that counts as dark.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(range(min = 0.0, max = 255.0))]
        dark_luma_max: Option<f32>,
        /// Seconds the picture must stay dark (0: the first dark frame).
        #[serde(default)]
        dark_secs: u64,
    },
}

/// A rule document (`roeh_rules::Rule`): what, on a hotspot, opens an incident. In a
/// request `id` may be left out (a new id is chosen, or the path's); stored documents
/// always have it. The zone or line it names must exist on the hotspot.
#[derive(Debug, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<uuid::Uuid>,
    /// The hotspot it watches.
    hotspot: uuid::Uuid,
    /// For people: not blank, at most 200 bytes.
    #[schemars(length(min = 1, max = MAX_NAME_LEN))]
    name: String,
    /// What it watches for.
    #[serde(flatten)]
    kind: RuleKind,
    /// How urgent its incidents are.
    severity: Severity,
    /// Seconds after a close before the same rule and camera may open again.
    #[serde(default = "crate::rule::default_cooldown")]
    cooldown_secs: u64,
    /// Detections below this score are ignored.
    #[serde(default = "crate::rule::default_min_confidence")]
    #[schemars(range(min = 0.0, max = 1.0))]
    min_confidence: f32,
    /// Detection labels it considers, none blank.
    #[serde(default = "crate::rule::default_labels")]
    #[schemars(length(min = 1), inner(length(min = 1)))]
    labels: Vec<String>,
    /// A disabled rule produces nothing.
    #[serde(default = "crate::rule::yes")]
    enabled: bool,
    /// Whether its incidents should alert operators.
    #[serde(default = "crate::rule::yes")]
    alerting: bool,
    /// Ignore the hotspot's schedule: armed at all times.
    #[serde(default)]
    always_armed: bool,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::{Map, Value, json};

    fn schema_of<T: JsonSchema>() -> Value {
        serde_json::to_value(SchemaGenerator::default().into_root_schema_for::<T>()).unwrap()
    }

    /// `schema` with a local `$ref` followed.
    fn resolve<'a>(schema: &'a Value, root: &'a Value) -> &'a Value {
        match schema["$ref"].as_str() {
            Some(r) => {
                let target = root.pointer(r.trim_start_matches('#')).unwrap();
                resolve(target, root)
            }
            None => schema,
        }
    }

    /// The properties `schema` lists, its own and those of its `oneOf`/`anyOf`/`allOf` branches.
    fn properties(schema: &Value, root: &Value, out: &mut Map<String, Value>) {
        let schema = resolve(schema, root);
        if let Some(p) = schema["properties"].as_object() {
            for (k, v) in p {
                out.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        for key in ["oneOf", "anyOf", "allOf"] {
            for branch in schema[key].as_array().into_iter().flatten() {
                properties(branch, root, out);
            }
        }
    }

    /// Fails on a property of `doc`, at any depth, that the schema does not list.
    fn only_listed_properties(doc: &Value, schema: &Value, root: &Value, path: &str) {
        let schema = resolve(schema, root);
        match doc {
            Value::Object(fields) => {
                let mut listed = Map::new();
                properties(schema, root, &mut listed);
                for (k, v) in fields {
                    let sub = listed
                        .get(k)
                        .unwrap_or_else(|| panic!("{path}.{k} is not in the schema"));
                    only_listed_properties(v, sub, root, &format!("{path}.{k}"));
                }
            }
            Value::Array(items) if schema["items"].is_object() => {
                for (i, item) in items.iter().enumerate() {
                    let path = format!("{path}[{i}]");
                    only_listed_properties(item, &schema["items"], root, &path);
                }
            }
            _ => {}
        }
    }

    const HOTSPOT: &str = r#"{"id":"a3b1c2d4-0000-4000-8000-000000000001","name":"North gate",
        "lat":31.77,"lon":35.2,"priority":3,"cameras":["6f1c2f5e-8a47-4a55-9a0e-0d6d3a9f0a11"],
        "zones":[{"id":"yard","camera":"6f1c2f5e-8a47-4a55-9a0e-0d6d3a9f0a11","name":"Yard",
            "polygon":[[0.1,0.5],[0.9,0.5],[0.9,1.0],[0.1,1.0]]}],
        "lines":[{"id":"gate","camera":"6f1c2f5e-8a47-4a55-9a0e-0d6d3a9f0a11",
            "line":[[0.5,0.2],[0.5,0.9]],"direction":"a_to_b"}],
        "schedule":{"tz":"Asia/Jerusalem","windows":[{"days":["sun","mon"],"from":"22:00","to":"05:00"}],
            "dates":[{"from":"2026-07-01","to":"2026-08-31","label":"summer"}],
            "except":[{"from":"2026-07-14","to":"2026-07-14"}]}}"#;

    const RULE_BASE: &str = r#""id":"11111111-1111-4111-8111-111111111111","hotspot":"22222222-2222-4222-8222-222222222222","name":"r","severity":"high""#;

    const RULE_KINDS: [&str; 5] = [
        r#""kind":"intrusion","zone":"yard""#,
        r#""kind":"loitering","zone":"yard","dwell_secs":30"#,
        r#""kind":"crowding","zone":"yard","min_count":4,"for_secs":10"#,
        r#""kind":"line_crossing","line":"gate","labels":["person","car"]"#,
        r#""kind":"tamper","no_frames_secs":30,"frozen_secs":20,"dark_luma_max":12.5,"dark_secs":5"#,
    ];

    #[test]
    fn the_names_are_those_of_the_openapi_document() {
        let names = [
            (Point::schema_name(), "Point"),
            (Direction::schema_name(), "Direction"),
            (Zone::schema_name(), "Zone"),
            (TripLine::schema_name(), "TripLine"),
            (Day::schema_name(), "Day"),
            (WeeklyWindow::schema_name(), "WeeklyWindow"),
            (DateRange::schema_name(), "DateRange"),
            (Schedule::schema_name(), "Schedule"),
            (Hotspot::schema_name(), "Hotspot"),
            (Severity::schema_name(), "Severity"),
            (RuleKind::schema_name(), "RuleKind"),
            (Rule::schema_name(), "Rule"),
        ];
        for (name, want) in names {
            assert_eq!(name, want);
        }
        let severity = schema_of::<Severity>();
        let values: Vec<&str> = severity["oneOf"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["const"].as_str().unwrap())
            .collect();
        assert_eq!(values, ["low", "medium", "high", "critical"]);
    }

    #[test]
    fn a_parsed_hotspot_has_only_properties_the_schema_lists() {
        let root = schema_of::<Hotspot>();
        let h = crate::Hotspot::parse_json(HOTSPOT).unwrap();
        let doc = serde_json::to_value(&h).unwrap();
        only_listed_properties(&doc, &root, &root, "hotspot");
        for required in root["required"].as_array().unwrap() {
            assert!(doc.get(required.as_str().unwrap()).is_some(), "{required}");
        }
        // The parser's defaults are the schema's.
        let bare = crate::Hotspot::parse_json(
            r#"{"id":"a3b1c2d4-0000-4000-8000-000000000001","name":"n","lat":0,"lon":0,
                "cameras":[],"schedule":{"tz":"UTC"}}"#,
        )
        .unwrap();
        let bare = serde_json::to_value(&bare).unwrap();
        for (name, property) in root["properties"].as_object().unwrap() {
            if let Some(default) = property.get("default") {
                assert_eq!(&bare[name], default, "{name}");
            }
        }
    }

    #[test]
    fn a_parsed_rule_has_only_properties_the_schema_lists() {
        let root = schema_of::<Rule>();
        for kind in RULE_KINDS {
            let r = crate::Rule::parse_json(&format!("{{{RULE_BASE},{kind}}}")).unwrap();
            let doc = serde_json::to_value(&r).unwrap();
            only_listed_properties(&doc, &root, &root, kind);
            for required in root["required"].as_array().unwrap() {
                assert!(doc.get(required.as_str().unwrap()).is_some(), "{required}");
            }
        }
    }

    #[test]
    fn the_rule_schemas_defaults_are_the_parsers() {
        let root = schema_of::<Rule>();
        let props = root["properties"].as_object().unwrap();
        let r = crate::Rule::parse_json(&format!("{{{RULE_BASE},{}}}", RULE_KINDS[0])).unwrap();
        assert_eq!(props["cooldown_secs"]["default"], json!(r.cooldown_secs));
        assert_eq!(props["cooldown_secs"]["default"], json!(60));
        let doc = serde_json::to_value(&r).unwrap();
        let mut defaults = 0;
        for (name, property) in props {
            if let Some(default) = property.get("default") {
                assert_eq!(&doc[name], default, "{name}");
                defaults += 1;
            }
        }
        // cooldown_secs, min_confidence, labels, enabled, alerting, always_armed.
        assert_eq!(defaults, 6);
    }
}
