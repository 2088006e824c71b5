//! Verification of clip bundles and of checkpoint consistency (design record 0005 §5).
//!
//! Invariants (the input is hostile):
//! - nothing here panics or writes anything; a ZIP is never extracted: small entries are read
//!   into memory under size caps, and `clip.mp4` must be a stored entry, read in place as a byte
//!   range of the ZIP file. Entry names are only compared with the fixed names of the format,
//!   never used as paths; a ZIP holding a name with `..`, a leading `/`, a backslash or a drive
//!   prefix, a duplicate name, or more than [`MAX_ENTRIES`] entries is unusable input;
//! - an `Err` means unusable input (not a bundle, unreadable, a missing, duplicate or oversized
//!   entry, a wrong format version, a manifest or key file that does not parse): no verdict on
//!   the footage. Everything else yields a [`Verdict`]; `Failed` names the first check that
//!   fails, in the order of 0005 §5;
//! - footage is read once, front to back, in 1 MiB blocks, and hashed segment by segment.
//!
//! # Checks beyond the letter of 0005 §5
//! - The bytes of `clip.mp4` before the first frame must be exactly the header that
//!   [`crate::bundle::clip_header`] builds from the manifest's frame index and the clip's own
//!   sample entries: an edit list, a changed matrix, an extra box or any other change a player
//!   would honour but the sample table does not show fails verification. Sample durations follow
//!   the rule in [`crate::bundle`] (each frame lasts to the next one's pts offset; the last frame
//!   of a segment to the segment's `duration_pts`).
//! - The requested range must be covered as well: a hole of more than one second between the
//!   requested start and the first segment, or between the last segment and the requested end,
//!   must be covered by a declared gap (an open gap covers everything after its start).
//!   Without this, dropping the first or last segment of a bundle would go unnoticed.
//! - `site-key.pem` must parse and be the key that signed the checkpoint, pinned or not.
//! - `README.txt` must be exactly the text [`crate::bundle::readme_text`] derives from the
//!   manifest (checked last): the README is what a person reads first, so an edited case number,
//!   camera or key id in it fails verification instead of being trusted.
//!
//! - Each frame's sample entry must carry the decoder configuration record (`avcC`/`hvcC`)
//!   whose SHA-256 the segment's leaf commits to, so an edited SPS/PPS is caught.
//!
//! # Timestamps
//! An optional `checkpoint.tsr` (an RFC 3161 `TimeStampResp`, see [`crate::tsa`]) is checked
//! right after the checkpoint: it must be DER, granted, stamp SHA-256 of exactly the bytes of
//! `checkpoint.txt`, and carry a CMS signature that verifies with the signer certificate in the
//! token, or the verdict is `FAILED` at `timestamp`. Whether that certificate is the TSA's (its
//! chain to the TSA's CA) is not checked here; the verdict names the `openssl ts -verify`
//! command that does.

use crate::bundle::{
    BundleError, CHECKPOINT_SIG, CHECKPOINT_TSR, CHECKPOINT_TXT, CLIP, CUSTODY, IO_BLOCK, MANIFEST,
    README, SITE_KEY, clip_header, frame_durations, read_full, readme_text,
};
use crate::chain::chain_link;
use crate::checkpoint::{Checkpoint, SignedCheckpoint};
use crate::keys::PublicKey;
use crate::leaf::{event_leaf, gap_leaf, segment_leaf};
use crate::manifest::{MAX_MANIFEST_BYTES, Manifest, ManifestGap, ManifestSegment, parse_time};
use crate::merkle::{Hash, leaf_hash, verify_consistency as merkle_consistency, verify_inclusion};
use roeh_domain::{CameraId, CodecParams, ErrorKind, WallTime};
use roeh_mp4::SampleInfo;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

/// Largest small entry (checkpoint, signature, key, custody event, proof file) read, in bytes.
pub const MAX_SMALL_ENTRY_BYTES: u64 = 64 * 1024;

/// Most entries a bundle ZIP may hold.
pub const MAX_ENTRIES: usize = 64;

/// Longest wall-time hole between footage that needs no declared gap, in microseconds.
pub const MAX_UNDECLARED_HOLE_US: i64 = 1_000_000;

/// A declared gap as the verifier saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeclaredGap {
    /// Gap id.
    pub id: u64,
    /// Camera.
    pub camera: CameraId,
    /// Start.
    pub start: WallTime,
    /// End; `None` for an open gap.
    pub end: Option<WallTime>,
    /// Reason.
    pub reason: String,
    /// Detail.
    pub detail: String,
    /// Whether the gap is proven in the log (closed gaps are; open ones cannot be yet).
    pub proven: bool,
}

impl fmt::Display for DeclaredGap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let end = self
            .end
            .map_or_else(|| "(open)".to_string(), |e| e.to_rfc3339());
        write!(
            f,
            "gap {}: {} – {}, {}",
            self.id,
            self.start,
            end,
            self.reason.escape_debug()
        )?;
        if !self.detail.is_empty() {
            write!(f, " ({})", self.detail.escape_debug())?;
        }
        f.write_str(if self.proven {
            ", proven in the log"
        } else {
            ", open: declared, not yet in the log"
        })
    }
}

/// What a verified bundle holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Camera.
    pub camera: CameraId,
    /// Requested range.
    pub requested: (WallTime, WallTime),
    /// Wall span of the clip's segments.
    pub clip: (WallTime, WallTime),
    /// First and last seq.
    pub seqs: (u64, u64),
    /// Number of segments.
    pub segments: usize,
    /// Number of frames.
    pub frames: u64,
    /// Bytes of footage.
    pub bytes: u64,
    /// The checkpoint's origin.
    pub origin: String,
    /// The checkpoint's tree size.
    pub tree_size: u64,
    /// The checkpoint's key id.
    pub key_id: String,
    /// Case reference.
    pub case: String,
    /// The RFC 3161 timestamp of the checkpoint, when the bundle has `checkpoint.tsr`.
    pub timestamp: Option<Timestamp>,
}

