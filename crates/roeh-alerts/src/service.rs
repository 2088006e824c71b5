//! The alert service (feature `service`): gathers alerting incidents into alerts, runs the
//! escalation timer, writes every change through the store as compare-and-set with its event
//! row, signs each committed event into a push message and broadcasts it ([`Hub`]), and signs
//! the short-lived clip links of alerts. The HTTP crate keeps the routes, the push transports
//! (WebSocket, server-sent events) and their access policy.
//!
//! Invariants:
//! - every alerting incident becomes part of exactly one alert: a new one, or the open alert of
//!   its hotspot when they are within the merge window ([`crate::joins`]);
//! - every change is decided by [`crate::transition`] from the stored state and written by the
//!   store together with its event row; only then is it pushed;
//! - an event is pushed only after its row is committed, with the event's global `seq`;
//!   messages are signed once per event and shared by every subscriber;
//! - operators with a scope see only alerts of their cameras and hotspots; units only events of
//!   alerts dispatched to them, from their dispatch on; volunteer patrols a reduced message.

use crate::{
    Action, Actor, ActorRole, AlertState, AlertsConfig, Error, LatLon, MergeCandidate, Result,
    Severity,
};
use roeh_auth::{Permission, Principal, Role, Scope};
use roeh_domain::{CameraId, Clock, ErrorKind, WallTime};
use roeh_store::{
    AlertChange, AlertEventRow, AlertIncident, AlertRow, Change, MergeUpdate, NewAlert,
    NewAlertEvent, Store,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;
use uuid::Uuid;

impl From<roeh_store::Error> for Error {
    fn from(e: roeh_store::Error) -> Self {
        Error::new(e.kind(), e.chain())
    }
}

/// How many pending incidents one look gathers before it looks again.
const INGEST_PAGE: u32 = 100;

/// How soon a look that failed (the database busy or unreachable) is tried again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// Settings of the alert service.
#[derive(Clone, Debug)]
pub struct AlertsSettings {
    /// Lifecycle settings: merge window, escalation limits.
    pub alerts: AlertsConfig,
    /// How far a push subscriber may fall behind the live stream before it resyncs from the
    /// store.
    pub broadcast_capacity: usize,
    /// How often the store is also looked at for incidents and alerts this process did not
    /// write (another node's on one database, a command's); this process's own reach the service
    /// as they commit ([`roeh_store::Store::watch`]).
    pub poll_every: Duration,
    /// How old an incident may be and still raise an alert when first seen (at start-up).
    pub lookback: Duration,
    /// How many units to suggest for an alert.
    pub suggestions: usize,
    /// How long a unit's device token lasts.
    pub unit_token_ttl: Duration,
    /// How long a pushed message stays valid: clients reject a message whose `expires_at`
    /// (its signing time plus this) has passed, and resync from their last accepted seq.
    pub push_ttl: Duration,
    /// The control room's time zone and shifts, for response-time reports.
    pub shifts: crate::Shifts,
}

impl Default for AlertsSettings {
    fn default() -> Self {
        AlertsSettings {
            alerts: AlertsConfig::default(),
            broadcast_capacity: 1024,
            poll_every: Duration::from_secs(10),
            lookback: Duration::from_secs(600),
            suggestions: 5,
            unit_token_ttl: Duration::from_secs(365 * 86_400),
            push_ttl: Duration::from_secs(60),
            shifts: crate::Shifts::default(),
        }
    }
}

/// Who is listening: an operator (with a scope) or a unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Viewer {
    /// Control room: alerts of the scope.
    Operator(Scope),
    /// A patrol unit: alerts dispatched to it.
    Unit(Uuid),
    /// A volunteer patrol: alerts dispatched to it, reduced to the place, the state and the
    /// dispatch's text ([`PushMessage::for_volunteer`]).
    Volunteer(Uuid),
}

/// The kind of a patrol unit (`migrations/sqlite/0009_units.sql`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    /// A police officer with a municipal inspector.
    #[default]
    Joint,
    /// Police only.
    Police,
    /// Municipal inspectors.
    Municipal,
    /// The volunteer parents' patrol: the place and a short text only, never pictures, footage
    /// or names.
    Volunteer,
}

