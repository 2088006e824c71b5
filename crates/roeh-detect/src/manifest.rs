//! The model manifest (`models/models.toml`): which model files exist, their pinned sha256, and
//! how to feed and read them.
//!
//! Invariants:
//! - parsing is strict (`deny_unknown_fields` everywhere): a misspelt key is an error, not a
//!   silently ignored setting;
//! - a model's bytes are only handed out by [`ModelSpec::read_verified`], after their sha256 has
//!   matched the manifest; the same bytes are then given to ONNX Runtime, so nothing can change
//!   between the check and the load;
//! - `file` is resolved against the manifest's own directory unless it is absolute.
//!
//! ```toml
//! [[model]]
//! id = "ssdlite-mobilenet-v2-ped"
//! file = "ssdlite_mobilenet_v2_ped.onnx"
//! sha256 = "53fd…e552"
//! input = { name = "image_tensor:0", dtype = "uint8", layout = "NHWC", channels = "RGB" }
//! output = { layout = "tf-od-api" }     # or { layout = "yolo", predictions = "output0" }
//! labels = ["background", "person"]
//! score_threshold = 0.4
//! licence = "MIT"
//! ```

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use roeh_domain::{ErrorKind, bail};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::Error;

/// Width that dynamic-size inputs are downscaled to when no `max_width` is given.
pub const DEFAULT_MAX_WIDTH: u32 = 640;

/// All models of one manifest file.
#[derive(Clone, Debug)]
pub struct ModelManifest {
    /// The directory relative files are resolved against.
    pub dir: PathBuf,
    pub models: Vec<ModelSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestFile {
    #[serde(default)]
    model: Vec<ModelSpec>,
}

/// One pinned model.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Stable id, recorded with every detection.
    pub id: String,
    /// The ONNX file, relative to the manifest's directory or absolute.
    pub file: PathBuf,
    /// Lowercase hex sha256 of the file.
    pub sha256: String,
    pub input: InputSpec,
    pub output: OutputSpec,
    /// Label of each class index the model emits (index 0 may be "background").
    pub labels: Vec<String>,
    /// Detections scoring below this are dropped.
    pub score_threshold: f32,
    pub licence: String,
    /// Where the file came from and how it was made.
    #[serde(default)]
    pub source: Option<String>,
}

/// How the model's single image input is fed.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// The graph's input name.
    pub name: String,
    pub dtype: InputDtype,
    pub layout: TensorLayout,
    pub channels: Channels,
    /// `[width, height]` for a model with a fixed input size; absent when H and W are dynamic.
    #[serde(default)]
    pub size: Option<[u32; 2]>,
    /// For dynamic sizes: frames wider than this are downscaled (aspect kept) before inference.
    #[serde(default)]
    pub max_width: Option<u32>,
}

/// Element type of the input tensor. `float32` inputs get `pixel / 255` (0..1).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum InputDtype {
    Uint8,
    Float32,
}

/// Memory layout of the input tensor.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub enum TensorLayout {
    /// `[N, H, W, C]`.
    NHWC,
    /// `[N, C, H, W]`.
    NCHW,
}

/// Channel order the model expects.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub enum Channels {
    RGB,
    BGR,
}

/// How the model's outputs are laid out, and their names.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(tag = "layout", rename_all = "kebab-case", deny_unknown_fields)]
pub enum OutputSpec {
    /// TensorFlow Object Detection API export: NMS inside the graph; boxes
    /// `[N, K, 4]` as `ymin, xmin, ymax, xmax` normalised; scores `[N, K]`; classes `[N, K]`
    /// (float, index into `labels`); num_detections `[N]`.
    TfOdApi {
        #[serde(default = "default_tf_boxes")]
        boxes: String,
        #[serde(default = "default_tf_scores")]
        scores: String,
        #[serde(default = "default_tf_classes")]
        classes: String,
        #[serde(default = "default_tf_num")]
        num_detections: String,
    },
    /// YOLO (v8 and later) export: one tensor `[N, 4 + classes, anchors]`, rows `cx, cy, w, h`
    /// in input pixels then one score per class; no NMS in the graph, so class-wise NMS runs
    /// here with `nms_iou_threshold`.
    Yolo {
        #[serde(default = "default_yolo_predictions")]
        predictions: String,
        #[serde(default = "default_nms_iou")]
        nms_iou_threshold: f32,
        #[serde(default = "default_max_detections")]
        max_detections: usize,
    },
}

