//! Where cameras with pan, tilt and zoom point, as roeh last commanded them
//! (`migrations/sqlite/0010_ptz.sql`).
//!
//! Invariant: a camera without a row is at its home position; a row is written only for a
//! camera that exists (the foreign key), and goes with the camera.

use crate::{Result, Store, db, execute};
use roeh_domain::{CameraId, ErrorKind, WallTime};

/// Where a camera points, as last commanded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PtzState {
    /// The camera.
    pub camera: CameraId,
    /// Away from its home position: its rules are paused.
    pub away: bool,
    /// `home`, `preset:<token>` or `moved`.
    pub position: String,
    /// When it was commanded.
    pub changed_at: WallTime,
    /// Who commanded it.
    pub changed_by: String,
}

const UPSERT_SQL: &str = "INSERT INTO camera_ptz (camera_id, away, position, changed_at, \
     changed_by) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (camera_id) DO UPDATE SET \
     away = excluded.away, position = excluded.position, changed_at = excluded.changed_at, \
     changed_by = excluded.changed_by";
const GET_SQL: &str = "SELECT camera_id, CASE WHEN away THEN 1 ELSE 0 END AS away, position, changed_at, changed_by FROM camera_ptz \
     WHERE camera_id = $1";
const AWAY_SQL: &str = "SELECT camera_id, CASE WHEN away THEN 1 ELSE 0 END AS away, position, changed_at, changed_by FROM camera_ptz \
     WHERE away ORDER BY camera_id";

/// A row, `away` as the integer flag it is selected as (see `crate::flag`).
type Row = (String, i64, String, i64, String);

fn from_row((camera, away, position, changed_at, changed_by): Row) -> Result<PtzState> {
    Ok(PtzState {
        camera: CameraId::parse(&camera).map_err(|_| {
            crate::Error::new(
                ErrorKind::DataLoss,
                "stored PTZ state names an invalid camera",
            )
        })?,
        away: away != 0,
        position,
        changed_at: WallTime(changed_at),
        changed_by,
    })
}

impl Store {
    /// Records where a camera was commanded to point. `FailedPrecondition` if the camera does
    /// not exist.
    #[tracing::instrument(skip_all)]
    pub async fn set_ptz_state(&self, s: &PtzState) -> Result<()> {
        let q = sqlx::query(UPSERT_SQL)
            .bind(s.camera.to_string())
            .bind(s.away)
            .bind(&s.position)
            .bind(s.changed_at.0)
            .bind(&s.changed_by);
        execute(&self.pool, q, "storing where a camera points").await?;
        Ok(())
    }

    /// Where a camera was last commanded to point; `None`: never moved (at home).
    #[tracing::instrument(skip_all)]
    pub async fn ptz_state(&self, camera: CameraId) -> Result<Option<PtzState>> {
        let row: Option<Row> = sqlx::query_as(GET_SQL)
            .bind(camera.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading where a camera points"))?;
        row.map(from_row).transpose()
    }

    /// The cameras away from their home position (their rules are paused).
    #[tracing::instrument(skip_all)]
    pub async fn cameras_away_from_home(&self) -> Result<Vec<CameraId>> {
        let rows: Vec<Row> = sqlx::query_as(AWAY_SQL)
            .fetch_all(&self.pool)
            .await
            .map_err(db("reading cameras away from home"))?;
        rows.into_iter()
            .map(|r| from_row(r).map(|s| s.camera))
            .collect()
    }
}