impl UnitKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            UnitKind::Joint => "joint",
            UnitKind::Police => "police",
            UnitKind::Municipal => "municipal",
            UnitKind::Volunteer => "volunteer",
        }
    }
}

/// An incident of an alert, as shown.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct IncidentRef {
    /// The incident.
    pub id: Uuid,
    /// Its rule.
    pub rule: Uuid,
    /// Its camera.
    #[schemars(with = "Uuid")]
    pub camera: CameraId,
    /// When it opened.
    pub opened_at: String,
}

/// An alert as clients see it.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct AlertSummary {
    /// Id.
    pub id: Uuid,
    /// The hotspot.
    pub hotspot: Uuid,
    /// The hotspot's name when the summary was made (patrol units cannot list hotspots).
    pub place: Option<String>,
    /// Severity.
    pub severity: String,
    /// Priority.
    pub priority: u8,
    /// State.
    pub state: String,
    /// The claiming user's id.
    pub claimed_by: Option<i64>,
    /// The hotspot's position.
    pub location: Option<LatLon>,
    /// When raised.
    pub created_at: String,
    /// When escalation is due if nobody acknowledges it.
    pub escalates_at: String,
    /// Its incidents, oldest first.
    pub incidents: Vec<IncidentRef>,
    /// The cameras of its incidents.
    #[schemars(with = "Vec<Uuid>")]
    pub cameras: Vec<CameraId>,
    /// The first incident's snapshot.
    pub snapshot: Option<String>,
    /// The recorded footage of the first incident's evidence window.
    pub clip: Option<String>,
}

/// Whether an operator limited to `scope` sees an alert of `hotspot` whose incidents come from
/// `cameras`: the one visibility rule for alert rows, summaries and pushed messages.
fn alert_in_scope(
    scope: &Scope,
    hotspot: Uuid,
    mut cameras: impl Iterator<Item = CameraId>,
) -> bool {
    scope.allows_hotspot(hotspot) || cameras.any(|c| scope.allows_camera(c, [hotspot]))
}

impl AlertSummary {
    /// The summary a volunteer patrol receives: the place and the alert's state, nothing that
    /// shows, records or names anyone (no incidents, cameras, snapshot, clip or claimer).
    pub fn for_volunteer(&self) -> AlertSummary {
        AlertSummary {
            claimed_by: None,
            incidents: Vec::new(),
            cameras: Vec::new(),
            snapshot: None,
            clip: None,
            ..self.clone()
        }
    }

    /// Whether an operator limited to `scope` sees this alert.
    pub fn in_scope(&self, scope: &Scope) -> bool {
        alert_in_scope(scope, self.hotspot, self.cameras.iter().copied())
    }
}

/// Whether an operator limited to `scope` sees the stored alert `a` (no summary needed).
pub fn row_in_scope(a: &AlertRow, scope: &Scope) -> bool {
    alert_in_scope(scope, a.hotspot_id, a.incidents.iter().map(|i| i.camera))
}

/// The alert service: gathers incidents into alerts, escalates, writes changes and pushes them.
pub struct AlertsService {
    store: Store,
    clock: Arc<dyn Clock>,
    settings: AlertsSettings,
    hub: Hub,
    /// Signs the short-lived clip links of alerts (per process: a restart voids open links).
    link_key: roeh_auth::CsrfKey,
    /// Signs every push message (the site's push key, or one per process).
    signer: crate::push::PushSigner,
}

/// How long a signed clip link stays valid.
pub const CLIP_LINK_TTL: Duration = Duration::from_secs(600);

fn clip_link_digest(alert: Uuid, exp: i64) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(format!("roeh/clip-link/v1|{alert}|{exp}").as_bytes()).into()
}

impl std::fmt::Debug for AlertsService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertsService")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// A stored severity (medium when unknown).
pub fn severity_of(s: &str) -> Severity {
    Severity::parse(s).unwrap_or(Severity::Medium)
}

