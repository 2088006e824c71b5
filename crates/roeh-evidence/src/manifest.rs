//! Manifest v1 of a clip bundle (`manifest.json`, design record 0005 §4): serde types.
//!
//! Invariants:
//! - parsing is strict about types and forms, lenient about additions: unknown fields are
//!   ignored (a later minor addition must not make old verifiers refuse a bundle), but every
//!   field this version names must be present with its exact type. Hashes are exactly 64
//!   lowercase hex digits, key ids exactly 16; wall times are RFC 3339 UTC with microseconds in
//!   the canonical form [`roeh_domain::WallTime::to_rfc3339`] writes (so one time has one
//!   spelling); camera ids are lowercase hyphenated UUIDs; integers are JSON integers in the
//!   range of their Rust type (serde refuses strings, fractions and overflow);
//! - the frame index of a segment is an array of `[offset, size, pts_offset, key]` arrays
//!   (`key` a JSON boolean), in file order;
//! - nothing here checks meaning (chains, proofs, coverage): that is [`crate::verify`].

use crate::keys::KeyId;
use crate::merkle::Hash;
use roeh_domain::{CameraId, VideoCodec, WallTime};
use serde::{Deserialize, Serialize};

/// The value of the manifest's `format` field in version 1.
pub const BUNDLE_FORMAT: &str = "roeh-bundle/v1";

/// Largest `manifest.json` a verifier reads, in bytes.
pub const MAX_MANIFEST_BYTES: u64 = 64 * 1024 * 1024;

/// Manifest v1 of a clip bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`BUNDLE_FORMAT`].
    pub format: String,
    /// The log's origin (as in the checkpoint).
    pub origin: String,
    /// When the bundle was written (informational; not committed by the log).
    #[serde(with = "rfc3339")]
    pub created_at: WallTime,
    /// The range that was asked for.
    pub requested: Requested,
    /// Why the export was made.
    pub reason: String,
    /// Case reference.
    pub case: String,
    /// Who asked for it.
    pub requester: String,
    /// The checkpoint the proofs refer to (must match `checkpoint.txt`).
    pub checkpoint: ManifestCheckpoint,
    /// Where the `export_created` event (`custody.json`) is in the log.
    pub custody: Custody,
    /// The clip's segments, in clip order.
    pub segments: Vec<ManifestSegment>,
    /// Gaps overlapping the clip.
    pub gaps: Vec<ManifestGap>,
}

/// The requested range of an export.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requested {
    /// Camera.
    #[serde(with = "camera_id")]
    pub camera: CameraId,
    /// Start of the range.
    #[serde(with = "rfc3339")]
    pub start: WallTime,
    /// End of the range.
    #[serde(with = "rfc3339")]
    pub end: WallTime,
}

/// The checkpoint fields repeated in the manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestCheckpoint {
    /// Tree size.
    pub size: u64,
    /// Root hash.
    #[serde(with = "hex32")]
    pub root: Hash,
    /// Signing time.
    #[serde(with = "rfc3339")]
    pub time: WallTime,
    /// Id of the signing key.
    #[serde(with = "key_id")]
    pub key_id: KeyId,
}

/// Inclusion of the custody event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Custody {
    /// Leaf index of the event.
    pub leaf_index: u64,
    /// Inclusion proof under the checkpoint.
    #[serde(with = "hex32_vec")]
    pub proof: Vec<Hash>,
}

