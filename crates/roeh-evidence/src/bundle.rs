//! Writing a clip bundle (design record 0005 §4): `clip.mp4`, `manifest.json`, the signed
//! checkpoint, the site's public key, the custody event and a README, as a new directory or a
//! ZIP of stored (uncompressed) entries.
//!
//! Invariants:
//! - the clip is streamed: the MP4 header is built from the frame index alone, then each
//!   segment file is read front to back in large blocks and copied unchanged; memory is the
//!   sample table plus one buffer, never a segment;
//! - a segment's bytes are hashed while they are copied; a file that does not match its
//!   recorded length and SHA-256 fails the export with an error naming the segment, and the
//!   partial output is removed. No bundle is ever produced from altered footage;
//! - the output never replaces anything: an existing directory or file at `out` is refused;
//! - the clip's layout is a function of the manifest and the codec parameters only
//!   ([`clip_samples`], [`clip_header`]); the verifier rebuilds it with the same functions, so
//!   anything in the header that the manifest does not imply (an edit list, a changed matrix, a
//!   stray box) fails verification.
//!
//! # Sample durations
//! Every frame of a segment but the last lasts until the next frame's pts offset; the last frame
//! of a segment lasts `duration_pts − its pts offset` (the segment's committed media duration
//! runs to the next segment's first frame, or for the last segment of a run one frame interval
//! past its last frame). Segments of different runs (whose media clocks restart) therefore need
//! no common time line.
//!
//! # Codec parameters
//! Each distinct decoder configuration among the segments becomes one MP4 sample entry, in order
//! of first use; every sample points at its segment's entry (changes happen at segment starts,
//! which are key frames).

use crate::checkpoint::SignedCheckpoint;
use crate::keys::PublicKey;
use crate::manifest::{
    BUNDLE_FORMAT, Custody, FrameEntry, Manifest, ManifestCheckpoint, ManifestGap, ManifestSegment,
    Requested,
};
use crate::merkle::Hash;
use roeh_domain::{CameraId, CodecParams, ErrorKind, WallTime};
use roeh_mp4::{Mp4Header, MuxOptions, SampleInfo};
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

mod error {
    roeh_domain::define_error!();
}

/// Error of writing or reading a bundle. For [`crate::verify`], every error means unusable
/// input (not a verdict on the footage).
pub use error::Error as BundleError;

/// Name of the clip entry.
pub const CLIP: &str = "clip.mp4";
/// Name of the manifest entry.
pub const MANIFEST: &str = "manifest.json";
/// Name of the checkpoint text entry.
pub const CHECKPOINT_TXT: &str = "checkpoint.txt";
/// Name of the checkpoint signature entry.
pub const CHECKPOINT_SIG: &str = "checkpoint.sig";
/// Name of the optional RFC 3161 timestamp entry: the TSA's whole DER `TimeStampResp` for the
/// SHA-256 of `checkpoint.txt` (see [`crate::tsa`]).
pub const CHECKPOINT_TSR: &str = "checkpoint.tsr";
/// Name of the public key entry.
pub const SITE_KEY: &str = "site-key.pem";
/// Name of the custody event entry.
pub const CUSTODY: &str = "custody.json";
/// Name of the README entry.
pub const README: &str = "README.txt";

/// Block size of reads and writes of footage.
pub(crate) const IO_BLOCK: usize = 1 << 20;

/// One segment to put in a bundle.
#[derive(Clone, Debug)]
pub struct BundleSegment {
    /// The segment's row.
    pub segment: roeh_domain::Segment,
    /// Its frame index, in file order; must cover the file without holes.
    pub frames: Vec<roeh_domain::FrameIndexEntry>,
    /// Where the segment file is.
    pub path: PathBuf,
    /// The segment's leaf index in the log.
    pub leaf_index: u64,
    /// Its inclusion proof under the bundle's checkpoint.
    pub proof: Vec<Hash>,
    /// Notes on its time (`recovered`, `clock_step`).
    pub time_flags: Vec<String>,
}