/// The lifecycle's actor for a signed-in principal.
pub fn actor_of(p: &Principal) -> Actor {
    let role = match p.role {
        Role::Admin | Role::Supervisor => ActorRole::Supervisor,
        Role::Unit => ActorRole::Unit,
        _ => ActorRole::Operator,
    };
    Actor {
        user_id: Some(p.user_id),
        role,
    }
}

impl AlertsService {
    /// A service over `store`, reading time from `clock`, signing push messages with a key
    /// drawn for this process (clients fetch it from `GET /api/push/key`).
    pub fn new(store: Store, clock: Arc<dyn Clock>, settings: AlertsSettings) -> Arc<Self> {
        let mut seed = [0u8; 32];
        rand::Rng::fill(&mut rand::rng(), &mut seed);
        Self::with_signer(
            store,
            clock,
            settings,
            crate::push::PushSigner::from_seed(&seed),
        )
    }

    /// A service signing push messages with `signer` (the site's stored push key, which units
    /// are provisioned with).
    pub fn with_signer(
        store: Store,
        clock: Arc<dyn Clock>,
        settings: AlertsSettings,
        signer: crate::push::PushSigner,
    ) -> Arc<Self> {
        Arc::new(AlertsService {
            store,
            clock,
            hub: Hub::new(settings.broadcast_capacity),
            settings,
            link_key: roeh_auth::CsrfKey::generate(),
            signer,
        })
    }

    /// The push signing key's id and public key (SPKI PEM).
    pub fn push_key(&self) -> (&str, String) {
        (self.signer.key_id(), self.signer.public_pem())
    }

    /// A link to the footage of `alert`'s first incident, valid for [`CLIP_LINK_TTL`], that
    /// needs no credentials: a unit's client can hand it to a stock player. It names only that
    /// alert's evidence window.
    pub fn clip_link(&self, alert: Uuid) -> String {
        let exp = self.clock.wall().plus(CLIP_LINK_TTL).0 / 1_000_000;
        let sig = self.link_key.csrf_token_for(&clip_link_digest(alert, exp));
        format!("/api/alerts/{alert}/clip?exp={exp}&sig={sig}")
    }

    /// Whether a clip link's expiry and signature hold now.
    pub fn check_clip_link(&self, alert: Uuid, exp: i64, sig: &str) -> bool {
        let now = self.clock.wall().0 / 1_000_000;
        let max = now + CLIP_LINK_TTL.as_secs() as i64 + 1;
        exp >= now && exp <= max && self.link_key.check_csrf(&clip_link_digest(alert, exp), sig)
    }

    /// The service's settings.
    pub fn settings(&self) -> &AlertsSettings {
        &self.settings
    }

    /// `m` as `viewer` receives it: `None` when it may not see it; for a volunteer patrol, the
    /// reduced message, signed anew.
    pub fn shape(&self, viewer: &Viewer, m: Arc<PushMessage>) -> Option<Arc<PushMessage>> {
        if !m.visible_to(viewer) {
            return None;
        }
        match viewer {
            Viewer::Volunteer(unit) => {
                let reduced = m.for_volunteer(*unit)?;
                Some(Arc::new(PushMessage::sealed(
                    &self.signer,
                    self.clock.wall(),
                    self.settings.push_ttl,
                    reduced,
                )))
            }
            _ => Some(m),
        }
    }

    /// The live broadcast.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Who `who` is as a push subscriber: operators (and supervisors, admins) by scope; units
    /// by their unit. Other roles are refused.
    pub async fn viewer(&self, who: &Principal) -> Result<Viewer> {
        if who.may(Permission::HandleAlerts) {
            return Ok(Viewer::Operator(who.scope.clone()));
        }
        if who.may(Permission::UnitReceipts) {
            let unit = self.store.unit_of_user(who.user_id).await?.ok_or_else(|| {
                Error::new(ErrorKind::NotFound, "this user is not a registered unit")
            })?;
            return Ok(if unit.kind == UnitKind::Volunteer.as_str() {
                Viewer::Volunteer(unit.id)
            } else {
                Viewer::Unit(unit.id)
            });
        }
        Err(Error::new(
            ErrorKind::PermissionDenied,
            format!("the {} role receives no alerts", who.role),
        ))
    }

