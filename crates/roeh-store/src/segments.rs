//! Segment repository: the index of committed segment files and their hash chain.
//!
//! Invariants:
//! - [`Store::insert_segment`] accepts a row only if it extends the camera's chain: `seq` is one
//!   more than the camera's last seq (1 for the first) and `prev_chain` equals the last row's
//!   `chain` (zeros for the first). The check and the insert happen in one transaction. It is
//!   idempotent on the segment's identity: inserting a segment whose row is already there, the
//!   same in every field (SHA-256, chain links, times, …), returns that row's id and changes
//!   nothing, so a commit whose answer was lost can be retried.
//! - Rows are never deleted; [`Store::mark_segment_deleted`] only flips `state`.
//! - Range queries return rows in both states, so a caller can tell "deleted by retention" from
//!   "never recorded"; they filter on [`SegmentState`] where only files matter.

use crate::DbRow;
use crate::{
    Error, Result, Store, db, execute, fetch_all, fetch_optional, frame_index, log, to_hash,
    to_i64, to_u64,
};
use roeh_domain::{
    CameraId, ErrorKind, FrameIndexEntry, Pts90k, Segment, SegmentState, VideoCodec, WallTime,
};
use sqlx::Row;

const SEGMENT_BY_ID_SQL: &str = "SELECT id, camera_id, seq, run, codec, start_wall, end_wall, \
     start_pts, duration_pts, frames, bytes, sha256, prev_chain, chain, config_record, width, \
     height, rfc6381, CASE WHEN recovered THEN 1 ELSE 0 END AS recovered, state FROM segments WHERE id = $1";

const SEGMENT_BY_SEQ_SQL: &str = "SELECT id, camera_id, seq, run, codec, start_wall, end_wall, \
     start_pts, duration_pts, frames, bytes, sha256, prev_chain, chain, config_record, width, \
     height, rfc6381, CASE WHEN recovered THEN 1 ELSE 0 END AS recovered, state FROM segments WHERE camera_id = $1 AND seq = $2";

const INSERT_SEGMENT_SQL: &str = "INSERT INTO segments (camera_id, seq, run, codec, start_wall, \
     end_wall, start_pts, duration_pts, frames, bytes, sha256, prev_chain, chain, config_record, \
     width, height, rfc6381, recovered, state, frame_index) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, 'committed', $19) RETURNING id";

const LAST_SEGMENT_SQL: &str = "SELECT id, camera_id, seq, run, codec, start_wall, end_wall, \
     start_pts, duration_pts, frames, bytes, sha256, prev_chain, chain, config_record, width, \
     height, rfc6381, CASE WHEN recovered THEN 1 ELSE 0 END AS recovered, state FROM segments WHERE camera_id = $1 \
     ORDER BY seq DESC LIMIT 1";

const SEGMENTS_IN_RANGE_SQL: &str = "SELECT id, camera_id, seq, run, codec, start_wall, \
     end_wall, start_pts, duration_pts, frames, bytes, sha256, prev_chain, chain, config_record, \
     width, height, rfc6381, CASE WHEN recovered THEN 1 ELSE 0 END AS recovered, state FROM segments \
     WHERE camera_id = $1 AND start_wall < $2 AND end_wall > $3 ORDER BY seq";

const OLDEST_SEGMENTS_SQL: &str = "SELECT id, camera_id, seq, run, codec, start_wall, end_wall, \
     start_pts, duration_pts, frames, bytes, sha256, prev_chain, chain, config_record, width, \
     height, rfc6381, CASE WHEN recovered THEN 1 ELSE 0 END AS recovered, state FROM segments \
     WHERE state = 'committed' ORDER BY start_wall, id LIMIT $1";