/// What a bundle's `checkpoint.tsr` says, once it is known to stamp `checkpoint.txt` with a
/// signature that verifies with the certificate it carries. That certificate's chain to the
/// TSA's CA is not checked by this crate (see [`TSR_VERIFY_COMMAND`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timestamp {
    /// When the TSA stamped the checkpoint.
    pub gen_time: WallTime,
    /// The token's serial number, hexadecimal.
    pub serial: String,
    /// The TSA's policy, dotted OID.
    pub policy: String,
}

/// The command that checks the TSA's signature and its certificate's chain to the TSA's CA over
/// a bundle's `checkpoint.tsr`, given the TSA's CA certificate.
pub const TSR_VERIFY_COMMAND: &str =
    "openssl ts -verify -in checkpoint.tsr -data checkpoint.txt -CAfile tsa-ca.pem";

/// The outcome of verifying a bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every check passed and no gap is declared.
    Ok {
        /// Whether the checkpoint was checked with a key given by the caller.
        key_pinned: bool,
        /// What the bundle holds.
        summary: Summary,
    },
    /// Every check passed; footage is missing for the declared gaps.
    OkWithGaps {
        /// The declared gaps.
        gaps: Vec<DeclaredGap>,
        /// Whether the checkpoint was checked with a key given by the caller.
        key_pinned: bool,
        /// What the bundle holds.
        summary: Summary,
    },
    /// A check failed.
    Failed {
        /// Where: `checkpoint`, `camera … seq … (start – end)` with ` frame N` where the fault is
        /// a frame's, `gap …`, `custody event`, `clip.mp4`, `requested range`, …
        at: String,
        /// What failed.
        what: String,
    },
}

impl Verdict {
    /// Whether the verdict is `OK` or `OK WITH DECLARED GAPS`.
    pub fn is_ok(&self) -> bool {
        !matches!(self, Verdict::Failed { .. })
    }

    /// Exit code of `roeh-verify`: 0 for both OK verdicts, 1 for `FAILED`.
    pub fn exit_code(&self) -> u8 {
        u8::from(!self.is_ok())
    }
}

const UNPINNED_NOTE: &str = "note: the key was not pinned (--key): the checkpoint was checked with the bundle's own site-key.pem, which shows only that the bundle is consistent with the key it carries; check that key id against the site's";

fn write_summary(f: &mut fmt::Formatter<'_>, s: &Summary, pinned: bool) -> fmt::Result {
    writeln!(f, "camera:     {}", s.camera)?;
    writeln!(f, "requested:  {} – {}", s.requested.0, s.requested.1)?;
    writeln!(
        f,
        "clip:       {} – {}, {} segments (seq {} to {}), {} frames, {} bytes of footage",
        s.clip.0, s.clip.1, s.segments, s.seqs.0, s.seqs.1, s.frames, s.bytes
    )?;
    writeln!(f, "case:       {}", s.case.escape_debug())?;
    write!(
        f,
        "checkpoint: {}, tree size {}, key {}{}",
        s.origin.escape_debug(),
        s.tree_size,
        s.key_id,
        if pinned { " (pinned)" } else { "" }
    )?;
    if let Some(t) = &s.timestamp {
        write!(
            f,
            "\ntimestamp:  checkpoint.txt timestamped by a TSA at {} (serial {}, policy {}); \
             check that its signer is the TSA (certificate chain) with: {TSR_VERIFY_COMMAND}",
            t.gen_time, t.serial, t.policy
        )?;
    }
    if !pinned {
        write!(f, "\n{UNPINNED_NOTE}")?;
    }
    Ok(())
}

impl fmt::Display for Verdict {
    /// The first line is exactly `OK`, `OK WITH DECLARED GAPS` or `FAILED: <at>: <what>`;
    /// details follow on further lines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Ok {
                key_pinned,
                summary,
            } => {
                writeln!(f, "OK")?;
                write_summary(f, summary, *key_pinned)
            }
            Verdict::OkWithGaps {
                gaps,
                key_pinned,
                summary,
            } => {
                writeln!(f, "OK WITH DECLARED GAPS")?;
                for g in gaps {
                    writeln!(f, "  {g}")?;
                }
                write_summary(f, summary, *key_pinned)
            }
            Verdict::Failed { at, what } => write!(f, "FAILED: {at}: {what}"),
        }
    }
}

/// Why checking stopped: a verdict of failure, or unusable input.
enum Stop {
    Failed(String, String),
    Unusable(BundleError),
}

impl From<BundleError> for Stop {
    fn from(e: BundleError) -> Self {
        Stop::Unusable(e)
    }
}

type Check<T> = Result<T, Stop>;

fn fail<T>(at: impl Into<String>, what: impl Into<String>) -> Check<T> {
    Err(Stop::Failed(at.into(), what.into()))
}

fn unusable(kind: ErrorKind, msg: impl fmt::Display) -> BundleError {
    BundleError::new(kind, msg)
}

fn io_unusable(what: impl fmt::Display) -> impl FnOnce(io::Error) -> BundleError {
    move |e| BundleError::with_source(ErrorKind::Unavailable, what.to_string(), e)
}

/// A byte range of a file, readable and seekable as if it were the whole file.
#[derive(Debug)]
struct Range {
    file: File,
    start: u64,
    len: u64,
    pos: u64,
}

impl Range {
    fn new(mut file: File, start: u64, len: u64) -> io::Result<Range> {
        file.seek(SeekFrom::Start(start))?;
        Ok(Range {
            file,
            start,
            len,
            pos: 0,
        })
    }
}

