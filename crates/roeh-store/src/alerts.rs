//! Alerts, patrol units, dispatches and receipts (`migrations/sqlite/0007_alerts.sql`).
//!
//! Invariants:
//! - every change of an alert appends its event row to `alert_events` in the same transaction
//!   as the change (persisted before it is pushed); the event's `seq` is the push sequence
//!   number and only grows (the table refuses UPDATE and DELETE);
//! - state changes are compare-and-set on the state and claimer the caller decided from
//!   ([`Store::alert_transition`]): a change decided on stale data is refused
//!   (`FailedPrecondition`), never applied over another;
//! - the lifecycle rules live in roeh-alerts; this module takes their decisions as arguments and
//!   closures and stores them, so it does not depend on that crate;
//! - an incident joins at most one alert (unique `incident_id`);
//! - a receipt id is stored once per unit; a replay returns what was stored and changes nothing.

use crate::{Db, DbConn, DbRow};
use crate::{
    Error, Result, Store, db, execute, execute_found, fetch_all, fetch_optional, opt_time, to_i64,
    to_u64, to_uuid,
};
use roeh_domain::{CameraId, ErrorKind, WallTime};
use sqlx::{Row, Transaction};
use std::collections::HashMap;
use uuid::Uuid;

/// Most alerts or events one listing returns.
pub const MAX_ALERT_LIST: u32 = 1000;

/// The terminal states: an alert in one of them takes no incidents and no changes.
pub const TERMINAL_ALERT_STATES: [&str; 2] = ["resolved", "false_alarm"];

/// One incident gathered by an alert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertIncident {
    /// The incident.
    pub incident_id: Uuid,
    /// The rule that opened it.
    pub rule_id: Uuid,
    /// The camera that saw it.
    pub camera: CameraId,
    /// When it opened.
    pub opened_at: WallTime,
}

/// A stored alert with its incidents (oldest first).
#[derive(Clone, Debug, PartialEq)]
pub struct AlertRow {
    /// Id.
    pub id: Uuid,
    /// The hotspot.
    pub hotspot_id: Uuid,
    /// `low`, `medium`, `high` or `critical`.
    pub severity: String,
    /// Larger is more urgent.
    pub priority: u8,
    /// Lifecycle state name (roeh-alerts `AlertState`).
    pub state: String,
    /// The claiming user.
    pub claimed_by: Option<i64>,
    /// The hotspot's latitude when raised.
    pub lat: Option<f64>,
    /// The hotspot's longitude when raised.
    pub lon: Option<f64>,
    /// When raised.
    pub created_at: WallTime,
    /// Last change.
    pub updated_at: WallTime,
    /// When its latest incident opened.
    pub last_incident_at: WallTime,
    /// First claim.
    pub claimed_at: Option<WallTime>,
    /// First acknowledgement.
    pub acknowledged_at: Option<WallTime>,
    /// Escalation.
    pub escalated_at: Option<WallTime>,
    /// Resolution or false-alarm mark.
    pub closed_at: Option<WallTime>,
    /// Its incidents, oldest first.
    pub incidents: Vec<AlertIncident>,
}

/// A new alert, raised by its first incident.
#[derive(Clone, Debug, PartialEq)]
pub struct NewAlert {
    /// Id.
    pub id: Uuid,
    /// The hotspot.
    pub hotspot_id: Uuid,
    /// Severity name.
    pub severity: String,
    /// Priority.
    pub priority: u8,
    /// The hotspot's position.
    pub lat: Option<f64>,
    /// The hotspot's position.
    pub lon: Option<f64>,
    /// When raised.
    pub created_at: WallTime,
}

/// An incident of an alert raised by hand, with the end of its evidence window.
#[derive(Clone, Debug, PartialEq)]
pub struct ManualIncident {
    /// The incident as stored at open (closed at once, at its `opened_at`).
    pub incident: crate::NewIncident,
    /// End of its evidence window.
    pub evidence_end: WallTime,
}

/// How an existing alert changes when an incident joins it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergeUpdate {
    /// The alert's severity afterwards.
    pub severity: String,
    /// Its priority afterwards.
    pub priority: u8,
}

/// One row of the alert event log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertEventRow {
    /// The push sequence number.
    pub seq: u64,
    /// The alert.
    pub alert_id: Uuid,
    /// When.
    pub time: WallTime,
    /// `raised`, `merged`, an action name (`claim`, `dispatch`, …), `note` or `receipt`.
    pub kind: String,
    /// Who (username, or `system`).
    pub actor: String,
    /// The alert's state after the event.
    pub state: String,
    /// The unit a dispatch or receipt concerns.
    pub unit_id: Option<Uuid>,
    /// JSON object with the event's details.
    pub detail: String,
}

/// An event to append with a change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAlertEvent {
    /// Event kind.
    pub kind: String,
    /// Who.
    pub actor: String,
    /// The unit concerned.
    pub unit_id: Option<Uuid>,
    /// JSON object.
    pub detail: String,
}

/// A state change decided by the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertChange {
    /// The state the decision was made from.
    pub from_state: String,
    /// The claimer the decision was made with.
    pub from_claimed_by: Option<i64>,
    /// The new state.
    pub to_state: String,
    /// The new claimer.
    pub claimed_by: Option<i64>,
    /// When.
    pub at: WallTime,
}

/// A patrol unit.
#[derive(Clone, Debug, PartialEq)]
pub struct UnitRow {
    /// Id.
    pub id: Uuid,
    /// Name (also its user's name).
    pub name: String,
    /// The unit's user.
    pub user_id: i64,
    /// Last reported latitude.
    pub lat: Option<f64>,
    /// Last reported longitude.
    pub lon: Option<f64>,
    /// `available`, `busy` or `off_duty`.
    pub status: String,
    /// When registered.
    pub created_at: WallTime,
    /// Last report.
    pub updated_at: WallTime,
    /// `joint`, `police`, `municipal` or `volunteer` (`migrations/sqlite/0009_units.sql`).
    pub kind: String,
}

/// An alert sent to a unit, with the unit's receipts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DispatchRow {
    /// The alert.
    pub alert_id: Uuid,
    /// The unit.
    pub unit_id: Uuid,
    /// The dispatch event's seq.
    pub seq: u64,
    /// When dispatched.
    pub dispatched_at: WallTime,
    /// By whom.
    pub dispatched_by: String,
    /// `delivered` receipt.
    pub delivered_at: Option<WallTime>,
    /// `accepted` receipt.
    pub accepted_at: Option<WallTime>,
    /// `arrived` receipt.
    pub arrived_at: Option<WallTime>,
    /// `closed` receipt.
    pub closed_at: Option<WallTime>,
    /// The short text sent with the dispatch.
    pub text: Option<String>,
}

