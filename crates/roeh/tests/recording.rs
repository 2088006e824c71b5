//! The recorder as a user runs it: `roeh serve` against the real RTSP test server and real
//! footage. Covers camera restarts (gap with reason, resume within 5 s) and `kill -9` at random
//! moments (nothing committed lost or altered, chains verify, losses shown as gaps), on SQLite
//! and on PostgreSQL, and PostgreSQL restarted or stopped for a while under a recording roeh.

#![allow(clippy::unwrap_used)]

mod common;
use common::{Site, check_footage, get_json, runtime, wait_streaming};
use rand::Rng;
use roeh_domain::{GapReason, WallTime};
use roeh_testcam::{TestCamConfig, TestCamServer};
use roeh_testkit::{footage, wait_for};
use std::time::Duration;

/// The default `recording.commit_interval_secs`, which the test sites use.
const COMMIT_INTERVAL_SECS: f64 = 0.5;

fn now() -> WallTime {
    roeh_domain::Clock::wall(&roeh_domain::SystemClock::new())
}

fn cams(server: &TestCamServer) -> Vec<(String, String)> {
    server
        .urls()
        .into_iter()
        .enumerate()
        .map(|(i, u)| (format!("Cam {i}"), u))
        .collect()
}

#[test]
fn camera_server_restart_records_a_gap_and_resumes_within_5s() {
    let server = TestCamServer::start(TestCamConfig::new(footage("vtest_h264.mp4"), 1)).unwrap();
    let port = server.port();
    let site = Site::new(2.0, &cams(&server));
    let (proc_, base) = site.serve();
    let list = wait_streaming(&base, Some(1)).unwrap();
    let id = list[0]["id"].as_str().unwrap().to_string();
    // Record a little, then take the camera server away for 3 s.
    wait_for("two segments", Duration::from_secs(30), || {
        let v = get_json(&format!("{base}/api/cameras/{id}/segments"));
        (v.as_array()?.len() >= 2).then_some(())
    })
    .unwrap();
    server.stop();
    let down_at = now();
    std::thread::sleep(Duration::from_secs(3));
    let mut cfg = TestCamConfig::new(footage("vtest_h264.mp4"), 1);
    cfg.port = port;
    let server = TestCamServer::start(cfg).unwrap();
    let back_at = now();
    // A new run starts within 5 s of the camera's return: its first segment begins then.
    let first_new = wait_for("recording to resume", Duration::from_secs(20), || {
        let v = get_json(&format!(
            "{base}/api/cameras/{id}/segments?start={}",
            back_at.0 - 1
        ));
        let segs = v.as_array()?;
        segs.iter()
            .map(|s| s["start_us"].as_i64().unwrap())
            .filter(|&s| s >= back_at.0)
            .min()
    })
    .unwrap();
    assert!(
        first_new - back_at.0 <= 5_000_000,
        "recording resumed {} ms after the camera came back",
        (first_new - back_at.0) / 1000
    );
    let gaps = get_json(&format!(
        "{base}/api/cameras/{id}/gaps?start={}",
        down_at.0 - 30_000_000
    ));
    let gaps = gaps.as_array().unwrap();
    let gap = gaps
        .iter()
        .find(|g| {
            g["start_us"].as_i64().unwrap() <= down_at.0 + 5_000_000 && !g["end_us"].is_null()
        })
        .unwrap_or_else(|| panic!("no closed gap around the outage: {gaps:?}"));
    let reason = GapReason::parse(gap["reason"].as_str().unwrap()).unwrap();
    assert!(
        matches!(reason, GapReason::CameraOffline | GapReason::Stall),
        "{reason:?}"
    );
    assert!(
        gap["end_us"].as_i64().unwrap() >= back_at.0 - 1_000_000,
        "gap ends before the camera returned: {gap}"
    );
    let st = proc_.terminate(Duration::from_secs(15)).unwrap();
    assert!(st.success(), "roeh exited with {st}");
    server.stop();
    check_footage(&site);
}

#[test]
fn kill_9_at_random_moments_loses_nothing_committed() {
    kill_9_at_random_moments(false);
}

/// The same on PostgreSQL (`[server] database_url`): the database survives the kills, the log
/// head keeps the indices dense.
#[test]
fn kill_9_at_random_moments_loses_nothing_committed_on_postgres() {
    if !roeh_testkit::postgres::have_postgres(
        "kill_9_at_random_moments_loses_nothing_committed_on_postgres",
    ) {
        return;
    }
    kill_9_at_random_moments(true);
}

