//! OASIS Common Alerting Protocol 1.2 messages (CAP, ITU-T X.1303) of an alert's life, for
//! dispatch and public-safety systems that take CAP rather than roeh's JSON.
//!
//! One message per committed alert event:
//! - the event that raised the alert is `msgType` **Alert**;
//! - every later event is an **Update** that `references` the Alert message, except the mark
//!   as a false alarm, which is a **Cancel** of it; a resolution is an Update whose
//!   `responseType` is `AllClear`;
//! - `identifier` is `roeh-<alert>-<seq>`, unique per message and the same on every attempt;
//!   `incidents` is the alert's id, so a receiver groups the messages of one alert;
//! - `status` Actual, `scope` Restricted (with the restriction in words): messages leave the
//!   control room for the police and the city's enforcement, not the public;
//! - `info`: categories Security and Safety; `event` is the rules that raised it (or "Reported
//!   by an operator" for an alert a person raised); `urgency`, `severity` and `certainty` come
//!   from the alert's severity and where it stands ([`urgency`], [`severity`], [`certainty`]);
//!   `area` is a circle of [`CapSettings::radius_m`] around the hotspot's point;
//! - `sent` is the event's time in UTC as `YYYY-MM-DDThh:mm:ss+00:00`, the form the schema's
//!   pattern accepts (no fraction, no `Z`).
//!
//! Text from people (hotspot and rule names) is escaped and bounded; no user names, notes or
//! links to footage go out in a CAP message.

use crate::Result;
use roeh_domain::WallTime;
use roeh_store::{AlertRow, Store};
use uuid::Uuid;

/// The CAP 1.2 namespace.
pub const NAMESPACE: &str = "urn:oasis:names:tc:emergency:cap:1.2";

/// Settings of CAP messages.
#[derive(Clone, Debug, PartialEq)]
pub struct CapSettings {
    /// The `sender`: who sends, without spaces, commas, `<` or `&` (e.g. `roeh@city.example`).
    pub sender: String,
    /// Radius of the circle around a hotspot's point, metres.
    pub radius_m: f64,
}

impl Default for CapSettings {
    fn default() -> Self {
        CapSettings {
            sender: "roeh".into(),
            radius_m: 100.0,
        }
    }
}

impl CapSettings {
    /// Checks the sender's form and the radius; the error says what is wrong.
    pub fn check(&self) -> std::result::Result<(), String> {
        let s = &self.sender;
        if s.is_empty()
            || s.len() > 200
            || s.chars()
                .any(|c| c.is_whitespace() || c.is_control() || matches!(c, ',' | '<' | '&'))
        {
            return Err(
                "the CAP sender is 1 to 200 characters without spaces, commas, '<' or '&'".into(),
            );
        }
        if !(self.radius_m.is_finite() && self.radius_m > 0.0 && self.radius_m <= 100_000.0) {
            return Err("the CAP area radius is more than 0 and at most 100000 metres".into());
        }
        Ok(())
    }
}

/// What a CAP message says about the alert, beyond the event itself.
#[derive(Clone, Debug, PartialEq)]
pub struct CapContext {
    /// The alert.
    pub alert: Uuid,
    /// The hotspot's name.
    pub hotspot: String,
    /// The hotspot's point, degrees.
    pub lat: f64,
    /// The hotspot's point, degrees.
    pub lon: f64,
    /// The alert's severity: `low`, `medium`, `high` or `critical`.
    pub severity: String,
    /// Names of the rules whose incidents raised it; empty for an alert a person raised.
    pub rules: Vec<String>,
    /// The event that raised the alert: its seq and time (what Updates reference).
    pub raised: Option<(u64, WallTime)>,
}

/// The event a message is about.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CapEvent<'a> {
    /// The alert event's seq.
    pub seq: u64,
    /// When it was committed.
    pub time: WallTime,
    /// `raised`, `merged`, an action name, `note` or `receipt`.
    pub kind: &'a str,
    /// The alert's state after it.
    pub state: &'a str,
}

