//! Loading the ONNX Runtime shared library (ort's `load-dynamic`).
//!
//! Invariants:
//! - the library is loaded at most once per process (ONNX Runtime's API table is global); asking
//!   for a different file afterwards is an error, asking for the same one returns the same runtime;
//! - a missing library is reported before ort is touched, with the command that installs it, so
//!   the process never reaches ort's own "load or panic" path.
//!
//! Where the library is looked for, first match wins:
//! 1. the path given to [`OrtRuntime::init`];
//! 2. `ORT_DYLIB_PATH`;
//! 3. `$ROEH_CACHE/onnxruntime/libonnxruntime.so.1.31.1`;
//! 4. `<workspace>/.cache/roeh/onnxruntime/libonnxruntime.so.1.31.1` (where `scripts/setup.sh`
//!    puts it).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use roeh_domain::{ErrorKind, bail};

use crate::Error;

/// The ONNX Runtime release this crate's `api-31` binding is built for.
pub const DEFAULT_ORT_VERSION: &str = "1.31.1";

/// The command that installs the library where [`OrtRuntime::default_library_path`] looks.
pub const SETUP_COMMAND: &str = "bash scripts/setup.sh";

/// A loaded ONNX Runtime and its environment; cheap to clone.
#[derive(Clone)]
pub struct OrtRuntime {
    path: PathBuf,
    pub(crate) env: ort::environment::Environment,
}

impl std::fmt::Debug for OrtRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrtRuntime")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

static LOADED: Mutex<Option<OrtRuntime>> = Mutex::new(None);

impl OrtRuntime {
    /// Where the library is looked for when no path is given (see the module docs).
    pub fn default_library_path() -> PathBuf {
        let file = format!("libonnxruntime.so.{DEFAULT_ORT_VERSION}");
        if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
            return PathBuf::from(p);
        }
        if let Some(c) = std::env::var_os("ROEH_CACHE").filter(|p| !p.is_empty()) {
            return PathBuf::from(c).join("onnxruntime").join(file);
        }
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../.cache/roeh/onnxruntime")
            .join(file)
    }

    /// Loads the library from the default location.
    pub fn from_env() -> Result<OrtRuntime, Error> {
        OrtRuntime::init(OrtRuntime::default_library_path())
    }

    /// Loads the library at `path` (once per process) and creates the environment.
    pub fn init(path: impl AsRef<Path>) -> Result<OrtRuntime, Error> {
        let path = path.as_ref();
        if !path.is_file() {
            bail!(
                FailedPrecondition,
                "ONNX Runtime library {} not found: run `{SETUP_COMMAND}` (installs onnxruntime \
                 {DEFAULT_ORT_VERSION} from PyPI) or set ORT_DYLIB_PATH",
                path.display()
            );
        }
        let path = std::fs::canonicalize(path).map_err(|e| {
            Error::with_source(
                ErrorKind::FailedPrecondition,
                format!("ONNX Runtime library {}", path.display()),
                e,
            )
        })?;
        let mut loaded = LOADED.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(rt) = loaded.as_ref() {
            if rt.path == path {
                return Ok(rt.clone());
            }
            bail!(
                FailedPrecondition,
                "ONNX Runtime is already loaded from {}; cannot load {} as well",
                rt.path.display(),
                path.display()
            );
        }
        let builder = ort::init_from(&path).map_err(|e| {
            Error::new(
                ErrorKind::FailedPrecondition,
                format!(
                    "loading ONNX Runtime: {e}; run `{SETUP_COMMAND}` to install onnxruntime \
                     {DEFAULT_ORT_VERSION}"
                ),
            )
        })?;
        let env = builder
            .with_name("roeh")
            .with_telemetry(false)
            .build()
            .map_err(|e| {
                Error::with_source(
                    ErrorKind::Internal,
                    "creating the ONNX Runtime environment",
                    e,
                )
            })?;
        tracing::info!(path = %path.display(), "Loaded ONNX Runtime.");
        let rt = OrtRuntime { path, env };
        *loaded = Some(rt.clone());
        Ok(rt)
    }

    /// The library file in use.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
