//! Where footage lives on disk. Every path is built from ids only (a camera UUID, a seq number,
//! a codec name from a closed set), never from user text (TRUST.md S10).
//!
//! ```text
//! <root>/<camera-uuid>/<seq %016x>.<codec>     committed segment (bytes exactly as received)
//! <root>/<camera-uuid>/<seq %016x>.partial     the open segment's bytes, while recording
//! <root>/<camera-uuid>/<seq %016x>.journal     the open segment's per-frame journal
//! <root>/quarantine/<camera-uuid>/<name>.<n>   debris that recovery could not commit
//! ```

use roeh_domain::{CameraId, VideoCodec};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Name of the quarantine directory under the root.
pub const QUARANTINE_DIR: &str = "quarantine";

/// A camera's directory.
pub fn camera_dir(root: &Path, camera: CameraId) -> PathBuf {
    root.join(camera.to_string())
}

/// Path of a committed segment file.
pub fn segment_path(root: &Path, camera: CameraId, seq: u64, codec: VideoCodec) -> PathBuf {
    camera_dir(root, camera).join(format!("{seq:016x}.{}", codec.as_str()))
}

/// Path of the open segment's data file.
pub fn partial_path(root: &Path, camera: CameraId, seq: u64) -> PathBuf {
    camera_dir(root, camera).join(format!("{seq:016x}.partial"))
}

/// Path of the open segment's journal.
pub fn journal_path(root: &Path, camera: CameraId, seq: u64) -> PathBuf {
    camera_dir(root, camera).join(format!("{seq:016x}.journal"))
}

/// What a file in a camera directory is, by its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// `<seq>.<codec>`.
    Segment(u64, VideoCodec),
    /// `<seq>.partial`.
    Partial(u64),
    /// `<seq>.journal`.
    Journal(u64),
}

/// Parses a file name of a camera directory; `None` for anything else.
pub fn parse_file_name(name: &str) -> Option<FileKind> {
    let (stem, ext) = name.split_once('.')?;
    if stem.len() != 16 || !stem.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let seq = u64::from_str_radix(stem, 16).ok()?;
    match ext {
        "partial" => Some(FileKind::Partial(seq)),
        "journal" => Some(FileKind::Journal(seq)),
        other => VideoCodec::parse(other).map(|c| FileKind::Segment(seq, c)),
    }
}

/// Opens a file for reading without following a symlink planted in its place.
pub fn open_nofollow(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// Opens a file for reading and writing without following symlinks.
pub fn open_rw_nofollow(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// Creates a new file (failing if it exists) for writing.
pub fn create_new(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// Flushes a directory's entries (creations, renames, removals) to stable storage.
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Creates `dir` (and parents) if missing, and makes its entry durable in its parent.
pub fn ensure_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    if let Some(parent) = dir.parent() {
        fsync_dir(parent)?;
    }
    Ok(())
}

/// Moves `path` into `<root>/quarantine/<camera>/`, under a name that does not collide with an
/// earlier one; returns the new path.
pub fn quarantine(root: &Path, camera: CameraId, path: &Path) -> io::Result<PathBuf> {
    let qdir = root.join(QUARANTINE_DIR).join(camera.to_string());
    ensure_dir(&qdir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "unnamed".into());
    let mut n = 0u32;
    let dest = loop {
        let candidate = qdir.join(format!("{name}.{n}"));
        if !candidate.exists() {
            break candidate;
        }
        n += 1;
    };
    std::fs::rename(path, &dest)?;
    fsync_dir(&qdir)?;
    if let Some(parent) = path.parent() {
        fsync_dir(parent)?;
    }
    Ok(dest)
}

/// Whether an I/O error means the file system is full.
pub fn is_storage_full(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::StorageFull
        || e.kind() == io::ErrorKind::QuotaExceeded
        || e.raw_os_error() == Some(libc::ENOSPC)
        || e.raw_os_error() == Some(libc::EDQUOT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let cam = CameraId::new_random();
        let root = Path::new("/r");
        let p = segment_path(root, cam, 0x2a, VideoCodec::H265);
        assert_eq!(p, PathBuf::from(format!("/r/{cam}/000000000000002a.h265")));
        let name = |p: PathBuf| p.file_name().unwrap().to_str().unwrap().to_string();
        assert_eq!(
            parse_file_name(&name(p)),
            Some(FileKind::Segment(42, VideoCodec::H265))
        );
        assert_eq!(
            parse_file_name(&name(partial_path(root, cam, 7))),
            Some(FileKind::Partial(7))
        );
        assert_eq!(
            parse_file_name(&name(journal_path(root, cam, u64::MAX))),
            Some(FileKind::Journal(u64::MAX))
        );
        for bad in [
            "x.h264",
            "000000000000002a",
            "000000000000002a.mp4",
            "../etc.h264",
        ] {
            assert_eq!(parse_file_name(bad), None, "{bad}");
        }
    }
}
