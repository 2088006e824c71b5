//! Custody of evidence: the site key, the Merkle log kept in step with the store, signed
//! checkpoints, legal holds and clip-bundle export jobs (docs/design/0005-evidence-format.md),
//! and the planning of MP4 exports of recorded ranges ([`plan`]).
//!
//! Invariants:
//! - the store is the log's source of truth; the in-memory [`MerkleTree`] only caches its leaf
//!   hashes and is brought up to date ([`Custody::sync`]) before every root or proof;
//! - the private site key is read from `<keys_dir>/<key id>.key` (mode 0600) and never leaves
//!   this crate: not logged, not returned, not in `Debug`;
//! - a checkpoint is signed only over a tree whose leaves are all in the store;
//! - an export is a custody event logged *before* the bundle is written, and the bundle's
//!   checkpoint covers that event, so the bundle proves its own creation;
//! - the legal holds that retention consults ([`HoldCache`]) are reloaded from the store after
//!   every change, before the change is reported done;
//! - with a TSA configured, every new checkpoint is sent for an RFC 3161 timestamp once it is
//!   stored, outside the tree's lock; a TSA that fails never blocks or undoes a checkpoint (it
//!   is kept without a timestamp and a warning is logged). Timestamping is serialised, and a
//!   caller handed an existing checkpoint waits for its timestamp request to end.

mod export;
pub mod plan;
mod tsa;

pub use export::{ExportForm, ExportRequest};
pub use plan::{ExportPlan, MAX_EXPORT_RANGE, plan_export};
pub use tsa::{TsaClient, TsaConfig};

use roeh_domain::{CameraId, Clock, ErrorKind, WallTime};
use roeh_evidence::checkpoint::Checkpoint;
use roeh_evidence::keys::{PublicKey, SiteKey};
use roeh_evidence::merkle::{Hash, MerkleTree};
use roeh_recorder::LegalHolds;
use roeh_store::{CheckpointRow, HoldRow, NewHold, Store};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

roeh_domain::define_error!();

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<roeh_store::Error> for Error {
    fn from(e: roeh_store::Error) -> Self {
        Error::with_source(e.kind(), "store", e)
    }
}

/// Settings of the custody service.
#[derive(Clone, Debug)]
pub struct CustodyConfig {
    /// Directory of the site's private key files (created 0700).
    pub keys_dir: PathBuf,
    /// Directory where export bundles are written.
    pub exports_dir: PathBuf,
    /// Root of the segment files.
    pub footage_root: PathBuf,
    /// The log's origin line in checkpoints.
    pub origin: String,
    /// How often a checkpoint is signed when the log grew.
    pub checkpoint_every: Duration,
}

/// The legal holds in force, cached for retention (which asks synchronously).
#[derive(Debug, Default)]
pub struct HoldCache {
    active: RwLock<Vec<HoldRow>>,
}

impl HoldCache {
    fn replace(&self, holds: Vec<HoldRow>) {
        match self.active.write() {
            Ok(mut g) => *g = holds,
            Err(p) => *p.into_inner() = holds,
        }
    }
}

impl LegalHolds for HoldCache {
    fn is_held(&self, camera: CameraId, start: WallTime, end: WallTime) -> bool {
        let g = match self.active.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        g.iter()
            .any(|h| h.hold.camera == camera && h.hold.start < end && h.hold.end > start)
    }
}

struct State {
    tree: MerkleTree,
    key: SiteKey,
}

/// The custody service. Cheap to share (`Arc`).
pub struct Custody {
    store: Store,
    clock: Arc<dyn Clock>,
    cfg: CustodyConfig,
    state: Mutex<State>,
    holds: Arc<HoldCache>,
    jobs: export::Jobs,
    tsa: Option<TsaClient>,
    /// Held while a checkpoint is signed and timestamped, when a TSA is configured.
    stamping: Mutex<()>,
}

impl std::fmt::Debug for Custody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Custody")
            .field("origin", &self.cfg.origin)
            .field("keys_dir", &self.cfg.keys_dir)
            .finish_non_exhaustive()
    }
}

/// A signed checkpoint as the API hands it out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCheckpointOut {
    /// The signed text.
    pub text: String,
    /// Raw 64-byte signature.
    pub signature: Vec<u8>,
    /// Tree size.
    pub size: u64,
    /// Root hash.
    pub root: Hash,
    /// Signing key id.
    pub key_id: String,
}

