//! Repository tests against real SQLite files in a temporary directory.

use super::*;
use roeh_domain::{
    Camera, CameraId, CameraUrl, Credentials, FrameIndexEntry, GapReason, Pts90k, Retention,
    Secret, Segment, SegmentState, Transport, VideoCodec, WallTime,
};

async fn open_tmp() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("roeh.db").display());
    let store = Store::open(&url).await.unwrap();
    (dir, store)
}

fn camera(name: &str) -> Camera {
    Camera {
        id: CameraId::new_random(),
        name: name.into(),
        url: CameraUrl::parse("rtsp://127.0.0.1:8554/cam").unwrap(),
        credentials: Some(Credentials {
            username: "viewer".into(),
            password: Secret::new("s3cret"),
        }),
        transport: Transport::Tcp,
        enabled: true,
        retention: Retention {
            max_age: Some(std::time::Duration::from_secs(86_400)),
            max_bytes: Some(1 << 30),
        },
    }
}

/// A segment extending `prev` (or the first), with `frames` frames of 100 bytes each.
fn next_segment(
    cam: CameraId,
    prev: Option<&Segment>,
    start: i64,
) -> (Segment, Vec<FrameIndexEntry>) {
    let seq = prev.map_or(1, |p| p.seq + 1);
    let frames = 5u32;
    let index: Vec<FrameIndexEntry> = (0..frames)
        .map(|i| FrameIndexEntry {
            offset: u64::from(i) * 100,
            size: 100,
            pts_offset: i64::from(i) * 9000,
            received_at: WallTime(start + i64::from(i) * 100_000),
            is_key: i == 0,
        })
        .collect();
    let mut chain = [0u8; 32];
    chain[..8].copy_from_slice(&seq.to_be_bytes());
    chain[8] = 0xc0;
    let seg = Segment {
        id: 0,
        camera: cam,
        seq,
        run: 1,
        codec: VideoCodec::H264,
        start: WallTime(start),
        end: WallTime(start + 500_000),
        start_pts: Pts90k(i64::from(seq as u32) * 45_000),
        duration: Pts90k(45_000),
        frames,
        bytes: u64::from(frames) * 100,
        sha256: [seq as u8; 32],
        prev_chain: prev.map_or([0; 32], |p| p.chain),
        chain,
        config_record: vec![1, 0x4d, 0, 0x1e],
        width: 768,
        height: 576,
        rfc6381: "avc1.4d001e".into(),
        recovered: seq == 2,
        state: SegmentState::Committed,
    };
    (seg, index)
}

#[tokio::test]
async fn opens_with_wal_and_full_sync_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.db");
    let store = Store::open(path.to_str().unwrap()).await.unwrap();
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(&store.pool)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    let (sync,): (i64,) = sqlx::query_as("PRAGMA synchronous")
        .fetch_one(&store.pool)
        .await
        .unwrap();
    assert_eq!(sync, 2, "synchronous must be FULL");
    let (fk,): (i64,) = sqlx::query_as("PRAGMA foreign_keys")
        .fetch_one(&store.pool)
        .await
        .unwrap();
    assert_eq!(fk, 1);
    let cam = camera("Gate");
    store.insert_camera(&cam, WallTime(1)).await.unwrap();
    store.close().await;
    // Reopening applies no migration twice and keeps the rows.
    let store = Store::open(path.to_str().unwrap()).await.unwrap();
    assert_eq!(store.get_camera(cam.id).await.unwrap(), Some(cam));
    store.integrity_check().await.unwrap();
}

