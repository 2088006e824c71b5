//! The rule task: owns the rule engine, feeds it analysed frames and ticks, and writes what it
//! reports as incidents (rows, snapshots, evidence windows).
//!
//! Invariants:
//! - one task owns the engine; every change reaches it through its channels, in order;
//! - an incident row is written (`open`) before its snapshot; the snapshot shows the frame with
//!   the highest score so far: it is written at open and rewritten when an update raises the peak;
//! - the evidence window is `[opened − pre_roll, closed + post_roll]`; its end is written at close;
//! - loading new hotspots or rules closes every incident the old engine had open (at the load
//!   time) before the new engine starts; a change of camera settings alone keeps the engine;
//! - a camera turned away from its home position (PTZ) is analysed like one switched off: its
//!   open incidents close, it is not decoded, and it resumes when it is back home;
//! - on shutdown every open incident is closed;
//! - a failed write is logged and counted against nothing else: the task keeps running.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use roeh_domain::{CameraId, Clock, WallTime};
use roeh_rules::{
    Detected, EngineConfig, FrameStats, Hotspot, HotspotId, IncidentKey, Rule, RuleEngine,
    RuleEvent, RuleId, RuleKind, Severity,
};
use roeh_store::{AnalysisSetting, NewIncident, Store};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::batcher::Analysed;
use crate::decoders::Decoders;
use crate::snapshot::{Overlay, render_jpeg, write_atomically};
use crate::stats::Counters;

/// Hotspots, rules and camera settings, as loaded from the store.
#[derive(Clone, Debug, Default)]
pub(crate) struct Loaded {
    pub hotspots: Vec<Hotspot>,
    pub rules: Vec<Rule>,
    pub settings: HashMap<CameraId, AnalysisSetting>,
    /// Cameras turned away from their home position: their rules pause (the zones were drawn
    /// on the home picture) and they are not decoded.
    pub paused: HashSet<CameraId>,
}

impl Loaded {
    /// Whether `cam`'s pictures are analysed: not switched off, and not turned away from home.
    fn analysed(&self, cam: CameraId) -> bool {
        self.settings.get(&cam).is_none_or(|s| s.enabled) && !self.paused.contains(&cam)
    }
}

/// Requests to the rule task; each is answered when done.
pub(crate) enum Command {
    Load(Loaded, oneshot::Sender<()>),
    Tick(oneshot::Sender<()>),
    /// Decode the camera until the given time whether or not a rule is armed on it (someone
    /// is looking at what the detector sees); answers what it saw last.
    Watch(CameraId, WallTime, oneshot::Sender<crate::Seen>),
}

/// Settings of the rule task.
#[derive(Clone, Debug)]
pub(crate) struct RuleSettings {
    pub engine: EngineConfig,
    pub default_fps: f64,
    pub pre_roll: Duration,
    pub post_roll: Duration,
    pub snapshot_dir: PathBuf,
    pub jpeg_quality: u8,
    pub tick: Duration,
}

/// An incident the engine has open.
#[derive(Clone, Copy, Debug)]
struct Open {
    id: Uuid,
    peak: f32,
}

pub(crate) struct RuleTask {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub settings: RuleSettings,
    pub model_id: String,
    pub counters: Arc<Counters>,
    pub decoders: Arc<Decoders>,
    pub loaded_counts: Arc<(AtomicUsize, AtomicUsize)>,
    engine: RuleEngine,
    loaded: Loaded,
    rules: HashMap<RuleId, Rule>,
    hotspots: HashMap<HotspotId, Hotspot>,
    tamper_cameras: HashSet<CameraId>,
    open: HashMap<IncidentKey, Open>,
    last: HashMap<CameraId, Analysed>,
    /// Cameras decoded for someone watching the detector, until when.
    watched: HashMap<CameraId, WallTime>,
}

