//! Recorder tests with real footage, real files in temporary directories and real SQLite.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use common::*;
use roeh_domain::{
    Clock, GapReason, IngestEvent, Pts90k, Retention, Segment, SegmentState, WallTime,
};
use roeh_evidence::verify_chain;
use roeh_recorder::{
    LegalHolds, NoHolds, enforce_retention, read_segment, read_segment_frames, recover,
    segment_path, verify_camera,
};
use std::time::Duration;

async fn all_segments(env: &Env) -> Vec<Segment> {
    env.store
        .chain_segments(env.camera, 1, 10_000)
        .await
        .unwrap()
}

fn files_in(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[tokio::test]
async fn records_byte_exact_key_frame_segments_with_a_verified_chain() {
    let env = Env::new().await;
    let (tx, h) = env.start(env.config(Duration::from_secs(2)));
    env.connected(&tx).await;
    let sent = env.feed(&tx, 0..205, 1_000).await;
    drop(tx);
    let stats = h.await.unwrap().unwrap();
    assert_eq!(stats.frames_written, 205);
    assert_eq!(stats.frames_dropped, 0);

    let segs = all_segments(&env).await;
    // Key frame every 20 frames (2 s): ten full segments and a last one of 5 frames.
    assert_eq!(segs.len(), 11);
    verify_chain(&segs).unwrap();
    let mut offset = 0usize;
    let mut all = Vec::new();
    for (i, s) in segs.iter().enumerate() {
        assert_eq!(s.seq, i as u64 + 1);
        assert_eq!(s.run, 1);
        assert!(!s.recovered);
        let frames = read_segment_frames(&env.store, &env.root, s).await.unwrap();
        assert_eq!(frames.len(), s.frames as usize);
        assert!(
            frames[0].0.is_key,
            "segment {} starts on a key frame",
            s.seq
        );
        // Byte-exact: every frame equals the access unit fed.
        for (k, (e, b)) in frames.iter().enumerate() {
            assert_eq!(b, &sent[offset + k]);
            assert_eq!(e.pts_offset, k as i64 * 9000);
        }
        offset += frames.len();
        let file = std::fs::read(segment_path(&env.root, env.camera, s.seq, s.codec)).unwrap();
        assert_eq!(file.len() as u64, s.bytes);
        all.extend_from_slice(&file);
        if i + 1 < segs.len() {
            assert_eq!(s.frames, 20);
            assert_eq!(s.duration, Pts90k(180_000));
            // Contiguous: media time and wall time continue exactly.
            assert_eq!(segs[i + 1].start_pts, Pts90k(s.start_pts.0 + s.duration.0));
            assert_eq!(segs[i + 1].start, s.end);
        }
    }
    assert_eq!(
        all,
        concat(&sent),
        "files are the concatenation of the access units"
    );
    assert_eq!(segs[0].start, WallTime(T0));
    // Wall end stays within 500 ppm of media time.
    let last = segs.last().unwrap();
    let media_us = (last.start_pts.0 + last.duration.0 - segs[0].start_pts.0) * 100 / 9;
    assert!((last.end.0 - segs[0].start.0 - media_us).abs() <= media_us / 2000 + 1);

    let report = verify_camera(&env.store, &env.root, env.camera)
        .await
        .unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.files_checked, 11);
    // No open-segment files remain; shutdown left an open gap at the end of the footage.
    let names = files_in(&env.root.join(env.camera.to_string()));
    assert!(names.iter().all(|n| n.ends_with(".h264")), "{names:?}");
    let gaps = env.store.open_gaps(Some(env.camera)).await.unwrap();
    assert_eq!(gaps.len(), 1);
    assert_eq!(gaps[0].reason, GapReason::Shutdown);
    assert_eq!(gaps[0].start, last.end);
}

