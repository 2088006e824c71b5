//! Segments and gaps of a camera by time range.

use crate::extract::ApiQuery;
use crate::{ApiError, AppState, cameras};
use axum::Json;
use axum::extract::{Path, State};
use roeh_domain::{Gap, Segment, WallTime};
use serde::{Deserialize, Serialize};

/// `?start=&end=`: RFC 3339 or integer microseconds since the epoch (UTC).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RangeQuery {
    /// Range start (RFC 3339 or microseconds since 1970; default: an hour before `end`).
    start: Option<String>,
    /// Range end (RFC 3339 or microseconds since 1970; default: now).
    end: Option<String>,
}

/// Longest range a listing may ask for.
const MAX_LIST_RANGE_SECS: i64 = 31 * 86_400;

impl RangeQuery {
    /// The validated range; defaults to the last hour before now.
    pub fn range(&self, now: WallTime) -> Result<(WallTime, WallTime), ApiError> {
        let parse = |name: &str, v: &Option<String>, default: WallTime| match v {
            None => Ok(default),
            Some(s) => WallTime::parse(s).ok_or_else(|| {
                ApiError::invalid(format!(
                    "{name} must be RFC 3339 (e.g. 2026-11-22T20:00:00Z) or microseconds"
                ))
            }),
        };
        let end = parse("end", &self.end, now)?;
        let start = parse(
            "start",
            &self.start,
            end.minus(std::time::Duration::from_secs(3600)),
        )?;
        if start >= end {
            return Err(ApiError::invalid("start must be before end"));
        }
        Ok((start, end))
    }
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct SegmentView {
    id: i64,
    seq: u64,
    run: u64,
    codec: &'static str,
    start: String,
    end: String,
    start_us: i64,
    end_us: i64,
    duration_secs: f64,
    frames: u32,
    bytes: u64,
    width: u32,
    height: u32,
    sha256: String,
    prev_chain: String,
    chain: String,
    recovered: bool,
    state: roeh_domain::SegmentState,
}

impl From<Segment> for SegmentView {
    fn from(s: Segment) -> Self {
        SegmentView {
            id: s.id,
            seq: s.seq,
            run: s.run,
            codec: s.codec.as_str(),
            start: s.start.to_rfc3339(),
            end: s.end.to_rfc3339(),
            start_us: s.start.0,
            end_us: s.end.0,
            duration_secs: s.duration.as_secs_f64(),
            frames: s.frames,
            bytes: s.bytes,
            width: s.width,
            height: s.height,
            sha256: hex::encode(s.sha256),
            prev_chain: hex::encode(s.prev_chain),
            chain: hex::encode(s.chain),
            recovered: s.recovered,
            state: s.state,
        }
    }
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct GapView {
    id: i64,
    start: String,
    end: Option<String>,
    start_us: i64,
    end_us: Option<i64>,
    reason: &'static str,
    detail: String,
}

impl From<Gap> for GapView {
    fn from(g: Gap) -> Self {
        GapView {
            id: g.id,
            start: g.start.to_rfc3339(),
            end: g.end.map(WallTime::to_rfc3339),
            start_us: g.start.0,
            end_us: g.end.map(|e| e.0),
            reason: g.reason.as_str(),
            detail: g.detail,
        }
    }
}

fn checked_range(q: &RangeQuery, now: WallTime) -> Result<(WallTime, WallTime), ApiError> {
    let (start, end) = q.range(now)?;
    if end.0 - start.0 > MAX_LIST_RANGE_SECS * 1_000_000 {
        return Err(ApiError::invalid("range must be at most 31 days"));
    }
    Ok((start, end))
}

pub(crate) async fn segments(
    State(st): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> Result<Json<Vec<SegmentView>>, ApiError> {
    let cam = cameras::load(&st, &id).await?;
    let (start, end) = checked_range(&q, st.clock.wall())?;
    let segs = st.store.segments_in_range(cam.id, start, end).await?;
    Ok(Json(segs.into_iter().map(SegmentView::from).collect()))
}

pub(crate) async fn gaps(
    State(st): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> Result<Json<Vec<GapView>>, ApiError> {
    let cam = cameras::load(&st, &id).await?;
    let (start, end) = checked_range(&q, st.clock.wall())?;
    let gaps = st.store.gaps_in_range(cam.id, start, end).await?;
    Ok(Json(gaps.into_iter().map(GapView::from).collect()))
}
