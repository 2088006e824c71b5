//! Statistics over incidents, alerts and dispatches, enforcement operations, and counts
//! imported from other sources (`migrations/*/0014_stats.sql`, docs/design/0015).
//!
//! Invariants:
//! - the counting queries are read-only and return counts per group, never rows per incident:
//!   their size depends on the groups (hotspots × buckets), not on how many incidents there are;
//! - time is grouped by UTC buckets counted from the Unix epoch (`opened_at / bucket`), so a
//!   bucket of an hour or a quarter hour lies within one local hour of any zone; the caller
//!   turns buckets into local time;
//! - the scope filter is the incident listing's: a restricted caller sees an incident when its
//!   camera or its hotspot is granted; alerts, dispatches and imported counts belong to
//!   hotspots, so there only granted hotspots count;
//! - an import is one transaction: its record and every count, or nothing.

use crate::{DbRow, Error, Result, Store, db, to_uuid};
use roeh_domain::{CameraId, ErrorKind, WallTime};
use sqlx::Row;
use uuid::Uuid;

/// Most groups one counting query returns; beyond that the caller is told to narrow the range.
pub const MAX_STAT_GROUPS: usize = 2_000_000;

/// What a statistics query reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatsFilter {
    /// First instant counted.
    pub from: WallTime,
    /// First instant after the range.
    pub to: WallTime,
    /// Only this hotspot.
    pub hotspot: Option<Uuid>,
    /// Only incidents of this kind (incident queries only).
    pub kind: Option<String>,
    /// `Some` for a restricted caller: the cameras granted.
    pub scope_cameras: Option<Vec<CameraId>>,
    /// `Some` for a restricted caller: the hotspots granted.
    pub scope_hotspots: Option<Vec<Uuid>>,
}

impl StatsFilter {
    pub(crate) fn scoped(&self) -> Option<i64> {
        (self.scope_cameras.is_some() || self.scope_hotspots.is_some()).then_some(1)
    }

    pub(crate) fn cameras_json(&self) -> String {
        ids_json(self.scope_cameras.iter().flatten())
    }

    pub(crate) fn hotspots_json(&self) -> String {
        ids_json(self.scope_hotspots.iter().flatten())
    }
}

fn ids_json<T: ToString>(ids: impl Iterator<Item = T>) -> String {
    serde_json::Value::from(ids.map(|i| i.to_string()).collect::<Vec<_>>()).to_string()
}

/// Events of one hotspot in one UTC bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BucketCount {
    /// The hotspot.
    pub hotspot: Uuid,
    /// The bucket's first instant.
    pub at: WallTime,
    /// How many.
    pub count: u64,
}

/// Incidents of one combination of hotspot, camera, kind, severity, source and outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncidentGroup {
    /// The hotspot.
    pub hotspot: Uuid,
    /// The camera.
    pub camera: Uuid,
    /// The phenomenon.
    pub kind: String,
    /// `low` … `critical`.
    pub severity: String,
    /// `operator` for incidents of alerts people raised, `detected` for the detector's.
    pub source: String,
    /// The state of the incident's alert (`resolved`, `false_alarm`, …), empty without one.
    pub outcome: String,
    /// How many.
    pub count: u64,
}

/// Incidents of one rule and camera whose alert was closed, by how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrecisionGroup {
    /// The rule (nil for alerts people raised).
    pub rule: Uuid,
    /// The camera.
    pub camera: Uuid,
    /// The phenomenon.
    pub kind: String,
    /// `resolved`, `escalated` or `false_alarm`.
    pub outcome: String,
    /// How many incidents.
    pub count: u64,
}

/// Alerts of one hotspot, state and severity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertGroup {
    /// The hotspot.
    pub hotspot: Uuid,
    /// Its state now.
    pub state: String,
    /// Its severity.
    pub severity: String,
    /// How many.
    pub count: u64,
}

