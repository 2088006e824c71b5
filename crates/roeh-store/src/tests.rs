//! Repository tests against real SQLite files in a temporary directory.

use super::*;
use roeh_domain::{
    Camera, CameraId, CameraUrl, Credentials, FrameIndexEntry, GapReason, Pts90k, Retention,
    Secret, Segment, SegmentState, Transport, VideoCodec, WallTime,
};

/// Where [`open_tmp`] keeps its database: a temporary directory, and the PostgreSQL cluster in
/// it when the tests run on PostgreSQL. Dropping it removes both.
pub(crate) struct TmpDb {
    // Declared first so the cluster stops before its directory goes.
    _cluster: Option<roeh_testkit::postgres::Cluster>,
    _dir: tempfile::TempDir,
}

/// The variable that runs the repository tests built on [`open_tmp`] on PostgreSQL (a
/// throwaway cluster each) instead of SQLite: `ROEH_STORE_TEST_POSTGRES=1 cargo test -p
/// roeh-store --lib`.
pub(crate) const ON_POSTGRES: &str = "ROEH_STORE_TEST_POSTGRES";

/// A store in a fresh temporary directory (kept alive by the first element), with a credential
/// key set. Shared by the tests of every module. On PostgreSQL where [`ON_POSTGRES`] is set.
pub(crate) async fn open_tmp() -> (TmpDb, Store) {
    let dir = tempfile::tempdir().unwrap();
    let (cluster, url) = if std::env::var_os(ON_POSTGRES).is_some_and(|v| v == "1") {
        assert!(roeh_testkit::postgres::have_postgres(ON_POSTGRES));
        let c = roeh_testkit::postgres::Cluster::start(dir.path()).unwrap();
        let url = c.create_database("roeh").unwrap();
        (Some(c), url)
    } else {
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("roeh.db").display());
        (None, url)
    };
    let store = Store::open(&url).await.unwrap();
    store
        .set_credential_key(CredentialKey::generate().unwrap())
        .unwrap();
    (
        TmpDb {
            _cluster: cluster,
            _dir: dir,
        },
        store,
    )
}

pub(crate) fn camera(name: &str) -> Camera {
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
pub(crate) fn next_segment(
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
async fn an_unreachable_postgresql_server_is_a_clear_error_at_once() {
    // Nothing listens on port 1 of loopback: the connection is refused.
    let Err(e) = Store::open("postgres://roeh@127.0.0.1:1/roeh").await else {
        panic!("nothing listens there");
    };
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    let text = format!("{e}");
    assert!(text.contains("opening database"), "{text}");
    assert!(text.to_lowercase().contains("refused"), "{text}");
    assert!(!text.contains("timed out"), "{text}");
}

#[tokio::test]
async fn a_database_from_a_newer_roeh_is_refused_by_name_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("newer.db");
    let store = Store::open(path.to_str().unwrap()).await.unwrap();
    store
        .set_credential_key(CredentialKey::generate().unwrap())
        .unwrap();
    store
        .insert_camera(&camera("Gate"), WallTime(1))
        .await
        .unwrap();
    // A newer roeh applied a migration this one does not have.
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9001, 'from the future', TRUE, X'00', 1)",
    )
    .execute(&store.pool)
    .await
    .unwrap();
    store.close().await;
    let before = std::fs::read(&path).unwrap();
    let e = Store::open(path.to_str().unwrap()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::FailedPrecondition, "{e:?}");
    assert!(
        e.message().contains("schema version 9001"),
        "{}",
        e.message()
    );
    assert!(
        e.message().contains("newer than this roeh"),
        "{}",
        e.message()
    );
    assert!(
        e.message().contains("nothing was changed"),
        "{}",
        e.message()
    );
    // The file is as it was, and a roeh that knows it could still read the camera.
    assert_eq!(std::fs::read(&path).unwrap(), before);
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM cameras")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn opens_with_wal_and_full_sync_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.db");
    let store = Store::open(path.to_str().unwrap()).await.unwrap();
    let key = CredentialKey::generate().unwrap();
    store.set_credential_key(key.clone()).unwrap();
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
    store.set_credential_key(key).unwrap();
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
    // A retry of a committed segment (its answer lost) counts as committed: same row, nothing
    // changed. The same seq with other bytes is still refused.
    let (_, idx3) = next_segment(cam.id, Some(&segs[1]), 2_000_000);
    assert_eq!(
        store.insert_segment(&segs[2], &idx3).await.unwrap(),
        segs[2].id
    );
    assert_eq!(
        store.last_segment(cam.id).await.unwrap().as_ref(),
        segs.last()
    );
    let mut altered = segs[2].clone();
    altered.sha256[0] ^= 1;
    assert_eq!(
        store
            .insert_segment(&altered, &idx3)
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
    // Gaps reaching past a moment, per camera: after 150 the one closed at 200, the zero-length
    // one at 500 and the open one; after 600 only the open one; no other camera listed.
    let counts = store.gap_counts_since(WallTime(150)).await.unwrap();
    assert_eq!(counts.get(&cam.id), Some(&3), "{counts:?}");
    let counts = store.gap_counts_since(WallTime(600)).await.unwrap();
    assert_eq!(counts.get(&cam.id), Some(&1), "{counts:?}");
    assert_eq!(counts.len(), 1);
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

#[tokio::test]
async fn the_evidence_log_follows_commits_gaps_and_custody_events() {
    let (_d, store) = open_tmp().await;
    let cam = camera("A");
    store.insert_camera(&cam, WallTime(0)).await.unwrap();

    // A segment's leaf is appended with its row.
    let (mut s1, i1) = next_segment(cam.id, None, 1_000_000);
    s1.id = store.insert_segment(&s1, &i1).await.unwrap();
    assert_eq!(store.log_size().await.unwrap(), 1);
    assert_eq!(store.segment_log_index(s1.id).await.unwrap(), Some(0));
    let leaf0 = store.log_leaf(0).await.unwrap().unwrap();
    assert_eq!(leaf0.data, segments::segment_leaf(&s1, &i1));
    assert_eq!(leaf0.kind, 1);

    // A gap closed by the next run's first frame is trimmed to where that run's footage starts
    // and logged with the segment, not before.
    let g1 = store
        .open_gap(
            cam.id,
            WallTime(1_500_000),
            GapReason::CameraOffline,
            "refused",
        )
        .await
        .unwrap();
    assert!(store.close_gap(g1, WallTime(3_000_000)).await.unwrap());
    assert_eq!(store.gap_log_index(g1).await.unwrap(), None);
    let (mut s2, i2) = next_segment(cam.id, Some(&s1), 2_800_000);
    s2.id = store.insert_segment(&s2, &i2).await.unwrap();
    assert_eq!(store.segment_log_index(s2.id).await.unwrap(), Some(1));
    assert_eq!(store.gap_log_index(g1).await.unwrap(), Some(2));
    let g = &store
        .gaps_in_range(cam.id, WallTime(0), WallTime(10_000_000))
        .await
        .unwrap()[0];
    assert_eq!(g.end, Some(WallTime(2_800_000)));
    let want = roeh_evidence::leaf::gap_leaf(
        cam.id,
        g1 as u64,
        WallTime(1_500_000),
        WallTime(2_800_000),
        "camera_offline",
        "refused",
    )
    .unwrap();
    assert_eq!(store.log_leaf(2).await.unwrap().unwrap().data, want);
    // Once logged, a gap never changes.
    assert!(!store.trim_gap_end(g1, WallTime(2_000_000)).await.unwrap());

    // A gap that closes without footage after it is settled when the next gap opens.
    let g2 = store
        .open_gap(cam.id, WallTime(3_300_000), GapReason::Stall, "")
        .await
        .unwrap();
    store.close_gap(g2, WallTime(4_000_000)).await.unwrap();
    let g3 = store
        .open_gap(cam.id, WallTime(4_500_000), GapReason::CameraOffline, "")
        .await
        .unwrap();
    assert_eq!(store.gap_log_index(g2).await.unwrap(), Some(3));
    assert_eq!(
        store.gap_log_index(g3).await.unwrap(),
        None,
        "open gaps are not logged"
    );

    // Retention deletes the file, never the leaf; the deletion is an event leaf.
    assert!(
        store
            .mark_segment_deleted(s1.id, WallTime(9_000_000))
            .await
            .unwrap()
    );
    assert_eq!(store.log_leaf(0).await.unwrap().unwrap(), leaf0);
    let evs = store.events(Some(cam.id), 10).await.unwrap();
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0].kind, "retention_deleted");
    assert_eq!(evs[0].log_index, 4);
    let v: serde_json::Value = serde_json::from_slice(&evs[0].json).unwrap();
    assert_eq!(v["seq"], 1);
    assert_eq!(v["segment_leaf"], 0);

    // Holds: placing and lifting are logged; lifting twice changes nothing.
    let hold = NewHold {
        case_ref: "PD-1".into(),
        camera: cam.id,
        start: WallTime(1_000_000),
        end: WallTime(2_000_000),
        reason: "fight".into(),
        created_by: "sgt".into(),
    };
    let (hid, hidx) = store.place_hold(&hold, WallTime(9_100_000)).await.unwrap();
    assert_eq!(hidx, 5);
    assert_eq!(store.holds(true).await.unwrap().len(), 1);
    assert!(
        store
            .clear_hold(hid, "sgt", "closed", WallTime(9_200_000))
            .await
            .unwrap()
    );
    assert!(
        !store
            .clear_hold(hid, "sgt", "again", WallTime(9_300_000))
            .await
            .unwrap()
    );
    assert!(store.holds(true).await.unwrap().is_empty());
    let all = store.holds(false).await.unwrap();
    assert_eq!(all[0].cleared.as_ref().unwrap().1, "sgt");
    let bad = NewHold {
        end: WallTime(1_000_000),
        ..hold
    };
    assert!(store.place_hold(&bad, WallTime(9_400_000)).await.is_err());

    // Keys register once.
    assert!(
        store
            .register_key(
                "00112233445566ff",
                &[7; 32],
                WallTime(1),
                "key_created",
                serde_json::json!({})
            )
            .await
            .unwrap()
    );
    assert!(
        !store
            .register_key(
                "00112233445566ff",
                &[7; 32],
                WallTime(2),
                "key_created",
                serde_json::json!({})
            )
            .await
            .unwrap()
    );
    assert_eq!(store.keys().await.unwrap().len(), 1);

    // The log is dense and every stored hash is the leaf hash of its bytes.
    let size = store.log_size().await.unwrap();
    assert_eq!(size, 8);
    let hashes = store.leaf_hashes_from(0, 100).await.unwrap();
    assert_eq!(hashes.len() as u64, size);
    for (i, h) in hashes.iter().enumerate() {
        let leaf = store.log_leaf(i as u64).await.unwrap().unwrap();
        assert_eq!(*h, roeh_evidence::merkle::leaf_hash(&leaf.data));
    }
    assert_eq!(store.leaf_hashes_from(6, 100).await.unwrap().len(), 2);
}

