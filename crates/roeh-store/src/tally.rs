//! Tallies: incidents and alerts counted per local day of the site's time zone
//! (`migrations/*/0015_stat_tallies.sql`, docs/design/0015, "Tallies").
//!
//! Invariants:
//! - the tallies are derived and rebuilt, never edited: every writer of an incident, of an
//!   alert's state or severity, or of an incident's link to an alert marks the UTC day it
//!   touched in `stat_dirty`, in its own transaction ([`mark_day`], [`mark_alert`]);
//!   [`Store::refresh_tallies`] rebuilds every local day a marked UTC day overlaps, from the
//!   incidents and alerts themselves, and clears a mark only if its generation is still the
//!   one it read (a writer that raced the rebuild leaves its mark for the next one);
//! - rebuilds are serialized: SQLite's `BEGIN IMMEDIATE`, PostgreSQL's transaction-scoped
//!   advisory lock;
//! - the tallies hold local days of one zone (`stat_zone`); asked for another, every day is
//!   rebuilt;
//! - the readers take the statistics' filter ([`StatsFilter`]) with local day numbers in place
//!   of instants, and the same scope rule: a restricted caller sees an incident when its camera
//!   or its hotspot is granted, an alert when its hotspot is.

use crate::{Backend, DbConn, DbRow, Result, StatsFilter, Store, db, to_uuid};
use roeh_domain::WallTime;
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use uuid::Uuid;

/// Microseconds in a UTC day: a mark's day is `t / US_PER_DAY`.
pub const US_PER_DAY: i64 = 86_400_000_000;
/// The rebuild reads incidents per quarter hour: every zone's offset is a multiple of 15
/// minutes, so a quarter hour lies inside one local hour.
const US_PER_QUARTER: i64 = 900_000_000;
/// Tally rows per insert statement (39 values each).
const ROWS_PER_INSERT: usize = 50;
/// The key of the advisory lock that serializes PostgreSQL rebuilds.
const REBUILD_LOCK: i64 = 0x726f_6568_7461_6c79;

/// Local days of the zone the tallies are kept in: the statistics' time model, given to the
/// store (which knows no zones).
pub trait LocalDays: Send + Sync {
    /// The zone's name (IANA).
    fn zone(&self) -> &str;
    /// The local day (days since 1970-01-01) and hour (0–23) of `t`.
    fn local(&self, t: WallTime) -> (i64, usize);
    /// The first instant of local day `day`.
    fn day_start(&self, day: i64) -> WallTime;
}

/// Incidents of one local day (or weekday) and hotspot, per local hour.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DayHours {
    /// The local day (days since 1970-01-01), or the weekday (Monday 0) where the query
    /// summed by weekday.
    pub day: i64,
    /// The hotspot.
    pub hotspot: Uuid,
    /// The phenomenon; empty where the query did not split by kind.
    pub kind: String,
    /// Per local hour.
    pub hours: [u64; 24],
}

/// Incidents of one hotspot, camera and kind, split every way the statistics count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TallyGroup {
    /// The hotspot.
    pub hotspot: Uuid,
    /// The camera.
    pub camera: Uuid,
    /// The phenomenon.
    pub kind: String,
    /// How many.
    pub count: u64,
    /// By severity ([`SEVERITIES`]).
    pub severity: [u64; 4],
    /// Raised by people (the rest the detector raised).
    pub by_operator: u64,
    /// By the state of their alert ([`OUTCOMES`]).
    pub outcome: [u64; 5],
}

/// Incidents of one rule, camera and kind whose alert was closed, by how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrecisionTally {
    /// The rule (nil for incidents people raised).
    pub rule: Uuid,
    /// The camera.
    pub camera: Uuid,
    /// The phenomenon.
    pub kind: String,
    /// Resolved.
    pub resolved: u64,
    /// Marked a false alarm.
    pub false_alarm: u64,
    /// Escalated.
    pub escalated: u64,
}

/// The severities, in [`TallyGroup::severity`]'s order.
pub const SEVERITIES: [&str; 4] = ["low", "medium", "high", "critical"];
/// The outcomes, in [`TallyGroup::outcome`]'s order; `open` stands for every state of an alert
/// not yet closed.
pub const OUTCOMES: [&str; 5] = ["no_alert", "open", "resolved", "false_alarm", "escalated"];

/// Incidents or alerts of one local day and hotspot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DayCount {
    /// The local day (days since 1970-01-01).
    pub day: i64,
    /// The hotspot.
    pub hotspot: Uuid,
    /// How many.
    pub count: u64,
}

/// Alerts of one hotspot, severity and state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertTally {
    /// The hotspot.
    pub hotspot: Uuid,
    /// Their severity.
    pub severity: String,
    /// Their state now.
    pub state: String,
    /// How many.
    pub count: u64,
}

/// What a rebuild did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TallyRefresh {
    /// Local days rebuilt.
    pub days: usize,
}