/// One unit's dispatches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitLoad {
    /// The unit.
    pub unit: Uuid,
    /// Its name.
    pub name: String,
    /// Dispatches to it.
    pub dispatches: u64,
    /// Of them, with an `arrived` receipt.
    pub arrived: u64,
}

/// Incidents of one hotspot and kind in one minute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MinuteCount {
    /// The hotspot.
    pub hotspot: Uuid,
    /// The phenomenon.
    pub kind: String,
    /// The minute's first instant.
    pub at: WallTime,
    /// How many.
    pub count: u64,
}

/// A stored enforcement operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperationRow {
    /// Its id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// The operation as the API took it (JSON).
    pub document: String,
    /// Who created it.
    pub created_by: String,
    /// When.
    pub created_at: WallTime,
}

/// The record of one imported file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportRow {
    /// Its id.
    pub id: Uuid,
    /// Whose counts: `police`, `city`, `survey`, …
    pub source: String,
    /// The file's name as given.
    pub file_name: String,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// Rows imported.
    pub rows: u64,
    /// Earliest day counted, `YYYY-MM-DD`.
    pub first_day: String,
    /// Latest day counted.
    pub last_day: String,
    /// Who imported it.
    pub imported_by: String,
    /// When.
    pub imported_at: WallTime,
}

/// One imported count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CountRow {
    /// A hotspot's id, or `district:` and a name.
    pub area: String,
    /// First day, `YYYY-MM-DD`.
    pub period_start: String,
    /// Last day, included.
    pub period_end: String,
    /// What was counted.
    pub category: String,
    /// How many.
    pub count: u64,
}

/// An imported count with its file's source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourcedCount {
    /// The source of its file.
    pub source: String,
    /// The count.
    pub row: CountRow,
}

// The incident filter shared by the incident queries and the incident tallies: $1 from,
// $2 to (of column `$col`: `opened_at`, or a tally's `day`), $3/$4 hotspot, $5/$6 kind,
// $7 scoped, $8 cameras, $9 hotspots (JSON arrays).
macro_rules! incident_where {
    ($d:ident, $t:literal, $col:literal) => {
        concat!(
            " WHERE ",
            $t,
            ".",
            $col,
            " >= $1 AND ",
            $t,
            ".",
            $col,
            " < $2 AND ($3 IS NULL OR ",
            $t,
            ".hotspot_id = $4) AND ($5 IS NULL OR ",
            $t,
            ".kind = $6) AND ($7 IS NULL OR ",
            $t,
            ".camera_id IN (",
            crate::json_ids!($d, "$8"),
            ") OR ",
            $t,
            ".hotspot_id IN (",
            crate::json_ids!($d, "$9"),
            ")) "
        )
    };
}
pub(crate) use incident_where;

macro_rules! incident_buckets_sql {
    ($d:ident) => {
        concat!(
            "SELECT i.hotspot_id, i.opened_at / $10 AS b, COUNT(*) AS n FROM incidents i",
            incident_where!($d, "i", "opened_at"),
            "GROUP BY i.hotspot_id, i.opened_at / $10 LIMIT $11"
        )
    };
}

macro_rules! incident_groups_sql {
    ($d:ident) => {
        concat!(
            "SELECT i.hotspot_id, i.camera_id, i.kind, i.severity, ",
            "CASE WHEN i.model_id = 'operator' THEN 'operator' ELSE 'detected' END AS src, ",
            "COALESCE(a.state, '') AS outcome, COUNT(*) AS n FROM incidents i ",
            "LEFT JOIN alert_incidents ai ON ai.incident_id = i.id ",
            "LEFT JOIN alerts a ON a.id = ai.alert_id",
            incident_where!($d, "i", "opened_at"),
            "GROUP BY i.hotspot_id, i.camera_id, i.kind, i.severity, ",
            "CASE WHEN i.model_id = 'operator' THEN 'operator' ELSE 'detected' END, ",
            "COALESCE(a.state, '') LIMIT $10"
        )
    };
}

