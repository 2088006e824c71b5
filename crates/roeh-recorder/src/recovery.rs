//! Start-up recovery: turning what a crash left on disk back into committed segments, or into
//! quarantine, and recording the crash as a gap.
//!
//! For each camera directory (and each camera with segment rows):
//! - a `.journal` of a seq that already has a row: the crash came after the insert; the journal
//!   is removed;
//! - a `.journal` of the next seq (last row + 1), with its data in the `.partial` file or, if the
//!   crash came between rename and insert, in the final-named file: the longest verified prefix
//!   of frames (see [`crate::journal`]) is kept, the data file cut to it, fsynced, renamed to the
//!   final name and committed with `recovered = true`, provided it has at least one frame and
//!   starts with a key frame; otherwise the files go to quarantine;
//! - any other `.partial`, `.journal` or final-named file without a row goes to quarantine;
//! - a final-named file whose row is `deleted` (crash inside a retention deletion) is removed;
//! - files of committed rows are never opened for writing, renamed or removed. Committed rows
//!   whose file is missing or has the wrong length are reported in
//!   [`RecoveryReport::missing_files`]; rows are never deleted.
//!
//! Crash gap: if debris was found, or the camera has footage but no open gap (a crash between
//! two segments), a `crash` gap is opened from the end of the camera's last committed footage.
//! It is left open, as are `shutdown` gaps of a clean stop, and closed by the arrival of the
//! camera's next recorded frame, so the time until recording resumes is covered too.

use crate::journal::{self, JournalHeader};
use crate::layout::{self, FileKind};
use crate::writer::{media_duration, wall_span};
use crate::{Error, Result, blocking, io_err};
use roeh_domain::{
    CameraId, Clock, ErrorKind, FrameIndexEntry, GapReason, Pts90k, Segment, SegmentState,
};
use roeh_evidence::{SegmentHasher, SegmentLinkInput, ZERO_LINK, chain_link};
use roeh_store::Store;
use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// What recovery did.
#[derive(Clone, Debug, Default)]
pub struct RecoveryReport {
    /// Segments committed from crash debris (`recovered = true`).
    pub recovered: Vec<Segment>,
    /// Files moved to quarantine (their new paths).
    pub quarantined: Vec<PathBuf>,
    /// Leftover files removed: journals of committed segments, files of deleted rows.
    pub removed: Vec<PathBuf>,
    /// Crash gaps opened: (camera, gap id).
    pub crash_gaps: Vec<(CameraId, i64)>,
    /// Committed rows whose file is missing or has the wrong length. Never deleted.
    pub missing_files: Vec<Segment>,
    /// Cameras whose recovery failed, with the error.
    pub errors: Vec<(CameraId, String)>,
}

impl RecoveryReport {
    fn merge(&mut self, o: RecoveryReport) {
        self.recovered.extend(o.recovered);
        self.quarantined.extend(o.quarantined);
        self.removed.extend(o.removed);
        self.crash_gaps.extend(o.crash_gaps);
        self.missing_files.extend(o.missing_files);
        self.errors.extend(o.errors);
    }
}

/// Recovers every camera found under `root` or in the store. Run once at start-up before any
/// recorder starts. A camera whose recovery fails is listed in [`RecoveryReport::errors`] and
/// the others still recover.
pub async fn recover(root: &Path, store: &Store, clock: &dyn Clock) -> Result<RecoveryReport> {
    recover_where(root, store, clock, |_| true).await
}

/// As [`recover`], for the cameras `keep` chooses only (a node leaves other nodes' cameras
/// alone: their footage lives on another disk).
pub async fn recover_where(
    root: &Path,
    store: &Store,
    clock: &dyn Clock,
    keep: impl Fn(CameraId) -> bool,
) -> Result<RecoveryReport> {
    let root_buf = root.to_path_buf();
    let mut cameras: Vec<CameraId> = blocking(move || -> std::io::Result<Vec<CameraId>> {
        let mut out = Vec::new();
        let rd = match std::fs::read_dir(&root_buf) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e),
        };
        for ent in rd {
            let ent = ent?;
            if !ent.file_type()?.is_dir() {
                continue;
            }
            if let Some(name) = ent.file_name().to_str()
                && let Ok(id) = CameraId::parse(name)
                && id.to_string() == name
            {
                out.push(id);
            }
        }
        Ok(out)
    })
    .await?
    .map_err(|e| io_err("listing footage root", e))?;
    cameras.extend(store.cameras_with_segments().await?);
    cameras.sort();
    cameras.dedup();
    cameras.retain(|c| keep(*c));
    let mut report = RecoveryReport::default();
    for camera in cameras {
        match recover_camera(root, store, camera, clock).await {
            Ok(r) => report.merge(r),
            Err(e) => {
                tracing::error!(%camera, err = %e.chain(), "Recovery of camera failed.");
                report.errors.push((camera, e.chain()));
            }
        }
    }
    if !report.missing_files.is_empty() {
        tracing::error!(
            count = report.missing_files.len(),
            "Committed segments are missing their files."
        );
    }
    Ok(report)
}