/// What storing a receipt did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReceiptStored {
    /// The id was stored before, for this alert and kind; nothing changed.
    Replayed {
        /// The stored alert.
        alert_id: Uuid,
        /// The stored kind.
        kind: String,
    },
    /// Stored now. `event` is `None` when this kind was recorded before under another id.
    Recorded {
        /// The dispatch afterwards.
        dispatch: Box<DispatchRow>,
        /// The event appended.
        event: Option<Box<AlertEventRow>>,
    },
}

/// A receipt from a unit's client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewReceipt<'a> {
    /// The unit.
    pub unit: Uuid,
    /// Chosen by the client, unique per unit.
    pub receipt_id: &'a str,
    /// The alert.
    pub alert: Uuid,
    /// `delivered`, `accepted`, `arrived` or `closed`.
    pub kind: &'a str,
    /// When received.
    pub at: WallTime,
    /// The unit's username (the event's actor).
    pub actor: &'a str,
}

/// Filter for [`Store::list_alerts`]: each `None` matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertFilter {
    /// Only this state.
    pub state: Option<String>,
    /// Only this hotspot.
    pub hotspot: Option<Uuid>,
    /// Only alerts listed after this one (older, or raised at the same time with a smaller
    /// id): the pagination cursor. An unknown id matches nothing.
    pub before_id: Option<Uuid>,
    /// Only alerts raised at or after this.
    pub since: Option<WallTime>,
    /// At most this many (0: 100; capped at [`MAX_ALERT_LIST`]).
    pub limit: u32,
}

/// Closed alerts and false alarms of one (rule, camera).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrecisionRow {
    /// The rule.
    pub rule_id: Uuid,
    /// The camera.
    pub camera: CameraId,
    /// Alerts resolved or marked false.
    pub closed: u64,
    /// Alerts marked false.
    pub false_alarms: u64,
}

macro_rules! alert_cols {
    () => {
        "id, hotspot_id, severity, priority, state, claimed_by, lat, lon, \
     created_at, updated_at, last_incident_at, claimed_at, acknowledged_at, escalated_at, \
     closed_at"
    };
}
macro_rules! event_cols {
    () => {
        "seq, alert_id, time, kind, actor, state, unit_id, detail"
    };
}
macro_rules! unit_cols {
    () => {
        "id, name, user_id, lat, lon, status, created_at, updated_at, kind"
    };
}
macro_rules! dispatch_cols {
    () => {
        "alert_id, unit_id, seq, dispatched_at, dispatched_by, \
     delivered_at, accepted_at, arrived_at, closed_at, text"
    };
}

fn alert_from_row(r: &DbRow) -> Result<AlertRow> {
    let e = || db("reading alert");
    let priority: i64 = r.try_get("priority").map_err(e())?;
    Ok(AlertRow {
        id: to_uuid(&r.try_get::<String, _>("id").map_err(e())?, "alert id")?,
        hotspot_id: to_uuid(
            &r.try_get::<String, _>("hotspot_id").map_err(e())?,
            "alert hotspot",
        )?,
        severity: r.try_get("severity").map_err(e())?,
        priority: u8::try_from(priority)
            .map_err(|_| Error::new(ErrorKind::DataLoss, "stored alert priority out of range"))?,
        state: r.try_get("state").map_err(e())?,
        claimed_by: r.try_get("claimed_by").map_err(e())?,
        lat: r.try_get("lat").map_err(e())?,
        lon: r.try_get("lon").map_err(e())?,
        created_at: WallTime(r.try_get("created_at").map_err(e())?),
        updated_at: WallTime(r.try_get("updated_at").map_err(e())?),
        last_incident_at: WallTime(r.try_get("last_incident_at").map_err(e())?),
        claimed_at: opt_time(r, "claimed_at", "reading alert row")?,
        acknowledged_at: opt_time(r, "acknowledged_at", "reading alert row")?,
        escalated_at: opt_time(r, "escalated_at", "reading alert row")?,
        closed_at: opt_time(r, "closed_at", "reading alert row")?,
        incidents: Vec::new(),
    })
}

fn event_from_row(r: &DbRow) -> Result<AlertEventRow> {
    let e = || db("reading alert event");
    let unit: Option<String> = r.try_get("unit_id").map_err(e())?;
    Ok(AlertEventRow {
        seq: to_u64(r.try_get("seq").map_err(e())?, "event seq")?,
        alert_id: to_uuid(
            &r.try_get::<String, _>("alert_id").map_err(e())?,
            "event alert",
        )?,
        time: WallTime(r.try_get("time").map_err(e())?),
        kind: r.try_get("kind").map_err(e())?,
        actor: r.try_get("actor").map_err(e())?,
        state: r.try_get("state").map_err(e())?,
        unit_id: unit.map(|u| to_uuid(&u, "event unit")).transpose()?,
        detail: r.try_get("detail").map_err(e())?,
    })
}

fn unit_from_row(r: &DbRow) -> Result<UnitRow> {
    let e = || db("reading unit");
    Ok(UnitRow {
        id: to_uuid(&r.try_get::<String, _>("id").map_err(e())?, "unit id")?,
        name: r.try_get("name").map_err(e())?,
        user_id: r.try_get("user_id").map_err(e())?,
        lat: r.try_get("lat").map_err(e())?,
        lon: r.try_get("lon").map_err(e())?,
        status: r.try_get("status").map_err(e())?,
        created_at: WallTime(r.try_get("created_at").map_err(e())?),
        updated_at: WallTime(r.try_get("updated_at").map_err(e())?),
        kind: r.try_get("kind").map_err(e())?,
    })
}

fn dispatch_from_row(r: &DbRow) -> Result<DispatchRow> {
    let e = || db("reading dispatch");
    Ok(DispatchRow {
        alert_id: to_uuid(
            &r.try_get::<String, _>("alert_id").map_err(e())?,
            "dispatch alert",
        )?,
        unit_id: to_uuid(
            &r.try_get::<String, _>("unit_id").map_err(e())?,
            "dispatch unit",
        )?,
        seq: to_u64(r.try_get("seq").map_err(e())?, "dispatch seq")?,
        dispatched_at: WallTime(r.try_get("dispatched_at").map_err(e())?),
        dispatched_by: r.try_get("dispatched_by").map_err(e())?,
        delivered_at: opt_time(r, "delivered_at", "reading alert row")?,
        accepted_at: opt_time(r, "accepted_at", "reading alert row")?,
        arrived_at: opt_time(r, "arrived_at", "reading alert row")?,
        closed_at: opt_time(r, "closed_at", "reading alert row")?,
        text: r.try_get("text").map_err(e())?,
    })
}