/// The raw `cameras.password` column of `id`.
async fn raw_password(store: &Store, id: CameraId) -> Option<String> {
    let (p,): (Option<String>,) = sqlx::query_as("SELECT password FROM cameras WHERE id = $1")
        .bind(id.to_string())
        .fetch_one(&store.pool)
        .await
        .unwrap();
    p
}

#[tokio::test]
async fn passwords_are_encrypted_at_rest_and_bound_to_their_camera() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roeh.db");
    let store = Store::open(path.to_str().unwrap()).await.unwrap();
    let a = camera("Gate");
    let b = camera("Yard");

    // Without a key a password is refused and nothing is stored; a camera without one is fine.
    let e = store.insert_camera(&a, WallTime(1)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::FailedPrecondition);
    assert!(e.to_string().contains("credential key"), "{e}");
    assert!(!e.chain().contains("s3cret"));
    assert_eq!(store.get_camera(a.id).await.unwrap(), None);
    let mut open = camera("Open");
    open.credentials = Some(Credentials {
        username: "viewer".into(),
        password: Secret::new(""),
    });
    store.insert_camera(&open, WallTime(1)).await.unwrap();
    assert_eq!(raw_password(&store, open.id).await, None);
    assert_eq!(store.get_camera(open.id).await.unwrap(), Some(open.clone()));

    let key = CredentialKey::generate().unwrap();
    store.set_credential_key(key.clone()).unwrap();
    store.set_credential_key(key.clone()).unwrap();
    assert_eq!(
        store
            .set_credential_key(CredentialKey::generate().unwrap())
            .unwrap_err()
            .kind(),
        ErrorKind::FailedPrecondition
    );
    assert!(store.clone().has_credential_key(), "clones share the key");
    store.insert_camera(&a, WallTime(2)).await.unwrap();
    store.insert_camera(&b, WallTime(3)).await.unwrap();
    let ra = raw_password(&store, a.id).await.unwrap();
    let rb = raw_password(&store, b.id).await.unwrap();
    assert!(ra.starts_with(ENCRYPTED_PREFIX) && rb.starts_with(ENCRYPTED_PREFIX));
    assert!(!ra.contains("s3cret"));
    assert_ne!(ra, rb, "same password, fresh nonce per write");
    assert_eq!(store.get_camera(a.id).await.unwrap(), Some(a.clone()));

    // An update re-encrypts.
    let mut a2 = a.clone();
    a2.credentials = Some(Credentials {
        username: "viewer".into(),
        password: Secret::new("n3w-pass"),
    });
    store.update_camera(&a2).await.unwrap();
    let ra2 = raw_password(&store, a.id).await.unwrap();
    assert!(ra2.starts_with(ENCRYPTED_PREFIX) && ra2 != ra);
    assert_eq!(store.get_camera(a.id).await.unwrap(), Some(a2.clone()));

    // A ciphertext copied to another row does not decrypt: DataLoss naming that camera only.
    sqlx::query("UPDATE cameras SET password = $1 WHERE id = $2")
        .bind(&ra2)
        .bind(b.id.to_string())
        .execute(&store.pool)
        .await
        .unwrap();
    let e = store.get_camera(b.id).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DataLoss);
    assert!(e.to_string().contains(&b.id.to_string()), "{e}");
    assert!(!e.chain().contains(&ra2) && !e.chain().contains("n3w-pass"));
    assert_eq!(
        store.list_cameras().await.unwrap_err().kind(),
        ErrorKind::DataLoss
    );
    store.update_camera(&b).await.unwrap();

    // Plain values from before encryption still read, and are re-encrypted on request.
    sqlx::query("UPDATE cameras SET password = 'legacy-pw' WHERE id = $1")
        .bind(b.id.to_string())
        .execute(&store.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE cameras SET password = '' WHERE id = $1")
        .bind(open.id.to_string())
        .execute(&store.pool)
        .await
        .unwrap();
    let legacy = store.get_camera(b.id).await.unwrap().unwrap();
    assert_eq!(legacy.credentials.unwrap().password.expose(), "legacy-pw");
    assert_eq!(store.encrypt_legacy_passwords().await.unwrap(), 2);
    assert_eq!(store.encrypt_legacy_passwords().await.unwrap(), 0);
    let rb = raw_password(&store, b.id).await.unwrap();
    assert!(rb.starts_with(ENCRYPTED_PREFIX) && !rb.contains("legacy"));
    assert_eq!(raw_password(&store, open.id).await, None);
    let legacy = store.get_camera(b.id).await.unwrap().unwrap();
    assert_eq!(legacy.credentials.unwrap().password.expose(), "legacy-pw");
    store.close().await;

    // Reopened without the key: encrypted values cannot be read, and say why.
    let store = Store::open(path.to_str().unwrap()).await.unwrap();
    let e = store.get_camera(a.id).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::FailedPrecondition);
    assert_eq!(
        store.encrypt_legacy_passwords().await.unwrap_err().kind(),
        ErrorKind::FailedPrecondition
    );
    // Under another key: DataLoss.
    store
        .set_credential_key(CredentialKey::generate().unwrap())
        .unwrap();
    assert_eq!(
        store.get_camera(a.id).await.unwrap_err().kind(),
        ErrorKind::DataLoss
    );
    // The key never prints.
    assert!(format!("{store:?}").contains("CredentialKey(***)"));
}

fn onvif_row(cam: CameraId, device_url: &str, sub: bool) -> OnvifDeviceRow {
    let profile = |token: &str, w: u32, h: u32, path: &str| OnvifProfileRow {
        token: token.into(),
        name: token.into(),
        encoding: "H264".into(),
        width: Some(w),
        height: Some(h),
        fps: Some(10.0),
        stream_url: format!("rtsp://127.0.0.1:8554/{path}"),
    };
    OnvifDeviceRow {
        camera: cam,
        device_url: device_url.into(),
        endpoint_ref: Some("urn:uuid:dev-1".into()),
        manufacturer: "PythonCam".into(),
        model: "VirtualCam-1".into(),
        firmware_version: "1.3.0".into(),
        serial_number: "PY-000001".into(),
        hardware_id: "PY-HW-01".into(),
        main: profile("Profile_Main", 768, 576, "video_main"),
        sub: sub.then(|| profile("Profile_Sub", 640, 360, "video_sub")),
        snapshot_url: Some("http://127.0.0.1:8080/snapshot.jpg".into()),
        added_at: WallTime(100),
    }
}

fn discovered(endpoint: &str, xaddr: &str) -> NewDiscovered {
    NewDiscovered {
        endpoint_ref: endpoint.into(),
        xaddrs: vec![xaddr.into()],
        scopes: vec!["onvif://www.onvif.org/name/Cam".into()],
        name: Some("Cam".into()),
        hardware: None,
        location: None,
        from_addr: "127.0.0.1:3702".into(),
    }
}

