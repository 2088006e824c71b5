//! Alerts and patrol units: the routes under `/api/alerts` and `/api/units`. The alert service
//! itself (incidents → alerts, escalation timer, push fan-out, clip links) is
//! [`roeh_alerts::service`]; its public names are re-exported here.
//!
//! Invariants:
//! - every alerting incident becomes part of exactly one alert: a new one, or the open alert of
//!   its hotspot when they are within the merge window (roeh-alerts decides);
//! - every change is decided by roeh-alerts' lifecycle from the stored state and written by the
//!   store as compare-and-set together with its event row; only then is it pushed;
//! - operators with a scope see and act on only the alerts of their cameras and hotspots; an
//!   alert out of scope answers exactly like one that does not exist;
//! - a unit acts only as itself (`/api/units/me/…`) and only on alerts dispatched to it; a
//!   replayed receipt id changes nothing, the same id with other content is refused (409).

use crate::extract::{ApiJson, ApiQuery, path_id};
use crate::{ApiError, AppState};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
pub use roeh_alerts::service::{
    AlertSummary, AlertsService, AlertsSettings, CLIP_LINK_TTL, IncidentRef, UnitKind, Viewer,
};
use roeh_alerts::service::{actor_of, row_in_scope};
use roeh_alerts::{
    Action, AlertState, DispatchTimes, LatLon, ReceiptKind, Replay, ResponseTimes, UnitCandidate,
    UnitStatus,
};
use roeh_auth::{Principal, Role, Scope};
use roeh_domain::{CameraId, ErrorKind, WallTime};
use roeh_store::{
    AlertFilter, AlertRow, DispatchRow, NewAlertEvent, NewReceipt, NewToken, NewUser,
    ReceiptStored, TokenKind,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

// ----- handlers -----

async fn load_visible(st: &AppState, who: &Principal, id: &str) -> Result<AlertRow, ApiError> {
    let id = path_id(id, "alert")?;
    let a = st
        .store
        .get_alert(id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such alert"))?;
    if !row_in_scope(&a, &who.scope) {
        return Err(ApiError::not_found("no such alert"));
    }
    Ok(a)
}

/// `GET /api/alerts` filters and cursor.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// Only alerts in this state.
    state: Option<String>,
    /// Only alerts of this hotspot.
    hotspot: Option<Uuid>,
    /// Cursor: the last alert of the previous page; the next page starts after it.
    before: Option<Uuid>,
    /// Page size (default 100, max 1000).
    limit: Option<u32>,
}

/// `GET /api/alerts`: newest first, filtered by state, hotspot and the caller's scope.
pub(crate) async fn list(
    State(st): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Vec<AlertSummary>>, ApiError> {
    if let Some(s) = &q.state {
        AlertState::parse(s)?;
    }
    let limit = crate::page_limit(q.limit)?.min(roeh_store::MAX_ALERT_LIST) as usize;
    if let Some(b) = q.before {
        // The cursor must be an alert of the caller's list: a missing one and one out of scope
        // are refused alike.
        if load_visible(&st, &who, &b.to_string()).await.is_err() {
            return Err(ApiError::invalid(
                "before does not name an alert of this list",
            ));
        }
    }
    let mut filter = AlertFilter {
        state: q.state,
        hotspot: q.hotspot,
        before_id: q.before,
        since: None,
        limit: limit as u32,
    };
    // Pages are filled up to `limit` with alerts of the caller's scope.
    let mut out = Vec::new();
    loop {
        let rows = st.store.list_alerts(&filter).await?;
        // Visibility is decided on the stored row; summaries are built only for what is shown.
        for a in rows.iter().filter(|a| row_in_scope(a, &who.scope)) {
            out.push(st.alerts.summary(a).await?);
            if out.len() == limit {
                return Ok(Json(out));
            }
        }
        match rows.last() {
            Some(last) if rows.len() == limit => filter.before_id = Some(last.id),
            _ => break,
        }
    }
    Ok(Json(out))
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct DispatchView {
    unit: Uuid,
    /// The unit's name (absent if the unit is gone).
    unit_name: Option<String>,
    dispatched_at: String,
    dispatched_by: String,
    delivered_at: Option<String>,
    accepted_at: Option<String>,
    arrived_at: Option<String>,
    closed_at: Option<String>,
    response: ResponseTimes,
}

fn dispatch_view(d: &DispatchRow, unit_name: Option<String>) -> DispatchView {
    let t = |w: Option<WallTime>| w.map(WallTime::to_rfc3339);
    DispatchView {
        unit: d.unit_id,
        unit_name,
        dispatched_at: d.dispatched_at.to_rfc3339(),
        dispatched_by: d.dispatched_by.clone(),
        delivered_at: t(d.delivered_at),
        accepted_at: t(d.accepted_at),
        arrived_at: t(d.arrived_at),
        closed_at: t(d.closed_at),
        response: ResponseTimes::of(&DispatchTimes {
            dispatched_at: d.dispatched_at,
            delivered_at: d.delivered_at,
            accepted_at: d.accepted_at,
            arrived_at: d.arrived_at,
            closed_at: d.closed_at,
        }),
    }
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct EventView {
    seq: u64,
    time: String,
    kind: String,
    actor: String,
    state: String,
    unit: Option<Uuid>,
    detail: serde_json::Value,
}

/// `GET /api/alerts/{id}`: an alert with its dispatches and events.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct AlertDetail {
    alert: AlertSummary,
    dispatches: Vec<DispatchView>,
    events: Vec<EventView>,
}

/// `GET /api/alerts/{id}`: the alert, its dispatches with response times, and its events.
pub(crate) async fn get(
    State(st): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<AlertDetail>, ApiError> {
    let a = load_visible(&st, &who, &id).await?;
    let summary = st.alerts.summary(&a).await?;
    let mut dispatches: Vec<DispatchView> = Vec::new();
    for d in st.store.dispatches_of_alert(a.id).await? {
        let name = st.store.get_unit(d.unit_id).await?.map(|u| u.name);
        dispatches.push(dispatch_view(&d, name));
    }
    let events: Vec<EventView> = st
        .store
        .alert_events_of(a.id)
        .await?
        .into_iter()
        .map(|e| EventView {
            seq: e.seq,
            time: e.time.to_rfc3339(),
            kind: e.kind,
            actor: e.actor,
            state: e.state,
            unit: e.unit_id,
            detail: serde_json::from_str(&e.detail).unwrap_or(serde_json::Value::Null),
        })
        .collect();
    Ok(Json(AlertDetail {
        alert: summary,
        dispatches,
        events,
    }))
}

/// An optional note with a state change.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ActionBody {
    #[serde(default)]
    note: Option<String>,
}

fn clean_note(n: &str) -> Result<String, ApiError> {
    let n = n.trim();
    if n.is_empty() || n.chars().count() > 2000 {
        return Err(ApiError::invalid("a note is 1 to 2000 characters"));
    }
    Ok(roeh_auth::audit::clean(n, 8000))
}

async fn act(
    st: AppState,
    who: Principal,
    id: String,
    body: axum::body::Bytes,
    action: Action,
) -> Result<Json<AlertSummary>, ApiError> {
    let b: ActionBody = if body.iter().all(u8::is_ascii_whitespace) {
        ActionBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::invalid(format!("bad JSON body: {e}")))?
    };
    let a = load_visible(&st, &who, &id).await?;
    let detail = match &b.note {
        Some(n) => serde_json::json!({ "note": clean_note(n)? }),
        None => serde_json::json!({}),
    };
    let row = st
        .alerts
        .change(&a, action, &actor_of(&who), &who.username, detail)
        .await?;
    Ok(Json(st.alerts.summary(&row).await?))
}

macro_rules! action_handler {
    ($name:ident, $action:expr, $doc:literal) => {
        #[doc = $doc]
        pub(crate) async fn $name(
            State(st): State<AppState>,
            axum::Extension(who): axum::Extension<Principal>,
            Path(id): Path<String>,
            body: axum::body::Bytes,
        ) -> Result<Json<AlertSummary>, ApiError> {
            act(st, who, id, body, $action).await
        }
    };
}

action_handler!(claim, Action::Claim, "`POST /api/alerts/{id}/claim`.");
action_handler!(
    acknowledge,
    Action::Acknowledge,
    "`POST /api/alerts/{id}/acknowledge`."
);
action_handler!(resolve, Action::Resolve, "`POST /api/alerts/{id}/resolve`.");
action_handler!(
    false_alarm,
    Action::FalseAlarm,
    "`POST /api/alerts/{id}/false-alarm`: counts against the precision of its rules."
);
action_handler!(
    escalate,
    Action::Escalate,
    "`POST /api/alerts/{id}/escalate`: passes the alert to supervisors."
);

/// `POST /api/alerts/{id}/note` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoteBody {
    text: String,
}

/// `POST /api/alerts/{id}/note`: appends a note (in any state).
pub(crate) async fn note(
    State(st): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<NoteBody>,
) -> Result<Response, ApiError> {
    let text = clean_note(&b.text)?;
    let a = load_visible(&st, &who, &id).await?;
    let ev = st
        .store
        .alert_note(
            a.id,
            st.clock.wall(),
            &NewAlertEvent {
                kind: "note".into(),
                actor: who.username.clone(),
                unit_id: None,
                detail: serde_json::json!({ "text": text }).to_string(),
            },
        )
        .await?;
    let seq = ev.seq;
    st.alerts.publish(&[ev]).await;
    Ok((StatusCode::CREATED, Json(NoteView { seq })).into_response())
}

/// The answer of `POST /api/alerts/{id}/note`: the note's event.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct NoteView {
    /// The event's seq.
    seq: u64,
}