/// One gap to declare in a bundle.
#[derive(Clone, Debug)]
pub struct BundleGap {
    /// The gap's row.
    pub gap: roeh_domain::Gap,
    /// `(leaf index, inclusion proof)` of a closed gap; `None` for an open one.
    pub proof: Option<(u64, Vec<Hash>)>,
}

/// Everything a bundle is made of.
#[derive(Clone, Debug)]
pub struct BundleInput {
    /// The log's origin.
    pub origin: String,
    /// When the export was made.
    pub created_at: WallTime,
    /// Requested camera.
    pub camera: CameraId,
    /// Requested start.
    pub start: WallTime,
    /// Requested end.
    pub end: WallTime,
    /// Why.
    pub reason: String,
    /// Case reference.
    pub case: String,
    /// Who asked.
    pub requester: String,
    /// The checkpoint the proofs refer to.
    pub checkpoint: SignedCheckpoint,
    /// The TSA's DER `TimeStampResp` for the SHA-256 of the checkpoint's text, if one was
    /// obtained; written as `checkpoint.tsr`.
    pub checkpoint_tsr: Option<Vec<u8>>,
    /// The key that signed it.
    pub public_key: PublicKey,
    /// The `export_created` event, byte for byte as logged.
    pub custody_json: Vec<u8>,
    /// Its leaf index.
    pub custody_leaf_index: u64,
    /// Its inclusion proof.
    pub custody_proof: Vec<Hash>,
    /// The segments, in clip order.
    pub segments: Vec<BundleSegment>,
    /// Gaps overlapping the clip.
    pub gaps: Vec<BundleGap>,
}

/// The two forms of a bundle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BundleForm {
    /// A new directory holding the entries as files.
    Directory,
    /// A ZIP file of stored entries.
    Zip,
}

/// What was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BundleSummary {
    /// Length of `clip.mp4`.
    pub bytes: u64,
    /// Frames in the clip.
    pub frames: u64,
    /// Segments in the clip.
    pub segments: usize,
}

/// Where the clip layout of a manifest is wrong: segment (index in the manifest), frame (index
/// in the segment) where it is frame-level, and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayoutError {
    /// Index of the segment in the manifest.
    pub segment: usize,
    /// Index of the frame in the segment, where the fault is a frame's.
    pub frame: Option<usize>,
    /// What is wrong.
    pub what: String,
}

impl std::fmt::Display for LayoutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "segment {}", self.segment)?;
        if let Some(fr) = self.frame {
            write!(f, " frame {fr}")?;
        }
        write!(f, ": {}", self.what)
    }
}

impl std::error::Error for LayoutError {}

