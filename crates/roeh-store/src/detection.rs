//! Detection: hotspots, rules, per-camera analysis settings and incidents
//! (`migrations/sqlite/0005_detection.sql`).
//!
//! Invariants:
//! - hotspot and rule documents are stored as the JSON text they were given; this crate does not
//!   parse them (the API validates them with roeh-rules first). The key columns beside them are
//!   written from the caller's arguments in the same statement, so they never disagree with the
//!   document the caller validated;
//! - deleting a hotspot deletes its rules (foreign key, `ON DELETE CASCADE`); incidents stay;
//! - an incident moves `open` → `closed` once: [`Store::close_incident`] only touches an open
//!   row, and closing sets `closed_at` and `evidence_end` together;
//! - a snapshot is named by a file name only (no directory part), checked here;
//! - incidents list in one total order, `opened_at DESC, id`, so paging with a cursor (the last
//!   incident of a page) returns every incident exactly once; an access scope is applied in the
//!   same query, so a page is never short while more incidents of the scope exist.

use crate::DbRow;
use crate::{
    Error, Result, Store, db, execute, execute_found, fetch_all, fetch_optional, opt_time, to_i64,
    to_u64, to_uuid,
};
use roeh_domain::{CameraId, ErrorKind, WallTime};
use sqlx::Row;
use uuid::Uuid;

/// A stored hotspot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HotspotRow {
    /// Id (the document's `id`).
    pub id: Uuid,
    /// Name (the document's `name`).
    pub name: String,
    /// The hotspot as JSON (roeh-rules `Hotspot`).
    pub document: String,
    /// When it was created.
    pub created_at: WallTime,
    /// When it was last changed.
    pub updated_at: WallTime,
}

/// A stored rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleRow {
    /// Id (the document's `id`).
    pub id: Uuid,
    /// Its hotspot (the document's `hotspot`).
    pub hotspot_id: Uuid,
    /// The rule as JSON (roeh-rules `Rule`).
    pub document: String,
    /// The document's `enabled`.
    pub enabled: bool,
    /// When it was created.
    pub created_at: WallTime,
    /// When it was last changed.
    pub updated_at: WallTime,
}

/// Analysis settings of one camera.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AnalysisSetting {
    /// The camera.
    pub camera: CameraId,
    /// Whether its pictures are analysed.
    pub enabled: bool,
    /// Analysed frames per second (> 0).
    pub fps: f64,
    /// When it was last changed.
    pub updated_at: WallTime,
}

/// Whether an incident is still open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IncidentState {
    /// The condition holds (or held within the rule engine's hold time).
    Open,
    /// The condition ended.
    Closed,
}

impl IncidentState {
    /// Stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentState::Open => "open",
            IncidentState::Closed => "closed",
        }
    }

    /// Parses the stored text.
    pub fn parse(s: &str) -> Option<IncidentState> {
        match s {
            "open" => Some(IncidentState::Open),
            "closed" => Some(IncidentState::Closed),
            _ => None,
        }
    }
}

/// An incident as first written, when it opens.
#[derive(Clone, Debug, PartialEq)]
pub struct NewIncident {
    /// Id.
    pub id: Uuid,
    /// The rule that opened it.
    pub rule_id: Uuid,
    /// The camera it was seen on.
    pub camera: CameraId,
    /// The rule's hotspot.
    pub hotspot_id: Uuid,
    /// The rule engine's sequence number for (rule, camera).
    pub seq: u64,
    /// The rule's kind, e.g. `intrusion`.
    pub kind: String,
    /// `low`, `medium`, `high` or `critical`.
    pub severity: String,
    /// The hotspot's priority.
    pub priority: u8,
    /// Whether it should alert operators.
    pub alerting: bool,
    /// A short explanation for people.
    pub reason: String,
    /// When it opened.
    pub opened_at: WallTime,
    /// Highest detection score so far.
    pub peak_score: f64,
    /// Tracks involved, ascending.
    pub track_ids: Vec<u64>,
    /// The detection model's id.
    pub model_id: String,
    /// Start of the evidence window (opened − pre-roll).
    pub evidence_start: WallTime,
}