/// `POST /api/alerts/{id}/dispatch` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DispatchBody {
    #[schemars(length(min = 1, max = 20))]
    units: Vec<Uuid>,
    /// A short text for the units (what to look for, who called); the one thing besides the
    /// place that a volunteer patrol receives.
    #[serde(default)]
    #[schemars(length(max = 280))]
    text: Option<String>,
}

/// Most characters of a dispatch's text.
const MAX_DISPATCH_TEXT: usize = 280;

/// `POST /api/alerts/{id}/dispatch`: sends the alert to units.
pub(crate) async fn dispatch(
    State(st): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<DispatchBody>,
) -> Result<Json<DispatchedView>, ApiError> {
    if b.units.is_empty() || b.units.len() > 20 {
        return Err(ApiError::invalid("name 1 to 20 units"));
    }
    let text = b.text.as_deref().map(str::trim).filter(|t| !t.is_empty());
    if let Some(t) = text
        && (t.chars().count() > MAX_DISPATCH_TEXT || t.chars().any(|c| c.is_control() && c != '\n'))
    {
        return Err(ApiError::invalid(format!(
            "text: at most {MAX_DISPATCH_TEXT} characters, no control characters"
        )));
    }
    let a = load_visible(&st, &who, &id).await?;
    let change = st.alerts.decide(&a, Action::Dispatch, &actor_of(&who))?;
    let (row, events) = st
        .store
        .dispatch_alert(a.id, &change, &b.units, &who.username, text)
        .await?;
    st.alerts.publish(&events).await;
    Ok(Json(DispatchedView {
        alert: st.alerts.summary(&row).await?,
        dispatched: events.iter().filter_map(|e| e.unit_id).collect(),
    }))
}