/// Checks a segment's frame index (count, frames back to back from offset 0 covering exactly
/// `bytes`, no empty frame, first pts offset 0) and returns each frame's duration (see the
/// module docs).
pub fn frame_durations(seg: &ManifestSegment) -> Result<Vec<u32>, (Option<usize>, String)> {
    let idx = &seg.frame_index;
    if idx.is_empty() {
        return Err((None, "frame index is empty".into()));
    }
    if idx.len() != seg.frames as usize {
        return Err((
            None,
            format!(
                "frame index lists {} frames, the segment {}",
                idx.len(),
                seg.frames
            ),
        ));
    }
    if idx[0].pts_offset != 0 {
        return Err((Some(0), "first frame's pts offset is not 0".into()));
    }
    let mut at = 0u64;
    for (j, f) in idx.iter().enumerate() {
        if f.size == 0 {
            return Err((Some(j), "frame of size 0".into()));
        }
        if f.offset != at {
            return Err((
                Some(j),
                format!(
                    "frame at offset {}, expected {at} (frames must be back to back)",
                    f.offset
                ),
            ));
        }
        at = at
            .checked_add(u64::from(f.size))
            .ok_or_else(|| (Some(j), "offset overflows".to_string()))?;
    }
    if at != seg.bytes {
        return Err((
            None,
            format!(
                "frames cover {at} bytes, the segment file has {}",
                seg.bytes
            ),
        ));
    }
    let mut out = Vec::with_capacity(idx.len());
    for (j, pair) in idx.windows(2).enumerate() {
        let d = pair[1]
            .pts_offset
            .checked_sub(pair[0].pts_offset)
            .and_then(|d| u32::try_from(d).ok())
            .ok_or_else(|| {
                (
                    Some(j + 1),
                    format!(
                        "pts offset {} after {} is not a valid step",
                        pair[1].pts_offset, pair[0].pts_offset
                    ),
                )
            })?;
        out.push(d);
    }
    let last = idx.len() - 1;
    let d = seg
        .duration_pts
        .checked_sub(idx[last].pts_offset)
        .and_then(|d| u32::try_from(d).ok())
        .ok_or_else(|| {
            (
                Some(last),
                format!(
                    "segment duration {} does not reach past the last frame's pts offset {}",
                    seg.duration_pts, idx[last].pts_offset
                ),
            )
        })?;
    out.push(d);
    Ok(out)
}

/// The sample table of a bundle's clip: every frame of every segment, in order, with the
/// durations of [`frame_durations`]; `entries[i]` is the sample entry of segment `i`.
pub fn clip_samples(
    segments: &[ManifestSegment],
    entries: &[usize],
) -> Result<Vec<SampleInfo>, LayoutError> {
    if segments.len() != entries.len() {
        return Err(LayoutError {
            segment: 0,
            frame: None,
            what: "one sample entry per segment is needed".into(),
        });
    }
    let mut out = Vec::new();
    for (i, (seg, &entry)) in segments.iter().zip(entries).enumerate() {
        let durations = frame_durations(seg).map_err(|(frame, what)| LayoutError {
            segment: i,
            frame,
            what,
        })?;
        out.extend(
            seg.frame_index
                .iter()
                .zip(durations)
                .map(|(f, duration)| SampleInfo {
                    size: f.size,
                    duration,
                    is_key: f.is_key,
                    entry,
                }),
        );
    }
    Ok(out)
}

/// The header (everything before the first frame) of a bundle's clip, and its total length.
pub fn clip_header(
    created_at: WallTime,
    params: &[&CodecParams],
    samples: &[SampleInfo],
) -> Result<Mp4Header, roeh_mp4::Error> {
    let opts = MuxOptions {
        creation_time: Some(created_at),
        title: None,
    };
    roeh_mp4::build_header(params, samples, &opts)
}

fn err(kind: ErrorKind, msg: impl std::fmt::Display) -> BundleError {
    BundleError::new(kind, msg)
}

fn seg_name(s: &roeh_domain::Segment) -> String {
    format!(
        "segment seq {} of camera {} ({} – {})",
        s.seq, s.camera, s.start, s.end
    )
}