#[tokio::test]
async fn camera_crud_and_removal_policy() {
    let (_d, store) = open_tmp().await;
    let mut a = camera("Square – north");
    let b = camera("Station");
    store.insert_camera(&a, WallTime(10)).await.unwrap();
    store.insert_camera(&b, WallTime(20)).await.unwrap();
    let e = store.insert_camera(&a, WallTime(30)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AlreadyExists);
    assert_eq!(
        store.list_cameras().await.unwrap(),
        vec![a.clone(), b.clone()]
    );

    a.name = "Square – south".into();
    a.credentials = None;
    a.retention = Retention::default();
    a.transport = Transport::Udp;
    store.update_camera(&a).await.unwrap();
    assert_eq!(store.get_camera(a.id).await.unwrap(), Some(a.clone()));

    // b has no footage: deleted outright.
    assert_eq!(
        store.delete_camera(b.id, WallTime(40)).await.unwrap(),
        CameraRemoval::Deleted
    );
    assert_eq!(store.get_camera(b.id).await.unwrap(), None);

    // a has a gap: retired, evidence kept.
    let gap = store
        .open_gap(a.id, WallTime(50), GapReason::CameraOffline, "refused")
        .await
        .unwrap();
    assert_eq!(
        store.delete_camera(a.id, WallTime(60)).await.unwrap(),
        CameraRemoval::Retired
    );
    assert!(store.list_cameras().await.unwrap().is_empty());
    let retired = store.get_camera(a.id).await.unwrap().unwrap();
    assert!(!retired.enabled);
    assert_eq!(store.open_gaps(Some(a.id)).await.unwrap()[0].id, gap);
    assert_eq!(
        store
            .delete_camera(a.id, WallTime(70))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        store.update_camera(&a).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[tokio::test]
async fn segments_chain_ranges_retention_queries() {
    let (_d, store) = open_tmp().await;
    let cam = camera("A");
    let other = camera("B");
    store.insert_camera(&cam, WallTime(0)).await.unwrap();
    store.insert_camera(&other, WallTime(0)).await.unwrap();
    assert_eq!(store.last_segment(cam.id).await.unwrap(), None);

    let mut segs: Vec<Segment> = Vec::new();
    for i in 0..4 {
        let (mut s, idx) = next_segment(cam.id, segs.last(), 1_000_000 + i * 500_000);
        s.id = store.insert_segment(&s, &idx).await.unwrap();
        assert_eq!(store.frame_index(s.id).await.unwrap(), idx);
        segs.push(s);
    }
    // Another camera's chain is independent and older.
    let (mut o, oidx) = next_segment(other.id, None, 10);
    o.id = store.insert_segment(&o, &oidx).await.unwrap();

    assert_eq!(
        store.last_segment(cam.id).await.unwrap().as_ref(),
        segs.last()
    );
    assert_eq!(
        store.segment(segs[1].id).await.unwrap().as_ref(),
        Some(&segs[1])
    );
    assert_eq!(
        store.segment_by_seq(cam.id, 3).await.unwrap().as_ref(),
        Some(&segs[2])
    );

    // Refuses rows that do not extend the chain.
    let (mut dup, didx) = next_segment(cam.id, Some(&segs[2]), 9_000_000);
    assert_eq!(
        store.insert_segment(&dup, &didx).await.unwrap_err().kind(),
        ErrorKind::FailedPrecondition
    );
    dup.seq = 5;
    dup.prev_chain = segs[3].chain;
    dup.frames = 4;
    assert_eq!(
        store.insert_segment(&dup, &didx).await.unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    let (mut wrong_prev, widx) = next_segment(cam.id, Some(&segs[3]), 9_000_000);
    wrong_prev.prev_chain[0] ^= 1;
    assert_eq!(
        store
            .insert_segment(&wrong_prev, &widx)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::FailedPrecondition
    );

    // Overlap: [1.6 s, 2.1 s) touches segments 2 and 3 ([1.5,2.0), [2.0,2.5)).
    let r = store
        .segments_in_range(cam.id, WallTime(1_600_000), WallTime(2_100_000))
        .await
        .unwrap();
    assert_eq!(r.iter().map(|s| s.seq).collect::<Vec<_>>(), vec![2, 3]);
    // Half-open: a range ending where segment 2 starts does not include it.
    let r = store
        .segments_in_range(cam.id, WallTime(0), WallTime(1_500_000))
        .await
        .unwrap();
    assert_eq!(r.iter().map(|s| s.seq).collect::<Vec<_>>(), vec![1]);

    let page = store.chain_segments(cam.id, 2, 2).await.unwrap();
    assert_eq!(page.iter().map(|s| s.seq).collect::<Vec<_>>(), vec![2, 3]);

    assert_eq!(store.camera_bytes(cam.id).await.unwrap(), 2000);
    let oldest = store.oldest_segments(None, 2).await.unwrap();
    assert_eq!(oldest[0].id, o.id);
    assert_eq!(oldest[1].id, segs[0].id);
    assert!(
        store
            .mark_segment_deleted(segs[0].id, WallTime(5))
            .await
            .unwrap()
    );
    assert!(
        !store
            .mark_segment_deleted(segs[0].id, WallTime(6))
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .mark_segment_deleted(9999, WallTime(6))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    let oldest = store.oldest_segments(Some(cam.id), 10).await.unwrap();
    assert_eq!(
        oldest.iter().map(|s| s.seq).collect::<Vec<_>>(),
        vec![2, 3, 4]
    );
    assert_eq!(store.camera_bytes(cam.id).await.unwrap(), 1500);
    // The deleted row stays, with its hashes, and still counts for the chain.
    let kept = store.segment(segs[0].id).await.unwrap().unwrap();
    assert_eq!(kept.state, SegmentState::Deleted);
    assert_eq!(kept.sha256, segs[0].sha256);
    let mut ids = store.cameras_with_segments().await.unwrap();
    ids.sort();
    let mut want = vec![cam.id, other.id];
    want.sort();
    assert_eq!(ids, want);
}

#[tokio::test]
async fn gaps_and_time_events() {
    let (_d, store) = open_tmp().await;
    let cam = camera("A");
    store.insert_camera(&cam, WallTime(0)).await.unwrap();
    let g1 = store
        .open_gap(
            cam.id,
            WallTime(100),
            GapReason::CameraOffline,
            "connection refused",
        )
        .await
        .unwrap();
    let g2 = store
        .open_gap(cam.id, WallTime(500), GapReason::Shutdown, "")
        .await
        .unwrap();
    assert_eq!(store.open_gaps(None).await.unwrap().len(), 2);
    assert!(store.close_gap(g1, WallTime(200)).await.unwrap());
    assert!(!store.close_gap(g1, WallTime(300)).await.unwrap());
    // An end before the start (wall clock stepped back) is clamped to the start.
    assert!(store.close_gap(g2, WallTime(400)).await.unwrap());
    let gaps = store
        .gaps_in_range(cam.id, WallTime(0), WallTime(1000))
        .await
        .unwrap();
    assert_eq!(gaps.len(), 2);
    assert_eq!(gaps[0].end, Some(WallTime(200)));
    assert_eq!(gaps[0].reason, GapReason::CameraOffline);
    assert_eq!(gaps[0].detail, "connection refused");
    assert_eq!(
        gaps[1].end,
        Some(WallTime(500)),
        "zero-length gap inside range"
    );
    assert!(
        store
            .gaps_in_range(cam.id, WallTime(200), WallTime(499))
            .await
            .unwrap()
            .is_empty()
    );
    let open = store
        .open_gap(cam.id, WallTime(900), GapReason::DiskFull, "")
        .await
        .unwrap();
    let later = store
        .gaps_in_range(cam.id, WallTime(5000), WallTime(6000))
        .await
        .unwrap();
    assert_eq!(later.iter().map(|g| g.id).collect::<Vec<_>>(), vec![open]);
    assert_eq!(
        store.open_gaps(Some(cam.id)).await.unwrap()[0].reason,
        GapReason::DiskFull
    );

    let ev = TimeEvent {
        id: 0,
        camera: Some(cam.id),
        monotonic: std::time::Duration::from_secs(7),
        wall_before: WallTime(7_000_000),
        wall_after: WallTime(3_607_000_000),
        delta_micros: 3_600_000_000,
        detail: "wall clock stepped forward".into(),
    };
    let id = store.insert_time_event(&ev).await.unwrap();
    let evs = store.time_events().await.unwrap();
    assert_eq!(evs, vec![TimeEvent { id, ..ev }]);
}

#[tokio::test]
async fn foreign_keys_hold() {
    let (_d, store) = open_tmp().await;
    let e = store
        .open_gap(CameraId::new_random(), WallTime(0), GapReason::Crash, "")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::FailedPrecondition);
}

/// Many cameras committing segments at once, with readers in between: no "database is locked"
/// (a deferred transaction that reads then writes would fail at once under WAL contention).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_segment_commits_do_not_fail_with_busy() {
    let (_dir, store) = open_tmp().await;
    let mut tasks = Vec::new();
    for c in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let cam = camera(&format!("cam {c}"));
            store.insert_camera(&cam, WallTime(0)).await.unwrap();
            let mut prev: Option<Segment> = None;
            for i in 0..40 {
                let (mut seg, idx) = next_segment(cam.id, prev.as_ref(), i * 500_000);
                seg.id = store.insert_segment(&seg, &idx).await.unwrap();
                store
                    .segments_in_range(cam.id, WallTime(0), WallTime(i64::MAX))
                    .await
                    .unwrap();
                prev = Some(seg);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(store.cameras_with_segments().await.unwrap().len(), 8);
}