/// The answer of `POST /api/alerts/{id}/dispatch`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct DispatchedView {
    /// The alert after the dispatch.
    alert: AlertSummary,
    /// The units it was sent to.
    dispatched: Vec<Uuid>,
}

/// One figure of `GET /api/alerts/precision`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct PrecisionView {
    /// The rule.
    rule: Uuid,
    /// The camera.
    #[schemars(with = "Uuid")]
    camera: CameraId,
    /// Alerts resolved or marked false.
    closed: u64,
    /// Alerts marked false.
    false_alarms: u64,
    /// 1 − false alarms / closed; `null` when none is closed.
    precision: Option<f64>,
}

/// `GET /api/alerts/precision`: per (rule, camera), 1 − false alarms / closed alerts, for the
/// caller's scope.
pub(crate) async fn precision(
    State(st): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
) -> Result<Json<Vec<PrecisionView>>, ApiError> {
    let rows = st.store.alert_precision().await?;
    let reach = crate::reach::reach(&st, &who.scope).await?;
    Ok(Json(
        rows.into_iter()
            .filter(|r| reach.allows(r.camera))
            .map(|r| PrecisionView {
                rule: r.rule_id,
                camera: r.camera,
                closed: r.closed,
                false_alarms: r.false_alarms,
                precision: roeh_alerts::precision(r.false_alarms, r.closed),
            })
            .collect(),
    ))
}

