//! Clip-bundle export jobs.
//!
//! A request is checked (reason and case present, camera known, a sane range, footage still
//! there), recorded as a job, logged as an `export_created` custody event, covered by a freshly
//! signed checkpoint, and then written on the blocking pool with progress. Jobs left unfinished by
//! a restart are failed at start-up, never half-delivered.

use crate::{Custody, Error, MAX_EXPORT_RANGE, Result, validate_text};
use roeh_domain::{CameraId, ErrorKind, SegmentState, WallTime};
use roeh_evidence::bundle::{BundleForm, BundleGap, BundleInput, BundleSegment, write_bundle};
use roeh_evidence::checkpoint::SignedCheckpoint;
use roeh_evidence::keys::PublicKey;
use roeh_store::{ExportRow, ExportState};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// How a bundle is delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportForm {
    /// One ZIP file.
    Zip,
    /// A directory.
    Directory,
}

/// What a requester asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportRequest {
    /// Camera.
    pub camera: CameraId,
    /// Start of the range.
    pub start: WallTime,
    /// End of the range.
    pub end: WallTime,
    /// Why.
    pub reason: String,
    /// Case number.
    pub case_ref: String,
    /// Who asks.
    pub requester: String,
    /// Delivery form.
    pub form: ExportForm,
}

#[derive(Debug, Default)]
pub(crate) struct Jobs {
    progress: Mutex<HashMap<String, Arc<(AtomicU64, AtomicU64)>>>,
}

impl Jobs {
    fn track(&self, id: &str) -> Arc<(AtomicU64, AtomicU64)> {
        let p = Arc::new((AtomicU64::new(0), AtomicU64::new(0)));
        if let Ok(mut m) = self.progress.lock() {
            m.insert(id.to_string(), p.clone());
        }
        p
    }

    fn get(&self, id: &str) -> Option<(u64, u64)> {
        let m = self.progress.lock().ok()?;
        m.get(id)
            .map(|p| (p.0.load(Ordering::Relaxed), p.1.load(Ordering::Relaxed)))
    }

    fn forget(&self, id: &str) {
        if let Ok(mut m) = self.progress.lock() {
            m.remove(id);
        }
    }
}