const MARK_DAY_SQL: &str = "INSERT INTO stat_dirty (day, gen) VALUES ($1, 1) \
     ON CONFLICT (day) DO UPDATE SET gen = stat_dirty.gen + 1";
const MARK_ALERT_SQL: &str = "INSERT INTO stat_dirty (day, gen) SELECT x.d, 1 FROM \
     (SELECT created_at / 86400000000 AS d FROM alerts WHERE id = $1 \
      UNION SELECT opened_at / 86400000000 AS d FROM alert_incidents WHERE alert_id = $2) x \
     WHERE true ON CONFLICT (day) DO UPDATE SET gen = stat_dirty.gen + 1";
const MARK_EVERY_DAY_SQL: [&str; 2] = [
    "INSERT INTO stat_dirty (day, gen) SELECT DISTINCT opened_at / 86400000000, 1 FROM \
     incidents WHERE true ON CONFLICT (day) DO UPDATE SET gen = stat_dirty.gen + 1",
    "INSERT INTO stat_dirty (day, gen) SELECT DISTINCT created_at / 86400000000, 1 FROM \
     alerts WHERE true ON CONFLICT (day) DO UPDATE SET gen = stat_dirty.gen + 1",
];
const PENDING_SQL: &str = "SELECT (SELECT COUNT(*) FROM stat_dirty) AS dirty, \
     (SELECT zone FROM stat_zone WHERE id = 1) AS zone";
const INCIDENT_QUARTERS_SQL: &str = "SELECT i.hotspot_id, i.camera_id, i.rule_id, i.kind, \
     i.severity, CASE WHEN i.model_id = 'operator' THEN 1 ELSE 0 END AS op, \
     COALESCE(a.state, '') AS st, i.opened_at / 900000000 AS q, COUNT(*) AS n FROM incidents i \
     LEFT JOIN alert_incidents ai ON ai.incident_id = i.id \
     LEFT JOIN alerts a ON a.id = ai.alert_id \
     WHERE i.opened_at >= $1 AND i.opened_at < $2 \
     GROUP BY i.hotspot_id, i.camera_id, i.rule_id, i.kind, i.severity, \
     CASE WHEN i.model_id = 'operator' THEN 1 ELSE 0 END, COALESCE(a.state, ''), \
     i.opened_at / 900000000";
const ALERT_QUARTERS_SQL: &str = "SELECT hotspot_id, severity, state, \
     created_at / 900000000 AS q, COUNT(*) AS n FROM alerts \
     WHERE created_at >= $1 AND created_at < $2 \
     GROUP BY hotspot_id, severity, state, created_at / 900000000";
const INCIDENT_TALLY_COLS: &str = "day, hotspot_id, camera_id, kind, n, sev_low, sev_medium, \
     sev_high, sev_critical, by_operator, out_none, out_open, out_resolved, out_false_alarm, \
     out_escalated, h00, h01, h02, h03, h04, h05, h06, h07, h08, h09, h10, h11, h12, h13, h14, h15, h16, h17, h18, h19, h20, h21, h22, h23";

macro_rules! day_totals_sql {
    ($d:ident) => {
        concat!(
            "SELECT t.day, t.hotspot_id, CAST(SUM(t.n) AS BIGINT) AS n \
             FROM stat_incident_days t",
            crate::stats::incident_where!($d, "t", "day"),
            "GROUP BY t.day, t.hotspot_id"
        )
    };
}

// Days since 1970-01-01 (a Thursday) plus 3, modulo 7: Monday 0 … Sunday 6.
macro_rules! weekday_hours_sql {
    ($d:ident) => {
        concat!(
            "SELECT (t.day + 3) % 7 AS day, t.hotspot_id, '' AS kind, CAST(SUM(t.h00) AS BIGINT) AS h00, CAST(SUM(t.h01) AS BIGINT) AS h01, CAST(SUM(t.h02) AS BIGINT) AS h02, CAST(SUM(t.h03) AS BIGINT) AS h03, CAST(SUM(t.h04) AS BIGINT) AS h04, CAST(SUM(t.h05) AS BIGINT) AS h05, CAST(SUM(t.h06) AS BIGINT) AS h06, CAST(SUM(t.h07) AS BIGINT) AS h07, CAST(SUM(t.h08) AS BIGINT) AS h08, CAST(SUM(t.h09) AS BIGINT) AS h09, CAST(SUM(t.h10) AS BIGINT) AS h10, CAST(SUM(t.h11) AS BIGINT) AS h11, CAST(SUM(t.h12) AS BIGINT) AS h12, CAST(SUM(t.h13) AS BIGINT) AS h13, CAST(SUM(t.h14) AS BIGINT) AS h14, CAST(SUM(t.h15) AS BIGINT) AS h15, CAST(SUM(t.h16) AS BIGINT) AS h16, CAST(SUM(t.h17) AS BIGINT) AS h17, CAST(SUM(t.h18) AS BIGINT) AS h18, CAST(SUM(t.h19) AS BIGINT) AS h19, CAST(SUM(t.h20) AS BIGINT) AS h20, CAST(SUM(t.h21) AS BIGINT) AS h21, CAST(SUM(t.h22) AS BIGINT) AS h22, CAST(SUM(t.h23) AS BIGINT) AS h23 \
             FROM stat_incident_days t",
            crate::stats::incident_where!($d, "t", "day"),
            "GROUP BY (t.day + 3) % 7, t.hotspot_id"
        )
    };
}

