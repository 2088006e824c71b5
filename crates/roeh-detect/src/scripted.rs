//! [`ScriptedDetector`]: a [`Detector`] that answers from a script, for tests of what consumes
//! detections (rules, incidents).
//!
//! Invariant: each frame gets the next scripted answer, in call order across threads; when the
//! script runs out the detector answers with no detections (or repeats the last answer, if asked).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use crate::{Detection, Detections, Detector, Error, RgbFrame};

/// Answers each frame with the next scripted list of detections.
#[derive(Debug)]
pub struct ScriptedDetector {
    model_id: Arc<str>,
    script: Mutex<Script>,
}

#[derive(Debug)]
struct Script {
    answers: VecDeque<Vec<Detection>>,
    repeat_last: bool,
    last: Vec<Detection>,
    frames_seen: usize,
}

impl ScriptedDetector {
    /// A detector answering frame i with `answers[i]`, then with nothing.
    pub fn new(model_id: &str, answers: impl IntoIterator<Item = Vec<Detection>>) -> Self {
        ScriptedDetector {
            model_id: Arc::from(model_id),
            script: Mutex::new(Script {
                answers: answers.into_iter().collect(),
                repeat_last: false,
                last: Vec::new(),
                frames_seen: 0,
            }),
        }
    }

    /// Once the script runs out, repeat its last answer instead of answering with nothing.
    pub fn repeat_last(self) -> Self {
        self.lock().repeat_last = true;
        self
    }

    /// Appends answers to the script.
    pub fn push(&self, answer: Vec<Detection>) {
        self.lock().answers.push_back(answer);
    }

    /// Frames answered so far.
    pub fn frames_seen(&self) -> usize {
        self.lock().frames_seen
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Script> {
        self.script.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Detector for ScriptedDetector {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn detect_batch(&self, frames: &[RgbFrame]) -> Result<Vec<Detections>, Error> {
        for f in frames {
            f.validate()?;
        }
        let mut s = self.lock();
        let mut out = Vec::with_capacity(frames.len());
        for f in frames {
            let items = match s.answers.pop_front() {
                Some(a) => {
                    s.last = a.clone();
                    a
                }
                None if s.repeat_last => s.last.clone(),
                None => Vec::new(),
            };
            s.frames_seen += 1;
            out.push(Detections {
                camera: f.camera,
                pts: f.pts,
                model_id: self.model_id.clone(),
                items,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use roeh_domain::{CameraId, Pts90k};

    use super::*;

    fn person(score: f32) -> Detection {
        Detection {
            class_id: 1,
            label: Arc::from("person"),
            score,
            bbox: [0.1, 0.1, 0.2, 0.4],
        }
    }

    #[test]
    fn answers_in_order_then_nothing_or_the_last() {
        let cam = CameraId::new_random();
        let frame = |pts| RgbFrame::new(cam, Pts90k(pts), 2, 2, Arc::from(vec![0u8; 12]));
        let frames = [
            frame(0).unwrap(),
            frame(9000).unwrap(),
            frame(18000).unwrap(),
        ];
        let d = ScriptedDetector::new("scripted", [vec![person(0.9)], vec![]]);
        let out = d.detect_batch(&frames).unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].items, vec![person(0.9)]);
        assert_eq!(out[1].pts, Pts90k(9000));
        assert!(out[1].items.is_empty() && out[2].items.is_empty());
        assert_eq!(&*out[2].model_id, "scripted");
        assert_eq!(d.frames_seen(), 3);

        let d = ScriptedDetector::new("s", [vec![person(0.5)]]).repeat_last();
        let out = d.detect_batch(&frames).unwrap();
        assert!(out.iter().all(|o| o.items == vec![person(0.5)]));

        let bad = RgbFrame {
            data: Arc::from(vec![0u8; 5]),
            ..frames[0].clone()
        };
        assert!(d.detect(&bad).is_err());
    }
}
