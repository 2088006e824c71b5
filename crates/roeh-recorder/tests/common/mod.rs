//! Test helpers: real access units from the project's test footage, a temporary store, a camera.
#![allow(dead_code, clippy::unwrap_used)]

use bytes::Bytes;
use roeh_domain::{
    AccessUnit, Camera, CameraId, CameraUrl, Clock, CodecParams, IngestEvent, Pts90k, Retention,
    SimClock, Transport, VideoCodec, WallTime,
};
use roeh_recorder::{NoHolds, OldestFirst, RecorderConfig, RecorderStats};
use roeh_store::Store;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::mpsc;

pub fn footage_dir() -> PathBuf {
    match std::env::var_os("ROEH_FOOTAGE_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/roeh/footage"),
    }
}

/// One coded picture of the test footage: 4-byte length-prefixed NAL units, key flag.
#[derive(Clone, Debug)]
pub struct Au {
    pub data: Bytes,
    pub is_key: bool,
}

pub struct Footage {
    pub aus: Vec<Au>,
    pub params: Arc<CodecParams>,
}

/// The access units of `vtest_h264.mp4` (10 fps, key frame every 20 frames), extracted with
/// ffmpeg's stream copy to Annex B and converted to length-prefixed form.
pub fn footage() -> &'static Footage {
    static F: OnceLock<Footage> = OnceLock::new();
    F.get_or_init(|| {
        let src = footage_dir().join("vtest_h264.mp4");
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("v.h264");
        let st = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-y", "-i"])
            .arg(&src)
            .args([
                "-c:v",
                "copy",
                "-bsf:v",
                "h264_mp4toannexb",
                "-an",
                "-f",
                "h264",
            ])
            .arg(&out)
            .status()
            .expect("ffmpeg runs");
        assert!(st.success(), "ffmpeg failed on {}", src.display());
        let annexb = std::fs::read(&out).unwrap();
        split_annexb(&annexb)
    })
}