/// A stored incident.
#[derive(Clone, Debug, PartialEq)]
pub struct IncidentRow {
    /// What was written at open (`peak_score` and `track_ids` as of the last update).
    pub incident: NewIncident,
    /// Open or closed.
    pub state: IncidentState,
    /// Last change.
    pub updated_at: WallTime,
    /// When it closed.
    pub closed_at: Option<WallTime>,
    /// File name of the snapshot under the snapshot directory.
    pub snapshot: Option<String>,
    /// End of the evidence window (closed + post-roll); `None` while open.
    pub evidence_end: Option<WallTime>,
}

/// Which incidents [`Store::list_incidents`] returns. Every field narrows the list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IncidentFilter {
    /// Of this hotspot.
    pub hotspot: Option<Uuid>,
    /// Of this camera.
    pub camera: Option<CameraId>,
    /// Still open at or after this time (or not closed).
    pub start: Option<WallTime>,
    /// Opened before this time.
    pub end: Option<WallTime>,
    /// In this state.
    pub state: Option<IncidentState>,
    /// At most this many (newest first); 0 means the default of 100.
    pub limit: u32,
    /// The page after this incident: a cursor naming the last incident of the previous page,
    /// in the list's order (`opened_at` newest first, then `id`). An id that names no incident
    /// gives an empty list (callers check the cursor first).
    pub before: Option<Uuid>,
    /// With this or [`IncidentFilter::scope_hotspots`] `Some`, only incidents whose camera is in
    /// this list or whose hotspot is in that one (a `None` list then matches nothing); both
    /// `None`: no such limit. This is an access scope applied in the query, so a page is full
    /// whenever more incidents of the scope exist.
    pub scope_cameras: Option<Vec<CameraId>>,
    /// See [`IncidentFilter::scope_cameras`].
    pub scope_hotspots: Option<Vec<Uuid>>,
}

/// Most incidents one listing returns.
pub const MAX_INCIDENT_LIST: u32 = 1000;

const INSERT_HOTSPOT_SQL: &str = "INSERT INTO hotspots (id, name, document, created_at, \
     updated_at) VALUES ($1, $2, $3, $4, $5)";
const UPDATE_HOTSPOT_SQL: &str =
    "UPDATE hotspots SET name = $1, document = $2, updated_at = $3 WHERE id = $4";
const GET_HOTSPOT_SQL: &str =
    "SELECT id, name, document, created_at, updated_at FROM hotspots WHERE id = $1";
const LIST_HOTSPOTS_SQL: &str =
    "SELECT id, name, document, created_at, updated_at FROM hotspots ORDER BY created_at, id";

const INSERT_RULE_SQL: &str = "INSERT INTO rules (id, hotspot_id, document, enabled, created_at, \
     updated_at) VALUES ($1, $2, $3, $4, $5, $6)";
const UPDATE_RULE_SQL: &str = "UPDATE rules SET hotspot_id = $1, document = $2, enabled = $3, \
     updated_at = $4 WHERE id = $5";
const GET_RULE_SQL: &str = "SELECT id, hotspot_id, document, CASE WHEN enabled THEN 1 ELSE 0 END AS enabled, created_at, updated_at FROM rules WHERE id = $1";
const LIST_RULES_SQL: &str = "SELECT id, hotspot_id, document, CASE WHEN enabled THEN 1 ELSE 0 END AS enabled, created_at, updated_at FROM rules \
     WHERE ($1 IS NULL OR hotspot_id = $2) ORDER BY created_at, id";

const UPSERT_ANALYSIS_SQL: &str = "INSERT INTO camera_analysis (camera_id, enabled, fps, \
     updated_at) VALUES ($1, $2, $3, $4) ON CONFLICT (camera_id) DO UPDATE SET \
     enabled = excluded.enabled, fps = excluded.fps, updated_at = excluded.updated_at";
const GET_ANALYSIS_SQL: &str = "SELECT camera_id, CASE WHEN enabled THEN 1 ELSE 0 END AS enabled, fps, updated_at FROM camera_analysis WHERE camera_id = $1";
const LIST_ANALYSIS_SQL: &str = "SELECT camera_id, CASE WHEN enabled THEN 1 ELSE 0 END AS enabled, fps, updated_at FROM camera_analysis ORDER BY camera_id";