impl From<CheckpointRow> for SignedCheckpointOut {
    fn from(r: CheckpointRow) -> Self {
        SignedCheckpointOut {
            text: r.text,
            signature: r.signature,
            size: r.tree_size,
            root: r.root,
            key_id: r.key_id,
        }
    }
}

/// A site key's public half.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKeyInfo {
    /// Key id.
    pub key_id: String,
    /// SubjectPublicKeyInfo PEM.
    pub pem: String,
    /// When it was created.
    pub created_at: WallTime,
    /// When a newer key took over.
    pub retired_at: Option<WallTime>,
}

impl Custody {
    /// Opens the service: loads the signing key (generating and registering the site's first
    /// key if the store has none), appends leaves for segments committed before the log
    /// existed, fails export jobs a previous process left unfinished and loads the holds.
    pub async fn open(
        store: Store,
        clock: Arc<dyn Clock>,
        cfg: CustodyConfig,
    ) -> Result<Arc<Custody>> {
        Custody::open_with_tsa(store, clock, cfg, None).await
    }

    /// [`Custody::open`], with every new checkpoint timestamped by the TSA of `tsa` when given
    /// (an unusable TSA URL is refused here).
    pub async fn open_with_tsa(
        store: Store,
        clock: Arc<dyn Clock>,
        cfg: CustodyConfig,
        tsa: Option<TsaConfig>,
    ) -> Result<Arc<Custody>> {
        let tsa = tsa.as_ref().map(TsaClient::new).transpose()?;
        let now = clock.wall();
        let keys = store.keys().await?;
        let key = match keys.iter().rev().find(|k| k.retired_at.is_none()) {
            Some(k) => load_key(&cfg.keys_dir, &k.key_id).await?,
            None => {
                let dir = cfg.keys_dir.clone();
                let key = tokio::task::spawn_blocking(move || SiteKey::write_new(&dir))
                    .await
                    .map_err(|e| Error::with_source(ErrorKind::Internal, "key task", e))?
                    .map_err(|e| {
                        Error::new(
                            ErrorKind::Unavailable,
                            format!("creating the site key: {e}"),
                        )
                    })?;
                register(&store, &key, now, "key_created").await?;
                tracing::info!(key_id = %key.id(), "Created the site key.");
                key
            }
        };
        let backfilled = store.backfill_log(now).await?;
        if backfilled > 0 {
            tracing::info!(
                segments = backfilled,
                "Logged segments committed before the log."
            );
        }
        let failed = store.fail_interrupted_exports(now).await?;
        if failed > 0 {
            tracing::warn!(
                jobs = failed,
                "Export jobs interrupted by a restart were failed."
            );
        }
        let custody = Arc::new(Custody {
            store,
            clock,
            cfg,
            state: Mutex::new(State {
                tree: MerkleTree::new(),
                key,
            }),
            holds: Arc::new(HoldCache::default()),
            jobs: export::Jobs::default(),
            tsa,
            stamping: Mutex::new(()),
        });
        custody.reload_holds().await?;
        custody.sync().await?;
        Ok(custody)
    }