/// Recovers one camera (see the module docs). Idempotent.
pub async fn recover_camera(
    root: &Path,
    store: &Store,
    camera: CameraId,
    clock: &dyn Clock,
) -> Result<RecoveryReport> {
    let mut report = RecoveryReport::default();
    let dir = layout::camera_dir(root, camera);
    let files = {
        let dir = dir.clone();
        blocking(move || list_camera_dir(&dir)).await?
    }
    .map_err(|e| io_err("listing camera directory", e))?;

    let mut last = store.last_segment(camera).await?;
    let mut debris = false;

    // Journals first, in seq order: they decide what the other files are.
    for (&seq, f) in &files {
        let Some(jpath) = f.journal.clone() else {
            continue;
        };
        let last_seq = last.as_ref().map_or(0, |s| s.seq);
        if seq <= last_seq {
            remove_file(&jpath, &mut report).await?;
            if let Some(p) = f.partial.clone() {
                debris = true;
                quarantine(root, camera, p, &mut report).await?;
            }
            continue;
        }
        debris = true;
        let data = f
            .finals
            .first()
            .map(|(p, _)| p.clone())
            .or(f.partial.clone());
        let rebuilt = match (seq == last_seq + 1, data) {
            (true, Some(data)) => {
                rebuild(root, store, camera, seq, &data, &jpath, last.as_ref()).await?
            }
            _ => None,
        };
        match rebuilt {
            Some(seg) => {
                tracing::warn!(%camera, seq, frames = seg.frames, "Recovered segment after crash.");
                // A stray partial next to a final file of the same seq is debris.
                if !f.finals.is_empty()
                    && let Some(p) = f.partial.clone()
                {
                    quarantine(root, camera, p, &mut report).await?;
                }
                // A gap closed by this run's first frame ends where the recovered footage
                // begins (which may be before that frame arrived; see `wall_span`).
                for g in store.gaps_in_range(camera, seg.start, seg.end).await? {
                    if g.start <= seg.start && g.end.is_some_and(|e| e > seg.start) {
                        store.trim_gap_end(g.id, seg.start).await?;
                    }
                }
                report.recovered.push(seg.clone());
                last = Some(seg);
            }
            None => {
                for p in f.all_paths() {
                    quarantine(root, camera, p, &mut report).await?;
                }
            }
        }
    }

    // Everything else without a journal.
    let last_seq = last.as_ref().map_or(0, |s| s.seq);
    for (&seq, f) in &files {
        if f.journal.is_some() {
            continue;
        }
        if let Some(p) = f.partial.clone() {
            debris = true;
            quarantine(root, camera, p, &mut report).await?;
        }
        for (p, codec) in &f.finals {
            if seq > last_seq {
                debris = true;
                quarantine(root, camera, p.clone(), &mut report).await?;
                continue;
            }
            let row = store.segment_by_seq(camera, seq).await?;
            match row {
                Some(r) if r.state == SegmentState::Deleted && r.codec == *codec => {
                    remove_file(p, &mut report).await?;
                }
                Some(r) if r.codec == *codec => {}
                _ => {
                    quarantine(root, camera, p.clone(), &mut report).await?;
                }
            }
        }
    }

    // Committed rows must have their files.
    let mut from = 1u64;
    loop {
        let page = store.chain_segments(camera, from, 512).await?;
        let Some(tail) = page.last() else {
            break;
        };
        from = tail.seq + 1;
        for s in page {
            if s.state != SegmentState::Committed {
                continue;
            }
            let p = layout::segment_path(root, camera, s.seq, s.codec);
            let len = blocking(move || std::fs::symlink_metadata(&p).map(|m| m.len())).await?;
            if len.ok() != Some(s.bytes) {
                tracing::error!(%camera, seq = s.seq, "Committed segment's file is missing or has the wrong length.");
                report.missing_files.push(s);
            }
        }
    }

    // The crash gap.
    let open = store.open_gaps(Some(camera)).await?;
    if debris || (open.is_empty() && last.is_some()) {
        let start = last.as_ref().map_or_else(|| clock.wall(), |s| s.end);
        let detail = if debris {
            "process ended without closing its segment; recovered at start-up"
        } else {
            "process ended between segments; recovered at start-up"
        };
        let id = store
            .open_gap(camera, start, GapReason::Crash, detail)
            .await?;
        report.crash_gaps.push((camera, id));
    }
    Ok(report)
}