    pub async fn unit_of(&self, who: &Principal) -> Result<Uuid> {
        Ok(self
            .store
            .unit_of_user(who.user_id)
            .await?
            .ok_or_else(|| Error::new(ErrorKind::NotFound, "this user is not a registered unit"))?
            .id)
    }

    /// Gathers alerting incidents not yet in an alert; returns how many were gathered.
    pub async fn ingest_once(&self) -> Result<usize> {
        let mut n = 0;
        // A full page is followed by the next: nothing waits for another signal.
        while self.ingest_page(&mut n).await? == INGEST_PAGE as usize {}
        Ok(n)
    }

    /// Gathers one page of pending incidents, counting raised and merged alerts into `n`;
    /// returns how many were pending.
    async fn ingest_page(&self, n: &mut usize) -> Result<usize> {
        let now = self.clock.wall();
        let pending = self
            .store
            .unalerted_incidents(now.minus(self.settings.lookback), INGEST_PAGE)
            .await?;
        let count = pending.len();
        for (id, _) in pending {
            let Some(inc) = self.store.get_incident(id).await? else {
                continue;
            };
            let i = &inc.incident;
            let location = match self.store.get_hotspot(i.hotspot_id).await? {
                Some(h) => serde_json::from_str::<roeh_rules::Hotspot>(&h.document)
                    .ok()
                    .and_then(|h| LatLon::new(h.lat, h.lon).ok()),
                None => None,
            };
            let link = AlertIncident {
                incident_id: i.id,
                rule_id: i.rule_id,
                camera: i.camera,
                opened_at: i.opened_at,
            };
            let (new, join) = self.raising(i, location, now);
            let done = self
                .store
                .raise_or_merge_alert(&link, &new, "system", join)
                .await?;
            if let Some((_, ev, _)) = done {
                *n += 1;
                self.publish(&[ev]).await;
            }
        }
        Ok(count)
    }

    /// The alert incident `i` raises at `now` (at `location`, a new id), and the joiner
    /// ([`Self::joiner`]) deciding whether `i` joins an open alert of its hotspot instead.
    fn raising(
        &self,
        i: &roeh_store::NewIncident,
        location: Option<LatLon>,
        now: WallTime,
    ) -> (
        NewAlert,
        impl FnOnce(&AlertRow) -> Option<MergeUpdate> + use<>,
    ) {
        let severity = severity_of(&i.severity);
        let new = NewAlert {
            id: Uuid::new_v4(),
            hotspot_id: i.hotspot_id,
            severity: severity.as_str().into(),
            priority: i.priority,
            lat: location.map(|l| l.lat),
            lon: location.map(|l| l.lon),
            created_at: now,
        };
        (
            new,
            self.joiner(i.hotspot_id, i.opened_at, severity, i.priority),
        )
    }

    /// Whether an incident of `hotspot` opened at `opened` joins an open alert, and how the
    /// alert changes then (the merge window and rules of `crate::joins`).
    fn joiner(
        &self,
        hotspot: Uuid,
        opened: WallTime,
        severity: Severity,
        priority: u8,
    ) -> impl FnOnce(&AlertRow) -> Option<MergeUpdate> + use<> {
        let window = self.settings.alerts.merge_window;
        move |a: &AlertRow| {
            let cand = MergeCandidate {
                hotspot: a.hotspot_id,
                state: AlertState::parse(&a.state).ok()?,
                last_incident_at: a.last_incident_at,
            };
            crate::joins(&cand, hotspot, opened, window).then(|| MergeUpdate {
                severity: severity_of(&a.severity).max(severity).as_str().into(),
                priority: a.priority.max(priority),
            })
        }
    }