    /// The holds retention must respect.
    pub fn holds(&self) -> Arc<HoldCache> {
        self.holds.clone()
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The checkpoint origin.
    pub fn origin(&self) -> &str {
        &self.cfg.origin
    }

    async fn reload_holds(&self) -> Result<()> {
        self.holds.replace(self.store.holds(true).await?);
        Ok(())
    }

    /// Brings the in-memory tree up to the store's log; returns the tree size.
    pub async fn sync(&self) -> Result<u64> {
        let mut st = self.state.lock().await;
        sync_tree(&self.store, &mut st.tree).await
    }

    /// Signs a checkpoint of the current log if it grew since the latest one (or none exists);
    /// returns the latest checkpoint either way. With a TSA configured, a new checkpoint is
    /// timestamped before this returns; a TSA failure is logged and the checkpoint kept.
    pub async fn checkpoint(&self) -> Result<SignedCheckpointOut> {
        Ok(self.checkpoint_with_id().await?.0)
    }

    /// [`Custody::checkpoint`], with the checkpoint's store id.
    pub(crate) async fn checkpoint_with_id(&self) -> Result<(SignedCheckpointOut, i64)> {
        let _stamping = match &self.tsa {
            Some(_) => Some(self.stamping.lock().await),
            None => None,
        };
        let (row, fresh) = self.sign_checkpoint().await?;
        if fresh && let Some(tsa) = &self.tsa {
            self.timestamp(tsa, &row).await;
        }
        let id = row.id;
        Ok((row.into(), id))
    }

    /// Requests and stores the timestamp of a new checkpoint; failures are logged only.
    async fn timestamp(&self, tsa: &TsaClient, row: &CheckpointRow) {
        match tsa.timestamp(row.text.as_bytes()).await {
            Ok((response, info)) => match self.store.set_checkpoint_tsa(row.id, &response).await {
                Ok(()) => tracing::debug!(
                    size = row.tree_size,
                    gen_time = %info.gen_time,
                    "Timestamped a checkpoint."
                ),
                Err(e) => tracing::warn!(
                    size = row.tree_size,
                    err = %e,
                    "Could not store a checkpoint's timestamp; the checkpoint is kept without one."
                ),
            },
            Err(e) => tracing::warn!(
                size = row.tree_size,
                err = %e,
                "Could not timestamp a checkpoint; it is kept without a timestamp."
            ),
        }
    }

    /// Signs and stores a checkpoint if the log grew; returns the latest row and whether it is
    /// new.
    async fn sign_checkpoint(&self) -> Result<(CheckpointRow, bool)> {
        let mut st = self.state.lock().await;
        // Another process (`roeh keys rotate`) may have made a newer key the signing key.
        if let Some(active) = self
            .store
            .keys()
            .await?
            .into_iter()
            .rev()
            .find(|k| k.retired_at.is_none())
            && active.key_id != st.key.id().to_string()
        {
            st.key = load_key(&self.cfg.keys_dir, &active.key_id).await?;
            tracing::info!(key_id = %active.key_id, "Signing with the site's new key.");
        }
        let size = sync_tree(&self.store, &mut st.tree).await?;
        if let Some(latest) = self.store.latest_checkpoint().await?
            && latest.tree_size == size
            && latest.key_id == st.key.id().to_string()
        {
            return Ok((latest, false));
        }
        let cp = Checkpoint {
            origin: self.cfg.origin.clone(),
            size,
            root: st.tree.root(),
            time: self.clock.wall(),
            key_id: st.key.id(),
        };
        let signed = cp
            .sign(&st.key)
            .map_err(|e| Error::new(ErrorKind::Internal, format!("signing checkpoint: {e}")))?;
        let mut row = CheckpointRow {
            id: 0,
            tree_size: size,
            root: cp.root,
            time: cp.time,
            key_id: cp.key_id.to_string(),
            text: signed.text.clone(),
            signature: signed.signature.to_vec(),
        };
        row.id = self.store.insert_checkpoint(&row).await?;
        tracing::debug!(size, "Signed a checkpoint.");
        Ok((row, true))
    }

    /// The latest checkpoint, signing the first one if none exists.
    pub async fn latest_checkpoint(&self) -> Result<SignedCheckpointOut> {
        match self.store.latest_checkpoint().await? {
            Some(r) => Ok(r.into()),
            None => self.checkpoint().await,
        }
    }

    /// The RFC 9162 consistency proof between two tree sizes.
    pub async fn consistency_proof(&self, from: u64, to: u64) -> Result<Vec<Hash>> {
        let mut st = self.state.lock().await;
        sync_tree(&self.store, &mut st.tree).await?;
        st.tree
            .consistency_proof(from, to)
            .map_err(|e| Error::new(ErrorKind::InvalidArgument, e.to_string()))
    }

    /// The RFC 9162 inclusion proof of leaf `index` in the tree of `size` leaves.
    pub async fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>> {
        let mut proofs = self.inclusion_proofs(&[index], size).await?;
        proofs
            .pop()
            .ok_or_else(|| Error::new(ErrorKind::Internal, "no proof computed"))
    }

    /// The inclusion proofs of several leaves in the tree of `size` leaves, in order: one store
    /// sync and one lock for all of them.
    pub async fn inclusion_proofs(&self, indices: &[u64], size: u64) -> Result<Vec<Vec<Hash>>> {
        let mut st = self.state.lock().await;
        sync_tree(&self.store, &mut st.tree).await?;
        indices
            .iter()
            .map(|&i| {
                st.tree
                    .inclusion_proof(i, size)
                    .map_err(|e| Error::new(ErrorKind::InvalidArgument, e.to_string()))
            })
            .collect()
    }

    /// Public halves of all site keys, oldest first.
    pub async fn public_keys(&self) -> Result<Vec<PublicKeyInfo>> {
        let rows = self.store.keys().await?;
        rows.into_iter()
            .map(|k| {
                let pk = PublicKey::from_bytes(&k.public_key).map_err(|e| {
                    Error::new(ErrorKind::DataLoss, format!("stored public key: {e}"))
                })?;
                Ok(PublicKeyInfo {
                    key_id: k.key_id,
                    pem: pk.to_pem(),
                    created_at: k.created_at,
                    retired_at: k.retired_at,
                })
            })
            .collect()
    }

    /// Makes a new key the signing key; the old one stays registered (retired) so its
    /// checkpoints and bundles still verify. Signs a checkpoint with the new key.
    pub async fn rotate_key(&self) -> Result<PublicKeyInfo> {
        let dir = self.cfg.keys_dir.clone();
        let key = tokio::task::spawn_blocking(move || SiteKey::write_new(&dir))
            .await
            .map_err(|e| Error::with_source(ErrorKind::Internal, "key task", e))?
            .map_err(|e| Error::new(ErrorKind::Unavailable, format!("creating a key: {e}")))?;
        let now = self.clock.wall();
        register(&self.store, &key, now, "key_rotated").await?;
        let info = PublicKeyInfo {
            key_id: key.id().to_string(),
            pem: key.public().to_pem(),
            created_at: now,
            retired_at: None,
        };
        self.state.lock().await.key = key;
        self.checkpoint().await?;
        tracing::info!(key_id = %info.key_id, "Rotated the site key.");
        Ok(info)
    }

    /// Places a legal hold; returns its id. Retention respects it before this returns.
    pub async fn place_hold(&self, h: &NewHold) -> Result<i64> {
        validate_text("case", &h.case_ref)?;
        validate_text("reason", &h.reason)?;
        if self.store.get_camera(h.camera).await?.is_none() {
            return Err(Error::new(ErrorKind::NotFound, "no such camera"));
        }
        let (id, _) = self.store.place_hold(h, self.clock.wall()).await?;
        self.reload_holds().await?;
        Ok(id)
    }

    /// Lifts a hold.
    pub async fn clear_hold(&self, id: i64, by: &str, reason: &str) -> Result<bool> {
        validate_text("reason", reason)?;
        let changed = self
            .store
            .clear_hold(id, by, reason, self.clock.wall())
            .await?;
        self.reload_holds().await?;
        Ok(changed)
    }

    /// Records that someone viewed or downloaded footage (a custody event).
    pub async fn record_access(
        &self,
        kind: &str,
        actor: &str,
        camera: Option<CameraId>,
        detail: serde_json::Value,
    ) -> Result<u64> {
        let fields = serde_json::json!({
            "actor": actor,
            "camera": camera.map(|c| c.to_string()),
            "detail": detail,
        });
        let now = self.clock.wall();
        let event = self.store.record_event(now, kind, camera, fields).await?;
        Ok(event.log_index)
    }

    /// Signs a checkpoint every `checkpoint_every` while the log grows, until `cancel`.
    pub fn spawn_checkpointer(
        self: &Arc<Self>,
        cancel: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = cancel.cancelled() => break,
                    () = tokio::time::sleep(me.cfg.checkpoint_every) => {}
                }
                if let Err(e) = me.checkpoint().await {
                    tracing::warn!(err = %e, "Could not sign a checkpoint.");
                }
            }
        })
    }
}

