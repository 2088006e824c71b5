//! `GET /api/cameras/{id}/mp4?start=&end=`: a recorded range as an MP4 built from the stored
//! bytes (a remux: the sample bytes are the camera's, unchanged).
//!
//! The clip starts at the last key frame at or before `start` (so the requested start is
//! covered and decodable) and ends with the last frame that begins before `end`. Across a gap the
//! samples simply follow each other; the gaps route says where footage is missing. When codec
//! parameters change inside the range, the MP4 gets one sample entry per parameter set.

use crate::extract::ApiQuery;
use crate::recordings::RangeQuery;
use crate::{ApiError, AppState, cameras};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::Response;
use bytes::Bytes;
use roeh_domain::{CodecParams, FrameIndexEntry, Segment, SegmentState, WallTime};
use roeh_mp4::{MuxOptions, SampleInfo};
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// Longest range one MP4 request may cover (longer exports run as evidence jobs).
pub const MAX_EXPORT_RANGE: Duration = Duration::from_secs(6 * 3600);

/// How far before `start` a clip may begin to reach the key frame that makes `start` decodable.
pub const MAX_LEAD_IN: Duration = Duration::from_secs(30);

/// A byte range of one segment file that goes into the MP4, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece {
    /// The segment.
    pub segment: Segment,
    /// Offset in its file.
    pub offset: u64,
    /// Length.
    pub len: u64,
}

/// What an export writes: sample entries, the sample table, and where the bytes come from.
#[derive(Clone, Debug)]
pub struct ExportPlan {
    /// Distinct codec parameter sets, in order of first use.
    pub params: Vec<CodecParams>,
    /// One entry per frame.
    pub samples: Vec<SampleInfo>,
    /// The file ranges holding the samples' bytes, in sample order.
    pub pieces: Vec<Piece>,
    /// Wall time of the first frame.
    pub first_frame: WallTime,
}

fn frame_wall(seg: &Segment, f: &FrameIndexEntry) -> WallTime {
    WallTime(
        seg.start
            .0
            .saturating_add(f.pts_offset.saturating_mul(100) / 9),
    )
}

fn params_of(s: &Segment) -> CodecParams {
    CodecParams {
        codec: s.codec,
        width: s.width,
        height: s.height,
        rfc6381: s.rfc6381.clone(),
        config_record: s.config_record.clone(),
    }
}

/// Plans an export of `[start, end)` from segments (in seq order) and their frame indexes.
/// Deleted segments are skipped. `NotFound` if no frame falls in the range.
pub fn plan_export(
    segs: &[(Segment, Vec<FrameIndexEntry>)],
    start: WallTime,
    end: WallTime,
) -> Result<ExportPlan, ApiError> {
    let live: Vec<&(Segment, Vec<FrameIndexEntry>)> = segs
        .iter()
        .filter(|(s, _)| s.state == SegmentState::Committed)
        .collect();
    let frames: Vec<(usize, usize, WallTime)> = live
        .iter()
        .enumerate()
        .flat_map(|(si, (s, idx))| {
            idx.iter()
                .enumerate()
                .map(move |(fi, f)| (si, fi, frame_wall(s, f)))
        })
        .collect();
    let is_key = |&(si, fi, _): &(usize, usize, WallTime)| live[si].1[fi].is_key;
    // At least one frame must lie in the range; the clip then starts at the key frame that
    // makes that frame decodable, if it is at most MAX_LEAD_IN before `start`.
    let not_found = || ApiError::not_found("no footage in the requested range");
    let in_range = frames
        .iter()
        .position(|f| f.2 >= start && f.2 < end)
        .ok_or_else(not_found)?;
    let first = frames[..=in_range]
        .iter()
        .rposition(|f| is_key(f) && start.duration_since(f.2) <= MAX_LEAD_IN)
        .or_else(|| {
            frames
                .iter()
                .position(|f| is_key(f) && f.2 >= start && f.2 < end)
        })
        .ok_or_else(not_found)?;
    let last = frames
        .iter()
        .rposition(|f| f.2 < end)
        .filter(|&l| l >= first)
        .ok_or_else(not_found)?;

    let mut params: Vec<CodecParams> = Vec::new();
    let mut samples = Vec::with_capacity(last - first + 1);
    let mut pieces: Vec<Piece> = Vec::new();
    let mut prev_duration = 9000u32;
    for &(si, fi, _) in &frames[first..=last] {
        let (seg, idx) = live[si];
        let f = &idx[fi];
        let next_pts = idx
            .get(fi + 1)
            .map(|n| n.pts_offset)
            .unwrap_or(seg.duration.0);
        let duration = match u32::try_from(next_pts.saturating_sub(f.pts_offset)) {
            Ok(d) if d > 0 => d,
            _ => prev_duration,
        };
        prev_duration = duration;
        let p = params_of(seg);
        let entry = match params.iter().position(|q| *q == p) {
            Some(e) => e,
            None => {
                params.push(p);
                params.len() - 1
            }
        };
        samples.push(SampleInfo {
            size: f.size,
            duration,
            is_key: f.is_key,
            entry,
        });
        match pieces.last_mut() {
            Some(pc) if pc.segment.id == seg.id && pc.offset + pc.len == f.offset => {
                pc.len += u64::from(f.size);
            }
            _ => pieces.push(Piece {
                segment: seg.clone(),
                offset: f.offset,
                len: u64::from(f.size),
            }),
        }
    }
    let (fs, ff, _) = frames[first];
    Ok(ExportPlan {
        params,
        samples,
        pieces,
        first_frame: frame_wall(&live[fs].0, &live[fs].1[ff]),
    })
}

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