#[derive(Default, Debug)]
struct SeqFiles {
    partial: Option<PathBuf>,
    journal: Option<PathBuf>,
    finals: Vec<(PathBuf, roeh_domain::VideoCodec)>,
}

impl SeqFiles {
    fn all_paths(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = self.finals.iter().map(|(p, _)| p.clone()).collect();
        v.extend(self.partial.clone());
        v.extend(self.journal.clone());
        v
    }
}

fn list_camera_dir(dir: &Path) -> std::io::Result<BTreeMap<u64, SeqFiles>> {
    let mut out: BTreeMap<u64, SeqFiles> = BTreeMap::new();
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for ent in rd {
        let ent = ent?;
        let name = ent.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        // Only plain files are ours; a symlink or directory planted here is left alone.
        if !ent.file_type()?.is_file() {
            tracing::warn!(path = %ent.path().display(), "Unexpected entry in camera directory.");
            continue;
        }
        match layout::parse_file_name(name) {
            Some(FileKind::Partial(s)) => out.entry(s).or_default().partial = Some(ent.path()),
            Some(FileKind::Journal(s)) => out.entry(s).or_default().journal = Some(ent.path()),
            Some(FileKind::Segment(s, c)) => out.entry(s).or_default().finals.push((ent.path(), c)),
            None => {
                tracing::warn!(path = %ent.path().display(), "Unexpected file in camera directory.");
            }
        }
    }
    Ok(out)
}

async fn quarantine(
    root: &Path,
    camera: CameraId,
    path: PathBuf,
    report: &mut RecoveryReport,
) -> Result<()> {
    let root = root.to_path_buf();
    let p = path.clone();
    let dest = blocking(move || layout::quarantine(&root, camera, &p))
        .await?
        .map_err(|e| io_err(format!("quarantining {}", path.display()), e))?;
    tracing::warn!(%camera, from = %path.display(), to = %dest.display(), "Quarantined file.");
    report.quarantined.push(dest);
    Ok(())
}

async fn remove_file(path: &Path, report: &mut RecoveryReport) -> Result<()> {
    let p = path.to_path_buf();
    blocking(move || -> std::io::Result<()> {
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        if let Some(d) = p.parent() {
            layout::fsync_dir(d)?;
        }
        Ok(())
    })
    .await?
    .map_err(|e| io_err("removing leftover file", e))?;
    report.removed.push(path.to_path_buf());
    Ok(())
}

/// The verified part of an interrupted segment.
struct Salvage {
    header: JournalHeader,
    index: Vec<FrameIndexEntry>,
    sha256: [u8; 32],
    bytes: u64,
}

/// Largest journal read during recovery (a segment of a day at 100 fps is ~400 MB of records;
/// anything bigger is not ours).
const MAX_JOURNAL_BYTES: u64 = 1 << 30;