#[tokio::test]
async fn disconnects_open_gaps_and_runs_restart() {
    let env = Env::new().await;
    let cfg = env.config(Duration::from_secs(2));
    let (tx, h) = env.start(cfg.clone());
    env.connected(&tx).await;
    env.feed(&tx, 0..30, 0).await;
    let lost_at = env.clock.wall();
    tx.send(IngestEvent::Disconnected {
        camera: env.camera,
        at: lost_at,
        reason: GapReason::CameraOffline,
        detail: "connection refused".into(),
    })
    .await
    .unwrap();
    env.clock.advance(Duration::from_secs(30));
    env.connected(&tx).await;
    let back_at = env.clock.wall();
    // The stream restarts: media time from a new origin, starting on a key frame.
    env.feed(&tx, 40..70, 0).await;
    // Non-key frames before a key frame after a stream restart are dropped with a gap.
    env.connected(&tx).await;
    let skip_at = env.clock.wall();
    env.feed(&tx, 45..65, 0).await;
    drop(tx);
    let stats = h.await.unwrap().unwrap();
    assert_eq!(stats.frames_dropped, 15);

    let segs = all_segments(&env).await;
    verify_chain(&segs).unwrap();
    let runs: Vec<u64> = segs.iter().map(|s| s.run).collect();
    assert_eq!(runs, vec![1, 1, 2, 2, 3]);
    let gaps = env
        .store
        .gaps_in_range(env.camera, WallTime(0), WallTime(i64::MAX))
        .await
        .unwrap();
    let offline = &gaps[0];
    assert_eq!(offline.reason, GapReason::CameraOffline);
    assert_eq!(offline.detail, "connection refused");
    assert_eq!(offline.start, segs[1].end, "gap starts where footage stops");
    assert_eq!(
        offline.end,
        Some(back_at),
        "closed by the first frame of the next run"
    );
    assert_eq!(segs[2].start, back_at);
    let restart = &gaps[1];
    assert_eq!(restart.reason, GapReason::CameraOffline);
    assert_eq!(restart.start, segs[3].end.min(skip_at));
    assert_eq!(restart.end, Some(segs[4].start));
    assert_eq!(gaps.last().unwrap().reason, GapReason::Shutdown);
    assert!(gaps.last().unwrap().end.is_none());
}

/// Starts a recorder, feeds `frames` frames, waits until the open segment's journal holds
/// `expect_in_open` records, then aborts the task as a crash would.
async fn crash_mid_segment(env: &Env, frames: usize, expect_in_open: u64) -> Vec<bytes::Bytes> {
    crash_mid_segment_with(
        env,
        env.config(Duration::from_secs(2)),
        frames,
        expect_in_open,
    )
    .await
}