/// The manifest of `input`, after checking that the input is consistent (segments of the
/// requested camera, frame indexes that cover their files, closed gaps with proofs).
pub fn manifest_for(input: &BundleInput) -> Result<Manifest, BundleError> {
    let invalid = |m: String| err(ErrorKind::InvalidArgument, m);
    if input.segments.is_empty() {
        return Err(invalid("a bundle needs at least one segment".into()));
    }
    let cp = &input.checkpoint.checkpoint;
    let mut segments = Vec::with_capacity(input.segments.len());
    for bs in &input.segments {
        let s = &bs.segment;
        if s.camera != input.camera {
            return Err(invalid(format!(
                "{} is not of the requested camera",
                seg_name(s)
            )));
        }
        let m = ManifestSegment {
            camera: s.camera,
            seq: s.seq,
            run: s.run,
            start: s.start,
            end: s.end,
            start_pts: s.start_pts.0,
            duration_pts: s.duration.0,
            frames: s.frames,
            bytes: s.bytes,
            sha256: s.sha256,
            prev_chain: s.prev_chain,
            chain: s.chain,
            codec: s.codec,
            config_sha256: crate::leaf::config_hash(&bs.segment.config_record),
            leaf_index: bs.leaf_index,
            proof: bs.proof.clone(),
            time_flags: bs.time_flags.clone(),
            frame_index: bs.frames.iter().map(FrameEntry::from).collect(),
        };
        frame_durations(&m).map_err(|(frame, what)| {
            let at = frame.map_or(String::new(), |f| format!(" frame {f}"));
            invalid(format!("{}{at}: {what}", seg_name(s)))
        })?;
        segments.push(m);
    }
    let mut gaps = Vec::with_capacity(input.gaps.len());
    for bg in &input.gaps {
        let g = &bg.gap;
        let id =
            u64::try_from(g.id).map_err(|_| invalid(format!("gap id {} is negative", g.id)))?;
        let (leaf_index, proof) = match (&g.end, &bg.proof) {
            (Some(_), Some((i, p))) => (Some(*i), Some(p.clone())),
            (None, None) => (None, None),
            (Some(_), None) => {
                return Err(invalid(format!("closed gap {id} has no inclusion proof")));
            }
            (None, Some(_)) => {
                return Err(invalid(format!(
                    "open gap {id} cannot have an inclusion proof"
                )));
            }
        };
        gaps.push(ManifestGap {
            id,
            camera: g.camera,
            start: g.start,
            end: g.end,
            reason: g.reason.as_str().to_string(),
            detail: g.detail.clone(),
            leaf_index,
            proof,
        });
    }
    Ok(Manifest {
        format: BUNDLE_FORMAT.to_string(),
        origin: input.origin.clone(),
        created_at: input.created_at,
        requested: Requested {
            camera: input.camera,
            start: input.start,
            end: input.end,
        },
        reason: input.reason.clone(),
        case: input.case.clone(),
        requester: input.requester.clone(),
        checkpoint: ManifestCheckpoint {
            size: cp.size,
            root: cp.root,
            time: cp.time,
            key_id: cp.key_id,
        },
        custody: Custody {
            leaf_index: input.custody_leaf_index,
            proof: input.custody_proof.clone(),
        },
        segments,
        gaps,
    })
}

/// The distinct codec parameters of the segments (in order of first use) and each segment's
/// index into them.
fn codec_entries(segments: &[BundleSegment]) -> (Vec<CodecParams>, Vec<usize>) {
    let mut params: Vec<CodecParams> = Vec::new();
    let mut entries = Vec::with_capacity(segments.len());
    for bs in segments {
        let s = &bs.segment;
        let p = CodecParams {
            codec: s.codec,
            width: s.width,
            height: s.height,
            rfc6381: s.rfc6381.clone(),
            config_record: s.config_record.clone(),
        };
        let i = match params.iter().position(|q| {
            q.codec == p.codec
                && q.width == p.width
                && q.height == p.height
                && q.config_record == p.config_record
        }) {
            Some(i) => i,
            None => {
                params.push(p);
                params.len() - 1
            }
        };
        entries.push(i);
    }
    (params, entries)
}

/// The human-readable `README.txt` of a bundle holding `manifest`, with the timestamp part when
/// the bundle has a `checkpoint.tsr`. It is derived from the manifest alone, so `roeh-verify`
/// builds it again and requires the bundle's copy to be exactly this text (0005 §5): a reader
/// who trusts the README is not misled by an edited case number, camera or key id.
pub fn readme_text(manifest: &Manifest, with_timestamp: bool) -> String {
    let mut text = readme(manifest);
    if with_timestamp {
        text.push_str(TSR_README);
    }
    text
}

