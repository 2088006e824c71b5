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
//!   `log_index IS NULL`);
//! - an event's JSON is built in one place ([`encode_event`]): its `type` and `time` come from
//!   the same kind and time that are stored in the event row and leaf, so they never disagree.
//!   The bytes are serialised once, then stored and logged as they are, never re-serialised.

use crate::DbConn;
use crate::{
    Error, Result, Store, db, execute, fetch_all, fetch_optional, to_hash, to_i64, to_u64,
};
use roeh_domain::{CameraId, ErrorKind, WallTime};
use roeh_evidence::leaf;
use roeh_evidence::merkle::leaf_hash;
use sqlx::Row;

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
pub(crate) async fn append_leaf(conn: &mut DbConn, data: &[u8], at: WallTime) -> Result<u64> {
    let kind = *data
        .first()
        .ok_or_else(|| Error::new(ErrorKind::Internal, "empty log leaf"))?;
    // The head row gives the index and is advanced in the same transaction (migration 0012):
    // dense under concurrent appenders, and nothing taken by a rolled-back append.
    let next: i64 =
        sqlx::query_scalar("UPDATE log_head SET size = size + 1 WHERE id = 1 RETURNING size - 1")
            .fetch_one(&mut *conn)
            .await
            .map_err(db("appending log leaf"))?;
    let q = sqlx::query(
        "INSERT INTO log_leaves (idx, kind, data, leaf_hash, appended_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(next)
    .bind(i64::from(kind))
    .bind(data)
    .bind(&leaf_hash(data)[..])
    .bind(at.0);
    execute(&mut *conn, q, "appending log leaf").await?;
    to_u64(next, "log index")
}

fn event_leaf(time: WallTime, json: &[u8]) -> Result<Vec<u8>> {
    leaf::event_leaf(time, json)
        .map_err(|e| Error::new(ErrorKind::InvalidArgument, format!("event: {e}")))
}

/// Serialises an event: `{"type": kind, "time": <RFC 3339 of time>, ...fields}`.
///
/// `fields` must be a JSON object without `type` or `time` keys (`Internal` otherwise: that is
/// a programming error, not bad input). `type` and `time` are inserted first, so the layout is
/// the same whichever map order serde_json is built with: sorted keys by default, insertion
/// order (`type`, `time`, then the fields as given) with its `preserve_order` feature.
pub(crate) fn encode_event(
    time: WallTime,
    kind: &str,
    fields: serde_json::Value,
) -> Result<Vec<u8>> {
    let serde_json::Value::Object(fields) = fields else {
        return Err(Error::new(
            ErrorKind::Internal,
            format!("{kind} event: fields are not a JSON object"),
        ));
    };
    if fields.contains_key("type") || fields.contains_key("time") {
        return Err(Error::new(
            ErrorKind::Internal,
            format!("{kind} event: fields must not set type or time"),
        ));
    }
    let mut event = serde_json::Map::with_capacity(fields.len() + 2);
    event.insert("type".into(), kind.into());
    event.insert("time".into(), time.to_rfc3339().into());
    event.extend(fields);
    serde_json::to_vec(&event)
        .map_err(|e| Error::with_source(ErrorKind::Internal, "encoding event", e))
}

/// Appends an event of `kind` at `time` (its JSON built by [`encode_event`] from `fields`) as
/// a leaf and a row, inside the caller's transaction; returns the event as stored.
pub(crate) async fn append_event(
    conn: &mut DbConn,
    time: WallTime,
    kind: &str,
    camera: Option<CameraId>,
    fields: serde_json::Value,
) -> Result<EventRow> {
    let json = encode_event(time, kind, fields)?;
    let idx = append_leaf(conn, &event_leaf(time, &json)?, time).await?;
    let r = sqlx::query_scalar::<_, i64>(
        "INSERT INTO events (time, type, camera_id, json, log_index) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(time.0)
    .bind(kind)
    .bind(camera.map(|c| c.to_string()))
    .bind(&json)
    .bind(to_i64(idx, "log index")?)
    .fetch_one(&mut *conn)
    .await
    .map_err(db("inserting event"))?;
    Ok(EventRow {
        id: r,
        time,
        kind: kind.to_string(),
        camera,
        json,
        log_index: idx,
    })
}

/// Logs every closed, unlogged gap of `camera` that ended at or before `until`: no later
/// footage can move their ends any more. Called when a segment commits (whose start is
/// `until`, after trimming) and when a new gap opens.
pub(crate) async fn settle_gaps(
    conn: &mut DbConn,
    camera: CameraId,
    until: WallTime,
    at: WallTime,
) -> Result<()> {
    let cam = camera.to_string();
    let rows = sqlx::query(
        "SELECT id, start_wall, end_wall, reason, detail FROM gaps WHERE camera_id = $1 \
         AND log_index IS NULL AND end_wall IS NOT NULL AND end_wall <= $2 ORDER BY id",
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
        let q = sqlx::query("UPDATE gaps SET log_index = $1 WHERE id = $2")
            .bind(to_i64(idx, "log index")?)
            .bind(id);
        execute(&mut *conn, q, "settling gaps").await?;
    }
    Ok(())
}

fn leaf_row(r: &sqlx::any::AnyRow) -> Result<LogLeaf> {
    let kind: i64 = r.get(1);
    Ok(LogLeaf {
        index: to_u64(r.get(0), "log index")?,
        kind: u8::try_from(kind)
            .map_err(|_| Error::new(ErrorKind::DataLoss, "log leaf kind out of range"))?,
        data: r.get(2),
        leaf_hash: to_hash(r.get(3), "leaf hash")?,
    })
}

fn event_row(r: &sqlx::any::AnyRow) -> Result<EventRow> {
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

fn checkpoint_row(r: &sqlx::any::AnyRow) -> Result<CheckpointRow> {
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
        let n: i64 = sqlx::query_scalar("SELECT size FROM log_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(db("reading the log's size"))?;
        to_u64(n, "log size")
    }

    /// Leaf hashes from index `from` on, at most `limit`, in index order.
    #[tracing::instrument(skip_all)]
    pub async fn leaf_hashes_from(&self, from: u64, limit: u32) -> Result<Vec<[u8; 32]>> {
        let rows: Vec<Vec<u8>> = sqlx::query_scalar(
            "SELECT leaf_hash FROM log_leaves WHERE idx >= $1 ORDER BY idx LIMIT $2",
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
        let q = sqlx::query("SELECT idx, kind, data, leaf_hash FROM log_leaves WHERE idx = $1")
            .bind(to_i64(index, "log index")?);
        fetch_optional(&self.pool, q, "reading log", leaf_row).await
    }

    /// The log index of a segment (by row id), if it is logged.
    #[tracing::instrument(skip_all)]
    pub async fn segment_log_index(&self, segment_id: i64) -> Result<Option<u64>> {
        let v: Option<Option<i64>> =
            sqlx::query_scalar("SELECT log_index FROM segments WHERE id = $1")
                .bind(segment_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db("reading segment"))?;
        v.flatten().map(|i| to_u64(i, "log index")).transpose()
    }

    /// The log index of a gap, if it is settled and logged.
    #[tracing::instrument(skip_all)]
    pub async fn gap_log_index(&self, gap_id: i64) -> Result<Option<u64>> {
        let v: Option<Option<i64>> = sqlx::query_scalar("SELECT log_index FROM gaps WHERE id = $1")
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
            let mut tx = self.begin("backfilling log").await?;
            let done: Option<i64> =
                sqlx::query_scalar("SELECT log_index FROM segments WHERE id = $1")
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db("backfilling log"))?;
            if done.is_none() {
                let data = crate::segments::segment_leaf(&seg, &index);
                let idx = append_leaf(&mut tx, &data, at).await?;
                let q = sqlx::query("UPDATE segments SET log_index = $1 WHERE id = $2")
                    .bind(to_i64(idx, "log index")?)
                    .bind(id);
                execute(&mut *tx, q, "backfilling log").await?;
                n += 1;
            }
            tx.commit().await.map_err(db("backfilling log"))?;
        }
        Ok(n)
    }

    /// Records an event of `kind` at `time` (its row and its leaf, in one transaction);
    /// returns it as stored (its JSON byte for byte as logged, its log index). `fields` is a
    /// JSON object of the event's fields besides `type` and `time`, which are added here from
    /// `kind` and `time`.
    #[tracing::instrument(skip_all)]
    pub async fn record_event(
        &self,
        time: WallTime,
        kind: &str,
        camera: Option<CameraId>,
        fields: serde_json::Value,
    ) -> Result<EventRow> {
        let mut tx = self.begin("recording event").await?;
        let event = append_event(&mut tx, time, kind, camera, fields).await?;
        tx.commit().await.map_err(db("recording event"))?;
        Ok(event)
    }

    /// Events, optionally of one camera, oldest first, at most `limit`.
    #[tracing::instrument(skip_all)]
    pub async fn events(&self, camera: Option<CameraId>, limit: u32) -> Result<Vec<EventRow>> {
        let rows = match camera {
            Some(c) => sqlx::query(concat!(
                "SELECT ",
                event_cols!(),
                " FROM events WHERE camera_id = $1 ORDER BY id LIMIT $2"
            ))
            .bind(c.to_string())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db("listing events"))?,
            None => sqlx::query(concat!(
                "SELECT ",
                event_cols!(),
                " FROM events ORDER BY id LIMIT $1"
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
        let q = sqlx::query(concat!(
            "SELECT ",
            event_cols!(),
            " FROM events WHERE log_index = $1"
        ))
        .bind(to_i64(log_index, "log index")?);
        fetch_optional(&self.pool, q, "reading event", event_row).await
    }

    /// Registers a site key's public half and records an event of `kind` (`key_created` for
    /// the site's first key, `key_rotated` for a replacement) with `fields` besides `type` and
    /// `time`, retiring the previous signing key (if any) at `at`. Idempotent for a key already
    /// registered (`Ok(false)`, nothing recorded).
    #[tracing::instrument(skip_all)]
    pub async fn register_key(
        &self,
        key_id: &str,
        public_key: &[u8; 32],
        at: WallTime,
        kind: &str,
        fields: serde_json::Value,
    ) -> Result<bool> {
        let mut tx = self.begin("registering key").await?;
        let exists: Option<String> =
            sqlx::query_scalar("SELECT key_id FROM site_keys WHERE key_id = $1")
                .bind(key_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db("registering key"))?;
        if exists.is_some() {
            return Ok(false);
        }
        let q =
            sqlx::query("UPDATE site_keys SET retired_at = $1 WHERE retired_at IS NULL").bind(at.0);
        execute(&mut *tx, q, "registering key").await?;
        let q = sqlx::query(
            "INSERT INTO site_keys (key_id, public_key, created_at) VALUES ($1, $2, $3)",
        )
        .bind(key_id)
        .bind(&public_key[..])
        .bind(at.0);
        execute(&mut *tx, q, "registering key").await?;
        append_event(&mut tx, at, kind, None, fields).await?;
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
        let r = sqlx::query_scalar::<_, i64>(
            "INSERT INTO checkpoints (tree_size, root, time, key_id, text, signature) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(to_i64(cp.tree_size, "tree size")?)
        .bind(&cp.root[..])
        .bind(cp.time.0)
        .bind(&cp.key_id)
        .bind(&cp.text)
        .bind(&cp.signature)
        .fetch_one(&self.pool)
        .await
        .map_err(db("storing checkpoint"))?;
        Ok(r)
    }

    /// The most recent checkpoint.
    #[tracing::instrument(skip_all)]
    pub async fn latest_checkpoint(&self) -> Result<Option<CheckpointRow>> {
        let q = sqlx::query(concat!(
            "SELECT ",
            checkpoint_cols!(),
            " FROM checkpoints ORDER BY id DESC LIMIT 1"
        ));
        fetch_optional(&self.pool, q, "reading checkpoint", checkpoint_row).await
    }

    /// Checkpoints, newest first, at most `limit`.
    #[tracing::instrument(skip_all)]
    pub async fn checkpoints(&self, limit: u32) -> Result<Vec<CheckpointRow>> {
        let q = sqlx::query(concat!(
            "SELECT ",
            checkpoint_cols!(),
            " FROM checkpoints ORDER BY id DESC LIMIT $1"
        ))
        .bind(i64::from(limit));
        fetch_all(&self.pool, q, "listing checkpoints", checkpoint_row).await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::encode_event;
    use crate::{NewHold, Store};
    use roeh_domain::{Camera, CameraId, CameraUrl, ErrorKind, Retention, Transport, WallTime};
    use serde_json::json;

    const T: WallTime = WallTime(1_800_000_000_123_456);

    #[tokio::test]
    async fn indices_come_from_the_head_and_a_rolled_back_append_leaves_no_hole() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("h.db").to_str().unwrap())
            .await
            .unwrap();
        let leaf = |n: u8| {
            let mut d = vec![3u8];
            d.extend_from_slice(format!("{{\"n\":{n}}}").as_bytes());
            d
        };
        for n in 0..3u8 {
            let mut tx = store.begin("test").await.unwrap();
            assert_eq!(
                super::append_leaf(&mut tx, &leaf(n), T).await.unwrap(),
                u64::from(n)
            );
            tx.commit().await.unwrap();
        }
        // Taken, then rolled back: the next append gets the same index.
        {
            let mut tx = store.begin("test").await.unwrap();
            assert_eq!(super::append_leaf(&mut tx, &leaf(9), T).await.unwrap(), 3);
            tx.rollback().await.unwrap();
        }
        assert_eq!(store.log_size().await.unwrap(), 3);
        let mut tx = store.begin("test").await.unwrap();
        assert_eq!(super::append_leaf(&mut tx, &leaf(3), T).await.unwrap(), 3);
        tx.commit().await.unwrap();
        // The head is the count, and the indices are dense.
        let (count, max): (i64, i64) = sqlx::query_as("SELECT COUNT(*), MAX(idx) FROM log_leaves")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!((count, max), (4, 3));
        assert_eq!(store.log_size().await.unwrap(), 4);
        assert_eq!(store.log_leaf(3).await.unwrap().unwrap().data, leaf(3));
    }

    #[test]
    fn an_event_is_encoded_as_its_callers_wrote_it_by_hand() {
        // The construction every caller used before the store added `type` and `time`.
        let fields =
            json!({"hold": 3, "case": "PD-1", "actor": "sgt", "detail": {"b": 1, "a": [2]}});
        let by_hand = serde_json::to_vec(&json!({
            "type": "hold_set",
            "time": T.to_rfc3339(),
            "hold": 3,
            "case": "PD-1",
            "actor": "sgt",
            "detail": {"b": 1, "a": [2]},
        }))
        .unwrap();
        let json = encode_event(T, "hold_set", fields).unwrap();
        assert_eq!(json, by_hand);
        // Pinned: these bytes are hashed into the log, so their layout must not drift.
        assert_eq!(
            String::from_utf8(json).unwrap(),
            r#"{"actor":"sgt","case":"PD-1","detail":{"a":[2],"b":1},"hold":3,"time":"2027-01-15T08:00:00.123456Z","type":"hold_set"}"#
        );
        assert_eq!(
            encode_event(T, "x", json!({})).unwrap(),
            br#"{"time":"2027-01-15T08:00:00.123456Z","type":"x"}"#
        );
    }

    #[test]
    fn event_fields_must_be_an_object_without_type_or_time() {
        for bad in [
            json!(null),
            json!([1]),
            json!("x"),
            json!({"type": "other"}),
            json!({"time": "2020-01-01T00:00:00Z"}),
        ] {
            let e = encode_event(T, "hold_set", bad.clone()).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Internal, "{bad}");
        }
    }

    #[tokio::test]
    async fn a_stored_event_row_agrees_with_its_json_and_leaf() {
        let store = Store::open("sqlite::memory:").await.unwrap();
        let cam = CameraId(uuid::Uuid::from_u128(7));
        let ev = store
            .record_event(T, "footage_viewed", Some(cam), json!({"actor": "op"}))
            .await
            .unwrap();
        assert_eq!(ev.kind, "footage_viewed");
        assert_eq!(ev.time, T);
        assert_eq!(ev.camera, Some(cam));
        // What the caller gets back is what was stored and logged.
        assert_eq!(
            store.event_at(ev.log_index).await.unwrap(),
            Some(ev.clone())
        );
        let leaf = store.log_leaf(ev.log_index).await.unwrap().unwrap();
        assert_eq!(
            leaf.data,
            roeh_evidence::leaf::event_leaf(T, &ev.json).unwrap()
        );
        let v: serde_json::Value = serde_json::from_slice(&ev.json).unwrap();
        assert_eq!(v["type"], "footage_viewed");
        assert_eq!(v["time"], T.to_rfc3339());
        assert_eq!(v["actor"], "op");

        // Bad fields record nothing.
        let size = store.log_size().await.unwrap();
        assert!(store.record_event(T, "x", None, json!([1])).await.is_err());
        assert_eq!(store.log_size().await.unwrap(), size);
    }

    #[tokio::test]
    async fn a_key_event_is_stored_under_the_kind_it_was_registered_with() {
        let store = Store::open("sqlite::memory:").await.unwrap();
        let first = json!({"key_id": "00112233445566ff"});
        assert!(
            store
                .register_key("00112233445566ff", &[7; 32], T, "key_created", first)
                .await
                .unwrap()
        );
        let later = WallTime(T.0 + 1_000_000);
        let second = json!({"key_id": "0123456789abcdef"});
        assert!(
            store
                .register_key("0123456789abcdef", &[8; 32], later, "key_rotated", second)
                .await
                .unwrap()
        );
        let evs = store.events(None, 10).await.unwrap();
        let kinds: Vec<&str> = evs.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["key_created", "key_rotated"]);
        for e in &evs {
            let v: serde_json::Value = serde_json::from_slice(&e.json).unwrap();
            assert_eq!(v["type"], e.kind.as_str());
            assert_eq!(v["time"], e.time.to_rfc3339());
        }
        assert_eq!(evs[1].time, later);
        let keys = store.keys().await.unwrap();
        assert_eq!(keys[0].retired_at, Some(later));
    }

    #[tokio::test]
    async fn hold_events_keep_their_byte_layout() {
        let store = Store::open("sqlite::memory:").await.unwrap();
        let cam = Camera {
            id: CameraId(uuid::Uuid::from_u128(7)),
            name: "A".into(),
            url: CameraUrl::parse("rtsp://127.0.0.1:8554/cam").unwrap(),
            credentials: None,
            transport: Transport::Tcp,
            enabled: true,
            retention: Retention {
                max_age: None,
                max_bytes: None,
            },
        };
        store.insert_camera(&cam, WallTime(0)).await.unwrap();
        let hold = NewHold {
            case_ref: "PD-1".into(),
            camera: cam.id,
            start: WallTime(1_000_000),
            end: WallTime(2_000_000),
            reason: "fight".into(),
            created_by: "sgt".into(),
        };
        let (id, idx) = store.place_hold(&hold, T).await.unwrap();
        let later = WallTime(T.0 + 1);
        assert!(store.clear_hold(id, "lt", "closed", later).await.unwrap());
        let evs = store.events(Some(cam.id), 10).await.unwrap();
        assert_eq!(evs.len(), 2);
        assert_eq!((evs[0].kind.as_str(), evs[0].log_index), ("hold_set", idx));
        assert_eq!(
            String::from_utf8(evs[0].json.clone()).unwrap(),
            format!(
                r#"{{"actor":"sgt","camera":"{c}","case":"PD-1","end":"1970-01-01T00:00:02.000000Z","hold":{id},"reason":"fight","start":"1970-01-01T00:00:01.000000Z","time":"2027-01-15T08:00:00.123456Z","type":"hold_set"}}"#,
                c = cam.id
            )
        );
        assert_eq!(evs[1].kind, "hold_cleared");
        assert_eq!(
            String::from_utf8(evs[1].json.clone()).unwrap(),
            format!(
                r#"{{"actor":"lt","camera":"{c}","case":"PD-1","hold":{id},"reason":"closed","time":"2027-01-15T08:00:00.123457Z","type":"hold_cleared"}}"#,
                c = cam.id
            )
        );
    }
}