macro_rules! tally_groups_sql {
    ($d:ident) => {
        concat!(
            "SELECT t.hotspot_id, t.camera_id, t.kind, CAST(SUM(t.n) AS BIGINT) AS n, \
             CAST(SUM(t.sev_low) AS BIGINT) AS sev_low, \
             CAST(SUM(t.sev_medium) AS BIGINT) AS sev_medium, \
             CAST(SUM(t.sev_high) AS BIGINT) AS sev_high, \
             CAST(SUM(t.sev_critical) AS BIGINT) AS sev_critical, \
             CAST(SUM(t.by_operator) AS BIGINT) AS by_operator, \
             CAST(SUM(t.out_none) AS BIGINT) AS out_none, \
             CAST(SUM(t.out_open) AS BIGINT) AS out_open, \
             CAST(SUM(t.out_resolved) AS BIGINT) AS out_resolved, \
             CAST(SUM(t.out_false_alarm) AS BIGINT) AS out_false_alarm, \
             CAST(SUM(t.out_escalated) AS BIGINT) AS out_escalated \
             FROM stat_incident_days t",
            crate::stats::incident_where!($d, "t", "day"),
            "GROUP BY t.hotspot_id, t.camera_id, t.kind"
        )
    };
}

macro_rules! precision_tally_sql {
    ($d:ident) => {
        concat!(
            "SELECT t.rule_id, t.camera_id, t.kind, \
             CAST(SUM(t.resolved) AS BIGINT) AS resolved, \
             CAST(SUM(t.false_alarm) AS BIGINT) AS false_alarm, \
             CAST(SUM(t.escalated) AS BIGINT) AS escalated FROM stat_precision_days t",
            crate::stats::incident_where!($d, "t", "day"),
            "GROUP BY t.rule_id, t.camera_id, t.kind"
        )
    };
}

macro_rules! kind_hours_sql {
    ($d:ident) => {
        concat!(
            "SELECT t.day, t.hotspot_id, t.kind, CAST(SUM(t.h00) AS BIGINT) AS h00, CAST(SUM(t.h01) AS BIGINT) AS h01, CAST(SUM(t.h02) AS BIGINT) AS h02, CAST(SUM(t.h03) AS BIGINT) AS h03, CAST(SUM(t.h04) AS BIGINT) AS h04, CAST(SUM(t.h05) AS BIGINT) AS h05, CAST(SUM(t.h06) AS BIGINT) AS h06, CAST(SUM(t.h07) AS BIGINT) AS h07, CAST(SUM(t.h08) AS BIGINT) AS h08, CAST(SUM(t.h09) AS BIGINT) AS h09, CAST(SUM(t.h10) AS BIGINT) AS h10, CAST(SUM(t.h11) AS BIGINT) AS h11, CAST(SUM(t.h12) AS BIGINT) AS h12, CAST(SUM(t.h13) AS BIGINT) AS h13, CAST(SUM(t.h14) AS BIGINT) AS h14, CAST(SUM(t.h15) AS BIGINT) AS h15, CAST(SUM(t.h16) AS BIGINT) AS h16, CAST(SUM(t.h17) AS BIGINT) AS h17, CAST(SUM(t.h18) AS BIGINT) AS h18, CAST(SUM(t.h19) AS BIGINT) AS h19, CAST(SUM(t.h20) AS BIGINT) AS h20, CAST(SUM(t.h21) AS BIGINT) AS h21, CAST(SUM(t.h22) AS BIGINT) AS h22, CAST(SUM(t.h23) AS BIGINT) AS h23 FROM stat_incident_days t \
             WHERE t.day >= $1 AND t.day < $2 AND t.hotspot_id IN (",
            crate::json_ids!($d, "$3"),
            ") GROUP BY t.day, t.hotspot_id, t.kind"
        )
    };
}

macro_rules! alert_days_sql {
    ($d:ident) => {
        concat!(
            "SELECT a.day, a.hotspot_id, CAST(SUM(a.n) AS BIGINT) AS n FROM stat_alert_days a",
            crate::stats::alert_where!($d, "a", "day"),
            "GROUP BY a.day, a.hotspot_id"
        )
    };
}

macro_rules! alert_kinds_sql {
    ($d:ident) => {
        concat!(
            "SELECT a.hotspot_id, a.severity, a.state, CAST(SUM(a.n) AS BIGINT) AS n \
             FROM stat_alert_days a",
            crate::stats::alert_where!($d, "a", "day"),
            "GROUP BY a.hotspot_id, a.severity, a.state"
        )
    };
}