    /// Raises an alert by hand (a person's report): its incidents are stored and gathered at once,
    /// into a new alert at `location` or into the hotspot's open one, by `actor`; the event is
    /// pushed. Returns the alert as it is now and whether it merged.
    pub async fn raise_by_hand(
        &self,
        incidents: &[roeh_store::ManualIncident],
        location: Option<LatLon>,
        actor: &str,
        detail: serde_json::Value,
    ) -> Result<(AlertSummary, bool)> {
        let first = incidents.first().ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidArgument,
                "no camera to raise the alert on",
            )
        })?;
        let (new, join) = self.raising(&first.incident, location, self.clock.wall());
        let (row, ev, merged) = self
            .store
            .raise_manual_alert(incidents, &new, actor, detail, join)
            .await?;
        self.publish(&[ev]).await;
        Ok((self.summary(&row).await?, merged))
    }

    /// Escalates every alert past its deadline; returns how many.
    pub async fn escalate_once(&self) -> Result<usize> {
        Ok(self.escalate_pass().await?.0)
    }

    /// Escalates every alert past its deadline: how many, and the earliest deadline still ahead
    /// (`None` if no alert awaits acknowledgement).
    async fn escalate_pass(&self) -> Result<(usize, Option<WallTime>)> {
        let now = self.clock.wall();
        let limits = &self.settings.alerts.escalation;
        let mut n = 0;
        let mut next: Option<WallTime> = None;
        for a in self.store.alerts_awaiting_acknowledgement().await? {
            let Ok(state) = AlertState::parse(&a.state) else {
                continue;
            };
            let severity = severity_of(&a.severity);
            if !crate::escalation_due(
                limits,
                state,
                severity,
                a.created_at,
                a.escalated_at.is_some(),
                now,
            ) {
                if a.escalated_at.is_none() {
                    let at = crate::escalation_deadline(limits, severity, a.created_at);
                    next = Some(next.map_or(at, |n| n.min(at)));
                }
                continue;
            }
            let detail = serde_json::json!({ "reason": "deadline" });
            match self
                .change(&a, Action::Escalate, &Actor::SYSTEM, "system", detail)
                .await
            {
                Ok(_) => n += 1,
                // Most likely someone acted on it meanwhile: the next pass decides again.
                Err(e) => tracing::debug!(alert = %a.id, error = ?e, "Escalation skipped."),
            }
        }
        Ok((n, next))
    }

    /// Gathers incidents into alerts and escalates alerts at their deadlines until `shutdown`
    /// resolves. It wakes when this process commits an incident (gathering) or an alert event
    /// (the deadlines may have changed), at the earliest deadline, and every
    /// [`AlertsSettings::poll_every`] for rows another process wrote; otherwise it sleeps.
    pub fn spawn(
        self: Arc<Self>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut incidents = self.store.watch(Change::Incidents);
            let mut events = self.store.watch(Change::AlertEvents);
            let fallback = self.settings.poll_every;
            tokio::pin!(shutdown);
            let (mut gather, mut escalate) = (true, true);
            let mut next_look = tokio::time::Instant::now() + fallback;
            let mut deadline: Option<WallTime> = None;
            loop {
                let mut failed = false;
                if gather {
                    // Marked seen first: an incident committed during the pass wakes it again.
                    incidents.borrow_and_update();
                    if let Err(e) = self.ingest_once().await {
                        failed = true;
                        tracing::warn!(error = ?e, "Gathering incidents into alerts failed.");
                    }
                }
                if escalate {
                    events.borrow_and_update();
                    match self.escalate_pass().await {
                        Ok((_, next)) => deadline = next,
                        Err(e) => {
                            (failed, deadline) = (true, None);
                            tracing::warn!(error = ?e, "Escalating alerts failed.");
                        }
                    }
                }
                let now = tokio::time::Instant::now();
                if gather && escalate {
                    next_look = now + fallback;
                }
                if failed {
                    // A busy or unreachable database: both are tried again soon.
                    next_look = next_look.min(now + RETRY_AFTER_FAILURE);
                }
                // The wall clock may step: a deadline is slept towards at most a look at a time.
                let wake = match deadline {
                    Some(d) => {
                        let ahead = d.0.saturating_sub(self.clock.wall().0).max(0);
                        let ahead = Duration::from_micros(u64::try_from(ahead).unwrap_or(0));
                        next_look.min(tokio::time::Instant::now() + ahead)
                    }
                    None => next_look,
                };
                tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    r = incidents.changed() => {
                        if r.is_err() { break }
                        (gather, escalate) = (true, false);
                    }
                    r = events.changed() => {
                        if r.is_err() { break }
                        (gather, escalate) = (false, true);
                    }
                    () = tokio::time::sleep_until(wake) => {
                        // A deadline, or the look for other processes' rows (then both).
                        let look = tokio::time::Instant::now() >= next_look;
                        (gather, escalate) = (look, true);
                    }
                }
            }
        })
    }

    /// The change `action` by `actor` makes to the loaded `alert` now, as the lifecycle decides
    /// it (the store writes it as compare-and-set from the state it was decided on).
    pub fn decide(&self, alert: &AlertRow, action: Action, actor: &Actor) -> Result<AlertChange> {
        let from = AlertState::parse(&alert.state)?;
        let t = crate::transition(from, alert.claimed_by, action, actor).map_err(Error::from)?;
        Ok(AlertChange {
            from_state: alert.state.clone(),
            from_claimed_by: alert.claimed_by,
            to_state: t.to.as_str().into(),
            claimed_by: t.claimed_by,
            at: self.clock.wall(),
        })
    }

    /// Applies `action` by `actor` to the loaded `alert`, stores it with its event, pushes it.
    pub async fn change(
        &self,
        alert: &AlertRow,
        action: Action,
        actor: &Actor,
        actor_name: &str,
        detail: serde_json::Value,
    ) -> Result<AlertRow> {
        let change = self.decide(alert, action, actor)?;
        let (row, ev) = self
            .store
            .alert_transition(
                alert.id,
                &change,
                &NewAlertEvent {
                    kind: action.as_str().into(),
                    actor: actor_name.into(),
                    unit_id: None,
                    detail: detail.to_string(),
                },
            )
            .await?;
        self.publish(&[ev]).await;
        Ok(row)
    }

    pub async fn summary(&self, a: &AlertRow) -> Result<AlertSummary> {
        let first = match a.incidents.first() {
            Some(i) => self.store.get_incident(i.incident_id).await?,
            None => None,
        };
        let snapshot = first.as_ref().and_then(|r| {
            r.snapshot
                .as_ref()
                .map(|_| format!("/api/incidents/{}/snapshot", r.incident.id))
        });
        let clip = first.as_ref().map(|_| self.clip_link(a.id));
        let mut cameras: Vec<CameraId> = a.incidents.iter().map(|i| i.camera).collect();
        cameras.sort();
        cameras.dedup();
        let place = self.store.get_hotspot(a.hotspot_id).await?.map(|h| h.name);
        Ok(AlertSummary {
            id: a.id,
            hotspot: a.hotspot_id,
            place,
            severity: a.severity.clone(),
            priority: a.priority,
            state: a.state.clone(),
            claimed_by: a.claimed_by,
            location: match (a.lat, a.lon) {
                (Some(lat), Some(lon)) => Some(LatLon { lat, lon }),
                _ => None,
            },
            created_at: a.created_at.to_rfc3339(),
            escalates_at: crate::escalation_deadline(
                &self.settings.alerts.escalation,
                severity_of(&a.severity),
                a.created_at,
            )
            .to_rfc3339(),
            incidents: a
                .incidents
                .iter()
                .map(|i| IncidentRef {
                    id: i.incident_id,
                    rule: i.rule_id,
                    camera: i.camera,
                    opened_at: i.opened_at.to_rfc3339(),
                })
                .collect(),
            cameras,
            snapshot,
            clip,
        })
    }

    async fn messages_for(
        &self,
        events: &[AlertEventRow],
        committed: Option<std::time::Instant>,
    ) -> Result<Vec<Arc<PushMessage>>> {
        type Ctx = (Arc<AlertSummary>, Arc<Vec<(Uuid, u64)>>);
        // Signed now: a replayed event gets a fresh validity, its `time` tells its age.
        let issued = self.clock.wall();
        let mut ctx: HashMap<Uuid, Ctx> = HashMap::new();
        let mut out = Vec::with_capacity(events.len());
        for e in events {
            if !ctx.contains_key(&e.alert_id) {
                let Some(a) = self.store.get_alert(e.alert_id).await? else {
                    continue;
                };
                let summary = Arc::new(self.summary(&a).await?);
                let units = self
                    .store
                    .dispatches_of_alert(a.id)
                    .await?
                    .into_iter()
                    .map(|d| (d.unit_id, d.seq))
                    .collect();
                ctx.insert(a.id, (summary, Arc::new(units)));
            }
            let Some((summary, dispatched)) = ctx.get(&e.alert_id) else {
                continue;
            };
            out.push(Arc::new(PushMessage::sealed(
                &self.signer,
                issued,
                self.settings.push_ttl,
                PushMessage {
                    seq: e.seq,
                    alert: e.alert_id,
                    kind: e.kind.clone(),
                    time: e.time.to_rfc3339(),
                    actor: e.actor.clone(),
                    state: e.state.clone(),
                    unit: e.unit_id,
                    detail: serde_json::from_str(&e.detail).unwrap_or(serde_json::Value::Null),
                    summary: summary.clone(),
                    dispatched: dispatched.clone(),
                    committed,
                    issued_at: String::new(),
                    expires_at: String::new(),
                    wire: Default::default(),
                },
            )));
        }
        Ok(out)
    }

    /// Stored events after `after` as push messages, oldest first.
    pub async fn messages_after(&self, after: u64, limit: u32) -> Result<Vec<Arc<PushMessage>>> {
        let events = self.store.alert_events_after(after, limit).await?;
        self.messages_for(&events, None).await
    }

    /// Pushes committed events. A failure to build a message is logged, not fatal: subscribers
    /// notice the gap and read the event from the store.
    pub async fn publish(&self, events: &[AlertEventRow]) {
        // Called right after the store returned: the events are committed now.
        let committed = Some(std::time::Instant::now());
        match self.messages_for(events, committed).await {
            Ok(msgs) => msgs.into_iter().for_each(|m| self.hub.publish(m)),
            Err(e) => tracing::warn!(error = ?e, "Could not build push messages."),
        }
    }
}

