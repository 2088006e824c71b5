//! [`OrtDetector`]: a [`Detector`] backed by ONNX Runtime sessions.
//!
//! Invariants:
//! - the model bytes given to ONNX Runtime are the bytes whose sha256 matched the manifest;
//! - at load, the graph's single input and its outputs must be exactly those the manifest names,
//!   with the manifest's dtype, layout and size; anything else is an error naming what was found;
//! - a session runs one batch at a time (`Session::run` takes `&mut`), so the pool holds each
//!   session behind its own mutex; a caller takes a free session, or waits on one;
//! - a CUDA request that cannot be met falls back to CPU with a warning, unless `require_cuda`
//!   is set, in which case loading fails. [`OrtDetector::execution`] says what is in use.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use ort::session::{Session, SessionOutputs};
use ort::value::{TensorElementType, TensorRef, ValueType};
use roeh_domain::{ErrorKind, bail};

use crate::manifest::{
    DEFAULT_MAX_WIDTH, InputDtype, ModelManifest, ModelSpec, OutputSpec, TensorLayout,
};
use crate::postprocess::{Decode, decode_tf_od_api, decode_yolo};
use crate::preprocess::{self, FrameGeometry, InputTensor, Placement};
use crate::runtime::OrtRuntime;
use crate::{Detections, Detector, Error, RgbFrame};

/// Where inference runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Execution {
    #[default]
    Cpu,
    /// ONNX Runtime's CUDA execution provider on this GPU. Needs the crate feature `cuda` and
    /// the GPU build of ONNX Runtime (PyPI `onnxruntime-gpu`).
    Cuda { device_id: i32 },
}

/// How an [`OrtDetector`] runs its model.
#[derive(Clone, Debug, PartialEq)]
pub struct OrtDetectorOptions {
    /// Sessions in the pool: how many batches may run at once.
    pub sessions: usize,
    /// Threads each session uses inside one operator.
    pub intra_threads: usize,
    /// Most frames per inference call; larger batches are split.
    pub max_batch: usize,
    pub execution: Execution,
    /// Fail instead of falling back to CPU when CUDA cannot be used.
    pub require_cuda: bool,
    /// Overrides the manifest's `input.max_width` (dynamic-size models only).
    pub max_width: Option<u32>,
    /// Overrides the manifest's `score_threshold`.
    pub score_threshold: Option<f32>,
}

impl Default for OrtDetectorOptions {
    /// One session with two intra-op threads, batches of up to 4 frames, CPU. Measured on a
    /// 2-core machine with the default model on 768x576 frames: 14.4 ms per frame with one
    /// thread, 10.7 ms with two; batches of 4 cost the same per frame as single frames on CPU,
    /// so batching only saves calls (and pays off on a GPU).
    fn default() -> Self {
        OrtDetectorOptions {
            sessions: 1,
            intra_threads: 2,
            max_batch: 4,
            execution: Execution::Cpu,
            require_cuda: false,
            max_width: None,
            score_threshold: None,
        }
    }
}

/// One raw output tensor, as the graph produced it.
#[derive(Clone, Debug, PartialEq)]
pub struct RawOutput {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// A [`Detector`] running a manifest model with ONNX Runtime.
pub struct OrtDetector {
    model_id: Arc<str>,
    spec: ModelSpec,
    labels: Vec<Arc<str>>,
    sessions: Vec<Mutex<Session>>,
    next: AtomicUsize,
    max_batch: usize,
    max_width: u32,
    score_threshold: f32,
    placement: Placement,
    execution: Execution,
}

impl std::fmt::Debug for OrtDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrtDetector")
            .field("model_id", &self.model_id)
            .field("sessions", &self.sessions.len())
            .field("max_batch", &self.max_batch)
            .field("execution", &self.execution)
            .finish_non_exhaustive()
    }
}

fn ort_error(kind: ErrorKind, msg: String, e: impl Into<ort::Error>) -> Error {
    Error::with_source(kind, msg, e.into())
}

fn dtype_name(t: TensorElementType) -> String {
    format!("{t:?}").to_lowercase()
}