macro_rules! precision_sql {
    ($d:ident) => {
        concat!(
            "SELECT i.rule_id, i.camera_id, i.kind, a.state, COUNT(*) AS n FROM incidents i ",
            "JOIN alert_incidents ai ON ai.incident_id = i.id ",
            "JOIN alerts a ON a.id = ai.alert_id",
            incident_where!($d, "i", "opened_at"),
            "AND a.state IN ('resolved', 'escalated', 'false_alarm') ",
            "GROUP BY i.rule_id, i.camera_id, i.kind, a.state LIMIT $10"
        )
    };
}

macro_rules! minute_counts_sql {
    ($d:ident) => {
        concat!(
            "SELECT i.hotspot_id, i.kind, i.opened_at / 60000000 AS m, COUNT(*) AS n ",
            "FROM incidents i WHERE i.opened_at >= $1 AND i.opened_at < $2 AND i.hotspot_id IN (",
            crate::json_ids!($d, "$3"),
            ") GROUP BY i.hotspot_id, i.kind, i.opened_at / 60000000 LIMIT $4"
        )
    };
}

// Alerts (`a`, or a table joined to `a`) and the alert tallies: $1 from, $2 to (of `$t.$col`),
// $3/$4 hotspot, $5 scoped, $6 hotspots (JSON array).
macro_rules! alert_where {
    ($d:ident, $t:literal, $col:literal) => {
        concat!(
            " WHERE ",
            $t,
            ".",
            $col,
            " >= $1 AND ",
            $t,
            ".",
            $col,
            " < $2 AND ($3 IS NULL OR a.hotspot_id = $4) AND ($5 IS NULL OR a.hotspot_id IN (",
            crate::json_ids!($d, "$6"),
            ")) "
        )
    };
}
pub(crate) use alert_where;

macro_rules! alert_buckets_sql {
    ($d:ident) => {
        concat!(
            "SELECT a.hotspot_id, a.created_at / $7 AS b, COUNT(*) AS n FROM alerts a",
            alert_where!($d, "a", "created_at"),
            "GROUP BY a.hotspot_id, a.created_at / $7 LIMIT $8"
        )
    };
}

macro_rules! alert_groups_sql {
    ($d:ident) => {
        concat!(
            "SELECT a.hotspot_id, a.state, a.severity, COUNT(*) AS n FROM alerts a",
            alert_where!($d, "a", "created_at"),
            "GROUP BY a.hotspot_id, a.state, a.severity LIMIT $7"
        )
    };
}

macro_rules! unit_load_sql {
    ($d:ident) => {
        concat!(
            "SELECT d.unit_id, u.name, COUNT(*) AS n, ",
            "SUM(CASE WHEN d.arrived_at IS NOT NULL THEN 1 ELSE 0 END) AS arrived ",
            "FROM dispatches d JOIN units u ON u.id = d.unit_id ",
            "JOIN alerts a ON a.id = d.alert_id",
            alert_where!($d, "d", "dispatched_at"),
            "GROUP BY d.unit_id, u.name ORDER BY u.name LIMIT $7"
        )
    };
}

const INSERT_OPERATION_SQL: &str = "INSERT INTO operations (id, name, document, created_by, \
     created_at) VALUES ($1, $2, $3, $4, $5)";
const LIST_OPERATIONS_SQL: &str = "SELECT id, name, document, created_by, created_at FROM \
     operations ORDER BY created_at DESC, id";
const GET_OPERATION_SQL: &str = "SELECT id, name, document, created_by, created_at FROM \
     operations WHERE id = $1";
const DELETE_OPERATION_SQL: &str = "DELETE FROM operations WHERE id = $1";
const INSERT_IMPORT_SQL: &str = "INSERT INTO stat_imports (id, source, file_name, sha256, \
     row_count, first_day, last_day, imported_by, imported_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
const LIST_IMPORTS_SQL: &str = "SELECT id, source, file_name, sha256, row_count, first_day, \
     last_day, imported_by, imported_at FROM stat_imports ORDER BY imported_at DESC, id";