/// Marks UTC day of instant `t` (µs) for rebuilding, on the writer's connection.
pub(crate) async fn mark_day(conn: &mut DbConn, t: i64) -> Result<()> {
    let q = sqlx::query(MARK_DAY_SQL).bind(t.div_euclid(US_PER_DAY));
    crate::execute(&mut *conn, q, "marking statistics").await?;
    Ok(())
}

/// Marks the day alert `id` was raised and the days of its incidents, on the writer's
/// connection: its state, severity or incidents changed.
pub(crate) async fn mark_alert(conn: &mut DbConn, id: Uuid) -> Result<()> {
    let id = id.to_string();
    let q = sqlx::query(MARK_ALERT_SQL).bind(id.clone()).bind(id);
    crate::execute(&mut *conn, q, "marking statistics").await?;
    Ok(())
}

fn count(r: &DbRow, c: &str, what: &'static str) -> Result<u64> {
    let n: Option<i64> = r.try_get(c).map_err(db(what))?;
    crate::to_u64(n.unwrap_or(0), what)
}

/// One tally row being built.
#[derive(Default)]
struct Building {
    n: u64,
    severity: [u64; 4],
    by_operator: u64,
    outcome: [u64; 5],
    hours: [u64; 24],
}

fn outcome_index(state: &str) -> usize {
    match state {
        "" => 0,
        "resolved" => 2,
        "false_alarm" => 3,
        "escalated" => 4,
        _ => 1,
    }
}

/// Contiguous runs of `days`, first and last included.
fn runs(days: &BTreeSet<i64>) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = Vec::new();
    for &d in days {
        match out.last_mut() {
            Some((_, last)) if *last + 1 == d => *last = d,
            _ => out.push((d, d)),
        }
    }
    out
}