/// The part `[first, last]` of a file made of `head` then `pieces` `(path, offset, len)`: the
/// slice of the head and the pieces cut to the range.
fn slice_file(
    head_len: u64,
    pieces: &[(PathBuf, u64, u64)],
    first: u64,
    last: u64,
) -> (std::ops::Range<usize>, Vec<(PathBuf, u64, u64)>) {
    let end = last + 1;
    let head = (first.min(head_len) as usize)..(end.min(head_len) as usize);
    let mut out = Vec::new();
    let mut at = head_len;
    for (path, offset, len) in pieces {
        let (p0, p1) = (at, at + len);
        let (a, b) = (first.max(p0), end.min(p1));
        if a < b {
            out.push((path.clone(), offset + (a - p0), b - a));
        }
        at = p1;
    }
    (head, out)
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
        return Err(ApiError::invalid(
            "an MP4 range must be at most 6 hours; use an evidence export",
        ));
    }
    let mut segs = Vec::new();
    for s in st.store.segments_in_range(cam.id, start, end).await? {
        if s.state != SegmentState::Committed {
            continue;
        }
        let idx = st.store.frame_index(s.id).await?;
        segs.push((s, idx));
    }
    let plan = plan_export(&segs, start, end)?;
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
    let root = st.footage_root.clone();
    let files: Vec<(PathBuf, u64, u64)> = plan
        .pieces
        .iter()
        .map(|p| {
            let path = roeh_recorder::segment_path(
                &root,
                p.segment.camera,
                p.segment.seq,
                p.segment.codec,
            );
            (path, p.offset, p.len)
        })
        .collect();
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
    let body = futures::stream::unfold((files.into_iter(), None), read_pieces);
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

const CHUNK: u64 = 256 * 1024;

type PieceIter = std::vec::IntoIter<(PathBuf, u64, u64)>;