const INSERT_COUNTS_HEAD: &str = "INSERT INTO stat_counts (import_id, area, period_start, \
     period_end, category, count) VALUES ";
/// Counts per insert statement (six parameters each, far below either database's limit).
const COUNTS_PER_INSERT: usize = 200;
const COUNTS_IN_SQL: &str = "SELECT i.source, c.area, c.period_start, c.period_end, \
     c.category, c.count FROM stat_counts c JOIN stat_imports i ON i.id = c.import_id \
     WHERE c.period_start <= $1 AND c.period_end >= $2 \
     ORDER BY c.period_start, i.source, c.category, c.area LIMIT $3";

fn too_many() -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        "the range holds too many groups to count at once; narrow the range",
    )
}

fn count_col(r: &DbRow, c: &str, what: &'static str) -> Result<u64> {
    let n: i64 = r.try_get(c).map_err(db(what))?;
    crate::to_u64(n, what)
}

fn uuid_of(r: &DbRow, c: &str, what: &'static str) -> Result<Uuid> {
    let s: String = r.try_get(c).map_err(db(what))?;
    to_uuid(&s, what)
}

fn room() -> i64 {
    i64::try_from(MAX_STAT_GROUPS + 1).unwrap_or(i64::MAX)
}

fn bounded<T>(rows: Vec<T>) -> Result<Vec<T>> {
    if rows.len() > MAX_STAT_GROUPS {
        return Err(too_many());
    }
    Ok(rows)
}

fn operation_from_row(r: &DbRow) -> Result<OperationRow> {
    let what = "reading operation";
    Ok(OperationRow {
        id: uuid_of(r, "id", what)?,
        name: r.try_get("name").map_err(db(what))?,
        document: r.try_get("document").map_err(db(what))?,
        created_by: r.try_get("created_by").map_err(db(what))?,
        created_at: WallTime(r.try_get("created_at").map_err(db(what))?),
    })
}

fn import_from_row(r: &DbRow) -> Result<ImportRow> {
    let what = "reading import";
    Ok(ImportRow {
        id: uuid_of(r, "id", what)?,
        source: r.try_get("source").map_err(db(what))?,
        file_name: r.try_get("file_name").map_err(db(what))?,
        sha256: r.try_get("sha256").map_err(db(what))?,
        rows: count_col(r, "row_count", what)?,
        first_day: r.try_get("first_day").map_err(db(what))?,
        last_day: r.try_get("last_day").map_err(db(what))?,
        imported_by: r.try_get("imported_by").map_err(db(what))?,
        imported_at: WallTime(r.try_get("imported_at").map_err(db(what))?),
    })
}

/// `sql` (with [`incident_where`]) bound to filter `f` on `range` (`$1`, `$2`): instants, or a
/// tally's local days.
pub(crate) fn filter_query(
    sql: &'static str,
    f: &StatsFilter,
    range: (i64, i64),
) -> crate::Query<'static> {
    let hotspot = f.hotspot.map(|h| h.to_string());
    sqlx::query(sql)
        .bind(range.0)
        .bind(range.1)
        .bind(hotspot.clone())
        .bind(hotspot)
        .bind(f.kind.clone())
        .bind(f.kind.clone())
        .bind(f.scoped())
        .bind(f.cameras_json())
        .bind(f.hotspots_json())
}

/// `sql` (with [`alert_where`]) bound to filter `f` on `range`. Alerts belong to hotspots: a
/// restricted caller counts only granted hotspots.
pub(crate) fn alert_filter_query(
    sql: &'static str,
    f: &StatsFilter,
    range: (i64, i64),
) -> crate::Query<'static> {
    let hotspot = f.hotspot.map(|h| h.to_string());
    sqlx::query(sql)
        .bind(range.0)
        .bind(range.1)
        .bind(hotspot.clone())
        .bind(hotspot)
        .bind(f.scoped())
        .bind(f.hotspots_json())
}