impl Store {
    /// Rebuilds the tallies of every marked day, in `days`' zone (every day when the tallies
    /// were kept in another). Cheap when nothing is marked: one read, no transaction.
    #[tracing::instrument(skip_all)]
    pub async fn refresh_tallies(&self, days: &dyn LocalDays) -> Result<TallyRefresh> {
        let what = "rebuilding statistics";
        let row = sqlx::query(PENDING_SQL)
            .fetch_one(&self.pool)
            .await
            .map_err(db(what))?;
        let dirty: i64 = row.try_get("dirty").map_err(db(what))?;
        let zone: Option<String> = row.try_get("zone").map_err(db(what))?;
        if dirty == 0 && zone.as_deref() == Some(days.zone()) {
            return Ok(TallyRefresh::default());
        }
        let mut tx = self.begin(what).await?;
        if self.backend() == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(REBUILD_LOCK)
                .execute(&mut *tx)
                .await
                .map_err(db(what))?;
        }
        let zone: Option<String> = sqlx::query_scalar("SELECT zone FROM stat_zone WHERE id = 1")
            .fetch_optional(&mut *tx)
            .await
            .map_err(db(what))?;
        if zone.as_deref() != Some(days.zone()) {
            for sql in [
                "DELETE FROM stat_incident_days",
                "DELETE FROM stat_precision_days",
                "DELETE FROM stat_alert_days",
            ]
            .into_iter()
            .chain(MARK_EVERY_DAY_SQL)
            {
                crate::execute(&mut *tx, sqlx::query(sql), what).await?;
            }
            let q = sqlx::query(
                "INSERT INTO stat_zone (id, zone) VALUES (1, $1) \
                 ON CONFLICT (id) DO UPDATE SET zone = $2",
            )
            .bind(days.zone().to_string())
            .bind(days.zone().to_string());
            crate::execute(&mut *tx, q, what).await?;
        }
        let marks: Vec<(i64, i64)> = sqlx::query_as("SELECT day, gen FROM stat_dirty ORDER BY day")
            .fetch_all(&mut *tx)
            .await
            .map_err(db(what))?;
        let mut local: BTreeSet<i64> = BTreeSet::new();
        for (u, _) in &marks {
            let first = days.local(WallTime(u * US_PER_DAY)).0;
            let last = days.local(WallTime((u + 1) * US_PER_DAY - 1)).0;
            local.extend(first..=last);
        }
        for (first, last) in runs(&local) {
            let (from, to) = (days.day_start(first), days.day_start(last + 1));
            rebuild_incidents(&mut tx, days, first, last, from, to).await?;
            rebuild_alerts(&mut tx, days, first, last, from, to).await?;
        }
        for (day, gen_) in &marks {
            let q = sqlx::query("DELETE FROM stat_dirty WHERE day = $1 AND gen = $2")
                .bind(*day)
                .bind(*gen_);
            crate::execute(&mut *tx, q, what).await?;
        }
        tx.commit().await.map_err(db(what))?;
        Ok(TallyRefresh { days: local.len() })
    }

    /// Incidents of local days `[days.0, days.1)` in the filter (its instants unused), per day
    /// and hotspot. Call [`Store::refresh_tallies`] first.
    #[tracing::instrument(skip_all)]
    pub async fn tally_day_totals(
        &self,
        f: &StatsFilter,
        days: (i64, i64),
    ) -> Result<Vec<DayCount>> {
        let sql = crate::in_dialect!(self.backend(), day_totals_sql);
        let q = crate::stats::filter_query(sql, f, days);
        crate::fetch_all(&self.pool, q, "reading statistics", day_count).await
    }

    /// Incidents of local days `[days.0, days.1)` in the filter, per weekday (in `day`: Monday
    /// 0 … Sunday 6) and hotspot, by local hour: the hour × weekday grid.
    #[tracing::instrument(skip_all)]
    pub async fn tally_weekday_hours(
        &self,
        f: &StatsFilter,
        days: (i64, i64),
    ) -> Result<Vec<DayHours>> {
        let sql = crate::in_dialect!(self.backend(), weekday_hours_sql);
        let q = crate::stats::filter_query(sql, f, days);
        crate::fetch_all(&self.pool, q, "reading statistics", day_hours).await
    }

    /// Incidents of local days `[days.0, days.1)` in the filter, per hotspot, camera and kind.
    #[tracing::instrument(skip_all)]
    pub async fn tally_groups(&self, f: &StatsFilter, days: (i64, i64)) -> Result<Vec<TallyGroup>> {
        let sql = crate::in_dialect!(self.backend(), tally_groups_sql);
        let q = crate::stats::filter_query(sql, f, days);
        let what = "reading statistics";
        crate::fetch_all(&self.pool, q, what, |r| {
            let mut severity = [0u64; 4];
            for (v, c) in
                severity
                    .iter_mut()
                    .zip(["sev_low", "sev_medium", "sev_high", "sev_critical"])
            {
                *v = count(r, c, what)?;
            }
            let mut outcome = [0u64; 5];
            for (v, c) in outcome.iter_mut().zip([
                "out_none",
                "out_open",
                "out_resolved",
                "out_false_alarm",
                "out_escalated",
            ]) {
                *v = count(r, c, what)?;
            }
            Ok(TallyGroup {
                hotspot: uuid_col(r, "hotspot_id", what)?,
                camera: uuid_col(r, "camera_id", what)?,
                kind: r.try_get("kind").map_err(db(what))?,
                count: count(r, "n", what)?,
                severity,
                by_operator: count(r, "by_operator", what)?,
                outcome,
            })
        })
        .await
    }

    /// Incidents of local days `[days.0, days.1)` in the filter whose alert was closed, per
    /// rule, camera and kind.
    #[tracing::instrument(skip_all)]
    pub async fn tally_precision(
        &self,
        f: &StatsFilter,
        days: (i64, i64),
    ) -> Result<Vec<PrecisionTally>> {
        let sql = crate::in_dialect!(self.backend(), precision_tally_sql);
        let q = crate::stats::filter_query(sql, f, days);
        let what = "reading statistics";
        crate::fetch_all(&self.pool, q, what, |r| {
            Ok(PrecisionTally {
                rule: uuid_col(r, "rule_id", what)?,
                camera: uuid_col(r, "camera_id", what)?,
                kind: r.try_get("kind").map_err(db(what))?,
                resolved: count(r, "resolved", what)?,
                false_alarm: count(r, "false_alarm", what)?,
                escalated: count(r, "escalated", what)?,
            })
        })
        .await
    }

    /// Incidents of `hotspots` on local days `[days.0, days.1)`, per day, hotspot and kind, by
    /// local hour.
    #[tracing::instrument(skip_all)]
    pub async fn tally_kind_hours(
        &self,
        days: (i64, i64),
        hotspots: &[Uuid],
    ) -> Result<Vec<DayHours>> {
        let sql = crate::in_dialect!(self.backend(), kind_hours_sql);
        let ids: Vec<String> = hotspots.iter().map(|h| h.to_string()).collect();
        let q = sqlx::query(sql)
            .bind(days.0)
            .bind(days.1)
            .bind(serde_json::Value::from(ids).to_string());
        crate::fetch_all(&self.pool, q, "reading statistics", day_hours).await
    }

    /// Alerts raised on local days `[days.0, days.1)` in the filter, per day and hotspot.
    #[tracing::instrument(skip_all)]
    pub async fn tally_alert_days(
        &self,
        f: &StatsFilter,
        days: (i64, i64),
    ) -> Result<Vec<DayCount>> {
        let sql = crate::in_dialect!(self.backend(), alert_days_sql);
        let q = crate::stats::alert_filter_query(sql, f, days);
        crate::fetch_all(&self.pool, q, "reading statistics", day_count).await
    }

    /// Alerts raised on local days `[days.0, days.1)` in the filter, per hotspot, severity
    /// and state.
    #[tracing::instrument(skip_all)]
    pub async fn tally_alert_groups(
        &self,
        f: &StatsFilter,
        days: (i64, i64),
    ) -> Result<Vec<AlertTally>> {
        let sql = crate::in_dialect!(self.backend(), alert_kinds_sql);
        let q = crate::stats::alert_filter_query(sql, f, days);
        crate::fetch_all(&self.pool, q, "reading statistics", alert_tally).await
    }
}

