//! The evidence log's rows: leaves, events, site keys and signed checkpoints
//! (docs/design/0005-evidence-format.md).
//!
//! Invariants:
//! - `log_leaves` is append-only: a leaf's index is the number of leaves before it, assigned
//!   inside the `BEGIN IMMEDIATE` transaction that appends it, so indices have no holes and no
//!   two writers get the same one;
//! - a segment's leaf is appended in the same transaction as its row; a gap's leaf when the gap
//!   settles (see [`settle_gaps`]); an event's leaf in the same transaction as the event row and
//!   whatever change the event records. Nothing is ever logged twice;
//! - after a gap is logged its row never changes (every update of a gap's end requires
//!   `log_index IS NULL`).

use crate::{Error, Result, Store, db, to_hash, to_i64, to_u64};
use roeh_domain::{CameraId, ErrorKind, WallTime};
use roeh_evidence::leaf;
use roeh_evidence::merkle::leaf_hash;
use sqlx::{Row, SqliteConnection};

/// One leaf of the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLeaf {
    /// 0-based index.
    pub index: u64,
    /// Kind byte (1 segment, 2 gap, 3 event).
    pub kind: u8,
    /// The leaf's exact bytes.
    pub data: Vec<u8>,
    /// `H(0x00 ‖ data)`.
    pub leaf_hash: [u8; 32],
}

/// An event row (custody, key and clock events), with its log position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRow {
    /// Store id.
    pub id: i64,
    /// When it happened.
    pub time: WallTime,
    /// Event type (`export_created`, `hold_set`, …).
    pub kind: String,
    /// Camera concerned, if any.
    pub camera: Option<CameraId>,
    /// The event's JSON, exactly as logged.
    pub json: Vec<u8>,
    /// Its leaf index.
    pub log_index: u64,
}

/// A site key's public half as registered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRow {
    /// Key id (16 lowercase hex digits).
    pub key_id: String,
    /// Ed25519 public key.
    pub public_key: [u8; 32],
    /// When it was created.
    pub created_at: WallTime,
    /// When a newer key took over.
    pub retired_at: Option<WallTime>,
}

/// A signed checkpoint as handed out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointRow {
    /// Store id.
    pub id: i64,
    /// Tree size.
    pub tree_size: u64,
    /// Root hash.
    pub root: [u8; 32],
    /// Signing time.
    pub time: WallTime,
    /// Signing key id.
    pub key_id: String,
    /// The signed text.
    pub text: String,
    /// The 64-byte Ed25519 signature.
    pub signature: Vec<u8>,
}

/// Appends one leaf inside the caller's transaction; returns its index.
pub(crate) async fn append_leaf(
    conn: &mut SqliteConnection,
    data: &[u8],
    at: WallTime,
) -> Result<u64> {
    let kind = *data
        .first()
        .ok_or_else(|| Error::new(ErrorKind::Internal, "empty log leaf"))?;
    let next: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(idx) + 1, 0) FROM log_leaves")
        .fetch_one(&mut *conn)
        .await
        .map_err(db("appending log leaf"))?;
    sqlx::query(
        "INSERT INTO log_leaves (idx, kind, data, leaf_hash, appended_at) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(next)
    .bind(i64::from(kind))
    .bind(data)
    .bind(&leaf_hash(data)[..])
    .bind(at.0)
    .execute(&mut *conn)
    .await
    .map_err(db("appending log leaf"))?;
    to_u64(next, "log index")
}

fn event_leaf(time: WallTime, json: &[u8]) -> Result<Vec<u8>> {
    leaf::event_leaf(time, json)
        .map_err(|e| Error::new(ErrorKind::InvalidArgument, format!("event: {e}")))
}

