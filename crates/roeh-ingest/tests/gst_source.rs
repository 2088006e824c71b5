//! GStreamer ingest against the real test footage: access units come out key-first, length
//! prefixed, with the caps' avcC/hvcC, correct dimensions and increasing 90 kHz time; sources
//! that are not H.264/H.265 are refused.
#![allow(clippy::unwrap_used)] // Test helpers: a failed unwrap is a failed test.
#![cfg(feature = "gstreamer")]

use roeh_domain::media::check_length_prefixed;
use roeh_domain::{
    AccessUnit, Camera, CameraId, CameraUrl, Clock, GapReason, IngestEvent, SystemClock, Transport,
    VideoCodec,
};
use roeh_ingest::{GstOpener, GstSource, HealthHandle, IngestOptions, Opener, run_camera};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

fn footage(name: &str) -> PathBuf {
    let dir = std::env::var_os("ROEH_FOOTAGE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.cache/roeh/footage")
        });
    let p = dir.join(name);
    assert!(
        p.is_file(),
        "footage {} missing (run scripts/setup.sh)",
        p.display()
    );
    p
}

fn camera() -> Camera {
    Camera {
        id: CameraId::new_random(),
        name: "file".into(),
        url: CameraUrl::parse("rtsp://127.0.0.1/unused").unwrap(),
        credentials: None,
        transport: Transport::Tcp,
        enabled: true,
        retention: Default::default(),
    }
}

/// NAL unit types in a length-prefixed access unit.
fn nal_types(codec: VideoCodec, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = data;
    while rest.len() >= 5 {
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let h = rest[4];
        out.push(match codec {
            VideoCodec::H265 => (h >> 1) & 0x3f,
            _ => h & 0x1f,
        });
        rest = &rest[4 + len..];
    }
    out
}

async fn read_frames(source: GstSource, n: usize) -> (Vec<AccessUnit>, CameraId) {
    let opener = GstOpener::new(source).unwrap();
    let cam = camera();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let mut stream = tokio::time::timeout(Duration::from_secs(10), opener.open(&cam, clock))
        .await
        .expect("open within 10 s")
        .expect("open");
    let mut aus = Vec::new();
    while aus.len() < n {
        let au = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("a frame within 5 s")
            .expect("no error")
            .expect("not at the end");
        aus.push(au);
    }
    (aus, cam.id)
}