/// Reads a journal and its data file and keeps the verified prefix; cuts the data file to it,
/// fsyncs it and gives it its final name. `Ok(None)`: nothing committable (quarantine it).
fn salvage(
    root: &Path,
    camera: CameraId,
    seq: u64,
    data_path: &Path,
    journal_path: &Path,
) -> std::io::Result<Option<Salvage>> {
    let mut jf = layout::open_nofollow(journal_path)?;
    if jf.metadata()?.len() > MAX_JOURNAL_BYTES {
        return Ok(None);
    }
    let mut jbytes = Vec::new();
    jf.read_to_end(&mut jbytes)?;
    let Ok((header, hlen)) = journal::decode_header(&jbytes) else {
        return Ok(None);
    };
    if header.camera != camera || header.seq != seq {
        return Ok(None);
    }
    let mut data = layout::open_rw_nofollow(data_path)?;
    let data_len = data.metadata()?.len();
    let mut hasher = SegmentHasher::new();
    let mut index = Vec::new();
    let mut buf = Vec::new();
    for rec in jbytes[hlen..].chunks_exact(journal::RECORD_LEN) {
        let Some((entry, digest)) = journal::decode_record(rec) else {
            break;
        };
        let end = entry.offset.saturating_add(u64::from(entry.size));
        if entry.offset != hasher.len() || entry.size == 0 || end > data_len {
            break;
        }
        if entry.size as usize > roeh_domain::media::MAX_ACCESS_UNIT_BYTES {
            break;
        }
        if index.is_empty() && (!entry.is_key || entry.pts_offset != 0) {
            break;
        }
        if let Some(prev) = index.last().map(|e: &FrameIndexEntry| e.pts_offset)
            && entry.pts_offset <= prev
        {
            break;
        }
        buf.resize(entry.size as usize, 0);
        data.seek(SeekFrom::Start(entry.offset))?;
        data.read_exact(&mut buf)?;
        if journal::frame_digest(&buf) != digest {
            break;
        }
        hasher.update(&buf);
        index.push(entry);
    }
    if index.is_empty() {
        return Ok(None);
    }
    let (sha256, bytes) = hasher.finish();
    data.set_len(bytes)?;
    data.sync_all()?;
    drop(data);
    let fin = layout::segment_path(root, camera, seq, header.params.codec);
    if data_path != fin {
        std::fs::rename(data_path, &fin)?;
    }
    layout::fsync_dir(&layout::camera_dir(root, camera))?;
    Ok(Some(Salvage {
        header,
        index,
        sha256,
        bytes,
    }))
}

/// Commits the verified prefix of segment `seq` (see [`salvage`]); `None` if nothing is
/// committable.
async fn rebuild(
    root: &Path,
    store: &Store,
    camera: CameraId,
    seq: u64,
    data: &Path,
    journal_path: &Path,
    last: Option<&Segment>,
) -> Result<Option<Segment>> {
    let (r, d, j) = (
        root.to_path_buf(),
        data.to_path_buf(),
        journal_path.to_path_buf(),
    );
    let salvaged = blocking(move || salvage(&r, camera, seq, &d, &j))
        .await?
        .map_err(|e| io_err(format!("recovering segment {seq} of {camera}"), e))?;
    let Some(s) = salvaged else {
        return Ok(None);
    };
    let params = &s.header.params;
    let duration = media_duration(&s.index, None);
    let anchor = last.filter(|l| l.run == s.header.run).map(|l| l.end);
    let (start, end) = wall_span(anchor, last.map(|l| l.end), &s.index, duration, None);
    let mut seg = Segment {
        id: 0,
        camera,
        seq,
        run: s.header.run,
        codec: params.codec,
        start,
        end,
        start_pts: s.header.start_pts,
        duration: Pts90k(duration),
        frames: u32::try_from(s.index.len()).unwrap_or(u32::MAX),
        bytes: s.bytes,
        sha256: s.sha256,
        prev_chain: last.map_or(ZERO_LINK, |l| l.chain),
        chain: ZERO_LINK,
        config_record: params.config_record.clone(),
        width: params.width,
        height: params.height,
        rfc6381: params.rfc6381.clone(),
        recovered: true,
        state: SegmentState::Committed,
    };
    seg.chain = chain_link(&seg.prev_chain, &SegmentLinkInput::from(&seg));
    seg.id = store.insert_segment(&seg, &s.index).await.map_err(|e| {
        Error::with_source(
            ErrorKind::Unavailable,
            format!("committing recovered segment {seq} of {camera}"),
            e,
        )
    })?;
    let j = journal_path.to_path_buf();
    blocking(move || {
        let _ = std::fs::remove_file(&j);
        if let Some(d) = j.parent() {
            let _ = layout::fsync_dir(d);
        }
    })
    .await?;
    Ok(Some(seg))
}
