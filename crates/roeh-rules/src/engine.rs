//! The rule engine: frames and detections in, incident events out.
//!
//! The caller feeds each analysed frame with [`RuleEngine::observe`] and calls
//! [`RuleEngine::tick`] periodically (say once a second) with the current time; the engine never
//! reads a clock. Times given to one camera's `observe` must not go backwards: an older frame is
//! ignored.
//!
//! Per frame, the engine
//! 1. tracks the detections ([`crate::tracker`]); a track counts for a rule when its label is one
//!    of the rule's labels and its latest matched score is at least the rule's `min_confidence`.
//!    Tracks that coast (briefly unmatched) keep counting at their last position until dropped;
//! 2. places each track matched in this frame by its foot point: in or out of each zone of the
//!    camera (dwell in a zone counts from the first frame the track was seen inside it, and ends
//!    when it is seen outside or dropped), and on which side of each trip line (a crossing is a
//!    move between frames from one side strictly to the other through the segment; frames with
//!    the foot exactly on the line are skipped);
//! 3. evaluates every enabled rule on this camera that is armed (the hotspot's schedule at the
//!    frame's time, or `always_armed`). A rule that is not armed sees no condition, and its
//!    crowding and darkness timers restart.
//!
//! Incidents, per rule and camera (see [`IncidentKey`]):
//! - while none is open and the condition holds, one opens ([`RuleEvent::Opened`]) unless the
//!   rule is cooling down: after a close at time `c`, a new incident may open only at a time
//!   `>= c + cooldown`; conditions during the cooldown are dropped, not queued;
//! - while open, a hit that raises the peak score or adds a track id gives
//!   [`RuleEvent::Updated`]; other hits only keep the incident alive;
//! - an open incident closes ([`RuleEvent::Closed`], at the time of that observe or tick) at the
//!   first observe or tick at least [`EngineConfig::hold`] after its last hit. Line crossings are
//!   momentary hits, so their incidents close `hold` after the last crossing.
//!
//! Tamper: a frame with [`FrameStats`] whose mean luma is at most `dark_luma_max` is dark; the
//! rule hits once the picture has been dark for `dark_secs`. A frame whose signature equals the
//! previous frame's continues a freeze that began at the first of the equal frames; the rule hits
//! once it has lasted `frozen_secs`. A frame without stats ends both. No frames: `tick` hits when
//! the camera's last frame (or, before any, the first tick that watched it or the time its
//! analysis was switched on) is `no_frames_secs` or more in the past. Between frames, `tick`
//! keeps a dark or frozen hit alive.
//!
//! A camera whose analysis is off ([`RuleEngine::set_analysis`]) produces nothing; switching it
//! off closes its open incidents and forgets its tracks. Cameras not on any hotspot are ignored.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use roeh_domain::{CameraId, ErrorKind, WallTime};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::frame_stats::FrameStats;
use crate::geometry::Point;
use crate::hotspot::{Hotspot, HotspotId};
use crate::rule::{Rule, RuleId, RuleKind, Severity};
use crate::tracker::{Detected, Track, Tracker, TrackerConfig};

/// Engine settings.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineConfig {
    /// The tracker's settings.
    pub tracker: TrackerConfig,
    /// How long a condition must be absent before its incident closes.
    pub hold: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            tracker: TrackerConfig::default(),
            hold: Duration::from_secs(5),
        }
    }
}

/// Names one incident: the rule, the camera, and a number counting that pair's incidents from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct IncidentKey {
    /// The rule that opened it.
    pub rule: RuleId,
    /// The camera it was seen on.
    pub camera: CameraId,
    /// 1 for the pair's first incident, then 2, 3, ... (local to this engine).
    pub seq: u64,
}

/// What the engine reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RuleEvent {
    /// A condition began.
    Opened {
        /// The incident.
        key: IncidentKey,
        /// The rule's hotspot.
        hotspot: HotspotId,
        /// The rule's kind, e.g. `intrusion`.
        kind: String,
        /// The rule's severity.
        severity: Severity,
        /// The hotspot's priority.
        priority: u8,
        /// The rule's `alerting` flag.
        alerting: bool,
        /// The highest detection score involved (1 for tamper).
        score: f32,
        /// Tracks involved, ascending.
        track_ids: Vec<u64>,
        /// A short explanation for people.
        reason: String,
        /// When.
        at: WallTime,
    },
    /// An open incident's peak score rose or new tracks joined.
    Updated {
        /// The incident.
        key: IncidentKey,
        /// The rule's hotspot.
        hotspot: HotspotId,
        /// The highest score so far.
        peak_score: f32,
        /// All tracks involved so far, ascending.
        track_ids: Vec<u64>,
        /// When.
        at: WallTime,
    },
    /// The condition has been absent for the hold time (or the camera's analysis was switched
    /// off).
    Closed {
        /// The incident.
        key: IncidentKey,
        /// The rule's hotspot.
        hotspot: HotspotId,
        /// The highest score seen.
        peak_score: f32,
        /// When it opened.
        opened_at: WallTime,
        /// When it closed.
        at: WallTime,
    },
}