/// One segment of the clip.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestSegment {
    /// Camera.
    #[serde(with = "camera_id")]
    pub camera: CameraId,
    /// Position in the camera's chain.
    pub seq: u64,
    /// Recording run.
    pub run: u64,
    /// Wall time of the first frame.
    #[serde(with = "rfc3339")]
    pub start: WallTime,
    /// Wall time at the end of the last frame.
    #[serde(with = "rfc3339")]
    pub end: WallTime,
    /// Media time of the first frame, 90 kHz.
    pub start_pts: i64,
    /// Media duration, 90 kHz.
    pub duration_pts: i64,
    /// Number of frames.
    pub frames: u32,
    /// Byte length of the segment file.
    pub bytes: u64,
    /// SHA-256 of the segment file.
    #[serde(with = "hex32")]
    pub sha256: Hash,
    /// Previous chain link.
    #[serde(with = "hex32")]
    pub prev_chain: Hash,
    /// This segment's chain link.
    #[serde(with = "hex32")]
    pub chain: Hash,
    /// Codec of the frames.
    pub codec: VideoCodec,
    /// SHA-256 of the segment's decoder configuration record (`avcC`/`hvcC`), committed by its
    /// leaf; the clip's sample entry for these frames must carry exactly that record.
    #[serde(with = "hex32")]
    pub config_sha256: Hash,
    /// Leaf index of the segment in the log.
    pub leaf_index: u64,
    /// Inclusion proof under the checkpoint.
    #[serde(with = "hex32_vec")]
    pub proof: Vec<Hash>,
    /// Notes on the segment's time (`recovered`, `clock_step`); not committed by the log.
    pub time_flags: Vec<String>,
    /// The frames, in file order.
    pub frame_index: Vec<FrameEntry>,
}

/// One frame of a segment's index: written as `[offset, size, pts_offset, key]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "(u64, u32, i64, bool)", into = "(u64, u32, i64, bool)")]
pub struct FrameEntry {
    /// Byte offset in the segment file.
    pub offset: u64,
    /// Byte length.
    pub size: u32,
    /// Media time from the segment's first frame, 90 kHz.
    pub pts_offset: i64,
    /// Whether it is a key frame.
    pub is_key: bool,
}

impl From<(u64, u32, i64, bool)> for FrameEntry {
    fn from((offset, size, pts_offset, is_key): (u64, u32, i64, bool)) -> Self {
        FrameEntry {
            offset,
            size,
            pts_offset,
            is_key,
        }
    }
}

impl From<FrameEntry> for (u64, u32, i64, bool) {
    fn from(f: FrameEntry) -> Self {
        (f.offset, f.size, f.pts_offset, f.is_key)
    }
}

impl From<&FrameEntry> for crate::leaf::IndexedFrame {
    fn from(f: &FrameEntry) -> Self {
        crate::leaf::IndexedFrame {
            offset: f.offset,
            size: f.size,
            pts_offset: f.pts_offset,
            is_key: f.is_key,
        }
    }
}

impl From<&roeh_domain::FrameIndexEntry> for FrameEntry {
    fn from(e: &roeh_domain::FrameIndexEntry) -> Self {
        FrameEntry {
            offset: e.offset,
            size: e.size,
            pts_offset: e.pts_offset,
            is_key: e.is_key,
        }
    }
}

impl ManifestSegment {
    /// The fields the segment's chain link commits to.
    pub fn link_input(&self) -> crate::chain::SegmentLinkInput {
        crate::chain::SegmentLinkInput {
            camera: self.camera,
            seq: self.seq,
            run: self.run,
            start: self.start,
            end: self.end,
            start_pts: roeh_domain::Pts90k(self.start_pts),
            duration: roeh_domain::Pts90k(self.duration_pts),
            frames: self.frames,
            bytes: self.bytes,
            sha256: self.sha256,
        }
    }

    /// `H(frame index v1)` of the segment's frames.
    pub fn frame_index_hash(&self) -> Hash {
        let frames: Vec<crate::leaf::IndexedFrame> =
            self.frame_index.iter().map(Into::into).collect();
        crate::leaf::frame_index_hash(&frames)
    }
}

/// A gap overlapping the clip.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestGap {
    /// Gap id (as in its log leaf).
    pub id: u64,
    /// Camera.
    #[serde(with = "camera_id")]
    pub camera: CameraId,
    /// Start.
    #[serde(with = "rfc3339")]
    pub start: WallTime,
    /// End; `null` while the gap is open.
    #[serde(with = "rfc3339_opt")]
    pub end: Option<WallTime>,
    /// Reason (`camera_offline`, …).
    pub reason: String,
    /// Free-text detail.
    pub detail: String,
    /// Leaf index of a closed gap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaf_index: Option<u64>,
    /// Inclusion proof of a closed gap.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "hex32_vec_opt"
    )]
    pub proof: Option<Vec<Hash>>,
}