/// One pushed event: the stored event and what a client needs to act on it. Clients receive it
/// as the JSON text `msg` of a signed envelope (`roeh_alerts::push`).
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct PushMessage {
    /// Global, monotonic sequence number (the `alert_events` row).
    pub seq: u64,
    /// The alert.
    pub alert: uuid::Uuid,
    /// Event kind: `raised`, `merged`, `claim`, `dispatch`, `receipt`, `note`, …
    pub kind: String,
    /// When (RFC 3339).
    pub time: String,
    /// Who.
    pub actor: String,
    /// The alert's state after the event.
    pub state: String,
    /// The unit a dispatch or receipt concerns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<uuid::Uuid>,
    /// Event details.
    pub detail: serde_json::Value,
    /// The alert as it is now (hotspot, location, severity, incidents, links).
    pub summary: Arc<AlertSummary>,
    /// Units dispatched to the alert and the seq of each dispatch (for filtering).
    #[serde(skip)]
    pub dispatched: Arc<Vec<(uuid::Uuid, u64)>>,
    /// When the event's commit returned in this process (live messages); `None` for messages
    /// replayed from the store. Push latency is measured from it.
    #[serde(skip)]
    pub committed: Option<std::time::Instant>,
    /// When this message was signed (RFC 3339).
    pub issued_at: String,
    /// After this a client must not act on it (RFC 3339): `issued_at` plus the push TTL.
    pub expires_at: String,
    /// The signed envelope sent to every client (`roeh_alerts::push`), built once.
    #[serde(skip)]
    pub wire: bytes::Bytes,
}