/// Streams the pieces' bytes in chunks; a short file ends the stream with an error, so the
/// client sees a truncated download rather than silently wrong bytes.
async fn read_pieces(
    (mut rest, mut cur): (PieceIter, Option<(tokio::fs::File, u64)>),
) -> Option<(
    std::io::Result<Bytes>,
    (PieceIter, Option<(tokio::fs::File, u64)>),
)> {
    loop {
        if let Some((mut file, left)) = cur.take() {
            if left == 0 {
                continue;
            }
            let n = left.min(CHUNK);
            let mut buf = vec![0u8; n as usize];
            return match file.read_exact(&mut buf).await {
                Ok(_) => Some((Ok(Bytes::from(buf)), (rest, Some((file, left - n))))),
                Err(e) => Some((Err(e), (PieceIter::default(), None))),
            };
        }
        let (path, offset, len) = rest.next()?;
        let opened = async {
            let mut f = tokio::fs::File::open(&path).await?;
            f.seek(std::io::SeekFrom::Start(offset)).await?;
            Ok::<_, std::io::Error>(f)
        }
        .await;
        match opened {
            Ok(f) => cur = Some((f, len)),
            Err(e) => return Some((Err(e), (PieceIter::default(), None))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roeh_domain::{CameraId, Pts90k, VideoCodec};

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

    #[test]
    fn a_range_cuts_the_head_and_the_pieces() {
        let p = |n: &str, o: u64, l: u64| (PathBuf::from(n), o, l);
        let pieces = vec![p("a", 1000, 50), p("b", 0, 30)];
        // File: head [0, 20), a [20, 70), b [70, 100).
        let (h, f) = slice_file(20, &pieces, 10, 29);
        assert_eq!((h, f), (10..20, vec![p("a", 1000, 10)]));
        let (h, f) = slice_file(20, &pieces, 60, 79);
        assert_eq!((h, f), (20..20, vec![p("a", 1040, 10), p("b", 0, 10)]));
        let (h, f) = slice_file(20, &pieces, 0, 99);
        assert_eq!((h, f), (0..20, pieces.clone()));
        let (h, f) = slice_file(20, &pieces, 99, 99);
        assert_eq!((h, f), (20..20, vec![p("b", 29, 1)]));
    }

    fn seg(
        id: i64,
        seq: u64,
        start_s: i64,
        frames: usize,
        key_every: usize,
    ) -> (Segment, Vec<FrameIndexEntry>) {
        let idx: Vec<FrameIndexEntry> = (0..frames)
            .map(|i| FrameIndexEntry {
                offset: i as u64 * 100,
                size: 100,
                pts_offset: i as i64 * 9000,
                received_at: WallTime::from_secs(start_s),
                is_key: i % key_every == 0,
            })
            .collect();
        let s = Segment {
            id,
            camera: CameraId(uuid_nil()),
            seq,
            run: 1,
            codec: VideoCodec::H264,
            start: WallTime::from_secs(start_s),
            end: WallTime::from_secs(start_s).plus(Duration::from_millis(100 * frames as u64)),
            start_pts: Pts90k(0),
            duration: Pts90k(frames as i64 * 9000),
            frames: frames as u32,
            bytes: frames as u64 * 100,
            sha256: [0; 32],
            prev_chain: [0; 32],
            chain: [0; 32],
            config_record: vec![1, 77, 0, 30],
            width: 768,
            height: 576,
            rfc6381: "avc1.4d001e".into(),
            recovered: false,
            state: SegmentState::Committed,
        };
        (s, idx)
    }

    fn uuid_nil() -> uuid::Uuid {
        uuid::Uuid::nil()
    }

    #[test]
    fn starts_at_key_frame_before_start_and_spans_segments() {
        // Two 2 s segments of 10 fps with a key frame every 10 frames.
        let segs = vec![seg(1, 1, 100, 20, 10), seg(2, 2, 102, 20, 10)];
        let plan = plan_export(
            &segs,
            WallTime::from_secs(101).plus(Duration::from_millis(500)),
            WallTime::from_secs(103),
        )
        .unwrap();
        // Starts at the key frame at 101.0 s (frame 10 of segment 1), ends before 103.0 s.
        assert_eq!(plan.first_frame, WallTime::from_secs(101));
        assert_eq!(plan.samples.len(), 20);
        assert!(plan.samples[0].is_key);
        assert_eq!(plan.pieces.len(), 2);
        assert_eq!(plan.pieces[0].offset, 1000);
        assert_eq!(plan.pieces[0].len, 1000);
        assert_eq!(plan.pieces[1].offset, 0);
        assert_eq!(plan.pieces[1].len, 1000);
        assert!(
            plan.samples
                .iter()
                .all(|s| s.duration == 9000 && s.entry == 0)
        );
        assert_eq!(plan.params.len(), 1);
    }

    #[test]
    fn empty_and_deleted_ranges_are_not_found() {
        let mut segs = vec![seg(1, 1, 100, 20, 10)];
        assert!(plan_export(&segs, WallTime::from_secs(200), WallTime::from_secs(210)).is_err());
        segs[0].0.state = SegmentState::Deleted;
        assert!(plan_export(&segs, WallTime::from_secs(100), WallTime::from_secs(102)).is_err());
    }
}