/// Why a manifest could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestError {
    /// What is wrong, for people.
    pub what: String,
}

impl std::fmt::Display for ManifestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "manifest: {}", self.what)
    }
}

impl std::error::Error for ManifestError {}

impl Manifest {
    /// Parses `manifest.json`. A `format` other than [`BUNDLE_FORMAT`], invalid JSON, a missing
    /// field or a field of the wrong type or form is an error; unknown fields are ignored.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        #[derive(Deserialize)]
        struct FormatOnly {
            format: String,
        }
        match serde_json::from_slice::<Manifest>(bytes) {
            Ok(m) if m.format == BUNDLE_FORMAT => Ok(m),
            Ok(m) => Err(ManifestError {
                what: format!("unsupported format {:?}", m.format),
            }),
            Err(e) => match serde_json::from_slice::<FormatOnly>(bytes) {
                Ok(f) if f.format != BUNDLE_FORMAT => Err(ManifestError {
                    what: format!("unsupported format {:?}", f.format),
                }),
                _ => Err(ManifestError {
                    what: format!("invalid: {e}"),
                }),
            },
        }
    }

    /// The manifest as JSON (compact, one trailing newline).
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising these types cannot fail: every map key is a string.
        let mut out = serde_json::to_vec(self).unwrap_or_default();
        out.push(b'\n');
        out
    }
}