// ----- units -----

/// `POST /api/units` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegisterBody {
    name: String,
    /// What the unit is; `joint` when absent.
    #[serde(default)]
    kind: UnitKind,
}

/// `POST /api/units` (admins and supervisors): registers a unit, creating its user (role
/// `unit`), and returns its device token once.
pub(crate) async fn register_unit(
    State(st): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
    body: Result<ApiJson<RegisterBody>, ApiError>,
) -> Result<Response, ApiError> {
    if !matches!(who.role, Role::Admin | Role::Supervisor) {
        return Err(ApiError::new(
            ErrorKind::PermissionDenied,
            "only supervisors and admins register units",
        ));
    }
    let ApiJson(b) = body?;
    roeh_auth::validate_username(&b.name)?;
    let now = st.clock.wall();
    // Units sign in with their device token only: the password is random and never shown.
    let (unusable, _) = roeh_auth::new_token();
    let user = st
        .store
        .create_user(
            &NewUser {
                username: b.name.clone(),
                password_hash: st.auth.hash_password(unusable.expose())?,
                role: Role::Unit.as_str().into(),
                scope: Scope::unrestricted().to_json()?,
            },
            now,
        )
        .await?;
    let id = Uuid::new_v4();
    st.store
        .create_unit(id, &b.name, b.kind.as_str(), user, now)
        .await?;
    let (text, hash) = roeh_auth::new_token();
    let expires = now.plus(st.alerts.settings().unit_token_ttl);
    st.store
        .create_token(&NewToken {
            hash,
            user_id: user,
            kind: TokenKind::Api,
            label: "unit device".into(),
            created_at: now,
            expires_at: expires,
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(RegisteredView {
            id,
            name: b.name,
            token: text.expose().to_string(),
            expires_at: expires.to_rfc3339(),
            push_key: push_key_view(&st.alerts),
        }),
    )
        .into_response())
}

/// The answer of `POST /api/units`: the unit and its device token, shown once.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct RegisteredView {
    id: Uuid,
    name: String,
    /// The device token, for `Authorization: Bearer`.
    token: String,
    /// RFC 3339.
    expires_at: String,
    /// The unit's client verifies every pushed message with this key.
    push_key: PushKeyView,
}

/// `GET /api/units` query.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UnitsQuery {
    /// An alert (UUID): also list the available units nearest to its hotspot.
    alert: Option<String>,
}