const INSERT_INCIDENT_SQL: &str = "INSERT INTO incidents (id, rule_id, camera_id, hotspot_id, \
     seq, kind, severity, priority, alerting, reason, state, opened_at, updated_at, closed_at, \
     peak_score, track_ids, model_id, snapshot, evidence_start, evidence_end) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'open', $11, $12, NULL, $13, $14, $15, NULL, $16, NULL)";
const UPDATE_INCIDENT_SQL: &str = "UPDATE incidents SET peak_score = $1, track_ids = $2, \
     updated_at = $3 WHERE id = $4";
const SET_SNAPSHOT_SQL: &str = "UPDATE incidents SET snapshot = $1 WHERE id = $2";
const CLOSE_INCIDENT_SQL: &str = "UPDATE incidents SET state = 'closed', peak_score = $1, \
     updated_at = $2, closed_at = $3, evidence_end = $4 WHERE id = $5 AND state = 'open'";
const CLOSE_STALE_SQL: &str = "UPDATE incidents SET state = 'closed', closed_at = updated_at, \
     evidence_end = updated_at + $1 WHERE state = 'open'";
const GET_INCIDENT_SQL: &str = "SELECT id, rule_id, camera_id, hotspot_id, seq, kind, severity, \
     priority, CASE WHEN alerting THEN 1 ELSE 0 END AS alerting, reason, state, opened_at, updated_at, closed_at, peak_score, track_ids, \
     model_id, snapshot, evidence_start, evidence_end FROM incidents WHERE id = $1";
// Each filter is either disabled (its first parameter NULL) or applied. The cursor continues
// the order `opened_at DESC, id` after the incident it names; the scope lists are JSON arrays of
// ids (static SQL: the lists vary in length, the statement does not).
macro_rules! list_incidents_sql {
    ($d:ident) => {
        concat!(
            "SELECT id, rule_id, camera_id, hotspot_id, seq, kind, \
     severity, priority, CASE WHEN alerting THEN 1 ELSE 0 END AS alerting, reason, state, opened_at, updated_at, closed_at, peak_score, \
     track_ids, model_id, snapshot, evidence_start, evidence_end FROM incidents \
     WHERE ($1 IS NULL OR hotspot_id = $2) AND ($3 IS NULL OR camera_id = $4) \
     AND ($5 IS NULL OR closed_at IS NULL OR closed_at >= $6) AND ($7 IS NULL OR opened_at < $8) \
     AND ($9 IS NULL OR state = $10) \
     AND ($11 IS NULL OR opened_at < (SELECT c.opened_at FROM incidents c WHERE c.id = $12) \
          OR (opened_at = (SELECT c.opened_at FROM incidents c WHERE c.id = $13) AND id > $14)) \
     AND ($15 IS NULL OR camera_id IN (",
            crate::json_ids!($d, "$16"),
            ") OR hotspot_id IN (",
            crate::json_ids!($d, "$17"),
            ")) ORDER BY opened_at DESC, id LIMIT $18"
        )
    };
}

fn hotspot_from_row(r: &DbRow) -> Result<HotspotRow> {
    let id: String = r.try_get("id").map_err(db("reading hotspot"))?;
    Ok(HotspotRow {
        id: to_uuid(&id, "hotspot id")?,
        name: r.try_get("name").map_err(db("reading hotspot"))?,
        document: r.try_get("document").map_err(db("reading hotspot"))?,
        created_at: WallTime(r.try_get("created_at").map_err(db("reading hotspot"))?),
        updated_at: WallTime(r.try_get("updated_at").map_err(db("reading hotspot"))?),
    })
}

fn rule_from_row(r: &DbRow) -> Result<RuleRow> {
    let id: String = r.try_get("id").map_err(db("reading rule"))?;
    let hotspot: String = r.try_get("hotspot_id").map_err(db("reading rule"))?;
    Ok(RuleRow {
        id: to_uuid(&id, "rule id")?,
        hotspot_id: to_uuid(&hotspot, "rule hotspot id")?,
        document: r.try_get("document").map_err(db("reading rule"))?,
        enabled: crate::flag(r, "enabled").map_err(db("reading rule"))?,
        created_at: WallTime(r.try_get("created_at").map_err(db("reading rule"))?),
        updated_at: WallTime(r.try_get("updated_at").map_err(db("reading rule"))?),
    })
}