fn incident_from_row(r: &DbRow) -> Result<AlertIncident> {
    let e = || db("reading alert incident");
    let cam: String = r.try_get("camera_id").map_err(e())?;
    Ok(AlertIncident {
        incident_id: to_uuid(
            &r.try_get::<String, _>("incident_id").map_err(e())?,
            "incident id",
        )?,
        rule_id: to_uuid(&r.try_get::<String, _>("rule_id").map_err(e())?, "rule id")?,
        camera: CameraId::parse(&cam)
            .map_err(|_| Error::new(ErrorKind::DataLoss, "stored camera id is not a UUID"))?,
        opened_at: WallTime(r.try_get("opened_at").map_err(e())?),
    })
}

async fn incidents_of(tx: &mut sqlx::AnyConnection, alert: &mut AlertRow) -> Result<()> {
    let rows = sqlx::query(
        "SELECT incident_id, rule_id, camera_id, opened_at FROM alert_incidents \
         WHERE alert_id = $1 ORDER BY opened_at, incident_id",
    )
    .bind(alert.id.to_string())
    .fetch_all(&mut *tx)
    .await
    .map_err(db("reading alert incidents"))?;
    alert.incidents = rows.iter().map(incident_from_row).collect::<Result<_>>()?;
    Ok(())
}

/// Fills the incidents of every alert in `alerts` with one query, each alert's oldest first
/// (the order [`incidents_of`] gives).
async fn incidents_of_all(tx: &mut sqlx::AnyConnection, alerts: &mut [AlertRow]) -> Result<()> {
    if alerts.is_empty() {
        return Ok(());
    }
    let ids = serde_json::to_string(&alerts.iter().map(|a| a.id.to_string()).collect::<Vec<_>>())
        .map_err(|e| Error::new(ErrorKind::Internal, e.to_string()))?;
    macro_rules! sql {
        ($d:ident) => {
            concat!(
                "SELECT alert_id, incident_id, rule_id, camera_id, opened_at FROM alert_incidents \
                 WHERE alert_id IN (",
                crate::json_ids!($d, "$1"),
                ") ORDER BY alert_id, opened_at, incident_id"
            )
        };
    }
    let sql = crate::in_dialect!(crate::Backend::of(tx), sql);
    let rows = sqlx::query(sql)
        .bind(ids)
        .fetch_all(&mut *tx)
        .await
        .map_err(db("reading alert incidents"))?;
    let mut by_alert: HashMap<Uuid, Vec<AlertIncident>> = HashMap::new();
    for r in &rows {
        let alert = to_uuid(
            &r.try_get::<String, _>("alert_id")
                .map_err(db("reading alert incident"))?,
            "incident alert",
        )?;
        by_alert
            .entry(alert)
            .or_default()
            .push(incident_from_row(r)?);
    }
    for a in alerts {
        a.incidents = by_alert.remove(&a.id).unwrap_or_default();
    }
    Ok(())
}

async fn load_alert(tx: &mut sqlx::AnyConnection, id: Uuid) -> Result<Option<AlertRow>> {
    let row = sqlx::query(concat!(
        "SELECT ",
        alert_cols!(),
        " FROM alerts WHERE id = $1"
    ))
    .bind(id.to_string())
    .fetch_optional(&mut *tx)
    .await
    .map_err(db("reading alert"))?;
    let Some(row) = row else { return Ok(None) };
    let mut a = alert_from_row(&row)?;
    incidents_of(tx, &mut a).await?;
    Ok(Some(a))
}

async fn append_event(
    tx: &mut sqlx::AnyConnection,
    alert: Uuid,
    time: WallTime,
    state: &str,
    ev: &NewAlertEvent,
) -> Result<AlertEventRow> {
    let r = sqlx::query_scalar::<_, i64>(
        "INSERT INTO alert_events (alert_id, time, kind, actor, state, unit_id, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING seq",
    )
    .bind(alert.to_string())
    .bind(time.0)
    .bind(&ev.kind)
    .bind(&ev.actor)
    .bind(state)
    .bind(ev.unit_id.map(|u| u.to_string()))
    .bind(&ev.detail)
    .fetch_one(&mut *tx)
    .await
    .map_err(db("appending alert event"))?;
    Ok(AlertEventRow {
        seq: to_u64(r, "event seq")?,
        alert_id: alert,
        time,
        kind: ev.kind.clone(),
        actor: ev.actor.clone(),
        state: state.to_string(),
        unit_id: ev.unit_id,
        detail: ev.detail.clone(),
    })
}

impl Store {
    /// Commits a transaction that appended alert events, then tells their watchers.
    async fn commit_events(&self, tx: Transaction<'static, Db>) -> Result<()> {
        tx.commit().await.map_err(db("committing alert change"))?;
        self.changed(crate::Change::AlertEvents);
        Ok(())
    }
}

/// Sets the state, claimer and the first-time stamps a state implies; compare-and-set.
async fn set_state(tx: &mut sqlx::AnyConnection, id: Uuid, c: &AlertChange) -> Result<()> {
    let q = sqlx::query(
        "UPDATE alerts SET state = $1, claimed_by = $2, updated_at = $3, \
         claimed_at = CASE WHEN $4 = 'claimed' THEN COALESCE(claimed_at, $5) ELSE claimed_at END, \
         acknowledged_at = CASE WHEN $6 = 'acknowledged' THEN COALESCE(acknowledged_at, $7) \
             ELSE acknowledged_at END, \
         escalated_at = CASE WHEN $8 = 'escalated' THEN COALESCE(escalated_at, $9) \
             ELSE escalated_at END, \
         closed_at = CASE WHEN $10 IN ('resolved', 'false_alarm') THEN $11 ELSE closed_at END \
         WHERE id = $12 AND state = $13 AND claimed_by IS NOT DISTINCT FROM $14",
    )
    .bind(&c.to_state)
    .bind(c.claimed_by)
    .bind(c.at.0)
    .bind(&c.to_state)
    .bind(c.at.0)
    .bind(&c.to_state)
    .bind(c.at.0)
    .bind(&c.to_state)
    .bind(c.at.0)
    .bind(&c.to_state)
    .bind(c.at.0)
    .bind(id.to_string())
    .bind(&c.from_state)
    .bind(c.from_claimed_by);
    if execute(&mut *tx, q, "changing alert state").await? == 0 {
        return Err(Error::new(
            ErrorKind::FailedPrecondition,
            "the alert changed meanwhile; reload and retry",
        ));
    }
    crate::tally::mark_alert(&mut *tx, id).await?;
    Ok(())
}