impl RuleTask {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        settings: RuleSettings,
        model_id: String,
        counters: Arc<Counters>,
        decoders: Arc<Decoders>,
        loaded_counts: Arc<(AtomicUsize, AtomicUsize)>,
    ) -> Result<RuleTask, roeh_rules::Error> {
        let engine = RuleEngine::with_config(Vec::new(), Vec::new(), settings.engine.clone())?;
        Ok(RuleTask {
            store,
            clock,
            settings,
            model_id,
            counters,
            decoders,
            loaded_counts,
            engine,
            loaded: Loaded::default(),
            rules: HashMap::new(),
            hotspots: HashMap::new(),
            tamper_cameras: HashSet::new(),
            open: HashMap::new(),
            last: HashMap::new(),
            watched: HashMap::new(),
        })
    }

    /// Runs until cancelled (then closes every open incident) or until both inputs close.
    pub async fn run(
        mut self,
        mut analysed: mpsc::Receiver<Analysed>,
        mut commands: mpsc::Receiver<Command>,
        cancel: CancellationToken,
    ) {
        let mut tick = tokio::time::interval(self.settings.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => break,
                c = commands.recv() => match c {
                    Some(Command::Load(l, done)) => {
                        self.load(l).await;
                        let _ = done.send(());
                    }
                    Some(Command::Tick(done)) => {
                        self.tick().await;
                        let _ = done.send(());
                    }
                    Some(Command::Watch(camera, until, done)) => {
                        let _ = done.send(self.watch(camera, until));
                    }
                    None => break,
                },
                a = analysed.recv() => match a {
                    Some(a) => self.observe(a).await,
                    None => break,
                },
                // Nothing armed, watched, open or decoding: nothing a tick could change, so the
                // task sleeps until a command or a frame.
                _ = tick.tick(), if self.needs_tick() => self.tick().await,
            }
        }
        let now = self.clock.wall();
        self.close_all(now).await;
        tracing::debug!("Rule task stopped.");
    }

    async fn observe(&mut self, a: Analysed) {
        let camera = a.frame.camera;
        let dets: Vec<Detected> = a
            .detections
            .items
            .iter()
            .map(|d| Detected {
                label: d.label.clone(),
                score: d.score,
                bbox: d.bbox,
            })
            .collect();
        let stats = if self.tamper_cameras.contains(&camera) {
            FrameStats::from_rgb(a.frame.width, a.frame.height, &a.frame.data).ok()
        } else {
            None
        };
        let events = self
            .engine
            .observe(camera, a.frame.received_at, &dets, stats);
        self.last.insert(camera, a);
        self.handle(events).await;
    }

    /// Whether time alone can change anything: an enabled rule (schedules arm and disarm it,
    /// its timers fire), a camera watched, an incident open, or a camera still decoded.
    fn needs_tick(&self) -> bool {
        self.rules.values().any(|r| r.enabled)
            || !self.watched.is_empty()
            || !self.open.is_empty()
            || self.decoders.any_wanted()
    }

    async fn tick(&mut self) {
        let now = self.clock.wall();
        self.watched.retain(|_, until| *until > now);
        let events = self.engine.tick(now);
        self.handle(events).await;
        self.decoders.set_wanted(self.wanted(now));
        self.decoders.sample(self.clock.monotonic());
    }

    /// Keeps `camera` decoded until `until` (if its analysis is on) and tells what the detector
    /// saw on it last.
    fn watch(&mut self, camera: CameraId, until: WallTime) -> crate::Seen {
        let now = self.clock.wall();
        let on = self.loaded.analysed(camera);
        if on {
            let e = self.watched.entry(camera).or_insert(until);
            *e = (*e).max(until);
            self.decoders.set_wanted(self.wanted(now));
        }
        let decoding = self.decoders.wanted().contains_key(&camera);
        crate::Seen {
            analysis_on: on,
            decoding,
            // A frame from before decoding stopped is not what the detector sees now.
            last: self
                .last
                .get(&camera)
                .filter(|_| decoding)
                .map(|a| crate::SeenFrame {
                    at: a.frame.received_at,
                    width: a.frame.width,
                    height: a.frame.height,
                    rgb: a.frame.data.clone(),
                    objects: a
                        .detections
                        .items
                        .iter()
                        .map(|d| crate::SeenObject {
                            label: d.label.to_string(),
                            score: d.score,
                            bbox: d.bbox,
                        })
                        .collect(),
                }),
        }
    }

    /// The cameras to decode at `now`, with their rates: analysis not switched off, and an
    /// enabled rule armed on them or someone watching what the detector sees on them.
    fn wanted(&self, now: WallTime) -> HashMap<CameraId, f64> {
        let mut out = HashMap::new();
        for (&cam, &until) in &self.watched {
            if until > now && self.loaded.analysed(cam) {
                let s = self.loaded.settings.get(&cam);
                out.insert(cam, s.map_or(self.settings.default_fps, |s| s.fps));
            }
        }
        for rule in self.rules.values().filter(|r| r.enabled) {
            let Some(h) = self.hotspots.get(&rule.hotspot) else {
                continue;
            };
            if !(rule.always_armed || h.schedule.is_armed(now)) {
                continue;
            }
            for cam in rule_cameras(rule, h) {
                if self.loaded.analysed(cam) {
                    let s = self.loaded.settings.get(&cam);
                    out.insert(cam, s.map_or(self.settings.default_fps, |s| s.fps));
                }
            }
        }
        out
    }

    async fn load(&mut self, l: Loaded) {
        let now = self.clock.wall();
        let same_rules = l.hotspots == self.loaded.hotspots && l.rules == self.loaded.rules;
        for cam in l.paused.symmetric_difference(&self.loaded.paused) {
            if l.paused.contains(cam) {
                tracing::info!(camera = %cam, "Camera turned away from its home position: its rules pause.");
            } else {
                tracing::info!(camera = %cam, "Camera back at its home position: its rules resume.");
            }
        }
        if !same_rules {
            match RuleEngine::with_config(
                l.hotspots.clone(),
                l.rules.clone(),
                self.settings.engine.clone(),
            ) {
                Ok(engine) => {
                    self.close_all(now).await;
                    self.engine = engine;
                    self.open.clear();
                    self.last.clear();
                }
                Err(e) => {
                    tracing::error!(err = %e.chain(), "Hotspots and rules do not load; keeping the previous ones.");
                    return;
                }
            }
        }
        // Camera settings and positions: apply the differences (all of them to a new engine).
        let mut events = Vec::new();
        let cams: HashSet<CameraId> = l
            .hotspots
            .iter()
            .flat_map(|h| h.cameras.iter().copied())
            .collect();
        for cam in cams {
            let on = l.analysed(cam);
            if !same_rules || self.engine.analysis(cam) != on {
                events.extend(self.engine.set_analysis(cam, on, now));
            }
        }
        self.rules = l.rules.iter().map(|r| (r.id, r.clone())).collect();
        self.hotspots = l.hotspots.iter().map(|h| (h.id, h.clone())).collect();
        self.tamper_cameras = l
            .rules
            .iter()
            .filter(|r| r.enabled && matches!(r.kind, RuleKind::Tamper { .. }))
            .filter_map(|r| self.hotspots.get(&r.hotspot))
            .flat_map(|h| h.cameras.iter().copied())
            .collect();
        self.loaded_counts
            .0
            .store(l.hotspots.len(), Ordering::Relaxed);
        self.loaded_counts.1.store(l.rules.len(), Ordering::Relaxed);
        self.loaded = l;
        self.handle(events).await;
        self.decoders.set_wanted(self.wanted(now));
        tracing::info!(
            hotspots = self.hotspots.len(),
            rules = self.rules.len(),
            cameras = self.decoders.wanted().len(),
            "Loaded hotspots and rules."
        );
    }

    /// Closes every open incident at `now` (the engine switches every camera off and on again).
    async fn close_all(&mut self, now: WallTime) {
        let cams: HashSet<CameraId> = self.open.keys().map(|k| k.camera).collect();
        let mut events = Vec::new();
        for cam in cams {
            let was = self.engine.analysis(cam);
            events.extend(self.engine.set_analysis(cam, false, now));
            if was {
                events.extend(self.engine.set_analysis(cam, true, now));
            }
        }
        self.handle(events).await;
    }

    async fn handle(&mut self, events: Vec<RuleEvent>) {
        for ev in events {
            match ev {
                RuleEvent::Opened {
                    key,
                    hotspot,
                    kind,
                    severity,
                    priority,
                    alerting,
                    score,
                    track_ids,
                    reason,
                    at,
                } => {
                    let inc = NewIncident {
                        id: Uuid::new_v4(),
                        rule_id: key.rule.0,
                        camera: key.camera,
                        hotspot_id: hotspot.0,
                        seq: key.seq,
                        kind,
                        severity: severity_name(severity).to_owned(),
                        priority,
                        alerting,
                        reason,
                        opened_at: at,
                        peak_score: f64::from(score),
                        track_ids,
                        model_id: self.model_id.clone(),
                        evidence_start: at.minus(self.settings.pre_roll),
                    };
                    if let Err(e) = self.store.insert_incident(&inc).await {
                        tracing::error!(err = %e.chain(), camera = %key.camera, rule = %key.rule, "Cannot record an incident.");
                        continue;
                    }
                    Counters::add(&self.counters.incidents_opened, 1);
                    tracing::info!(incident = %inc.id, camera = %key.camera, rule = %key.rule,
                        kind = %inc.kind, reason = %inc.reason, score, "Incident opened.");
                    self.open.insert(
                        key,
                        Open {
                            id: inc.id,
                            peak: score,
                        },
                    );
                    self.snapshot(key, inc.id).await;
                }
                RuleEvent::Updated {
                    key,
                    peak_score,
                    track_ids,
                    at,
                    ..
                } => {
                    let Some(open) = self.open.get_mut(&key) else {
                        continue;
                    };
                    let id = open.id;
                    let raised = peak_score > open.peak;
                    open.peak = open.peak.max(peak_score);
                    if let Err(e) = self
                        .store
                        .update_incident(id, f64::from(peak_score), &track_ids, at)
                        .await
                    {
                        tracing::warn!(incident = %id, err = %e.chain(), "Cannot record an incident update.");
                    }
                    if raised {
                        self.snapshot(key, id).await;
                    }
                }
                RuleEvent::Closed {
                    key,
                    peak_score,
                    at,
                    ..
                } => {
                    let Some(open) = self.open.remove(&key) else {
                        continue;
                    };
                    let end = at.plus(self.settings.post_roll);
                    match self
                        .store
                        .close_incident(open.id, f64::from(peak_score), at, end)
                        .await
                    {
                        Ok(_) => {
                            Counters::add(&self.counters.incidents_closed, 1);
                            tracing::info!(incident = %open.id, camera = %key.camera, "Incident closed.");
                        }
                        Err(e) => {
                            tracing::warn!(incident = %open.id, err = %e.chain(), "Cannot record an incident close.");
                        }
                    }
                }
            }
        }
    }

    /// Writes the snapshot of incident `id` from the camera's latest analysed frame.
    async fn snapshot(&self, key: IncidentKey, id: Uuid) {
        let Some(a) = self.last.get(&key.camera) else {
            return;
        };
        let Some(rule) = self.rules.get(&key.rule) else {
            return;
        };
        let overlay = overlay(rule, self.hotspots.get(&rule.hotspot), a);
        let frame = a.frame.clone();
        let quality = self.settings.jpeg_quality;
        let dir = self.settings.snapshot_dir.clone();
        let name = format!("{id}.jpg");
        let file = name.clone();
        let written = tokio::task::spawn_blocking(move || {
            let jpeg = render_jpeg(&frame.data, frame.width, frame.height, &overlay, quality)?;
            write_atomically(&dir, &file, &jpeg)
        })
        .await;
        match written {
            Ok(Ok(_)) => {
                if let Err(e) = self.store.set_incident_snapshot(id, &name).await {
                    tracing::warn!(incident = %id, err = %e.chain(), "Cannot record a snapshot.");
                }
            }
            Ok(Err(e)) => {
                tracing::warn!(incident = %id, err = %e.chain(), "Cannot write a snapshot.")
            }
            Err(e) => tracing::warn!(incident = %id, err = %e, "Snapshot thread failed."),
        }
    }
}

