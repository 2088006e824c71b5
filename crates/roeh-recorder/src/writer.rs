//! The open segment on disk: a `.partial` data file holding the camera's bytes exactly as
//! received, and a `.journal` of one checksummed record per frame (see [`crate::journal`]).
//!
//! Everything here is blocking file I/O; the recorder calls it through `spawn_blocking`, once
//! per batch of frames (at most one commit interval), not once per frame.
//!
//! Invariants:
//! - the data file is the concatenation of the appended frames, byte for byte; a frame whose
//!   write fails is cut off again (`set_len`), so the file never holds a torn frame that the
//!   index does not describe;
//! - a frame's journal record is appended only after its bytes were written;
//! - [`SegmentWriter::finish`] orders: fsync data file → rename `.partial` to the final name →
//!   fsync the directory. Only then may the index row be inserted; the journal is removed after
//!   the row is in.
//! - memory per open segment is the frame index (a few dozen bytes per frame), never the
//!   footage.

use crate::journal::{self, JournalHeader};
use crate::layout;
use roeh_domain::{CameraId, CodecParams, FrameIndexEntry, Pts90k, WallTime};
use roeh_evidence::SegmentHasher;
use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// An open segment being written.
#[derive(Debug)]
pub(crate) struct SegmentWriter {
    pub camera: CameraId,
    pub seq: u64,
    pub run: u64,
    pub params: Arc<CodecParams>,
    pub start_pts: Pts90k,
    pub index: Vec<FrameIndexEntry>,
    root: PathBuf,
    data: File,
    journal: File,
    journal_len: u64,
    hasher: SegmentHasher,
}

/// One frame handed to [`SegmentWriter::append_batch`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct FrameIn<'a> {
    pub data: &'a [u8],
    pub pts: Pts90k,
    pub received_at: WallTime,
    pub is_key: bool,
}

/// A segment file that is durable under its final name.
#[derive(Debug)]
pub(crate) struct FinishedFile {
    pub sha256: [u8; 32],
    pub bytes: u64,
    pub journal: PathBuf,
}

/// Why finishing failed.
#[derive(Debug)]
pub(crate) enum FinishError {
    /// The data fsync or the rename failed: the segment was abandoned (moved to quarantine).
    Abandoned(io::Error),
    /// The directory fsync failed after the rename: durability of the name is unknown.
    DirSync(io::Error),
}

impl SegmentWriter {
    /// Creates the `.partial` and `.journal` files of segment `seq` and writes the journal
    /// header.
    pub fn create(
        root: &Path,
        camera: CameraId,
        seq: u64,
        run: u64,
        params: Arc<CodecParams>,
        start_pts: Pts90k,
    ) -> io::Result<SegmentWriter> {
        let dir = layout::camera_dir(root, camera);
        layout::ensure_dir(&dir)?;
        let header = journal::encode_header(&JournalHeader {
            camera,
            seq,
            run,
            start_pts,
            params: (*params).clone(),
        })
        .map_err(|m| io::Error::new(io::ErrorKind::InvalidInput, m))?;
        let partial = layout::partial_path(root, camera, seq);
        let jpath = layout::journal_path(root, camera, seq);
        let data = layout::create_new(&partial)?;
        let mut journal = match layout::create_new(&jpath) {
            Ok(j) => j,
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                return Err(e);
            }
        };
        if let Err(e) = journal.write_all(&header) {
            drop(journal);
            let _ = std::fs::remove_file(&partial);
            let _ = std::fs::remove_file(&jpath);
            return Err(e);
        }
        Ok(SegmentWriter {
            camera,
            seq,
            run,
            params,
            start_pts,
            index: Vec::new(),
            root: root.to_path_buf(),
            data,
            journal,
            journal_len: header.len() as u64,
            hasher: SegmentHasher::new(),
        })
    }

    /// Appends frames with one write of their bytes and then one write of their journal
    /// records. On failure both files are cut back to before the batch, so the segment stays
    /// consistent (the whole batch is refused) and can still be finished.
    pub fn append_batch(&mut self, frames: &[FrameIn<'_>]) -> io::Result<()> {
        let offset = self.hasher.len();
        let mut data = Vec::with_capacity(frames.iter().map(|f| f.data.len()).sum());
        let mut records = Vec::with_capacity(frames.len() * journal::RECORD_LEN);
        let mut entries = Vec::with_capacity(frames.len());
        for f in frames {
            let size = u32::try_from(f.data.len())
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
            let entry = FrameIndexEntry {
                offset: offset + data.len() as u64,
                size,
                pts_offset: f.pts.0.saturating_sub(self.start_pts.0),
                received_at: f.received_at,
                is_key: f.is_key,
            };
            records.extend_from_slice(&journal::encode_record(
                &entry,
                journal::frame_digest(f.data),
            ));
            data.extend_from_slice(f.data);
            entries.push(entry);
        }
        if let Err(e) = self.data.write_all(&data) {
            self.cut_back(offset);
            return Err(e);
        }
        if let Err(e) = self.journal.write_all(&records) {
            self.cut_back(offset);
            return Err(e);
        }
        self.journal_len += records.len() as u64;
        self.hasher.update(&data);
        self.index.extend(entries);
        Ok(())
    }

    /// Cuts both files back to the state before a failed append (best effort: if this fails
    /// too, recovery's checks still refuse the torn tail).
    fn cut_back(&mut self, data_len: u64) {
        let _ = self.data.set_len(data_len);
        let _ = self.data.seek(SeekFrom::Start(data_len));
        let _ = self.journal.set_len(self.journal_len);
        let _ = self.journal.seek(SeekFrom::Start(self.journal_len));
    }

    /// Makes the segment durable under its final name (see the module docs for the order).
    pub fn finish(self) -> Result<FinishedFile, FinishError> {
        let partial = layout::partial_path(&self.root, self.camera, self.seq);
        let jpath = layout::journal_path(&self.root, self.camera, self.seq);
        let fin = layout::segment_path(&self.root, self.camera, self.seq, self.params.codec);
        if let Err(e) = self.data.sync_all() {
            self.abandon();
            return Err(FinishError::Abandoned(e));
        }
        if let Err(e) = std::fs::rename(&partial, &fin) {
            self.abandon();
            return Err(FinishError::Abandoned(e));
        }
        let dir = layout::camera_dir(&self.root, self.camera);
        layout::fsync_dir(&dir).map_err(FinishError::DirSync)?;
        let (sha256, bytes) = self.hasher.finish();
        Ok(FinishedFile {
            sha256,
            bytes,
            journal: jpath,
        })
    }

    /// Gives the segment up: with no frames its files are removed, otherwise they are moved to
    /// quarantine so nothing received is destroyed.
    pub fn abandon(self) {
        let partial = layout::partial_path(&self.root, self.camera, self.seq);
        let jpath = layout::journal_path(&self.root, self.camera, self.seq);
        drop(self.data);
        drop(self.journal);
        if self.index.is_empty() {
            let _ = std::fs::remove_file(&partial);
            let _ = std::fs::remove_file(&jpath);
            return;
        }
        for p in [partial, jpath] {
            if let Err(e) = layout::quarantine(&self.root, self.camera, &p) {
                tracing::error!(camera = %self.camera, path = %p.display(), err = %e,
                    "Could not quarantine abandoned segment file.");
            }
        }
    }
}

