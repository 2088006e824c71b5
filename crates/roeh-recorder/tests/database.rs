//! The recorder while its PostgreSQL is away (stopped, then started again): segments finished
//! meanwhile wait in the backlog and are committed when it is back, byte-exact and chained; a
//! backlog that fills stops new segments with a `database` gap; recording goes on.

#![allow(clippy::unwrap_used)]

mod common;
use common::{Env, T0};
use roeh_domain::{
    Camera, CameraId, CameraUrl, Clock, GapReason, Retention, Segment, SimClock, Transport,
    WallTime,
};
use roeh_recorder::RecorderConfig;
use roeh_store::{PoolSettings, Store};
use roeh_testkit::postgres::Cluster;
use std::sync::Arc;
use std::time::Duration;

/// An environment whose store is a database on a throwaway PostgreSQL cluster; callers waiting
/// for a connection give up after a second.
async fn pg_env() -> (Env, Cluster) {
    let dir = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(dir.path()).unwrap();
    let url = cluster.create_database("roeh").unwrap();
    let settings = PoolSettings {
        acquire_timeout: Duration::from_secs(1),
        ..PoolSettings::default()
    };
    let store = Store::open_with(&url, &settings).await.unwrap();
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
    let root = dir.path().join("footage");
    let env = Env {
        dir,
        root,
        store,
        clock: Arc::new(SimClock::new(WallTime(T0))),
        camera: cam.id,
    };
    (env, cluster)
}

/// 2 s segments written frame by frame; store writes abandoned after a second; the database
/// probed every 100 ms while away; at most `backlog_frames` frames wait for it.
fn config(env: &Env, backlog_frames: usize) -> Arc<RecorderConfig> {
    let mut cfg = (*env.config(Duration::from_secs(2))).clone();
    cfg.store_timeout = Duration::from_secs(1);
    cfg.store_retry_interval = Duration::from_millis(100);
    cfg.backlog_frames = backlog_frames;
    Arc::new(cfg)
}

async fn segments(store: &Store, camera: CameraId) -> Vec<Segment> {
    store.chain_segments(camera, 1, u32::MAX).await.unwrap()
}

/// Polls `f` every 50 ms for up to 30 s.
async fn until<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !f().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every file is committed and verifies, the chain verifies, no journal is left, and between
/// any two consecutive segments the time is footage or a gap.
async fn check(env: &Env) -> (Vec<Segment>, Vec<roeh_domain::Gap>) {
    let report = roeh_recorder::verify_camera(&env.store, &env.root, env.camera)
        .await
        .unwrap();
    assert!(report.chain.is_none(), "chain: {:?}", report.chain);
    assert!(report.bad_files.is_empty(), "files: {:?}", report.bad_files);
    let segs = segments(&env.store, env.camera).await;
    assert_eq!(report.files_checked, segs.len() as u64);
    let dir = env.root.join(env.camera.to_string());
    let left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".h264"))
        .collect();
    assert!(left.is_empty(), "journals or partial files left: {left:?}");
    let gaps = env
        .store
        .gaps_in_range(env.camera, WallTime(0), WallTime(i64::MAX))
        .await
        .unwrap();
    for w in segs.windows(2) {
        if w[1].start > w[0].end {
            assert!(
                gaps.iter()
                    .any(|g| g.start <= w[0].end && g.end.is_none_or(|e| e >= w[1].start)),
                "hole between segments {} and {}: {gaps:?}",
                w[0].seq,
                w[1].seq
            );
        }
    }
    (segs, gaps)
}