#[tokio::test]
async fn onvif_discovery_approval_and_devices() {
    let (_d, store) = open_tmp().await;
    let url1 = "http://127.0.0.1:8080/onvif/device_service";
    let d1 = store
        .record_discovered(&discovered("urn:uuid:dev-1", url1), WallTime(10))
        .await
        .unwrap();
    assert_eq!(d1.state, DiscoveredState::Pending);
    assert_eq!(d1.device.xaddrs, vec![url1.to_string()]);
    let d2 = store
        .record_discovered(
            &discovered("urn:uuid:dev-2", "http://127.0.0.2/onvif"),
            WallTime(11),
        )
        .await
        .unwrap();
    // Seen again: same entry, refreshed.
    let mut moved = discovered("urn:uuid:dev-1", "http://127.0.0.3/onvif");
    moved.name = Some("Renamed".into());
    let again = store.record_discovered(&moved, WallTime(20)).await.unwrap();
    assert_eq!(again.id, d1.id);
    assert_eq!(
        (again.first_seen, again.last_seen),
        (WallTime(10), WallTime(20))
    );
    assert_eq!(again.device.name.as_deref(), Some("Renamed"));
    store
        .record_discovered(&discovered("urn:uuid:dev-1", url1), WallTime(21))
        .await
        .unwrap();
    assert_eq!(store.list_discovered(false).await.unwrap().len(), 2);

    // Dismissed: stays dismissed when seen again, leaves the pending list, cannot be added.
    let dis = store.dismiss_discovered(d2.id).await.unwrap();
    assert_eq!(dis.state, DiscoveredState::Dismissed);
    store.dismiss_discovered(d2.id).await.unwrap();
    let mut seen = discovered("urn:uuid:dev-2", "http://127.0.0.9/x");
    seen.name = Some("Other".into());
    let s2 = store.record_discovered(&seen, WallTime(30)).await.unwrap();
    assert_eq!(s2.state, DiscoveredState::Dismissed);
    assert_eq!(s2.device.xaddrs, vec!["http://127.0.0.2/onvif".to_string()]);
    assert_eq!(s2.last_seen, WallTime(30));
    assert_eq!(store.list_discovered(false).await.unwrap().len(), 1);
    assert_eq!(store.list_discovered(true).await.unwrap().len(), 2);
    let c2 = camera("Dismissed one");
    let e = store
        .add_onvif_camera(
            &c2,
            &onvif_row(c2.id, "http://127.0.0.2/onvif", true),
            Some(d2.id),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::FailedPrecondition);
    assert!(e.to_string().contains("dismissed"), "{e}");
    assert_eq!(
        store.get_camera(c2.id).await.unwrap(),
        None,
        "nothing stored"
    );
    assert_eq!(
        store.dismiss_discovered(999).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );

    // Approved: camera, description and approval in one go.
    let c1 = camera("ONVIF gate");
    let row = onvif_row(c1.id, url1, true);
    store
        .add_onvif_camera(&c1, &row, Some(d1.id))
        .await
        .unwrap();
    assert_eq!(store.get_camera(c1.id).await.unwrap(), Some(c1.clone()));
    assert_eq!(store.onvif_device(c1.id).await.unwrap(), Some(row.clone()));
    let d1 = store.discovered(d1.id).await.unwrap().unwrap();
    assert_eq!(
        (d1.state, d1.camera),
        (DiscoveredState::Approved, Some(c1.id))
    );
    assert_eq!(store.list_onvif_devices().await.unwrap(), vec![row.clone()]);
    assert_eq!(
        store.dismiss_discovered(d1.id).await.unwrap_err().kind(),
        ErrorKind::FailedPrecondition
    );
    // Not twice: neither the same entry nor the same device URL.
    let c3 = camera("Twice");
    for disc in [Some(d1.id), None] {
        let e = store
            .add_onvif_camera(&c3, &onvif_row(c3.id, url1, false), disc)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AlreadyExists);
        assert_eq!(store.get_camera(c3.id).await.unwrap(), None);
    }
    // A failing camera insert (duplicate id) leaves the entry pending and stores no row.
    let d4 = store
        .record_discovered(
            &discovered("urn:uuid:dev-4", "http://127.0.0.4/o"),
            WallTime(40),
        )
        .await
        .unwrap();
    let e = store
        .add_onvif_camera(
            &c1,
            &onvif_row(c1.id, "http://127.0.0.4/o", false),
            Some(d4.id),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AlreadyExists);
    assert_eq!(
        store.discovered(d4.id).await.unwrap().unwrap().state,
        DiscoveredState::Pending
    );
    // Without a sub profile.
    let c4 = camera("Single");
    let single = onvif_row(c4.id, "http://127.0.0.4/o", false);
    store
        .add_onvif_camera(&c4, &single, Some(d4.id))
        .await
        .unwrap();
    assert_eq!(store.onvif_device(c4.id).await.unwrap().unwrap().sub, None);

    // Removing the camera (no footage) removes its description and frees the entry.
    assert_eq!(
        store.delete_camera(c1.id, WallTime(50)).await.unwrap(),
        CameraRemoval::Deleted
    );
    assert_eq!(store.onvif_device(c1.id).await.unwrap(), None);
    let d1 = store.discovered(d1.id).await.unwrap().unwrap();
    assert_eq!((d1.state, d1.camera), (DiscoveredState::Pending, None));
    // Retiring keeps the description but the device may be added again.
    store
        .open_gap(c4.id, WallTime(60), GapReason::CameraOffline, "x")
        .await
        .unwrap();
    assert_eq!(
        store.delete_camera(c4.id, WallTime(70)).await.unwrap(),
        CameraRemoval::Retired
    );
    assert!(store.onvif_device(c4.id).await.unwrap().is_some());
    assert!(store.list_onvif_devices().await.unwrap().is_empty());
    let c5 = camera("Single again");
    store
        .add_onvif_camera(
            &c5,
            &onvif_row(c5.id, "http://127.0.0.4/o", false),
            Some(d4.id),
        )
        .await
        .unwrap();
}

fn incident(cam: CameraId, hotspot: uuid::Uuid, opened: i64) -> NewIncident {
    NewIncident {
        id: uuid::Uuid::new_v4(),
        rule_id: uuid::Uuid::new_v4(),
        camera: cam,
        hotspot_id: hotspot,
        seq: 1,
        kind: "intrusion".into(),
        severity: "high".into(),
        priority: 3,
        alerting: true,
        reason: "person in zone walkway".into(),
        opened_at: WallTime(opened),
        peak_score: 0.61,
        track_ids: vec![4, 2],
        model_id: "ssdlite".into(),
        evidence_start: WallTime(opened - 10_000_000),
    }
}