async fn sync_tree(store: &Store, tree: &mut MerkleTree) -> Result<u64> {
    const PAGE: u32 = 10_000;
    loop {
        let hashes = store.leaf_hashes_from(tree.len(), PAGE).await?;
        let n = hashes.len();
        for h in hashes {
            tree.push(h);
        }
        if n < PAGE as usize {
            return Ok(tree.len());
        }
    }
}

async fn load_key(dir: &Path, key_id: &str) -> Result<SiteKey> {
    // The id comes from our own database, but it still becomes a file name: only hex passes.
    if key_id.len() != 16 || !key_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::new(
            ErrorKind::DataLoss,
            format!("registered key id {key_id:?} is malformed"),
        ));
    }
    let path = dir.join(format!("{key_id}.key"));
    let p = path.clone();
    let key = tokio::task::spawn_blocking(move || SiteKey::load(&p))
        .await
        .map_err(|e| Error::with_source(ErrorKind::Internal, "key task", e))?
        .map_err(|e| {
            Error::new(
                ErrorKind::FailedPrecondition,
                format!(
                    "the site's signing key {key_id} cannot be loaded from {}: {e} \
                     (restore it from backup; a new key would not match the registered one)",
                    path.display()
                ),
            )
        })?;
    if key.id().to_string() != key_id {
        return Err(Error::new(
            ErrorKind::DataLoss,
            format!("key file {} holds a different key", path.display()),
        ));
    }
    Ok(key)
}

