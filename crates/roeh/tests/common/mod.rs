//! Helpers for the binary's tests: a temp site with a config file, the roeh process, the API.
#![allow(dead_code, clippy::unwrap_used)]

use roeh_testkit::RoehProcess;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_roeh");

/// A data directory, a config file and a log file in a temp dir; the database a SQLite file in
/// the data directory, or a throwaway PostgreSQL cluster ([`Site::on_postgres`]).
pub struct Site {
    /// The PostgreSQL cluster holding the site's database, if any (stopped before the
    /// directory it lives in is removed).
    pub pg: Option<roeh_testkit::postgres::Cluster>,
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub log: PathBuf,
}

impl Site {
    pub fn new(segment_secs: f64, cameras: &[(String, String)]) -> Site {
        Site::with_recording(segment_secs, cameras, "")
    }

    /// A site whose `[recording]` section gets `extra` lines too.
    pub fn with_recording(segment_secs: f64, cameras: &[(String, String)], extra: &str) -> Site {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let mut toml = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = \"{}\"\nshutdown_grace_secs = 10.0\n\
             [recording]\nsegment_secs = {segment_secs}\nmin_free_bytes = 0\n{extra}\
             [ingest]\nstall_timeout_secs = 3.0\nbackoff_initial_secs = 0.2\nbackoff_max_secs = 1.0\n",
            data.display()
        );
        for (name, url) in cameras {
            toml.push_str(&format!("[[camera]]\nname = \"{name}\"\nurl = \"{url}\"\n"));
        }
        let config = dir.path().join("roeh.toml");
        std::fs::write(&config, toml).unwrap();
        let log = dir.path().join("roeh.log");
        Site {
            pg: None,
            dir,
            config,
            log,
        }
    }

    /// As [`Site::new`], with the database on a throwaway PostgreSQL cluster
    /// (`[server] database_url`).
    pub fn on_postgres(segment_secs: f64, cameras: &[(String, String)]) -> Site {
        let mut site = Site::new(segment_secs, cameras);
        let cluster = roeh_testkit::postgres::Cluster::start(site.dir.path()).unwrap();
        let url = cluster.create_database("roeh").unwrap();
        let toml = std::fs::read_to_string(&site.config).unwrap();
        let toml = toml.replacen(
            "[server]\n",
            &format!("[server]\ndatabase_url = \"{url}\"\n"),
            1,
        );
        std::fs::write(&site.config, toml).unwrap();
        site.pg = Some(cluster);
        site
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn db_url(&self) -> String {
        match &self.pg {
            Some(c) => c.url("roeh"),
            None => format!("sqlite://{}?mode=rw", self.data().join("roeh.db").display()),
        }
    }

    /// Starts `roeh serve` and waits for its API; returns the process and the API base URL.
    pub fn serve(&self) -> (RoehProcess, String) {
        let start_len = std::fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0);
        let p = RoehProcess::spawn(
            Path::new(BIN),
            &["serve", "--config", self.config.to_str().unwrap()],
            &self.log,
        )
        .unwrap();
        let base = roeh_testkit::wait_api_base(&self.log, start_len).unwrap();
        (p, base)
    }
}

pub fn get_json(url: &str) -> serde_json::Value {
    roeh_testkit::get(url).unwrap().json().unwrap()
}

/// Opens the site's database with the store (for checks after the process stopped or while
/// it runs: SQLite WAL allows a concurrent reader).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Everything committed in the database, checked against the files: every committed segment's
/// file exists with the recorded length and SHA-256, and every camera's chain verifies.
/// Returns (camera, seq) → sha256 of every committed segment.
pub fn check_footage(site: &Site) -> std::collections::BTreeMap<(String, u64), [u8; 32]> {
    let footage = site.data().join("footage");
    check_footage_of(&site.db_url(), |_| footage.clone())
}

/// [`check_footage`] for the database at `db_url`, each camera's files under the footage root
/// `footage_of` names for it (one per node where several processes share the database).
pub fn check_footage_of(
    db_url: &str,
    footage_of: impl Fn(roeh_domain::CameraId) -> PathBuf,
) -> std::collections::BTreeMap<(String, u64), [u8; 32]> {
    let rt = runtime();
    rt.block_on(async {
        let store = roeh_store::Store::open(db_url).await.unwrap();
        let mut all = std::collections::BTreeMap::new();
        for cam in store.cameras_with_segments().await.unwrap() {
            let segs = store.chain_segments(cam, 1, u32::MAX).await.unwrap();
            roeh_evidence::verify_chain(&segs).unwrap_or_else(|e| panic!("chain of {cam}: {e:?}"));
            for s in segs {
                if s.state != roeh_domain::SegmentState::Committed {
                    continue;
                }
                let path =
                    roeh_recorder::segment_path(&footage_of(s.camera), s.camera, s.seq, s.codec);
                let f = std::fs::File::open(&path).unwrap_or_else(|e| {
                    panic!("committed segment {} missing: {e}", path.display())
                });
                let (sha, len) = roeh_evidence::sha256_reader(f).unwrap();
                assert_eq!(len, s.bytes, "length of {}", path.display());
                assert_eq!(sha, s.sha256, "hash of {}", path.display());
                all.insert((cam.to_string(), s.seq), s.sha256);
            }
            // Every segment, deleted or not, has its leaf in the evidence log, byte for byte.
            for s in store.chain_segments(cam, 1, u32::MAX).await.unwrap() {
                let idx = store
                    .segment_log_index(s.id)
                    .await
                    .unwrap()
                    .unwrap_or_else(|| panic!("segment {} of {cam} is not in the log", s.seq));
                let frames: Vec<roeh_evidence::leaf::IndexedFrame> = store
                    .frame_index(s.id)
                    .await
                    .unwrap()
                    .iter()
                    .map(Into::into)
                    .collect();
                let want = roeh_evidence::leaf::segment_leaf(
                    &s.prev_chain,
                    &roeh_evidence::SegmentLinkInput::from(&s),
                    &roeh_evidence::leaf::frame_index_hash(&frames),
                    &roeh_evidence::leaf::config_hash(&s.config_record),
                );
                let leaf = store.log_leaf(idx).await.unwrap().unwrap();
                assert_eq!(
                    leaf.data, want,
                    "log leaf {idx} of segment {} of {cam}",
                    s.seq
                );
            }
        }
        // The log has no holes: indices 0..size.
        let size = store.log_size().await.unwrap();
        let hashes = store.leaf_hashes_from(0, u32::MAX).await.unwrap();
        assert_eq!(hashes.len() as u64, size, "log indices are dense");
        store.close().await;
        all
    })
}

/// Waits until the API lists `count` cameras (any number if `None`) and all of them stream.
pub fn wait_streaming(base: &str, count: Option<usize>) -> anyhow::Result<Vec<serde_json::Value>> {
    roeh_testkit::wait_for("cameras streaming", Duration::from_secs(60), || {
        let v = get_json(&format!("{base}/api/cameras"));
        let cams = v.as_array()?.clone();
        let all = !cams.is_empty() && cams.iter().all(|c| c["health"]["state"] == "streaming");
        (all && count.is_none_or(|n| cams.len() == n)).then_some(cams)
    })
}
