//! Two `roeh serve` processes on one PostgreSQL (docs/design/0014-nodes-on-one-database.md):
//! nodes `a` and `b` with the same site keys (node a's key directory copied to node b), each
//! recording its own cameras (two of its configuration, and on node b one added through its API)
//! into its own footage directory, both for two minutes. Then the log is one log: its indices
//! are dense, every leaf is its segment's, gap's or event's row byte for byte, every chain
//! verifies, every checkpoint either process signed is consistent with every other, and a bundle
//! exported by each process verifies offline.
#![allow(clippy::unwrap_used)]

mod common;

use common::{BIN, Site, check_footage_of, get_json, runtime};
use roeh_domain::{CameraId, WallTime};
use roeh_evidence::checkpoint::SignedCheckpoint;
use roeh_evidence::merkle::{MerkleTree, verify_consistency};
use roeh_testcam::{TestCamConfig, TestCamServer};
use roeh_testkit::{footage, wait_for};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// How long both processes record at once.
const BOTH_RECORD: Duration = Duration::from_secs(120);
/// Each process signs a checkpoint this often (seconds) while the log grows.
const CHECKPOINT_SECS: f64 = 5.0;

fn now() -> WallTime {
    roeh_domain::Clock::wall(&roeh_domain::SystemClock::new())
}

/// Adds `line` to the `[server]` section of `site`'s configuration.
fn server_line(site: &Site, line: &str) {
    let toml = std::fs::read_to_string(&site.config).unwrap();
    let toml = toml.replacen("[server]\n", &format!("[server]\n{line}\n"), 1);
    std::fs::write(&site.config, toml).unwrap();
}

/// Appends `text` (whole sections) to `site`'s configuration.
fn append_config(site: &Site, text: &str) {
    let mut toml = std::fs::read_to_string(&site.config).unwrap();
    toml.push_str(text);
    std::fs::write(&site.config, toml).unwrap();
}

/// Copies the directory tree `from` to `to`, files and directories with their permissions (the
/// key directory must stay private).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    std::fs::set_permissions(to, std::fs::metadata(from).unwrap().permissions()).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// Waits until the node at `base` shows each of the cameras named `names` streaming; returns
/// their ids in that order.
fn wait_own_streaming(base: &str, names: &[String]) -> Vec<String> {
    wait_for(
        "the node's cameras streaming",
        Duration::from_secs(60),
        || {
            let v = get_json(&format!("{base}/api/cameras"));
            let cams = v.as_array()?;
            names
                .iter()
                .map(|n| {
                    let c = cams.iter().find(|c| c["name"] == n.as_str())?;
                    (c["health"]["state"] == "streaming")
                        .then(|| c["id"].as_str().map(String::from))?
                })
                .collect()
        },
    )
    .unwrap()
}