async fn crash_mid_segment_with(
    env: &Env,
    cfg: std::sync::Arc<roeh_recorder::RecorderConfig>,
    frames: usize,
    expect_in_open: u64,
) -> Vec<bytes::Bytes> {
    let (tx, h) = env.start(cfg);
    env.connected(&tx).await;
    let sent = env.feed(&tx, 0..frames, 0).await;
    let seq = (frames / 20 + 1) as u64;
    let j = roeh_recorder::journal_path(&env.root, env.camera, seq);
    let header = {
        let f = common::footage();
        roeh_recorder::journal::encode_header(&roeh_recorder::journal::JournalHeader {
            camera: env.camera,
            seq,
            run: 1,
            start_pts: Pts90k(0),
            params: (*f.params).clone(),
        })
        .unwrap()
        .len() as u64
    };
    let want = header + expect_in_open * roeh_recorder::journal::RECORD_LEN as u64;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if std::fs::metadata(&j).map(|m| m.len()).unwrap_or(0) == want {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "recorder did not catch up"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    h.abort();
    let _ = h.await;
    drop(tx);
    sent
}

#[tokio::test]
async fn recovery_commits_verified_frames_and_records_a_crash_gap() {
    let env = Env::new().await;
    // Two committed segments (40 frames), then 13 frames of the third before the crash.
    let sent = crash_mid_segment(&env, 53, 13).await;
    let before = all_segments(&env).await;
    assert_eq!(before.len(), 2);
    let committed: Vec<Vec<u8>> = before
        .iter()
        .map(|s| std::fs::read(segment_path(&env.root, env.camera, s.seq, s.codec)).unwrap())
        .collect();

    // Damage the tail as a torn write would: half a journal record and stray data bytes.
    let cam_dir = env.root.join(env.camera.to_string());
    let j = roeh_recorder::journal_path(&env.root, env.camera, 3);
    let p = roeh_recorder::partial_path(&env.root, env.camera, 3);
    let mut jb = std::fs::read(&j).unwrap();
    jb.extend_from_slice(&[0xab; 20]);
    std::fs::write(&j, &jb).unwrap();
    let mut pb = std::fs::read(&p).unwrap();
    // Corrupt the 13th frame's bytes: recovery must stop before it.
    let frame12_start = concat(&sent[40..52]).len();
    pb[frame12_start + 10] ^= 0xff;
    pb.extend_from_slice(&[0u8; 1000]);
    std::fs::write(&p, &pb).unwrap();
    // Debris that cannot be committed: a partial without journal for a later seq, and a
    // final-named file without row or journal.
    std::fs::write(cam_dir.join(format!("{:016x}.partial", 9)), b"junk").unwrap();
    std::fs::write(cam_dir.join(format!("{:016x}.h264", 7)), b"junk").unwrap();

    env.clock.advance(Duration::from_secs(60));
    let report = recover(&env.root, &env.store, env.clock.as_ref())
        .await
        .unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.recovered.len(), 1);
    let rec = &report.recovered[0];
    assert_eq!(rec.seq, 3);
    assert!(rec.recovered);
    assert_eq!(rec.frames, 12);
    let file = std::fs::read(segment_path(&env.root, env.camera, 3, rec.codec)).unwrap();
    assert_eq!(
        file,
        concat(&sent[40..52]),
        "only the verified frames are kept"
    );
    assert_eq!(report.quarantined.len(), 2, "{:?}", report.quarantined);
    assert!(report.missing_files.is_empty());
    assert_eq!(report.crash_gaps.len(), 1);
    let names = files_in(&cam_dir);
    assert_eq!(names.len(), 3, "{names:?}");
    // Committed segments are untouched.
    for (s, bytes) in before.iter().zip(&committed) {
        let now = std::fs::read(segment_path(&env.root, env.camera, s.seq, s.codec)).unwrap();
        assert_eq!(&now, bytes);
    }
    let gap = &env.store.open_gaps(Some(env.camera)).await.unwrap()[0];
    assert_eq!(gap.reason, GapReason::Crash);
    assert_eq!(gap.start, rec.end);

    // Recovery is idempotent.
    let again = recover(&env.root, &env.store, env.clock.as_ref())
        .await
        .unwrap();
    assert!(
        again.recovered.is_empty() && again.quarantined.is_empty() && again.crash_gaps.is_empty()
    );

    // Recording resumes: the crash gap closes at the first frame; the chain continues.
    let (tx, h) = env.start(env.config(Duration::from_secs(2)));
    env.connected(&tx).await;
    let resumed_at = env.clock.wall();
    env.feed(&tx, 0..25, 0).await;
    drop(tx);
    h.await.unwrap().unwrap();
    let segs = all_segments(&env).await;
    assert_eq!(segs.len(), 5);
    assert_eq!(segs[3].run, 2);
    let gaps = env
        .store
        .gaps_in_range(env.camera, WallTime(0), WallTime(i64::MAX))
        .await
        .unwrap();
    assert_eq!(gaps[0].reason, GapReason::Crash);
    assert_eq!(gaps[0].end, Some(resumed_at));
    let v = verify_camera(&env.store, &env.root, env.camera)
        .await
        .unwrap();
    assert!(v.ok(), "{v:?}");
}

#[tokio::test]
async fn recovery_quarantines_unverifiable_segments_and_reports_missing_files() {
    let env = Env::new().await;
    crash_mid_segment(&env, 45, 5).await;
    // A journal whose header is garbage cannot be trusted at all.
    let j = roeh_recorder::journal_path(&env.root, env.camera, 3);
    let mut jb = std::fs::read(&j).unwrap();
    jb[3] ^= 0x01;
    std::fs::write(&j, &jb).unwrap();
    // A committed segment's file disappears.
    let seg1 = env
        .store
        .segment_by_seq(env.camera, 1)
        .await
        .unwrap()
        .unwrap();
    std::fs::remove_file(segment_path(&env.root, env.camera, 1, seg1.codec)).unwrap();

    let report = recover(&env.root, &env.store, env.clock.as_ref())
        .await
        .unwrap();
    assert!(report.recovered.is_empty());
    assert_eq!(report.quarantined.len(), 2, "{:?}", report.quarantined);
    assert!(
        report
            .quarantined
            .iter()
            .all(|p| p.starts_with(env.root.join("quarantine")))
    );
    assert_eq!(report.missing_files.len(), 1);
    assert_eq!(report.missing_files[0].seq, 1);
    assert_eq!(report.crash_gaps.len(), 1);
    // The row stays.
    assert_eq!(all_segments(&env).await.len(), 2);
    let v = verify_camera(&env.store, &env.root, env.camera)
        .await
        .unwrap();
    assert!(v.chain.is_none());
    assert_eq!(v.bad_files.len(), 1);
}