/// The README's text without the timestamp part.
fn readme(m: &Manifest) -> String {
    let first = m.segments.first();
    let last = m.segments.last();
    let seqs = match (first, last) {
        (Some(f), Some(l)) => format!("seq {} to {}", f.seq, l.seq),
        _ => "none".into(),
    };
    format!(
        "roeh clip bundle ({format})\n\
         \n\
         Camera:     {camera}\n\
         Requested:  {start} to {end} (UTC)\n\
         Case:       {case}\n\
         Segments:   {n} ({seqs}); gaps declared: {gaps}\n\
         Checkpoint: {origin}, tree size {size}, key {key}\n\
         \n\
         Entries\n\
         - clip.mp4        the footage: whole recorded segments, frames byte for byte as recorded\n\
         - manifest.json   what the clip holds, where each segment is in the site's log, proofs\n\
         - checkpoint.txt  the site's signed statement of its log (size and root hash)\n\
         - checkpoint.sig  Ed25519 signature over checkpoint.txt, 64 raw bytes\n\
         - site-key.pem    the public key that signed it (informational)\n\
         - custody.json    the export event, as logged\n\
         \n\
         How to verify\n\
         1. Obtain the site's public key from the site itself (not from this bundle), e.g. as\n\
            trusted-site-key.pem, and run\n\
         \n\
               roeh-verify --key trusted-site-key.pem <this bundle>\n\
         \n\
            The first line of its output is OK, OK WITH DECLARED GAPS (footage is missing for\n\
            the stretches listed, for the reasons given) or FAILED: <where>: <what>.\n\
            Without --key the bundle's own site-key.pem is used, which shows only that the\n\
            bundle is consistent with the key it carries.\n\
         2. The checkpoint signature alone can be checked with OpenSSL 3:\n\
         \n\
               openssl pkeyutl -verify -pubin -inkey site-key.pem -rawin -in checkpoint.txt -sigfile checkpoint.sig\n\
         \n\
            and the key id in checkpoint.txt (last line) must be the site's.\n\
         \n\
         This README is derived from manifest.json and is checked too: roeh-verify fails a\n\
         bundle whose README differs from the text its manifest gives.\n\
         \n\
         The format and every check are specified in the roeh design record\n\
         0005-evidence-format.md (\"Evidence: log, checkpoints, clip bundles, verification\").\n",
        format = m.format,
        camera = m.requested.camera,
        start = m.requested.start,
        end = m.requested.end,
        case = m.case.escape_debug(),
        n = m.segments.len(),
        gaps = m.gaps.len(),
        origin = m.origin.escape_debug(),
        size = m.checkpoint.size,
        key = m.checkpoint.key_id,
    )
}

/// The part of `README.txt` about `checkpoint.tsr`, for bundles that have one.
const TSR_README: &str = concat!(
    "\nTimestamp\n",
    "- checkpoint.tsr  an RFC 3161 time-stamp response of a time-stamping authority (TSA) over\n",
    "                  the SHA-256 of checkpoint.txt: the TSA attests that the checkpoint existed\n",
    "                  at the time it states. roeh-verify checks that it stamps checkpoint.txt;\n",
    "                  the TSA's signature and certificate are checked with OpenSSL and the\n",
    "                  TSA's CA certificate (tsa-ca.pem, obtained from the TSA):\n",
    "\n",
    "      openssl ts -verify -in checkpoint.tsr -data checkpoint.txt -CAfile tsa-ca.pem\n",
);

/// Where the entries go.
enum Sink {
    Dir(PathBuf),
    Zip(Box<zip::ZipWriter<BufWriter<File>>>),
}

fn io_err(what: impl std::fmt::Display) -> impl FnOnce(io::Error) -> BundleError {
    move |e| BundleError::with_source(ErrorKind::Unavailable, what.to_string(), e)
}