impl Custody {
    /// Accepts an export request and starts its job; returns the job as recorded.
    pub async fn start_export(self: &Arc<Self>, req: ExportRequest) -> Result<ExportRow> {
        validate_text("reason", &req.reason)?;
        validate_text("case", &req.case_ref)?;
        validate_text("requester", &req.requester)?;
        if req.end <= req.start {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "end must be after start",
            ));
        }
        if req.end.duration_since(req.start) > MAX_EXPORT_RANGE {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "range longer than {} h; split the export",
                    MAX_EXPORT_RANGE.as_secs() / 3600
                ),
            ));
        }
        if self.store.get_camera(req.camera).await?.is_none() {
            return Err(Error::new(ErrorKind::NotFound, "no such camera"));
        }
        let segs = self
            .store
            .segments_in_range(req.camera, req.start, req.end)
            .await?;
        if segs.is_empty() {
            return Err(Error::new(
                ErrorKind::NotFound,
                "no recorded footage in that range",
            ));
        }
        if let Some(s) = segs.iter().find(|s| s.state != SegmentState::Committed) {
            return Err(Error::new(
                ErrorKind::FailedPrecondition,
                format!(
                    "segment {} of that range was deleted by retention; its hashes remain in \
                     the log but its footage cannot be exported",
                    s.seq
                ),
            ));
        }
        let now = self.clock.wall();
        let row = ExportRow {
            id: uuid::Uuid::new_v4().to_string(),
            camera: req.camera,
            start: req.start,
            end: req.end,
            reason: req.reason.trim().to_string(),
            case_ref: req.case_ref.trim().to_string(),
            requester: req.requester.trim().to_string(),
            state: ExportState::Queued,
            bytes_done: 0,
            bytes_total: segs.iter().map(|s| s.bytes).sum(),
            path: None,
            error: None,
            created_at: now,
            finished_at: None,
        };
        self.store.insert_export(&row).await?;
        let me = self.clone();
        let job = row.clone();
        tokio::spawn(async move {
            let id = job.id.clone();
            let mut done = job.clone();
            match me.run_export(job, req.form).await {
                Ok(path) => {
                    done.state = ExportState::Done;
                    done.path = Some(path.display().to_string());
                    done.bytes_done = done.bytes_total;
                }
                Err(e) => {
                    tracing::warn!(export = %id, err = %e, "Export failed.");
                    done.state = ExportState::Failed;
                    done.error = Some(e.to_string());
                }
            }
            done.finished_at = Some(me.clock.wall());
            if let Err(e) = me.store.update_export(&done).await {
                tracing::error!(export = %id, err = %e, "Could not record the export's end.");
            }
            me.jobs.forget(&id);
        });
        Ok(row)
    }

    /// A job with live progress.
    pub async fn export_status(&self, id: &str) -> Result<Option<ExportRow>> {
        let Some(mut row) = self.store.export(id).await? else {
            return Ok(None);
        };
        if let Some((done, total)) = self.jobs.get(id) {
            row.state = ExportState::Running;
            row.bytes_done = done;
            if total > 0 {
                row.bytes_total = total;
            }
        }
        Ok(Some(row))
    }

    async fn run_export(&self, job: ExportRow, form: ExportForm) -> Result<PathBuf> {
        let progress = self.jobs.track(&job.id);
        let mut running = job.clone();
        running.state = ExportState::Running;
        self.store.update_export(&running).await?;

        // 1. The custody event, logged before anything is written.
        let segs = self
            .store
            .segments_in_range(job.camera, job.start, job.end)
            .await?;
        let (first, last) = match (segs.first(), segs.last()) {
            (Some(f), Some(l)) => (f.seq, l.seq),
            _ => return Err(Error::new(ErrorKind::NotFound, "footage vanished")),
        };
        // The bundle covers the requested range where footage exists: a range reaching before
        // the first or after the last committed segment is clamped to them (the job row keeps
        // what was asked).
        let (start, end) = match (segs.first(), segs.last()) {
            (Some(f), Some(l)) => (job.start.max(f.start), job.end.min(l.end)),
            _ => (job.start, job.end),
        };
        let now = self.clock.wall();
        let custody_fields = serde_json::json!({
            "export": job.id,
            "camera": job.camera.to_string(),
            "start": start.to_rfc3339(),
            "end": end.to_rfc3339(),
            "requested": [job.start.to_rfc3339(), job.end.to_rfc3339()],
            "segments": [first, last],
            "case": job.case_ref,
            "reason": job.reason,
            "actor": job.requester,
        });
        let custody = self
            .store
            .record_event(now, "export_created", Some(job.camera), custody_fields)
            .await?;
        let custody_index = custody.log_index;

        // 2. A checkpoint covering it, and the proofs against that checkpoint.
        let (cp, cp_id) = self.checkpoint_with_id().await?;
        let size = cp.size;
        let mut bsegs = Vec::with_capacity(segs.len());
        let events = self.store.time_events().await?;
        for s in segs {
            let leaf = self.store.segment_log_index(s.id).await?.ok_or_else(|| {
                Error::new(
                    ErrorKind::Internal,
                    format!("segment {} is not in the log", s.seq),
                )
            })?;
            let frames = self.store.frame_index(s.id).await?;
            let mut flags = Vec::new();
            if s.recovered {
                flags.push("recovered".to_string());
            }
            if events.iter().any(|e| {
                e.camera.is_none_or(|c| c == s.camera)
                    && e.wall_after >= s.start
                    && e.wall_after <= s.end
            }) {
                flags.push("clock_step".to_string());
            }
            let path =
                roeh_recorder::segment_path(&self.cfg.footage_root, s.camera, s.seq, s.codec);
            bsegs.push(BundleSegment {
                segment: s,
                frames,
                path,
                leaf_index: leaf,
                proof: Vec::new(),
                time_flags: flags,
            });
        }
        let (clip_start, clip_end) = match (bsegs.first(), bsegs.last()) {
            (Some(f), Some(l)) => (f.segment.start, l.segment.end),
            _ => return Err(Error::new(ErrorKind::NotFound, "footage vanished")),
        };
        let mut bgaps = Vec::new();
        for g in self
            .store
            .gaps_in_range(job.camera, clip_start, clip_end)
            .await?
        {
            let proof = match self.store.gap_log_index(g.id).await? {
                Some(i) if i < size => Some((i, Vec::new())),
                _ => None,
            };
            bgaps.push(BundleGap { gap: g, proof });
        }
        // All inclusion proofs against the checkpoint, computed together.
        let mut indices: Vec<u64> = bsegs.iter().map(|s| s.leaf_index).collect();
        indices.extend(bgaps.iter().filter_map(|g| g.proof.as_ref().map(|p| p.0)));
        indices.push(custody_index);
        let mut proofs = self.inclusion_proofs(&indices, size).await?.into_iter();
        for s in &mut bsegs {
            s.proof = proofs.next().unwrap_or_default();
        }
        for g in &mut bgaps {
            if let Some((_, p)) = &mut g.proof {
                *p = proofs.next().unwrap_or_default();
            }
        }
        let custody_proof = proofs.next().unwrap_or_default();
        let key = self
            .public_keys()
            .await?
            .into_iter()
            .find(|k| k.key_id == cp.key_id)
            .ok_or_else(|| Error::new(ErrorKind::Internal, "signing key not registered"))?;
        let public_key = PublicKey::from_pem(&key.pem)
            .map_err(|e| Error::new(ErrorKind::Internal, format!("public key: {e}")))?;
        let checkpoint = parse_signed(&cp.text, &cp.signature, &public_key)?;
        let checkpoint_tsr = self.checkpoint_tsr(cp_id, &cp.text).await?;

        let input = BundleInput {
            origin: self.cfg.origin.clone(),
            created_at: now,
            camera: job.camera,
            start,
            end,
            reason: job.reason.clone(),
            case: job.case_ref.clone(),
            requester: job.requester.clone(),
            checkpoint,
            checkpoint_tsr,
            public_key,
            custody_json: custody.json,
            custody_leaf_index: custody_index,
            custody_proof,
            segments: bsegs,
            gaps: bgaps,
        };

        // 3. The bundle, on the blocking pool.
        let dir = self.cfg.exports_dir.clone();
        let (out, bform) = match form {
            ExportForm::Zip => (dir.join(format!("{}.zip", job.id)), BundleForm::Zip),
            ExportForm::Directory => (dir.join(&job.id), BundleForm::Directory),
        };
        let out2 = out.clone();
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir).map_err(|e| {
                Error::with_source(ErrorKind::Unavailable, "creating the exports directory", e)
            })?;
            let mut report = |done: u64, total: u64| {
                progress.0.store(done, Ordering::Relaxed);
                progress.1.store(total, Ordering::Relaxed);
            };
            write_bundle(&input, &out2, bform, &mut report)
                .map_err(|e| Error::new(ErrorKind::Unavailable, format!("writing the bundle: {e}")))
        })
        .await
        .map_err(|e| Error::with_source(ErrorKind::Internal, "export task", e))??;
        tracing::info!(export = %job.id, path = %out.display(), "Export written.");
        Ok(out)
    }
}

