//! End-to-end tests: a real RTSP server on loopback, read by a real client (`ffprobe`).

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;
use std::time::Duration;

use common::{footage, probe, run_ffprobe, wait_until};
use roeh_domain::{ErrorKind, VideoCodec};
use roeh_testcam::{TestCamConfig, TestCamServer};

#[test]
fn serves_two_h264_cameras_without_reencoding() {
    let server = TestCamServer::start(TestCamConfig::new(footage("vtest_h264.mp4"), 2)).unwrap();
    assert_eq!(server.codec(), VideoCodec::H264);
    assert_eq!(server.resolution(), (768, 576));
    assert_ne!(server.port(), 0);
    assert_eq!(
        server.urls(),
        vec![
            format!("rtsp://127.0.0.1:{}/cam0", server.port()),
            format!("rtsp://127.0.0.1:{}/cam1", server.port()),
        ]
    );

    // Both cameras at once, each with its own client.
    let urls = server.urls();
    let readers: Vec<_> = urls
        .into_iter()
        .map(|u| std::thread::spawn(move || probe(&u, 4)))
        .collect();
    for reader in readers {
        let p = reader.join().unwrap();
        assert_eq!(p.codec, "h264");
        assert_eq!((p.width, p.height), (768, 576));
        assert!(p.pts.len() >= 20, "only {} packets in ~4 s", p.pts.len());
        assert!(p.keys[0], "the stream does not start at a key frame");
        p.assert_strictly_increasing();
    }
    assert!(server.frames_sent(0) >= 20);
    assert!(server.frames_sent(1) >= 20);
    assert_eq!(server.frames_sent(2), 0, "no such camera");
    server.stop();
}

#[test]
fn serves_h265() {
    let server = TestCamServer::start(TestCamConfig::new(footage("vtest_h265.mp4"), 1)).unwrap();
    assert_eq!(server.codec(), VideoCodec::H265);
    let p = probe(&server.url(0), 4);
    assert_eq!(p.codec, "hevc");
    assert_eq!((p.width, p.height), (768, 576));
    assert!(p.pts.len() >= 20, "only {} packets in ~4 s", p.pts.len());
    assert!(p.keys[0], "the stream does not start at a key frame");
    p.assert_strictly_increasing();
}

#[test]
fn loops_with_increasing_timestamps_in_real_time() {
    let dir = tempfile::tempdir().unwrap();
    let short = dir.path().join("short.mp4");
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(footage("vtest_h264.mp4"))
        .args(["-t", "3", "-c", "copy", "-an"])
        .arg(&short)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success());

    let server = TestCamServer::start(TestCamConfig::new(&short, 1)).unwrap();
    let clip = server.clip_duration().as_secs_f64();
    assert!((2.5..=3.5).contains(&clip), "clip lasts {clip} s");

    let p = probe(&server.url(0), 8);
    assert!(p.pts.len() >= 60, "only {} packets in ~8 s", p.pts.len());
    p.assert_strictly_increasing();
    let pts = p.timed_pts();
    let span = pts[pts.len() - 1] - pts[0];
    assert!(
        span > 2.0 * clip,
        "timestamps span {span} s, the clip lasts {clip} s: no loop seen"
    );
    // Every loop restarts at a key frame, so key frames keep coming after the first pass.
    let late_keys = p
        .pts
        .iter()
        .zip(&p.keys)
        .filter(|(t, k)| **k && t.is_some_and(|t| t > clip))
        .count();
    assert!(late_keys >= 1, "no key frame after the first pass");
}

#[test]
fn restarts_on_the_same_port() {
    let first =
        TestCamServer::start(TestCamConfig::new(footage("vtest_h264_small.mp4"), 1)).unwrap();
    let port = first.port();
    // A client is connected while the server stops, as in a restart mid-recording.
    let url = first.url(0);
    let reader = std::thread::spawn(move || run_ffprobe(&url, 30));
    assert!(wait_until(Duration::from_secs(10), || first.frames_sent(0) > 5));
    first.stop();
    let cut = reader.join().unwrap();
    assert!(
        !cut.stdout.is_empty(),
        "the client read nothing before the stop: {}",
        cut.stderr
    );

    let cfg = TestCamConfig {
        port,
        ..TestCamConfig::new(footage("vtest_h264_small.mp4"), 1)
    };
    let second = TestCamServer::start(cfg).unwrap();
    assert_eq!(second.port(), port);
    let p = probe(&second.url(0), 2);
    assert!(
        p.pts.len() >= 10,
        "only {} packets after the restart",
        p.pts.len()
    );
    assert!(p.keys[0]);
    p.assert_strictly_increasing();
}