/// Parses exactly `2 * N` lowercase hex digits into `N` bytes: the one spelling of a hash or
/// key id in the evidence format (uppercase, signs, whitespace and other lengths are refused).
pub(crate) fn parse_hex<const N: usize>(b: &[u8]) -> Option<[u8; N]> {
    if b.len() != 2 * N {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; N];
    for (o, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
        *o = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

/// Parses a canonical time: RFC 3339 UTC with microseconds, exactly as
/// [`WallTime::to_rfc3339`] writes it (27 bytes ending in `Z`; no offsets, missing fractions or
/// leap seconds), so that one time has one spelling.
pub fn parse_time(s: &str) -> Option<WallTime> {
    // The length check only refuses early what the round trip would refuse anyway.
    if s.len() != 27 {
        return None;
    }
    WallTime::parse(s).filter(|t| t.to_rfc3339() == s)
}

mod hex32 {
    use super::parse_hex;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = std::borrow::Cow::<str>::deserialize(d)?;
        parse_hex::<32>(s.as_bytes())
            .ok_or_else(|| D::Error::custom("expected 64 lowercase hex digits"))
    }
}

pub(crate) mod hex32_vec {
    use super::parse_hex;
    use serde::{Deserialize, Deserializer, Serializer, de::Error, ser::SerializeSeq};

    pub fn serialize<S: Serializer>(v: &[[u8; 32]], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for h in v {
            seq.serialize_element(&hex::encode(h))?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<[u8; 32]>, D::Error> {
        let v = Vec::<std::borrow::Cow<str>>::deserialize(d)?;
        v.iter()
            .map(|s| {
                parse_hex::<32>(s.as_bytes())
                    .ok_or_else(|| D::Error::custom("expected 64 lowercase hex digits"))
            })
            .collect()
    }
}

mod hex32_vec_opt {
    use serde::{Deserialize, Deserializer, Serializer};

    #[derive(Deserialize)]
    struct Wrap(#[serde(with = "super::hex32_vec")] Vec<[u8; 32]>);

    pub fn serialize<S: Serializer>(v: &Option<Vec<[u8; 32]>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => super::hex32_vec::serialize(v, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<[u8; 32]>>, D::Error> {
        Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
    }
}

mod key_id {
    use super::parse_hex;
    use crate::keys::KeyId;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(v: &KeyId, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v.0))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<KeyId, D::Error> {
        let s = std::borrow::Cow::<str>::deserialize(d)?;
        parse_hex::<8>(s.as_bytes())
            .map(KeyId)
            .ok_or_else(|| D::Error::custom("expected 16 lowercase hex digits"))
    }
}

mod rfc3339 {
    use roeh_domain::WallTime;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(v: &WallTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_rfc3339())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<WallTime, D::Error> {
        let s = std::borrow::Cow::<str>::deserialize(d)?;
        super::parse_time(&s).ok_or_else(|| {
            D::Error::custom("expected an RFC 3339 UTC time with microseconds (…T…:…:….ffffffZ)")
        })
    }
}

mod rfc3339_opt {
    use roeh_domain::WallTime;
    use serde::{Deserialize, Deserializer, Serializer};

    #[derive(Deserialize)]
    struct Wrap(#[serde(with = "super::rfc3339")] WallTime);

    pub fn serialize<S: Serializer>(v: &Option<WallTime>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(t) => s.serialize_str(&t.to_rfc3339()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<WallTime>, D::Error> {
        Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
    }
}

mod camera_id {
    use roeh_domain::CameraId;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(v: &CameraId, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<CameraId, D::Error> {
        let s = std::borrow::Cow::<str>::deserialize(d)?;
        CameraId::parse(&s)
            .ok()
            .filter(|c| c.to_string() == *s)
            .ok_or_else(|| D::Error::custom("expected a lowercase hyphenated UUID"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            format: BUNDLE_FORMAT.into(),
            origin: "roeh:test".into(),
            created_at: WallTime(1_700_000_000_123_456),
            requested: Requested {
                camera: CameraId::parse("0a1b2c3d-0000-4000-8000-000000000001").unwrap(),
                start: WallTime(1_700_000_000_000_000),
                end: WallTime(1_700_000_010_000_000),
            },
            reason: "r".into(),
            case: "c".into(),
            requester: "q".into(),
            checkpoint: ManifestCheckpoint {
                size: 7,
                root: [0xab; 32],
                time: WallTime(1_700_000_001_000_000),
                key_id: KeyId([1, 2, 3, 4, 5, 6, 7, 8]),
            },
            custody: Custody {
                leaf_index: 6,
                proof: vec![[1; 32], [2; 32]],
            },
            segments: vec![ManifestSegment {
                camera: CameraId::parse("0a1b2c3d-0000-4000-8000-000000000001").unwrap(),
                seq: 1,
                run: 1,
                start: WallTime(1),
                end: WallTime(2),
                start_pts: -3,
                duration_pts: 9000,
                frames: 1,
                bytes: 10,
                sha256: [3; 32],
                prev_chain: [0; 32],
                chain: [4; 32],
                codec: VideoCodec::H264,
                config_sha256: [6; 32],
                leaf_index: 0,
                proof: vec![],
                time_flags: vec!["recovered".into()],
                frame_index: vec![FrameEntry {
                    offset: 0,
                    size: 10,
                    pts_offset: 0,
                    is_key: true,
                }],
            }],
            gaps: vec![
                ManifestGap {
                    id: 5,
                    camera: CameraId::parse("0a1b2c3d-0000-4000-8000-000000000001").unwrap(),
                    start: WallTime(2),
                    end: None,
                    reason: "stall".into(),
                    detail: String::new(),
                    leaf_index: None,
                    proof: None,
                },
                ManifestGap {
                    id: 4,
                    camera: CameraId::parse("0a1b2c3d-0000-4000-8000-000000000001").unwrap(),
                    start: WallTime(2),
                    end: Some(WallTime(3)),
                    reason: "stall".into(),
                    detail: "x".into(),
                    leaf_index: Some(3),
                    proof: Some(vec![[9; 32]]),
                },
            ],
        }
    }

    #[test]
    fn round_trips_and_has_the_documented_shape() {
        let m = sample();
        let json = m.to_json();
        assert_eq!(Manifest::parse(&json).unwrap(), m);
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["format"], "roeh-bundle/v1");
        assert_eq!(v["created_at"], "2023-11-14T22:13:20.123456Z");
        assert_eq!(v["checkpoint"]["key_id"], "0102030405060708");
        assert_eq!(
            v["segments"][0]["frame_index"][0],
            serde_json::json!([0, 10, 0, true])
        );
        assert_eq!(v["segments"][0]["codec"], "h264");
        assert!(v["gaps"][0]["end"].is_null());
        assert!(v["gaps"][0].get("proof").is_none());
        assert_eq!(v["gaps"][1]["leaf_index"], 3);
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let mut v: serde_json::Value = serde_json::from_slice(&sample().to_json()).unwrap();
        v["future"] = serde_json::json!({"x": 1});
        v["segments"][0]["extra"] = serde_json::json!(true);
        let m = Manifest::parse(&serde_json::to_vec(&v).unwrap()).unwrap();
        assert_eq!(m, sample());
    }

    #[test]
    fn strict_forms_are_enforced() {
        let good: serde_json::Value = serde_json::from_slice(&sample().to_json()).unwrap();
        let bad = |edit: &dyn Fn(&mut serde_json::Value)| {
            let mut v = good.clone();
            edit(&mut v);
            Manifest::parse(&serde_json::to_vec(&v).unwrap()).unwrap_err()
        };
        let e = bad(&|v| v["format"] = "roeh-bundle/v2".into());
        assert!(e.what.contains("unsupported format"), "{e}");
        bad(&|v| v["checkpoint"]["root"] = "AB".repeat(32).into());
        bad(&|v| v["checkpoint"]["root"] = "ab".repeat(31).into());
        bad(&|v| v["checkpoint"]["key_id"] = "0102".into());
        bad(&|v| v["created_at"] = "1700000000123456".into());
        bad(&|v| v["created_at"] = "2023-11-14T22:13:20Z".into());
        bad(&|v| v["created_at"] = "2023-11-14T23:13:20.123456+01:00".into());
        bad(&|v| v["checkpoint"]["size"] = (-1).into());
        bad(&|v| v["checkpoint"]["size"] = "7".into());
        bad(&|v| v["checkpoint"]["size"] = serde_json::json!(7.5));
        bad(&|v| v["segments"][0]["frames"] = (1u64 << 32).into());
        bad(&|v| v["segments"][0]["frame_index"][0] = serde_json::json!([0, 10, 0]));
        bad(&|v| v["segments"][0]["frame_index"][0] = serde_json::json!([0, 10, 0, 1]));
        bad(&|v| v["segments"][0]["codec"] = "vp9".into());
        bad(&|v| {
            v["requested"]["camera"] = "0A1B2C3D-0000-4000-8000-000000000001".into();
        });
        bad(&|v| {
            v.as_object_mut().unwrap().remove("gaps");
        });
        bad(&|v| {
            v["gaps"][0].as_object_mut().unwrap().remove("end");
        });
        assert!(Manifest::parse(b"{").is_err());
        assert!(Manifest::parse(b"[]").is_err());
        assert!(Manifest::parse(b"").is_err());
        let huge = br#"{"format":"roeh-bundle/v1","checkpoint":{"size":1e400}}"#;
        assert!(Manifest::parse(huge).is_err());
    }

    #[test]
    fn hex_and_time_parsers_accept_only_the_canonical_spelling() {
        assert_eq!(parse_hex::<4>(b"00ff7a10"), Some([0x00, 0xff, 0x7a, 0x10]));
        assert_eq!(parse_hex::<0>(b""), Some([]));
        for bad in [
            &b"00FF7a10"[..],
            b"00ff7a1",
            b"00ff7a100",
            b"00ff7a1g",
            b"+0ff7a10",
            b" 0ff7a10",
            b"",
        ] {
            assert_eq!(parse_hex::<4>(bad), None, "{bad:?}");
        }
        let t = WallTime(1_700_000_000_123_456);
        assert_eq!(parse_time("2023-11-14T22:13:20.123456Z"), Some(t));
        for bad in [
            "2023-11-14T22:13:20.123456z",
            "2023-11-14t22:13:20.123456Z",
            "2023-11-14T22:13:20.1234560Z",
            "2023-11-14T22:13:20.12345Z",
            "2023-11-14T23:13:20.123456+01:00",
            "1700000000123456",
            "2023-11-31T22:13:20.123456Z",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }
}