/// Media duration of a segment in 90 kHz units: up to `next_pts_offset` (the first frame of
/// what follows, relative to this segment's start) when known, else the last frame's offset
/// plus the previous frame interval (zero for a single frame).
pub(crate) fn media_duration(index: &[FrameIndexEntry], next_pts_offset: Option<i64>) -> i64 {
    let Some(last) = index.last() else {
        return 0;
    };
    if let Some(n) = next_pts_offset
        && n >= last.pts_offset
    {
        return n;
    }
    let interval = match index.len() {
        0 | 1 => 0,
        n => last
            .pts_offset
            .saturating_sub(index[n - 2].pts_offset)
            .max(0),
    };
    last.pts_offset.saturating_add(interval)
}

/// Largest wall-clock correction per unit of media time: 500 ppm (ARCHITECTURE decision 4).
pub const MAX_SLEW_PPM: i64 = 500;

/// Wall span of a segment (see the crate docs, "Wall time"): starts at `anchor` (the previous
/// segment's end within the same run) or at the earliest origin its frames' arrivals imply,
/// but never before
/// `floor` (the end of the camera's previous footage: a new run whose first frames arrive in a
/// burst must not overlap what was recorded before); lasts the media duration, corrected
/// toward the observed end by at most [`MAX_SLEW_PPM`].
pub(crate) fn wall_span(
    anchor: Option<WallTime>,
    floor: Option<WallTime>,
    index: &[FrameIndexEntry],
    duration_90k: i64,
    observed_end: Option<WallTime>,
) -> (WallTime, WallTime) {
    let first = index.first().map_or(WallTime(0), |e| e.received_at);
    // A run's first segment starts at the earliest origin its frames imply (arrival minus
    // media offset): frames that arrive late or in a burst after a connect imply a later
    // origin than frames that arrive on time, so the minimum is the on-time estimate.
    let origin = index
        .iter()
        .map(|e| {
            WallTime(
                e.received_at
                    .0
                    .saturating_sub(e.pts_offset.saturating_mul(100) / 9),
            )
        })
        .min()
        .unwrap_or(first);
    let start = anchor
        .unwrap_or(origin)
        .max(floor.unwrap_or(WallTime(i64::MIN)));
    let dur_us = duration_90k.saturating_mul(100) / 9;
    let observed = observed_end.unwrap_or_else(|| {
        let last = index.last().map_or(first, |e| e.received_at);
        let interval = match index.len() {
            0 | 1 => 0,
            n => (index[n - 1].pts_offset - index[n - 2].pts_offset).max(0) * 100 / 9,
        };
        WallTime(last.0.saturating_add(interval))
    });
    let slack = dur_us.saturating_mul(MAX_SLEW_PPM) / 1_000_000;
    let want = observed.0.saturating_sub(start.0);
    let got = want.clamp(dur_us - slack, dur_us + slack);
    (start, WallTime(start.0.saturating_add(got)))
}