/// The cameras a rule looks at.
pub(crate) fn rule_cameras(rule: &Rule, h: &Hotspot) -> Vec<CameraId> {
    match &rule.kind {
        RuleKind::Intrusion { zone }
        | RuleKind::Loitering { zone, .. }
        | RuleKind::Crowding { zone, .. } => h.zone(zone).map(|z| z.camera).into_iter().collect(),
        RuleKind::LineCrossing { line } => h.line(line).map(|l| l.camera).into_iter().collect(),
        RuleKind::Tamper { .. } => h.cameras.clone(),
    }
}

/// The boxes the rule counts in this frame, and its zone or line.
fn overlay(rule: &Rule, h: Option<&Hotspot>, a: &Analysed) -> Overlay {
    let boxes = a
        .detections
        .items
        .iter()
        .filter(|d| rule.wants_label(&d.label) && d.score >= rule.min_confidence)
        .map(|d| d.bbox)
        .collect();
    let mut o = Overlay {
        boxes,
        ..Overlay::default()
    };
    if let Some(h) = h {
        match &rule.kind {
            RuleKind::Intrusion { zone }
            | RuleKind::Loitering { zone, .. }
            | RuleKind::Crowding { zone, .. } => {
                if let Some(z) = h.zone(zone) {
                    o.polygons.push(z.polygon.points().to_vec());
                }
            }
            RuleKind::LineCrossing { line } => {
                if let Some(l) = h.line(line) {
                    o.lines.push((l.line.a(), l.line.b()));
                }
            }
            RuleKind::Tamper { .. } => {}
        }
    }
    o
}

/// The stored name of a severity.
pub(crate) fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
    }
}