fn analysis_from_row(r: &DbRow) -> Result<AnalysisSetting> {
    let cam: String = r.try_get("camera_id").map_err(db("reading analysis"))?;
    Ok(AnalysisSetting {
        camera: CameraId::parse(&cam).map_err(|_| {
            Error::new(
                ErrorKind::DataLoss,
                "stored analysis camera id is not a UUID",
            )
        })?,
        enabled: crate::flag(r, "enabled").map_err(db("reading analysis"))?,
        fps: r.try_get("fps").map_err(db("reading analysis"))?,
        updated_at: WallTime(r.try_get("updated_at").map_err(db("reading analysis"))?),
    })
}

fn incident_from_row(r: &DbRow) -> Result<IncidentRow> {
    let e = || db("reading incident");
    let get_s = |c: &str| -> Result<String> { r.try_get::<String, _>(c).map_err(e()) };
    let cam = get_s("camera_id")?;
    let tracks = get_s("track_ids")?;
    let track_ids: Vec<u64> = serde_json::from_str(&tracks).map_err(|err| {
        Error::with_source(
            ErrorKind::DataLoss,
            "stored incident track ids are not a JSON list",
            err,
        )
    })?;
    let state = get_s("state")?;
    let priority: i64 = r.try_get("priority").map_err(e())?;
    Ok(IncidentRow {
        incident: NewIncident {
            id: to_uuid(&get_s("id")?, "incident id")?,
            rule_id: to_uuid(&get_s("rule_id")?, "incident rule id")?,
            camera: CameraId::parse(&cam).map_err(|_| {
                Error::new(
                    ErrorKind::DataLoss,
                    "stored incident camera id is not a UUID",
                )
            })?,
            hotspot_id: to_uuid(&get_s("hotspot_id")?, "incident hotspot id")?,
            seq: to_u64(r.try_get("seq").map_err(e())?, "incident seq")?,
            kind: get_s("kind")?,
            severity: get_s("severity")?,
            priority: u8::try_from(priority).map_err(|_| {
                Error::new(
                    ErrorKind::DataLoss,
                    "stored incident priority is out of range",
                )
            })?,
            alerting: crate::flag(r, "alerting").map_err(e())?,
            reason: get_s("reason")?,
            opened_at: WallTime(r.try_get("opened_at").map_err(e())?),
            peak_score: r.try_get("peak_score").map_err(e())?,
            track_ids,
            model_id: get_s("model_id")?,
            evidence_start: WallTime(r.try_get("evidence_start").map_err(e())?),
        },
        state: IncidentState::parse(&state).ok_or_else(|| {
            Error::new(
                ErrorKind::DataLoss,
                format!("stored incident state {state:?} is unknown"),
            )
        })?,
        updated_at: WallTime(r.try_get("updated_at").map_err(e())?),
        closed_at: opt_time(r, "closed_at", "reading incident")?,
        snapshot: r.try_get("snapshot").map_err(e())?,
        evidence_end: opt_time(r, "evidence_end", "reading incident")?,
    })
}

/// A JSON array of the ids' text forms (as the id columns store them).
fn ids_json<T: ToString>(ids: impl Iterator<Item = T>) -> String {
    serde_json::Value::from(ids.map(|i| i.to_string()).collect::<Vec<_>>()).to_string()
}

fn tracks_json(ids: &[u64]) -> String {
    serde_json::Value::from(ids.to_vec()).to_string()
}

/// Whether `name` is a plain file name: ASCII letters, digits, `-`, `_` and one `.` extension,
/// at most 100 bytes, never `.` or `..`.
pub fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name.matches('.').count() <= 1
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

impl Store {
    /// Adds a hotspot. `AlreadyExists` if the id is taken.
    #[tracing::instrument(skip_all)]
    pub async fn insert_hotspot(
        &self,
        id: Uuid,
        name: &str,
        document: &str,
        now: WallTime,
    ) -> Result<()> {
        let q = sqlx::query(INSERT_HOTSPOT_SQL)
            .bind(id.to_string())
            .bind(name)
            .bind(document)
            .bind(now.0)
            .bind(now.0);
        execute(&self.pool, q, "inserting hotspot").await?;
        Ok(())
    }