fn zip_err(what: impl std::fmt::Display) -> impl FnOnce(zip::result::ZipError) -> BundleError {
    move |e| BundleError::with_source(ErrorKind::Unavailable, what.to_string(), e)
}

fn stored(len: u64) -> zip::write::SimpleFileOptions {
    zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .unix_permissions(0o644)
        .large_file(len >= u64::from(u32::MAX))
}

impl Sink {
    fn put(&mut self, name: &str, bytes: &[u8]) -> Result<(), BundleError> {
        match self {
            Sink::Dir(dir) => {
                let p = dir.join(name);
                let mut f = File::create_new(&p).map_err(io_err(format!("creating {name}")))?;
                f.write_all(bytes)
                    .and_then(|()| f.sync_all())
                    .map_err(io_err(format!("writing {name}")))
            }
            Sink::Zip(z) => {
                z.start_file(name, stored(bytes.len() as u64))
                    .map_err(zip_err(format!("adding {name}")))?;
                z.write_all(bytes)
                    .map_err(io_err(format!("writing {name}")))
            }
        }
    }
}

/// Writes the bundle of `input` to `out` (a new directory or a new ZIP file; an existing one is
/// refused), streaming the footage; `progress(done, total)` is called as clip bytes are written.
/// On any error the partial output is removed.
pub fn write_bundle(
    input: &BundleInput,
    out: &Path,
    form: BundleForm,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<BundleSummary, BundleError> {
    let manifest = manifest_for(input)?;
    let (params, entries) = codec_entries(&input.segments);
    let samples = clip_samples(&manifest.segments, &entries)
        .map_err(|e| err(ErrorKind::InvalidArgument, format!("clip layout: {e}")))?;
    let refs: Vec<&CodecParams> = params.iter().collect();
    let header = clip_header(manifest.created_at, &refs, &samples).map_err(|e| {
        BundleError::with_source(ErrorKind::InvalidArgument, "building the clip header", e)
    })?;
    let sink = match form {
        BundleForm::Directory => {
            fs::create_dir(out).map_err(creating(out))?;
            Sink::Dir(out.to_path_buf())
        }
        BundleForm::Zip => {
            let f = File::create_new(out).map_err(creating(out))?;
            Sink::Zip(Box::new(zip::ZipWriter::new(BufWriter::with_capacity(
                IO_BLOCK, f,
            ))))
        }
    };
    let result = write_entries(input, &manifest, &header, sink, progress);
    if result.is_err() {
        // Only what this call created is removed: the directory or file did not exist before.
        let _ = match form {
            BundleForm::Directory => fs::remove_dir_all(out),
            BundleForm::Zip => fs::remove_file(out),
        };
    }
    result?;
    Ok(BundleSummary {
        bytes: header.total_len,
        frames: samples.len() as u64,
        segments: manifest.segments.len(),
    })
}

fn write_entries(
    input: &BundleInput,
    manifest: &Manifest,
    header: &Mp4Header,
    mut sink: Sink,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(), BundleError> {
    let text = readme_text(manifest, input.checkpoint_tsr.is_some());
    sink.put(README, text.as_bytes())?;
    sink.put(MANIFEST, &manifest.to_json())?;
    sink.put(CHECKPOINT_TXT, input.checkpoint.text.as_bytes())?;
    sink.put(CHECKPOINT_SIG, &input.checkpoint.signature)?;
    if let Some(tsr) = &input.checkpoint_tsr {
        sink.put(CHECKPOINT_TSR, tsr)?;
    }
    sink.put(SITE_KEY, input.public_key.to_pem().as_bytes())?;
    sink.put(CUSTODY, &input.custody_json)?;
    match sink {
        Sink::Dir(dir) => {
            let p = dir.join(CLIP);
            let f = File::create_new(&p).map_err(io_err(format!("creating {CLIP}")))?;
            let mut w = BufWriter::with_capacity(IO_BLOCK, f);
            write_clip(input, header, &mut w, progress)?;
            let f = w.into_inner().map_err(|e| {
                BundleError::with_source(ErrorKind::Unavailable, "writing clip.mp4", e.into_error())
            })?;
            f.sync_all().map_err(io_err("syncing clip.mp4"))?;
            File::open(&dir)
                .and_then(|d| d.sync_all())
                .map_err(io_err("syncing the bundle directory"))
        }
        Sink::Zip(mut z) => {
            z.start_file(CLIP, stored(header.total_len))
                .map_err(zip_err(format!("adding {CLIP}")))?;
            write_clip(input, header, &mut z, progress)?;
            let w = z.finish().map_err(zip_err("finishing the ZIP"))?;
            let f = w.into_inner().map_err(|e| {
                BundleError::with_source(ErrorKind::Unavailable, "writing the ZIP", e.into_error())
            })?;
            f.sync_all().map_err(io_err("syncing the ZIP"))
        }
    }
}

/// Reads into `buf` until it is full or the reader ends; returns how much was read.
pub(crate) fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn write_clip(
    input: &BundleInput,
    header: &Mp4Header,
    w: &mut dyn Write,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(), BundleError> {
    let total = header.total_len;
    w.write_all(&header.bytes)
        .map_err(io_err("writing clip.mp4"))?;
    let mut done = header.bytes.len() as u64;
    progress(done, total);
    let mut buf = vec![0u8; IO_BLOCK];
    for bs in &input.segments {
        let s = &bs.segment;
        let name = seg_name(s);
        let mut f = File::open(&bs.path)
            .map_err(io_err(format!("opening {name} ({})", bs.path.display())))?;
        let len = f
            .metadata()
            .map_err(io_err(format!("reading {name}")))?
            .len();
        if len != s.bytes {
            return Err(err(
                ErrorKind::DataLoss,
                format!(
                    "{name}: the file has {len} bytes, the segment {}: refusing to export altered footage",
                    s.bytes
                ),
            ));
        }
        let mut hasher = Sha256::new();
        let mut left = s.bytes;
        while left > 0 {
            let want = usize::try_from(left).map_or(buf.len(), |l| l.min(buf.len()));
            let n =
                read_full(&mut f, &mut buf[..want]).map_err(io_err(format!("reading {name}")))?;
            if n == 0 {
                return Err(err(
                    ErrorKind::DataLoss,
                    format!("{name}: the file ended early: refusing to export altered footage"),
                ));
            }
            hasher.update(&buf[..n]);
            w.write_all(&buf[..n]).map_err(io_err("writing clip.mp4"))?;
            left -= n as u64;
            done += n as u64;
            progress(done, total);
        }
        let digest: [u8; 32] = hasher.finalize().into();
        if digest != s.sha256 {
            return Err(err(
                ErrorKind::DataLoss,
                format!(
                    "{name}: the file does not match its recorded SHA-256: refusing to export altered footage"
                ),
            ));
        }
        // The length was checked before reading; a file that grew meanwhile is caught here.
        let mut probe = [0u8; 1];
        if read_full(&mut f, &mut probe).map_err(io_err(format!("reading {name}")))? != 0 {
            return Err(err(
                ErrorKind::DataLoss,
                format!(
                    "{name}: the file is longer than recorded: refusing to export altered footage"
                ),
            ));
        }
    }
    w.flush().map_err(io_err("writing clip.mp4"))?;
    Ok(())
}

/// Maps a failure to create the bundle at `out`: `AlreadyExists` when something is there
/// already, else `Unavailable`.
fn creating(out: &Path) -> impl Fn(io::Error) -> BundleError + '_ {
    move |e| {
        let kind = if e.kind() == io::ErrorKind::AlreadyExists {
            ErrorKind::AlreadyExists
        } else {
            ErrorKind::Unavailable
        };
        BundleError::with_source(kind, format!("creating {}", out.display()), e)
    }
}