fn describe(outlets: &[ort::value::Outlet]) -> String {
    let parts: Vec<String> = outlets
        .iter()
        .map(|o| match o.dtype() {
            ValueType::Tensor { ty, shape, .. } => {
                format!("{:?} {} {:?}", o.name(), dtype_name(*ty), &shape[..])
            }
            other => format!("{:?} {other:?}", o.name()),
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

impl OrtDetector {
    /// Loads model `model_id` of `manifest`: checks the file's sha256, opens `options.sessions`
    /// sessions and checks the graph's inputs and outputs against the manifest.
    pub fn load(
        runtime: &OrtRuntime,
        manifest: &ModelManifest,
        model_id: &str,
        options: &OrtDetectorOptions,
    ) -> Result<OrtDetector, Error> {
        let spec = manifest.model(model_id)?.clone();
        let path = manifest.path_of(&spec);
        let bytes = spec.read_verified(&path)?;
        if options.sessions == 0 || options.intra_threads == 0 || options.max_batch == 0 {
            bail!(
                InvalidArgument,
                "detector options: sessions, intra_threads and max_batch must be at least 1"
            );
        }
        let mut sessions = Vec::with_capacity(options.sessions);
        let mut execution = options.execution;
        for _ in 0..options.sessions {
            let (s, used) = build_session(runtime, &bytes, &spec, options, execution)?;
            execution = used;
            sessions.push(s);
        }
        let fixed_batch = match sessions.first() {
            Some(s) => check_io(s, &spec, &path)?,
            None => None,
        };
        let max_batch = match fixed_batch {
            None => options.max_batch,
            Some(1) => 1,
            Some(n) => bail!(
                InvalidArgument,
                "model {} ({}): fixed batch size {n} is not supported; export it with a dynamic \
                 or unit batch dimension",
                spec.id,
                path.display()
            ),
        };
        let placement = match spec.output {
            OutputSpec::TfOdApi { .. } => Placement::Stretch,
            OutputSpec::Yolo { .. } => Placement::Letterbox,
        };
        let labels = spec.labels.iter().map(|l| Arc::from(l.as_str())).collect();
        let max_width = options
            .max_width
            .or(spec.input.max_width)
            .unwrap_or(DEFAULT_MAX_WIDTH)
            .max(1);
        let score_threshold = options.score_threshold.unwrap_or(spec.score_threshold);
        tracing::info!(
            model = %spec.id,
            file = %path.display(),
            sessions = sessions.len(),
            intra_threads = options.intra_threads,
            ?execution,
            exact_int8 = needs_exact_int8(),
            "Loaded detection model."
        );
        Ok(OrtDetector {
            model_id: Arc::from(spec.id.as_str()),
            labels,
            spec,
            sessions: sessions.into_iter().map(Mutex::new).collect(),
            next: AtomicUsize::new(0),
            max_batch,
            max_width,
            score_threshold,
            placement,
            execution,
        })
    }

    /// What inference actually runs on (after any fallback).
    pub fn execution(&self) -> Execution {
        self.execution
    }

    /// Most frames per inference call.
    pub fn max_batch(&self) -> usize {
        self.max_batch
    }

    /// The manifest entry in use.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// Builds the input tensor for `frames` (at most [`Self::max_batch`]) exactly as
    /// [`Detector::detect_batch`] does, with each frame's geometry.
    pub fn preprocess(
        &self,
        frames: &[RgbFrame],
    ) -> Result<(InputTensor, Vec<FrameGeometry>), Error> {
        let Some(first) = frames.first() else {
            bail!(InvalidArgument, "no frames to preprocess");
        };
        for f in frames {
            f.validate()?;
        }
        let (w, h) = preprocess::batch_input_size(
            &self.spec.input,
            self.max_width,
            first.width,
            first.height,
        );
        let mut canvases = Vec::with_capacity(frames.len());
        let mut geoms = Vec::with_capacity(frames.len());
        for f in frames {
            let (c, g) = preprocess::place(&f.data, f.width, f.height, w, h, self.placement);
            canvases.push(c);
            geoms.push(g);
        }
        Ok((preprocess::pack(&canvases, w, h, &self.spec.input), geoms))
    }

    /// Runs the graph on a ready tensor and returns every output as the graph produced it
    /// (for checks against a reference run of the same model).
    pub fn run_raw(&self, input: &InputTensor) -> Result<Vec<RawOutput>, Error> {
        self.run(input, |outputs| {
            let mut raw = Vec::new();
            for name in self.spec.output.names() {
                let v = output_array(outputs, name)?;
                raw.push(RawOutput {
                    name: name.to_owned(),
                    shape: v.shape().to_vec(),
                    data: v.iter().copied().collect(),
                });
            }
            Ok(raw)
        })
    }

    fn session(&self) -> MutexGuard<'_, Session> {
        for s in &self.sessions {
            if let Ok(g) = s.try_lock() {
                return g;
            }
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.sessions.len();
        // A poisoned session only means another caller panicked mid-run; the session itself
        // holds no half-updated Rust state.
        self.sessions[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    fn run<R>(
        &self,
        input: &InputTensor,
        f: impl FnOnce(&SessionOutputs<'_>) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let name = self.spec.input.name.as_str();
        let run_err = |e: ort::Error| {
            Error::with_source(
                ErrorKind::Internal,
                format!("model {}: inference failed", self.spec.id),
                e,
            )
        };
        let mut session = self.session();
        let outputs = match input {
            InputTensor::U8 { shape, data } => {
                let t = TensorRef::from_array_view((*shape, data.as_slice())).map_err(run_err)?;
                session.run(ort::inputs![name => t]).map_err(run_err)?
            }
            InputTensor::F32 { shape, data } => {
                let t = TensorRef::from_array_view((*shape, data.as_slice())).map_err(run_err)?;
                session.run(ort::inputs![name => t]).map_err(run_err)?
            }
        };
        f(&outputs)
    }

    fn detect_chunk(&self, frames: &[RgbFrame]) -> Result<Vec<Detections>, Error> {
        let (tensor, geoms) = self.preprocess(frames)?;
        let decode = Decode {
            score_threshold: self.score_threshold,
            labels: &self.labels,
        };
        let items = self.run(&tensor, |outputs| {
            let mut per_frame = Vec::with_capacity(frames.len());
            match &self.spec.output {
                OutputSpec::TfOdApi {
                    boxes,
                    scores,
                    classes,
                    num_detections,
                } => {
                    let b = output_array(outputs, boxes)?;
                    let s = output_array(outputs, scores)?;
                    let c = output_array(outputs, classes)?;
                    let n = output_array(outputs, num_detections)?;
                    for (i, g) in geoms.iter().enumerate() {
                        per_frame.push(decode_tf_od_api(&decode, i, g, &b, &s, &c, &n)?);
                    }
                }
                OutputSpec::Yolo {
                    predictions,
                    nms_iou_threshold,
                    max_detections,
                } => {
                    let p = output_array(outputs, predictions)?;
                    for (i, g) in geoms.iter().enumerate() {
                        per_frame.push(decode_yolo(
                            &decode,
                            i,
                            g,
                            &p,
                            *nms_iou_threshold,
                            *max_detections,
                        )?);
                    }
                }
            }
            Ok(per_frame)
        })?;
        Ok(frames
            .iter()
            .zip(items)
            .map(|(f, items)| Detections {
                camera: f.camera,
                pts: f.pts,
                model_id: self.model_id.clone(),
                items,
            })
            .collect())
    }
}

impl Detector for OrtDetector {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn detect_batch(&self, frames: &[RgbFrame]) -> Result<Vec<Detections>, Error> {
        for f in frames {
            f.validate()?;
        }
        let mut out = Vec::with_capacity(frames.len());
        for chunk in frames.chunks(self.max_batch) {
            out.extend(self.detect_chunk(chunk)?);
        }
        Ok(out)
    }
}

fn output_array<'a>(
    outputs: &'a SessionOutputs<'_>,
    name: &str,
) -> Result<ndarray::ArrayViewD<'a, f32>, Error> {
    let v = outputs.get(name).ok_or_else(|| {
        Error::new(
            ErrorKind::Internal,
            format!("the graph produced no output {name:?}"),
        )
    })?;
    v.try_extract_array::<f32>().map_err(|e| {
        ort_error(
            ErrorKind::Internal,
            format!("output {name:?} is not a float32 tensor"),
            e,
        )
    })
}

/// ONNX Runtime's session option that makes its u8 x s8 integer kernels exact on x86-64 CPUs
/// without VNNI. There, by default, they multiply with `vpmaddubsw`, which adds each pair of
/// u8 x s8 products into a signed 16-bit lane and saturates (a pair reaches 2 x 255 x 127); a
/// VNNI CPU adds in 32 bits. So an int8 model found other people on an AVX2-only CPU than on a
/// VNNI one. With this option ONNX Runtime shifts the weights to u8 and uses its u8 x u8 kernels,
/// which widen to 16-bit values and add pairs into 32 bits: the integer sums are exact, equal to
/// a VNNI CPU's, and the int8 model's outputs are the same on every x86-64 CPU
/// (`tests/int8_recall.rs` checks this against an emulated AVX2-only CPU).
///
/// The option is set only where it is needed ([`needs_exact_int8`]): ONNX Runtime honours it on
/// VNNI CPUs too, where it changes no output but makes int8 inference about 2.4x slower.
/// Why not 7-bit weights (`reduce_range`) instead: design record 0007.
const EXACT_INT8_KEY: &str = "session.x64quantprecision";

/// Whether this CPU's int8 sums saturate without [`EXACT_INT8_KEY`]: an x86-64 CPU with neither
/// AVX-512 VNNI nor AVX-VNNI. Other architectures have no such kernels.
pub fn needs_exact_int8() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        !(std::arch::is_x86_feature_detected!("avx512vnni")
            || std::arch::is_x86_feature_detected!("avxvnni"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

fn build_session(
    runtime: &OrtRuntime,
    bytes: &[u8],
    spec: &ModelSpec,
    options: &OrtDetectorOptions,
    execution: Execution,
) -> Result<(Session, Execution), Error> {
    let builder_err = |e: ort::Error<ort::session::builder::SessionBuilder>| {
        ort_error(
            ErrorKind::Internal,
            format!("model {}: configuring the session", spec.id),
            e,
        )
    };
    let base = || -> Result<ort::session::builder::SessionBuilder, Error> {
        Session::builder(&runtime.env)
            .map_err(|e| {
                ort_error(
                    ErrorKind::Internal,
                    format!("model {}: creating a session", spec.id),
                    e,
                )
            })?
            .with_intra_threads(options.intra_threads)
            .map_err(builder_err)?
            .with_inter_threads(1)
            .map_err(builder_err)?
            .with_config_entry(EXACT_INT8_KEY, if needs_exact_int8() { "1" } else { "0" })
            .map_err(builder_err)
    };
    let commit = |mut b: ort::session::builder::SessionBuilder| {
        b.commit_from_memory(bytes).map_err(|e| {
            ort_error(
                ErrorKind::InvalidArgument,
                format!("model {}: ONNX Runtime cannot load the graph", spec.id),
                e,
            )
        })
    };
    match execution {
        Execution::Cpu => Ok((commit(base()?)?, Execution::Cpu)),
        Execution::Cuda { device_id } => match cuda_session(base()?, bytes, device_id) {
            Ok(s) => Ok((s, execution)),
            Err(why) if options.require_cuda => bail!(
                Unavailable,
                "model {}: CUDA device {device_id} is required but unusable: {why}",
                spec.id
            ),
            Err(why) => {
                tracing::warn!(
                    model = %spec.id,
                    device_id,
                    reason = %why,
                    "CUDA is unusable; running detection on CPU."
                );
                Ok((commit(base()?)?, Execution::Cpu))
            }
        },
    }
}

#[cfg(feature = "cuda")]
fn cuda_session(
    builder: ort::session::builder::SessionBuilder,
    bytes: &[u8],
    device_id: i32,
) -> Result<Session, String> {
    use ort::ep::ExecutionProvider;
    if !ort::ep::CUDA::is_available().unwrap_or(false) {
        return Err(
            "this ONNX Runtime library has no CUDAExecutionProvider (the GPU build is \
                    PyPI onnxruntime-gpu)"
                .to_owned(),
        );
    }
    let ep = ort::ep::CUDA::default()
        .with_device_id(device_id)
        .build()
        .error_on_failure();
    let mut b = builder
        .with_execution_providers([ep])
        .map_err(|e| e.to_string())?;
    b.commit_from_memory(bytes).map_err(|e| e.to_string())
}

#[cfg(not(feature = "cuda"))]
fn cuda_session(
    _builder: ort::session::builder::SessionBuilder,
    _bytes: &[u8],
    _device_id: i32,
) -> Result<Session, String> {
    Err("roeh-detect was built without its `cuda` feature".to_owned())
}

/// Checks the graph against the manifest; returns the fixed batch size, if the graph has one.
fn check_io(session: &Session, spec: &ModelSpec, path: &Path) -> Result<Option<usize>, Error> {
    let model = format!("model {} ({})", spec.id, path.display());
    let inputs = session.inputs();
    let outputs = session.outputs();
    let want = &spec.input;
    let want_ty = match want.dtype {
        InputDtype::Uint8 => TensorElementType::Uint8,
        InputDtype::Float32 => TensorElementType::Float32,
    };
    let [input] = inputs else {
        bail!(
            InvalidArgument,
            "{model}: the manifest expects one input {:?}, the graph has inputs {}",
            want.name,
            describe(inputs)
        );
    };
    let mismatch = |why: String| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "{model}: input does not match the manifest ({why}); manifest: {:?} {} {:?}{}; \
                 graph inputs: {}",
                want.name,
                dtype_name(want_ty),
                want.layout,
                want.size
                    .map(|[w, h]| format!(" {w}x{h}"))
                    .unwrap_or_else(|| " dynamic size".to_owned()),
                describe(inputs)
            ),
        )
    };
    if input.name() != want.name {
        return Err(mismatch(format!("name {:?}", input.name())));
    }
    let ValueType::Tensor { ty, shape, .. } = input.dtype() else {
        return Err(mismatch("not a tensor".to_owned()));
    };
    if *ty != want_ty {
        return Err(mismatch(format!("dtype {}", dtype_name(*ty))));
    }
    if shape.len() != 4 {
        return Err(mismatch(format!("rank {}", shape.len())));
    }
    let (c, h, w) = match want.layout {
        TensorLayout::NHWC => (shape[3], shape[1], shape[2]),
        TensorLayout::NCHW => (shape[1], shape[2], shape[3]),
    };
    if c != 3 && c != -1 {
        return Err(mismatch(format!("{c} channels where the layout puts 3")));
    }
    match want.size {
        Some([ww, wh]) => {
            let fits = |got: i64, want: u32| got == -1 || got == i64::from(want);
            if !fits(w, ww) || !fits(h, wh) {
                return Err(mismatch(format!("graph size {w}x{h}")));
            }
        }
        None => {
            if w != -1 || h != -1 {
                return Err(mismatch(format!(
                    "graph has a fixed size {w}x{h}; give it as input.size"
                )));
            }
        }
    }
    let fixed_batch = usize::try_from(shape[0]).ok();

    let want_out = spec.output.names();
    let got_out: Vec<&str> = outputs.iter().map(|o| o.name()).collect();
    let missing: Vec<&str> = want_out
        .iter()
        .copied()
        .filter(|n| !got_out.contains(n))
        .collect();
    let unexpected: Vec<&str> = got_out
        .iter()
        .copied()
        .filter(|n| !want_out.contains(n))
        .collect();
    if !missing.is_empty() || !unexpected.is_empty() {
        bail!(
            InvalidArgument,
            "{model}: outputs do not match the {} layout of the manifest: missing {missing:?}, \
             unexpected {unexpected:?}; graph outputs: {}",
            spec.output.layout_name(),
            describe(outputs)
        );
    }
    for o in outputs {
        let ok = matches!(
            o.dtype(),
            ValueType::Tensor {
                ty: TensorElementType::Float32,
                ..
            }
        );
        if !ok {
            bail!(
                InvalidArgument,
                "{model}: output {:?} is not float32: graph outputs {}",
                o.name(),
                describe(outputs)
            );
        }
    }
    if let OutputSpec::Yolo { predictions, .. } = &spec.output
        && let Some(o) = outputs.iter().find(|o| o.name() == predictions)
        && let ValueType::Tensor { shape, .. } = o.dtype()
    {
        let rows = 4 + spec.labels.len() as i64;
        if shape.len() != 3 || (shape[1] != -1 && shape[1] != rows) {
            bail!(
                InvalidArgument,
                "{model}: output {predictions:?} has shape {:?}; the yolo layout with {} labels \
                 needs [N, {rows}, anchors]",
                &shape[..],
                spec.labels.len()
            );
        }
    }
    Ok(fixed_batch)
}