impl Read for Range {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len.saturating_sub(self.pos);
        let n = usize::try_from(left).map_or(buf.len(), |l| l.min(buf.len()));
        if n == 0 {
            return Ok(0);
        }
        let got = self.file.read(&mut buf[..n])?;
        self.pos += got as u64;
        Ok(got)
    }
}

impl Seek for Range {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        let Some(target) = target else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the entry",
            ));
        };
        let abs = self
            .start
            .checked_add(target)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek overflows"))?;
        self.file.seek(SeekFrom::Start(abs))?;
        self.pos = target;
        Ok(target)
    }
}

/// The entries of a bundle, read.
struct Entries {
    manifest: Vec<u8>,
    checkpoint_txt: Vec<u8>,
    checkpoint_sig: Vec<u8>,
    checkpoint_tsr: Option<Vec<u8>>,
    site_key: Vec<u8>,
    custody: Vec<u8>,
    readme: Vec<u8>,
    clip: Range,
}

fn cap_of(name: &str) -> u64 {
    if name == MANIFEST {
        MAX_MANIFEST_BYTES
    } else {
        MAX_SMALL_ENTRY_BYTES
    }
}

fn oversized(name: &str) -> BundleError {
    unusable(
        ErrorKind::ResourceExhausted,
        format!("entry {name} exceeds {} bytes", cap_of(name)),
    )
}

fn read_capped(r: impl Read, name: &str) -> Result<Vec<u8>, BundleError> {
    let cap = cap_of(name);
    let mut out = Vec::new();
    r.take(cap + 1)
        .read_to_end(&mut out)
        .map_err(io_unusable(format!("reading {name}")))?;
    if out.len() as u64 > cap {
        return Err(oversized(name));
    }
    Ok(out)
}

fn read_dir_bundle(dir: &Path) -> Result<Entries, BundleError> {
    let open = |name: &str| -> Result<File, BundleError> {
        let p = dir.join(name);
        let md = std::fs::symlink_metadata(&p).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                unusable(ErrorKind::NotFound, format!("entry {name} is missing"))
            } else {
                BundleError::with_source(ErrorKind::Unavailable, format!("reading {name}"), e)
            }
        })?;
        if !md.is_file() {
            return Err(unusable(
                ErrorKind::InvalidArgument,
                format!("entry {name} is not a regular file"),
            ));
        }
        if name != CLIP && md.len() > cap_of(name) {
            return Err(oversized(name));
        }
        File::open(&p).map_err(io_unusable(format!("opening {name}")))
    };
    let small = |name: &str| -> Result<Vec<u8>, BundleError> { read_capped(open(name)?, name) };
    let tsr = match std::fs::symlink_metadata(dir.join(CHECKPOINT_TSR)) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        _ => Some(small(CHECKPOINT_TSR)?),
    };
    let clip = open(CLIP)?;
    let len = clip
        .metadata()
        .map_err(io_unusable(format!("reading {CLIP}")))?
        .len();
    Ok(Entries {
        manifest: small(MANIFEST)?,
        checkpoint_txt: small(CHECKPOINT_TXT)?,
        checkpoint_sig: small(CHECKPOINT_SIG)?,
        checkpoint_tsr: tsr,
        site_key: small(SITE_KEY)?,
        custody: small(CUSTODY)?,
        readme: small(README)?,
        clip: Range::new(clip, 0, len).map_err(io_unusable(format!("reading {CLIP}")))?,
    })
}

/// Whether a ZIP entry name is one a bundle may hold: relative, no `..` component, no
/// backslash, no drive prefix, no NUL.
fn safe_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('/')
        && !name.contains('\\')
        && !name.contains('\0')
        && !name.contains(':')
        && !name.split('/').any(|c| c == "..")
}

/// Walks the central directory itself (the ZIP reader keeps only the last of equal names) and
/// refuses duplicate names or more headers than the archive reports.
fn check_central_directory(
    file: &mut File,
    file_len: u64,
    start: u64,
    reported: usize,
) -> Result<(), BundleError> {
    const MAX_DIR_BYTES: u64 = 1 << 20;
    let n = file_len.saturating_sub(start).min(MAX_DIR_BYTES);
    let mut dir = vec![0u8; n as usize];
    file.seek(SeekFrom::Start(start))
        .and_then(|_| file.read_exact(&mut dir))
        .map_err(io_unusable("reading the ZIP directory"))?;
    let mut names: Vec<&[u8]> = Vec::new();
    let mut at = 0usize;
    while let Some(h) = dir.get(at..at + 46) {
        if h[..4] != [0x50, 0x4b, 0x01, 0x02] {
            break;
        }
        let u16_at = |i: usize| usize::from(u16::from_le_bytes([h[i], h[i + 1]]));
        let (nl, el, cl) = (u16_at(28), u16_at(30), u16_at(32));
        let Some(name) = dir.get(at + 46..at + 46 + nl) else {
            break;
        };
        if names.contains(&name) {
            return Err(unusable(
                ErrorKind::InvalidArgument,
                format!("duplicate ZIP entry {:?}", String::from_utf8_lossy(name)),
            ));
        }
        names.push(name);
        if names.len() > MAX_ENTRIES {
            return Err(unusable(
                ErrorKind::ResourceExhausted,
                format!("more than {MAX_ENTRIES} ZIP entries"),
            ));
        }
        at += 46 + nl + el + cl;
    }
    if names.len() != reported {
        return Err(unusable(
            ErrorKind::InvalidArgument,
            format!(
                "the ZIP directory holds {} entries, the archive reports {reported}",
                names.len()
            ),
        ));
    }
    Ok(())
}