fn nal_units(b: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= b.len() {
        if b[i] == 0 && b[i + 1] == 0 && b[i + 2] == 1 {
            starts.push((i, i + 3));
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut out = Vec::new();
    for (k, &(_, s)) in starts.iter().enumerate() {
        let mut e = starts.get(k + 1).map_or(b.len(), |&(m, _)| m);
        while e > s && b[e - 1] == 0 {
            e -= 1; // trailing zero of a 4-byte start code
        }
        out.push(&b[s..e]);
    }
    out
}

fn split_annexb(b: &[u8]) -> Footage {
    let mut aus = Vec::new();
    let mut cur: Vec<u8> = Vec::new();
    let mut cur_key = false;
    let mut has_vcl = false;
    let (mut sps, mut pps) = (None, None);
    for nal in nal_units(b) {
        let t = nal[0] & 0x1f;
        let vcl = t == 1 || t == 5;
        let starts_new = if vcl {
            has_vcl && nal.len() > 1 && nal[1] & 0x80 != 0
        } else {
            has_vcl && matches!(t, 6..=9)
        };
        if starts_new {
            aus.push(Au {
                data: Bytes::from(std::mem::take(&mut cur)),
                is_key: cur_key,
            });
            cur_key = false;
            has_vcl = false;
        }
        if t == 7 && sps.is_none() {
            sps = Some(nal.to_vec());
        }
        if t == 8 && pps.is_none() {
            pps = Some(nal.to_vec());
        }
        cur.extend_from_slice(&(nal.len() as u32).to_be_bytes());
        cur.extend_from_slice(nal);
        cur_key |= t == 5;
        has_vcl |= vcl;
    }
    if has_vcl {
        aus.push(Au {
            data: Bytes::from(cur),
            is_key: cur_key,
        });
    }
    let sps = sps.expect("sps");
    let pps = pps.expect("pps");
    let mut avcc = vec![1, sps[1], sps[2], sps[3], 0xff, 0xe1];
    avcc.extend_from_slice(&(sps.len() as u16).to_be_bytes());
    avcc.extend_from_slice(&sps);
    avcc.push(1);
    avcc.extend_from_slice(&(pps.len() as u16).to_be_bytes());
    avcc.extend_from_slice(&pps);
    let params = Arc::new(CodecParams {
        codec: VideoCodec::H264,
        width: 768,
        height: 576,
        rfc6381: format!("avc1.{:02x}{:02x}{:02x}", sps[1], sps[2], sps[3]),
        config_record: avcc,
    });
    Footage { aus, params }
}

pub const T0: i64 = 1_800_000_000_000_000;

pub struct Env {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
    pub store: Store,
    pub clock: Arc<SimClock>,
    pub camera: CameraId,
}

impl Env {
    pub async fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("footage");
        Env::with_root(dir, root).await
    }

    pub async fn with_root(dir: tempfile::TempDir, root: PathBuf) -> Env {
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("roeh.db").display());
        let store = Store::open(&url).await.unwrap();
        let clock = Arc::new(SimClock::new(WallTime(T0)));
        let cam = Camera {
            id: CameraId::new_random(),
            name: "Test camera".into(),
            url: CameraUrl::parse("rtsp://127.0.0.1:8554/cam").unwrap(),
            credentials: None,
            transport: Transport::Tcp,
            enabled: true,
            retention: Retention::default(),
        };
        store.insert_camera(&cam, WallTime(T0)).await.unwrap();
        Env {
            dir,
            root,
            store,
            clock,
            camera: cam.id,
        }
    }

    pub fn config(&self, target: Duration) -> Arc<RecorderConfig> {
        let clock: Arc<dyn Clock> = self.clock.clone();
        let space = Arc::new(OldestFirst::new(
            self.store.clone(),
            self.root.clone(),
            Arc::new(NoHolds),
            clock,
        ));
        let mut cfg = RecorderConfig::new(self.root.clone(), space);
        cfg.target_duration = target;
        // Frame by frame, so tests can crash the recorder after an exact frame; batching is
        // tested with `config_batched`.
        cfg.commit_interval = Duration::ZERO;
        Arc::new(cfg)
    }

    /// Like [`Env::config`] with the given commit interval.
    pub fn config_batched(&self, target: Duration, commit: Duration) -> Arc<RecorderConfig> {
        let mut cfg = (*self.config(target)).clone();
        cfg.commit_interval = commit;
        Arc::new(cfg)
    }

    /// Starts a recorder; returns its sender and join handle.
    pub fn start(
        &self,
        cfg: Arc<RecorderConfig>,
    ) -> (
        mpsc::Sender<IngestEvent>,
        tokio::task::JoinHandle<roeh_recorder::Result<RecorderStats>>,
    ) {
        let (tx, rx) = mpsc::channel(64);
        let clock: Arc<dyn Clock> = self.clock.clone();
        let h = tokio::spawn(roeh_recorder::run_recorder(
            self.camera,
            rx,
            self.store.clone(),
            clock,
            cfg,
        ));
        (tx, h)
    }

    /// Sends frames `range` of the footage at 10 fps, advancing the clock 100 ms per frame;
    /// pts counts from `pts0`. Returns the data sent.
    pub async fn feed(
        &self,
        tx: &mpsc::Sender<IngestEvent>,
        range: std::ops::Range<usize>,
        pts0: i64,
    ) -> Vec<Bytes> {
        let f = footage();
        let mut sent = Vec::new();
        for (k, i) in range.enumerate() {
            let au = &f.aus[i % f.aus.len()];
            let ev = IngestEvent::Frame(AccessUnit {
                camera: self.camera,
                pts: Pts90k(pts0 + k as i64 * 9000),
                received_at: self.clock.wall(),
                is_key: au.is_key,
                params: f.params.clone(),
                data: au.data.clone(),
            });
            tx.send(ev).await.unwrap();
            sent.push(au.data.clone());
            self.clock.advance(Duration::from_millis(100));
        }
        sent
    }

    pub async fn connected(&self, tx: &mpsc::Sender<IngestEvent>) {
        tx.send(IngestEvent::Connected {
            camera: self.camera,
            at: self.clock.wall(),
        })
        .await
        .unwrap();
    }
}

/// Concatenation of byte strings.
pub fn concat(parts: &[Bytes]) -> Vec<u8> {
    parts.iter().flat_map(|b| b.iter().copied()).collect()
}
