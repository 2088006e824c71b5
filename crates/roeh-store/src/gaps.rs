//! Gap and time-event repository.
//!
//! Invariants: a gap row is opened once and closed at most once (closing a closed gap changes
//! nothing); a closed gap's end is never before its start (an earlier end, as a wall-clock step
//! can produce, is stored as the start). Time events are append-only.

use crate::DbRow;
use crate::{Error, Result, Store, db, execute, fetch_all};
use roeh_domain::{CameraId, ErrorKind, Gap, GapReason, WallTime};
use sqlx::Row;
use std::time::Duration;

/// A wall-clock step noticed while recording: wall time moved differently from monotonic time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeEvent {
    /// Store id (ignored on insert).
    pub id: i64,
    /// The camera whose recorder noticed it, if any.
    pub camera: Option<CameraId>,
    /// Monotonic time when noticed.
    pub monotonic: Duration,
    /// Wall time expected without the step (previous wall + monotonic progress).
    pub wall_before: WallTime,
    /// Wall time read after the step.
    pub wall_after: WallTime,
    /// `wall_after - wall_before` in microseconds (signed).
    pub delta_micros: i64,
    /// Detail for operators.
    pub detail: String,
}

const OPEN_GAP_SQL: &str = "INSERT INTO gaps (camera_id, start_wall, end_wall, reason, detail) VALUES ($1, $2, NULL, $3, $4) RETURNING id";

const CLOSE_GAP_SQL: &str = "UPDATE gaps SET end_wall = CASE WHEN start_wall > $1 THEN start_wall ELSE $1 END \
     WHERE id = $2 AND end_wall IS NULL";

const TRIM_GAP_END_SQL: &str = "UPDATE gaps SET end_wall = CASE WHEN start_wall > $1 THEN start_wall ELSE $1 END \
     WHERE id = $2 AND end_wall IS NOT NULL AND end_wall > $3 AND log_index IS NULL";

const OPEN_GAPS_SQL: &str = "SELECT id, camera_id, start_wall, end_wall, reason, detail \
     FROM gaps WHERE camera_id = $1 AND end_wall IS NULL ORDER BY id";

const ALL_OPEN_GAPS_SQL: &str = "SELECT id, camera_id, start_wall, end_wall, reason, detail \
     FROM gaps WHERE end_wall IS NULL ORDER BY id";

const GAPS_IN_RANGE_SQL: &str = "SELECT id, camera_id, start_wall, end_wall, reason, detail \
     FROM gaps WHERE camera_id = $1 AND start_wall < $2 AND (end_wall IS NULL OR end_wall > $3 \
     OR (end_wall = start_wall AND start_wall >= $4)) ORDER BY start_wall, id";

const GAP_COUNTS_SINCE_SQL: &str = "SELECT camera_id, CAST(COUNT(*) AS BIGINT) FROM gaps \
     WHERE end_wall IS NULL OR end_wall > $1 GROUP BY camera_id";

const INSERT_TIME_EVENT_SQL: &str = "INSERT INTO time_events (camera_id, monotonic_micros, \
     wall_before, wall_after, delta_micros, detail) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";

const TIME_EVENTS_SQL: &str = "SELECT id, camera_id, monotonic_micros, wall_before, wall_after, \
     delta_micros, detail FROM time_events ORDER BY id";

impl Store {
    /// Opens a gap for `camera` from `start`; returns its id.
    #[tracing::instrument(skip_all)]
    pub async fn open_gap(
        &self,
        camera: CameraId,
        start: WallTime,
        reason: GapReason,
        detail: &str,
    ) -> Result<i64> {
        let mut tx = self.begin("opening gap").await?;
        let r = sqlx::query_scalar::<_, i64>(OPEN_GAP_SQL)
            .bind(camera.to_string())
            .bind(start.0)
            .bind(reason.as_str())
            .bind(detail)
            .fetch_one(&mut *tx)
            .await
            .map_err(db("opening gap"))?;
        // Gaps that ended before this one began can no longer change: log them.
        crate::log::settle_gaps(&mut tx, camera, start, start).await?;
        tx.commit().await.map_err(db("opening gap"))?;
        Ok(r)
    }

    /// Closes an open gap at `end` (clamped to its start). Returns `false` if it was already
    /// closed or does not exist.
    #[tracing::instrument(skip_all)]
    pub async fn close_gap(&self, id: i64, end: WallTime) -> Result<bool> {
        let q = sqlx::query(CLOSE_GAP_SQL).bind(end.0).bind(id);
        Ok(execute(&self.pool, q, "closing gap").await? == 1)
    }

    /// Moves a closed gap's end earlier to `end` (clamped to its start), when the footage that
    /// closed it turns out to begin before the moment it was closed. Never moves an end later
    /// and never touches an open gap. Returns whether the gap changed.
    #[tracing::instrument(skip_all)]
    pub async fn trim_gap_end(&self, id: i64, end: WallTime) -> Result<bool> {
        let q = sqlx::query(TRIM_GAP_END_SQL)
            .bind(end.0)
            .bind(id)
            .bind(end.0);
        Ok(execute(&self.pool, q, "trimming gap").await? == 1)
    }