    /// Replaces a hotspot's document. `NotFound` if it does not exist.
    #[tracing::instrument(skip_all)]
    pub async fn update_hotspot(
        &self,
        id: Uuid,
        name: &str,
        document: &str,
        now: WallTime,
    ) -> Result<()> {
        let q = sqlx::query(UPDATE_HOTSPOT_SQL)
            .bind(name)
            .bind(document)
            .bind(now.0)
            .bind(id.to_string());
        execute_found(&self.pool, q, "updating hotspot", "hotspot not found").await
    }

    /// A hotspot by id.
    #[tracing::instrument(skip_all)]
    pub async fn get_hotspot(&self, id: Uuid) -> Result<Option<HotspotRow>> {
        let q = sqlx::query(GET_HOTSPOT_SQL).bind(id.to_string());
        fetch_optional(&self.pool, q, "reading hotspot", hotspot_from_row).await
    }

    /// Every hotspot, oldest first.
    #[tracing::instrument(skip_all)]
    pub async fn list_hotspots(&self) -> Result<Vec<HotspotRow>> {
        let q = sqlx::query(LIST_HOTSPOTS_SQL);
        fetch_all(&self.pool, q, "listing hotspots", hotspot_from_row).await
    }

    /// Deletes a hotspot and its rules; `false` if it did not exist.
    #[tracing::instrument(skip_all)]
    pub async fn delete_hotspot(&self, id: Uuid) -> Result<bool> {
        let q = sqlx::query("DELETE FROM hotspots WHERE id = $1").bind(id.to_string());
        Ok(execute(&self.pool, q, "deleting hotspot").await? > 0)
    }

    /// Adds a rule. `AlreadyExists` if the id is taken, `FailedPrecondition` if the hotspot does
    /// not exist.
    #[tracing::instrument(skip_all)]
    pub async fn insert_rule(&self, rule: &RuleRow) -> Result<()> {
        let q = sqlx::query(INSERT_RULE_SQL)
            .bind(rule.id.to_string())
            .bind(rule.hotspot_id.to_string())
            .bind(&rule.document)
            .bind(rule.enabled)
            .bind(rule.created_at.0)
            .bind(rule.updated_at.0);
        execute(&self.pool, q, "inserting rule").await?;
        Ok(())
    }

    /// Replaces a rule's hotspot, document and `enabled` (its `created_at` is kept). `NotFound`
    /// if it does not exist.
    #[tracing::instrument(skip_all)]
    pub async fn update_rule(&self, rule: &RuleRow) -> Result<()> {
        let q = sqlx::query(UPDATE_RULE_SQL)
            .bind(rule.hotspot_id.to_string())
            .bind(&rule.document)
            .bind(rule.enabled)
            .bind(rule.updated_at.0)
            .bind(rule.id.to_string());
        execute_found(&self.pool, q, "updating rule", "rule not found").await
    }

    /// A rule by id.
    #[tracing::instrument(skip_all)]
    pub async fn get_rule(&self, id: Uuid) -> Result<Option<RuleRow>> {
        let q = sqlx::query(GET_RULE_SQL).bind(id.to_string());
        fetch_optional(&self.pool, q, "reading rule", rule_from_row).await
    }

    /// Rules, of one hotspot or all, oldest first.
    #[tracing::instrument(skip_all)]
    pub async fn list_rules(&self, hotspot: Option<Uuid>) -> Result<Vec<RuleRow>> {
        let q = sqlx::query(LIST_RULES_SQL)
            .bind(hotspot.map(|h| h.to_string()))
            .bind(hotspot.map(|h| h.to_string()));
        fetch_all(&self.pool, q, "listing rules", rule_from_row).await
    }

    /// Deletes a rule; `false` if it did not exist.
    #[tracing::instrument(skip_all)]
    pub async fn delete_rule(&self, id: Uuid) -> Result<bool> {
        let q = sqlx::query("DELETE FROM rules WHERE id = $1").bind(id.to_string());
        Ok(execute(&self.pool, q, "deleting rule").await? > 0)
    }