/// The schema of [`crate::push::Envelope::msg`]: a string holding the JSON text of a
/// [`PushMessage`].
pub(crate) fn push_body_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let body = generator.subschema_for::<PushMessage>();
    schemars::json_schema!({
        "type": "string",
        "contentMediaType": "application/json",
        "contentSchema": body,
    })
}

impl PushMessage {
    /// `msg` with its validity set from `issued` and `ttl`, signed by `signer` into `wire`.
    pub fn sealed(
        signer: &crate::push::PushSigner,
        issued: roeh_domain::WallTime,
        ttl: std::time::Duration,
        mut msg: PushMessage,
    ) -> PushMessage {
        msg.issued_at = issued.to_rfc3339();
        msg.expires_at = issued.plus(ttl).to_rfc3339();
        // Serialising plain fields and JSON values cannot fail.
        let body = serde_json::to_string(&msg).unwrap_or_default();
        msg.wire = bytes::Bytes::from(signer.seal(body));
        msg
    }

    /// The signed envelope as text (it is built from a `String`, so always UTF-8).
    pub fn wire_text(&self) -> &str {
        std::str::from_utf8(&self.wire).unwrap_or_default()
    }

    /// Whether `viewer` may see this message.
    pub fn visible_to(&self, viewer: &Viewer) -> bool {
        match viewer {
            Viewer::Operator(scope) => self.summary.in_scope(scope),
            Viewer::Unit(unit) | Viewer::Volunteer(unit) => self
                .dispatched
                .iter()
                .any(|(u, seq)| u == unit && self.seq >= *seq),
        }
    }