async fn register(store: &Store, key: &SiteKey, now: WallTime, kind: &str) -> Result<()> {
    let id = key.id().to_string();
    let fields = serde_json::json!({
        "key_id": id,
        "public_key": hex::encode(key.public().to_bytes()),
    });
    store
        .register_key(&id, &key.public().to_bytes(), now, kind, fields)
        .await?;
    Ok(())
}

/// Checks a free-text field from a requester: present, bounded, no control characters.
pub fn validate_text(field: &str, v: &str) -> Result<()> {
    let t = v.trim();
    if t.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("{field} is required"),
        ));
    }
    if t.chars().count() > 500 {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("{field} is longer than 500 characters"),
        ));
    }
    if t.chars().any(|c| c.is_control()) {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("{field} contains control characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use roeh_domain::SimClock;

    /// A custody over an in-memory store (a fresh PostgreSQL database where
    /// `ROEH_STORE_TEST_POSTGRES=1`), its directories under a fresh temporary one (kept alive by
    /// the first element), on a simulated clock.
    async fn open_tmp() -> (tempfile::TempDir, Store, Arc<SimClock>, Arc<Custody>) {
        let dir = tempfile::tempdir().unwrap();
        let db =
            roeh_testkit::postgres::test_database().unwrap_or_else(|| "sqlite::memory:".into());
        let store = Store::open(&db).await.unwrap();
        let clock = Arc::new(SimClock::new(WallTime(1_800_000_000_000_000)));
        let cfg = CustodyConfig {
            keys_dir: dir.path().join("keys"),
            exports_dir: dir.path().join("exports"),
            footage_root: dir.path().join("footage"),
            origin: "roeh:test".into(),
            checkpoint_every: Duration::from_secs(60),
        };
        let custody = Custody::open(store.clone(), clock.clone(), cfg)
            .await
            .unwrap();
        (dir, store, clock, custody)
    }

    #[tokio::test]
    async fn a_rotation_is_stored_as_key_rotated_and_its_json_agrees() {
        let (_dir, store, clock, custody) = open_tmp().await;
        clock.advance(Duration::from_secs(5));
        let rotated = custody.rotate_key().await.unwrap();

        let evs = store.events(None, 10).await.unwrap();
        let kinds: Vec<&str> = evs.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["key_created", "key_rotated"]);
        let keys = store.keys().await.unwrap();
        for (e, k) in evs.iter().zip(&keys) {
            let v: serde_json::Value = serde_json::from_slice(&e.json).unwrap();
            assert_eq!(v["type"], e.kind.as_str());
            assert_eq!(v["time"], e.time.to_rfc3339());
            assert_eq!(v["key_id"], k.key_id.as_str());
            assert_eq!(v["public_key"], hex::encode(k.public_key));
            let leaf = store.log_leaf(e.log_index).await.unwrap().unwrap();
            assert_eq!(
                leaf.data,
                roeh_evidence::leaf::event_leaf(e.time, &e.json).unwrap()
            );
        }
        assert_eq!(evs[1].time, rotated.created_at);
        assert_eq!(keys[1].key_id, rotated.key_id);
    }

    #[tokio::test]
    async fn an_export_longer_than_the_longest_range_is_refused() {
        let (_dir, _store, _clock, custody) = open_tmp().await;
        let start = WallTime::from_secs(1_800_000_000);
        let req = |end: WallTime| ExportRequest {
            camera: CameraId(uuid::Uuid::nil()),
            start,
            end,
            reason: "fight".into(),
            case_ref: "PD-1".into(),
            requester: "investigator".into(),
            form: ExportForm::Zip,
        };
        let longest = start.plus(MAX_EXPORT_RANGE);
        let e = custody
            .start_export(req(longest.plus(Duration::from_micros(1))))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert_eq!(e.message(), "range longer than 6 h; split the export");
        // The longest range itself passes the range check (and then meets the unknown camera).
        let e = custody.start_export(req(longest)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        let e = custody.start_export(req(start)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert_eq!(e.message(), "end must be after start");
    }
}