fn kill_9_at_random_moments(on_postgres: bool) {
    let iterations: usize = std::env::var("ROEH_KILL_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let segment_secs = 1.0;
    let server = TestCamServer::start(TestCamConfig::new(footage("vtest_h264.mp4"), 2)).unwrap();
    let site = if on_postgres {
        Site::on_postgres(segment_secs, &cams(&server))
    } else {
        Site::new(segment_secs, &cams(&server))
    };
    let mut rng = rand::rng();
    let mut seen = std::collections::BTreeMap::new();
    let mut kills = Vec::new();
    for i in 0..iterations {
        let (p, base) = site.serve();
        // Wait until both cameras stream, then kill at a random moment.
        wait_streaming(&base, Some(2)).unwrap_or_else(|e| panic!("iteration {i}: {e}"));
        std::thread::sleep(Duration::from_millis(rng.random_range(100..3000)));
        let killed_at = now();
        p.kill9().unwrap();
        // What the killed process had written to its open segments' files: recovery must keep
        // all of it (the kernel keeps a killed process's writes).
        kills.push((killed_at, written_frontier(&site.data().join("footage"))));
        // Every segment committed before must still be there, unchanged.
        let now_committed = check_footage(&site);
        for (k, sha) in &seen {
            assert_eq!(
                now_committed.get(k),
                Some(sha),
                "iteration {i}: committed segment {k:?} lost or altered"
            );
        }
        seen = now_committed;
    }
    // A last clean start recovers the final kill and is stopped gracefully.
    let (p, base) = site.serve();
    wait_streaming(&base, Some(2)).unwrap();
    let st = p.terminate(Duration::from_secs(15)).unwrap();
    assert!(st.success(), "roeh exited with {st}");
    let all = check_footage(&site);
    assert!(
        all.len() >= 2,
        "footage of both cameras is in the database: {} segments",
        all.len()
    );
    // On PostgreSQL nothing went to a SQLite file.
    assert_eq!(
        site.data().join("roeh.db").exists(),
        !on_postgres,
        "the database is where the configuration says"
    );
    for (k, sha) in &seen {
        assert_eq!(
            all.get(k),
            Some(sha),
            "committed segment {k:?} lost or altered"
        );
    }
    // Each kill shows as a crash gap, and footage lost before each kill is at most one
    // segment plus the commit interval.
    let rt = runtime();
    rt.block_on(async {
        let store = roeh_store::Store::open(&site.db_url()).await.unwrap();
        for cam in store.cameras_with_segments().await.unwrap() {
            let gaps = store.gaps_in_range(cam, WallTime(0), now()).await.unwrap();
            let segs = store.chain_segments(cam, 1, u32::MAX).await.unwrap();
            // Segments never overlap, across runs and restarts too.
            for w in segs.windows(2) {
                assert!(
                    w[1].start >= w[0].end,
                    "camera {cam}: segments overlap:\n{:?}\n{:?}",
                    w[0],
                    w[1]
                );
            }
            for (k, written) in &kills {
                let k = *k;
                // The crash gap of this kill. How far before the kill it starts depends on the
                // commit interval and on how far the process lagged (a loaded machine, a slow
                // commit), so that is printed, not bounded.
                let gap = gaps
                    .iter()
                    .filter(|g| g.reason == GapReason::Crash)
                    .min_by_key(|g| (g.start.0 - k.0).abs())
                    .unwrap_or_else(|| {
                        panic!("camera {cam}: no crash gap for the kill at {k}: {gaps:?}")
                    });
                // Nothing on disk is lost: the gap starts after every frame the killed process
                // had written.
                if let Some(&last) = written.get(&cam) {
                    assert!(
                        gap.start >= last,
                        "camera {cam}: kill at {k}: a frame written at {last} is lost (crash gap \
                         starts at {})",
                        gap.start
                    );
                }
                // And recovery claims no footage it does not hold: the gap starts exactly where
                // the last recovered segment before it ends. (Frame times follow the camera's
                // clock from the stream's anchor, so on a loaded machine they can run ahead of
                // the kill's wall-clock time: the kill time itself bounds nothing.)
                if let Some(before) = segs
                    .iter()
                    .filter(|s| s.end <= gap.start)
                    .max_by_key(|s| s.end)
                {
                    assert_eq!(
                        before.end, gap.start,
                        "camera {cam}: the crash gap of the kill at {k} does not start where the \
                         recovered footage ends"
                    );
                }
                eprintln!(
                    "[kill] camera {cam}: {} ms before the kill not on disk (commit interval \
                     {COMMIT_INTERVAL_SECS} s, segment {segment_secs} s)",
                    (k.0 - gap.start.0) / 1000
                );
                let end = gap
                    .end
                    .unwrap_or_else(|| panic!("camera {cam}: crash gap {} never closed", gap.id));
                if let Some(s) = segs
                    .iter()
                    .find(|s| !(s.end <= gap.start || s.start >= end))
                {
                    panic!("camera {cam}: segment overlaps gap {gap:?}:\n{s:?}");
                }
            }
        }
        store.close().await;
    });
    server.stop();
}

/// The received time of the last frame journaled in each camera's open segments under the
/// footage root: what a killed process had written. A journal's records count up to the first
/// that fails its checksum (as recovery reads them).
fn written_frontier(
    footage: &std::path::Path,
) -> std::collections::HashMap<roeh_domain::CameraId, WallTime> {
    use roeh_recorder::journal;
    let mut out = std::collections::HashMap::new();
    let Ok(dirs) = std::fs::read_dir(footage) else {
        return out;
    };
    for dir in dirs.flatten() {
        for f in std::fs::read_dir(dir.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = f.file_name().to_string_lossy().into_owned();
            if !matches!(
                roeh_recorder::layout::parse_file_name(&name),
                Some(roeh_recorder::layout::FileKind::Journal(_))
            ) {
                continue;
            }
            let bytes = std::fs::read(f.path()).unwrap();
            let Ok((header, len)) = journal::decode_header(&bytes) else {
                continue;
            };
            let last = bytes[len..]
                .chunks_exact(journal::RECORD_LEN)
                .map_while(journal::decode_record)
                .map(|(e, _)| e.received_at)
                .last();
            if let Some(at) = last {
                let e = out.entry(header.camera).or_insert(at);
                *e = (*e).max(at);
            }
        }
    }
    out
}

/// Sources retina does not speak, declared in the configuration file: a local MP4 file and an
/// MPEG-TS stream over HTTP (served by Python's http.server on loopback). Both are read through
/// GStreamer without decoding and recorded like cameras: byte-exact segments whose chain
/// verifies. The API still refuses such URLs (see roeh-api's tests).
#[test]
fn file_and_http_sources_from_the_config_are_recorded() {
    let footage = footage("vtest_h264.mp4");
    let dir = tempfile::tempdir().unwrap();
    let ts = dir.path().join("live.ts");
    let st = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-i"])
        .arg(&footage)
        .args(["-c", "copy", "-t", "30", "-f", "mpegts"])
        .arg(&ts)
        .status()
        .unwrap();
    assert!(st.success());
    let mut http = std::process::Command::new("python3")
        .args([
            "-u",
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            "--directory",
        ])
        .arg(dir.path())
        .arg("0")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(http.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
    let port: u16 = line
        .split(" port ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .unwrap()
        .parse()
        .unwrap();
    let site = Site::new(
        2.0,
        &[
            ("File".to_string(), format!("file://{}", footage.display())),
            (
                "HTTP".to_string(),
                format!("http://127.0.0.1:{port}/live.ts"),
            ),
        ],
    );
    let (p, base) = site.serve();
    let cams = wait_streaming(&base, Some(2)).unwrap();
    for c in &cams {
        let id = c["id"].as_str().unwrap();
        wait_for("two segments", Duration::from_secs(30), || {
            let v = get_json(&format!("{base}/api/cameras/{id}/segments"));
            (v.as_array()?.len() >= 2).then_some(())
        })
        .unwrap_or_else(|e| panic!("{}: {e}", c["name"]));
        assert_eq!(c["health"]["codec"], "h264");
        assert_eq!(c["health"]["width"], 768);
    }
    let st = p.terminate(Duration::from_secs(15)).unwrap();
    assert!(st.success());
    let _ = http.kill();
    let _ = http.wait();
    let all = check_footage(&site);
    assert!(all.len() >= 4, "{all:?}");
}

/// Hostile cameras next to a good one: one accepts the connection and never answers, one
/// answers every request with random bytes, one answers DESCRIBE with an SDP whose H.264 SPS
/// has its size fields set to all ones (an absurd picture size) and then refuses SETUP. Each is
/// reconnected and gapped with a reason; the good camera records without a single gap; the
/// process stays up.
#[test]
fn hostile_cameras_are_gapped_and_do_not_disturb_a_good_one() {
    use std::io::{Read, Write};
    use std::net::TcpListener;

    fn serve_forever(behaviour: fn(std::net::TcpStream)) -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                std::thread::spawn(move || behaviour(s));
            }
        });
        port
    }
    fn silent(s: std::net::TcpStream) {
        std::thread::sleep(Duration::from_secs(120));
        drop(s);
    }
    fn garbage(mut s: std::net::TcpStream) {
        let mut buf = [0u8; 4096];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            let junk: Vec<u8> = (0..8192)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            if s.write_all(&junk).is_err() {
                break;
            }
        }
    }
    fn absurd_sps(mut s: std::net::TcpStream) {
        // SPS, profile 100, whose size fields are all ones.
        let sdp = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=x\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\n\
                   a=rtpmap:96 H264/90000\r\n\
                   a=fmtp:96 packetization-mode=1;sprop-parameter-sets=Z2QAKqzoB//////8,aO48gA==\r\n\
                   a=control:trackID=0\r\n";
        let mut buf = [0u8; 4096];
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            let req = String::from_utf8_lossy(&buf[..n]).into_owned();
            let cseq = req
                .lines()
                .find_map(|l| l.strip_prefix("CSeq: "))
                .unwrap_or("1")
                .trim()
                .to_string();
            let resp = if req.starts_with("DESCRIBE") {
                format!(
                    "RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nContent-Type: application/sdp\r\n\
                     Content-Base: rtsp://127.0.0.1/x/\r\nContent-Length: {}\r\n\r\n{sdp}",
                    sdp.len()
                )
            } else {
                format!("RTSP/1.0 454 Session Not Found\r\nCSeq: {cseq}\r\n\r\n")
            };
            if s.write_all(resp.as_bytes()).is_err() {
                break;
            }
        }
    }

    let server = TestCamServer::start(TestCamConfig::new(footage("vtest_h264.mp4"), 1)).unwrap();
    let cams = vec![
        ("Good".to_string(), server.url(0)),
        (
            "Silent".to_string(),
            format!("rtsp://127.0.0.1:{}/x", serve_forever(silent)),
        ),
        (
            "Garbage".to_string(),
            format!("rtsp://127.0.0.1:{}/x", serve_forever(garbage)),
        ),
        (
            "Absurd SPS".to_string(),
            format!("rtsp://127.0.0.1:{}/x", serve_forever(absurd_sps)),
        ),
    ];
    let site = Site::new(2.0, &cams);
    let (mut p, base) = site.serve();
    let started = now();
    // Let the hostile cameras fail, back off and fail again for a while.
    std::thread::sleep(Duration::from_secs(15));
    assert!(p.is_running(), "roeh died");
    let list = get_json(&format!("{base}/api/cameras"));
    let list = list.as_array().unwrap();
    let by_name = |n: &str| list.iter().find(|c| c["name"] == n).unwrap().clone();
    let good = by_name("Good");
    assert_eq!(good["health"]["state"], "streaming");
    assert_eq!(good["health"]["reconnects"], 0);
    let id = good["id"].as_str().unwrap();
    let gaps = get_json(&format!("{base}/api/cameras/{id}/gaps?start={}", started.0));
    assert_eq!(
        gaps.as_array().unwrap().len(),
        0,
        "good camera gapped: {gaps}"
    );
    let segs = get_json(&format!(
        "{base}/api/cameras/{id}/segments?start={}",
        started.0
    ));
    assert!(segs.as_array().unwrap().len() >= 5, "{segs}");
    for name in ["Silent", "Garbage", "Absurd SPS"] {
        let c = by_name(name);
        assert_ne!(c["health"]["state"], "streaming", "{name}: {c}");
        assert!(c["health"]["last_error"].is_string(), "{name}: {c}");
        let id = c["id"].as_str().unwrap();
        let gaps = get_json(&format!("{base}/api/cameras/{id}/gaps?start={}", started.0));
        let gaps = gaps.as_array().unwrap();
        assert!(!gaps.is_empty(), "{name}: no gap recorded");
        assert!(
            gaps.iter().all(|g| g["reason"] == "camera_offline"
                || g["reason"] == "stall"
                || g["reason"] == "bad_stream"),
            "{name}: {gaps:?}"
        );
        let segs = get_json(&format!(
            "{base}/api/cameras/{id}/segments?start={}",
            started.0 - 60_000_000
        ));
        assert!(
            segs.as_array().unwrap().is_empty(),
            "{name} recorded something: {segs}"
        );
    }
    let st = p.terminate(Duration::from_secs(15)).unwrap();
    assert!(st.success(), "roeh exited with {st}");
    check_footage(&site);
    server.stop();
}