/// `msgType` of an event.
pub fn msg_type(kind: &str, state: &str) -> &'static str {
    if kind == "raised" {
        "Alert"
    } else if state == "false_alarm" {
        "Cancel"
    } else {
        "Update"
    }
}

/// CAP `severity` of an alert severity.
pub fn severity(s: &str) -> &'static str {
    match s {
        "critical" => "Extreme",
        "high" => "Severe",
        "medium" => "Moderate",
        "low" => "Minor",
        _ => "Unknown",
    }
}

/// CAP `urgency`: `Past` once closed; `Immediate` with a unit on scene or for high and
/// critical alerts; `Expected` otherwise.
pub fn urgency(severity: &str, state: &str) -> &'static str {
    match state {
        "resolved" | "false_alarm" => "Past",
        "on_scene" => "Immediate",
        _ if matches!(severity, "high" | "critical") => "Immediate",
        _ => "Expected",
    }
}

/// CAP `certainty`: `Observed` once a unit is on scene (or it was resolved), `Unlikely` for a
/// false alarm, `Likely` when a person raised it, `Possible` for a detection not yet seen.
pub fn certainty(state: &str, raised_by_person: bool) -> &'static str {
    match state {
        "on_scene" | "resolved" => "Observed",
        "false_alarm" => "Unlikely",
        _ if raised_by_person => "Likely",
        _ => "Possible",
    }
}

/// `YYYY-MM-DDThh:mm:ss+00:00` of `t` (UTC, whole seconds).
pub fn cap_time(t: WallTime) -> String {
    let full = WallTime(t.0.div_euclid(1_000_000) * 1_000_000).to_rfc3339();
    // `YYYY-MM-DDThh:mm:ss.000000Z`: the first 19 characters are the date and time.
    format!("{}+00:00", full.get(..19).unwrap_or(&full))
}

/// The message identifier of event `seq` of `alert`.
pub fn identifier(alert: Uuid, seq: u64) -> String {
    format!("roeh-{alert}-{seq}")
}

/// Text for XML character data and attribute values: markup escaped, control characters (which
/// XML 1.0 cannot carry) dropped, at most `max` characters.
fn text(s: &str, max: usize) -> String {
    let kept: String = s.chars().filter(|c| !c.is_control()).take(max).collect();
    roeh_domain::text::xml_escape(&kept)
}