/// `GET /api/units[?alert=ID]`: every unit; with `alert`, also the nearest available ones to
/// its hotspot.
pub(crate) async fn list_units(
    State(st): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
    ApiQuery(q): ApiQuery<UnitsQuery>,
) -> Result<Json<UnitsView>, ApiError> {
    let units = st.store.list_units().await?;
    let view: Vec<UnitView> = units
        .iter()
        .map(|u| UnitView {
            id: u.id,
            name: u.name.clone(),
            kind: u.kind.clone(),
            status: u.status.clone(),
            position: match (u.lat, u.lon) {
                (Some(lat), Some(lon)) => Some(LatLon { lat, lon }),
                _ => None,
            },
            updated_at: u.updated_at.to_rfc3339(),
        })
        .collect();
    let mut out = UnitsView {
        units: view,
        suggested: None,
    };
    if let Some(alert) = q.alert {
        let a = load_visible(&st, &who, &alert).await?;
        let suggested = match (a.lat, a.lon) {
            (Some(lat), Some(lon)) => {
                let cands: Vec<UnitCandidate> = units
                    .iter()
                    .map(|u| UnitCandidate {
                        id: u.id,
                        status: UnitStatus::parse(&u.status).unwrap_or(UnitStatus::OffDuty),
                        position: match (u.lat, u.lon) {
                            (Some(a), Some(b)) => LatLon::new(a, b).ok(),
                            _ => None,
                        },
                    })
                    .collect();
                roeh_alerts::nearest_available(
                    &cands,
                    LatLon { lat, lon },
                    st.alerts.settings().suggestions,
                )
            }
            _ => Vec::new(),
        };
        out.suggested = Some(suggested);
    }
    Ok(Json(out))
}

/// A patrol unit as `GET /api/units` shows it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct UnitView {
    id: Uuid,
    name: String,
    /// `joint`, `police`, `municipal` or `volunteer`.
    #[schemars(with = "UnitKind")]
    kind: String,
    /// What the unit last reported: `available`, `busy` or `off_duty`.
    status: String,
    /// Where it last reported to be; `null` before its first report.
    position: Option<LatLon>,
    /// RFC 3339.
    updated_at: String,
}

/// The answer of `GET /api/units[?alert=ID]`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct UnitsView {
    /// Every unit.
    units: Vec<UnitView>,
    /// With `alert`: the nearest available units to its hotspot, nearest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    suggested: Option<Vec<roeh_alerts::Suggestion>>,
}
/// `POST /api/units/me/position` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PositionBody {
    #[schemars(range(min = -90.0, max = 90.0))]
    lat: f64,
    #[schemars(range(min = -180.0, max = 180.0))]
    lon: f64,
}