fn read_zip_bundle(path: &Path, mut file: File) -> Result<Entries, BundleError> {
    let file_len = file
        .metadata()
        .map_err(io_unusable("reading the bundle"))?
        .len();
    let reader = file
        .try_clone()
        .map_err(io_unusable("reading the bundle"))?;
    let mut za = zip::ZipArchive::new(io::BufReader::new(reader)).map_err(|e| {
        BundleError::with_source(
            ErrorKind::InvalidArgument,
            format!(
                "{} is neither a bundle directory nor a readable ZIP",
                path.display()
            ),
            e,
        )
    })?;
    if za.len() > MAX_ENTRIES {
        return Err(unusable(
            ErrorKind::ResourceExhausted,
            format!("more than {MAX_ENTRIES} ZIP entries"),
        ));
    }
    check_central_directory(&mut file, file_len, za.central_directory_start(), za.len())?;
    for i in 0..za.len() {
        let name = za.name_for_index(i).unwrap_or("");
        if !safe_name(name) {
            return Err(unusable(
                ErrorKind::InvalidArgument,
                format!("unsafe ZIP entry name {name:?}"),
            ));
        }
    }
    let zerr = |name: &str| {
        let name = name.to_string();
        move |e: zip::result::ZipError| {
            BundleError::with_source(ErrorKind::InvalidArgument, format!("reading {name}"), e)
        }
    };
    let has_tsr = za.index_for_name(CHECKPOINT_TSR).is_some();
    let mut small = |name: &str| -> Result<Vec<u8>, BundleError> {
        let i = za
            .index_for_name(name)
            .ok_or_else(|| unusable(ErrorKind::NotFound, format!("entry {name} is missing")))?;
        let f = za.by_index(i).map_err(zerr(name))?;
        if f.is_dir() {
            return Err(unusable(
                ErrorKind::InvalidArgument,
                format!("entry {name} is a directory"),
            ));
        }
        if f.size() > cap_of(name) {
            return Err(oversized(name));
        }
        read_capped(f, name)
    };
    let manifest = small(MANIFEST)?;
    let checkpoint_txt = small(CHECKPOINT_TXT)?;
    let checkpoint_sig = small(CHECKPOINT_SIG)?;
    let checkpoint_tsr = if has_tsr {
        Some(small(CHECKPOINT_TSR)?)
    } else {
        None
    };
    let site_key = small(SITE_KEY)?;
    let custody = small(CUSTODY)?;
    let readme = small(README)?;
    let i = za
        .index_for_name(CLIP)
        .ok_or_else(|| unusable(ErrorKind::NotFound, format!("entry {CLIP} is missing")))?;
    let (start, len) = {
        let f = za.by_index_raw(i).map_err(zerr(CLIP))?;
        if f.compression() != zip::CompressionMethod::Stored || f.encrypted() || f.is_dir() {
            return Err(unusable(
                ErrorKind::InvalidArgument,
                format!("entry {CLIP} must be stored uncompressed and unencrypted"),
            ));
        }
        if f.size() != f.compressed_size() {
            return Err(unusable(
                ErrorKind::InvalidArgument,
                format!("entry {CLIP}: stored sizes disagree"),
            ));
        }
        (f.data_start(), f.size())
    };
    let end = start.checked_add(len);
    if end.is_none_or(|e| e > za.central_directory_start() || e > file_len) {
        return Err(unusable(
            ErrorKind::InvalidArgument,
            format!("entry {CLIP} lies outside the ZIP's data"),
        ));
    }
    Ok(Entries {
        manifest,
        checkpoint_txt,
        checkpoint_sig,
        checkpoint_tsr,
        site_key,
        custody,
        readme,
        clip: Range::new(file, start, len).map_err(io_unusable(format!("reading {CLIP}")))?,
    })
}

fn read_bundle(path: &Path) -> Result<Entries, BundleError> {
    let md = std::fs::metadata(path).map_err(|e| {
        BundleError::with_source(
            ErrorKind::NotFound,
            format!("cannot read {}", path.display()),
            e,
        )
    })?;
    if md.is_dir() {
        read_dir_bundle(path)
    } else {
        let f = File::open(path).map_err(io_unusable(format!("opening {}", path.display())))?;
        read_zip_bundle(path, f)
    }
}

/// Reads a PEM public key file (at most 64 KiB).
pub fn read_public_key(path: &Path) -> Result<PublicKey, BundleError> {
    let bytes = read_small_file(path)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        unusable(
            ErrorKind::InvalidArgument,
            format!("{}: not a PEM public key", path.display()),
        )
    })?;
    PublicKey::from_pem(text).map_err(|e| {
        BundleError::with_source(
            ErrorKind::InvalidArgument,
            format!("{}: not a usable public key", path.display()),
            e,
        )
    })
}

