//! Detection: decoded RGB frames in, scored boxes out.
//!
//! Invariants kept here:
//! - every model is named in a manifest (`models/models.toml`) and its file's sha256 is checked
//!   before ONNX Runtime sees a byte of it; the session's real inputs and outputs are checked
//!   against the manifest at load, so a wrong file fails at start-up, never mid-stream;
//! - boxes leave this crate as `[xmin, ymin, xmax, ymax]` normalised to `0..=1` of the frame the
//!   caller passed in, whatever the model's layout, input size or letterboxing;
//! - every [`Detections`] carries the camera, the frame's pts and the model id;
//! - [`Detector::detect_batch`] is synchronous and may block for tens of milliseconds: callers run
//!   it on blocking threads. The crate has no async runtime and no media library.

mod frame;
mod lazy;
pub mod manifest;
mod ort_detector;
mod postprocess;
pub mod preprocess;
mod runtime;
mod scripted;

pub use frame::{Detection, Detections, RgbFrame};
pub use lazy::{LazyDetector, LoadDetector};
pub use manifest::{
    Channels, InputDtype, InputSpec, ModelManifest, ModelSpec, OutputSpec, TensorLayout,
};
pub use ort_detector::{Execution, OrtDetector, OrtDetectorOptions, RawOutput, needs_exact_int8};
pub use postprocess::{iou, nms_per_class};
pub use preprocess::{FrameGeometry, InputTensor};
pub use roeh_domain::ErrorKind;
pub use runtime::{DEFAULT_ORT_VERSION, OrtRuntime};
pub use scripted::ScriptedDetector;

roeh_domain::define_error!();

/// Turns frames into detections. Implementations are shared between threads.
pub trait Detector: Send + Sync + std::fmt::Debug {
    /// The id of the model every [`Detections`] is stamped with.
    fn model_id(&self) -> &str;

    /// Runs detection on `frames` (from one or several cameras) and returns one [`Detections`]
    /// per frame, in order. Blocks; call it from a blocking thread.
    fn detect_batch(&self, frames: &[RgbFrame]) -> Result<Vec<Detections>, Error>;

    /// Runs detection on one frame.
    fn detect(&self, frame: &RgbFrame) -> Result<Detections, Error> {
        let mut out = self.detect_batch(std::slice::from_ref(frame))?;
        out.pop()
            .ok_or_else(|| roeh_domain::err!(Internal, "detector returned no result for one frame"))
    }
}