    /// Open gaps of one camera, or of all cameras with `None`, oldest first.
    #[tracing::instrument(skip_all)]
    pub async fn open_gaps(&self, camera: Option<CameraId>) -> Result<Vec<Gap>> {
        let rows = match camera {
            Some(c) => {
                sqlx::query(OPEN_GAPS_SQL)
                    .bind(c.to_string())
                    .fetch_all(&self.pool)
                    .await
            }
            None => sqlx::query(ALL_OPEN_GAPS_SQL).fetch_all(&self.pool).await,
        }
        .map_err(db("listing open gaps"))?;
        rows.iter().map(gap_from_row).collect()
    }

    /// Gaps of `camera` overlapping `[start, end)`, including open ones and zero-length ones
    /// that lie inside the range, by start time.
    #[tracing::instrument(skip_all)]
    pub async fn gaps_in_range(
        &self,
        camera: CameraId,
        start: WallTime,
        end: WallTime,
    ) -> Result<Vec<Gap>> {
        let q = sqlx::query(GAPS_IN_RANGE_SQL)
            .bind(camera.to_string())
            .bind(end.0)
            .bind(start.0)
            .bind(start.0);
        fetch_all(&self.pool, q, "listing gaps", gap_from_row).await
    }

    /// How many gaps of each camera reach past `since` (open ones included): the gaps of a day
    /// when `since` is its start. Cameras without one are left out.
    #[tracing::instrument(skip_all)]
    pub async fn gap_counts_since(
        &self,
        since: WallTime,
    ) -> Result<std::collections::HashMap<CameraId, u64>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(GAP_COUNTS_SINCE_SQL)
            .bind(since.0)
            .fetch_all(&self.pool)
            .await
            .map_err(db("counting gaps"))?;
        let mut out = std::collections::HashMap::new();
        for (cam, n) in rows {
            let cam = CameraId::parse(&cam)
                .map_err(|_| Error::new(ErrorKind::DataLoss, "bad camera id in gaps"))?;
            out.insert(cam, u64::try_from(n).unwrap_or(0));
        }
        Ok(out)
    }

    /// Records a clock step; returns its id.
    #[tracing::instrument(skip_all)]
    pub async fn insert_time_event(&self, ev: &TimeEvent) -> Result<i64> {
        let mono = i64::try_from(ev.monotonic.as_micros())
            .map_err(|_| Error::new(ErrorKind::InvalidArgument, "monotonic time too large"))?;
        let r = sqlx::query_scalar::<_, i64>(INSERT_TIME_EVENT_SQL)
            .bind(ev.camera.map(|c| c.to_string()))
            .bind(mono)
            .bind(ev.wall_before.0)
            .bind(ev.wall_after.0)
            .bind(ev.delta_micros)
            .bind(&ev.detail)
            .fetch_one(&self.pool)
            .await
            .map_err(db("recording time event"))?;
        Ok(r)
    }

    /// Every recorded clock step, oldest first.
    #[tracing::instrument(skip_all)]
    pub async fn time_events(&self) -> Result<Vec<TimeEvent>> {
        let rows = sqlx::query(TIME_EVENTS_SQL)
            .fetch_all(&self.pool)
            .await
            .map_err(db("listing time events"))?;
        rows.iter()
            .map(|row| {
                let g = |e| db("decoding time event")(e);
                let camera: Option<String> = row.try_get("camera_id").map_err(g)?;
                let mono: i64 = row.try_get("monotonic_micros").map_err(g)?;
                Ok(TimeEvent {
                    id: row.try_get("id").map_err(g)?,
                    camera: camera
                        .map(|c| CameraId::parse(&c))
                        .transpose()
                        .map_err(|_| Error::new(ErrorKind::DataLoss, "stored camera id"))?,
                    monotonic: Duration::from_micros(u64::try_from(mono).unwrap_or(0)),
                    wall_before: WallTime(row.try_get("wall_before").map_err(g)?),
                    wall_after: WallTime(row.try_get("wall_after").map_err(g)?),
                    delta_micros: row.try_get("delta_micros").map_err(g)?,
                    detail: row.try_get("detail").map_err(g)?,
                })
            })
            .collect()
    }
}

fn gap_from_row(row: &DbRow) -> Result<Gap> {
    let g = |e| db("decoding gap")(e);
    let bad = |what: &str| Error::new(ErrorKind::DataLoss, format!("stored gap {what} invalid"));
    let camera: String = row.try_get("camera_id").map_err(g)?;
    let reason: String = row.try_get("reason").map_err(g)?;
    let end: Option<i64> = row.try_get("end_wall").map_err(g)?;
    Ok(Gap {
        id: row.try_get("id").map_err(g)?,
        camera: CameraId::parse(&camera).map_err(|_| bad("camera"))?,
        start: WallTime(row.try_get("start_wall").map_err(g)?),
        end: end.map(WallTime),
        reason: GapReason::parse(&reason).ok_or_else(|| bad("reason"))?,
        detail: row.try_get("detail").map_err(g)?,
    })
}