#[tokio::test]
async fn segments_finished_while_the_database_is_away_are_committed_when_it_is_back() {
    if !roeh_testkit::postgres::have_postgres(
        "segments_finished_while_the_database_is_away_are_committed_when_it_is_back",
    ) {
        return;
    }
    let (env, cluster) = pg_env().await;
    let (tx, h) = env.start(config(&env, 15_000));
    env.connected(&tx).await;
    // 10 fps, a key frame every 20 frames: a segment closes every 2 s of media time.
    env.feed(&tx, 0..40, 0).await;
    until("the first segment", || async {
        segments(&env.store, env.camera).await.len() == 1
    })
    .await;
    cluster.kill().unwrap();
    // Four segments close while the database is away (2 to 5), a sixth is open.
    env.feed(&tx, 40..110, 40 * 9000).await;
    until("the recorder to take every frame", || async {
        tx.capacity() == tx.max_capacity()
    })
    .await;
    cluster.restart().unwrap();
    until("the segments that waited", || async {
        env.store
            .last_segment(env.camera)
            .await
            .ok()
            .flatten()
            .is_some_and(|s| s.seq == 5)
    })
    .await;
    env.feed(&tx, 110..150, 110 * 9000).await;
    drop(tx);
    let stats = h.await.unwrap().unwrap();
    assert!(stats.database_outages >= 1, "{stats:?}");
    assert_eq!(stats.segments_deferred, 4, "{stats:?}");
    assert_eq!(stats.frames_dropped, 0, "nothing lost: {stats:?}");
    assert_eq!(stats.frames_written, 150);

    let (segs, gaps) = check(&env).await;
    assert_eq!(segs.len(), 8);
    assert_eq!(segs.iter().map(|s| s.frames).sum::<u32>(), 150);
    assert!(segs.iter().all(|s| s.run == 1 && !s.recovered));
    for w in segs.windows(2) {
        assert_eq!(w[1].start, w[0].end, "one unbroken run");
    }
    // No gap but the shutdown's: the outage cost nothing.
    let reasons: Vec<GapReason> = gaps.iter().map(|g| g.reason).collect();
    assert_eq!(reasons, vec![GapReason::Shutdown]);
}

#[tokio::test]
async fn a_full_backlog_stops_recording_with_a_database_gap_until_the_database_is_back() {
    if !roeh_testkit::postgres::have_postgres(
        "a_full_backlog_stops_recording_with_a_database_gap_until_the_database_is_back",
    ) {
        return;
    }
    let (env, cluster) = pg_env().await;
    // Room for two segments of 20 frames.
    let (tx, h) = env.start(config(&env, 30));
    env.connected(&tx).await;
    env.feed(&tx, 0..40, 0).await;
    until("the first segment", || async {
        segments(&env.store, env.camera).await.len() == 1
    })
    .await;
    cluster.kill().unwrap();
    // Segments 2 and 3 close and wait (40 frames: the backlog is full); frames 60..140 are not
    // recorded.
    env.feed(&tx, 40..140, 40 * 9000).await;
    until("the recorder to take every frame", || async {
        tx.capacity() == tx.max_capacity()
    })
    .await;
    cluster.restart().unwrap();
    until("the segments that waited and the database gap", || async {
        let Ok(gaps) = env
            .store
            .gaps_in_range(env.camera, WallTime(0), WallTime(i64::MAX))
            .await
        else {
            return false;
        };
        gaps.iter().any(|g| g.reason == GapReason::Database)
    })
    .await;
    // Recording resumes at the next key frame.
    let resumed_at = env.clock.wall();
    env.feed(&tx, 140..180, 140 * 9000).await;
    drop(tx);
    let stats = h.await.unwrap().unwrap();
    assert_eq!(stats.frames_dropped, 80, "{stats:?}");
    assert_eq!(stats.segments_deferred, 2, "{stats:?}");
    assert!(stats.database_outages >= 1, "{stats:?}");
    assert_eq!(stats.frames_written, 100);

    let (segs, gaps) = check(&env).await;
    assert_eq!(segs.len(), 5);
    assert!(segs.iter().all(|s| !s.recovered));
    assert_eq!(segs[1].start, segs[0].end);
    assert_eq!(segs[2].start, segs[1].end);
    assert_eq!(segs[3].start, resumed_at);
    let db: Vec<_> = gaps
        .iter()
        .filter(|g| g.reason == GapReason::Database)
        .collect();
    assert_eq!(db.len(), 1, "{gaps:?}");
    assert_eq!(
        db[0].start, segs[2].end,
        "the gap starts where footage stops"
    );
    assert_eq!(db[0].end, Some(segs[3].start), "and ends where it resumes");
    assert_eq!(segs[3].run, segs[2].run + 1, "a new run after the gap");
}
