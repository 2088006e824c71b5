//! Legal holds and export jobs.
//!
//! Invariants: placing and lifting a hold each append a custody event to the log in the same
//! transaction; a hold is lifted at most once and never deleted; an export row moves
//! queued → running → done | failed and never back.

use crate::DbRow;
use crate::{Error, Result, Store, db, execute, fetch_all, fetch_optional, log, to_i64, to_u64};
use roeh_domain::{CameraId, ErrorKind, WallTime};
use sqlx::Row;

/// A hold to place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewHold {
    /// The case the footage is held for.
    pub case_ref: String,
    /// Camera.
    pub camera: CameraId,
    /// Start of the held range.
    pub start: WallTime,
    /// End of the held range (exclusive).
    pub end: WallTime,
    /// Why.
    pub reason: String,
    /// Who placed it.
    pub created_by: String,
}

/// A hold as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoldRow {
    /// Id.
    pub id: i64,
    /// What was asked.
    pub hold: NewHold,
    /// When it was placed.
    pub created_at: WallTime,
    /// When it was lifted, by whom and why.
    pub cleared: Option<(WallTime, String, String)>,
}

/// State of an export job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportState {
    /// Accepted, not started.
    Queued,
    /// Writing the bundle.
    Running,
    /// The bundle is ready.
    Done,
    /// It failed; see the error.
    Failed,
}

impl ExportState {
    /// Stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            ExportState::Queued => "queued",
            ExportState::Running => "running",
            ExportState::Done => "done",
            ExportState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<ExportState> {
        Ok(match s {
            "queued" => ExportState::Queued,
            "running" => ExportState::Running,
            "done" => ExportState::Done,
            "failed" => ExportState::Failed,
            _ => return Err(Error::new(ErrorKind::DataLoss, "bad export state")),
        })
    }
}

/// An export job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportRow {
    /// Job id (UUID text).
    pub id: String,
    /// Camera.
    pub camera: CameraId,
    /// Requested start.
    pub start: WallTime,
    /// Requested end.
    pub end: WallTime,
    /// Why it was requested.
    pub reason: String,
    /// Case number.
    pub case_ref: String,
    /// Who requested it.
    pub requester: String,
    /// State.
    pub state: ExportState,
    /// Bytes written so far.
    pub bytes_done: u64,
    /// Bytes to write.
    pub bytes_total: u64,
    /// Where the bundle is, once done.
    pub path: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// When it was requested.
    pub created_at: WallTime,
    /// When it finished.
    pub finished_at: Option<WallTime>,
}

fn camera_of(s: String) -> Result<CameraId> {
    CameraId::parse(&s).map_err(|_| Error::new(ErrorKind::DataLoss, "bad camera id in database"))
}

fn hold_row(r: &DbRow) -> Result<HoldRow> {
    let cleared_at: Option<i64> = r.get(8);
    Ok(HoldRow {
        id: r.get(0),
        hold: NewHold {
            case_ref: r.get(1),
            camera: camera_of(r.get(2))?,
            start: WallTime(r.get(3)),
            end: WallTime(r.get(4)),
            reason: r.get(5),
            created_by: r.get(6),
        },
        created_at: WallTime(r.get(7)),
        cleared: cleared_at.map(|t| {
            (
                WallTime(t),
                r.get::<Option<String>, _>(9).unwrap_or_default(),
                r.get::<Option<String>, _>(10).unwrap_or_default(),
            )
        }),
    })
}

fn export_row(r: &DbRow) -> Result<ExportRow> {
    let state: String = r.get(7);
    Ok(ExportRow {
        id: r.get(0),
        camera: camera_of(r.get(1))?,
        start: WallTime(r.get(2)),
        end: WallTime(r.get(3)),
        reason: r.get(4),
        case_ref: r.get(5),
        requester: r.get(6),
        state: ExportState::parse(&state)?,
        bytes_done: to_u64(r.get(8), "bytes")?,
        bytes_total: to_u64(r.get(9), "bytes")?,
        path: r.get(10),
        error: r.get(11),
        created_at: WallTime(r.get(12)),
        finished_at: r.get::<Option<i64>, _>(13).map(WallTime),
    })
}