#[tokio::test]
async fn crash_between_rename_and_insert_is_rebuilt_from_the_journal() {
    let env = Env::new().await;
    crash_mid_segment(&env, 50, 10).await;
    // Simulate the crash after the rename: the data has its final name, the journal remains.
    let p = roeh_recorder::partial_path(&env.root, env.camera, 3);
    let fin = segment_path(&env.root, env.camera, 3, roeh_domain::VideoCodec::H264);
    std::fs::rename(&p, &fin).unwrap();
    let report = recover(&env.root, &env.store, env.clock.as_ref())
        .await
        .unwrap();
    assert_eq!(report.recovered.len(), 1);
    assert_eq!(report.recovered[0].frames, 10);
    assert!(report.quarantined.is_empty());
    let v = verify_camera(&env.store, &env.root, env.camera)
        .await
        .unwrap();
    assert!(v.ok(), "{v:?}");
}

#[derive(Debug)]
struct HoldSeq2(WallTime, WallTime);
impl LegalHolds for HoldSeq2 {
    fn is_held(&self, _c: roeh_domain::CameraId, start: WallTime, end: WallTime) -> bool {
        start < self.1 && end > self.0
    }
}

#[tokio::test]
async fn retention_by_age_and_bytes_keeps_rows_and_holds() {
    let env = Env::new().await;
    let (tx, h) = env.start(env.config(Duration::from_secs(2)));
    env.connected(&tx).await;
    env.feed(&tx, 0..200, 0).await;
    drop(tx);
    h.await.unwrap().unwrap();
    let segs = all_segments(&env).await;
    assert_eq!(segs.len(), 10);
    let hold = HoldSeq2(segs[1].start, segs[1].end);

    // By age: everything that ended more than 13 s before "now" (T0 + 20 s) goes, except the
    // held segment 2: segments 1..=3 end at 2, 4, 6 s.
    let now = WallTime(T0 + 20_000_000);
    let policy = Retention {
        max_age: Some(Duration::from_secs(13)),
        max_bytes: None,
    };
    let r = enforce_retention(&env.store, &env.root, env.camera, &policy, now, &hold)
        .await
        .unwrap();
    assert_eq!(r.deleted_for_age, vec![1, 3]);
    assert_eq!(r.held, 1);
    for s in [&segs[0], &segs[2]] {
        assert!(!segment_path(&env.root, env.camera, s.seq, s.codec).exists());
        let row = env.store.segment(s.id).await.unwrap().unwrap();
        assert_eq!(row.state, SegmentState::Deleted);
        assert_eq!(row.sha256, s.sha256);
        assert!(read_segment(&env.root, &row).await.is_err());
    }
    assert!(segment_path(&env.root, env.camera, 2, segs[1].codec).exists());

    // By bytes: keep at most the last three segments' worth.
    let keep: u64 = segs[7..].iter().map(|s| s.bytes).sum();
    let policy = Retention {
        max_age: None,
        max_bytes: Some(keep),
    };
    let r = enforce_retention(&env.store, &env.root, env.camera, &policy, now, &NoHolds)
        .await
        .unwrap();
    assert_eq!(r.deleted_for_bytes, vec![2, 4, 5, 6, 7]);
    assert_eq!(env.store.camera_bytes(env.camera).await.unwrap(), keep);
    // The chain of rows still verifies, and every remaining file matches.
    let v = verify_camera(&env.store, &env.root, env.camera)
        .await
        .unwrap();
    assert!(v.ok(), "{v:?}");
    assert_eq!(v.deleted, 7);
    assert_eq!(v.files_checked, 3);
}

