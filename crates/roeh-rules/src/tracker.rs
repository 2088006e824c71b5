//! A multi-object tracker by box overlap (IoU), per camera and per label.
//!
//! Each frame's detections are matched to the camera's live tracks of the same label greedily:
//! all pairs with IoU at or above [`TrackerConfig::iou_threshold`] are taken in order of falling
//! IoU (ties by track id, then detection index), each track and each detection at most once. This
//! is the usual simplification of optimal assignment: for the sparse scenes of a control room the
//! result is the same, and it is deterministic.
//!
//! Invariants:
//! - track ids are unique within one [`Tracker`] (across all its cameras), start at 1, and are
//!   never reused;
//! - a matched track keeps its id, takes the detection's box and score, and its `last_seen`;
//!   an unmatched detection starts a new track with `first_seen == last_seen == at`;
//! - an unmatched track *coasts* (keeps its last box, `missed` grows) and is dropped once it has
//!   missed more than [`TrackerConfig::max_missed`] frames in a row, or once `at - last_seen`
//!   exceeds [`TrackerConfig::max_age`] (checked on every update and on [`Tracker::expire`]);
//! - detections with a non-finite score or box, an empty label, or an empty box after clamping
//!   to `0..=1` are ignored.
//!
//! Dwell: [`Track::dwell`] is the time since the track was first seen. Dwell *in a zone* is kept
//! by the rule engine, from the frame the track's foot point was first seen inside the zone.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use roeh_domain::{CameraId, WallTime};

use crate::geometry::{Point, foot_point, iou};

/// One detected object, as the detector reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct Detected {
    /// The class label, e.g. `person`.
    pub label: Arc<str>,
    /// Confidence, `0..=1`.
    pub score: f32,
    /// `[xmin, ymin, xmax, ymax]`, normalised to the frame.
    pub bbox: [f32; 4],
}

impl Detected {
    /// A detection.
    pub fn new(label: &str, score: f32, bbox: [f32; 4]) -> Detected {
        Detected {
            label: Arc::from(label),
            score,
            bbox,
        }
    }

    /// The box clamped to `0..=1`, if the detection is usable.
    fn clean_box(&self) -> Option<[f32; 4]> {
        if self.label.is_empty()
            || !self.score.is_finite()
            || self.bbox.iter().any(|v| !v.is_finite())
        {
            return None;
        }
        let b = self.bbox.map(|v| v.clamp(0.0, 1.0));
        (b[2] > b[0] && b[3] > b[1]).then_some(b)
    }
}

/// Tracker settings.
#[derive(Clone, Debug, PartialEq)]
pub struct TrackerConfig {
    /// Lowest IoU for a detection to continue a track.
    pub iou_threshold: f32,
    /// Frames a track may go unmatched before it is dropped.
    pub max_missed: u32,
    /// Time since a track was last matched after which it is dropped.
    pub max_age: Duration,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            iou_threshold: 0.3,
            max_missed: 10,
            max_age: Duration::from_secs(5),
        }
    }
}

/// One tracked object.
#[derive(Clone, Debug, PartialEq)]
pub struct Track {
    /// Stable id.
    pub id: u64,
    /// The camera it is seen by.
    pub camera: CameraId,
    /// The label of the detections it follows.
    pub label: Arc<str>,
    /// The last matched box.
    pub bbox: [f32; 4],
    /// The last matched score.
    pub score: f32,
    /// When it was first seen.
    pub first_seen: WallTime,
    /// When it was last matched.
    pub last_seen: WallTime,
    /// Frames in a row without a match (0 when matched in the latest frame).
    pub missed: u32,
    /// Frames it was matched in, the first included.
    pub hits: u32,
    /// The foot point at the previous match, if any.
    pub prev_foot: Option<Point>,
}

impl Track {
    /// The foot point of the last matched box (see [`crate::geometry::foot_point`]).
    pub fn foot(&self) -> Point {
        foot_point(self.bbox)
    }

    /// Time from first to last sighting.
    pub fn dwell(&self) -> Duration {
        self.last_seen.duration_since(self.first_seen)
    }
}

/// What one [`Tracker::update`] did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrackerUpdate {
    /// Ids of tracks matched or started by this frame.
    pub seen: Vec<u64>,
    /// Ids of tracks started by this frame.
    pub started: Vec<u64>,
    /// Ids of tracks dropped by this frame.
    pub dropped: Vec<u64>,
}

/// The tracker; see the module docs.
#[derive(Clone, Debug)]
pub struct Tracker {
    config: TrackerConfig,
    next_id: u64,
    cameras: BTreeMap<CameraId, Vec<Track>>,
}