fn check_common(aus: &[AccessUnit], codec: VideoCodec, camera: CameraId) {
    assert!(aus[0].is_key, "first access unit must be a key frame");
    let p = &aus[0].params;
    assert_eq!(p.codec, codec);
    assert_eq!((p.width, p.height), (768, 576));
    assert_eq!(p.config_record[0], 1, "config record version");
    for (i, au) in aus.iter().enumerate() {
        assert_eq!(au.camera, camera);
        assert!(check_length_prefixed(&au.data).is_ok(), "frame {i} framing");
        assert!(Arc::ptr_eq(&au.params, p), "params shared while unchanged");
        // 10 fps: 9000 ticks of 90 kHz per frame, exactly.
        assert_eq!(au.pts.0, i as i64 * 9000, "pts of frame {i}");
        // Key frame every 20 frames in this footage.
        assert_eq!(au.is_key, i % 20 == 0, "key flag of frame {i}");
    }
    // Every key frame carries its parameter sets in-band (SPS for H.264, VPS and SPS for H.265).
    for au in aus.iter().filter(|a| a.is_key) {
        let types = in_band_types(codec, &au.data);
        let want: &[u8] = if codec == VideoCodec::H265 {
            &[32, 33, 34]
        } else {
            &[7, 8]
        };
        assert!(
            want.iter().all(|t| types.contains(t)),
            "{types:?} at pts {}",
            au.pts.0
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_h264_mp4_without_decoding() {
    let src = GstSource::from_path(&footage("vtest_h264.mp4")).unwrap();
    let (aus, cam) = read_frames(src, 30).await;
    check_common(&aus, VideoCodec::H264, cam);
    let p = &aus[0].params;
    // avcC: version 1, profile Main (77), 4-byte NAL lengths.
    assert_eq!(p.config_record[1], 77);
    assert_eq!(p.config_record[4] & 3, 3);
    assert!(p.rfc6381.starts_with("avc1.4D"), "{}", p.rfc6381);
    // Key frames carry SPS (7) and PPS (8) in-band, then an IDR slice (5).
    let types = nal_types(VideoCodec::H264, &aus[0].data);
    assert!(
        types.contains(&7) && types.contains(&8) && types.contains(&5),
        "{types:?}"
    );
    let types = nal_types(VideoCodec::H264, &aus[1].data);
    assert!(types.contains(&1) && !types.contains(&7), "{types:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_h265_mp4_without_decoding() {
    let src = GstSource::from_path(&footage("vtest_h265.mp4")).unwrap();
    let (aus, cam) = read_frames(src, 30).await;
    check_common(&aus, VideoCodec::H265, cam);
    let p = &aus[0].params;
    assert_eq!(p.config_record[21] & 3, 3, "4-byte NAL lengths");
    assert!(p.rfc6381.starts_with("hvc1.1."), "{}", p.rfc6381);
    // VPS (32), SPS (33), PPS (34) in-band on the key frame.
    let types = nal_types(VideoCodec::H265, &aus[0].data);
    assert!(
        types.contains(&32) && types.contains(&33) && types.contains(&34),
        "{types:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_looping_file_keeps_media_time_increasing() {
    // The small clip is 79.5 s; cut a 2 s clip (copy, no re-encode) to loop quickly.
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("clip.mp4");
    let st = std::process::Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-i"])
        .arg(footage("vtest_h264_small.mp4"))
        .args(["-t", "2", "-c", "copy"])
        .arg(&clip)
        .status()
        .unwrap();
    assert!(st.success());
    let src = GstSource::from_path(&clip).unwrap().looping(true);
    let (aus, _) = read_frames(src, 45).await;
    assert!(aus[0].is_key);
    assert_eq!((aus[0].params.width, aus[0].params.height), (384, 288));
    for w in aus.windows(2) {
        assert!(w[1].pts > w[0].pts, "{:?} then {:?}", w[0].pts, w[1].pts);
        assert!(
            w[1].pts.0 - w[0].pts.0 <= 9000,
            "{:?} then {:?}",
            w[0].pts,
            w[1].pts
        );
    }
    // The loop point (frame 20 of a 2 s clip at 10 fps) starts with a key frame.
    assert!(aus[20].is_key && aus[40].is_key);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mjpeg_is_refused_as_an_unsupported_codec() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("mjpeg.mkv");
    let st = std::process::Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-i"])
        .arg(footage("vtest_h264_small.mp4"))
        .args(["-t", "1", "-c:v", "mjpeg"])
        .arg(&clip)
        .status()
        .unwrap();
    assert!(st.success());
    let opener = GstOpener::new(GstSource::from_path(&clip).unwrap()).unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let cam = camera();
    let r = tokio::time::timeout(Duration::from_secs(10), opener.open(&cam, clock))
        .await
        .expect("answer within 10 s");
    let Err(e) = r else {
        panic!("MJPEG must be refused")
    };
    assert!(e.to_string().contains("unsupported codec"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_file_fails_to_open() {
    let opener =
        GstOpener::new(GstSource::parse("file:///nonexistent/roeh/x.mp4").unwrap()).unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let cam = camera();
    let r = tokio::time::timeout(Duration::from_secs(10), opener.open(&cam, clock))
        .await
        .expect("answer within 10 s");
    assert!(r.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_camera_streams_a_file_and_stops_cleanly() {
    let src = GstSource::from_path(&footage("vtest_h264.mp4")).unwrap();
    let opener = Arc::new(GstOpener::new(src).unwrap());
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let health = HealthHandle::new();
    let cancel = CancellationToken::new();
    let task = tokio::spawn(run_camera(
        camera(),
        opener,
        Arc::new(SystemClock::new()),
        tx,
        health.clone(),
        cancel.clone(),
        IngestOptions::default(),
    ));
    let first = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(first, IngestEvent::Connected { .. }), "{first:?}");
    for i in 0..15 {
        let ev = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        let IngestEvent::Frame(au) = ev else {
            panic!("{ev:?}")
        };
        assert_eq!(au.is_key, i == 0);
    }
    let snap = health.snapshot();
    assert!(snap.frames >= 15);
    assert!(
        snap.fps > 5.0 && snap.fps < 20.0,
        "real-time pace, got {} fps",
        snap.fps
    );
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();
    let mut last = None;
    while let Ok(ev) = rx.try_recv() {
        last = Some(ev);
    }
    assert!(
        matches!(
            last,
            Some(IngestEvent::Disconnected {
                reason: GapReason::Shutdown,
                ..
            })
        ),
        "{last:?}"
    );
}

#[test]
fn source_uris_are_validated() {
    for ok in [
        "file:///srv/footage/a.mp4",
        "http://cam.example/stream.ts",
        "https://cam.example:8443/live.mkv?x=1",
    ] {
        GstSource::parse(ok).unwrap();
    }
    for bad in [
        "rtsp://cam/x",
        "file://otherhost/a.mp4",
        "http://user:pw@cam/x.ts",
        "http://",
        "exec:sh",
        "fdsrc://0",
        "http://cam/a b",
        "http://cam/a\n",
        "relative/path.mp4",
    ] {
        assert!(GstSource::parse(bad).is_err(), "{bad}");
    }
}

/// NAL unit types of a length-prefixed access unit.
fn in_band_types(codec: VideoCodec, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = data;
    while rest.len() >= 5 {
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        out.push(match codec {
            VideoCodec::H265 => (rest[4] >> 1) & 0x3f,
            _ => rest[4] & 0x1f,
        });
        rest = &rest[(4 + len).min(rest.len())..];
    }
    out
}