fn uuid_col(r: &DbRow, c: &str, what: &'static str) -> Result<Uuid> {
    let s: String = r.try_get(c).map_err(db(what))?;
    to_uuid(&s, what)
}

const HOUR_NAMES: [&str; 24] = [
    "h00", "h01", "h02", "h03", "h04", "h05", "h06", "h07", "h08", "h09", "h10", "h11", "h12",
    "h13", "h14", "h15", "h16", "h17", "h18", "h19", "h20", "h21", "h22", "h23",
];

fn day_hours(r: &DbRow) -> Result<DayHours> {
    let what = "reading statistics";
    let mut hours = [0u64; 24];
    for (v, c) in hours.iter_mut().zip(HOUR_NAMES) {
        *v = count(r, c, what)?;
    }
    Ok(DayHours {
        day: r.try_get("day").map_err(db(what))?,
        hotspot: uuid_col(r, "hotspot_id", what)?,
        kind: r.try_get("kind").map_err(db(what))?,
        hours,
    })
}

fn day_count(r: &DbRow) -> Result<DayCount> {
    let what = "reading statistics";
    Ok(DayCount {
        day: r.try_get("day").map_err(db(what))?,
        hotspot: uuid_col(r, "hotspot_id", what)?,
        count: count(r, "n", what)?,
    })
}

fn alert_tally(r: &DbRow) -> Result<AlertTally> {
    let what = "reading statistics";
    Ok(AlertTally {
        hotspot: uuid_col(r, "hotspot_id", what)?,
        severity: r.try_get("severity").map_err(db(what))?,
        state: r.try_get("state").map_err(db(what))?,
        count: count(r, "n", what)?,
    })
}

/// Rebuilds the incident and precision tallies of local days `first..=last` (instants
/// `[from, to)`).
async fn rebuild_incidents(
    tx: &mut DbConn,
    days: &dyn LocalDays,
    first: i64,
    last: i64,
    from: WallTime,
    to: WallTime,
) -> Result<()> {
    let what = "rebuilding statistics";
    for sql in [
        "DELETE FROM stat_incident_days WHERE day >= $1 AND day <= $2",
        "DELETE FROM stat_precision_days WHERE day >= $1 AND day <= $2",
    ] {
        let q = sqlx::query(sql).bind(first).bind(last);
        crate::execute(&mut *tx, q, what).await?;
    }
    let q = sqlx::query(INCIDENT_QUARTERS_SQL).bind(from.0).bind(to.0);
    let rows = crate::fetch_all(&mut *tx, q, what, |r| {
        Ok((
            r.try_get::<String, _>("hotspot_id").map_err(db(what))?,
            r.try_get::<String, _>("camera_id").map_err(db(what))?,
            r.try_get::<String, _>("rule_id").map_err(db(what))?,
            r.try_get::<String, _>("kind").map_err(db(what))?,
            r.try_get::<String, _>("severity").map_err(db(what))?,
            r.try_get::<i64, _>("op").map_err(db(what))? != 0,
            r.try_get::<String, _>("st").map_err(db(what))?,
            r.try_get::<i64, _>("q").map_err(db(what))?,
            count(r, "n", what)?,
        ))
    })
    .await?;
    let mut local: HashMap<i64, (i64, usize)> = HashMap::new();
    let mut built: BTreeMap<(i64, String, String, String), Building> = BTreeMap::new();
    // (day, rule, camera, hotspot, kind) → resolved, false alarm, escalated.
    let mut closed: BTreeMap<(i64, String, String, String, String), [u64; 3]> = BTreeMap::new();
    for (hotspot, camera, rule, kind, severity, op, state, quarter, n) in rows {
        let (day, hour) = *local
            .entry(quarter)
            .or_insert_with(|| days.local(WallTime(quarter * US_PER_QUARTER)));
        let outcome = outcome_index(&state);
        if outcome >= 2 {
            closed
                .entry((day, rule, camera.clone(), hotspot.clone(), kind.clone()))
                .or_default()[outcome - 2] += n;
        }
        let b = built.entry((day, hotspot, camera, kind)).or_default();
        b.n += n;
        if let Some(i) = SEVERITIES.iter().position(|s| *s == severity) {
            b.severity[i] += n;
        }
        if op {
            b.by_operator += n;
        }
        b.outcome[outcome] += n;
        b.hours[hour.min(23)] += n;
    }
    let rows: Vec<_> = built.into_iter().collect();
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO stat_incident_days ({}) VALUES {}",
            INCIDENT_TALLY_COLS,
            crate::stats::placeholders(chunk.len(), 39)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for ((day, hotspot, camera, kind), b) in chunk {
            q = q
                .bind(*day)
                .bind(hotspot.clone())
                .bind(camera.clone())
                .bind(kind.clone());
            for v in [b.n]
                .iter()
                .chain(&b.severity)
                .chain([b.by_operator].iter())
                .chain(&b.outcome)
                .chain(&b.hours)
            {
                q = q.bind(crate::to_i64(*v, "tally")?);
            }
        }
        crate::execute(&mut *tx, q, what).await?;
    }
    let rows: Vec<_> = closed.into_iter().collect();
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO stat_precision_days (day, rule_id, camera_id, hotspot_id, kind, \
             resolved, false_alarm, escalated) VALUES {}",
            crate::stats::placeholders(chunk.len(), 8)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for ((day, rule, camera, hotspot, kind), c) in chunk {
            q = q
                .bind(*day)
                .bind(rule.clone())
                .bind(camera.clone())
                .bind(hotspot.clone())
                .bind(kind.clone());
            for v in c {
                q = q.bind(crate::to_i64(*v, "tally")?);
            }
        }
        crate::execute(&mut *tx, q, what).await?;
    }
    Ok(())
}