#[test]
fn occupied_port_is_refused() {
    let first =
        TestCamServer::start(TestCamConfig::new(footage("vtest_h264_small.mp4"), 1)).unwrap();
    let cfg = TestCamConfig {
        port: first.port(),
        ..TestCamConfig::new(footage("vtest_h264_small.mp4"), 1)
    };
    let err = TestCamServer::start(cfg).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{}", err.chain());
}

#[test]
fn credentials_are_required_when_configured() {
    let cfg = TestCamConfig {
        credentials: Some(("operator".to_owned(), "s3cret-pass".to_owned())),
        ..TestCamConfig::new(footage("vtest_h264_small.mp4"), 1)
    };
    let server = TestCamServer::start(cfg).unwrap();
    let url = server.url(0);
    assert!(
        !url.contains("operator") && !url.contains("s3cret"),
        "credentials leak into {url}"
    );
    assert!(!format!("{server:?}").contains("s3cret"));
    let with =
        |user: &str, pass: &str| url.replacen("rtsp://", &format!("rtsp://{user}:{pass}@"), 1);

    let p = probe(&with("operator", "s3cret-pass"), 2);
    assert!(
        p.pts.len() >= 10,
        "only {} packets with the right password",
        p.pts.len()
    );

    let wrong = run_ffprobe(&with("operator", "wrong"), 2);
    assert!(!wrong.success, "a wrong password was accepted");
    assert!(
        wrong.stderr.contains("401"),
        "expected 401, got: {}",
        wrong.stderr
    );

    let anonymous = run_ffprobe(&url, 2);
    assert!(!anonymous.success, "an anonymous client was accepted");
    assert!(
        anonymous.stderr.contains("401"),
        "expected 401, got: {}",
        anonymous.stderr
    );
}

#[test]
fn frames_sent_grows_while_a_client_watches() {
    let server =
        TestCamServer::start(TestCamConfig::new(footage("vtest_h264_small.mp4"), 3)).unwrap();
    assert_eq!(
        server.frames_sent(1),
        0,
        "nothing is sent before a client comes"
    );
    let url = server.url(1);
    let reader = std::thread::spawn(move || probe(&url, 3));
    assert!(wait_until(Duration::from_secs(10), || server
        .frames_sent(1)
        > 0));
    let early = server.frames_sent(1);
    assert!(wait_until(Duration::from_secs(10), || server
        .frames_sent(1)
        > early + 5));
    let p = reader.join().unwrap();
    assert!(
        server.frames_sent(1) >= p.pts.len() as u64,
        "received more than sent"
    );
    assert_eq!(server.frames_sent(0), 0);
    assert_eq!(server.frames_sent(2), 0);
}

#[test]
fn many_servers_in_one_process() {
    let servers: Vec<_> = (0..4)
        .map(|_| {
            TestCamServer::start(TestCamConfig::new(footage("vtest_h264_small.mp4"), 2)).unwrap()
        })
        .collect();
    let mut ports: Vec<_> = servers.iter().map(TestCamServer::port).collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 4);
    let p = probe(&servers[3].url(1), 2);
    assert!(p.pts.len() >= 10);
    drop(servers);
}

#[test]
fn explicit_bind_address_and_port() {
    let probe_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = TestCamConfig {
        bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
        port: probe_port,
        ..TestCamConfig::new(footage("vtest_h264_small.mp4"), 1)
    };
    let server = TestCamServer::start(cfg).unwrap();
    assert_eq!(server.port(), probe_port);
    assert_eq!(server.url(0), format!("rtsp://127.0.0.1:{probe_port}/cam0"));
}

#[test]
fn missing_footage_says_how_to_get_it() {
    let err =
        TestCamServer::start(TestCamConfig::new("/nonexistent/vtest_h264.mp4", 1)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.to_string().contains("scripts/setup.sh"), "{err}");
}

#[test]
fn not_an_mp4_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("bogus.mp4");
    std::fs::write(&bogus, b"this is not a video file at all").unwrap();
    let err = TestCamServer::start(TestCamConfig::new(&bogus, 1)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{}", err.chain());
}

#[test]
fn server_can_move_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<TestCamServer>();
}

#[test]
fn zero_cameras_is_refused() {
    let err =
        TestCamServer::start(TestCamConfig::new(footage("vtest_h264_small.mp4"), 0)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
}