impl Store {
    fn incident_query(&self, sql: &'static str, f: &StatsFilter) -> crate::Query<'static> {
        filter_query(sql, f, (f.from.0, f.to.0))
    }

    fn alert_query(&self, sql: &'static str, f: &StatsFilter) -> crate::Query<'static> {
        alert_filter_query(sql, f, (f.from.0, f.to.0))
    }

    /// Incidents opened in the filter's range, per hotspot and UTC bucket of `bucket_secs`.
    #[tracing::instrument(skip_all)]
    pub async fn incident_buckets(
        &self,
        f: &StatsFilter,
        bucket_secs: i64,
    ) -> Result<Vec<BucketCount>> {
        let us = bucket_secs.max(1) * 1_000_000;
        let sql = crate::in_dialect!(self.backend(), incident_buckets_sql);
        let q = self.incident_query(sql, f).bind(us).bind(room());
        let what = "counting incidents";
        bounded(
            crate::fetch_all(&self.pool, q, what, |r| {
                Ok(BucketCount {
                    hotspot: uuid_of(r, "hotspot_id", what)?,
                    at: WallTime(r.try_get::<i64, _>("b").map_err(db(what))? * us),
                    count: count_col(r, "n", what)?,
                })
            })
            .await?,
        )
    }

    /// Incidents opened in the filter's range, per hotspot, camera, kind, severity, source
    /// and the state of their alert.
    #[tracing::instrument(skip_all)]
    pub async fn incident_groups(&self, f: &StatsFilter) -> Result<Vec<IncidentGroup>> {
        let sql = crate::in_dialect!(self.backend(), incident_groups_sql);
        let q = self.incident_query(sql, f).bind(room());
        let what = "counting incidents";
        bounded(
            crate::fetch_all(&self.pool, q, what, |r| {
                Ok(IncidentGroup {
                    hotspot: uuid_of(r, "hotspot_id", what)?,
                    camera: uuid_of(r, "camera_id", what)?,
                    kind: r.try_get("kind").map_err(db(what))?,
                    severity: r.try_get("severity").map_err(db(what))?,
                    source: r.try_get("src").map_err(db(what))?,
                    outcome: r.try_get("outcome").map_err(db(what))?,
                    count: count_col(r, "n", what)?,
                })
            })
            .await?,
        )
    }

    /// Incidents opened in the filter's range whose alert was closed (resolved, escalated or a
    /// false alarm), per rule, camera, kind and outcome.
    #[tracing::instrument(skip_all)]
    pub async fn precision_groups(&self, f: &StatsFilter) -> Result<Vec<PrecisionGroup>> {
        let sql = crate::in_dialect!(self.backend(), precision_sql);
        let q = self.incident_query(sql, f).bind(room());
        let what = "counting outcomes";
        bounded(
            crate::fetch_all(&self.pool, q, what, |r| {
                Ok(PrecisionGroup {
                    rule: uuid_of(r, "rule_id", what)?,
                    camera: uuid_of(r, "camera_id", what)?,
                    kind: r.try_get("kind").map_err(db(what))?,
                    outcome: r.try_get("state").map_err(db(what))?,
                    count: count_col(r, "n", what)?,
                })
            })
            .await?,
        )
    }

    /// Incidents of `hotspots` opened in `[from, to)`, per hotspot, kind and minute.
    #[tracing::instrument(skip_all)]
    pub async fn incident_minutes(
        &self,
        from: WallTime,
        to: WallTime,
        hotspots: &[Uuid],
    ) -> Result<Vec<MinuteCount>> {
        let sql = crate::in_dialect!(self.backend(), minute_counts_sql);
        let q = sqlx::query(sql)
            .bind(from.0)
            .bind(to.0)
            .bind(ids_json(hotspots.iter()))
            .bind(room());
        let what = "counting incidents";
        bounded(
            crate::fetch_all(&self.pool, q, what, |r| {
                Ok(MinuteCount {
                    hotspot: uuid_of(r, "hotspot_id", what)?,
                    kind: r.try_get("kind").map_err(db(what))?,
                    at: WallTime(r.try_get::<i64, _>("m").map_err(db(what))? * 60_000_000),
                    count: count_col(r, "n", what)?,
                })
            })
            .await?,
        )
    }

    /// Alerts raised in the filter's range, per hotspot and UTC bucket of `bucket_secs`.
    #[tracing::instrument(skip_all)]
    pub async fn alert_buckets(
        &self,
        f: &StatsFilter,
        bucket_secs: i64,
    ) -> Result<Vec<BucketCount>> {
        let us = bucket_secs.max(1) * 1_000_000;
        let sql = crate::in_dialect!(self.backend(), alert_buckets_sql);
        let q = self.alert_query(sql, f).bind(us).bind(room());
        let what = "counting alerts";
        bounded(
            crate::fetch_all(&self.pool, q, what, |r| {
                Ok(BucketCount {
                    hotspot: uuid_of(r, "hotspot_id", what)?,
                    at: WallTime(r.try_get::<i64, _>("b").map_err(db(what))? * us),
                    count: count_col(r, "n", what)?,
                })
            })
            .await?,
        )
    }

    /// Alerts raised in the filter's range, per hotspot, state and severity.
    #[tracing::instrument(skip_all)]
    pub async fn alert_groups(&self, f: &StatsFilter) -> Result<Vec<AlertGroup>> {
        let sql = crate::in_dialect!(self.backend(), alert_groups_sql);
        let q = self.alert_query(sql, f).bind(room());
        let what = "counting alerts";
        bounded(
            crate::fetch_all(&self.pool, q, what, |r| {
                Ok(AlertGroup {
                    hotspot: uuid_of(r, "hotspot_id", what)?,
                    state: r.try_get("state").map_err(db(what))?,
                    severity: r.try_get("severity").map_err(db(what))?,
                    count: count_col(r, "n", what)?,
                })
            })
            .await?,
        )
    }

    /// Dispatches made in the filter's range, per unit, with how many arrived.
    #[tracing::instrument(skip_all)]
    pub async fn unit_loads(&self, f: &StatsFilter) -> Result<Vec<UnitLoad>> {
        let sql = crate::in_dialect!(self.backend(), unit_load_sql);
        let q = self.alert_query(sql, f).bind(room());
        let what = "counting dispatches";
        bounded(
            crate::fetch_all(&self.pool, q, what, |r| {
                Ok(UnitLoad {
                    unit: uuid_of(r, "unit_id", what)?,
                    name: r.try_get("name").map_err(db(what))?,
                    dispatches: count_col(r, "n", what)?,
                    arrived: count_col(r, "arrived", what)?,
                })
            })
            .await?,
        )
    }

    /// Stores an operation.
    pub async fn insert_operation(&self, op: &OperationRow) -> Result<()> {
        let q = sqlx::query(INSERT_OPERATION_SQL)
            .bind(op.id.to_string())
            .bind(op.name.clone())
            .bind(op.document.clone())
            .bind(op.created_by.clone())
            .bind(op.created_at.0);
        crate::execute(&self.pool, q, "storing operation").await?;
        Ok(())
    }

    /// Every operation, newest first.
    pub async fn list_operations(&self) -> Result<Vec<OperationRow>> {
        crate::fetch_all(
            &self.pool,
            sqlx::query(LIST_OPERATIONS_SQL),
            "reading operations",
            operation_from_row,
        )
        .await
    }

    /// One operation.
    pub async fn get_operation(&self, id: Uuid) -> Result<Option<OperationRow>> {
        crate::fetch_optional(
            &self.pool,
            sqlx::query(GET_OPERATION_SQL).bind(id.to_string()),
            "reading operation",
            operation_from_row,
        )
        .await
    }

    /// Deletes an operation; whether it existed.
    pub async fn delete_operation(&self, id: Uuid) -> Result<bool> {
        let q = sqlx::query(DELETE_OPERATION_SQL).bind(id.to_string());
        Ok(crate::execute(&self.pool, q, "deleting operation").await? > 0)
    }

    /// Stores an imported file's record and all its counts in one transaction.
    #[tracing::instrument(skip_all)]
    pub async fn insert_import(&self, import: &ImportRow, counts: &[CountRow]) -> Result<()> {
        let mut tx = self.begin("importing counts").await?;
        let q = sqlx::query(INSERT_IMPORT_SQL)
            .bind(import.id.to_string())
            .bind(import.source.clone())
            .bind(import.file_name.clone())
            .bind(import.sha256.clone())
            .bind(crate::to_i64(import.rows, "rows")?)
            .bind(import.first_day.clone())
            .bind(import.last_day.clone())
            .bind(import.imported_by.clone())
            .bind(import.imported_at.0);
        crate::execute(&mut *tx, q, "importing counts").await?;
        for chunk in counts.chunks(COUNTS_PER_INSERT) {
            let sql = format!("{INSERT_COUNTS_HEAD}{}", placeholders(chunk.len(), 6));
            // Built from the fixed head and numbered placeholders only: no value is spliced in.
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for c in chunk {
                q = q
                    .bind(import.id.to_string())
                    .bind(c.area.clone())
                    .bind(c.period_start.clone())
                    .bind(c.period_end.clone())
                    .bind(c.category.clone())
                    .bind(crate::to_i64(c.count, "count")?);
            }
            crate::execute(&mut *tx, q, "importing counts").await?;
        }
        tx.commit().await.map_err(db("importing counts"))?;
        Ok(())
    }

    /// Every import, newest first.
    pub async fn list_imports(&self) -> Result<Vec<ImportRow>> {
        crate::fetch_all(
            &self.pool,
            sqlx::query(LIST_IMPORTS_SQL),
            "reading imports",
            import_from_row,
        )
        .await
    }

    /// Imported counts whose period overlaps the days `first..=last` (`YYYY-MM-DD`).
    pub async fn counts_between(&self, first: &str, last: &str) -> Result<Vec<SourcedCount>> {
        let what = "reading imported counts";
        let q = sqlx::query(COUNTS_IN_SQL)
            .bind(last.to_string())
            .bind(first.to_string())
            .bind(room());
        bounded(
            crate::fetch_all(&self.pool, q, what, |r| {
                Ok(SourcedCount {
                    source: r.try_get("source").map_err(db(what))?,
                    row: CountRow {
                        area: r.try_get("area").map_err(db(what))?,
                        period_start: r.try_get("period_start").map_err(db(what))?,
                        period_end: r.try_get("period_end").map_err(db(what))?,
                        category: r.try_get("category").map_err(db(what))?,
                        count: count_col(r, "count", what)?,
                    },
                })
            })
            .await?,
        )
    }
}

/// A past incident loaded in bulk ([`Store::insert_history`]): closed at its opening, with the
/// alert that gathered it, if any.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryIncident {
    /// Its id.
    pub id: Uuid,
    /// The rule that opened it (nil for an alert people raised).
    pub rule: Uuid,
    /// The camera.
    pub camera: CameraId,
    /// The hotspot.
    pub hotspot: Uuid,
    /// The phenomenon.
    pub kind: String,
    /// `low` … `critical`.
    pub severity: String,
    /// When it happened.
    pub opened_at: WallTime,
    /// `operator` for an alert people raised, else the model's id.
    pub model_id: String,
    /// Its alert: id and final state (`resolved`, `false_alarm`, `escalated`, …).
    pub alert: Option<(Uuid, String)>,
}

/// Incidents per insert statement of [`Store::insert_history`] (20 parameters each).
const HISTORY_PER_INSERT: usize = 100;

pub(crate) fn placeholders(rows: usize, cols: usize) -> String {
    let mut s = String::new();
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        s.push('(');
        for c in 0..cols {
            if c > 0 {
                s.push_str(", ");
            }
            s.push_str(&format!("${}", r * cols + c + 1));
        }
        s.push(')');
    }
    s
}