#[tokio::test]
async fn clock_step_splits_the_run_and_is_recorded() {
    let env = Env::new().await;
    let (tx, h) = env.start(env.config(Duration::from_secs(2)));
    env.connected(&tx).await;
    env.feed(&tx, 0..30, 0).await;
    // Wait until the recorder has seen every frame, so the step falls between frames 30, 31.
    let j = roeh_recorder::journal_path(&env.root, env.camera, 2);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::fs::metadata(&j).map(|m| m.len()).unwrap_or(0) < 10 * 48 {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    env.clock
        .step_wall(WallTime(env.clock.wall().0 + 3_600_000_000));
    let stepped_at = env.clock.wall();
    env.feed(&tx, 30..80, 30 * 9000).await;
    drop(tx);
    let stats = h.await.unwrap().unwrap();
    assert_eq!(stats.clock_steps, 1);
    // Frames 30..40 are not key frames: dropped until frame 40.
    assert_eq!(stats.frames_dropped, 10);

    let evs = env.store.time_events().await.unwrap();
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0].camera, Some(env.camera));
    assert!((evs[0].delta_micros - 3_600_000_000).abs() < 1_000_000);
    let segs = all_segments(&env).await;
    verify_chain(&segs).unwrap();
    let runs: Vec<u64> = segs.iter().map(|s| s.run).collect();
    assert_eq!(runs, vec![1, 1, 2, 2]);
    assert_eq!(segs[1].frames, 10);
    assert!(segs[2].start >= stepped_at);
    let gaps = env
        .store
        .gaps_in_range(env.camera, WallTime(0), WallTime(i64::MAX))
        .await
        .unwrap();
    let step = gaps
        .iter()
        .find(|g| g.reason == GapReason::ClockStep)
        .unwrap();
    assert_eq!(step.start, stepped_at);
    assert_eq!(step.end, Some(segs[2].start));
}

#[tokio::test]
async fn refuses_absurd_frames_and_media_time_jumps() {
    let env = Env::new().await;
    let (tx, h) = env.start(env.config(Duration::from_secs(2)));
    env.connected(&tx).await;
    env.feed(&tx, 0..10, 0).await;
    let f = common::footage();
    tx.send(IngestEvent::Frame(roeh_domain::AccessUnit {
        camera: env.camera,
        pts: Pts90k(10 * 9000),
        received_at: env.clock.wall(),
        is_key: true,
        params: f.params.clone(),
        data: bytes::Bytes::from(vec![0u8; roeh_domain::media::MAX_ACCESS_UNIT_BYTES + 1]),
    }))
    .await
    .unwrap();
    env.feed(&tx, 20..30, 11 * 9000).await;
    // pts jumps back: the run splits at the next key frame.
    env.feed(&tx, 40..50, 0).await;
    drop(tx);
    let stats = h.await.unwrap().unwrap();
    assert_eq!(stats.frames_dropped, 1);
    let segs = all_segments(&env).await;
    verify_chain(&segs).unwrap();
    assert_eq!(
        segs.iter().map(|s| s.run).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    let gaps = env
        .store
        .gaps_in_range(env.camera, WallTime(0), WallTime(i64::MAX))
        .await
        .unwrap();
    let reasons: Vec<GapReason> = gaps.iter().map(|g| g.reason).collect();
    assert_eq!(
        reasons,
        vec![
            GapReason::BadStream,
            GapReason::BadStream,
            GapReason::Shutdown
        ]
    );
}

/// With the default batching (frames written once they span the commit interval), a crash
/// loses at most the frames of one commit interval: 10 fps, 500 ms interval, 27 frames fed.
/// The third segment's frames 20..=25 span 500 ms and are written together; frame 26 waits in
/// memory and is lost with the crash.
#[tokio::test]
async fn batched_writes_lose_at_most_one_commit_interval_on_a_crash() {
    let env = Env::new().await;
    let cfg = env.config_batched(Duration::from_secs(2), Duration::from_millis(500));
    let sent = crash_mid_segment_with(&env, cfg, 27, 6).await;
    env.clock.advance(Duration::from_secs(60));
    let report = recover(&env.root, &env.store, env.clock.as_ref())
        .await
        .unwrap();
    assert_eq!(report.recovered.len(), 1);
    let rec = &report.recovered[0];
    assert_eq!(
        rec.frames, 6,
        "the frames of the written batch are recovered"
    );
    let file = std::fs::read(segment_path(&env.root, env.camera, rec.seq, rec.codec)).unwrap();
    assert_eq!(file, concat(&sent[20..26]));
    let lost = sent.len() - 26;
    assert!(
        lost <= 5,
        "lost {lost} frames, more than one 500 ms commit interval at 10 fps"
    );
}

/// After a reconnect, servers send buffered frames in a burst: they are older than their
/// arrival. The run's first segment starts at the origin the frames imply (arrival minus media
/// offset, minimised), and the gap that the run's first frame closed ends exactly there.
#[tokio::test]
async fn a_burst_after_reconnect_moves_the_run_start_back_and_trims_the_gap() {
    let env = Env::new().await;
    let (tx, h) = env.start(env.config(Duration::from_secs(2)));
    env.connected(&tx).await;
    env.feed(&tx, 0..30, 0).await;
    tx.send(IngestEvent::Disconnected {
        camera: env.camera,
        at: env.clock.wall(),
        reason: GapReason::CameraOffline,
        detail: "connection reset".into(),
    })
    .await
    .unwrap();
    env.clock.advance(Duration::from_secs(30));
    env.connected(&tx).await;
    let back_at = env.clock.wall();
    // Ten frames (1 s of media) arrive at the same instant, then the stream runs in real time.
    let f = common::footage();
    for (k, i) in (40..50).enumerate() {
        let au = &f.aus[i];
        tx.send(IngestEvent::Frame(roeh_domain::AccessUnit {
            camera: env.camera,
            pts: Pts90k(k as i64 * 9000),
            received_at: back_at,
            is_key: au.is_key,
            params: f.params.clone(),
            data: au.data.clone(),
        }))
        .await
        .unwrap();
    }
    env.feed(&tx, 50..80, 10 * 9000).await;
    drop(tx);
    h.await.unwrap().unwrap();

    let segs = all_segments(&env).await;
    verify_chain(&segs).unwrap();
    let first_of_run2 = segs.iter().find(|s| s.run == 2).unwrap();
    // Frame 10 arrived at back_at with 1 s of media before it: the origin is back_at - 1 s.
    assert_eq!(first_of_run2.start, back_at.minus(Duration::from_secs(1)));
    let gaps = env
        .store
        .gaps_in_range(env.camera, WallTime(0), WallTime(i64::MAX))
        .await
        .unwrap();
    let offline = gaps
        .iter()
        .find(|g| g.reason == GapReason::CameraOffline)
        .unwrap();
    assert_eq!(offline.end, Some(first_of_run2.start), "{gaps:?}");
    for w in segs.windows(2) {
        assert!(w[1].start >= w[0].end, "overlap: {:?} {:?}", w[0], w[1]);
    }
}

/// The value of the first sample line starting with `prefix` (name and labels) in `text`.
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|v| v.trim_start().parse().ok())
}

