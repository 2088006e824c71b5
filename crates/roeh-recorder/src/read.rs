//! Reading committed footage back, always verified against its row: for export (the MP4 remux
//! of the recorded bytes) and for integrity checks.
//!
//! Invariants: bytes are served only after their length and SHA-256 match the segment row;
//! files are opened without following symlinks and addressed only by (camera, seq, codec).

use crate::{Error, Result, blocking, io_err, layout};
use bytes::Bytes;
use roeh_domain::{CameraId, ErrorKind, FrameIndexEntry, Segment, SegmentState};
use roeh_evidence::{ChainError, SegmentHasher, verify_chain_from};
use roeh_store::Store;
use std::io::Read;
use std::path::Path;

/// Reads a committed segment's file whole, checking its length and SHA-256 against the row.
/// `NotFound` for a deleted segment or a missing file; `DataLoss` on a mismatch.
pub async fn read_segment(root: &Path, seg: &Segment) -> Result<Bytes> {
    if seg.state != SegmentState::Committed {
        return Err(Error::new(
            ErrorKind::NotFound,
            format!(
                "segment {} of {} was deleted by retention",
                seg.seq, seg.camera
            ),
        ));
    }
    let path = layout::segment_path(root, seg.camera, seg.seq, seg.codec);
    let (want_len, want_sha, seq, camera) = (seg.bytes, seg.sha256, seg.seq, seg.camera);
    blocking(move || -> Result<Bytes> {
        let f = layout::open_nofollow(&path).map_err(|e| io_err("opening segment", e))?;
        let cap = usize::try_from(want_len).unwrap_or(usize::MAX);
        let mut buf = Vec::with_capacity(cap.min(64 << 20));
        f.take(want_len.saturating_add(1))
            .read_to_end(&mut buf)
            .map_err(|e| io_err("reading segment", e))?;
        let mut h = SegmentHasher::new();
        h.update(&buf);
        let (sha, len) = h.finish();
        if len != want_len || sha != want_sha {
            return Err(Error::new(
                ErrorKind::DataLoss,
                format!("segment {seq} of {camera} does not match its recorded length and hash"),
            ));
        }
        Ok(Bytes::from(buf))
    })
    .await?
}

/// Splits a segment's bytes into its frames by its index, checking every bound.
pub fn split_frames(data: &Bytes, index: &[FrameIndexEntry]) -> Result<Vec<Bytes>> {
    let mut out = Vec::with_capacity(index.len());
    for (i, e) in index.iter().enumerate() {
        let start = usize::try_from(e.offset).unwrap_or(usize::MAX);
        let end = start.saturating_add(e.size as usize);
        if end > data.len() {
            return Err(Error::new(
                ErrorKind::DataLoss,
                format!("frame {i} lies outside the segment"),
            ));
        }
        out.push(data.slice(start..end));
    }
    Ok(out)
}

/// A committed segment's frames with their index entries, verified (see [`read_segment`]).
pub async fn read_segment_frames(
    store: &Store,
    root: &Path,
    seg: &Segment,
) -> Result<Vec<(FrameIndexEntry, Bytes)>> {
    let index = store.frame_index(seg.id).await?;
    let data = read_segment(root, seg).await?;
    let frames = split_frames(&data, &index)?;
    Ok(index.into_iter().zip(frames).collect())
}

/// Result of [`verify_camera`].
#[derive(Clone, Debug, Default)]
pub struct VerifyReport {
    /// Segment rows checked (both states).
    pub segments: u64,
    /// Committed segments whose file was hashed.
    pub files_checked: u64,
    /// Rows deleted by retention (chain checked, no file expected).
    pub deleted: u64,
    /// The first chain failure, if any.
    pub chain: Option<ChainError>,
    /// Committed segments whose file is missing or does not match: (seq, what).
    pub bad_files: Vec<(u64, String)>,
}

impl VerifyReport {
    /// Whether everything checked out.
    pub fn ok(&self) -> bool {
        self.chain.is_none() && self.bad_files.is_empty()
    }
}

/// Verifies a camera's whole hash chain from seq 1 and re-hashes every committed file.
pub async fn verify_camera(store: &Store, root: &Path, camera: CameraId) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    let mut anchor: Option<(u64, [u8; 32])> = None;
    let mut from = 1u64;
    loop {
        let page = store.chain_segments(camera, from, 256).await?;
        let Some(tail) = page.last() else {
            break;
        };
        from = tail.seq + 1;
        if report.chain.is_none()
            && let Err(e) = verify_chain_from(anchor, &page)
        {
            report.chain = Some(e);
        }
        anchor = Some((tail.seq, tail.chain));
        for s in &page {
            report.segments += 1;
            if s.state == SegmentState::Deleted {
                report.deleted += 1;
                continue;
            }
            report.files_checked += 1;
            match read_segment(root, s).await {
                Ok(_) => {}
                Err(e) => report.bad_files.push((s.seq, e.to_string())),
            }
        }
    }
    Ok(report)
}