impl Tracker {
    /// An empty tracker.
    pub fn new(config: TrackerConfig) -> Tracker {
        Tracker {
            config,
            next_id: 1,
            cameras: BTreeMap::new(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &TrackerConfig {
        &self.config
    }

    /// The live tracks of a camera, oldest first.
    pub fn tracks(&self, camera: CameraId) -> &[Track] {
        self.cameras.get(&camera).map(Vec::as_slice).unwrap_or(&[])
    }

    /// One track by id.
    pub fn track(&self, camera: CameraId, id: u64) -> Option<&Track> {
        self.tracks(camera).iter().find(|t| t.id == id)
    }

    /// Feeds one frame's detections of `camera` at `at`.
    pub fn update(&mut self, camera: CameraId, at: WallTime, dets: &[Detected]) -> TrackerUpdate {
        let cfg = &self.config;
        let tracks = self.cameras.entry(camera).or_default();
        let dets: Vec<(&Detected, [f32; 4])> = dets
            .iter()
            .filter_map(|d| d.clean_box().map(|b| (d, b)))
            .collect();
        let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
        for (ti, t) in tracks.iter().enumerate() {
            for (di, (d, b)) in dets.iter().enumerate() {
                if t.label != d.label {
                    continue;
                }
                let v = iou(t.bbox, *b);
                if v > 0.0 && v >= cfg.iou_threshold {
                    pairs.push((v, ti, di));
                }
            }
        }
        // Falling IoU; ties by track (oldest first, ids grow with position) then detection.
        pairs.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        let mut track_taken = vec![false; tracks.len()];
        let mut det_taken = vec![false; dets.len()];
        let mut out = TrackerUpdate::default();
        for (_, ti, di) in pairs {
            if track_taken[ti] || det_taken[di] {
                continue;
            }
            track_taken[ti] = true;
            det_taken[di] = true;
            let (d, b) = &dets[di];
            let t = &mut tracks[ti];
            t.prev_foot = Some(t.foot());
            t.bbox = *b;
            t.score = d.score;
            t.last_seen = at;
            t.missed = 0;
            t.hits = t.hits.saturating_add(1);
            out.seen.push(t.id);
        }
        for (t, taken) in tracks.iter_mut().zip(&track_taken) {
            if !taken {
                t.missed = t.missed.saturating_add(1);
            }
        }
        let max_missed = cfg.max_missed;
        let max_age = cfg.max_age;
        tracks.retain(|t| {
            let keep = t.missed <= max_missed && at.duration_since(t.last_seen) <= max_age;
            if !keep {
                out.dropped.push(t.id);
            }
            keep
        });
        for ((d, b), taken) in dets.iter().zip(&det_taken) {
            if *taken {
                continue;
            }
            let id = self.next_id;
            self.next_id += 1;
            tracks.push(Track {
                id,
                camera,
                label: d.label.clone(),
                bbox: *b,
                score: d.score,
                first_seen: at,
                last_seen: at,
                missed: 0,
                hits: 1,
                prev_foot: None,
            });
            out.seen.push(id);
            out.started.push(id);
        }
        out.seen.sort_unstable();
        out
    }

    /// Drops every track not matched within [`TrackerConfig::max_age`] before `now`; returns
    /// their cameras and ids.
    pub fn expire(&mut self, now: WallTime) -> Vec<(CameraId, u64)> {
        let max_age = self.config.max_age;
        let mut dropped = Vec::new();
        for (cam, tracks) in &mut self.cameras {
            tracks.retain(|t| {
                let keep = now.duration_since(t.last_seen) <= max_age;
                if !keep {
                    dropped.push((*cam, t.id));
                }
                keep
            });
        }
        dropped
    }

    /// Drops every track of a camera; returns their ids.
    pub fn clear_camera(&mut self, camera: CameraId) -> Vec<u64> {
        self.cameras
            .remove(&camera)
            .map(|ts| ts.into_iter().map(|t| t.id).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn t(s: i64) -> WallTime {
        WallTime::from_secs(1_800_000_000 + s)
    }

    #[test]
    fn ids_are_stable_across_small_moves_and_new_objects_get_new_ids() {
        let cam = CameraId::new_random();
        let mut tr = Tracker::new(TrackerConfig::default());
        let u = tr.update(
            cam,
            t(0),
            &[Detected::new("person", 0.9, [0.1, 0.1, 0.2, 0.4])],
        );
        assert_eq!(u.started, vec![1]);
        let u = tr.update(
            cam,
            t(1),
            &[
                Detected::new("person", 0.8, [0.11, 0.1, 0.21, 0.41]),
                Detected::new("person", 0.7, [0.6, 0.5, 0.7, 0.9]),
            ],
        );
        assert_eq!(u.seen, vec![1, 2]);
        assert_eq!(u.started, vec![2]);
        let one = tr.track(cam, 1).unwrap();
        assert_eq!(one.first_seen, t(0));
        assert_eq!(one.last_seen, t(1));
        assert_eq!(one.dwell(), Duration::from_secs(1));
        assert!(one.prev_foot.is_some());
        // The two swap list positions; ids follow the boxes, not the order.
        let u = tr.update(
            cam,
            t(2),
            &[
                Detected::new("person", 0.7, [0.61, 0.5, 0.71, 0.9]),
                Detected::new("person", 0.8, [0.12, 0.1, 0.22, 0.42]),
            ],
        );
        assert_eq!(u.seen, vec![1, 2]);
        assert!(u.started.is_empty());
        assert!((tr.track(cam, 2).unwrap().bbox[0] - 0.61).abs() < 1e-6);
        // A far jump is a new object.
        let u = tr.update(
            cam,
            t(3),
            &[Detected::new("person", 0.8, [0.8, 0.1, 0.9, 0.4])],
        );
        assert_eq!(u.started, vec![3]);
    }

    #[test]
    fn labels_do_not_mix_and_cameras_are_separate() {
        let (a, b) = (CameraId::new_random(), CameraId::new_random());
        let mut tr = Tracker::new(TrackerConfig::default());
        tr.update(
            a,
            t(0),
            &[Detected::new("person", 0.9, [0.1, 0.1, 0.3, 0.5])],
        );
        let u = tr.update(a, t(1), &[Detected::new("car", 0.9, [0.1, 0.1, 0.3, 0.5])]);
        assert_eq!(u.started, vec![2]);
        let u = tr.update(
            b,
            t(1),
            &[Detected::new("person", 0.9, [0.1, 0.1, 0.3, 0.5])],
        );
        assert_eq!(u.started, vec![3]);
        assert_eq!(tr.tracks(a).len(), 2);
        assert_eq!(tr.tracks(b).len(), 1);
    }

    #[test]
    fn tracks_coast_then_age_out() {
        let cam = CameraId::new_random();
        let cfg = TrackerConfig {
            iou_threshold: 0.3,
            max_missed: 2,
            max_age: Duration::from_secs(60),
        };
        let mut tr = Tracker::new(cfg);
        let bx = [0.1, 0.1, 0.3, 0.5];
        tr.update(cam, t(0), &[Detected::new("person", 0.9, bx)]);
        tr.update(cam, t(1), &[]);
        tr.update(cam, t(2), &[]);
        assert_eq!(tr.tracks(cam)[0].missed, 2);
        // Coasting tracks are still matched when the object comes back.
        let u = tr.update(cam, t(3), &[Detected::new("person", 0.9, bx)]);
        assert_eq!(u.seen, vec![1]);
        for s in 4..=5 {
            tr.update(cam, t(s), &[]);
        }
        let u = tr.update(cam, t(6), &[]);
        assert_eq!(u.dropped, vec![1]);
        assert!(tr.tracks(cam).is_empty());

        // By age: one frame, then silence, then expire.
        let mut tr = Tracker::new(TrackerConfig::default());
        tr.update(cam, t(0), &[Detected::new("person", 0.9, bx)]);
        assert!(tr.expire(t(5)).is_empty());
        assert_eq!(tr.expire(t(6)), vec![(cam, 1)]);
    }

    #[test]
    fn bad_detections_are_ignored() {
        let cam = CameraId::new_random();
        let mut tr = Tracker::new(TrackerConfig::default());
        let u = tr.update(
            cam,
            t(0),
            &[
                Detected::new("person", f32::NAN, [0.1, 0.1, 0.3, 0.5]),
                Detected::new("", 0.9, [0.1, 0.1, 0.3, 0.5]),
                Detected::new("person", 0.9, [0.3, 0.1, 0.1, 0.5]),
                Detected::new("person", 0.9, [1.2, 0.1, 1.5, 0.5]),
                Detected::new("person", 0.9, [-0.2, 0.1, 0.2, 1.4]),
            ],
        );
        assert_eq!(u.started, vec![1]);
        assert_eq!(tr.tracks(cam)[0].bbox, [0.0, 0.1, 0.2, 1.0]);
    }
}
