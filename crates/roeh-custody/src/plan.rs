//! Export planning: which stored bytes make the MP4 of a recorded range, and how to read them.
//!
//! A plan is pure logic over committed segments and their frame indexes. The clip starts at the
//! last key frame at or before `start` (at most [`MAX_LEAD_IN`] earlier, so the requested start is
//! covered and decodable) and ends with the last frame that begins before `end`. Across a gap the
//! samples simply follow each other; the gaps route says where footage is missing. When codec
//! parameters change inside the range, the plan has one parameter set per sample entry.
//!
//! The plan's bytes are read from the segment files as [`FilePiece`]s: [`slice_file`] cuts them
//! to a byte range of the whole file, and [`read_pieces`] streams them.

use crate::{Error, Result};
use bytes::Bytes;
use futures::Stream;
use roeh_domain::{CodecParams, ErrorKind, FrameIndexEntry, Segment, SegmentState, WallTime};
use roeh_mp4::SampleInfo;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// Longest range one MP4 request or evidence export may cover.
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

/// A byte range of a file on disk: `(path, offset, len)`.
pub type FilePiece = (PathBuf, u64, u64);

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

impl ExportPlan {
    /// The pieces as ranges of the segment files under `footage_root`, in order.
    pub fn files(&self, footage_root: &Path) -> Vec<FilePiece> {
        self.pieces
            .iter()
            .map(|p| {
                let path = roeh_recorder::segment_path(
                    footage_root,
                    p.segment.camera,
                    p.segment.seq,
                    p.segment.codec,
                );
                (path, p.offset, p.len)
            })
            .collect()
    }
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
) -> Result<ExportPlan> {
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
    let not_found = || Error::new(ErrorKind::NotFound, "no footage in the requested range");
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

/// The part `[first, last]` (inclusive) of a file made of `head_len` bytes of head then
/// `pieces`: the slice of the head and the pieces cut to the range.
pub fn slice_file(
    head_len: u64,
    pieces: &[FilePiece],
    first: u64,
    last: u64,
) -> (std::ops::Range<usize>, Vec<FilePiece>) {
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

/// Bytes read per chunk of [`read_pieces`].
const CHUNK: u64 = 256 * 1024;

type PieceIter = std::vec::IntoIter<FilePiece>;

type ReadState = (PieceIter, Option<(tokio::fs::File, u64)>);

/// The pieces' bytes, in order, in chunks of at most 256 KiB. A file that cannot be opened or
/// is shorter than its piece ends the stream with an error, so a reader sees a truncated file
/// rather than silently wrong bytes.
pub fn read_pieces(pieces: Vec<FilePiece>) -> impl Stream<Item = std::io::Result<Bytes>> + Send {
    futures::stream::unfold((pieces.into_iter(), None), next_chunk)
}

async fn next_chunk((mut rest, mut cur): ReadState) -> Option<(std::io::Result<Bytes>, ReadState)> {
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
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use roeh_domain::{CameraId, Pts90k, VideoCodec};

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

    fn assert_not_found(r: Result<ExportPlan>) {
        let e = r.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(e.message(), "no footage in the requested range");
    }

    #[test]
    fn an_empty_or_reversed_range_is_not_found() {
        let segs = vec![seg(1, 1, 100, 20, 10)];
        let t = WallTime::from_secs(101);
        assert_not_found(plan_export(&segs, t, t));
        assert_not_found(plan_export(&segs, WallTime::from_secs(102), t));
        assert_not_found(plan_export(&[], t, WallTime::from_secs(102)));
    }

    #[test]
    fn a_range_inside_a_gap_is_not_found_and_one_across_it_joins_the_sides() {
        // Footage [100, 102) and [110, 112): a gap of 8 s between them.
        let segs = vec![seg(1, 1, 100, 20, 10), seg(2, 2, 110, 20, 10)];
        assert_not_found(plan_export(
            &segs,
            WallTime::from_secs(103),
            WallTime::from_secs(109),
        ));
        let plan = plan_export(&segs, WallTime::from_secs(101), WallTime::from_secs(111)).unwrap();
        // Frames 10..20 of the first segment, then frames 0..10 of the second.
        assert_eq!(plan.first_frame, WallTime::from_secs(101));
        assert_eq!(plan.samples.len(), 20);
        assert_eq!(plan.pieces.len(), 2);
        assert_eq!((plan.pieces[1].segment.id, plan.pieces[1].offset), (2, 0));
    }

    #[test]
    fn a_key_frame_beyond_the_lead_in_is_not_used() {
        // One key frame at 100 s, then 60 s of inter frames at 1 fps, then a key frame at 160 s.
        let (mut s, mut idx) = seg(1, 1, 100, 62, 60);
        for (i, f) in idx.iter_mut().enumerate() {
            f.pts_offset = i as i64 * 90_000;
        }
        s.duration = Pts90k(62 * 90_000);
        let segs = vec![(s, idx)];
        // From 140 s: the key frame at 100 s is 40 s back, past MAX_LEAD_IN; the clip starts at
        // the next key frame in the range.
        let plan = plan_export(&segs, WallTime::from_secs(140), WallTime::from_secs(162)).unwrap();
        assert_eq!(plan.first_frame, WallTime::from_secs(160));
        assert_eq!(plan.samples.len(), 2);
        assert!(plan.samples[0].is_key);
        // A range with no key frame within reach has nothing decodable.
        assert_not_found(plan_export(
            &segs,
            WallTime::from_secs(140),
            WallTime::from_secs(150),
        ));
    }

    #[test]
    fn the_longest_range_is_six_hours() {
        assert_eq!(MAX_EXPORT_RANGE, Duration::from_secs(6 * 3600));
        assert!(MAX_LEAD_IN < MAX_EXPORT_RANGE);
    }

    #[tokio::test]
    async fn pieces_are_read_in_order_and_a_short_file_is_an_error() {
        use futures::StreamExt;
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::write(&a, b"0123456789").unwrap();
        std::fs::write(&b, b"abcdef").unwrap();
        let read = |pieces: Vec<FilePiece>| async move {
            let mut out = Vec::new();
            let mut s = std::pin::pin!(read_pieces(pieces));
            while let Some(chunk) = s.next().await {
                match chunk {
                    Ok(c) => out.extend_from_slice(&c),
                    Err(e) => return Err((out, e)),
                }
            }
            Ok(out)
        };
        let got = read(vec![
            (a.clone(), 2, 3),
            (b.clone(), 0, 0),
            (b.clone(), 4, 2),
        ])
        .await;
        assert_eq!(got.unwrap(), b"234ef");
        let (got, e) = read(vec![(a.clone(), 8, 2), (b.clone(), 4, 5)])
            .await
            .unwrap_err();
        assert_eq!(got, b"89");
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
        let (_, e) = read(vec![(dir.path().join("missing"), 0, 1)])
            .await
            .unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    }
}