fn read_small_file(path: &Path) -> Result<Vec<u8>, BundleError> {
    let f = File::open(path).map_err(|e| {
        BundleError::with_source(
            ErrorKind::NotFound,
            format!("cannot read {}", path.display()),
            e,
        )
    })?;
    let mut out = Vec::new();
    f.take(MAX_SMALL_ENTRY_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(io_unusable(format!("reading {}", path.display())))?;
    if out.len() as u64 > MAX_SMALL_ENTRY_BYTES {
        return Err(unusable(
            ErrorKind::ResourceExhausted,
            format!("{} exceeds {MAX_SMALL_ENTRY_BYTES} bytes", path.display()),
        ));
    }
    Ok(out)
}

fn seg_at(s: &ManifestSegment) -> String {
    format!(
        "camera {} seq {} ({} – {})",
        s.camera, s.seq, s.start, s.end
    )
}

fn frame_at(s: &ManifestSegment, frame: usize) -> String {
    format!("{} frame {frame}", seg_at(s))
}

fn gap_at(g: &ManifestGap) -> String {
    let end = g.end.map_or_else(|| "open".to_string(), |e| e.to_rfc3339());
    format!("gap {} ({} – {end})", g.id, g.start)
}

/// Verifies the bundle at `path` (a directory or a ZIP) as 0005 §5 lays out. The checkpoint is
/// checked with `trusted_key` when given, else with the bundle's own key (and the verdict says
/// the key was not pinned). `progress(done, total)` follows the hashing of the clip's bytes.
/// `Err` is unusable input; every verdict on the content is `Ok(Verdict)`.
pub fn verify_bundle(
    path: &Path,
    trusted_key: Option<&PublicKey>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Verdict, BundleError> {
    let mut e = read_bundle(path)?;
    let manifest = Manifest::parse(&e.manifest).map_err(|err| {
        BundleError::with_source(ErrorKind::InvalidArgument, "unusable manifest.json", err)
    })?;
    let site_key = std::str::from_utf8(&e.site_key)
        .ok()
        .and_then(|t| PublicKey::from_pem(t).ok())
        .ok_or_else(|| {
            unusable(
                ErrorKind::InvalidArgument,
                format!("{SITE_KEY} is not a PEM public key"),
            )
        })?;
    match check(&manifest, &mut e, &site_key, trusted_key, progress) {
        Ok(v) => Ok(v),
        Err(Stop::Failed(at, what)) => Ok(Verdict::Failed { at, what }),
        Err(Stop::Unusable(err)) => Err(err),
    }
}

fn check(
    m: &Manifest,
    e: &mut Entries,
    site_key: &PublicKey,
    trusted_key: Option<&PublicKey>,
    progress: &mut dyn FnMut(u64, u64),
) -> Check<Verdict> {
    // 2. The checkpoint.
    let pinned = trusted_key.is_some();
    let key = trusted_key.unwrap_or(site_key);
    let whose = if pinned {
        "the pinned key"
    } else {
        "the bundle's own key"
    };
    let cp = match SignedCheckpoint::verify(&e.checkpoint_txt, &e.checkpoint_sig, key) {
        Ok(cp) => cp,
        Err(err) => return fail("checkpoint", format!("does not verify with {whose}: {err}")),
    };
    if site_key.id() != cp.key_id {
        return fail(
            SITE_KEY,
            format!(
                "key {} is not the key {} that signed the checkpoint",
                site_key.id(),
                cp.key_id
            ),
        );
    }
    check_manifest_checkpoint(m, &cp)?;
    let timestamp = match &e.checkpoint_tsr {
        Some(tsr) => Some(check_timestamp(tsr, &e.checkpoint_txt)?),
        None => None,
    };

    // 3. Each segment's chain link and its inclusion.
    let camera = m.requested.camera;
    if m.segments.is_empty() {
        return fail("manifest", "the bundle holds no segments");
    }
    for (i, s) in m.segments.iter().enumerate() {
        let at = seg_at(s);
        if s.camera != camera {
            return fail(
                at,
                format!("segment of camera {}, not the requested {camera}", s.camera),
            );
        }
        let input = s.link_input();
        if chain_link(&s.prev_chain, &input) != s.chain {
            return fail(at, "chain link does not match the segment's fields");
        }
        if i > 0 {
            let p = &m.segments[i - 1];
            if s.seq != p.seq.wrapping_add(1) {
                return fail(at, format!("seq does not follow seq {}", p.seq));
            }
            if s.prev_chain != p.chain {
                return fail(
                    at,
                    format!("previous link is not the link of seq {}", p.seq),
                );
            }
        }
        let leaf = segment_leaf(
            &s.prev_chain,
            &input,
            &s.frame_index_hash(),
            &s.config_sha256,
        );
        if let Err(err) =
            verify_inclusion(&leaf_hash(&leaf), s.leaf_index, cp.size, &s.proof, &cp.root)
        {
            return fail(
                at,
                format!(
                    "not included in the log at leaf {} under the checkpoint: {err}",
                    s.leaf_index
                ),
            );
        }
    }

    // 4. The clip.
    let frames = check_clip(m, e, progress)?;

    // 5. Gaps and the custody event.
    let mut gaps = Vec::with_capacity(m.gaps.len());
    for g in &m.gaps {
        gaps.push(check_gap(g, camera, &cp)?);
    }
    check_custody(m, &e.custody, &cp)?;

    // 6. Holes.
    check_coverage(m)?;

    // 7. The README a person reads is the one the manifest gives.
    if e.readme != readme_text(m, e.checkpoint_tsr.is_some()).as_bytes() {
        return fail(
            README,
            "does not match the manifest: it was edited (it is derived from manifest.json, \
             whose facts the checks above proved; read those, not this README)",
        );
    }

    let (first, last) = match (m.segments.first(), m.segments.last()) {
        (Some(f), Some(l)) => (f, l),
        _ => return fail("manifest", "the bundle holds no segments"),
    };
    let summary = Summary {
        camera,
        requested: (m.requested.start, m.requested.end),
        clip: (first.start, last.end),
        seqs: (first.seq, last.seq),
        segments: m.segments.len(),
        frames,
        bytes: m.segments.iter().map(|s| s.bytes).sum(),
        origin: cp.origin.clone(),
        tree_size: cp.size,
        key_id: cp.key_id.to_string(),
        case: m.case.clone(),
        timestamp,
    };
    Ok(if gaps.is_empty() {
        Verdict::Ok {
            key_pinned: pinned,
            summary,
        }
    } else {
        Verdict::OkWithGaps {
            gaps,
            key_pinned: pinned,
            summary,
        }
    })
}

/// The optional `checkpoint.tsr`: granted, stamping SHA-256 of exactly `checkpoint.txt`, its
/// signature verifying with the certificate it carries.
fn check_timestamp(tsr: &[u8], checkpoint_txt: &[u8]) -> Check<Timestamp> {
    let digest: Hash = Sha256::digest(checkpoint_txt).into();
    match crate::tsa::check_response(tsr, &digest, None) {
        Ok(info) => Ok(Timestamp {
            gen_time: info.gen_time,
            serial: info.serial_hex(),
            policy: info.policy,
        }),
        Err(err) => fail(
            "timestamp (checkpoint.tsr)",
            format!("is not a valid timestamp of checkpoint.txt: {err}"),
        ),
    }
}

fn check_manifest_checkpoint(m: &Manifest, cp: &Checkpoint) -> Check<()> {
    let mc = &m.checkpoint;
    let differs = |field: &str| {
        fail::<()>(
            "manifest",
            format!("checkpoint {field} differs from checkpoint.txt"),
        )
    };
    if m.origin != cp.origin {
        return differs("origin");
    }
    if mc.size != cp.size {
        return differs("size");
    }
    if mc.root != cp.root {
        return differs("root");
    }
    if mc.time != cp.time {
        return differs("time");
    }
    if mc.key_id != cp.key_id {
        return differs("key id");
    }
    Ok(())
}

/// Step 4: the clip's samples against the frame index, its header against the canonical one,
/// then the bytes of each segment against its SHA-256. Returns the number of frames.
fn check_clip(m: &Manifest, e: &mut Entries, progress: &mut dyn FnMut(u64, u64)) -> Check<u64> {
    // The frame index of every segment first: it must cover the segment file and imply
    // durations.
    let mut durations = Vec::with_capacity(m.segments.len());
    for s in &m.segments {
        match frame_durations(s) {
            Ok(d) => durations.push(d),
            Err((Some(j), what)) => return fail(frame_at(s, j), format!("frame index: {what}")),
            Err((None, what)) => return fail(seg_at(s), format!("frame index: {what}")),
        }
    }
    let clip_len = e.clip.len;
    let track = match roeh_mp4::read_video_track_from(&mut e.clip) {
        Ok(t) => t,
        Err(err) if err.kind() == ErrorKind::Unavailable => {
            return Err(Stop::Unusable(BundleError::with_source(
                ErrorKind::Unavailable,
                "reading clip.mp4",
                err,
            )));
        }
        Err(err) => return fail(CLIP, format!("not a readable MP4: {err}")),
    };
    if track.timescale != roeh_mp4::TIMESCALE {
        return fail(
            CLIP,
            format!(
                "timescale {} is not {}",
                track.timescale,
                roeh_mp4::TIMESCALE
            ),
        );
    }
    let total: u64 = m.segments.iter().map(|s| s.frame_index.len() as u64).sum();
    if track.samples.len() as u64 != total {
        return fail(
            CLIP,
            format!(
                "holds {} samples, the manifest indexes {total} frames",
                track.samples.len()
            ),
        );
    }
    // One decoder configuration hash per sample entry, not per frame.
    let config_hashes: Vec<Hash> = track
        .params
        .iter()
        .map(|p| crate::leaf::config_hash(&p.config_record))
        .collect();
    let first_offset = track.samples.first().map_or(0, |s| s.offset);
    let mut expect_offset = first_offset;
    let mut infos: Vec<SampleInfo> = Vec::with_capacity(track.samples.len());
    let mut k = 0usize;
    for (s, durs) in m.segments.iter().zip(&durations) {
        for (j, (f, &d)) in s.frame_index.iter().zip(durs).enumerate() {
            let Some(smp) = track.samples.get(k) else {
                return fail(frame_at(s, j), "missing from clip.mp4");
            };
            k += 1;
            if smp.size != f.size {
                return fail(
                    frame_at(s, j),
                    format!(
                        "clip sample of {} bytes, indexed frame of {}",
                        smp.size, f.size
                    ),
                );
            }
            if smp.is_key != f.is_key {
                return fail(
                    frame_at(s, j),
                    format!(
                        "clip sample {} a key frame, the index says it {}",
                        if smp.is_key { "is" } else { "is not" },
                        if f.is_key { "is" } else { "is not" }
                    ),
                );
            }
            if smp.duration != d {
                return fail(
                    frame_at(s, j),
                    format!(
                        "clip sample lasts {}, the indexed pts imply {d} (90 kHz)",
                        smp.duration
                    ),
                );
            }
            if smp.offset != expect_offset {
                return fail(
                    frame_at(s, j),
                    "clip sample is not contiguous with the previous one in the mdat",
                );
            }
            let entry = track.params.get(smp.entry);
            if entry.map(|p| p.codec) != Some(s.codec) {
                return fail(
                    frame_at(s, j),
                    format!("clip sample entry is not {}", s.codec.as_str()),
                );
            }
            if config_hashes.get(smp.entry) != Some(&s.config_sha256) {
                return fail(
                    frame_at(s, j),
                    "the clip's decoder configuration for this frame differs from the recorded one",
                );
            }
            expect_offset = expect_offset.saturating_add(u64::from(f.size));
            infos.push(SampleInfo {
                size: f.size,
                duration: d,
                is_key: f.is_key,
                entry: smp.entry,
            });
        }
    }
    // The header must be exactly the canonical one for this sample table and these entries.
    let params: Vec<&CodecParams> = track.params.iter().collect();
    let header = match clip_header(m.created_at, &params, &infos) {
        Ok(h) => h,
        Err(err) => {
            return fail(
                CLIP,
                format!("no canonical clip exists for this index: {err}"),
            );
        }
    };
    if header.total_len != clip_len || header.bytes.len() as u64 != first_offset {
        return fail(
            CLIP,
            "layout differs from the canonical clip of the manifest (length or header size)",
        );
    }
    let mut head = vec![0u8; header.bytes.len()];
    e.clip
        .seek(SeekFrom::Start(0))
        .and_then(|_| e.clip.read_exact(&mut head))
        .map_err(io_unusable("reading clip.mp4"))?;
    if let Some(pos) = head.iter().zip(&header.bytes).position(|(a, b)| a != b) {
        return fail(
            CLIP,
            format!("header differs from the canonical clip of the manifest at byte {pos}"),
        );
    }

    // The footage: one pass, segment by segment.
    let mut buf = vec![0u8; IO_BLOCK];
    let mut done = first_offset;
    progress(done, clip_len);
    let mut segs = m.segments.iter();
    let mut cur = segs.next();
    let mut hasher = Sha256::new();
    let mut left = cur.map_or(0, |s| s.bytes);
    while let Some(s) = cur {
        let n = read_full(&mut e.clip, &mut buf).map_err(io_unusable("reading clip.mp4"))?;
        if n == 0 && left > 0 {
            return fail(seg_at(s), "clip.mp4 ends inside the segment's frames");
        }
        let mut chunk = &buf[..n];
        while let Some(s) = cur {
            let take = usize::try_from(left).map_or(chunk.len(), |l| l.min(chunk.len()));
            hasher.update(&chunk[..take]);
            chunk = &chunk[take..];
            left -= take as u64;
            if left > 0 {
                break;
            }
            let digest: Hash = std::mem::take(&mut hasher).finalize().into();
            if digest != s.sha256 {
                return fail(
                    seg_at(s),
                    "the clip's frames of this segment do not hash to its SHA-256 (footage altered)",
                );
            }
            cur = segs.next();
            left = cur.map_or(0, |s| s.bytes);
        }
        done += n as u64;
        progress(done, clip_len);
    }
    Ok(total)
}

fn check_gap(g: &ManifestGap, camera: CameraId, cp: &Checkpoint) -> Check<DeclaredGap> {
    let at = gap_at(g);
    if g.camera != camera {
        return fail(
            at,
            format!("gap of camera {}, not the requested {camera}", g.camera),
        );
    }
    let proven = match (g.end, g.leaf_index, &g.proof) {
        (Some(end), Some(index), Some(proof)) => {
            if end < g.start {
                return fail(at, "ends before it starts");
            }
            let leaf = match gap_leaf(g.camera, g.id, g.start, end, &g.reason, &g.detail) {
                Ok(l) => l,
                Err(err) => return fail(at, err.to_string()),
            };
            if let Err(err) = verify_inclusion(&leaf_hash(&leaf), index, cp.size, proof, &cp.root) {
                return fail(
                    at,
                    format!("not included in the log at leaf {index} under the checkpoint: {err}"),
                );
            }
            true
        }
        (Some(_), _, _) => return fail(at, "closed gap without a leaf index and proof"),
        (None, None, None) => false,
        (None, _, _) => return fail(at, "open gap with a leaf index or proof"),
    };
    Ok(DeclaredGap {
        id: g.id,
        camera: g.camera,
        start: g.start,
        end: g.end,
        reason: g.reason.clone(),
        detail: g.detail.clone(),
        proven,
    })
}

fn check_custody(m: &Manifest, bytes: &[u8], cp: &Checkpoint) -> Check<()> {
    const AT: &str = "custody event";
    let event: serde_json::Value = match serde_json::from_slice(bytes) {
        Ok(v @ serde_json::Value::Object(_)) => v,
        _ => return fail(AT, "custody.json is not a JSON object"),
    };
    let text = |k: &str| event.get(k).and_then(|v| v.as_str());
    let Some(time) = text("time").and_then(parse_time) else {
        return fail(AT, "no valid \"time\"");
    };
    let leaf = match event_leaf(time, bytes) {
        Ok(l) => l,
        Err(err) => return fail(AT, err.to_string()),
    };
    let c = &m.custody;
    if let Err(err) = verify_inclusion(&leaf_hash(&leaf), c.leaf_index, cp.size, &c.proof, &cp.root)
    {
        return fail(
            AT,
            format!(
                "not included in the log at leaf {} under the checkpoint: {err}",
                c.leaf_index
            ),
        );
    }
    if text("type") != Some("export_created") {
        return fail(AT, "is not an export_created event");
    }
    let r = &m.requested;
    if text("camera") != Some(r.camera.to_string().as_str()) {
        return fail(
            AT,
            format!("does not name the requested camera {}", r.camera),
        );
    }
    if text("start").and_then(parse_time) != Some(r.start) {
        return fail(AT, format!("does not name the requested start {}", r.start));
    }
    if text("end").and_then(parse_time) != Some(r.end) {
        return fail(AT, format!("does not name the requested end {}", r.end));
    }
    if text("case") != Some(m.case.as_str()) {
        return fail(AT, format!("does not name the case {:?}", m.case));
    }
    Ok(())
}

/// Whether a declared gap covers the wall-time hole `from..to` (within the one-second slack).
fn covered(gaps: &[ManifestGap], from: WallTime, to: WallTime, open_ok: bool) -> bool {
    gaps.iter().any(|g| {
        let starts = g.start.0 <= from.0.saturating_add(MAX_UNDECLARED_HOLE_US);
        let ends = match g.end {
            Some(e) => e.0 >= to.0.saturating_sub(MAX_UNDECLARED_HOLE_US),
            None => open_ok,
        };
        starts && ends
    })
}

fn check_coverage(m: &Manifest) -> Check<()> {
    let hole = |a: WallTime, b: WallTime| b.0.saturating_sub(a.0) > MAX_UNDECLARED_HOLE_US;
    let secs = |a: WallTime, b: WallTime| b.0.saturating_sub(a.0) as f64 / 1e6;
    for pair in m.segments.windows(2) {
        let (p, s) = (&pair[0], &pair[1]);
        if hole(p.end, s.start) && !covered(&m.gaps, p.end, s.start, false) {
            return fail(
                seg_at(s),
                format!(
                    "wall time jumps {:.3} s after seq {} and no gap is declared",
                    secs(p.end, s.start),
                    p.seq
                ),
            );
        }
    }
    let (Some(first), Some(last)) = (m.segments.first(), m.segments.last()) else {
        return fail("manifest", "the bundle holds no segments");
    };
    let r = &m.requested;
    if hole(r.start, first.start) && !covered(&m.gaps, r.start, first.start, false) {
        return fail(
            "requested range",
            format!(
                "no footage and no declared gap from the requested start {} to {}",
                r.start, first.start
            ),
        );
    }
    if hole(last.end, r.end) && !covered(&m.gaps, last.end, r.end, true) {
        return fail(
            "requested range",
            format!(
                "no footage and no declared gap from {} to the requested end {}",
                last.end, r.end
            ),
        );
    }
    Ok(())
}

/// The outcome of checking that a newer checkpoint extends an older one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Consistency {
    /// Both are signed, share the origin, and the newer tree extends the older one.
    Consistent {
        /// Origin of both.
        origin: String,
        /// Older size.
        old_size: u64,
        /// Newer size.
        new_size: u64,
    },
    /// The newer checkpoint has a smaller tree: the log was rolled back.
    Rollback {
        /// Older size.
        old_size: u64,
        /// Newer size.
        new_size: u64,
    },
    /// The consistency proof fails: the newer tree does not extend the older one.
    Fork {
        /// Why the proof fails.
        what: String,
    },
    /// Another check failed (a signature, the origin, the proof's sizes).
    Failed {
        /// Where.
        at: String,
        /// What.
        what: String,
    },
}

impl Consistency {
    /// Exit code of `roeh-verify consistency`: 0 when consistent, else 1.
    pub fn exit_code(&self) -> u8 {
        u8::from(!matches!(self, Consistency::Consistent { .. }))
    }
}

impl fmt::Display for Consistency {
    /// The first line is `OK` or `FAILED: <at>: <what>` (`at` is `rollback` or `fork` for
    /// those two).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Consistency::Consistent {
                origin,
                old_size,
                new_size,
            } => write!(
                f,
                "OK\nthe log {} of size {new_size} extends the log of size {old_size}",
                origin.escape_debug()
            ),
            Consistency::Rollback { old_size, new_size } => write!(
                f,
                "FAILED: rollback: the newer checkpoint's tree size {new_size} is smaller than the older {old_size}"
            ),
            Consistency::Fork { what } => write!(
                f,
                "FAILED: fork: the newer tree does not extend the older one: {what}"
            ),
            Consistency::Failed { at, what } => write!(f, "FAILED: {at}: {what}"),
        }
    }
}