impl RuleEvent {
    /// The incident.
    pub fn key(&self) -> IncidentKey {
        match self {
            RuleEvent::Opened { key, .. }
            | RuleEvent::Updated { key, .. }
            | RuleEvent::Closed { key, .. } => *key,
        }
    }

    /// When.
    pub fn at(&self) -> WallTime {
        match self {
            RuleEvent::Opened { at, .. }
            | RuleEvent::Updated { at, .. }
            | RuleEvent::Closed { at, .. } => *at,
        }
    }
}

/// What a rule is about, resolved to indices into its hotspot.
#[derive(Clone, Copy, Debug)]
enum Target {
    Zone(usize),
    Line(usize),
    Cameras,
}

#[derive(Clone, Debug)]
struct CompiledRule {
    rule: Rule,
    hotspot: usize,
    target: Target,
    cameras: Vec<CameraId>,
}

#[derive(Clone, Debug)]
struct Hit {
    score: f32,
    tracks: Vec<u64>,
    reason: String,
}

impl Hit {
    /// A hit by `tracks`: the best of their scores, and their ids.
    fn by(tracks: &[&Track], reason: String) -> Hit {
        Hit {
            score: tracks.iter().map(|t| t.score).fold(0.0, f32::max),
            tracks: tracks.iter().map(|t| t.id).collect(),
            reason,
        }
    }

    /// A hit of the picture itself (a tampering sign): full score, no tracks.
    fn of_picture(reason: String) -> Hit {
        Hit {
            score: 1.0,
            tracks: Vec::new(),
            reason,
        }
    }
}

#[derive(Clone, Debug)]
struct OpenIncident {
    seq: u64,
    opened_at: WallTime,
    peak: f32,
    tracks: BTreeSet<u64>,
    last_hit: WallTime,
}

#[derive(Clone, Debug, Default)]
struct RuleState {
    seq: u64,
    open: Option<OpenIncident>,
    last_closed: Option<WallTime>,
    crowd_since: Option<WallTime>,
    dark_since: Option<WallTime>,
    /// The dark or frozen hit of the latest frame, kept alive by `tick`.
    last_frame_hit: Option<Hit>,
}

#[derive(Clone, Debug)]
struct CameraState {
    analysis: bool,
    last_frame: Option<WallTime>,
    watch_since: Option<WallTime>,
    last_signature: Option<u64>,
    frozen_since: Option<WallTime>,
    luma: Option<f32>,
}

impl CameraState {
    fn new() -> CameraState {
        CameraState {
            analysis: true,
            last_frame: None,
            watch_since: None,
            last_signature: None,
            frozen_since: None,
            luma: None,
        }
    }
}

/// Zone membership key: track, hotspot index, zone index.
type ZoneKey = (u64, usize, usize);
/// Line side key: track, hotspot index, line index.
type LineKey = (u64, usize, usize);

/// The engine; see the module docs.
#[derive(Debug)]
pub struct RuleEngine {
    config: EngineConfig,
    hotspots: Vec<Hotspot>,
    rules: Vec<CompiledRule>,
    cameras: BTreeMap<CameraId, CameraState>,
    tracker: Tracker,
    states: HashMap<(usize, CameraId), RuleState>,
    in_zone: HashMap<ZoneKey, WallTime>,
    line_side: HashMap<LineKey, (i8, Point)>,
}

impl RuleEngine {
    /// An engine with the default settings; see [`RuleEngine::with_config`].
    pub fn new(hotspots: Vec<Hotspot>, rules: Vec<Rule>) -> Result<RuleEngine, Error> {
        RuleEngine::with_config(hotspots, rules, EngineConfig::default())
    }