impl Store {
    /// Alerting incidents opened at or after `since` that no alert has gathered yet, oldest
    /// first: `(incident id, opened_at)`.
    #[tracing::instrument(skip_all)]
    pub async fn unalerted_incidents(
        &self,
        since: WallTime,
        limit: u32,
    ) -> Result<Vec<(Uuid, WallTime)>> {
        let rows = sqlx::query(
            "SELECT id, opened_at FROM incidents WHERE alerting AND opened_at >= $1 \
             AND id NOT IN (SELECT incident_id FROM alert_incidents) \
             ORDER BY opened_at, id LIMIT $2",
        )
        .bind(since.0)
        .bind(i64::from(limit.min(MAX_ALERT_LIST)))
        .fetch_all(&self.pool)
        .await
        .map_err(db("listing incidents without alert"))?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("id").map_err(db("reading incident"))?;
                Ok((
                    to_uuid(&id, "incident id")?,
                    WallTime(r.try_get("opened_at").map_err(db("reading incident"))?),
                ))
            })
            .collect()
    }

    /// Gathers an incident into an alert, in one transaction: the newest open alert of the
    /// hotspot is offered to `join`; if it answers `Some`, the incident joins that alert (a
    /// `merged` event); otherwise `new` is raised with it (a `raised` event). `Ok(None)` if the
    /// incident already belongs to an alert.
    #[tracing::instrument(skip_all)]
    pub async fn raise_or_merge_alert(
        &self,
        incident: &AlertIncident,
        new: &NewAlert,
        actor: &str,
        join: impl FnOnce(&AlertRow) -> Option<MergeUpdate>,
    ) -> Result<Option<(AlertRow, AlertEventRow, bool)>> {
        let mut tx = self.begin("starting alert transaction").await?;
        let taken: Option<(String,)> =
            sqlx::query_as("SELECT alert_id FROM alert_incidents WHERE incident_id = $1")
                .bind(incident.incident_id.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db("checking incident"))?;
        if taken.is_some() {
            return Ok(None);
        }
        let candidate = open_alert_of(&mut tx, new.hotspot_id).await?;
        let merge = candidate.as_ref().and_then(|a| join(a).map(|m| (a, m)));
        let detail = serde_json::json!({
            "incident": incident.incident_id,
            "rule": incident.rule_id,
            "camera": incident.camera.to_string(),
        })
        .to_string();
        let (alert_id, state, kind, merged) =
            raise_or_merge_in(&mut tx, new, merge, incident.opened_at).await?;
        link_incident(&mut tx, alert_id, incident).await?;
        let ev = append_event(
            &mut tx,
            alert_id,
            new.created_at,
            &state,
            &NewAlertEvent {
                kind: kind.into(),
                actor: actor.into(),
                unit_id: None,
                detail,
            },
        )
        .await?;
        let alert = load_alert(&mut tx, alert_id)
            .await?
            .ok_or_else(|| Error::new(ErrorKind::Internal, "alert vanished"))?;
        self.commit_events(tx).await?;
        Ok(Some((alert, ev, merged)))
    }

    /// Raises an alert by hand (an operator's, from a live picture or a resident's call), in one
    /// transaction: `incidents` (one per camera of the evidence, closed at once with their
    /// evidence windows) are stored and gathered into `new`, or into the hotspot's open alert
    /// that `join` accepts; one `raised` (or `merged`) event by `actor` carries `detail`.
    /// Nothing of it is visible before the commit, so the incident gathering never sees these
    /// incidents without their alert.
    #[tracing::instrument(skip_all)]
    pub async fn raise_manual_alert(
        &self,
        incidents: &[ManualIncident],
        new: &NewAlert,
        actor: &str,
        detail: serde_json::Value,
        join: impl FnOnce(&AlertRow) -> Option<MergeUpdate>,
    ) -> Result<(AlertRow, AlertEventRow, bool)> {
        let Some(first) = incidents.first() else {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "a raised alert needs at least one camera",
            ));
        };
        let mut tx = self.begin("starting alert transaction").await?;
        for m in incidents {
            crate::detection::insert_incident_in(&mut tx, &m.incident).await?;
            crate::detection::close_incident_in(
                &mut tx,
                m.incident.id,
                m.incident.peak_score,
                m.incident.opened_at,
                m.evidence_end,
            )
            .await?;
        }
        let candidate = open_alert_of(&mut tx, new.hotspot_id).await?;
        let merge = candidate.as_ref().and_then(|a| join(a).map(|m| (a, m)));
        let (alert_id, state, kind, merged) =
            raise_or_merge_in(&mut tx, new, merge, first.incident.opened_at).await?;
        for m in incidents {
            let i = &m.incident;
            let link = AlertIncident {
                incident_id: i.id,
                rule_id: i.rule_id,
                camera: i.camera,
                opened_at: i.opened_at,
            };
            link_incident(&mut tx, alert_id, &link).await?;
        }
        let ev = append_event(
            &mut tx,
            alert_id,
            new.created_at,
            &state,
            &NewAlertEvent {
                kind: kind.into(),
                actor: actor.into(),
                unit_id: None,
                detail: detail.to_string(),
            },
        )
        .await?;
        let alert = load_alert(&mut tx, alert_id)
            .await?
            .ok_or_else(|| Error::new(ErrorKind::Internal, "alert vanished"))?;
        self.commit_events(tx).await?;
        Ok((alert, ev, merged))
    }

    /// An alert by id, with its incidents.
    #[tracing::instrument(skip_all)]
    pub async fn get_alert(&self, id: Uuid) -> Result<Option<AlertRow>> {
        let mut conn = self.pool.acquire().await.map_err(db("reading alert"))?;
        load_alert(&mut conn, id).await
    }

    /// How many alerts are in each state (states with none are absent).
    #[tracing::instrument(skip_all)]
    pub async fn count_alerts_by_state(&self) -> Result<Vec<(String, u64)>> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT state, COUNT(*) FROM alerts GROUP BY state ORDER BY state")
                .fetch_all(&self.pool)
                .await
                .map_err(db("counting alerts"))?;
        rows.into_iter()
            .map(|(s, n)| Ok((s, to_u64(n, "alert count")?)))
            .collect()
    }

    /// Alerts matching `filter`, newest first, with their incidents.
    #[tracing::instrument(skip_all)]
    pub async fn list_alerts(&self, f: &AlertFilter) -> Result<Vec<AlertRow>> {
        let limit = match f.limit {
            0 => 100,
            n => n.min(MAX_ALERT_LIST),
        };
        let hotspot = f.hotspot.map(|h| h.to_string());
        let mut conn = self.pool.acquire().await.map_err(db("listing alerts"))?;
        let rows = sqlx::query(concat!(
            "SELECT ",
            alert_cols!(),
            " FROM alerts WHERE ($1 IS NULL OR state = $2) \
             AND ($3 IS NULL OR hotspot_id = $4) \
             AND ($5 IS NULL OR (created_at, id) < (SELECT created_at, id FROM alerts WHERE id = $6)) \
             AND ($7 IS NULL OR created_at >= $8) ORDER BY created_at DESC, id DESC LIMIT $9"
        ))
        .bind(f.state.clone())
        .bind(f.state.clone())
        .bind(hotspot.clone())
        .bind(hotspot)
        .bind(f.before_id.map(|t| t.to_string()))
        .bind(f.before_id.map(|t| t.to_string()))
        .bind(f.since.map(|t| t.0))
        .bind(f.since.map(|t| t.0))
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await
        .map_err(db("listing alerts"))?;
        let mut out = rows
            .iter()
            .map(alert_from_row)
            .collect::<Result<Vec<_>>>()?;
        incidents_of_all(&mut conn, &mut out).await?;
        Ok(out)
    }

    /// Alerts still `new` or `claimed` that never escalated, oldest first (the escalation
    /// timer's candidates).
    #[tracing::instrument(skip_all)]
    pub async fn alerts_awaiting_acknowledgement(&self) -> Result<Vec<AlertRow>> {
        let q = sqlx::query(concat!(
            "SELECT ",
            alert_cols!(),
            " FROM alerts WHERE state IN ('new', 'claimed') \
             AND escalated_at IS NULL ORDER BY created_at LIMIT $1"
        ))
        .bind(i64::from(MAX_ALERT_LIST));
        fetch_all(
            &self.pool,
            q,
            "listing alerts awaiting acknowledgement",
            alert_from_row,
        )
        .await
    }

    /// Changes an alert's state as decided by the caller from `change.from_*`, appending
    /// `event` in the same transaction. `FailedPrecondition` if the alert is no longer in that
    /// state or held by that claimer; `NotFound` if it does not exist.
    #[tracing::instrument(skip_all)]
    pub async fn alert_transition(
        &self,
        id: Uuid,
        change: &AlertChange,
        event: &NewAlertEvent,
    ) -> Result<(AlertRow, AlertEventRow)> {
        let mut tx = self.begin("starting alert transaction").await?;
        if load_alert(&mut tx, id).await?.is_none() {
            return Err(Error::new(ErrorKind::NotFound, "no such alert"));
        }
        set_state(&mut tx, id, change).await?;
        let ev = append_event(&mut tx, id, change.at, &change.to_state, event).await?;
        let alert = load_alert(&mut tx, id)
            .await?
            .ok_or_else(|| Error::new(ErrorKind::Internal, "alert vanished"))?;
        self.commit_events(tx).await?;
        Ok((alert, ev))
    }

    /// Dispatches an alert to `units` (state change as in [`Store::alert_transition`]): one
    /// `dispatch` event and one dispatch row per unit not dispatched to it before; each unit is
    /// marked busy. `NotFound` if a unit does not exist.
    #[tracing::instrument(skip_all)]
    pub async fn dispatch_alert(
        &self,
        id: Uuid,
        change: &AlertChange,
        units: &[Uuid],
        actor: &str,
        text: Option<&str>,
    ) -> Result<(AlertRow, Vec<AlertEventRow>)> {
        let mut tx = self.begin("starting alert transaction").await?;
        if load_alert(&mut tx, id).await?.is_none() {
            return Err(Error::new(ErrorKind::NotFound, "no such alert"));
        }
        set_state(&mut tx, id, change).await?;
        let mut events = Vec::new();
        for unit in units {
            let exists: Option<(String,)> = sqlx::query_as("SELECT id FROM units WHERE id = $1")
                .bind(unit.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db("checking unit"))?;
            if exists.is_none() {
                return Err(Error::new(
                    ErrorKind::NotFound,
                    format!("no such unit {unit}"),
                ));
            }
            let already: Option<(i64,)> =
                sqlx::query_as("SELECT seq FROM dispatches WHERE alert_id = $1 AND unit_id = $2")
                    .bind(id.to_string())
                    .bind(unit.to_string())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db("checking dispatch"))?;
            if already.is_some() {
                continue;
            }
            let ev = append_event(
                &mut tx,
                id,
                change.at,
                &change.to_state,
                &NewAlertEvent {
                    kind: "dispatch".into(),
                    actor: actor.into(),
                    unit_id: Some(*unit),
                    detail: match text {
                        Some(t) => serde_json::json!({ "unit": unit, "text": t }),
                        None => serde_json::json!({ "unit": unit }),
                    }
                    .to_string(),
                },
            )
            .await?;
            let q = sqlx::query(
                "INSERT INTO dispatches (alert_id, unit_id, seq, dispatched_at, dispatched_by, text) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id.to_string())
            .bind(unit.to_string())
            .bind(to_i64(ev.seq, "seq")?)
            .bind(change.at.0)
            .bind(actor)
            .bind(text);
            execute(&mut *tx, q, "recording dispatch").await?;
            let q = sqlx::query("UPDATE units SET status = 'busy', updated_at = $1 WHERE id = $2")
                .bind(change.at.0)
                .bind(unit.to_string());
            execute(&mut *tx, q, "marking unit busy").await?;
            events.push(ev);
        }
        if events.is_empty() {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                "every unit named was dispatched to this alert before",
            ));
        }
        let alert = load_alert(&mut tx, id)
            .await?
            .ok_or_else(|| Error::new(ErrorKind::Internal, "alert vanished"))?;
        self.commit_events(tx).await?;
        Ok((alert, events))
    }

    /// Appends a note (or any event that changes no state) to an alert. `NotFound` if the
    /// alert does not exist.
    #[tracing::instrument(skip_all)]
    pub async fn alert_note(
        &self,
        id: Uuid,
        at: WallTime,
        event: &NewAlertEvent,
    ) -> Result<AlertEventRow> {
        let mut tx = self.begin("starting alert transaction").await?;
        let alert = load_alert(&mut tx, id)
            .await?
            .ok_or_else(|| Error::new(ErrorKind::NotFound, "no such alert"))?;
        let ev = append_event(&mut tx, id, at, &alert.state, event).await?;
        self.commit_events(tx).await?;
        Ok(ev)
    }

    /// Stores a unit's receipt, in one transaction. A replayed `receipt_id` returns what was
    /// stored and changes nothing. Otherwise the dispatch's time for `kind` is set if it was
    /// not, and a `receipt` event appended; `on_record(state)` may then change the alert's
    /// state (an arrival puts it on scene): it gets the current state and answers the new one.
    /// `NotFound` if the alert was not dispatched to this unit.
    #[tracing::instrument(skip_all)]
    pub async fn record_receipt(
        &self,
        r: &NewReceipt<'_>,
        on_record: impl FnOnce(&str) -> Option<String>,
    ) -> Result<ReceiptStored> {
        let NewReceipt {
            unit,
            receipt_id,
            alert,
            kind,
            at,
            actor,
        } = *r;
        let set_sql = match kind {
            "delivered" => {
                "UPDATE dispatches SET delivered_at = $1 WHERE alert_id = $2 AND unit_id = $3 \
                 AND delivered_at IS NULL"
            }
            "accepted" => {
                "UPDATE dispatches SET accepted_at = $1 WHERE alert_id = $2 AND unit_id = $3 \
                 AND accepted_at IS NULL"
            }
            "arrived" => {
                "UPDATE dispatches SET arrived_at = $1 WHERE alert_id = $2 AND unit_id = $3 \
                 AND arrived_at IS NULL"
            }
            "closed" => {
                "UPDATE dispatches SET closed_at = $1 WHERE alert_id = $2 AND unit_id = $3 \
                 AND closed_at IS NULL"
            }
            _ => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("unknown receipt kind {kind:?}"),
                ));
            }
        };
        let mut tx = self.begin("starting alert transaction").await?;
        let seen: Option<(String, String)> = sqlx::query_as(
            "SELECT alert_id, kind FROM receipts WHERE unit_id = $1 AND receipt_id = $2",
        )
        .bind(unit.to_string())
        .bind(receipt_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db("checking receipt"))?;
        if let Some((a, k)) = seen {
            return Ok(ReceiptStored::Replayed {
                alert_id: to_uuid(&a, "receipt alert")?,
                kind: k,
            });
        }
        let get_dispatch = concat!(
            "SELECT ",
            dispatch_cols!(),
            " FROM dispatches WHERE alert_id = $1 AND unit_id = $2"
        );
        let d = sqlx::query(get_dispatch)
            .bind(alert.to_string())
            .bind(unit.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db("reading dispatch"))?
            .ok_or_else(|| Error::new(ErrorKind::NotFound, "no such dispatch"))?;
        let before = dispatch_from_row(&d)?;
        let q = sqlx::query(
            "INSERT INTO receipts (unit_id, receipt_id, alert_id, kind, received_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(unit.to_string())
        .bind(receipt_id)
        .bind(alert.to_string())
        .bind(kind)
        .bind(at.0);
        execute(&mut *tx, q, "storing receipt").await?;
        let set = sqlx::query(set_sql)
            .bind(at.0)
            .bind(alert.to_string())
            .bind(unit.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db("recording receipt"))?;
        let mut event = None;
        if set.rows_affected() > 0 {
            let current = load_alert(&mut tx, alert)
                .await?
                .ok_or_else(|| Error::new(ErrorKind::NotFound, "no such alert"))?;
            let state = match on_record(&current.state) {
                Some(to) if to != current.state => {
                    set_state(
                        &mut tx,
                        alert,
                        &AlertChange {
                            from_state: current.state.clone(),
                            from_claimed_by: current.claimed_by,
                            to_state: to.clone(),
                            claimed_by: current.claimed_by,
                            at,
                        },
                    )
                    .await?;
                    to
                }
                _ => current.state.clone(),
            };
            event = Some(
                append_event(
                    &mut tx,
                    alert,
                    at,
                    &state,
                    &NewAlertEvent {
                        kind: "receipt".into(),
                        actor: actor.into(),
                        unit_id: Some(unit),
                        detail: serde_json::json!({ "kind": kind, "receipt_id": receipt_id })
                            .to_string(),
                    },
                )
                .await?,
            );
        }
        let d = sqlx::query(get_dispatch)
            .bind(alert.to_string())
            .bind(unit.to_string())
            .fetch_one(&mut *tx)
            .await
            .map_err(db("reading dispatch"))?;
        let dispatch = dispatch_from_row(&d)?;
        debug_assert_eq!(before.seq, dispatch.seq);
        self.commit_events(tx).await?;
        Ok(ReceiptStored::Recorded {
            dispatch: Box::new(dispatch),
            event: event.map(Box::new),
        })
    }

    /// Events with `seq > after`, oldest first, at most `limit` (capped at
    /// [`MAX_ALERT_LIST`]).
    #[tracing::instrument(skip_all)]
    pub async fn alert_events_after(&self, after: u64, limit: u32) -> Result<Vec<AlertEventRow>> {
        let q = sqlx::query(concat!(
            "SELECT ",
            event_cols!(),
            " FROM alert_events WHERE seq > $1 ORDER BY seq LIMIT $2"
        ))
        .bind(to_i64(after, "seq")?)
        .bind(i64::from(limit.clamp(1, MAX_ALERT_LIST)));
        fetch_all(&self.pool, q, "reading alert events", event_from_row).await
    }

    /// The events of one alert, oldest first.
    #[tracing::instrument(skip_all)]
    pub async fn alert_events_of(&self, alert: Uuid) -> Result<Vec<AlertEventRow>> {
        let q = sqlx::query(concat!(
            "SELECT ",
            event_cols!(),
            " FROM alert_events WHERE alert_id = $1 ORDER BY seq"
        ))
        .bind(alert.to_string());
        fetch_all(&self.pool, q, "reading alert events", event_from_row).await
    }

    /// The highest event seq so far (0 when there is none).
    #[tracing::instrument(skip_all)]
    pub async fn last_alert_seq(&self) -> Result<u64> {
        let (v,): (Option<i64>,) = sqlx::query_as("SELECT MAX(seq) FROM alert_events")
            .fetch_one(&self.pool)
            .await
            .map_err(db("reading last seq"))?;
        to_u64(v.unwrap_or(0), "seq")
    }

    /// Registers a unit of `kind` for an existing user. `AlreadyExists` if the name or user is
    /// taken; `InvalidArgument` for an unknown kind (the table's check).
    #[tracing::instrument(skip_all)]
    pub async fn create_unit(
        &self,
        id: Uuid,
        name: &str,
        kind: &str,
        user_id: i64,
        now: WallTime,
    ) -> Result<()> {
        let q = sqlx::query(concat!(
            "INSERT INTO units (",
            unit_cols!(),
            ") VALUES ($1, $2, $3, NULL, NULL, 'off_duty', $4, $5, $6)"
        ))
        .bind(id.to_string())
        .bind(name)
        .bind(user_id)
        .bind(now.0)
        .bind(now.0)
        .bind(kind);
        execute(&self.pool, q, "registering unit").await?;
        Ok(())
    }

    /// A unit by id.
    #[tracing::instrument(skip_all)]
    pub async fn get_unit(&self, id: Uuid) -> Result<Option<UnitRow>> {
        let q = sqlx::query(concat!(
            "SELECT ",
            unit_cols!(),
            " FROM units WHERE id = $1"
        ))
        .bind(id.to_string());
        fetch_optional(&self.pool, q, "reading unit", unit_from_row).await
    }

    /// The unit a user signs in as.
    #[tracing::instrument(skip_all)]
    pub async fn unit_of_user(&self, user_id: i64) -> Result<Option<UnitRow>> {
        let q = sqlx::query(concat!(
            "SELECT ",
            unit_cols!(),
            " FROM units WHERE user_id = $1"
        ))
        .bind(user_id);
        fetch_optional(&self.pool, q, "reading unit", unit_from_row).await
    }

    /// Every unit, by name.
    #[tracing::instrument(skip_all)]
    pub async fn list_units(&self) -> Result<Vec<UnitRow>> {
        let q = sqlx::query(concat!(
            "SELECT ",
            unit_cols!(),
            " FROM units ORDER BY name"
        ));
        fetch_all(&self.pool, q, "listing units", unit_from_row).await
    }

    /// Records a unit's position. `NotFound` if it does not exist.
    #[tracing::instrument(skip_all)]
    pub async fn set_unit_position(
        &self,
        id: Uuid,
        lat: f64,
        lon: f64,
        now: WallTime,
    ) -> Result<()> {
        if !(lat.is_finite() && lon.is_finite()) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "position is not finite",
            ));
        }
        let q = sqlx::query("UPDATE units SET lat = $1, lon = $2, updated_at = $3 WHERE id = $4")
            .bind(lat)
            .bind(lon)
            .bind(now.0)
            .bind(id.to_string());
        execute_found(&self.pool, q, "recording unit position", "no such unit").await
    }

    /// Records a unit's status (`available`, `busy`, `off_duty`). `NotFound` if it does not
    /// exist.
    #[tracing::instrument(skip_all)]
    pub async fn set_unit_status(&self, id: Uuid, status: &str, now: WallTime) -> Result<()> {
        let q = sqlx::query("UPDATE units SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(status)
            .bind(now.0)
            .bind(id.to_string());
        execute_found(&self.pool, q, "recording unit status", "no such unit").await
    }

    /// The dispatches of an alert, in dispatch order.
    #[tracing::instrument(skip_all)]
    pub async fn dispatches_of_alert(&self, alert: Uuid) -> Result<Vec<DispatchRow>> {
        let q = sqlx::query(concat!(
            "SELECT ",
            dispatch_cols!(),
            " FROM dispatches WHERE alert_id = $1 ORDER BY seq"
        ))
        .bind(alert.to_string());
        fetch_all(&self.pool, q, "listing dispatches", dispatch_from_row).await
    }

    /// A unit's dispatches it has not closed, of alerts still open, in dispatch order (at most
    /// [`MAX_ALERT_LIST`]): what the unit's client shows after a reconnect.
    #[tracing::instrument(skip_all)]
    pub async fn open_dispatches_of_unit(&self, unit: Uuid) -> Result<Vec<DispatchRow>> {
        let q = sqlx::query(concat!(
            "SELECT ",
            dispatch_cols!(),
            " FROM dispatches WHERE unit_id = $1 AND closed_at IS NULL \
             AND alert_id IN (SELECT id FROM alerts WHERE state NOT IN ('resolved', 'false_alarm')) \
             ORDER BY seq LIMIT $2"
        ))
        .bind(unit.to_string())
        .bind(i64::from(MAX_ALERT_LIST));
        fetch_all(
            &self.pool,
            q,
            "listing a unit's dispatches",
            dispatch_from_row,
        )
        .await
    }

    /// Closed alerts and false alarms per (rule, camera) of the incidents they gathered.
    #[tracing::instrument(skip_all)]
    pub async fn alert_precision(&self) -> Result<Vec<PrecisionRow>> {
        let rows = sqlx::query(
            "SELECT ai.rule_id, ai.camera_id, COUNT(DISTINCT a.id) AS closed, \
             COUNT(DISTINCT CASE WHEN a.state = 'false_alarm' THEN a.id END) AS false_alarms \
             FROM alert_incidents ai JOIN alerts a ON a.id = ai.alert_id \
             WHERE a.state IN ('resolved', 'false_alarm') \
             GROUP BY ai.rule_id, ai.camera_id ORDER BY ai.rule_id, ai.camera_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db("computing precision"))?;
        rows.iter()
            .map(|r| {
                let e = || db("reading precision");
                let cam: String = r.try_get("camera_id").map_err(e())?;
                Ok(PrecisionRow {
                    rule_id: to_uuid(&r.try_get::<String, _>("rule_id").map_err(e())?, "rule")?,
                    camera: CameraId::parse(&cam).map_err(|_| {
                        Error::new(ErrorKind::DataLoss, "stored camera id is not a UUID")
                    })?,
                    closed: to_u64(r.try_get("closed").map_err(e())?, "count")?,
                    false_alarms: to_u64(r.try_get("false_alarms").map_err(e())?, "count")?,
                })
            })
            .collect()
    }
}

/// The newest open alert of `hotspot`, with its incidents.
async fn open_alert_of(conn: &mut DbConn, hotspot: Uuid) -> Result<Option<AlertRow>> {
    let open = sqlx::query(concat!(
        "SELECT ",
        alert_cols!(),
        " FROM alerts WHERE hotspot_id = $1 \
         AND state NOT IN ('resolved', 'false_alarm') \
         ORDER BY last_incident_at DESC, created_at DESC LIMIT 1"
    ))
    .bind(hotspot.to_string())
    .fetch_optional(&mut *conn)
    .await
    .map_err(db("finding open alert"))?;
    match open {
        Some(r) => {
            let mut a = alert_from_row(&r)?;
            incidents_of(conn, &mut a).await?;
            Ok(Some(a))
        }
        None => Ok(None),
    }
}

/// Merges into the chosen open alert, or raises `new`: `(alert id, its state, event kind,
/// merged)`. `opened_at` is the gathered incident's start.
async fn raise_or_merge_in(
    conn: &mut DbConn,
    new: &NewAlert,
    merge: Option<(&AlertRow, MergeUpdate)>,
    opened_at: WallTime,
) -> Result<(Uuid, String, &'static str, bool)> {
    match merge {
        Some((a, m)) => {
            let q = sqlx::query(
                "UPDATE alerts SET severity = $1, priority = $2, updated_at = $3, \
                 last_incident_at = CASE WHEN last_incident_at > $4 THEN last_incident_at ELSE $4 END \
                 WHERE id = $5",
            )
            .bind(&m.severity)
            .bind(i64::from(m.priority))
            .bind(new.created_at.0)
            .bind(opened_at.0)
            .bind(a.id.to_string());
            execute(&mut *conn, q, "merging into alert").await?;
            crate::tally::mark_alert(&mut *conn, a.id).await?;
            Ok((a.id, a.state.clone(), "merged", true))
        }
        None => {
            let q = sqlx::query(concat!(
                "INSERT INTO alerts (",
                alert_cols!(),
                ") VALUES ($1, $2, $3, $4, 'new', NULL, $5, $6, \
                 $7, $8, $9, NULL, NULL, NULL, NULL)"
            ))
            .bind(new.id.to_string())
            .bind(new.hotspot_id.to_string())
            .bind(&new.severity)
            .bind(i64::from(new.priority))
            .bind(new.lat)
            .bind(new.lon)
            .bind(new.created_at.0)
            .bind(new.created_at.0)
            .bind(opened_at.0);
            execute(&mut *conn, q, "raising alert").await?;
            crate::tally::mark_day(&mut *conn, new.created_at.0).await?;
            Ok((new.id, "new".to_string(), "raised", false))
        }
    }
}

/// Links an incident to an alert.
async fn link_incident(conn: &mut DbConn, alert: Uuid, incident: &AlertIncident) -> Result<()> {
    let q = sqlx::query(
        "INSERT INTO alert_incidents (alert_id, incident_id, rule_id, camera_id, opened_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(alert.to_string())
    .bind(incident.incident_id.to_string())
    .bind(incident.rule_id.to_string())
    .bind(incident.camera.to_string())
    .bind(incident.opened_at.0);
    execute(&mut *conn, q, "linking incident").await?;
    crate::tally::mark_day(&mut *conn, incident.opened_at.0).await?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::tests::open_tmp;

    fn incident(id: u128, opened_at: WallTime) -> AlertIncident {
        AlertIncident {
            incident_id: Uuid::from_u128(id),
            rule_id: Uuid::from_u128(id + 1_000),
            camera: CameraId::new_random(),
            opened_at,
        }
    }

    /// Raises an alert for `hotspot` with `incidents[0]` and merges the others into it.
    async fn raise(
        store: &Store,
        hotspot: Uuid,
        created_at: WallTime,
        incidents: &[AlertIncident],
    ) {
        let new = NewAlert {
            id: Uuid::new_v4(),
            hotspot_id: hotspot,
            severity: "high".into(),
            priority: 3,
            lat: None,
            lon: None,
            created_at,
        };
        for (i, inc) in incidents.iter().enumerate() {
            let (_, _, merged) = store
                .raise_or_merge_alert(inc, &new, "system", |_| {
                    Some(MergeUpdate {
                        severity: "high".into(),
                        priority: 3,
                    })
                })
                .await
                .unwrap()
                .unwrap();
            assert_eq!(merged, i > 0);
        }
    }

    #[tokio::test]
    async fn a_listing_returns_every_alerts_incidents_in_order() {
        let (_dir, store) = open_tmp().await;
        let t = WallTime::from_secs(1_800_000_000);
        let at = |s: i64| WallTime(t.0 + s * 1_000_000);
        // Three alerts, each merging incidents that arrive out of order and whose ids do not
        // follow their times; in the middle one two incidents open at the same time (then
        // ordered by incident id, the larger one merged first).
        let groups = [
            vec![
                incident(12, at(2)),
                incident(11, at(3)),
                incident(13, at(1)),
            ],
            vec![
                incident(22, at(5)),
                incident(21, at(5)),
                incident(23, at(4)),
            ],
            vec![incident(30, at(9)), incident(31, at(8))],
        ];
        let mut raised = Vec::new();
        for (i, g) in groups.iter().enumerate() {
            let hotspot = Uuid::new_v4();
            let created = at(i64::try_from(i).unwrap() * 10);
            raise(&store, hotspot, created, g).await;
            let mut want = g.clone();
            want.sort_by_key(|inc| (inc.opened_at, inc.incident_id));
            raised.push((hotspot, want));
        }
        let listed = store.list_alerts(&AlertFilter::default()).await.unwrap();
        // Newest first: the alerts in reverse order of raising.
        assert_eq!(
            listed.iter().map(|a| a.hotspot_id).collect::<Vec<_>>(),
            raised.iter().rev().map(|(h, _)| *h).collect::<Vec<_>>()
        );
        for (a, (_, want)) in listed.iter().zip(raised.iter().rev()) {
            assert_eq!(&a.incidents, want, "incidents of alert {}", a.id);
            // The listing agrees with the single-alert read.
            let one = store.get_alert(a.id).await.unwrap().unwrap();
            assert_eq!(one.incidents, a.incidents);
        }
        // A page holding only some alerts carries only theirs.
        let page = store
            .list_alerts(&AlertFilter {
                limit: 1,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].incidents, raised[2].1);
    }
}