macro_rules! hold_cols {
    () => {
        "id, case_ref, camera_id, start_wall, end_wall, reason, created_by, \
     created_at, cleared_at, cleared_by, clear_reason"
    };
}
macro_rules! export_cols {
    () => {
        "id, camera_id, start_wall, end_wall, reason, case_ref, requester, \
     state, bytes_done, bytes_total, path, error, created_at, finished_at"
    };
}

impl Store {
    /// Places a hold and logs a `hold_set` event, in one transaction. Returns (id, log index).
    #[tracing::instrument(skip_all)]
    pub async fn place_hold(&self, h: &NewHold, at: WallTime) -> Result<(i64, u64)> {
        if h.end <= h.start {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "a hold's end must be after its start",
            ));
        }
        let mut tx = self.begin("placing hold").await?;
        let r = sqlx::query_scalar::<_, i64>(
            "INSERT INTO holds (case_ref, camera_id, start_wall, end_wall, reason, created_by, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(&h.case_ref)
        .bind(h.camera.to_string())
        .bind(h.start.0)
        .bind(h.end.0)
        .bind(&h.reason)
        .bind(&h.created_by)
        .bind(at.0)
        .fetch_one(&mut *tx)
        .await
        .map_err(db("placing hold"))?;
        let id = r;
        let fields = serde_json::json!({
            "hold": id,
            "case": h.case_ref,
            "camera": h.camera.to_string(),
            "start": h.start.to_rfc3339(),
            "end": h.end.to_rfc3339(),
            "reason": h.reason,
            "actor": h.created_by,
        });
        let event = log::append_event(&mut tx, at, "hold_set", Some(h.camera), fields).await?;
        tx.commit().await.map_err(db("placing hold"))?;
        Ok((id, event.log_index))
    }

    /// Lifts a hold and logs a `hold_cleared` event. `Ok(false)` if it was already lifted;
    /// `NotFound` if there is no such hold.
    #[tracing::instrument(skip_all)]
    pub async fn clear_hold(&self, id: i64, by: &str, reason: &str, at: WallTime) -> Result<bool> {
        let mut tx = self.begin("lifting hold").await?;
        let row = sqlx::query(concat!(
            "SELECT ",
            hold_cols!(),
            " FROM holds WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db("lifting hold"))?;
        let Some(row) = row else {
            return Err(Error::new(ErrorKind::NotFound, "no such hold"));
        };
        let hold = hold_row(&row)?;
        if hold.cleared.is_some() {
            return Ok(false);
        }
        let q = sqlx::query(
            "UPDATE holds SET cleared_at = $1, cleared_by = $2, clear_reason = $3 \
             WHERE id = $4 AND cleared_at IS NULL",
        )
        .bind(at.0)
        .bind(by)
        .bind(reason)
        .bind(id);
        execute(&mut *tx, q, "lifting hold").await?;
        let fields = serde_json::json!({
            "hold": id,
            "case": hold.hold.case_ref,
            "camera": hold.hold.camera.to_string(),
            "reason": reason,
            "actor": by,
        });
        log::append_event(&mut tx, at, "hold_cleared", Some(hold.hold.camera), fields).await?;
        tx.commit().await.map_err(db("lifting hold"))?;
        Ok(true)
    }

    /// Holds, newest first; only those not lifted with `active_only`.
    #[tracing::instrument(skip_all)]
    pub async fn holds(&self, active_only: bool) -> Result<Vec<HoldRow>> {
        let sql = if active_only {
            concat!(
                "SELECT ",
                hold_cols!(),
                " FROM holds WHERE cleared_at IS NULL ORDER BY id DESC"
            )
        } else {
            concat!("SELECT ", hold_cols!(), " FROM holds ORDER BY id DESC")
        };
        let q = sqlx::query(sql);
        fetch_all(&self.pool, q, "listing holds", hold_row).await
    }

    /// Records a new export job.
    #[tracing::instrument(skip_all)]
    pub async fn insert_export(&self, e: &ExportRow) -> Result<()> {
        let q = sqlx::query(concat!(
            "INSERT INTO exports (",
            export_cols!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        ))
        .bind(&e.id)
        .bind(e.camera.to_string())
        .bind(e.start.0)
        .bind(e.end.0)
        .bind(&e.reason)
        .bind(&e.case_ref)
        .bind(&e.requester)
        .bind(e.state.as_str())
        .bind(to_i64(e.bytes_done, "bytes")?)
        .bind(to_i64(e.bytes_total, "bytes")?)
        .bind(&e.path)
        .bind(&e.error)
        .bind(e.created_at.0)
        .bind(e.finished_at.map(|t| t.0));
        execute(&self.pool, q, "recording export").await?;
        Ok(())
    }

    /// Updates a job's state, progress, path and error (finished jobs get `finished_at`).
    #[tracing::instrument(skip_all)]
    pub async fn update_export(&self, e: &ExportRow) -> Result<()> {
        let q = sqlx::query(
            "UPDATE exports SET state = $1, bytes_done = $2, bytes_total = $3, path = $4, error = $5, \
             finished_at = $6 WHERE id = $7 AND state IN ('queued', 'running')",
        )
        .bind(e.state.as_str())
        .bind(to_i64(e.bytes_done, "bytes")?)
        .bind(to_i64(e.bytes_total, "bytes")?)
        .bind(&e.path)
        .bind(&e.error)
        .bind(e.finished_at.map(|t| t.0))
        .bind(&e.id);
        execute(&self.pool, q, "updating export").await?;
        Ok(())
    }

    /// One export job.
    #[tracing::instrument(skip_all)]
    pub async fn export(&self, id: &str) -> Result<Option<ExportRow>> {
        let q = sqlx::query(concat!(
            "SELECT ",
            export_cols!(),
            " FROM exports WHERE id = $1"
        ))
        .bind(id);
        fetch_optional(&self.pool, q, "reading export", export_row).await
    }

    /// Export jobs, newest first, at most `limit`.
    #[tracing::instrument(skip_all)]
    pub async fn exports(&self, limit: u32) -> Result<Vec<ExportRow>> {
        let q = sqlx::query(concat!(
            "SELECT ",
            export_cols!(),
            " FROM exports ORDER BY created_at DESC, id LIMIT $1"
        ))
        .bind(i64::from(limit));
        fetch_all(&self.pool, q, "listing exports", export_row).await
    }

    /// One page of export jobs, newest first (`created_at DESC, id`): at most `limit`, starting
    /// after the job `before` when given, and only of `cameras` when given (the caller's scope,
    /// applied in the query so a page is full while more such jobs exist). A `before` that names
    /// no job gives an empty page (the caller checks the cursor first).
    pub async fn exports_page(
        &self,
        before: Option<&str>,
        limit: u32,
        cameras: Option<&[CameraId]>,
    ) -> Result<Vec<ExportRow>> {
        let cameras = match cameras {
            Some(c) => Some(
                serde_json::to_string(&c.iter().map(|c| c.to_string()).collect::<Vec<_>>())
                    .map_err(|e| Error::new(ErrorKind::Internal, e.to_string()))?,
            ),
            None => None,
        };
        macro_rules! sql {
            ($d:ident) => {
                concat!(
                    "SELECT ",
                    export_cols!(),
                    " FROM exports WHERE ($1 IS NULL",
                    " OR created_at < (SELECT created_at FROM exports WHERE id = $2)",
                    " OR (created_at = (SELECT created_at FROM exports WHERE id = $3) AND id > $4))",
                    " AND ($5 IS NULL OR camera_id IN (",
                    crate::json_ids!($d, "$6"),
                    ")) ORDER BY created_at DESC, id LIMIT $7"
                )
            };
        }
        let sql = crate::in_dialect!(self.backend(), sql);
        let q = sqlx::query(sql)
            .bind(before)
            .bind(before)
            .bind(before)
            .bind(before)
            .bind(cameras.as_deref())
            .bind(cameras.as_deref())
            .bind(i64::from(limit));
        fetch_all(&self.pool, q, "listing exports", export_row).await
    }

    /// Marks jobs left queued or running by a previous process as failed (at start-up).
    #[tracing::instrument(skip_all)]
    pub async fn fail_interrupted_exports(&self, at: WallTime) -> Result<u64> {
        let q = sqlx::query(
            "UPDATE exports SET state = 'failed', error = 'interrupted by a restart', \
             finished_at = $1 WHERE state IN ('queued', 'running')",
        )
        .bind(at.0);
        execute(&self.pool, q, "failing interrupted exports").await
    }
}