/// Rebuilds the alert tallies of local days `first..=last` (instants `[from, to)`).
async fn rebuild_alerts(
    tx: &mut DbConn,
    days: &dyn LocalDays,
    first: i64,
    last: i64,
    from: WallTime,
    to: WallTime,
) -> Result<()> {
    let what = "rebuilding statistics";
    let q = sqlx::query("DELETE FROM stat_alert_days WHERE day >= $1 AND day <= $2")
        .bind(first)
        .bind(last);
    crate::execute(&mut *tx, q, what).await?;
    let q = sqlx::query(ALERT_QUARTERS_SQL).bind(from.0).bind(to.0);
    let rows = crate::fetch_all(&mut *tx, q, what, |r| {
        Ok((
            r.try_get::<String, _>("hotspot_id").map_err(db(what))?,
            r.try_get::<String, _>("severity").map_err(db(what))?,
            r.try_get::<String, _>("state").map_err(db(what))?,
            r.try_get::<i64, _>("q").map_err(db(what))?,
            count(r, "n", what)?,
        ))
    })
    .await?;
    let mut local: HashMap<i64, i64> = HashMap::new();
    let mut built: BTreeMap<(i64, String, String, String), u64> = BTreeMap::new();
    for (hotspot, severity, state, quarter, n) in rows {
        let day = *local
            .entry(quarter)
            .or_insert_with(|| days.local(WallTime(quarter * US_PER_QUARTER)).0);
        *built.entry((day, hotspot, severity, state)).or_default() += n;
    }
    let rows: Vec<_> = built.into_iter().collect();
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO stat_alert_days (day, hotspot_id, severity, state, n) VALUES {}",
            crate::stats::placeholders(chunk.len(), 5)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for ((day, hotspot, severity, state), n) in chunk {
            q = q
                .bind(*day)
                .bind(hotspot.clone())
                .bind(severity.clone())
                .bind(state.clone())
                .bind(crate::to_i64(*n, "tally")?);
        }
        crate::execute(&mut *tx, q, what).await?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::HistoryIncident;
    use crate::tests::open_tmp;
    use roeh_domain::CameraId;

    /// A zone of a fixed offset in whole hours, named by it.
    struct Fixed(i64, String);

    impl Fixed {
        fn hours(h: i64) -> Fixed {
            Fixed(h, format!("Fixed{h:+}"))
        }
    }

    impl LocalDays for Fixed {
        fn zone(&self) -> &str {
            &self.1
        }
        fn local(&self, t: WallTime) -> (i64, usize) {
            let l = t.0 + self.0 * 3_600_000_000;
            (
                l.div_euclid(US_PER_DAY),
                (l.rem_euclid(US_PER_DAY) / 3_600_000_000) as usize,
            )
        }
        fn day_start(&self, day: i64) -> WallTime {
            WallTime(day * US_PER_DAY - self.0 * 3_600_000_000)
        }
    }

    fn at(s: &str) -> WallTime {
        WallTime::parse(s).unwrap()
    }

    fn incident(
        n: u128,
        hotspot: Uuid,
        t: &str,
        operator: bool,
        alert: Option<&str>,
    ) -> HistoryIncident {
        HistoryIncident {
            id: Uuid::from_u128(n),
            rule: if operator {
                Uuid::nil()
            } else {
                Uuid::from_u128(0x700)
            },
            camera: CameraId(Uuid::from_u128(0xca00 + n)),
            hotspot,
            kind: "violence".into(),
            severity: "high".into(),
            opened_at: at(t),
            model_id: if operator { "operator" } else { "yolo" }.into(),
            alert: alert.map(|s| (Uuid::from_u128(0xa1e7_0000 + n), s.to_string())),
        }
    }

    fn all(days: (i64, i64)) -> (StatsFilter, (i64, i64)) {
        (StatsFilter::default(), days)
    }

    /// Local hours with a count, per day: `(day, hour, count)`.
    fn hours(rows: &[DayHours]) -> Vec<(i64, usize, u64)> {
        let mut out: BTreeMap<(i64, usize), u64> = BTreeMap::new();
        for r in rows {
            for (h, &n) in r.hours.iter().enumerate() {
                if n > 0 {
                    *out.entry((r.day, h)).or_default() += n;
                }
            }
        }
        out.into_iter().map(|((d, h), n)| (d, h, n)).collect()
    }

    #[tokio::test]
    async fn incidents_count_into_their_local_day_and_hour_and_only_marked_days_are_rebuilt() {
        let (_dir, store) = open_tmp().await;
        let (h1, h2) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let d = at("2026-01-01T00:00:00Z").0 / US_PER_DAY;
        store
            .insert_history(&[
                incident(1, h1, "2026-01-01T23:30:00Z", false, None),
                incident(2, h1, "2026-01-02T10:00:00Z", false, Some("false_alarm")),
                incident(3, h2, "2026-01-01T05:00:00Z", true, Some("resolved")),
            ])
            .await
            .unwrap();
        let east = Fixed::hours(2);
        assert!(store.refresh_tallies(&east).await.unwrap().days >= 2);
        let (f, days) = all((d - 1, d + 3));
        let rows = store.tally_kind_hours(days, &[h1, h2]).await.unwrap();
        // 23:30 UTC is 01:30 the next local day; 05:00 is 07:00; 10:00 is 12:00.
        assert_eq!(hours(&rows), vec![(d, 7, 1), (d + 1, 1, 1), (d + 1, 12, 1)]);
        let groups = store.tally_groups(&f, days).await.unwrap();
        let total: u64 = groups.iter().map(|g| g.count).sum();
        let outcome = groups.iter().fold([0u64; 5], |mut o, g| {
            for (a, b) in o.iter_mut().zip(g.outcome) {
                *a += b;
            }
            o
        });
        assert_eq!(total, 3);
        assert_eq!(
            outcome,
            [1, 0, 1, 1, 0],
            "none, open, resolved, false alarm, escalated"
        );
        assert_eq!(groups.iter().map(|g| g.by_operator).sum::<u64>(), 1);
        assert_eq!(groups.iter().map(|g| g.severity[2]).sum::<u64>(), 3);
        let alerts = store.tally_alert_groups(&f, days).await.unwrap();
        assert_eq!(alerts.iter().map(|a| a.count).sum::<u64>(), 2);

        // Nothing marked: nothing rebuilt.
        assert_eq!(store.refresh_tallies(&east).await.unwrap().days, 0);

        // Scoped to hotspot 2: its incident only.
        let scoped = StatsFilter {
            scope_cameras: Some(Vec::new()),
            scope_hotspots: Some(vec![h2]),
            ..StatsFilter::default()
        };
        let rows = store.tally_day_totals(&scoped, days).await.unwrap();
        assert_eq!(
            rows.iter()
                .map(|a| (a.day, a.hotspot, a.count))
                .collect::<Vec<_>>(),
            vec![(d, h2, 1)]
        );
        let rows = store.tally_weekday_hours(&scoped, days).await.unwrap();
        // 1 January 2026 is a Thursday: weekday 3.
        assert_eq!(hours(&rows), vec![(3, 7, 1)]);
        let mut closed: Vec<_> = store
            .tally_precision(&f, days)
            .await
            .unwrap()
            .iter()
            .map(|p| (p.rule, p.resolved, p.false_alarm, p.escalated))
            .collect();
        closed.sort();
        assert_eq!(
            closed,
            vec![(Uuid::nil(), 1, 0, 0), (Uuid::from_u128(0x700), 0, 1, 0)],
            "the people's alert resolved (nil rule first), the rule's a false alarm"
        );
        let rows = store.tally_alert_days(&scoped, days).await.unwrap();
        assert_eq!(
            rows.iter().map(|a| (a.day, a.count)).collect::<Vec<_>>(),
            vec![(d, 1)]
        );

        // Another zone: every day again, in its local time.
        let west = Fixed::hours(-5);
        assert!(store.refresh_tallies(&west).await.unwrap().days >= 2);
        let rows = store.tally_kind_hours(days, &[h1, h2]).await.unwrap();
        assert_eq!(hours(&rows), vec![(d, 0, 1), (d, 18, 1), (d + 1, 5, 1)]);

        // A new incident marks its UTC day: the local days it overlaps are rebuilt, no others.
        store
            .insert_history(&[incident(4, h2, "2026-01-05T12:00:00Z", false, None)])
            .await
            .unwrap();
        assert_eq!(store.refresh_tallies(&west).await.unwrap().days, 2);
        let (_, days) = all((d - 1, d + 6));
        let rows = store.tally_kind_hours(days, &[h1, h2]).await.unwrap();
        assert_eq!(
            hours(&rows),
            vec![(d, 0, 1), (d, 18, 1), (d + 1, 5, 1), (d + 4, 7, 1)]
        );
    }
}