    /// Sets a camera's analysis settings. `InvalidArgument` unless `fps` is finite and positive;
    /// `FailedPrecondition` if the camera does not exist.
    #[tracing::instrument(skip_all)]
    pub async fn set_camera_analysis(
        &self,
        camera: CameraId,
        enabled: bool,
        fps: f64,
        now: WallTime,
    ) -> Result<()> {
        if !(fps.is_finite() && fps > 0.0) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("analysis fps must be positive, got {fps}"),
            ));
        }
        let q = sqlx::query(UPSERT_ANALYSIS_SQL)
            .bind(camera.to_string())
            .bind(enabled)
            .bind(fps)
            .bind(now.0);
        execute(&self.pool, q, "storing analysis settings").await?;
        Ok(())
    }

    /// A camera's analysis settings, `None` if never set.
    #[tracing::instrument(skip_all)]
    pub async fn camera_analysis(&self, camera: CameraId) -> Result<Option<AnalysisSetting>> {
        let q = sqlx::query(GET_ANALYSIS_SQL).bind(camera.to_string());
        fetch_optional(
            &self.pool,
            q,
            "reading analysis settings",
            analysis_from_row,
        )
        .await
    }

    /// Every camera's analysis settings that were ever set.
    #[tracing::instrument(skip_all)]
    pub async fn list_camera_analysis(&self) -> Result<Vec<AnalysisSetting>> {
        let q = sqlx::query(LIST_ANALYSIS_SQL);
        fetch_all(
            &self.pool,
            q,
            "listing analysis settings",
            analysis_from_row,
        )
        .await
    }

    /// Records a newly opened incident. `AlreadyExists` if the id is taken.
    #[tracing::instrument(skip_all)]
    pub async fn insert_incident(&self, inc: &NewIncident) -> Result<()> {
        if !(inc.peak_score.is_finite()) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "incident peak score is not finite",
            ));
        }
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(db("inserting incident"))?;
        insert_incident_in(&mut conn, inc).await?;
        self.changed(crate::Change::Incidents);
        Ok(())
    }

    /// Records an update of an incident: its peak score and tracks so far. `NotFound` if it does
    /// not exist.
    #[tracing::instrument(skip_all)]
    pub async fn update_incident(
        &self,
        id: Uuid,
        peak_score: f64,
        track_ids: &[u64],
        at: WallTime,
    ) -> Result<()> {
        let q = sqlx::query(UPDATE_INCIDENT_SQL)
            .bind(peak_score)
            .bind(tracks_json(track_ids))
            .bind(at.0)
            .bind(id.to_string());
        execute_found(&self.pool, q, "updating incident", "incident not found").await
    }

    /// Names an incident's snapshot file (a plain file name, see [`is_plain_file_name`]).
    #[tracing::instrument(skip_all)]
    pub async fn set_incident_snapshot(&self, id: Uuid, file_name: &str) -> Result<()> {
        if !is_plain_file_name(file_name) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("snapshot name {file_name:?} is not a plain file name"),
            ));
        }
        let q = sqlx::query(SET_SNAPSHOT_SQL)
            .bind(file_name)
            .bind(id.to_string());
        execute_found(
            &self.pool,
            q,
            "naming incident snapshot",
            "incident not found",
        )
        .await
    }

    /// Closes an open incident at `at` with its final peak score and the end of its evidence
    /// window. `false` if it was not open (already closed or unknown).
    #[tracing::instrument(skip_all)]
    pub async fn close_incident(
        &self,
        id: Uuid,
        peak_score: f64,
        at: WallTime,
        evidence_end: WallTime,
    ) -> Result<bool> {
        let mut conn = self.pool.acquire().await.map_err(db("closing incident"))?;
        close_incident_in(&mut conn, id, peak_score, at, evidence_end).await
    }

    /// Closes every incident still open (left by a stop or crash) at its last update, with the
    /// evidence window ending `post` after it. Returns how many were closed.
    #[tracing::instrument(skip_all)]
    pub async fn close_stale_incidents(&self, post: std::time::Duration) -> Result<u64> {
        let post = i64::try_from(post.as_micros()).unwrap_or(i64::MAX);
        let q = sqlx::query(CLOSE_STALE_SQL).bind(post);
        execute(&self.pool, q, "closing stale incidents").await
    }

    /// An incident by id.
    #[tracing::instrument(skip_all)]
    pub async fn get_incident(&self, id: Uuid) -> Result<Option<IncidentRow>> {
        let q = sqlx::query(GET_INCIDENT_SQL).bind(id.to_string());
        fetch_optional(&self.pool, q, "reading incident", incident_from_row).await
    }

    /// Incidents matching `filter`, newest first (equal opening times by id), starting after
    /// the cursor `filter.before` when given.
    #[tracing::instrument(skip_all)]
    pub async fn list_incidents(&self, filter: &IncidentFilter) -> Result<Vec<IncidentRow>> {
        let limit = match filter.limit {
            0 => 100,
            n => n.min(MAX_INCIDENT_LIST),
        };
        let hotspot = filter.hotspot.map(|h| h.to_string());
        let camera = filter.camera.map(|c| c.to_string());
        let start = filter.start.map(|t| t.0);
        let end = filter.end.map(|t| t.0);
        let state = filter.state.map(IncidentState::as_str);
        let before = filter.before.map(|b| b.to_string());
        let scoped =
            (filter.scope_cameras.is_some() || filter.scope_hotspots.is_some()).then_some(1i64);
        let cameras = ids_json(filter.scope_cameras.iter().flatten());
        let hotspots = ids_json(filter.scope_hotspots.iter().flatten());
        let sql = crate::in_dialect!(self.backend(), list_incidents_sql);
        let q = sqlx::query(sql)
            .bind(hotspot.clone())
            .bind(hotspot)
            .bind(camera.clone())
            .bind(camera)
            .bind(start)
            .bind(start)
            .bind(end)
            .bind(end)
            .bind(state)
            .bind(state)
            .bind(before.clone())
            .bind(before.clone())
            .bind(before.clone())
            .bind(before)
            .bind(scoped)
            .bind(cameras)
            .bind(hotspots)
            .bind(i64::from(limit));
        fetch_all(&self.pool, q, "listing incidents", incident_from_row).await
    }
}