/// The segments the node at `base` lists for camera `id`, as (start, end) in microseconds.
fn segments(base: &str, id: &str) -> Vec<(i64, i64)> {
    let t = now();
    let v = get_json(&format!(
        "{base}/api/cameras/{id}/segments?start={}&end={}",
        t.minus(Duration::from_secs(3600)).0,
        t.plus(Duration::from_secs(3600)).0
    ));
    v.as_array()
        .unwrap_or_else(|| panic!("segments: {v}"))
        .iter()
        .map(|s| {
            (
                s["start_us"].as_i64().unwrap(),
                s["end_us"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// Exports 30 s of camera `id` through the node at `base` as a directory bundle; returns the
/// bundle's path under `data`.
fn export(base: &str, data: &Path, id: &str) -> PathBuf {
    let first = segments(base, id)[0].0;
    let (start, end) = (
        WallTime(first + 5_000_000).to_rfc3339(),
        WallTime(first + 35_000_000).to_rfc3339(),
    );
    let (s, job) = roeh_testkit::post(
        &format!("{base}/api/exports"),
        &serde_json::json!({"camera": id, "start": start, "end": end,
            "reason": "incident at the gate", "case": "PD-2026-0014", "form": "directory"}),
    )
    .unwrap();
    assert_eq!(s, 202, "{job}");
    let job = job["id"].as_str().unwrap().to_string();
    wait_for("export done", Duration::from_secs(60), || {
        let j = get_json(&format!("{base}/api/exports/{job}"));
        match j["state"].as_str()? {
            "done" => Some(()),
            "failed" => panic!("export failed: {j}"),
            _ => None,
        }
    })
    .unwrap();
    data.join("exports").join(job)
}

#[test]
fn two_nodes_on_one_postgres_keep_one_consistent_log() {
    assert!(
        roeh_testkit::postgres::have_postgres("two_nodes_on_one_postgres_keep_one_consistent_log"),
        "PostgreSQL is needed"
    );
    let t0 = Instant::now();
    let server = TestCamServer::start(TestCamConfig::new(footage("vtest_h264.mp4"), 4)).unwrap();
    let urls = server.urls();
    let cams = |node: &str, from: usize| -> Vec<(String, String)> {
        (0..2)
            .map(|i| (format!("{node} cam {i}"), urls[from + i].clone()))
            .collect()
    };
    let (cams_a, cams_b) = (cams("A", 0), cams("B", 2));
    let names = |c: &[(String, String)]| c.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    let checkpoints = format!("[evidence]\ncheckpoint_secs = {CHECKPOINT_SECS}\n");

    // Node a holds the cluster; node b's configuration names a's database.
    let site_a = Site::on_postgres(2.0, &cams_a);
    server_line(&site_a, "node = \"a\"");
    append_config(&site_a, &checkpoints);
    let db_url = site_a.db_url();
    let site_b = Site::new(2.0, &cams_b);
    server_line(
        &site_b,
        &format!("database_url = \"{db_url}\"\nnode = \"b\""),
    );
    append_config(&site_b, &checkpoints);

    // Node a starts alone and creates the site's keys; they go to node b before it starts.
    let (proc_a, base_a) = site_a.serve();
    let ids_a = wait_own_streaming(&base_a, &names(&cams_a));
    std::thread::sleep(Duration::from_secs_f64(2.0 * CHECKPOINT_SECS));
    copy_dir(&site_a.data().join("keys"), &site_b.data().join("keys"));
    let b_started = now();
    let (proc_b, base_b) = site_b.serve();
    // A camera added through node b's API is node b's (the same source as B cam 1, a second
    // camera row).
    let (s, added) = roeh_testkit::post(
        &format!("{base_b}/api/cameras"),
        &serde_json::json!({"name": "B cam added", "url": urls[3]}),
    )
    .unwrap();
    assert_eq!(s, 201, "{added}");
    let mut names_b = names(&cams_b);
    names_b.push("B cam added".into());
    let ids_b = wait_own_streaming(&base_b, &names_b);
    // Each node records its own cameras only, while seeing all five.
    for (base, theirs) in [(&base_a, &ids_b), (&base_b, &ids_a)] {
        let v = get_json(&format!("{base}/api/cameras"));
        assert_eq!(v.as_array().unwrap().len(), 5, "{v}");
        for id in theirs {
            let c = v
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["id"] == id.as_str())
                .unwrap();
            assert_ne!(c["health"]["state"], "streaming", "{base} records {c}");
        }
    }
    let both = Instant::now();
    std::thread::sleep(BOTH_RECORD);
    eprintln!("both nodes recorded for {:?}", both.elapsed());

    // A bundle from each process, of one of its own cameras.
    let bundle_a = export(&base_a, &site_a.data(), &ids_a[0]);
    let bundle_b = export(&base_b, &site_b.data(), &ids_b[1]);
    let keys = get_json(&format!("{base_b}/api/keys"));
    assert_eq!(keys.as_array().unwrap().len(), 1, "one site key: {keys}");
    let key_pem = site_a.dir.path().join("site-key.pem");
    std::fs::write(&key_pem, keys[0]["pem"].as_str().unwrap()).unwrap();
    for bundle in [&bundle_a, &bundle_b] {
        let out = Command::new(BIN)
            .args(["verify", "--key"])
            .arg(&key_pem)
            .arg(bundle)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(0), "{}: {text}", bundle.display());
        assert!(text.starts_with("OK"), "{text}");
    }

    // Node a stops first; node b goes on alone long enough to sign checkpoints of its own.
    let st = proc_a.terminate(Duration::from_secs(20)).unwrap();
    assert!(st.success(), "node a exited with {st}");
    let a_stopped = now();
    std::thread::sleep(Duration::from_secs_f64(2.0 * CHECKPOINT_SECS + 1.0));
    let st = proc_b.terminate(Duration::from_secs(20)).unwrap();
    assert!(st.success(), "node b exited with {st}");
    server.stop();

    // Every camera's footage is on its own node's disk, none on the other's, and both cameras
    // of both nodes recorded the two minutes.
    let footage_a = site_a.data().join("footage");
    let footage_b = site_b.data().join("footage");
    let of_a: Vec<CameraId> = ids_a.iter().map(|i| CameraId::parse(i).unwrap()).collect();
    let of_b: Vec<CameraId> = ids_b.iter().map(|i| CameraId::parse(i).unwrap()).collect();
    for (dir, theirs) in [(&footage_a, &of_b), (&footage_b, &of_a)] {
        for c in theirs {
            assert!(
                !dir.join(c.to_string()).exists(),
                "{c} in {}",
                dir.display()
            );
        }
    }
    let all = check_footage_of(&db_url, |c| {
        if of_a.contains(&c) {
            footage_a.clone()
        } else {
            assert!(of_b.contains(&c), "segments of an unknown camera {c}");
            footage_b.clone()
        }
    });
    assert!(!all.is_empty());

    runtime().block_on(async {
        let store = roeh_store::Store::open(&db_url).await.unwrap();
        let nodes: BTreeMap<CameraId, Option<String>> =
            store.camera_nodes().await.unwrap().into_iter().collect();
        for c in &of_a {
            assert_eq!(nodes[c].as_deref(), Some("a"));
        }
        for c in &of_b {
            assert_eq!(nodes[c].as_deref(), Some("b"));
        }
        // Both cameras of both nodes recorded the two minutes.
        for c in of_a.iter().chain(&of_b) {
            let segs = store.chain_segments(*c, 1, u32::MAX).await.unwrap();
            let covered: i64 = segs.iter().map(|s| s.end.0 - s.start.0).sum();
            assert!(
                covered >= BOTH_RECORD.as_micros() as i64 - 5_000_000,
                "camera {c}: {} segments cover {} ms",
                segs.len(),
                covered / 1000
            );
        }

        // Every leaf of the log is the leaf of exactly one row, byte for byte (check_footage_of
        // compared the segments' leaves; here the gaps' and events' too, and that nothing else
        // is in the log).
        let size = store.log_size().await.unwrap();
        let mut owner: BTreeMap<u64, String> = BTreeMap::new();
        let mut claim = |idx: u64, what: String| {
            assert!(idx < size, "{what} at {idx}, beyond the log's {size}");
            if let Some(before) = owner.insert(idx, what.clone()) {
                panic!("leaf {idx} belongs to {before} and {what}");
            }
        };
        for c in of_a.iter().chain(&of_b) {
            for s in store.chain_segments(*c, 1, u32::MAX).await.unwrap() {
                let idx = store.segment_log_index(s.id).await.unwrap().unwrap();
                claim(idx, format!("segment {} of {c}", s.seq));
            }
            for g in store.gaps_in_range(*c, WallTime(0), now()).await.unwrap() {
                // Nothing crashed: a crash gap would mean a node's start-up recovery took the
                // other node's camera for its own.
                assert_ne!(g.reason, roeh_domain::GapReason::Crash, "camera {c}: {g:?}");
                let Some(idx) = store.gap_log_index(g.id).await.unwrap() else {
                    continue;
                };
                let want = roeh_evidence::leaf::gap_leaf(
                    *c,
                    g.id as u64,
                    g.start,
                    g.end.unwrap(),
                    g.reason.as_str(),
                    &g.detail,
                )
                .unwrap();
                assert_eq!(
                    store.log_leaf(idx).await.unwrap().unwrap().data,
                    want,
                    "gap {}",
                    g.id
                );
                claim(idx, format!("gap {} of {c}", g.id));
            }
        }
        for e in store.events(None, u32::MAX).await.unwrap() {
            let want = roeh_evidence::leaf::event_leaf(e.time, &e.json).unwrap();
            let leaf = store.log_leaf(e.log_index).await.unwrap().unwrap();
            assert_eq!(leaf.data, want, "event {} ({})", e.id, e.kind);
            claim(e.log_index, format!("event {} ({})", e.id, e.kind));
        }
        assert_eq!(
            owner.keys().copied().collect::<Vec<_>>(),
            (0..size).collect::<Vec<_>>(),
            "every leaf 0..{size} is one row's"
        );

        // Every checkpoint is signed by the site key over the root of the log at its size, and
        // any two are consistent. Node a alone signed those before node b started, node b alone
        // those after node a stopped: both processes' checkpoints are among them.
        let hashes = store.leaf_hashes_from(0, u32::MAX).await.unwrap();
        assert_eq!(hashes.len() as u64, size, "log indices are dense");
        let tree = MerkleTree::from_leaf_hashes(hashes);
        let key_rows = store.keys().await.unwrap();
        let key = roeh_evidence::keys::PublicKey::from_bytes(&key_rows[0].public_key).unwrap();
        let mut cps = store.checkpoints(u32::MAX).await.unwrap();
        cps.reverse();
        let signed: Vec<_> = cps
            .iter()
            .map(|r| {
                let cp = SignedCheckpoint::verify(r.text.as_bytes(), &r.signature, &key)
                    .unwrap_or_else(|e| panic!("checkpoint {}: {e}", r.id));
                assert_eq!((cp.size, cp.root), (r.tree_size, r.root));
                assert_eq!(
                    tree.root_at(cp.size).unwrap(),
                    cp.root,
                    "checkpoint {}",
                    r.id
                );
                cp
            })
            .collect();
        let by_a = signed.iter().filter(|c| c.time < b_started).count();
        let by_b = signed.iter().filter(|c| c.time > a_stopped).count();
        eprintln!(
            "{} checkpoints ({by_a} by node a alone, {by_b} by node b alone), log of {size} leaves",
            signed.len()
        );
        assert!(by_a >= 1 && by_b >= 1, "{by_a} by a, {by_b} by b");
        assert!(
            signed.len() as f64 >= BOTH_RECORD.as_secs_f64() / CHECKPOINT_SECS,
            "{} checkpoints",
            signed.len()
        );
        for (i, old) in signed.iter().enumerate() {
            for new in &signed[i..] {
                let (old, new) = if old.size <= new.size {
                    (old, new)
                } else {
                    (new, old)
                };
                let proof = tree.consistency_proof(old.size, new.size).unwrap();
                verify_consistency(old.size, new.size, &old.root, &new.root, &proof)
                    .unwrap_or_else(|e| panic!("{} → {}: {e}", old.size, new.size));
            }
        }
        store.close().await;
    });
    eprintln!("two nodes: {:?} in all", t0.elapsed());
}