#[derive(Deserialize)]
struct ProofFile {
    from: u64,
    to: u64,
    #[serde(with = "crate::manifest::hex32_vec")]
    proof: Vec<Hash>,
}

/// Checks that the checkpoint `new` extends `old` (0005 §5, consistency): both signed by `key`,
/// same origin, `new size ≥ old size`, and `proof_json` (`{"from":N,"to":M,"proof":[hex…]}`, as
/// served at `GET /api/log/consistency`) proves it. `Err` is unusable input (a proof file that
/// does not parse).
pub fn verify_consistency(
    key: &PublicKey,
    old_txt: &[u8],
    old_sig: &[u8],
    new_txt: &[u8],
    new_sig: &[u8],
    proof_json: &[u8],
) -> Result<Consistency, BundleError> {
    let proof: ProofFile = serde_json::from_slice(proof_json).map_err(|e| {
        BundleError::with_source(ErrorKind::InvalidArgument, "unusable proof file", e)
    })?;
    let failed = |at: &str, what: String| {
        Ok(Consistency::Failed {
            at: at.to_string(),
            what,
        })
    };
    let old = match SignedCheckpoint::verify(old_txt, old_sig, key) {
        Ok(c) => c,
        Err(e) => return failed("old checkpoint", format!("does not verify: {e}")),
    };
    let new = match SignedCheckpoint::verify(new_txt, new_sig, key) {
        Ok(c) => c,
        Err(e) => return failed("new checkpoint", format!("does not verify: {e}")),
    };
    if old.origin != new.origin {
        return failed(
            "checkpoints",
            format!("of different logs: {:?} and {:?}", old.origin, new.origin),
        );
    }
    if new.size < old.size {
        return Ok(Consistency::Rollback {
            old_size: old.size,
            new_size: new.size,
        });
    }
    if proof.from != old.size || proof.to != new.size {
        return failed(
            "proof",
            format!(
                "is from size {} to {}, the checkpoints are of sizes {} and {}",
                proof.from, proof.to, old.size, new.size
            ),
        );
    }
    match merkle_consistency(old.size, new.size, &old.root, &new.root, &proof.proof) {
        Ok(()) => Ok(Consistency::Consistent {
            origin: new.origin,
            old_size: old.size,
            new_size: new.size,
        }),
        Err(e) => Ok(Consistency::Fork {
            what: e.to_string(),
        }),
    }
}

/// [`verify_consistency`] over files (each at most 64 KiB).
pub fn verify_consistency_files(
    key: &PublicKey,
    old_txt: &Path,
    old_sig: &Path,
    new_txt: &Path,
    new_sig: &Path,
    proof_json: &Path,
) -> Result<Consistency, BundleError> {
    verify_consistency(
        key,
        &read_small_file(old_txt)?,
        &read_small_file(old_sig)?,
        &read_small_file(new_txt)?,
        &read_small_file(new_sig)?,
        &read_small_file(proof_json)?,
    )
}