#[tokio::test]
async fn hotspots_rules_analysis_and_incidents() {
    let (_dir, store) = open_tmp().await;
    let cam = camera("Walkway");
    store.insert_camera(&cam, WallTime(1)).await.unwrap();

    // Hotspots: insert, duplicate refused, update, list.
    let h1 = uuid::Uuid::new_v4();
    let h2 = uuid::Uuid::new_v4();
    store
        .insert_hotspot(h1, "Square", "{\"a\":1}", WallTime(10))
        .await
        .unwrap();
    store
        .insert_hotspot(h2, "Gate", "{\"b\":2}", WallTime(11))
        .await
        .unwrap();
    let dup = store
        .insert_hotspot(h1, "Again", "{}", WallTime(12))
        .await
        .unwrap_err();
    assert_eq!(dup.kind(), ErrorKind::AlreadyExists);
    store
        .update_hotspot(h1, "Square 2", "{\"a\":2}", WallTime(20))
        .await
        .unwrap();
    let missing = uuid::Uuid::new_v4();
    let e = store
        .update_hotspot(missing, "x", "{}", WallTime(20))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    let got = store.get_hotspot(h1).await.unwrap().unwrap();
    assert_eq!(
        (got.name.as_str(), got.document.as_str()),
        ("Square 2", "{\"a\":2}")
    );
    assert_eq!(
        (got.created_at, got.updated_at),
        (WallTime(10), WallTime(20))
    );
    let all = store.list_hotspots().await.unwrap();
    assert_eq!(all.iter().map(|h| h.id).collect::<Vec<_>>(), vec![h1, h2]);

    // Rules: need their hotspot; list by hotspot; update; cascade on hotspot delete.
    let rule = |id, hotspot, enabled| RuleRow {
        id,
        hotspot_id: hotspot,
        document: format!("{{\"id\":\"{id}\"}}"),
        enabled,
        created_at: WallTime(30),
        updated_at: WallTime(30),
    };
    let (r1, r2, r3) = (
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
    );
    store.insert_rule(&rule(r1, h1, true)).await.unwrap();
    store.insert_rule(&rule(r2, h1, false)).await.unwrap();
    store.insert_rule(&rule(r3, h2, true)).await.unwrap();
    let orphan = store
        .insert_rule(&rule(uuid::Uuid::new_v4(), missing, true))
        .await;
    assert_eq!(orphan.unwrap_err().kind(), ErrorKind::FailedPrecondition);
    assert_eq!(store.list_rules(Some(h1)).await.unwrap().len(), 2);
    assert_eq!(store.list_rules(None).await.unwrap().len(), 3);
    let mut changed = rule(r2, h1, true);
    changed.updated_at = WallTime(40);
    store.update_rule(&changed).await.unwrap();
    let got = store.get_rule(r2).await.unwrap().unwrap();
    assert!(got.enabled);
    assert_eq!(
        (got.created_at, got.updated_at),
        (WallTime(30), WallTime(40))
    );
    assert!(store.delete_rule(r2).await.unwrap());
    assert!(!store.delete_rule(r2).await.unwrap());
    assert!(store.delete_hotspot(h1).await.unwrap());
    assert!(
        store.get_rule(r1).await.unwrap().is_none(),
        "rules go with their hotspot"
    );
    assert_eq!(store.list_rules(None).await.unwrap().len(), 1);

    // Analysis settings: upsert, bad fps refused, unknown camera refused.
    assert!(store.camera_analysis(cam.id).await.unwrap().is_none());
    store
        .set_camera_analysis(cam.id, false, 2.5, WallTime(50))
        .await
        .unwrap();
    store
        .set_camera_analysis(cam.id, true, 4.0, WallTime(60))
        .await
        .unwrap();
    let a = store.camera_analysis(cam.id).await.unwrap().unwrap();
    assert!(a.enabled && a.fps == 4.0 && a.updated_at == WallTime(60));
    assert_eq!(store.list_camera_analysis().await.unwrap(), vec![a]);
    for fps in [0.0, -1.0, f64::NAN] {
        let e = store
            .set_camera_analysis(cam.id, true, fps, WallTime(70))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    }
    let e = store
        .set_camera_analysis(CameraId::new_random(), true, 5.0, WallTime(70))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::FailedPrecondition);

    // Incidents: open, update, snapshot, close once, list with filters.
    let other_cam = CameraId::new_random();
    let a1 = incident(cam.id, h2, 100_000_000);
    let a2 = incident(cam.id, h1, 200_000_000);
    let a3 = incident(other_cam, h2, 300_000_000);
    for i in [&a1, &a2, &a3] {
        store.insert_incident(i).await.unwrap();
    }
    store
        .update_incident(a1.id, 0.9, &[2, 4, 7], WallTime(150_000_000))
        .await
        .unwrap();
    store.set_incident_snapshot(a1.id, "a1.jpg").await.unwrap();
    for bad in ["../x.jpg", "a/b.jpg", "", ".jpg", "a.b.jpg"] {
        let e = store.set_incident_snapshot(a1.id, bad).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad}");
    }
    assert!(
        store
            .close_incident(a1.id, 0.95, WallTime(160_000_000), WallTime(170_000_000))
            .await
            .unwrap()
    );
    assert!(
        !store
            .close_incident(a1.id, 0.99, WallTime(165_000_000), WallTime(175_000_000))
            .await
            .unwrap()
    );
    let got = store.get_incident(a1.id).await.unwrap().unwrap();
    assert_eq!(got.state, IncidentState::Closed);
    assert_eq!(got.incident.peak_score, 0.95);
    assert_eq!(got.incident.track_ids, vec![2, 4, 7]);
    assert_eq!(got.closed_at, Some(WallTime(160_000_000)));
    assert_eq!(got.evidence_end, Some(WallTime(170_000_000)));
    assert_eq!(got.snapshot.as_deref(), Some("a1.jpg"));
    assert_eq!(got.incident.evidence_start, WallTime(90_000_000));
    let open = store.get_incident(a2.id).await.unwrap().unwrap();
    assert_eq!(open.state, IncidentState::Open);
    assert_eq!(open.incident, a2);
    assert!(open.closed_at.is_none() && open.evidence_end.is_none());

    let list = |f: IncidentFilter| {
        let store = store.clone();
        async move {
            store
                .list_incidents(&f)
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.incident.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        list(IncidentFilter::default()).await,
        vec![a3.id, a2.id, a1.id]
    );
    assert_eq!(
        list(IncidentFilter {
            camera: Some(cam.id),
            ..Default::default()
        })
        .await,
        vec![a2.id, a1.id]
    );
    assert_eq!(
        list(IncidentFilter {
            hotspot: Some(h2),
            ..Default::default()
        })
        .await,
        vec![a3.id, a1.id]
    );
    assert_eq!(
        list(IncidentFilter {
            state: Some(IncidentState::Closed),
            ..Default::default()
        })
        .await,
        vec![a1.id]
    );
    assert_eq!(
        list(IncidentFilter {
            limit: 1,
            ..Default::default()
        })
        .await,
        vec![a3.id]
    );
    // Time: a1 spans 100..160 s, the others are open from 200 s and 300 s.
    let t = |s: i64| Some(WallTime(s * 1_000_000));
    assert_eq!(
        list(IncidentFilter {
            start: t(170),
            ..Default::default()
        })
        .await,
        vec![a3.id, a2.id]
    );
    assert_eq!(
        list(IncidentFilter {
            end: t(200),
            ..Default::default()
        })
        .await,
        vec![a1.id]
    );
    assert_eq!(
        list(IncidentFilter {
            start: t(150),
            end: t(250),
            ..Default::default()
        })
        .await,
        vec![a2.id, a1.id]
    );

    // Left open by a stop: closed at their last update, evidence extended by the post-roll.
    assert_eq!(
        store
            .close_stale_incidents(std::time::Duration::from_secs(10))
            .await
            .unwrap(),
        2
    );
    let got = store.get_incident(a3.id).await.unwrap().unwrap();
    assert_eq!(got.state, IncidentState::Closed);
    assert_eq!(got.closed_at, Some(WallTime(300_000_000)));
    assert_eq!(got.evidence_end, Some(WallTime(310_000_000)));
    assert_eq!(
        store
            .close_stale_incidents(std::time::Duration::from_secs(10))
            .await
            .unwrap(),
        0
    );
}

pub(crate) fn new_user(name: &str, role: &str) -> NewUser {
    NewUser {
        username: name.into(),
        password_hash: format!("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$hash-of-{name}"),
        role: role.into(),
        scope: "{}".into(),
    }
}

fn token(hash_byte: u8, user_id: i64, kind: TokenKind, created: i64, expires: i64) -> NewToken {
    NewToken {
        hash: [hash_byte; 32],
        user_id,
        kind,
        label: format!("token {hash_byte}"),
        created_at: WallTime::from_secs(created),
        expires_at: WallTime::from_secs(expires),
    }
}

