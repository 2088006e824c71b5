//! `GET /api/cameras/{id}/mp4?start=&end=`: a recorded range as an MP4 built from the stored
//! bytes (a remux: the sample bytes are the camera's, unchanged).
//!
//! Which frames and bytes make the clip is planned by [`roeh_custody::plan`]: it starts at the
//! last key frame at or before `start` (so the requested start is covered and decodable) and ends
//! with the last frame that begins before `end`. Across a gap the samples simply follow each
//! other; the gaps route says where footage is missing. When codec parameters change inside the
//! range, the MP4 gets one sample entry per parameter set. This module answers the request:
//! the range check, the `Range` header, the custody event of the view and the streamed body.

use crate::extract::ApiQuery;
use crate::recordings::RangeQuery;
use crate::{ApiError, AppState, cameras};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::Response;
use bytes::Bytes;
use roeh_custody::plan::{MAX_EXPORT_RANGE, plan_export, read_pieces, slice_file};
use roeh_domain::{CodecParams, SegmentState};
use roeh_mp4::MuxOptions;

pub(crate) async fn mp4(
    State(st): State<AppState>,
    axum::Extension(who): axum::Extension<roeh_auth::Principal>,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> Result<Response, ApiError> {
    let cam = cameras::load(&st, &id).await?;
    let (start, end) = q.range(st.clock.wall())?;
    mp4_range(&st, &cam, start, end, &who.username, byte_range(&headers)).await
}

/// The one byte range a request asks for (`Range: bytes=a-b`, `a-` or `-n`), unresolved:
/// `(first, last)` where `None` is open. Several ranges, or another unit, are served whole.
pub(crate) fn byte_range(headers: &axum::http::HeaderMap) -> Option<(Option<u64>, Option<u64>)> {
    let v = headers.get(header::RANGE)?.to_str().ok()?.trim();
    let spec = v.strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let a = a.trim();
    let b = b.trim();
    let first = if a.is_empty() {
        None
    } else {
        Some(a.parse().ok()?)
    };
    let last = if b.is_empty() {
        None
    } else {
        Some(b.parse().ok()?)
    };
    if first.is_none() && last.is_none() {
        return None;
    }
    Some((first, last))
}

/// Resolves a byte range against a file of `total` bytes: `Ok(Some((first, last)))` inclusive,
/// `Ok(None)` for the whole file, `Err(())` when it cannot be satisfied (416).
fn resolve_range(
    range: Option<(Option<u64>, Option<u64>)>,
    total: u64,
) -> Result<Option<(u64, u64)>, ()> {
    let Some((first, last)) = range else {
        return Ok(None);
    };
    let (a, b) = match (first, last) {
        (Some(a), Some(b)) => (a, b.min(total.saturating_sub(1))),
        (Some(a), None) => (a, total.saturating_sub(1)),
        // The last n bytes.
        (None, Some(n)) => (total.saturating_sub(n), total.saturating_sub(1)),
        (None, None) => return Ok(None),
    };
    if total == 0 || a >= total || a > b {
        return Err(());
    }
    Ok(Some((a, b)))
}

/// The MP4 of `cam`'s committed footage in `[start, end)`, streamed from the segment files; the
/// view is a custody event of `actor`.
pub(crate) async fn mp4_range(
    st: &AppState,
    cam: &roeh_domain::Camera,
    start: roeh_domain::WallTime,
    end: roeh_domain::WallTime,
    actor: &str,
    range: Option<(Option<u64>, Option<u64>)>,
) -> Result<Response, ApiError> {
    if end.duration_since(start) > MAX_EXPORT_RANGE {
        return Err(ApiError::invalid(format!(
            "an MP4 range must be at most {} hours; use an evidence export",
            MAX_EXPORT_RANGE.as_secs() / 3600
        )));
    }
    let mut segs = Vec::new();
    for s in st.store.segments_in_range(cam.id, start, end).await? {
        if s.state != SegmentState::Committed {
            continue;
        }
        let idx = st.store.frame_index(s.id).await?;
        segs.push((s, idx));
    }
    // The plan's message is the client's message, without the kind that `chain` would prefix.
    let plan = plan_export(&segs, start, end).map_err(|e| ApiError::new(e.kind(), e.message()))?;
    let refs: Vec<&CodecParams> = plan.params.iter().collect();
    let opts = MuxOptions {
        creation_time: Some(plan.first_frame),
        title: Some(format!("{} {}", cam.name, plan.first_frame.to_rfc3339())),
    };
    let header = roeh_mp4::build_header(&refs, &plan.samples, &opts)?;
    let total_len = header.total_len;
    let Ok(part) = resolve_range(range, total_len) else {
        return Response::builder()
            .status(axum::http::StatusCode::RANGE_NOT_SATISFIABLE)
            .header(header::CONTENT_RANGE, format!("bytes */{total_len}"))
            .header(header::ACCEPT_RANGES, "bytes")
            .body(Body::empty())
            .map_err(|e| ApiError::new(roeh_domain::ErrorKind::Internal, e.to_string()));
    };
    // Viewing footage is a custody event in the evidence log (besides the audit row). A
    // player's later requests for parts of the same file (seeking) are the same view: only a
    // request from the file's start counts.
    if part.is_none_or(|(a, _)| a == 0) {
        st.custody
            .record_access(
                "footage_viewed",
                actor,
                Some(cam.id),
                serde_json::json!({
                    "start": start.to_rfc3339(),
                    "end": end.to_rfc3339(),
                    "route": "mp4",
                }),
            )
            .await?;
    }
    let files = plan.files(&st.footage_root);
    let head_len = header.bytes.len() as u64;
    let (head_part, files, len) = match part {
        Some((a, b)) => {
            let (h, f) = slice_file(head_len, &files, a, b);
            (h, f, b - a + 1)
        }
        None => (0..header.bytes.len(), files, total_len),
    };
    let head_bytes = Bytes::from(header.bytes).slice(head_part);
    let head = futures::stream::once(async move { Ok::<Bytes, std::io::Error>(head_bytes) });
    let body = read_pieces(files);
    let disposition = format!(
        "inline; filename=\"roeh-{}-{}.mp4\"",
        cam.id, plan.first_frame.0
    );
    let mut r = Response::builder()
        .header(header::CONTENT_TYPE, "video/mp4")
        .header(header::CONTENT_LENGTH, len)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CONTENT_DISPOSITION, disposition)
        .header("x-content-type-options", "nosniff");
    if let Some((a, b)) = part {
        r = r
            .status(axum::http::StatusCode::PARTIAL_CONTENT)
            .header(header::CONTENT_RANGE, format!("bytes {a}-{b}/{total_len}"));
    }
    r.body(Body::from_stream(futures::StreamExt::chain(head, body)))
        .map_err(|e| ApiError::new(roeh_domain::ErrorKind::Internal, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_ranges_resolve_like_http_says() {
        let h = |v: &str| {
            let mut m = axum::http::HeaderMap::new();
            m.insert(header::RANGE, v.parse().unwrap());
            byte_range(&m)
        };
        assert_eq!(h("bytes=0-"), Some((Some(0), None)));
        assert_eq!(h("bytes=10-19"), Some((Some(10), Some(19))));
        assert_eq!(h("bytes=-5"), Some((None, Some(5))));
        assert_eq!(h("bytes=0-1,5-6"), None);
        assert_eq!(h("items=0-1"), None);
        assert_eq!(h("bytes=x-"), None);
        assert_eq!(resolve_range(h("bytes=0-"), 100), Ok(Some((0, 99))));
        assert_eq!(resolve_range(h("bytes=90-200"), 100), Ok(Some((90, 99))));
        assert_eq!(resolve_range(h("bytes=-10"), 100), Ok(Some((90, 99))));
        assert_eq!(resolve_range(h("bytes=100-"), 100), Err(()));
        assert_eq!(resolve_range(h("bytes=5-4"), 100), Err(()));
        assert_eq!(resolve_range(None, 100), Ok(None));
    }
}