/// The CAP 1.2 XML of `event` of the alert `ctx` describes.
pub fn message(settings: &CapSettings, ctx: &CapContext, event: &CapEvent<'_>) -> String {
    let sender = text(&settings.sender, 200);
    let kind = msg_type(event.kind, event.state);
    let by_person = ctx.rules.is_empty();
    let event_name = what_plain(ctx);
    let what = text(&event_name, 200);
    let place = text(&ctx.hotspot, 200);
    let mut x = String::with_capacity(2048);
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(&format!("<alert xmlns=\"{NAMESPACE}\">\n"));
    x.push_str(&format!(
        "  <identifier>{}</identifier>\n",
        identifier(ctx.alert, event.seq)
    ));
    x.push_str(&format!("  <sender>{sender}</sender>\n"));
    x.push_str(&format!("  <sent>{}</sent>\n", cap_time(event.time)));
    x.push_str("  <status>Actual</status>\n");
    x.push_str(&format!("  <msgType>{kind}</msgType>\n"));
    x.push_str("  <source>roeh</source>\n");
    x.push_str("  <scope>Restricted</scope>\n");
    x.push_str(
        "  <restriction>For the control room, the police and municipal enforcement only\
         </restriction>\n",
    );
    if kind != "Alert"
        && let Some((seq, time)) = ctx.raised
    {
        x.push_str(&format!(
            "  <references>{sender},{},{}</references>\n",
            identifier(ctx.alert, seq),
            cap_time(time)
        ));
    }
    x.push_str(&format!("  <incidents>{}</incidents>\n", ctx.alert));
    x.push_str("  <info>\n");
    x.push_str("    <language>en</language>\n");
    x.push_str("    <category>Security</category>\n");
    x.push_str("    <category>Safety</category>\n");
    x.push_str(&format!("    <event>{what}</event>\n"));
    if event.state == "resolved" {
        x.push_str("    <responseType>AllClear</responseType>\n");
    } else if kind != "Cancel" {
        x.push_str("    <responseType>Monitor</responseType>\n");
    }
    x.push_str(&format!(
        "    <urgency>{}</urgency>\n",
        urgency(&ctx.severity, event.state)
    ));
    x.push_str(&format!(
        "    <severity>{}</severity>\n",
        severity(&ctx.severity)
    ));
    x.push_str(&format!(
        "    <certainty>{}</certainty>\n",
        certainty(event.state, by_person)
    ));
    x.push_str("    <senderName>roeh control room</senderName>\n");
    x.push_str(&format!(
        "    <headline>{}</headline>\n",
        text(&format!("{event_name} at {}", ctx.hotspot), 160)
    ));
    x.push_str(&format!(
        "    <description>Alert {}: {} ({}).</description>\n",
        text(event.state, 40),
        text(event.kind, 40),
        place
    ));
    for (name, value) in [
        ("roeh-event", event.kind),
        ("roeh-state", event.state),
        ("roeh-severity", ctx.severity.as_str()),
    ] {
        x.push_str(&format!(
            "    <parameter><valueName>{name}</valueName><value>{}</value></parameter>\n",
            text(value, 40)
        ));
    }
    x.push_str("    <area>\n");
    x.push_str(&format!("      <areaDesc>{place}</areaDesc>\n"));
    if ctx.lat.is_finite()
        && ctx.lon.is_finite()
        && (-90.0..=90.0).contains(&ctx.lat)
        && (-180.0..=180.0).contains(&ctx.lon)
    {
        x.push_str(&format!(
            "      <circle>{:.6},{:.6} {:.3}</circle>\n",
            ctx.lat,
            ctx.lon,
            settings.radius_m / 1000.0
        ));
    }
    x.push_str("    </area>\n");
    x.push_str("  </info>\n");
    x.push_str("</alert>\n");
    x
}

/// The context of alert `a`: its hotspot's name and point, the names of the rules that raised
/// it (incidents a person raised have the nil rule), and the event that raised it.
pub async fn context(store: &Store, a: &AlertRow) -> Result<CapContext> {
    let doc = store
        .get_hotspot(a.hotspot_id)
        .await?
        .and_then(|h| serde_json::from_str::<serde_json::Value>(&h.document).ok());
    let field = |k: &str| doc.as_ref().and_then(|d| d.get(k));
    let hotspot = field("name")
        .and_then(serde_json::Value::as_str)
        .map_or_else(|| a.hotspot_id.to_string(), str::to_string);
    let lat = a
        .lat
        .or_else(|| field("lat").and_then(serde_json::Value::as_f64))
        .unwrap_or(f64::NAN);
    let lon = a
        .lon
        .or_else(|| field("lon").and_then(serde_json::Value::as_f64))
        .unwrap_or(f64::NAN);
    let mut rules: Vec<String> = Vec::new();
    let mut seen = Vec::new();
    for i in &a.incidents {
        if i.rule_id.is_nil() || seen.contains(&i.rule_id) {
            continue;
        }
        seen.push(i.rule_id);
        let name = store
            .get_rule(i.rule_id)
            .await?
            .and_then(|r| serde_json::from_str::<serde_json::Value>(&r.document).ok())
            .and_then(|d| d.get("name").and_then(|n| n.as_str().map(str::to_string)))
            .unwrap_or_else(|| "Detection rule".into());
        if !rules.contains(&name) {
            rules.push(name);
        }
    }
    let raised = store
        .alert_events_of(a.id)
        .await?
        .into_iter()
        .find(|e| e.kind == "raised")
        .map(|e| (e.seq, e.time));
    Ok(CapContext {
        alert: a.id,
        hotspot,
        lat,
        lon,
        severity: a.severity.clone(),
        rules,
        raised,
    })
}