#[tokio::test]
async fn commits_gaps_and_queue_depth_reach_the_metrics() {
    let env = Env::new().await;
    let metrics = roeh_metrics::Metrics::new();
    let mut cfg = (*env.config(Duration::from_secs(2))).clone();
    cfg.metrics = metrics.clone();
    let (tx, h) = env.start(std::sync::Arc::new(cfg));
    env.connected(&tx).await;
    env.feed(&tx, 0..45, 1_000).await;
    tx.send(IngestEvent::Disconnected {
        camera: env.camera,
        at: env.clock.wall(),
        reason: GapReason::Stall,
        detail: "no frame for 2 s".into(),
    })
    .await
    .unwrap();
    drop(tx);
    let stats = h.await.unwrap().unwrap();
    // Two full segments at the key frames, the rest at the stall.
    assert_eq!(stats.segments_committed, 3);
    let text = metrics.render(&roeh_metrics::Gauges::default()).unwrap();
    assert_eq!(
        sample(&text, "roeh_recorder_commit_seconds_count"),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "roeh_recorder_commit_seconds_bucket{le=\"+Inf\"}"),
        Some(3.0)
    );
    assert!(sample(&text, "roeh_recorder_commit_seconds_sum").unwrap() > 0.0);
    let cam = env.camera;
    assert_eq!(
        sample(
            &text,
            &format!("roeh_camera_gaps_total{{camera=\"{cam}\",reason=\"stall\"}}")
        ),
        Some(1.0),
        "{text}"
    );
    // The recorder is gone: its share of the queue gauge went with it.
    assert_eq!(
        sample(&text, "roeh_queue_depth{queue=\"recorder\"}"),
        Some(0.0)
    );
}