/// `POST /api/units/me/position`: the calling unit reports where it is.
pub(crate) async fn my_position(
    State(st): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
    ApiJson(b): ApiJson<PositionBody>,
) -> Result<StatusCode, ApiError> {
    let p = LatLon::new(b.lat, b.lon)?;
    let unit = st.alerts.unit_of(&who).await?;
    st.store
        .set_unit_position(unit, p.lat, p.lon, st.clock.wall())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/units/me/status` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StatusBody {
    status: UnitStatus,
}

/// A dispatch as the unit it was sent to sees it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct MyDispatchView {
    /// The alert as it is now.
    alert: AlertSummary,
    /// The dispatch event's seq.
    seq: u64,
    /// When dispatched (RFC 3339).
    dispatched_at: String,
    /// The text the operator sent with the dispatch.
    text: Option<String>,
    /// Receipts sent so far (RFC 3339).
    delivered_at: Option<String>,
    accepted_at: Option<String>,
    arrived_at: Option<String>,
}

/// The calling unit and its open dispatches.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct MyAlertsView {
    /// The unit's id (as in push messages' `unit`).
    unit: Uuid,
    /// Its name.
    name: String,
    /// `available`, `busy` or `off_duty`.
    status: String,
    /// Dispatches it has not closed, of alerts still open, in dispatch order.
    dispatches: Vec<MyDispatchView>,
}

/// `GET /api/units/me/alerts`: the calling unit and its dispatches it has not closed, of alerts
/// still open (what its client shows after a reconnect, beside the push replay).
pub(crate) async fn my_alerts(
    State(st): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
) -> Result<Json<MyAlertsView>, ApiError> {
    let me = st
        .store
        .unit_of_user(who.user_id)
        .await?
        .ok_or_else(|| ApiError::not_found("this user is not a registered unit"))?;
    let unit = me.id;
    let volunteer = me.kind == UnitKind::Volunteer.as_str();
    let mut out = Vec::new();
    for d in st.store.open_dispatches_of_unit(unit).await? {
        let Some(a) = st.store.get_alert(d.alert_id).await? else {
            continue;
        };
        let t = |w: Option<roeh_domain::WallTime>| w.map(|w| w.to_rfc3339());
        let summary = st.alerts.summary(&a).await?;
        out.push(MyDispatchView {
            alert: if volunteer {
                summary.for_volunteer()
            } else {
                summary
            },
            text: d.text,
            seq: d.seq,
            dispatched_at: d.dispatched_at.to_rfc3339(),
            delivered_at: t(d.delivered_at),
            accepted_at: t(d.accepted_at),
            arrived_at: t(d.arrived_at),
        });
    }
    Ok(Json(MyAlertsView {
        unit,
        name: me.name,
        status: me.status,
        dispatches: out,
    }))
}

/// `GET /api/units/me/alerts/{id}/snapshot`: the snapshot of an alert dispatched to the calling
/// unit (its first incident's). Any other alert answers like a missing one.
pub(crate) async fn my_snapshot(
    State(st): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let missing = || ApiError::not_found("no such alert");
    let id = Uuid::parse_str(&id).map_err(|_| missing())?;
    if let Viewer::Volunteer(_) = st.alerts.viewer(&who).await? {
        return Err(ApiError::new(
            ErrorKind::PermissionDenied,
            "volunteer patrols receive no pictures",
        ));
    }
    let unit = st.alerts.unit_of(&who).await?;
    let dispatched = st
        .store
        .dispatches_of_alert(id)
        .await?
        .iter()
        .any(|d| d.unit_id == unit);
    if !dispatched {
        return Err(missing());
    }
    let alert = st.store.get_alert(id).await?.ok_or_else(missing)?;
    let first = match alert.incidents.first() {
        Some(i) => st.store.get_incident(i.incident_id).await?,
        None => None,
    };
    let Some(first) = first else {
        return Err(ApiError::not_found("the alert has no snapshot"));
    };
    crate::detection::snapshot_of(&st, first.snapshot).await
}

/// `POST /api/units/me/status`: available, busy or off duty.
pub(crate) async fn my_status(
    State(st): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
    ApiJson(b): ApiJson<StatusBody>,
) -> Result<StatusCode, ApiError> {
    let unit = st.alerts.unit_of(&who).await?;
    st.store
        .set_unit_status(unit, b.status.as_str(), st.clock.wall())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/units/me/receipts` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReceiptBody {
    /// Chosen by the client, unique per unit: a replay with the same id changes nothing.
    receipt_id: String,
    alert: Uuid,
    kind: ReceiptKind,
}

/// `POST /api/units/me/receipts`: delivered, accepted, arrived or closed, time-stamped on
/// receipt. 201 when recorded; 200 with `"replayed": true` for a replay; 409 when the id was
/// used for another alert or kind.
pub(crate) async fn my_receipt(
    State(st): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
    ApiJson(b): ApiJson<ReceiptBody>,
) -> Result<Response, ApiError> {
    let rid = b.receipt_id.trim();
    if rid.is_empty() || rid.len() > 100 || rid.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "receipt_id is 1 to 100 printable characters",
        ));
    }
    let unit = st.alerts.unit_of(&who).await?;
    let actor = actor_of(&who);
    let kind = b.kind;
    let stored = st
        .store
        .record_receipt(
            &NewReceipt {
                unit,
                receipt_id: rid,
                alert: b.alert,
                kind: kind.as_str(),
                at: st.clock.wall(),
                actor: &who.username,
            },
            |state| {
                if kind != ReceiptKind::Arrived {
                    return None;
                }
                let from = AlertState::parse(state).ok()?;
                roeh_alerts::transition(from, None, Action::Arrive, &actor)
                    .ok()
                    .map(|t| t.to.as_str().to_string())
            },
        )
        .await
        .map_err(|e| {
            if e.kind() == ErrorKind::NotFound {
                ApiError::not_found("no such dispatch")
            } else {
                e.into()
            }
        })?;
    match stored {
        ReceiptStored::Replayed { alert_id, kind: k } => {
            let seen = ReceiptKind::parse(&k)?;
            match roeh_alerts::replay(Some((alert_id, seen)), b.alert, kind) {
                Replay::Conflict => Err(ApiError::new(
                    ErrorKind::AlreadyExists,
                    "this receipt id was used for another receipt",
                )),
                Replay::Same | Replay::New => Ok((
                    StatusCode::OK,
                    Json(ReceiptView {
                        replayed: true,
                        dispatch: None,
                    }),
                )
                    .into_response()),
            }
        }
        ReceiptStored::Recorded { dispatch, event } => {
            if let Some(ev) = event {
                st.alerts.publish(&[*ev]).await;
            }
            Ok((
                StatusCode::CREATED,
                Json(ReceiptView {
                    replayed: false,
                    dispatch: Some(dispatch_view(&dispatch, Some(who.username.clone()))),
                }),
            )
                .into_response())
        }
    }
}