impl Store {
    /// Loads past incidents and their alerts in one transaction: history brought over from a
    /// previous system, or generated for tests and benchmarks. Each incident is stored closed
    /// at its opening; each alert gathers one incident and carries its final state.
    #[tracing::instrument(skip_all)]
    pub async fn insert_history(&self, items: &[HistoryIncident]) -> Result<()> {
        let what = "loading history";
        let mut tx = self.begin(what).await?;
        for chunk in items.chunks(HISTORY_PER_INSERT) {
            let sql = format!(
                "INSERT INTO incidents (id, rule_id, camera_id, hotspot_id, seq, kind, severity, \
                 priority, alerting, reason, state, opened_at, updated_at, closed_at, peak_score, \
                 track_ids, model_id, snapshot, evidence_start, evidence_end) VALUES {}",
                placeholders(chunk.len(), 20)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (n, i) in chunk.iter().enumerate() {
                let t = i.opened_at.0;
                q = q
                    .bind(i.id.to_string())
                    .bind(i.rule.to_string())
                    .bind(i.camera.to_string())
                    .bind(i.hotspot.to_string())
                    .bind(n as i64)
                    .bind(i.kind.clone())
                    .bind(i.severity.clone())
                    .bind(3i64)
                    .bind(i.alert.is_some())
                    .bind("history")
                    .bind("closed")
                    .bind(t)
                    .bind(t)
                    .bind(t)
                    .bind(0.9f64)
                    .bind("[]")
                    .bind(i.model_id.clone())
                    .bind(None::<String>)
                    .bind(t)
                    .bind(t);
            }
            crate::execute(&mut *tx, q, what).await?;
            let alerts: Vec<(&HistoryIncident, &(Uuid, String))> = chunk
                .iter()
                .filter_map(|i| i.alert.as_ref().map(|a| (i, a)))
                .collect();
            if alerts.is_empty() {
                continue;
            }
            let sql = format!(
                "INSERT INTO alerts (id, hotspot_id, severity, priority, state, claimed_by, lat, \
                 lon, created_at, updated_at, last_incident_at, claimed_at, acknowledged_at, \
                 escalated_at, closed_at) VALUES {}",
                placeholders(alerts.len(), 15)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (i, (id, state)) in &alerts {
                let t = i.opened_at.0;
                let closed = matches!(state.as_str(), "resolved" | "false_alarm").then_some(t);
                let escalated = (state == "escalated").then_some(t);
                q = q
                    .bind(id.to_string())
                    .bind(i.hotspot.to_string())
                    .bind(i.severity.clone())
                    .bind(3i64)
                    .bind(state.clone())
                    .bind(None::<i64>)
                    .bind(None::<f64>)
                    .bind(None::<f64>)
                    .bind(t)
                    .bind(t)
                    .bind(t)
                    .bind(None::<i64>)
                    .bind(None::<i64>)
                    .bind(escalated)
                    .bind(closed);
            }
            crate::execute(&mut *tx, q, what).await?;
            let sql = format!(
                "INSERT INTO alert_incidents (alert_id, incident_id, rule_id, camera_id, \
                 opened_at) VALUES {}",
                placeholders(alerts.len(), 5)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (i, (id, _)) in &alerts {
                q = q
                    .bind(id.to_string())
                    .bind(i.id.to_string())
                    .bind(i.rule.to_string())
                    .bind(i.camera.to_string())
                    .bind(i.opened_at.0);
            }
            crate::execute(&mut *tx, q, what).await?;
        }
        let days: std::collections::BTreeSet<i64> = items
            .iter()
            .map(|i| i.opened_at.0.div_euclid(crate::US_PER_DAY))
            .collect();
        for d in days {
            crate::tally::mark_day(&mut tx, d * crate::US_PER_DAY).await?;
        }
        tx.commit().await.map_err(db(what))?;
        Ok(())
    }
}