/// Inserts an open incident on `conn` (a connection or a transaction).
pub(crate) async fn insert_incident_in(
    conn: &mut sqlx::AnyConnection,
    inc: &NewIncident,
) -> Result<()> {
    if !(inc.peak_score.is_finite()) {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "incident peak score is not finite",
        ));
    }
    let q = sqlx::query(INSERT_INCIDENT_SQL)
        .bind(inc.id.to_string())
        .bind(inc.rule_id.to_string())
        .bind(inc.camera.to_string())
        .bind(inc.hotspot_id.to_string())
        .bind(to_i64(inc.seq, "incident seq")?)
        .bind(&inc.kind)
        .bind(&inc.severity)
        .bind(i64::from(inc.priority))
        .bind(inc.alerting)
        .bind(&inc.reason)
        .bind(inc.opened_at.0)
        .bind(inc.opened_at.0)
        .bind(inc.peak_score)
        .bind(tracks_json(&inc.track_ids))
        .bind(&inc.model_id)
        .bind(inc.evidence_start.0);
    execute(&mut *conn, q, "inserting incident").await?;
    crate::tally::mark_day(&mut *conn, inc.opened_at.0).await?;
    Ok(())
}

/// Closes an open incident on `conn`; `false` if it was not open.
pub(crate) async fn close_incident_in(
    conn: &mut sqlx::AnyConnection,
    id: Uuid,
    peak_score: f64,
    at: WallTime,
    evidence_end: WallTime,
) -> Result<bool> {
    let q = sqlx::query(CLOSE_INCIDENT_SQL)
        .bind(peak_score)
        .bind(at.0)
        .bind(at.0)
        .bind(evidence_end.0)
        .bind(id.to_string());
    Ok(execute(&mut *conn, q, "closing incident").await? > 0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::tests::open_tmp;

    fn incident(n: u32, camera: CameraId, hotspot: Uuid, opened_s: i64) -> NewIncident {
        NewIncident {
            id: Uuid::from_u128(0x1000_0000 + u128::from(n.wrapping_mul(7919) % 1000)),
            rule_id: Uuid::from_u128(1),
            camera,
            hotspot_id: hotspot,
            seq: u64::from(n),
            kind: "intrusion".into(),
            severity: "high".into(),
            priority: 1,
            alerting: true,
            reason: "test".into(),
            opened_at: WallTime::from_secs(opened_s),
            peak_score: 0.5,
            track_ids: vec![1],
            model_id: "m".into(),
            evidence_start: WallTime::from_secs(opened_s - 5),
        }
    }

    /// Every page of `f` (with `limit`), following the cursor until a short page.
    async fn pages(store: &Store, mut f: IncidentFilter) -> Vec<Vec<IncidentRow>> {
        let mut out = Vec::new();
        loop {
            let page = store.list_incidents(&f).await.unwrap();
            let full = page.len() == f.limit as usize;
            f.before = page.last().map(|r| r.incident.id);
            out.push(page);
            if !full {
                return out;
            }
        }
    }

    #[tokio::test]
    async fn incidents_page_by_cursor_in_one_order_and_within_a_scope() {
        let (_dir, store) = open_tmp().await;
        let (cam_a, cam_b) = (CameraId::new_random(), CameraId::new_random());
        let (h_a, h_b) = (Uuid::from_u128(0xa), Uuid::from_u128(0xb));
        // 250 incidents over 60 distinct opening times (many ties), ids not in time order;
        // every third on camera B, and every fifth of B's under hotspot A.
        let mut all = Vec::new();
        for n in 0..250u32 {
            let on_b = n % 3 == 0;
            let (cam, h) = match (on_b, n % 5 == 0) {
                (false, _) => (cam_a, h_a),
                (true, false) => (cam_b, h_b),
                (true, true) => (cam_b, h_a),
            };
            let inc = incident(n, cam, h, 1_700_000_000 + i64::from(n % 60));
            store.insert_incident(&inc).await.unwrap();
            all.push(inc);
        }
        let mut want = all.clone();
        want.sort_by(|x, y| y.opened_at.cmp(&x.opened_at).then_with(|| x.id.cmp(&y.id)));
        let ids = |rows: &[IncidentRow]| rows.iter().map(|r| r.incident.id).collect::<Vec<_>>();
        let got = pages(
            &store,
            IncidentFilter {
                limit: 100,
                ..Default::default()
            },
        )
        .await;
        assert_eq!(
            got.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![100, 100, 50]
        );
        let flat: Vec<Uuid> = got.iter().flat_map(|p| ids(p)).collect();
        assert_eq!(flat, want.iter().map(|i| i.id).collect::<Vec<_>>());

        // Scoped to camera A: A's incidents only, in pages of `limit` while more exist.
        let scope_a = |cams: Option<Vec<CameraId>>, hs: Option<Vec<Uuid>>| IncidentFilter {
            limit: 40,
            scope_cameras: cams,
            scope_hotspots: hs,
            ..Default::default()
        };
        let visible = |pred: &dyn Fn(&NewIncident) -> bool| {
            want.iter()
                .filter(|i| pred(i))
                .map(|i| i.id)
                .collect::<Vec<_>>()
        };
        for (f, expect) in [
            (
                scope_a(Some(vec![cam_a]), None),
                visible(&|i| i.camera == cam_a),
            ),
            (
                scope_a(None, Some(vec![h_a])),
                visible(&|i| i.hotspot_id == h_a),
            ),
            (
                scope_a(Some(vec![cam_b]), Some(vec![h_a])),
                visible(&|i| i.camera == cam_b || i.hotspot_id == h_a),
            ),
            (scope_a(Some(vec![]), None), vec![]),
            (scope_a(None, Some(vec![])), vec![]),
        ] {
            let got = pages(&store, f.clone()).await;
            let (last, full) = got.split_last().unwrap();
            assert!(full.iter().all(|p| p.len() == 40), "{f:?}");
            assert!(last.len() < 40, "{f:?}");
            let flat: Vec<Uuid> = got.iter().flat_map(|p| ids(p)).collect();
            assert_eq!(flat, expect, "{f:?}");
        }
        // A scope and a filter narrow together: camera B in a camera-A scope is empty.
        let f = IncidentFilter {
            camera: Some(cam_b),
            scope_cameras: Some(vec![cam_a]),
            ..Default::default()
        };
        assert!(store.list_incidents(&f).await.unwrap().is_empty());
        // An unknown cursor matches nothing.
        let f = IncidentFilter {
            before: Some(Uuid::from_u128(0xdead)),
            ..Default::default()
        };
        assert!(store.list_incidents(&f).await.unwrap().is_empty());
    }
}