/// PostgreSQL restarted while roeh records on it: roeh keeps running, no segment committed
/// before is lost, recording goes on after the restart, every chain verifies and the log has
/// no holes.
#[test]
fn a_postgres_restart_mid_recording_loses_nothing_committed() {
    if !roeh_testkit::postgres::have_postgres(
        "a_postgres_restart_mid_recording_loses_nothing_committed",
    ) {
        return;
    }
    let server = TestCamServer::start(TestCamConfig::new(footage("vtest_h264.mp4"), 1)).unwrap();
    let site = Site::on_postgres(1.0, &cams(&server));
    let (mut proc_, base) = site.serve();
    let list = wait_streaming(&base, Some(1)).unwrap();
    let id = list[0]["id"].as_str().unwrap().to_string();
    let segments = |base: &str| -> Vec<serde_json::Value> {
        roeh_testkit::get(&format!("{base}/api/cameras/{id}/segments"))
            .ok()
            .and_then(|r| r.json::<serde_json::Value>().ok())
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
    };
    wait_for("three segments", Duration::from_secs(30), || {
        (segments(&base).len() >= 3).then_some(())
    })
    .unwrap();
    let before = check_footage(&site);
    let cluster = site.pg.as_ref().unwrap();
    cluster.kill().unwrap();
    let down_at = now();
    std::thread::sleep(Duration::from_secs(3));
    cluster.restart().unwrap();
    assert!(proc_.is_running(), "roeh survived the database's restart");
    // Recording goes on: segments that began after the database came back are committed.
    let back_at = now();
    wait_for(
        "segments after the restart",
        Duration::from_secs(60),
        || {
            let after = segments(&base)
                .iter()
                .filter(|s| s["start_us"].as_i64().unwrap_or(0) >= back_at.0)
                .count();
            (after >= 2).then_some(())
        },
    )
    .unwrap();
    let st = proc_.terminate(Duration::from_secs(15)).unwrap();
    assert!(st.success(), "roeh exited with {st}");
    server.stop();
    let all = check_footage(&site);
    for (k, sha) in &before {
        assert_eq!(
            all.get(k),
            Some(sha),
            "committed segment {k:?} lost or altered"
        );
    }
    // What could not be committed while the database was down is a gap, not a silent hole:
    // between the last segment before the outage and the first after it, the footage is either
    // committed or covered by a gap.
    let rt = runtime();
    rt.block_on(async {
        let store = roeh_store::Store::open(&site.db_url()).await.unwrap();
        for cam in store.cameras_with_segments().await.unwrap() {
            let segs = store.chain_segments(cam, 1, u32::MAX).await.unwrap();
            let gaps = store.gaps_in_range(cam, WallTime(0), now()).await.unwrap();
            eprintln!(
                "camera {cam}: {} segments, gaps {:?}",
                segs.len(),
                gaps.iter().map(|g| (g.reason, g.start, g.end)).collect::<Vec<_>>()
            );
            for w in segs.windows(2) {
                if w[1].start.0 - w[0].end.0 > 1_000_000 {
                    let covered = gaps.iter().any(|g| {
                        g.start <= w[0].end && g.end.is_none_or(|e| e >= w[1].start)
                    });
                    assert!(
                        covered,
                        "camera {cam}: {} ms between segments {} and {} around the outage at {down_at} without a gap: {gaps:?}",
                        (w[1].start.0 - w[0].end.0) / 1000,
                        w[0].seq,
                        w[1].seq
                    );
                }
            }
        }
        store.close().await;
    });
}