fn default_tf_boxes() -> String {
    "detection_boxes:0".to_owned()
}
fn default_tf_scores() -> String {
    "detection_scores:0".to_owned()
}
fn default_tf_classes() -> String {
    "detection_classes:0".to_owned()
}
fn default_tf_num() -> String {
    "num_detections:0".to_owned()
}
fn default_yolo_predictions() -> String {
    "output0".to_owned()
}
fn default_nms_iou() -> f32 {
    0.45
}
fn default_max_detections() -> usize {
    300
}

impl OutputSpec {
    /// The output names the graph must have, in the order the post-processing reads them.
    pub fn names(&self) -> Vec<&str> {
        match self {
            OutputSpec::TfOdApi {
                boxes,
                scores,
                classes,
                num_detections,
            } => vec![boxes, scores, classes, num_detections],
            OutputSpec::Yolo { predictions, .. } => vec![predictions],
        }
    }

    /// The manifest's name for this layout.
    pub fn layout_name(&self) -> &'static str {
        match self {
            OutputSpec::TfOdApi { .. } => "tf-od-api",
            OutputSpec::Yolo { .. } => "yolo",
        }
    }
}

impl ModelManifest {
    /// Reads and checks a manifest file. Relative model paths resolve against its directory.
    pub fn load(path: impl AsRef<Path>) -> Result<ModelManifest, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| read_error(e, format!("reading model manifest {}", path.display())))?;
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        ModelManifest::parse(&text, dir).map_err(|e| {
            Error::new(
                e.kind(),
                format!("model manifest {}: {}", path.display(), e.message()),
            )
        })
    }

    /// Parses manifest text; `dir` is what relative model paths resolve against.
    pub fn parse(text: &str, dir: impl Into<PathBuf>) -> Result<ModelManifest, Error> {
        let file: ManifestFile = toml::from_str(text)
            .map_err(|e| Error::new(ErrorKind::InvalidArgument, e.to_string().trim_end()))?;
        let mut ids = HashSet::new();
        for m in &file.model {
            m.validate()?;
            if !ids.insert(m.id.as_str()) {
                bail!(InvalidArgument, "model id {:?} appears twice", m.id);
            }
        }
        Ok(ModelManifest {
            dir: dir.into(),
            models: file.model,
        })
    }

    /// The model with this id.
    pub fn model(&self, id: &str) -> Result<&ModelSpec, Error> {
        self.models.iter().find(|m| m.id == id).ok_or_else(|| {
            let known: Vec<&str> = self.models.iter().map(|m| m.id.as_str()).collect();
            Error::new(
                ErrorKind::NotFound,
                format!("no model {id:?} in the manifest (known: {known:?})"),
            )
        })
    }

    /// Where a model's file is.
    pub fn path_of(&self, model: &ModelSpec) -> PathBuf {
        if model.file.is_absolute() {
            model.file.clone()
        } else {
            self.dir.join(&model.file)
        }
    }
}

impl ModelSpec {
    fn validate(&self) -> Result<(), Error> {
        let id = &self.id;
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            bail!(
                InvalidArgument,
                "model id {id:?}: use letters, digits, '-', '_' or '.'"
            );
        }
        if self.sha256.len() != 64
            || !self
                .sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            bail!(
                InvalidArgument,
                "model {id}: sha256 must be 64 lowercase hex digits, got {:?}",
                self.sha256
            );
        }
        if self.labels.is_empty() {
            bail!(InvalidArgument, "model {id}: labels are empty");
        }
        if !(0.0..=1.0).contains(&self.score_threshold) {
            bail!(
                InvalidArgument,
                "model {id}: score_threshold {} is not within 0..=1",
                self.score_threshold
            );
        }
        if let Some([w, h]) = self.input.size
            && (w == 0 || h == 0)
        {
            bail!(InvalidArgument, "model {id}: input size {w}x{h} is empty");
        }
        if self.input.max_width == Some(0) {
            bail!(InvalidArgument, "model {id}: input max_width is 0");
        }
        if let OutputSpec::Yolo {
            nms_iou_threshold,
            max_detections,
            ..
        } = &self.output
        {
            if !(*nms_iou_threshold > 0.0 && *nms_iou_threshold <= 1.0) {
                bail!(
                    InvalidArgument,
                    "model {id}: nms_iou_threshold {nms_iou_threshold} is not within (0, 1]"
                );
            }
            if *max_detections == 0 {
                bail!(InvalidArgument, "model {id}: max_detections is 0");
            }
        }
        Ok(())
    }

    /// Reads the model file and checks its sha256; the returned bytes are the checked ones.
    pub fn read_verified(&self, path: &Path) -> Result<Vec<u8>, Error> {
        let bytes = std::fs::read(path).map_err(|e| {
            read_error(
                e,
                format!("model {}: reading file {}", self.id, path.display()),
            )
        })?;
        let actual = hex::encode(Sha256::digest(&bytes));
        if actual != self.sha256 {
            bail!(
                DataLoss,
                "model {}: file {} has sha256 {actual}, the manifest expects {}",
                self.id,
                path.display(),
                self.sha256
            );
        }
        Ok(bytes)
    }

    /// The label of a class index, or `"class-N"` when the model emits an index past `labels`.
    pub fn label(&self, class_id: u32) -> String {
        self.labels
            .get(class_id as usize)
            .cloned()
            .unwrap_or_else(|| format!("class-{class_id}"))
    }
}