    /// Validates every hotspot and rule (ids distinct, each rule's hotspot, zone or line known)
    /// and builds the engine. All cameras start with analysis on.
    pub fn with_config(
        hotspots: Vec<Hotspot>,
        rules: Vec<Rule>,
        config: EngineConfig,
    ) -> Result<RuleEngine, Error> {
        let t = config.tracker.iou_threshold;
        if !(t.is_finite() && t > 0.0 && t <= 1.0) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("engine config: tracker.iou_threshold: {t} is outside (0, 1]"),
            ));
        }
        let mut by_id = HashMap::new();
        let mut cameras = BTreeMap::new();
        for (i, h) in hotspots.iter().enumerate() {
            h.validate()?;
            if by_id.insert(h.id, i).is_some() {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("hotspot {:?}: id {} is used twice", h.name, h.id),
                ));
            }
            for c in &h.cameras {
                cameras.entry(*c).or_insert_with(CameraState::new);
            }
        }
        let mut rule_ids = BTreeSet::new();
        let mut compiled = Vec::with_capacity(rules.len());
        for rule in rules {
            if !rule_ids.insert(rule.id) {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("rule {:?}: id {} is used twice", rule.name, rule.id),
                ));
            }
            let Some(&hi) = by_id.get(&rule.hotspot) else {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "rule {:?} ({}): hotspot: {} is not a known hotspot",
                        rule.name, rule.id, rule.hotspot
                    ),
                ));
            };
            let h = &hotspots[hi];
            rule.validate_for(h)?;
            let (target, cams) = match &rule.kind {
                RuleKind::Intrusion { zone }
                | RuleKind::Loitering { zone, .. }
                | RuleKind::Crowding { zone, .. } => {
                    let zi = h.zones.iter().position(|z| &z.id == zone);
                    match zi {
                        Some(zi) => (Target::Zone(zi), vec![h.zones[zi].camera]),
                        None => continue, // validate_for refused this already
                    }
                }
                RuleKind::LineCrossing { line } => {
                    match h.lines.iter().position(|l| &l.id == line) {
                        Some(li) => (Target::Line(li), vec![h.lines[li].camera]),
                        None => continue,
                    }
                }
                RuleKind::Tamper { .. } => (Target::Cameras, h.cameras.clone()),
            };
            compiled.push(CompiledRule {
                rule,
                hotspot: hi,
                target,
                cameras: cams,
            });
        }
        Ok(RuleEngine {
            tracker: Tracker::new(config.tracker.clone()),
            config,
            hotspots,
            rules: compiled,
            cameras,
            states: HashMap::new(),
            in_zone: HashMap::new(),
            line_side: HashMap::new(),
        })
    }

    /// The hotspots.
    pub fn hotspots(&self) -> &[Hotspot] {
        &self.hotspots
    }

    /// The live tracks of a camera.
    pub fn tracks(&self, camera: CameraId) -> &[Track] {
        self.tracker.tracks(camera)
    }

    /// How long `track` has been in zone `zone` of `hotspot` as of `now`, if it is in it.
    pub fn dwell(
        &self,
        hotspot: HotspotId,
        zone: &str,
        track: u64,
        now: WallTime,
    ) -> Option<Duration> {
        let hi = self.hotspots.iter().position(|h| h.id == hotspot)?;
        let zi = self.hotspots[hi].zones.iter().position(|z| z.id == zone)?;
        self.in_zone
            .get(&(track, hi, zi))
            .map(|since| now.duration_since(*since))
    }

    /// Whether a camera's analysis is on (false for cameras on no hotspot).
    pub fn analysis(&self, camera: CameraId) -> bool {
        self.cameras.get(&camera).is_some_and(|c| c.analysis)
    }

    /// Switches a camera's analysis on or off at `at`. Off closes its open incidents (returned)
    /// and forgets its tracks and timers; on starts the no-frames watch at `at`. Unknown cameras
    /// are ignored.
    pub fn set_analysis(&mut self, camera: CameraId, on: bool, at: WallTime) -> Vec<RuleEvent> {
        let Some(cs) = self.cameras.get_mut(&camera) else {
            return Vec::new();
        };
        let was = cs.analysis;
        *cs = CameraState::new();
        cs.analysis = on;
        if on {
            cs.watch_since = Some(at);
            return Vec::new();
        }
        let mut events = Vec::new();
        if was {
            for id in self.tracker.clear_camera(camera) {
                self.forget_track(id);
            }
            for ri in 0..self.rules.len() {
                if let Some(st) = self.states.get_mut(&(ri, camera)) {
                    st.crowd_since = None;
                    st.dark_since = None;
                    st.last_frame_hit = None;
                    if let Some(open) = st.open.take() {
                        st.last_closed = Some(at);
                        events.push(closed(&self.rules[ri], &self.hotspots, camera, open, at));
                    }
                }
            }
        }
        events
    }

    /// Feeds one analysed frame of `camera` taken at `at`: its detections and, if computed, its
    /// statistics for tamper checks. Returns the events it caused.
    pub fn observe(
        &mut self,
        camera: CameraId,
        at: WallTime,
        detections: &[Detected],
        frame_stats: Option<FrameStats>,
    ) -> Vec<RuleEvent> {
        let Some(cs) = self.cameras.get_mut(&camera) else {
            return Vec::new();
        };
        if !cs.analysis || cs.last_frame.is_some_and(|last| at < last) {
            return Vec::new();
        }
        cs.last_frame = Some(at);
        match frame_stats {
            Some(st) => {
                if cs.last_signature != Some(st.signature) {
                    cs.frozen_since = Some(at);
                }
                cs.last_signature = Some(st.signature);
                cs.luma = st.mean_luma.is_finite().then_some(st.mean_luma);
            }
            None => {
                cs.last_signature = None;
                cs.frozen_since = None;
                cs.luma = None;
            }
        }
        let frozen_for = cs.frozen_since.map(|s| at.duration_since(s));
        let luma = cs.luma;

        let update = self.tracker.update(camera, at, detections);
        for id in &update.dropped {
            self.forget_track(*id);
        }
        let crossings = self.place_tracks(camera, at, &update.seen);

        let mut events = Vec::new();
        for ri in 0..self.rules.len() {
            let cr = &self.rules[ri];
            if !cr.rule.enabled || !cr.cameras.contains(&camera) {
                continue;
            }
            let h = &self.hotspots[cr.hotspot];
            let armed = cr.rule.always_armed || h.schedule.is_armed(at);
            let st = self.states.entry((ri, camera)).or_default();
            let hit = if armed {
                evaluate(
                    cr,
                    h,
                    st,
                    self.tracker.tracks(camera),
                    &self.in_zone,
                    &crossings,
                    at,
                    frozen_for,
                    luma,
                )
            } else {
                st.crowd_since = None;
                st.dark_since = None;
                st.last_frame_hit = None;
                None
            };
            events.extend(step(
                cr,
                &self.hotspots,
                st,
                camera,
                hit,
                at,
                self.config.hold,
            ));
        }
        events
    }

    /// Advances time to `now` without a frame: drops tracks older than the tracker's `max_age`,
    /// checks tamper rules for missing frames, and closes incidents whose condition has been
    /// absent for the hold time.
    pub fn tick(&mut self, now: WallTime) -> Vec<RuleEvent> {
        for (_, id) in self.tracker.expire(now) {
            self.forget_track(id);
        }
        for cs in self.cameras.values_mut() {
            if cs.analysis && cs.last_frame.is_none() && cs.watch_since.is_none() {
                cs.watch_since = Some(now);
            }
        }
        let mut events = Vec::new();
        for ri in 0..self.rules.len() {
            let cr = &self.rules[ri];
            if !cr.rule.enabled {
                continue;
            }
            let h = &self.hotspots[cr.hotspot];
            let armed = cr.rule.always_armed || h.schedule.is_armed(now);
            for &camera in &cr.cameras {
                let Some(cs) = self.cameras.get(&camera) else {
                    continue;
                };
                if !cs.analysis {
                    continue;
                }
                let st = self.states.entry((ri, camera)).or_default();
                let mut hit = None;
                if let RuleKind::Tamper { no_frames_secs, .. } = cr.rule.kind
                    && armed
                {
                    if let (Some(limit), Some(since)) =
                        (no_frames_secs, cs.last_frame.or(cs.watch_since))
                    {
                        let silent = now.duration_since(since);
                        if silent >= Duration::from_secs(limit) {
                            hit = Some(Hit::of_picture(format!(
                                "no frames for {} s",
                                silent.as_secs()
                            )));
                        }
                    }
                    if hit.is_none() {
                        hit = st.last_frame_hit.clone();
                    }
                }
                events.extend(step(
                    cr,
                    &self.hotspots,
                    st,
                    camera,
                    hit,
                    now,
                    self.config.hold,
                ));
            }
        }
        events
    }

    fn forget_track(&mut self, id: u64) {
        self.in_zone.retain(|k, _| k.0 != id);
        self.line_side.retain(|k, _| k.0 != id);
    }

    /// Updates zone membership and line sides of the tracks matched in this frame; returns the
    /// crossings: (hotspot index, line index, track id, crossing).
    fn place_tracks(
        &mut self,
        camera: CameraId,
        at: WallTime,
        seen: &[u64],
    ) -> Vec<(usize, usize, u64, crate::geometry::Crossing)> {
        let mut crossings = Vec::new();
        let tracks = self.tracker.tracks(camera);
        for (hi, h) in self.hotspots.iter().enumerate() {
            if !h.cameras.contains(&camera) {
                continue;
            }
            for t in tracks.iter().filter(|t| seen.contains(&t.id)) {
                let foot = t.foot();
                for (zi, z) in h.zones.iter().enumerate() {
                    if z.camera != camera {
                        continue;
                    }
                    if z.polygon.contains(foot) {
                        self.in_zone.entry((t.id, hi, zi)).or_insert(at);
                    } else {
                        self.in_zone.remove(&(t.id, hi, zi));
                    }
                }
                for (li, l) in h.lines.iter().enumerate() {
                    if l.camera != camera {
                        continue;
                    }
                    let side = l.line.side(foot);
                    if side == 0 {
                        continue;
                    }
                    let key = (t.id, hi, li);
                    if let Some(&(prev_side, prev)) = self.line_side.get(&key)
                        && prev_side != side
                        && let Some(c) = l.line.crossing(prev, foot)
                    {
                        crossings.push((hi, li, t.id, c));
                    }
                    self.line_side.insert(key, (side, foot));
                }
            }
        }
        crossings
    }
}

