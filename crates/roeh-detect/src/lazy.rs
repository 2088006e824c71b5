//! A detector whose model is loaded when it is first asked to detect, and kept from then on: a
//! node whose cameras have no analysis armed never holds the model's sessions in memory.

use crate::{Detections, Detector, Error, RgbFrame};
use std::sync::{Arc, Mutex, OnceLock};

/// Makes the detector on first use. Runs on the caller's (blocking) thread.
pub type LoadDetector = Box<dyn Fn() -> Result<Arc<dyn Detector>, Error> + Send + Sync>;

/// Loads its detector on the first [`Detector::detect_batch`]; see the module docs. A failed
/// load is returned to that caller and tried again by the next.
pub struct LazyDetector {
    model_id: String,
    load: LoadDetector,
    loaded: OnceLock<Arc<dyn Detector>>,
    /// Held while loading, so concurrent first callers load once.
    loading: Mutex<()>,
}

impl std::fmt::Debug for LazyDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyDetector")
            .field("model_id", &self.model_id)
            .field("loaded", &self.is_loaded())
            .finish_non_exhaustive()
    }
}

impl LazyDetector {
    /// A detector of `model_id` that `load` makes when first needed.
    pub fn new(model_id: impl Into<String>, load: LoadDetector) -> LazyDetector {
        LazyDetector {
            model_id: model_id.into(),
            load,
            loaded: OnceLock::new(),
            loading: Mutex::new(()),
        }
    }

    /// Whether the model has been loaded.
    pub fn is_loaded(&self) -> bool {
        self.loaded.get().is_some()
    }

    fn get(&self) -> Result<&Arc<dyn Detector>, Error> {
        if let Some(d) = self.loaded.get() {
            return Ok(d);
        }
        let _one = self.loading.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(d) = self.loaded.get() {
            return Ok(d);
        }
        let d = (self.load)()?;
        if d.model_id() != self.model_id {
            return Err(roeh_domain::err!(
                Internal,
                "the detector loaded for model {} runs model {}",
                self.model_id,
                d.model_id()
            ));
        }
        Ok(self.loaded.get_or_init(|| d))
    }
}

impl Detector for LazyDetector {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn detect_batch(&self, frames: &[RgbFrame]) -> Result<Vec<Detections>, Error> {
        self.get()?.detect_batch(frames)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ScriptedDetector;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn loads_on_the_first_detection_once_and_retries_a_failed_load() {
        let loads = Arc::new(AtomicUsize::new(0));
        let counted = loads.clone();
        let lazy = Arc::new(LazyDetector::new(
            "scripted",
            Box::new(move || {
                // The first load fails, as a model file replaced since start-up would.
                if counted.fetch_add(1, Ordering::SeqCst) == 0 {
                    return Err(roeh_domain::err!(Unavailable, "model file changed"));
                }
                Ok(Arc::new(ScriptedDetector::new("scripted", Vec::new())) as Arc<dyn Detector>)
            }),
        ));
        assert_eq!(lazy.model_id(), "scripted");
        assert!(!lazy.is_loaded());
        assert_eq!(loads.load(Ordering::SeqCst), 0, "nothing loaded before use");
        let frame = RgbFrame::new(
            roeh_domain::CameraId::new_random(),
            roeh_domain::Pts90k(0),
            8,
            8,
            Arc::from(vec![0u8; 8 * 8 * 3]),
        )
        .unwrap();
        let e = lazy.detect(&frame).unwrap_err();
        assert!(e.to_string().contains("model file changed"), "{e}");
        assert!(!lazy.is_loaded());
        // Four callers at once after the failure: one load between them.
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (lazy, frame) = (lazy.clone(), frame.clone());
                std::thread::spawn(move || lazy.detect(&frame).map(|d| d.items.len()))
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap().unwrap(), 0);
        }
        assert!(lazy.is_loaded());
        assert_eq!(loads.load(Ordering::SeqCst), 2);
    }
}