/// A failure to read a file, `what` saying which: `NotFound` when it is missing, else
/// `Unavailable`.
fn read_error(e: std::io::Error, what: String) -> Error {
    let kind = if e.kind() == std::io::ErrorKind::NotFound {
        ErrorKind::NotFound
    } else {
        ErrorKind::Unavailable
    };
    Error::with_source(kind, what, e)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "53fd83564a37ea6a03d8b3a71b9351770b50099101937e310d2c5d5cd6d7e552";

    fn entry(extra: &str) -> String {
        format!(
            r#"
[[model]]
id = "m"
file = "m.onnx"
sha256 = "{SHA}"
input = {{ name = "x", dtype = "uint8", layout = "NHWC", channels = "RGB" }}
labels = ["background", "person"]
score_threshold = 0.4
licence = "MIT"
{extra}
"#
        )
    }

    #[test]
    fn parses_the_shipped_manifest() {
        let text = include_str!("../../../models/models.toml");
        let m = ModelManifest::parse(text, "/models").expect("shipped manifest parses");
        let spec = m.model("ssdlite-mobilenet-v2-ped").expect("default model");
        assert_eq!(spec.input.dtype, InputDtype::Uint8);
        assert_eq!(spec.input.layout, TensorLayout::NHWC);
        assert_eq!(spec.input.size, None);
        assert_eq!(
            spec.output.names(),
            vec![
                "detection_boxes:0",
                "detection_scores:0",
                "detection_classes:0",
                "num_detections:0"
            ]
        );
        assert_eq!(
            m.path_of(spec),
            PathBuf::from("/models/ssdlite_mobilenet_v2_ped.onnx")
        );
    }

    #[test]
    fn output_defaults_per_layout() {
        let m =
            ModelManifest::parse(&entry(r#"output = { layout = "yolo" }"#), ".").expect("parses");
        assert_eq!(
            m.models[0].output,
            OutputSpec::Yolo {
                predictions: "output0".into(),
                nms_iou_threshold: 0.45,
                max_detections: 300
            }
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        let e = ModelManifest::parse(
            &entry(
                r#"output = { layout = "tf-od-api" }
colour = "red""#,
            ),
            ".",
        )
        .expect_err("unknown top-level key");
        assert!(e.to_string().contains("colour"), "{e}");

        let e = ModelManifest::parse(&entry(r#"output = { layout = "yolo", boxes = "b" }"#), ".")
            .expect_err("tf key under yolo layout");
        assert!(e.to_string().contains("boxes"), "{e}");

        let e = ModelManifest::parse(&entry(r#"output = { layout = "ssd" }"#), ".")
            .expect_err("unknown layout");
        assert!(e.to_string().contains("ssd"), "{e}");
    }

    #[test]
    fn bad_values_are_refused() {
        let bad_hash = entry(r#"output = { layout = "tf-od-api" }"#).replace(SHA, "abc");
        let e = ModelManifest::parse(&bad_hash, ".").expect_err("short hash");
        assert!(e.to_string().contains("sha256"), "{e}");

        let twice = format!(
            "{}{}",
            entry(r#"output = { layout = "tf-od-api" }"#),
            entry(r#"output = { layout = "tf-od-api" }"#)
        );
        let e = ModelManifest::parse(&twice, ".").expect_err("duplicate id");
        assert!(e.to_string().contains("twice"), "{e}");

        let e = ModelManifest::parse(
            &entry(r#"output = { layout = "yolo", nms_iou_threshold = 0.0 }"#),
            ".",
        )
        .expect_err("zero iou");
        assert!(e.to_string().contains("nms_iou_threshold"), "{e}");
    }
}