const OLDEST_NODE_SEGMENTS_SQL: &str = "SELECT id, camera_id, seq, run, codec, start_wall, \
     end_wall, start_pts, duration_pts, frames, bytes, sha256, prev_chain, chain, config_record, \
     width, height, rfc6381, CASE WHEN recovered THEN 1 ELSE 0 END AS recovered, state FROM segments \
     WHERE state = 'committed' AND camera_id IN \
     (SELECT id FROM cameras WHERE node IS NOT DISTINCT FROM $1) ORDER BY start_wall, id LIMIT $2";

const OLDEST_CAMERA_SEGMENTS_SQL: &str = "SELECT id, camera_id, seq, run, codec, start_wall, \
     end_wall, start_pts, duration_pts, frames, bytes, sha256, prev_chain, chain, config_record, \
     width, height, rfc6381, CASE WHEN recovered THEN 1 ELSE 0 END AS recovered, state FROM segments \
     WHERE state = 'committed' AND camera_id = $1 ORDER BY seq LIMIT $2";

const CHAIN_SEGMENTS_SQL: &str = "SELECT id, camera_id, seq, run, codec, start_wall, end_wall, \
     start_pts, duration_pts, frames, bytes, sha256, prev_chain, chain, config_record, width, \
     height, rfc6381, CASE WHEN recovered THEN 1 ELSE 0 END AS recovered, state FROM segments WHERE camera_id = $1 AND seq >= $2 \
     ORDER BY seq LIMIT $3";