/// The answer of `POST /api/units/me/receipts`: a replay (200) carries no dispatch; a recorded
/// receipt (201) the dispatch with its times.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct ReceiptView {
    replayed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    dispatch: Option<DispatchView>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClipQuery {
    /// When the link expires, seconds since 1970.
    exp: i64,
    /// The link's signature, as issued with it.
    sig: String,
}

/// `GET /api/alerts/{id}/clip?exp=&sig=`: the MP4 of the alert's first incident's evidence
/// window, for a signed link ([`AlertsService::clip_link`]) instead of credentials. A bad or
/// expired signature is refused (403); the view is a custody event and audited.
pub(crate) async fn clip(
    State(st): State<AppState>,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    ApiQuery(q): ApiQuery<ClipQuery>,
) -> Result<Response, ApiError> {
    let denied = || ApiError::new(ErrorKind::PermissionDenied, "invalid or expired clip link");
    let id = Uuid::parse_str(&id).map_err(|_| denied())?;
    if !st.alerts.check_clip_link(id, q.exp, &q.sig) {
        return Err(denied());
    }
    let alert = st
        .store
        .get_alert(id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such alert"))?;
    let first = match alert.incidents.first() {
        Some(i) => st.store.get_incident(i.incident_id).await?,
        None => None,
    }
    .ok_or_else(|| ApiError::not_found("the alert has no incident"))?;
    let cam = st
        .store
        .get_camera(first.incident.camera)
        .await?
        .ok_or_else(|| ApiError::not_found("no such camera"))?;
    let start = first.incident.evidence_start;
    let end = first
        .evidence_end
        .unwrap_or_else(|| st.clock.wall())
        .max(start);
    crate::export::mp4_range(
        &st,
        &cam,
        start,
        end,
        &format!("clip-link:{id}"),
        crate::export::byte_range(&headers),
    )
    .await
}

/// The key push messages are signed with (`GET /api/push/key`, and in `POST /api/units`).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct PushKeyView {
    /// `Ed25519`.
    #[schemars(extend("const" = "Ed25519"))]
    algorithm: &'static str,
    /// The key's id, as in each envelope's `key`.
    key_id: String,
    /// The public key, PEM.
    public_key: String,
    /// The context the signature covers before the message bytes.
    context: String,
    /// How long a message stays valid, seconds.
    ttl_secs: u64,
}

fn push_key_view(svc: &AlertsService) -> PushKeyView {
    let (id, pem) = svc.push_key();
    PushKeyView {
        algorithm: "Ed25519",
        key_id: id.to_string(),
        public_key: pem,
        context: String::from_utf8_lossy(roeh_alerts::push::PUSH_CONTEXT).into_owned(),
        ttl_secs: svc.settings().push_ttl.as_secs(),
    }
}

/// `GET /api/push/key` (signed in): the key every push message is signed with, so clients can
/// verify them (see `roeh_alerts::push`).
pub(crate) async fn push_key(State(st): State<AppState>) -> Json<PushKeyView> {
    Json(push_key_view(&st.alerts))
}