#[tokio::test]
async fn a_user_of_another_role_made_before_the_first_admin_does_not_end_the_setup() {
    let (_dir, store) = open_tmp().await;
    let t = WallTime::from_secs;
    // The demo registers its patrol car (a `unit` user) before anyone has signed in.
    store
        .create_user(&new_user("demo-car", "unit"), t(1))
        .await
        .unwrap();
    assert!(store.ensure_setup_token(&[4; 32], t(2)).await.unwrap());
    assert!(store.setup_pending().await.unwrap());
    let id = store
        .consume_setup_token(&[4; 32], &new_user("root-admin", "admin"), t(3))
        .await
        .unwrap();
    assert!(id.is_some());
    // Once an admin exists there is no setup, whatever other users there are.
    assert!(!store.ensure_setup_token(&[5; 32], t(4)).await.unwrap());
    assert!(!store.setup_pending().await.unwrap());
    assert_eq!(
        store
            .consume_setup_token(&[5; 32], &new_user("second", "admin"), t(5))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn users_tokens_and_the_setup_token() {
    let (_dir, store) = open_tmp().await;
    let t = WallTime::from_secs;

    // First start: no users, a setup token is stored; a later start replaces it.
    assert!(!store.has_users().await.unwrap());
    assert!(!store.setup_pending().await.unwrap());
    assert!(store.ensure_setup_token(&[1; 32], t(10)).await.unwrap());
    assert!(store.setup_pending().await.unwrap());
    assert!(store.ensure_setup_token(&[2; 32], t(20)).await.unwrap());
    let admin = new_user("root-admin", "admin");
    // The replaced token and a wrong one do nothing; a non-admin cannot be created with it.
    assert_eq!(
        store
            .consume_setup_token(&[1; 32], &admin, t(30))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .consume_setup_token(&[9; 32], &admin, t(30))
            .await
            .unwrap(),
        None
    );
    let e = store
        .consume_setup_token(&[2; 32], &new_user("x", "operator"), t(30))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(!store.has_users().await.unwrap());
    // The right one creates the first admin, once.
    let admin_id = store
        .consume_setup_token(&[2; 32], &admin, t(40))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store
            .consume_setup_token(&[2; 32], &new_user("second", "admin"), t(41))
            .await
            .unwrap(),
        None
    );
    assert!(!store.setup_pending().await.unwrap());
    assert!(!store.ensure_setup_token(&[3; 32], t(50)).await.unwrap());
    assert_eq!(
        store
            .consume_setup_token(&[3; 32], &new_user("third", "admin"), t(51))
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.list_users().await.unwrap().len(), 1);
    assert!(store.has_admin().await.unwrap());

    // Users.
    let got = store.user_by_id(admin_id).await.unwrap().unwrap();
    assert_eq!(
        (got.username.as_str(), got.role.as_str(), got.created_at),
        ("root-admin", "admin", t(40))
    );
    assert_eq!(got.password_hash, admin.password_hash);
    assert!(
        !format!("{got:?}").contains("hash-of"),
        "Debug leaks the hash"
    );
    let olga = store
        .create_user(&new_user("olga", "operator"), t(60))
        .await
        .unwrap();
    let e = store
        .create_user(&new_user("olga", "investigator"), t(61))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AlreadyExists);
    let e = store
        .create_user(&new_user("mallory", "root"), t(61))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert_eq!(store.user_by_name("olga").await.unwrap().unwrap().id, olga);
    assert!(store.user_by_name("OLGA").await.unwrap().is_none());
    assert!(store.user_by_id(9999).await.unwrap().is_none());
    let names: Vec<String> = store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, vec!["root-admin", "olga"]);
    store.set_password(olga, "$argon2id$new").await.unwrap();
    assert_eq!(
        store.user_by_id(olga).await.unwrap().unwrap().password_hash,
        "$argon2id$new"
    );
    assert_eq!(
        store.set_password(9999, "x").await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    let scope = r#"{"cameras":["00000000-0000-0000-0000-000000000001"]}"#;
    store
        .set_user_access(olga, "investigator", scope)
        .await
        .unwrap();
    let u = store.user_by_id(olga).await.unwrap().unwrap();
    assert_eq!((u.role.as_str(), u.scope.as_str()), ("investigator", scope));
    assert_eq!(
        store
            .set_user_access(olga, "god", "{}")
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument
    );

    // Tokens: only for live users, authenticate until expiry, record their use coarsely.
    let e = store
        .create_token(&token(7, olga, TokenKind::Session, 100, 100))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    let e = store
        .create_token(&token(7, 9999, TokenKind::Session, 100, 200))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    store
        .create_token(&token(7, olga, TokenKind::Session, 100, 200))
        .await
        .unwrap();
    let e = store
        .create_token(&token(7, olga, TokenKind::Api, 100, 200))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AlreadyExists);
    let (u, kind) = store
        .user_for_token(&[7; 32], t(110))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((u.id, kind), (olga, TokenKind::Session));
    store
        .user_for_token(&[7; 32], t(120))
        .await
        .unwrap()
        .unwrap();
    let last_used =
        |store: Store, user| async move { store.list_tokens(user).await.unwrap()[0].last_used_at };
    assert_eq!(
        last_used(store.clone(), olga).await,
        Some(t(110)),
        "written at most once a minute"
    );
    store
        .user_for_token(&[7; 32], t(170))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last_used(store.clone(), olga).await, Some(t(170)));
    assert!(
        store
            .user_for_token(&[7; 32], t(199))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .user_for_token(&[7; 32], t(200))
            .await
            .unwrap()
            .is_none(),
        "expired at expires_at"
    );
    assert!(
        store
            .user_for_token(&[8; 32], t(110))
            .await
            .unwrap()
            .is_none(),
        "unknown"
    );

    // Revocation.
    store
        .create_token(&token(8, olga, TokenKind::Api, 100, 10_000))
        .await
        .unwrap();
    store
        .create_token(&token(9, olga, TokenKind::Api, 100, 10_000))
        .await
        .unwrap();
    store
        .create_token(&token(10, admin_id, TokenKind::Api, 100, 10_000))
        .await
        .unwrap();
    assert_eq!(
        store
            .user_for_token(&[8; 32], t(300))
            .await
            .unwrap()
            .unwrap()
            .1,
        TokenKind::Api
    );
    assert!(store.revoke_token(&[8; 32], t(301)).await.unwrap());
    assert!(!store.revoke_token(&[8; 32], t(302)).await.unwrap());
    assert!(!store.revoke_token(&[99; 32], t(302)).await.unwrap());
    // One token of one user: another user's token is not reached through it.
    assert!(
        !store
            .revoke_user_token(olga, &[10; 32], t(302))
            .await
            .unwrap()
    );
    assert!(
        !store
            .revoke_user_token(olga, &[8; 32], t(302))
            .await
            .unwrap(),
        "revoked already"
    );
    assert!(
        store
            .user_for_token(&[8; 32], t(303))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store.revoke_user_tokens(olga, t(304)).await.unwrap(),
        2,
        "the expired one and token 9"
    );
    assert!(
        store
            .user_for_token(&[9; 32], t(305))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .user_for_token(&[10; 32], t(305))
            .await
            .unwrap()
            .is_some(),
        "other users keep theirs"
    );
    let rows = store.list_tokens(olga).await.unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows.iter()
            .find(|r| r.token.hash == [8; 32])
            .unwrap()
            .revoked_at,
        Some(t(301))
    );

    // Disabling revokes at once and keeps the user's row.
    let piet = store
        .create_user(&new_user("piet", "unit"), t(400))
        .await
        .unwrap();
    store
        .create_token(&token(11, piet, TokenKind::Api, 400, 10_000))
        .await
        .unwrap();
    assert!(
        store
            .user_for_token(&[11; 32], t(401))
            .await
            .unwrap()
            .is_some()
    );
    assert!(store.disable_user(piet, t(402)).await.unwrap());
    assert!(!store.disable_user(piet, t(403)).await.unwrap());
    assert!(
        store
            .user_for_token(&[11; 32], t(404))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store.list_tokens(piet).await.unwrap()[0].revoked_at,
        Some(t(402))
    );
    let e = store
        .create_token(&token(12, piet, TokenKind::Api, 405, 10_000))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::FailedPrecondition);
    assert_eq!(
        store.user_by_id(piet).await.unwrap().unwrap().disabled_at,
        Some(t(402))
    );
    assert_eq!(
        store.disable_user(9999, t(405)).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );

    // The last enabled admin stays.
    let e = store.disable_user(admin_id, t(500)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::FailedPrecondition);
    let e = store
        .set_user_access(admin_id, "operator", "{}")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::FailedPrecondition);
    store
        .set_user_access(admin_id, "admin", "{}")
        .await
        .unwrap();
    let second = store
        .create_user(&new_user("second-admin", "admin"), t(501))
        .await
        .unwrap();
    assert!(store.disable_user(admin_id, t(502)).await.unwrap());
    assert!(
        store
            .user_for_token(&[10; 32], t(503))
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.has_admin().await.unwrap());
    assert!(store.disable_user(second, t(504)).await.is_err());

    // Dead tokens can be cleaned out; live ones stay.
    store
        .create_token(&token(13, second, TokenKind::Session, 600, 10_000))
        .await
        .unwrap();
    let removed = store.delete_dead_tokens(t(1_000)).await.unwrap();
    assert_eq!(removed, 5, "expired 7; revoked 8, 9, 10 and 11");
    assert!(
        store
            .user_for_token(&[13; 32], t(700))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn the_audit_log_is_append_only_and_filters() {
    let (_dir, store) = open_tmp().await;
    let t = WallTime::from_secs;
    let entry = |time: i64, actor: &str, action: &str, outcome: &str| NewAudit {
        time: t(time),
        actor: actor.into(),
        role: (actor != "anonymous").then(|| "operator".to_string()),
        action: action.into(),
        target: Some("camera:00000000-0000-0000-0000-000000000001".into()),
        outcome: outcome.into(),
        status: Some(if outcome == "ok" { 200 } else { 401 }),
        reason: (action == "footage.view").then(|| "case 2026/17".to_string()),
        source_ip: Some("192.0.2.1".into()),
    };
    let a = store
        .append_audit(&entry(10, "anonymous", "login_failed", "denied"))
        .await
        .unwrap();
    let b = store
        .append_audit(&entry(20, "olga", "login", "ok"))
        .await
        .unwrap();
    let c = store
        .append_audit(&entry(30, "olga", "footage.view", "ok"))
        .await
        .unwrap();
    let d = store
        .append_audit(&entry(40, "piet", "login", "ok"))
        .await
        .unwrap();
    assert!(a < b && b < c && c < d);
    let e = store
        .append_audit(&entry(50, "olga", "login", "maybe"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);

    let ids = |f: AuditFilter| {
        let store = store.clone();
        async move {
            store
                .audit(&f)
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(ids(AuditFilter::default()).await, vec![d, c, b, a]);
    assert_eq!(
        ids(AuditFilter {
            actor: Some("olga".into()),
            ..Default::default()
        })
        .await,
        vec![c, b]
    );
    assert_eq!(
        ids(AuditFilter {
            action: Some("login".into()),
            ..Default::default()
        })
        .await,
        vec![d, b]
    );
    assert_eq!(
        ids(AuditFilter {
            since: Some(t(20)),
            until: Some(t(40)),
            ..Default::default()
        })
        .await,
        vec![c, b]
    );
    assert_eq!(
        ids(AuditFilter {
            limit: 2,
            ..Default::default()
        })
        .await,
        vec![d, c]
    );
    assert_eq!(
        ids(AuditFilter {
            before_id: Some(c),
            limit: 2,
            ..Default::default()
        })
        .await,
        vec![b, a]
    );
    // A filter value is data, never SQL.
    assert!(
        ids(AuditFilter {
            actor: Some("x' OR '1'='1".into()),
            ..Default::default()
        })
        .await
        .is_empty()
    );
    let all = store.audit(&AuditFilter::default()).await.unwrap();
    assert_eq!(all[1].entry, entry(30, "olga", "footage.view", "ok"));
    assert_eq!(all[3].entry.role, None);

    // Neither UPDATE nor DELETE gets through, not even from inside the store.
    for sql in [
        "UPDATE audit_log SET actor = 'nobody' WHERE id = 1",
        "UPDATE audit_log SET reason = NULL",
        "DELETE FROM audit_log WHERE id = 1",
        "DELETE FROM audit_log",
    ] {
        let err = sqlx::query(sql).execute(&store.pool).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(store.audit(&AuditFilter::default()).await.unwrap(), all);
}

fn alerting_incident(hotspot: uuid::Uuid, camera: CameraId, at: WallTime) -> NewIncident {
    NewIncident {
        id: uuid::Uuid::new_v4(),
        rule_id: uuid::Uuid::from_u128(77),
        camera,
        hotspot_id: hotspot,
        seq: 1,
        kind: "crowding".into(),
        severity: "high".into(),
        priority: 3,
        alerting: true,
        reason: "r".into(),
        opened_at: at,
        peak_score: 0.9,
        track_ids: vec![1],
        model_id: "m".into(),
        evidence_start: at,
    }
}

fn link(inc: &NewIncident) -> AlertIncident {
    AlertIncident {
        incident_id: inc.id,
        rule_id: inc.rule_id,
        camera: inc.camera,
        opened_at: inc.opened_at,
    }
}

fn new_alert(hotspot: uuid::Uuid, at: WallTime) -> NewAlert {
    NewAlert {
        id: uuid::Uuid::new_v4(),
        hotspot_id: hotspot,
        severity: "high".into(),
        priority: 3,
        lat: Some(59.33),
        lon: Some(18.06),
        created_at: at,
    }
}

#[tokio::test]
async fn commits_signal_their_watchers_and_only_theirs() {
    use crate::Change;
    let (_d, store) = open_tmp().await;
    let mut incidents = store.watch(Change::Incidents);
    let mut events = store.clone().watch(Change::AlertEvents);
    let hooks = store.watch(Change::Webhooks);
    let hotspot = uuid::Uuid::new_v4();
    let t0 = WallTime::from_secs(1_800_000_000);
    let i1 = alerting_incident(hotspot, CameraId::new_random(), t0);
    let i2 = alerting_incident(hotspot, CameraId::new_random(), t0);
    // Two incidents while nobody looked: one signal, and only to the incidents' watchers.
    store.insert_incident(&i1).await.unwrap();
    store.insert_incident(&i2).await.unwrap();
    assert!(incidents.has_changed().unwrap());
    incidents.borrow_and_update();
    assert!(
        !incidents.has_changed().unwrap(),
        "two signals were kept apart"
    );
    assert!(!events.has_changed().unwrap() && !hooks.has_changed().unwrap());
    // A failed write signals nothing.
    assert!(store.insert_incident(&i1).await.is_err());
    assert!(!incidents.has_changed().unwrap());

    // An alert raised, then changed: its events' watchers wake, after the rows are readable.
    let waiter = {
        let (store, mut events) = (store.clone(), events.clone());
        tokio::spawn(async move {
            events.changed().await.unwrap();
            store.alert_events_after(0, 10).await.unwrap().len()
        })
    };
    let (alert, _, _) = store
        .raise_or_merge_alert(&link(&i1), &new_alert(hotspot, t0), "system", |_| None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        waiter.await.unwrap(),
        1,
        "woken before the event could be read"
    );
    assert!(events.has_changed().unwrap());
    events.borrow_and_update();
    let change = AlertChange {
        from_state: alert.state.clone(),
        from_claimed_by: None,
        to_state: "claimed".into(),
        claimed_by: Some(1),
        at: t0,
    };
    let ev = NewAlertEvent {
        kind: "claim".into(),
        actor: "op".into(),
        unit_id: None,
        detail: "{}".into(),
    };
    store
        .alert_transition(alert.id, &change, &ev)
        .await
        .unwrap();
    assert!(events.has_changed().unwrap());
    events.borrow_and_update();
    // The same change again fails its compare-and-set: nothing committed, nothing signalled.
    assert!(
        store
            .alert_transition(alert.id, &change, &ev)
            .await
            .is_err()
    );
    assert!(!events.has_changed().unwrap());
    assert!(!incidents.has_changed().unwrap() && !hooks.has_changed().unwrap());
}

#[tokio::test]
async fn alerts_merge_change_state_by_compare_and_set_and_log_every_event() {
    let (_d, store) = open_tmp().await;
    let hotspot = uuid::Uuid::new_v4();
    let (c1, c2) = (CameraId::new_random(), CameraId::new_random());
    let t0 = WallTime::from_secs(1_800_000_000);
    let i1 = alerting_incident(hotspot, c1, t0);
    let i2 = alerting_incident(hotspot, c2, t0.plus(std::time::Duration::from_secs(5)));
    let mut quiet = alerting_incident(hotspot, c1, t0);
    quiet.alerting = false;
    for i in [&i1, &i2, &quiet] {
        store.insert_incident(i).await.unwrap();
    }
    let pending = store.unalerted_incidents(WallTime(0), 10).await.unwrap();
    assert_eq!(pending, vec![(i1.id, i1.opened_at), (i2.id, i2.opened_at)]);

    let a = new_alert(hotspot, t0);
    let (alert, ev1, merged) = store
        .raise_or_merge_alert(&link(&i1), &a, "system", |_| panic!("no alert to join yet"))
        .await
        .unwrap()
        .unwrap();
    assert!(!merged);
    assert_eq!((alert.state.as_str(), ev1.kind.as_str()), ("new", "raised"));
    // The second camera's incident joins it.
    let (joined, ev2, merged) = store
        .raise_or_merge_alert(&link(&i2), &new_alert(hotspot, t0), "system", |cand| {
            assert_eq!(cand.id, a.id);
            Some(MergeUpdate {
                severity: "critical".into(),
                priority: 5,
            })
        })
        .await
        .unwrap()
        .unwrap();
    assert!(merged);
    assert_eq!(joined.id, a.id);
    assert_eq!(joined.incidents.len(), 2);
    assert_eq!(joined.severity, "critical");
    assert_eq!(ev2.seq, ev1.seq + 1);
    // An incident joins at most once.
    assert!(
        store
            .raise_or_merge_alert(&link(&i2), &new_alert(hotspot, t0), "system", |_| None)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .unalerted_incidents(WallTime(0), 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Claim by compare-and-set; a decision made on stale state is refused.
    let claim = AlertChange {
        from_state: "new".into(),
        from_claimed_by: None,
        to_state: "claimed".into(),
        claimed_by: Some(7),
        at: t0.plus(std::time::Duration::from_secs(10)),
    };
    let ev = |kind: &str| NewAlertEvent {
        kind: kind.into(),
        actor: "op".into(),
        unit_id: None,
        detail: "{}".into(),
    };
    let (claimed, ev3) = store
        .alert_transition(a.id, &claim, &ev("claim"))
        .await
        .unwrap();
    assert_eq!(
        (claimed.state.as_str(), claimed.claimed_by),
        ("claimed", Some(7))
    );
    assert_eq!(claimed.claimed_at, Some(claim.at));
    let e = store
        .alert_transition(a.id, &claim, &ev("claim"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::FailedPrecondition);
    let ack = AlertChange {
        from_state: "claimed".into(),
        from_claimed_by: Some(7),
        to_state: "acknowledged".into(),
        claimed_by: Some(7),
        at: claim.at,
    };
    store
        .alert_transition(a.id, &ack, &ev("acknowledge"))
        .await
        .unwrap();

    // Dispatch to a unit; receipts, a replay, a second receipt id of a kind already recorded.
    let user = store
        .create_user(
            &NewUser {
                username: "car-1".into(),
                password_hash: "x".into(),
                role: "unit".into(),
                scope: "{}".into(),
            },
            t0,
        )
        .await
        .unwrap();
    let unit = uuid::Uuid::new_v4();
    store
        .create_unit(unit, "car-1", "joint", user, t0)
        .await
        .unwrap();
    store.set_unit_position(unit, 59.3, 18.0, t0).await.unwrap();
    store.set_unit_status(unit, "available", t0).await.unwrap();
    assert_eq!(store.unit_of_user(user).await.unwrap().unwrap().id, unit);
    let dispatch = AlertChange {
        from_state: "acknowledged".into(),
        from_claimed_by: Some(7),
        to_state: "dispatched".into(),
        claimed_by: Some(7),
        at: claim.at,
    };
    let (_, devs) = store
        .dispatch_alert(a.id, &dispatch, &[unit], "op", None)
        .await
        .unwrap();
    assert_eq!(devs.len(), 1);
    assert_eq!(devs[0].unit_id, Some(unit));
    assert_eq!(store.get_unit(unit).await.unwrap().unwrap().status, "busy");
    let at = claim.at.plus(std::time::Duration::from_secs(60));
    let r = store
        .record_receipt(
            &NewReceipt {
                unit,
                receipt_id: "r-1",
                alert: a.id,
                kind: "arrived",
                at,
                actor: "car-1",
            },
            |s| {
                assert_eq!(s, "dispatched");
                Some("on_scene".into())
            },
        )
        .await
        .unwrap();
    let ReceiptStored::Recorded {
        dispatch: d,
        event: Some(rev),
    } = r
    else {
        panic!("first receipt records")
    };
    assert_eq!(d.arrived_at, Some(at));
    assert_eq!(rev.state, "on_scene");
    let before = store.last_alert_seq().await.unwrap();
    let replay = store
        .record_receipt(
            &NewReceipt {
                unit,
                receipt_id: "r-1",
                alert: a.id,
                kind: "arrived",
                at,
                actor: "car-1",
            },
            |_| panic!("replay"),
        )
        .await
        .unwrap();
    assert_eq!(
        replay,
        ReceiptStored::Replayed {
            alert_id: a.id,
            kind: "arrived".into()
        }
    );
    let again = store
        .record_receipt(
            &NewReceipt {
                unit,
                receipt_id: "r-2",
                alert: a.id,
                kind: "arrived",
                at,
                actor: "car-1",
            },
            |_| panic!("no change"),
        )
        .await
        .unwrap();
    assert!(matches!(again, ReceiptStored::Recorded { event: None, .. }));
    assert_eq!(
        store.last_alert_seq().await.unwrap(),
        before,
        "nothing appended"
    );
    // A unit not dispatched to the alert cannot post receipts for it.
    let e = store
        .record_receipt(
            &NewReceipt {
                unit: uuid::Uuid::new_v4(),
                receipt_id: "r-3",
                alert: a.id,
                kind: "arrived",
                at,
                actor: "x",
            },
            |_| None,
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);

    // False alarm: precision counts it for both (rule, camera) pairs.
    let fa = AlertChange {
        from_state: "on_scene".into(),
        from_claimed_by: Some(7),
        to_state: "false_alarm".into(),
        claimed_by: Some(7),
        at,
    };
    let (closed, _) = store
        .alert_transition(a.id, &fa, &ev("false_alarm"))
        .await
        .unwrap();
    assert_eq!(closed.closed_at, Some(at));
    let p = store.alert_precision().await.unwrap();
    assert_eq!(p.len(), 2);
    assert!(p.iter().all(|r| r.closed == 1 && r.false_alarms == 1));

    // The event log: every change, in seq order, readable from any point, append-only.
    let all = store.alert_events_after(0, 100).await.unwrap();
    let kinds: Vec<&str> = all.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "raised",
            "merged",
            "claim",
            "acknowledge",
            "dispatch",
            "receipt",
            "false_alarm"
        ]
    );
    assert!(all.windows(2).all(|w| w[1].seq == w[0].seq + 1));
    assert_eq!(all[0].seq, ev1.seq);
    assert_eq!(all[2].seq, ev3.seq);
    let tail = store.alert_events_after(ev3.seq, 100).await.unwrap();
    assert_eq!(tail.len(), 4);
    assert_eq!(store.alert_events_of(a.id).await.unwrap(), all);
    assert!(
        sqlx::query("DELETE FROM alert_events")
            .execute(&store.pool)
            .await
            .is_err()
    );
    assert!(
        sqlx::query("UPDATE alert_events SET kind = 'x'")
            .execute(&store.pool)
            .await
            .is_err()
    );
    // After the false alarm, a new incident of the hotspot is a new alert.
    let i3 = alerting_incident(hotspot, c1, at);
    store.insert_incident(&i3).await.unwrap();
    let (fresh, _, merged) = store
        .raise_or_merge_alert(&link(&i3), &new_alert(hotspot, at), "system", |_| {
            panic!("closed alerts are not offered")
        })
        .await
        .unwrap()
        .unwrap();
    assert!(!merged);
    assert_ne!(fresh.id, a.id);
    let listed = store.list_alerts(&AlertFilter::default()).await.unwrap();
    assert_eq!(
        listed.iter().map(|a| a.id).collect::<Vec<_>>(),
        vec![fresh.id, a.id]
    );
    let newest = store
        .list_alerts(&AlertFilter {
            state: Some("new".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(newest.len(), 1);
    assert_eq!(
        store.alerts_awaiting_acknowledgement().await.unwrap().len(),
        1
    );
}

#[tokio::test]
async fn alert_pages_follow_the_id_cursor_even_for_alerts_raised_at_the_same_time() {
    let (_d, store) = open_tmp().await;
    let t = WallTime::from_secs(1_800_000_000);
    let mut raised = Vec::new();
    for _ in 0..5 {
        let h = uuid::Uuid::new_v4();
        let inc = alerting_incident(h, CameraId::new_random(), t);
        store.insert_incident(&inc).await.unwrap();
        let (a, _, _) = store
            .raise_or_merge_alert(&link(&inc), &new_alert(h, t), "system", |_| None)
            .await
            .unwrap()
            .unwrap();
        raised.push(a.id);
    }
    let mut seen = Vec::new();
    let mut filter = AlertFilter {
        limit: 2,
        ..Default::default()
    };
    loop {
        let page = store.list_alerts(&filter).await.unwrap();
        if page.is_empty() {
            break;
        }
        seen.extend(page.iter().map(|a| a.id));
        filter.before_id = page.last().map(|a| a.id);
    }
    raised.sort();
    raised.reverse();
    assert_eq!(
        seen, raised,
        "every alert once, newest (then largest id) first"
    );
    filter.before_id = Some(uuid::Uuid::new_v4());
    assert!(store.list_alerts(&filter).await.unwrap().is_empty());
}

fn webhook(name: &str, kinds: &[&str], hotspots: Vec<uuid::Uuid>) -> NewWebhook {
    NewWebhook {
        id: uuid::Uuid::new_v4(),
        name: name.into(),
        url: "http://127.0.0.1:9/hook".into(),
        secret: "whsec-very-secret-value".into(),
        kinds: kinds.iter().map(|k| (*k).to_string()).collect(),
        hotspots,
        enabled: true,
        created_at: WallTime::from_secs(1_800_000_000),
        format: crate::WebhookFormat::Json,
    }
}

#[tokio::test]
async fn webhooks_keep_secrets_encrypted_and_deliveries_once_per_event() {
    let (_d, store) = open_tmp().await;
    let t = WallTime::from_secs(1_800_000_000);
    // An event before the subscription exists is not for it.
    let h = uuid::Uuid::new_v4();
    let inc = alerting_incident(h, CameraId::new_random(), t);
    store.insert_incident(&inc).await.unwrap();
    let (_, ev0, _) = store
        .raise_or_merge_alert(&link(&inc), &new_alert(h, t), "system", |_| None)
        .await
        .unwrap()
        .unwrap();

    let new = webhook("ops", &["raised"], vec![h]);
    let row = store.insert_webhook(&new).await.unwrap();
    assert_eq!(row.after_seq, ev0.seq);
    assert!(!row.wants(ev0.seq, "raised", h), "history is not sent");
    assert!(row.wants(ev0.seq + 1, "raised", h));
    assert!(!row.wants(ev0.seq + 1, "claim", h));
    assert!(!row.wants(ev0.seq + 1, "raised", uuid::Uuid::new_v4()));
    assert!(!format!("{new:?}").contains("very-secret"));
    assert_eq!(
        store.insert_webhook(&new).await.unwrap_err().kind(),
        ErrorKind::AlreadyExists
    );

    // Encrypted at rest, bound to the subscription, readable through the key.
    let (raw,): (String,) = sqlx::query_as("SELECT secret FROM webhooks WHERE id = $1")
        .bind(new.id.to_string())
        .fetch_one(&store.pool)
        .await
        .unwrap();
    assert!(raw.starts_with(ENCRYPTED_PREFIX));
    assert!(!raw.contains("very-secret"));
    assert_eq!(
        store.webhook_secret(new.id).await.unwrap(),
        "whsec-very-secret-value"
    );
    let other = store
        .insert_webhook(&webhook("b", &[], vec![]))
        .await
        .unwrap();
    sqlx::query("UPDATE webhooks SET secret = $1 WHERE id = $2")
        .bind(&raw)
        .bind(other.id.to_string())
        .execute(&store.pool)
        .await
        .unwrap();
    let e = store.webhook_secret(other.id).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DataLoss);
    assert!(!e.to_string().contains(&raw));
    assert_eq!(
        store
            .webhook_secret(uuid::Uuid::new_v4())
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    assert_eq!(store.list_webhooks().await.unwrap().len(), 2);

    // Enqueue with the cursor, once per subscription and seq.
    assert_eq!(store.webhook_cursor().await.unwrap(), 0);
    let d = |seq| NewDelivery {
        webhook_id: new.id,
        seq,
        event_kind: "raised".into(),
        body: format!("{{\"seq\":{seq}}}"),
    };
    assert_eq!(
        store
            .enqueue_webhook_deliveries(12, &[d(11), d(12)], t)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .enqueue_webhook_deliveries(12, &[d(12)], t)
            .await
            .unwrap(),
        0
    );
    // The cursor never goes back; a delivery for a deleted subscription is not enqueued.
    let gone = NewDelivery {
        webhook_id: uuid::Uuid::new_v4(),
        ..d(13)
    };
    assert_eq!(
        store
            .enqueue_webhook_deliveries(5, &[gone], t)
            .await
            .unwrap(),
        0
    );
    assert_eq!(store.webhook_cursor().await.unwrap(), 12);

    let due = store.due_webhook_deliveries(t, 10).await.unwrap();
    assert_eq!(due.iter().map(|d| d.seq).collect::<Vec<_>>(), vec![11, 12]);
    assert_eq!(store.next_webhook_due().await.unwrap(), Some(t));
    assert_eq!(due[0].idempotency_key, format!("{}-11", new.id));
    assert_eq!(due[0].state, DeliveryState::Pending);

    // A retry moves it out of the due set until its time; delivered and dead are final.
    let later = t.plus(std::time::Duration::from_secs(2));
    let retry = AttemptOutcome::Retry {
        status: Some(500),
        error: "HTTP 500".into(),
        next: later,
    };
    assert!(
        store
            .record_webhook_attempt(due[0].id, &retry, t)
            .await
            .unwrap()
    );
    let ok = AttemptOutcome::Delivered { status: 200 };
    assert!(
        store
            .record_webhook_attempt(due[1].id, &ok, t)
            .await
            .unwrap()
    );
    assert!(
        store
            .due_webhook_deliveries(t, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // The sender sleeps until the retry is due, and not at all for a disabled subscription.
    assert_eq!(store.next_webhook_due().await.unwrap(), Some(later));
    let hooks = store.watch(crate::Change::Webhooks);
    store.set_webhook_enabled(new.id, false).await.unwrap();
    assert!(hooks.has_changed().unwrap(), "the sender is told");
    assert_eq!(store.next_webhook_due().await.unwrap(), None);
    store.set_webhook_enabled(new.id, true).await.unwrap();
    assert_eq!(store.next_webhook_due().await.unwrap(), Some(later));
    let again = store.due_webhook_deliveries(later, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].attempts, again[0].last_status), (1, Some(500)));
    let dead = AttemptOutcome::Dead {
        status: None,
        error: "connection refused".into(),
    };
    assert!(
        store
            .record_webhook_attempt(again[0].id, &dead, later)
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_webhook_attempt(again[0].id, &ok, later)
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_webhook_attempt(due[1].id, &retry, later)
            .await
            .unwrap()
    );
    assert_eq!(
        store.next_webhook_due().await.unwrap(),
        None,
        "nothing pending"
    );
    let all = store.webhook_deliveries(new.id, 10).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!((all[0].seq, all[0].state), (12, DeliveryState::Delivered));
    assert_eq!(all[0].delivered_at, Some(t));
    assert_eq!((all[1].seq, all[1].state), (11, DeliveryState::Dead));
    assert_eq!(all[1].attempts, 2);
    assert_eq!(all[1].last_error.as_deref(), Some("connection refused"));

    // Deleting a subscription deletes its deliveries.
    assert!(store.delete_webhook(new.id).await.unwrap());
    assert!(!store.delete_webhook(new.id).await.unwrap());
    assert!(store.get_webhook(new.id).await.unwrap().is_none());
    assert!(
        store
            .webhook_deliveries(new.id, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn where_a_ptz_camera_points_is_kept_and_goes_with_the_camera() {
    let (_dir, store) = open_tmp().await;
    let a = camera("gate");
    let b = camera("square");
    store.insert_camera(&a, WallTime(1)).await.unwrap();
    store.insert_camera(&b, WallTime(1)).await.unwrap();
    assert_eq!(store.ptz_state(a.id).await.unwrap(), None);
    assert!(store.cameras_away_from_home().await.unwrap().is_empty());
    let away = crate::PtzState {
        camera: a.id,
        away: true,
        position: "preset:gate".into(),
        changed_at: WallTime(5),
        changed_by: "dana".into(),
    };
    store.set_ptz_state(&away).await.unwrap();
    store
        .set_ptz_state(&crate::PtzState {
            camera: b.id,
            away: false,
            position: "home".into(),
            changed_at: WallTime(6),
            changed_by: "dana".into(),
        })
        .await
        .unwrap();
    assert_eq!(store.ptz_state(a.id).await.unwrap(), Some(away.clone()));
    assert_eq!(store.cameras_away_from_home().await.unwrap(), vec![a.id]);
    // Sent home: the same row, no longer away.
    let home = crate::PtzState {
        away: false,
        position: "home".into(),
        changed_at: WallTime(9),
        ..away
    };
    store.set_ptz_state(&home).await.unwrap();
    assert_eq!(store.ptz_state(a.id).await.unwrap(), Some(home));
    assert!(store.cameras_away_from_home().await.unwrap().is_empty());
    // No row for a camera that does not exist.
    let ghost = crate::PtzState {
        camera: CameraId::new_random(),
        away: true,
        position: "moved".into(),
        changed_at: WallTime(9),
        changed_by: "dana".into(),
    };
    let e = store.set_ptz_state(&ghost).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::FailedPrecondition);
    // The row goes with a camera that is deleted.
    store.delete_camera(a.id, WallTime(10)).await.unwrap();
    assert_eq!(store.ptz_state(a.id).await.unwrap(), None);
}

#[tokio::test]
async fn pool_settings_are_checked_and_reach_every_postgres_session() {
    let bad = PoolSettings {
        max_connections: 0,
        ..PoolSettings::default()
    };
    let e = Store::open_with("sqlite::memory:", &bad).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().contains("max_connections"), "{}", e.message());
    let bad = PoolSettings {
        statement_timeout: std::time::Duration::ZERO,
        ..PoolSettings::default()
    };
    let e = Store::open_with("sqlite::memory:", &bad).await.unwrap_err();
    assert!(
        e.message().contains("statement_timeout_secs"),
        "{}",
        e.message()
    );

    if !roeh_testkit::postgres::have_postgres("pool_settings_reach_every_postgres_session") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cluster = roeh_testkit::postgres::Cluster::start(dir.path()).unwrap();
    let url = cluster.create_database("pool").unwrap();
    let settings = PoolSettings {
        max_connections: 2,
        acquire_timeout: std::time::Duration::from_secs(5),
        statement_timeout: std::time::Duration::from_millis(300),
        idle_in_transaction_timeout: std::time::Duration::from_millis(1500),
    };
    let store = Store::open_with(&url, &settings).await.unwrap();
    assert_eq!(store.backend(), Backend::Postgres);
    // Each of the pool's connections has both timeouts.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut conn = store.pool.acquire().await.unwrap();
        let (st, idle): (String, String) = sqlx::query_as(
            "SELECT current_setting('statement_timeout'), \
             current_setting('idle_in_transaction_session_timeout')",
        )
        .fetch_one(&mut *conn)
        .await
        .unwrap();
        assert_eq!((st.as_str(), idle.as_str()), ("300ms", "1500ms"));
        held.push(conn);
    }
    drop(held);
    // A statement that runs longer is cancelled.
    let slow = sqlx::query("SELECT pg_sleep(2)").execute(&store.pool).await;
    let e = slow.unwrap_err().to_string();
    assert!(e.contains("statement timeout"), "{e}");
    // The store still works afterwards.
    store
        .set_credential_key(CredentialKey::generate().unwrap())
        .unwrap();
    store
        .insert_camera(&camera("Gate"), WallTime(1))
        .await
        .unwrap();
    assert_eq!(store.list_cameras().await.unwrap().len(), 1);
    store.close().await;
}

/// A NUL character: SQLite stores it, PostgreSQL cannot hold it in text and says so; the store
/// calls that bad input (a 400 at the API), never an internal fault.
#[tokio::test]
async fn text_postgresql_cannot_hold_is_bad_input_not_a_fault() {
    let (_d, store) = open_tmp().await;
    let r = store
        .create_user(&new_user("nul\u{0}name", "operator"), WallTime(1))
        .await;
    match store.backend() {
        Backend::Sqlite => {
            r.unwrap();
        }
        Backend::Postgres => assert_eq!(r.unwrap_err().kind(), ErrorKind::InvalidArgument),
    }
}