impl Store {
    /// Commits a segment row with its frame index; returns its id. Refuses (FailedPrecondition)
    /// a row that does not extend the camera's chain, and (InvalidArgument) an index whose
    /// frame count or byte total disagrees with the segment. A segment already committed (same
    /// camera and seq, every field the same) returns its row's id unchanged.
    #[tracing::instrument(skip_all)]
    pub async fn insert_segment(&self, seg: &Segment, index: &[FrameIndexEntry]) -> Result<i64> {
        let bad = |m: &str| Error::new(ErrorKind::InvalidArgument, m.to_string());
        if index.len() != seg.frames as usize {
            return Err(bad("frame index length differs from frame count"));
        }
        let total: u64 = index.iter().map(|e| u64::from(e.size)).sum();
        if total != seg.bytes {
            return Err(bad("frame index sizes do not add up to the segment length"));
        }
        let blob = frame_index::encode(index).map_err(bad)?;
        let cam = seg.camera.to_string();
        let mut tx = self.begin("inserting segment").await?;
        let last: Option<(i64, Vec<u8>)> = sqlx::query_as(
            "SELECT seq, chain FROM segments WHERE camera_id = $1 ORDER BY seq DESC LIMIT 1",
        )
        .bind(&cam)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db("inserting segment"))?;
        let (want_seq, want_prev) = match last {
            Some((seq, chain)) => (to_u64(seq, "seq")? + 1, to_hash(chain, "chain")?),
            None => (1, [0u8; 32]),
        };
        if seg.seq < want_seq {
            // Already in: a retry of an insert whose answer was lost (the database went away,
            // or the caller gave up waiting). The same segment counts as committed.
            let q = sqlx::query(SEGMENT_BY_SEQ_SQL)
                .bind(&cam)
                .bind(to_i64(seg.seq, "seq")?);
            let existing =
                fetch_optional(&mut *tx, q, "inserting segment", segment_from_row).await?;
            if let Some(e) = existing {
                let mut same = seg.clone();
                same.id = e.id;
                same.state = e.state;
                if e == same {
                    return Ok(e.id);
                }
            }
        }
        if seg.seq != want_seq || seg.prev_chain != want_prev {
            return Err(Error::new(
                ErrorKind::FailedPrecondition,
                format!(
                    "segment seq {} does not extend the chain of camera {} (next seq {want_seq})",
                    seg.seq, seg.camera
                ),
            ));
        }
        let r = sqlx::query_scalar::<_, i64>(INSERT_SEGMENT_SQL)
            .bind(&cam)
            .bind(to_i64(seg.seq, "seq")?)
            .bind(to_i64(seg.run, "run")?)
            .bind(seg.codec.as_str())
            .bind(seg.start.0)
            .bind(seg.end.0)
            .bind(seg.start_pts.0)
            .bind(seg.duration.0)
            .bind(i64::from(seg.frames))
            .bind(to_i64(seg.bytes, "bytes")?)
            .bind(&seg.sha256[..])
            .bind(&seg.prev_chain[..])
            .bind(&seg.chain[..])
            .bind(&seg.config_record)
            .bind(i64::from(seg.width))
            .bind(i64::from(seg.height))
            .bind(&seg.rfc6381)
            .bind(seg.recovered)
            .bind(blob)
            .fetch_one(&mut *tx)
            .await
            .map_err(db("inserting segment"))?;
        let id = r;
        // The segment's log leaf, in the same transaction as its row.
        let at = seg.end;
        let idx = log::append_leaf(&mut tx, &segment_leaf(seg, index), at).await?;
        let q = sqlx::query("UPDATE segments SET log_index = $1 WHERE id = $2")
            .bind(to_i64(idx, "log index")?)
            .bind(id);
        execute(&mut *tx, q, "inserting segment").await?;
        // A gap closed by this run's first frame ends where the footage begins (which may be
        // before that frame arrived); then every gap that ended by then is settled and logged.
        let q = sqlx::query(
            "UPDATE gaps SET end_wall = CASE WHEN start_wall > $1 THEN start_wall ELSE $1 END WHERE camera_id = $2 \
             AND log_index IS NULL AND end_wall IS NOT NULL AND start_wall <= $3 AND end_wall > $4",
        )
        .bind(seg.start.0)
        .bind(&cam)
        .bind(seg.start.0)
        .bind(seg.start.0);
        execute(&mut *tx, q, "inserting segment").await?;
        log::settle_gaps(&mut tx, seg.camera, seg.start, at).await?;
        tx.commit().await.map_err(db("committing segment"))?;
        Ok(id)
    }

    /// The camera's segment with the highest seq (any state), to continue its chain.
    #[tracing::instrument(skip_all)]
    pub async fn last_segment(&self, camera: CameraId) -> Result<Option<Segment>> {
        let q = sqlx::query(LAST_SEGMENT_SQL).bind(camera.to_string());
        fetch_optional(&self.pool, q, "reading last segment", segment_from_row).await
    }

    /// A segment by id.
    #[tracing::instrument(skip_all)]
    pub async fn segment(&self, id: i64) -> Result<Option<Segment>> {
        let q = sqlx::query(SEGMENT_BY_ID_SQL).bind(id);
        fetch_optional(&self.pool, q, "reading segment", segment_from_row).await
    }

    /// A segment by camera and seq.
    #[tracing::instrument(skip_all)]
    pub async fn segment_by_seq(&self, camera: CameraId, seq: u64) -> Result<Option<Segment>> {
        let q = sqlx::query(SEGMENT_BY_SEQ_SQL)
            .bind(camera.to_string())
            .bind(to_i64(seq, "seq")?);
        fetch_optional(&self.pool, q, "reading segment", segment_from_row).await
    }

    /// Segments of `camera` overlapping `[start, end)` (both states), in seq order.
    #[tracing::instrument(skip_all)]
    pub async fn segments_in_range(
        &self,
        camera: CameraId,
        start: WallTime,
        end: WallTime,
    ) -> Result<Vec<Segment>> {
        let q = sqlx::query(SEGMENTS_IN_RANGE_SQL)
            .bind(camera.to_string())
            .bind(end.0)
            .bind(start.0);
        fetch_all(&self.pool, q, "listing segments", segment_from_row).await
    }

    /// Up to `limit` segments of `camera` (both states) from seq `from_seq` on, in seq order:
    /// pages of the camera's hash chain for verification.
    #[tracing::instrument(skip_all)]
    pub async fn chain_segments(
        &self,
        camera: CameraId,
        from_seq: u64,
        limit: u32,
    ) -> Result<Vec<Segment>> {
        let q = sqlx::query(CHAIN_SEGMENTS_SQL)
            .bind(camera.to_string())
            .bind(to_i64(from_seq, "seq")?)
            .bind(i64::from(limit));
        fetch_all(&self.pool, q, "listing chain", segment_from_row).await
    }

    /// The per-frame index of a segment. `NotFound` if there is no such segment.
    #[tracing::instrument(skip_all)]
    pub async fn frame_index(&self, segment_id: i64) -> Result<Vec<FrameIndexEntry>> {
        let (blob,): (Vec<u8>,) = sqlx::query_as("SELECT frame_index FROM segments WHERE id = $1")
            .bind(segment_id)
            .fetch_one(&self.pool)
            .await
            .map_err(db("reading frame index"))?;
        frame_index::decode(&blob).map_err(|m| {
            Error::new(
                ErrorKind::DataLoss,
                format!("frame index of segment {segment_id}: {m}"),
            )
        })
    }

    /// Up to `limit` committed segments, oldest first: of one camera in seq order, or of all
    /// cameras by start time.
    #[tracing::instrument(skip_all)]
    pub async fn oldest_segments(
        &self,
        camera: Option<CameraId>,
        limit: u32,
    ) -> Result<Vec<Segment>> {
        let rows = match camera {
            Some(c) => {
                sqlx::query(OLDEST_CAMERA_SEGMENTS_SQL)
                    .bind(c.to_string())
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
            }
            None => {
                sqlx::query(OLDEST_SEGMENTS_SQL)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
            }
        }
        .map_err(db("listing oldest segments"))?;
        rows.iter().map(segment_from_row).collect()
    }

    /// Up to `limit` committed segments of the cameras this store's node records (removed ones
    /// included: their files are on this node's disk), oldest first by start time.
    #[tracing::instrument(skip_all)]
    pub async fn oldest_node_segments(&self, limit: u32) -> Result<Vec<Segment>> {
        let rows = sqlx::query(OLDEST_NODE_SEGMENTS_SQL)
            .bind(self.node())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db("listing the node's oldest segments"))?;
        rows.iter().map(segment_from_row).collect()
    }

    /// Marks a segment's file as deleted by retention; the row and its hashes stay. Returns
    /// `false` if it was already deleted; `NotFound` if there is no such segment.
    #[tracing::instrument(skip_all)]
    pub async fn mark_segment_deleted(&self, id: i64, at: WallTime) -> Result<bool> {
        let mut tx = self.begin("marking segment deleted").await?;
        let q = sqlx::query(
            "UPDATE segments SET state = 'deleted', deleted_at = $1 \
             WHERE id = $2 AND state = 'committed'",
        )
        .bind(at.0)
        .bind(id);
        if execute(&mut *tx, q, "marking segment deleted").await? == 1 {
            // The deletion is a custody event; the segment's own leaf stays in the log.
            let row = sqlx::query("SELECT camera_id, seq, log_index FROM segments WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await
                .map_err(db("marking segment deleted"))?;
            let cam: String = row.get(0);
            let seq: i64 = row.get(1);
            let leaf: Option<i64> = row.get(2);
            let camera = CameraId::parse(&cam)
                .map_err(|_| Error::new(ErrorKind::DataLoss, "bad camera id in segments"))?;
            let fields = serde_json::json!({
                "camera": cam,
                "seq": seq,
                "segment_leaf": leaf,
            });
            log::append_event(&mut tx, at, "retention_deleted", Some(camera), fields).await?;
            tx.commit().await.map_err(db("marking segment deleted"))?;
            return Ok(true);
        }
        drop(tx);
        match self.segment(id).await? {
            Some(_) => Ok(false),
            None => Err(Error::new(ErrorKind::NotFound, "segment not found")),
        }
    }

    /// Bytes of the camera's committed segments.
    #[tracing::instrument(skip_all)]
    pub async fn camera_bytes(&self, camera: CameraId) -> Result<u64> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(bytes), 0) AS BIGINT) FROM segments \
             WHERE camera_id = $1 AND state = 'committed'",
        )
        .bind(camera.to_string())
        .fetch_one(&self.pool)
        .await
        .map_err(db("summing camera bytes"))?;
        to_u64(n, "byte total")
    }

    /// Ids of every camera that has at least one segment row, for start-up checks.
    #[tracing::instrument(skip_all)]
    pub async fn cameras_with_segments(&self) -> Result<Vec<CameraId>> {
        let rows: Vec<(String,)> = sqlx::query_as("SELECT DISTINCT camera_id FROM segments")
            .fetch_all(&self.pool)
            .await
            .map_err(db("listing cameras with segments"))?;
        rows.iter()
            .map(|(s,)| {
                CameraId::parse(s)
                    .map_err(|_| Error::new(ErrorKind::DataLoss, "stored camera id invalid"))
            })
            .collect()
    }
}