impl Custody {
    /// The stored timestamp of checkpoint `id`, if it still stamps `text` (a stored response
    /// that does not is left out of the bundle, with a warning, rather than making it fail).
    async fn checkpoint_tsr(&self, id: i64, text: &str) -> Result<Option<Vec<u8>>> {
        let Some(tsr) = self.store.checkpoint_tsa(id).await? else {
            return Ok(None);
        };
        let digest: [u8; 32] = Sha256::digest(text.as_bytes()).into();
        match roeh_evidence::tsa::check_response(&tsr, &digest, None) {
            Ok(_) => Ok(Some(tsr)),
            Err(e) => {
                tracing::warn!(checkpoint = id, err = %e, "Stored checkpoint timestamp is unusable; exporting without it.");
                Ok(None)
            }
        }
    }
}

fn parse_signed(text: &str, sig: &[u8], key: &PublicKey) -> Result<SignedCheckpoint> {
    let checkpoint = SignedCheckpoint::verify(text.as_bytes(), sig, key)
        .map_err(|e| Error::new(ErrorKind::Internal, format!("stored checkpoint: {e}")))?;
    let signature: [u8; 64] = sig
        .try_into()
        .map_err(|_| Error::new(ErrorKind::Internal, "stored signature is not 64 bytes"))?;
    Ok(SignedCheckpoint {
        checkpoint,
        text: text.to_string(),
        signature,
    })
}