/// Appends an event leaf and its row inside the caller's transaction; returns (row id, index).
pub(crate) async fn append_event(
    conn: &mut SqliteConnection,
    time: WallTime,
    kind: &str,
    camera: Option<CameraId>,
    json: &[u8],
) -> Result<(i64, u64)> {
    let idx = append_leaf(conn, &event_leaf(time, json)?, time).await?;
    let r = sqlx::query(
        "INSERT INTO events (time, type, camera_id, json, log_index) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(time.0)
    .bind(kind)
    .bind(camera.map(|c| c.to_string()))
    .bind(json)
    .bind(to_i64(idx, "log index")?)
    .execute(&mut *conn)
    .await
    .map_err(db("inserting event"))?;
    Ok((r.last_insert_rowid(), idx))
}

/// Logs every closed, unlogged gap of `camera` that ended at or before `until`: no later
/// footage can move their ends any more. Called when a segment commits (whose start is
/// `until`, after trimming) and when a new gap opens.
pub(crate) async fn settle_gaps(
    conn: &mut SqliteConnection,
    camera: CameraId,
    until: WallTime,
    at: WallTime,
) -> Result<()> {
    let cam = camera.to_string();
    let rows = sqlx::query(
        "SELECT id, start_wall, end_wall, reason, detail FROM gaps WHERE camera_id = ? \
         AND log_index IS NULL AND end_wall IS NOT NULL AND end_wall <= ? ORDER BY id",
    )
    .bind(&cam)
    .bind(until.0)
    .fetch_all(&mut *conn)
    .await
    .map_err(db("settling gaps"))?;
    for r in rows {
        let id: i64 = r.get(0);
        let start = WallTime(r.get(1));
        let end = WallTime(r.get(2));
        let reason: String = r.get(3);
        let detail: String = r.get(4);
        // Stored reasons are written from `GapReason::as_str`; keep the text as logged.
        let data = leaf::gap_leaf(camera, to_u64(id, "gap id")?, start, end, &reason, &detail)
            .map_err(|e| Error::new(ErrorKind::InvalidArgument, format!("gap {id}: {e}")))?;
        let idx = append_leaf(conn, &data, at).await?;
        sqlx::query("UPDATE gaps SET log_index = ? WHERE id = ?")
            .bind(to_i64(idx, "log index")?)
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(db("settling gaps"))?;
    }
    Ok(())
}

fn leaf_row(r: &sqlx::sqlite::SqliteRow) -> Result<LogLeaf> {
    let kind: i64 = r.get(1);
    Ok(LogLeaf {
        index: to_u64(r.get(0), "log index")?,
        kind: u8::try_from(kind)
            .map_err(|_| Error::new(ErrorKind::DataLoss, "log leaf kind out of range"))?,
        data: r.get(2),
        leaf_hash: to_hash(r.get(3), "leaf hash")?,
    })
}

fn event_row(r: &sqlx::sqlite::SqliteRow) -> Result<EventRow> {
    let cam: Option<String> = r.get(3);
    Ok(EventRow {
        id: r.get(0),
        time: WallTime(r.get(1)),
        kind: r.get(2),
        camera: cam
            .map(|c| {
                CameraId::parse(&c)
                    .map_err(|_| Error::new(ErrorKind::DataLoss, "bad camera id in events"))
            })
            .transpose()?,
        json: r.get(4),
        log_index: to_u64(r.get(5), "log index")?,
    })
}

fn checkpoint_row(r: &sqlx::sqlite::SqliteRow) -> Result<CheckpointRow> {
    Ok(CheckpointRow {
        id: r.get(0),
        tree_size: to_u64(r.get(1), "tree size")?,
        root: to_hash(r.get(2), "root")?,
        time: WallTime(r.get(3)),
        key_id: r.get(4),
        text: r.get(5),
        signature: r.get(6),
    })
}

macro_rules! checkpoint_cols {
    () => {
        "id, tree_size, root, time, key_id, text, signature"
    };
}
macro_rules! event_cols {
    () => {
        "id, time, type, camera_id, json, log_index"
    };
}

impl Store {
    /// Number of leaves in the log.
    #[tracing::instrument(skip_all)]
    pub async fn log_size(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM log_leaves")
            .fetch_one(&self.pool)
            .await
            .map_err(db("counting log leaves"))?;
        to_u64(n, "log size")
    }

    /// Leaf hashes from index `from` on, at most `limit`, in index order.
    #[tracing::instrument(skip_all)]
    pub async fn leaf_hashes_from(&self, from: u64, limit: u32) -> Result<Vec<[u8; 32]>> {
        let rows: Vec<Vec<u8>> = sqlx::query_scalar(
            "SELECT leaf_hash FROM log_leaves WHERE idx >= ? ORDER BY idx LIMIT ?",
        )
        .bind(to_i64(from, "log index")?)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading log"))?;
        rows.into_iter().map(|h| to_hash(h, "leaf hash")).collect()
    }

    /// One leaf.
    #[tracing::instrument(skip_all)]
    pub async fn log_leaf(&self, index: u64) -> Result<Option<LogLeaf>> {
        let r = sqlx::query("SELECT idx, kind, data, leaf_hash FROM log_leaves WHERE idx = ?")
            .bind(to_i64(index, "log index")?)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading log"))?;
        r.as_ref().map(leaf_row).transpose()
    }

    /// The log index of a segment (by row id), if it is logged.
    #[tracing::instrument(skip_all)]
    pub async fn segment_log_index(&self, segment_id: i64) -> Result<Option<u64>> {
        let v: Option<Option<i64>> =
            sqlx::query_scalar("SELECT log_index FROM segments WHERE id = ?")
                .bind(segment_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db("reading segment"))?;
        v.flatten().map(|i| to_u64(i, "log index")).transpose()
    }

    /// The log index of a gap, if it is settled and logged.
    #[tracing::instrument(skip_all)]
    pub async fn gap_log_index(&self, gap_id: i64) -> Result<Option<u64>> {
        let v: Option<Option<i64>> = sqlx::query_scalar("SELECT log_index FROM gaps WHERE id = ?")
            .bind(gap_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading gap"))?;
        v.flatten().map(|i| to_u64(i, "log index")).transpose()
    }

    /// Appends leaves for segments committed before the log existed (rows with no log index),
    /// in row order; returns how many. Idempotent.
    #[tracing::instrument(skip_all)]
    pub async fn backfill_log(&self, at: WallTime) -> Result<u64> {
        let ids: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM segments WHERE log_index IS NULL ORDER BY id")
                .fetch_all(&self.pool)
                .await
                .map_err(db("backfilling log"))?;
        let mut n = 0;
        for id in ids {
            let Some(seg) = self.segment(id).await? else {
                continue;
            };
            let index = self.frame_index(id).await?;
            let mut tx = self
                .pool
                .begin_with("BEGIN IMMEDIATE")
                .await
                .map_err(db("backfilling log"))?;
            let done: Option<i64> =
                sqlx::query_scalar("SELECT log_index FROM segments WHERE id = ?")
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db("backfilling log"))?;
            if done.is_none() {
                let data = crate::segments::segment_leaf(&seg, &index);
                let idx = append_leaf(&mut tx, &data, at).await?;
                sqlx::query("UPDATE segments SET log_index = ? WHERE id = ?")
                    .bind(to_i64(idx, "log index")?)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("backfilling log"))?;
                n += 1;
            }
            tx.commit().await.map_err(db("backfilling log"))?;
        }
        Ok(n)
    }

    /// Records an event (its row and its leaf, in one transaction); returns its log index.
    #[tracing::instrument(skip_all)]
    pub async fn record_event(
        &self,
        time: WallTime,
        kind: &str,
        camera: Option<CameraId>,
        json: &[u8],
    ) -> Result<u64> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db("recording event"))?;
        let (_, idx) = append_event(&mut tx, time, kind, camera, json).await?;
        tx.commit().await.map_err(db("recording event"))?;
        Ok(idx)
    }

    /// Events, optionally of one camera, oldest first, at most `limit`.
    #[tracing::instrument(skip_all)]
    pub async fn events(&self, camera: Option<CameraId>, limit: u32) -> Result<Vec<EventRow>> {
        let rows = match camera {
            Some(c) => sqlx::query(concat!(
                "SELECT ",
                event_cols!(),
                " FROM events WHERE camera_id = ? ORDER BY id LIMIT ?"
            ))
            .bind(c.to_string())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db("listing events"))?,
            None => sqlx::query(concat!(
                "SELECT ",
                event_cols!(),
                " FROM events ORDER BY id LIMIT ?"
            ))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db("listing events"))?,
        };
        rows.iter().map(event_row).collect()
    }

    /// The event logged at `log_index`.
    #[tracing::instrument(skip_all)]
    pub async fn event_at(&self, log_index: u64) -> Result<Option<EventRow>> {
        let r = sqlx::query(concat!(
            "SELECT ",
            event_cols!(),
            " FROM events WHERE log_index = ?"
        ))
        .bind(to_i64(log_index, "log index")?)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("reading event"))?;
        r.as_ref().map(event_row).transpose()
    }

    /// Registers a site key's public half and records a `key_created` event, retiring the
    /// previous signing key (if any) at `at`. Idempotent for a key already registered.
    #[tracing::instrument(skip_all)]
    pub async fn register_key(
        &self,
        key_id: &str,
        public_key: &[u8; 32],
        at: WallTime,
        event_json: &[u8],
    ) -> Result<bool> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db("registering key"))?;
        let exists: Option<String> =
            sqlx::query_scalar("SELECT key_id FROM site_keys WHERE key_id = ?")
                .bind(key_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db("registering key"))?;
        if exists.is_some() {
            return Ok(false);
        }
        sqlx::query("UPDATE site_keys SET retired_at = ? WHERE retired_at IS NULL")
            .bind(at.0)
            .execute(&mut *tx)
            .await
            .map_err(db("registering key"))?;
        sqlx::query("INSERT INTO site_keys (key_id, public_key, created_at) VALUES (?, ?, ?)")
            .bind(key_id)
            .bind(&public_key[..])
            .bind(at.0)
            .execute(&mut *tx)
            .await
            .map_err(db("registering key"))?;
        append_event(&mut tx, at, "key_created", None, event_json).await?;
        tx.commit().await.map_err(db("registering key"))?;
        Ok(true)
    }

    /// All registered keys, oldest first.
    #[tracing::instrument(skip_all)]
    pub async fn keys(&self) -> Result<Vec<KeyRow>> {
        let rows = sqlx::query(
            "SELECT key_id, public_key, created_at, retired_at FROM site_keys ORDER BY created_at, key_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db("listing keys"))?;
        rows.iter()
            .map(|r| {
                Ok(KeyRow {
                    key_id: r.get(0),
                    public_key: to_hash(r.get(1), "public key")?,
                    created_at: WallTime(r.get(2)),
                    retired_at: r.get::<Option<i64>, _>(3).map(WallTime),
                })
            })
            .collect()
    }

    /// Stores a signed checkpoint; returns its id.
    #[tracing::instrument(skip_all)]
    pub async fn insert_checkpoint(&self, cp: &CheckpointRow) -> Result<i64> {
        let r = sqlx::query(
            "INSERT INTO checkpoints (tree_size, root, time, key_id, text, signature) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(to_i64(cp.tree_size, "tree size")?)
        .bind(&cp.root[..])
        .bind(cp.time.0)
        .bind(&cp.key_id)
        .bind(&cp.text)
        .bind(&cp.signature)
        .execute(&self.pool)
        .await
        .map_err(db("storing checkpoint"))?;
        Ok(r.last_insert_rowid())
    }

    /// The most recent checkpoint.
    #[tracing::instrument(skip_all)]
    pub async fn latest_checkpoint(&self) -> Result<Option<CheckpointRow>> {
        let r = sqlx::query(concat!(
            "SELECT ",
            checkpoint_cols!(),
            " FROM checkpoints ORDER BY id DESC LIMIT 1"
        ))
        .fetch_optional(&self.pool)
        .await
        .map_err(db("reading checkpoint"))?;
        r.as_ref().map(checkpoint_row).transpose()
    }

    /// Checkpoints, newest first, at most `limit`.
    #[tracing::instrument(skip_all)]
    pub async fn checkpoints(&self, limit: u32) -> Result<Vec<CheckpointRow>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            checkpoint_cols!(),
            " FROM checkpoints ORDER BY id DESC LIMIT ?"
        ))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db("listing checkpoints"))?;
        rows.iter().map(checkpoint_row).collect()
    }
}