fn counts(rule: &Rule, t: &Track) -> bool {
    rule.wants_label(&t.label) && t.score >= rule.min_confidence
}

fn place_name(name: &str, id: &str) -> String {
    if name.is_empty() {
        format!("{id:?}")
    } else {
        format!("{name:?}")
    }
}

#[allow(clippy::too_many_arguments)]
fn evaluate(
    cr: &CompiledRule,
    h: &Hotspot,
    st: &mut RuleState,
    tracks: &[Track],
    in_zone: &HashMap<ZoneKey, WallTime>,
    crossings: &[(usize, usize, u64, crate::geometry::Crossing)],
    at: WallTime,
    frozen_for: Option<Duration>,
    luma: Option<f32>,
) -> Option<Hit> {
    let rule = &cr.rule;
    let in_zone_since = |t: &Track, zi: usize| in_zone.get(&(t.id, cr.hotspot, zi)).copied();
    match (&rule.kind, cr.target) {
        (RuleKind::Intrusion { .. }, Target::Zone(zi)) => {
            let z = &h.zones[zi];
            let inside: Vec<&Track> = tracks
                .iter()
                .filter(|t| counts(rule, t) && in_zone_since(t, zi).is_some())
                .collect();
            (!inside.is_empty()).then(|| {
                Hit::by(
                    &inside,
                    format!("{} in zone {}", inside.len(), place_name(&z.name, &z.id)),
                )
            })
        }
        (RuleKind::Loitering { dwell_secs, .. }, Target::Zone(zi)) => {
            let z = &h.zones[zi];
            let need = Duration::from_secs(*dwell_secs);
            let long: Vec<&Track> = tracks
                .iter()
                .filter(|t| {
                    counts(rule, t)
                        && in_zone_since(t, zi).is_some_and(|s| at.duration_since(s) >= need)
                })
                .collect();
            (!long.is_empty()).then(|| {
                Hit::by(
                    &long,
                    format!(
                        "{} in zone {} for {} s or more",
                        long.len(),
                        place_name(&z.name, &z.id),
                        dwell_secs
                    ),
                )
            })
        }
        (
            RuleKind::Crowding {
                min_count,
                for_secs,
                ..
            },
            Target::Zone(zi),
        ) => {
            let z = &h.zones[zi];
            let inside: Vec<&Track> = tracks
                .iter()
                .filter(|t| counts(rule, t) && in_zone_since(t, zi).is_some())
                .collect();
            if inside.len() < *min_count as usize {
                st.crowd_since = None;
                return None;
            }
            let since = *st.crowd_since.get_or_insert(at);
            (at.duration_since(since) >= Duration::from_secs(*for_secs)).then(|| {
                Hit::by(
                    &inside,
                    format!(
                        "{} in zone {} (at least {min_count}) for {for_secs} s or more",
                        inside.len(),
                        place_name(&z.name, &z.id)
                    ),
                )
            })
        }
        (RuleKind::LineCrossing { .. }, Target::Line(li)) => {
            let l = &h.lines[li];
            let crossed: Vec<&Track> = crossings
                .iter()
                .filter(|(hi, cli, _, c)| *hi == cr.hotspot && *cli == li && l.direction.admits(*c))
                .filter_map(|(_, _, id, _)| tracks.iter().find(|t| t.id == *id))
                .filter(|t| counts(rule, t))
                .collect();
            (!crossed.is_empty()).then(|| {
                Hit::by(
                    &crossed,
                    format!(
                        "{} crossed line {}",
                        crossed.len(),
                        place_name(&l.name, &l.id)
                    ),
                )
            })
        }
        (
            RuleKind::Tamper {
                frozen_secs,
                dark_luma_max,
                dark_secs,
                ..
            },
            Target::Cameras,
        ) => {
            let mut hit = None;
            match (dark_luma_max, luma) {
                (Some(max), Some(l)) if l <= *max => {
                    let since = *st.dark_since.get_or_insert(at);
                    let dark_for = at.duration_since(since);
                    if dark_for >= Duration::from_secs(*dark_secs) {
                        hit = Some(Hit::of_picture(format!(
                            "dark image (mean luma {l:.1} <= {max})"
                        )));
                    }
                }
                _ => st.dark_since = None,
            }
            if hit.is_none()
                && let (Some(limit), Some(f)) = (frozen_secs, frozen_for)
                && f >= Duration::from_secs(*limit)
            {
                hit = Some(Hit::of_picture(format!(
                    "frozen image for {} s",
                    f.as_secs()
                )));
            }
            st.last_frame_hit = hit.clone();
            hit
        }
        _ => None,
    }
}