    /// What a volunteer patrol `unit` may receive of this message: the place, the severity, the
    /// state and the text of its own dispatch; no pictures, footage, cameras, incidents or
    /// names (the actor is withheld). `None` for notes, which may name people.
    pub fn for_volunteer(&self, unit: uuid::Uuid) -> Option<PushMessage> {
        if self.kind == "note" {
            return None;
        }
        let detail = match (self.kind.as_str(), self.unit) {
            ("dispatch", Some(u)) if u == unit => match self.detail.get("text") {
                Some(t) => serde_json::json!({ "text": t }),
                None => serde_json::json!({}),
            },
            _ => serde_json::json!({}),
        };
        Some(PushMessage {
            seq: self.seq,
            alert: self.alert,
            kind: self.kind.clone(),
            time: self.time.clone(),
            actor: String::new(),
            state: self.state.clone(),
            unit: self.unit,
            detail,
            summary: Arc::new(self.summary.for_volunteer()),
            dispatched: self.dispatched.clone(),
            committed: self.committed,
            issued_at: String::new(),
            expires_at: String::new(),
            wire: bytes::Bytes::new(),
        })
    }
}

/// The live broadcast of committed events.
#[derive(Debug)]
pub struct Hub {
    tx: broadcast::Sender<Arc<PushMessage>>,
    resyncs: std::sync::atomic::AtomicU64,
}

impl Hub {
    /// A hub whose receivers may fall `capacity` messages behind before they lag.
    pub fn new(capacity: usize) -> Hub {
        let (tx, _) = broadcast::channel(capacity.max(1));
        Hub {
            tx,
            resyncs: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// How many times a subscriber fell behind the live stream (lagged, or saw a gap) and read
    /// the missing events from the store.
    pub fn resyncs(&self) -> u64 {
        self.resyncs.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Counts a subscriber that fell behind and read from the store.
    pub fn count_resync(&self) {
        self.resyncs
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Sends a committed event to every live subscriber (none listening is fine).
    pub fn publish(&self, msg: Arc<PushMessage>) {
        let _ = self.tx.send(msg);
    }

    /// A receiver of live events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<PushMessage>> {
        self.tx.subscribe()
    }

    /// How many receivers listen now.
    pub fn subscribers(&self) -> usize {
        self.tx.receiver_count()
    }
}