/// PostgreSQL stopped for longer than the recorder waits on a store write (5 s) and than it
/// probes (every second), then started again: roeh keeps running and recording; the segments
/// finished while it was away are committed once it is back, by the running recorder (not left
/// to a restart's recovery), in one unbroken chain; nothing committed before is lost; and no
/// time around the outage is uncovered: it is footage, or a gap with reason `database`.
#[test]
fn a_postgres_outage_longer_than_the_retries_commits_the_footage_afterwards() {
    if !roeh_testkit::postgres::have_postgres(
        "a_postgres_outage_longer_than_the_retries_commits_the_footage_afterwards",
    ) {
        return;
    }
    const OUTAGE: Duration = Duration::from_secs(12);
    let server = TestCamServer::start(TestCamConfig::new(footage("vtest_h264.mp4"), 1)).unwrap();
    let site = Site::on_postgres(1.0, &cams(&server));
    let (mut proc_, base) = site.serve();
    let list = wait_streaming(&base, Some(1)).unwrap();
    let id = list[0]["id"].as_str().unwrap().to_string();
    let count = |base: &str| -> usize {
        roeh_testkit::get(&format!("{base}/api/cameras/{id}/segments"))
            .ok()
            .and_then(|r| r.json::<serde_json::Value>().ok())
            .and_then(|v| v.as_array().map(Vec::len))
            .unwrap_or(0)
    };
    wait_for("three segments", Duration::from_secs(30), || {
        (count(&base) >= 3).then_some(())
    })
    .unwrap();
    let before = check_footage(&site);
    let cluster = site.pg.as_ref().unwrap();
    let down_at = now();
    cluster.kill().unwrap();
    std::thread::sleep(OUTAGE);
    cluster.restart().unwrap();
    let back_at = now();
    assert!(proc_.is_running(), "roeh survived the outage");
    // What waited is written, and recording goes on after it.
    wait_for("segments after the outage", Duration::from_secs(60), || {
        let segs = roeh_testkit::get(&format!("{base}/api/cameras/{id}/segments"))
            .ok()?
            .json::<serde_json::Value>()
            .ok()?;
        let after = segs
            .as_array()?
            .iter()
            .filter(|s| s["start_us"].as_i64().unwrap_or(0) >= back_at.0 + 1_000_000)
            .count();
        (after >= 2).then_some(())
    })
    .unwrap();
    assert!(proc_.is_running(), "roeh still runs");
    let st = proc_.terminate(Duration::from_secs(15)).unwrap();
    assert!(st.success(), "roeh exited with {st}");
    server.stop();
    let all = check_footage(&site);
    for (k, sha) in &before {
        assert_eq!(
            all.get(k),
            Some(sha),
            "committed segment {k:?} lost or altered"
        );
    }
    let rt = runtime();
    rt.block_on(async {
        let store = roeh_store::Store::open(&site.db_url()).await.unwrap();
        let cams = store.cameras_with_segments().await.unwrap();
        assert_eq!(cams.len(), 1);
        let cam = cams[0];
        let segs = store.chain_segments(cam, 1, u32::MAX).await.unwrap();
        let gaps = store.gaps_in_range(cam, WallTime(0), now()).await.unwrap();
        eprintln!(
            "outage {down_at}..{back_at}: {} segments, gaps {:?}",
            segs.len(),
            gaps.iter()
                .map(|g| (g.reason, g.start, g.end))
                .collect::<Vec<_>>()
        );
        // The footage of the outage was committed by the running recorder.
        let during: Vec<_> = segs
            .iter()
            .filter(|s| s.start >= down_at && s.end <= back_at)
            .collect();
        let covered_us: i64 = during.iter().map(|s| s.end.0 - s.start.0).sum();
        assert!(
            covered_us >= (OUTAGE.as_micros() as i64) / 2,
            "only {} ms of the {} s outage recorded: {:?}",
            covered_us / 1000,
            OUTAGE.as_secs(),
            during
                .iter()
                .map(|s| (s.seq, s.start, s.end))
                .collect::<Vec<_>>()
        );
        assert!(
            segs.iter().all(|s| !s.recovered),
            "nothing needed start-up recovery"
        );
        // From the first segment to the last, every moment is footage or a gap; a gap opened
        // during the outage has reason `database`.
        for w in segs.windows(2) {
            if w[1].start.0 - w[0].end.0 > 1_000_000 {
                let covered = gaps
                    .iter()
                    .any(|g| g.start <= w[0].end && g.end.is_none_or(|e| e >= w[1].start));
                assert!(
                    covered,
                    "{} ms between segments {} and {} around the outage without a gap: {gaps:?}",
                    (w[1].start.0 - w[0].end.0) / 1000,
                    w[0].seq,
                    w[1].seq
                );
            }
        }
        for g in &gaps {
            if g.start >= down_at && g.start <= back_at {
                assert_eq!(g.reason, GapReason::Database, "{g:?}");
            }
        }
        store.close().await;
    });
}