fn segment_from_row(row: &DbRow) -> Result<Segment> {
    let g = |e| db("decoding segment")(e);
    let bad = |what: &str| {
        Error::new(
            ErrorKind::DataLoss,
            format!("stored segment {what} invalid"),
        )
    };
    let camera: String = row.try_get("camera_id").map_err(g)?;
    let codec: String = row.try_get("codec").map_err(g)?;
    let state: String = row.try_get("state").map_err(g)?;
    let frames: i64 = row.try_get("frames").map_err(g)?;
    let width: i64 = row.try_get("width").map_err(g)?;
    let height: i64 = row.try_get("height").map_err(g)?;
    Ok(Segment {
        id: row.try_get("id").map_err(g)?,
        camera: CameraId::parse(&camera).map_err(|_| bad("camera"))?,
        seq: to_u64(row.try_get("seq").map_err(g)?, "seq")?,
        run: to_u64(row.try_get("run").map_err(g)?, "run")?,
        codec: VideoCodec::parse(&codec).ok_or_else(|| bad("codec"))?,
        start: WallTime(row.try_get("start_wall").map_err(g)?),
        end: WallTime(row.try_get("end_wall").map_err(g)?),
        start_pts: Pts90k(row.try_get("start_pts").map_err(g)?),
        duration: Pts90k(row.try_get("duration_pts").map_err(g)?),
        frames: u32::try_from(frames).map_err(|_| bad("frames"))?,
        bytes: to_u64(row.try_get("bytes").map_err(g)?, "bytes")?,
        sha256: to_hash(row.try_get("sha256").map_err(g)?, "sha256")?,
        prev_chain: to_hash(row.try_get("prev_chain").map_err(g)?, "prev_chain")?,
        chain: to_hash(row.try_get("chain").map_err(g)?, "chain")?,
        config_record: row.try_get("config_record").map_err(g)?,
        width: u32::try_from(width).map_err(|_| bad("width"))?,
        height: u32::try_from(height).map_err(|_| bad("height"))?,
        rfc6381: row.try_get("rfc6381").map_err(g)?,
        recovered: crate::flag(row, "recovered").map_err(g)?,
        state: match state.as_str() {
            "committed" => SegmentState::Committed,
            "deleted" => SegmentState::Deleted,
            _ => return Err(bad("state")),
        },
    })
}

/// The log leaf of a committed segment (docs/design/0005-evidence-format.md §1).
pub(crate) fn segment_leaf(seg: &Segment, index: &[FrameIndexEntry]) -> Vec<u8> {
    let frames: Vec<roeh_evidence::leaf::IndexedFrame> = index.iter().map(Into::into).collect();
    roeh_evidence::leaf::segment_leaf(
        &seg.prev_chain,
        &roeh_evidence::SegmentLinkInput::from(seg),
        &roeh_evidence::leaf::frame_index_hash(&frames),
        &roeh_evidence::leaf::config_hash(&seg.config_record),
    )
}