fn what_plain(ctx: &CapContext) -> String {
    if ctx.rules.is_empty() {
        "Reported by an operator".into()
    } else {
        ctx.rules.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> CapContext {
        CapContext {
            alert: Uuid::from_u128(0x1234),
            hotspot: "Herzl & 5th <north>".into(),
            lat: 32.0853,
            lon: 34.7818,
            severity: "high".into(),
            rules: vec!["Fight".into(), "Crowding".into()],
            raised: Some((7, WallTime::from_secs(1_800_000_000))),
        }
    }

    #[test]
    fn the_life_of_an_alert_is_alert_update_and_cancel() {
        assert_eq!(msg_type("raised", "new"), "Alert");
        assert_eq!(msg_type("claim", "claimed"), "Update");
        assert_eq!(msg_type("merged", "dispatched"), "Update");
        assert_eq!(msg_type("resolve", "resolved"), "Update");
        assert_eq!(msg_type("false_alarm", "false_alarm"), "Cancel");
        assert_eq!(severity("critical"), "Extreme");
        assert_eq!(severity("low"), "Minor");
        assert_eq!(severity("odd"), "Unknown");
        assert_eq!(urgency("low", "new"), "Expected");
        assert_eq!(urgency("high", "new"), "Immediate");
        assert_eq!(urgency("low", "on_scene"), "Immediate");
        assert_eq!(urgency("critical", "resolved"), "Past");
        assert_eq!(certainty("new", false), "Possible");
        assert_eq!(certainty("new", true), "Likely");
        assert_eq!(certainty("on_scene", false), "Observed");
        assert_eq!(certainty("false_alarm", true), "Unlikely");
    }

    #[test]
    fn times_have_the_form_the_schema_accepts() {
        let t = WallTime(1_800_000_000 * 1_000_000 + 999_999);
        assert_eq!(cap_time(t), "2027-01-15T08:00:00+00:00");
    }

    #[test]
    fn a_message_escapes_names_and_references_the_alert_message() {
        let c = ctx();
        let raise = message(
            &CapSettings::default(),
            &c,
            &CapEvent {
                seq: 7,
                time: WallTime::from_secs(1_800_000_000),
                kind: "raised",
                state: "new",
            },
        );
        assert!(raise.contains("<msgType>Alert</msgType>"));
        assert!(!raise.contains("<references>"));
        assert!(raise.contains("Herzl &amp; 5th &lt;north&gt;"));
        assert!(!raise.contains("<north>"));
        assert!(raise.contains("<circle>32.085300,34.781800 0.100</circle>"));
        assert!(raise.contains("<identifier>roeh-00000000-0000-0000-0000-000000001234-7"));
        let cancel = message(
            &CapSettings::default(),
            &c,
            &CapEvent {
                seq: 9,
                time: WallTime::from_secs(1_800_000_100),
                kind: "false_alarm",
                state: "false_alarm",
            },
        );
        assert!(cancel.contains("<msgType>Cancel</msgType>"));
        assert!(cancel.contains(
            "<references>roeh,roeh-00000000-0000-0000-0000-000000001234-7,\
             2027-01-15T08:00:00+00:00</references>"
        ));
        assert!(!cancel.contains("<responseType>"));
    }

    #[test]
    fn senders_with_spaces_commas_or_markup_are_refused() {
        let mut s = CapSettings::default();
        assert!(s.check().is_ok());
        for bad in ["", "a b", "a,b", "a<b", "a&b", "a\tb"] {
            s.sender = bad.into();
            assert!(s.check().is_err(), "{bad:?}");
        }
        s.sender = "roeh@city.example".into();
        s.radius_m = 0.0;
        assert!(s.check().is_err());
        s.radius_m = f64::NAN;
        assert!(s.check().is_err());
    }
}