fn closed(
    cr: &CompiledRule,
    hotspots: &[Hotspot],
    camera: CameraId,
    open: OpenIncident,
    at: WallTime,
) -> RuleEvent {
    RuleEvent::Closed {
        key: IncidentKey {
            rule: cr.rule.id,
            camera,
            seq: open.seq,
        },
        hotspot: hotspots[cr.hotspot].id,
        peak_score: open.peak,
        opened_at: open.opened_at,
        at,
    }
}

/// The incident state machine of one rule and camera; see the module docs.
fn step(
    cr: &CompiledRule,
    hotspots: &[Hotspot],
    st: &mut RuleState,
    camera: CameraId,
    hit: Option<Hit>,
    at: WallTime,
    hold: Duration,
) -> Option<RuleEvent> {
    let h = &hotspots[cr.hotspot];
    match (&mut st.open, hit) {
        (Some(open), Some(hit)) => {
            open.last_hit = open.last_hit.max(at);
            let mut changed = false;
            if hit.score > open.peak {
                open.peak = hit.score;
                changed = true;
            }
            for id in hit.tracks {
                changed |= open.tracks.insert(id);
            }
            changed.then(|| RuleEvent::Updated {
                key: IncidentKey {
                    rule: cr.rule.id,
                    camera,
                    seq: open.seq,
                },
                hotspot: h.id,
                peak_score: open.peak,
                track_ids: open.tracks.iter().copied().collect(),
                at,
            })
        }
        (Some(open), None) => {
            if at.duration_since(open.last_hit) < hold {
                return None;
            }
            let open = st.open.take()?;
            st.last_closed = Some(at);
            Some(closed(cr, hotspots, camera, open, at))
        }
        (None, Some(hit)) => {
            if let Some(c) = st.last_closed
                && at < c.plus(cr.rule.cooldown())
            {
                return None;
            }
            st.seq += 1;
            let tracks: BTreeSet<u64> = hit.tracks.into_iter().collect();
            let event = RuleEvent::Opened {
                key: IncidentKey {
                    rule: cr.rule.id,
                    camera,
                    seq: st.seq,
                },
                hotspot: h.id,
                kind: cr.rule.kind.name().to_owned(),
                severity: cr.rule.severity,
                priority: h.priority,
                alerting: cr.rule.alerting,
                score: hit.score,
                track_ids: tracks.iter().copied().collect(),
                reason: hit.reason,
                at,
            };
            st.open = Some(OpenIncident {
                seq: st.seq,
                opened_at: at,
                peak: hit.score,
                tracks,
                last_hit: at,
            });
            Some(event)
        }
        (None, None) => None,
    }
}
