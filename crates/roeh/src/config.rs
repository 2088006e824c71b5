//! The configuration file (`roeh serve --config FILE`). Typed, strict (`deny_unknown_fields`),
//! documented in `config/example.toml`, which a test parses. Secrets never travel in URLs: a
//! camera password comes from an environment variable or a file.

use anyhow::{Context, bail};
use roeh_domain::{CameraUrl, Credentials, Retention, Secret, Transport};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The whole file.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// HTTP server and storage locations.
    #[serde(default)]
    pub server: ServerConfig,
    /// Recorder settings.
    #[serde(default)]
    pub recording: RecordingConfig,
    /// RTSP ingest settings.
    #[serde(default)]
    pub ingest: IngestConfig,
    /// Evidence log and exports.
    #[serde(default)]
    pub evidence: EvidenceConfig,
    /// ONVIF onboarding.
    #[serde(default)]
    pub onvif: OnvifConfig,
    /// Detection and incidents.
    #[serde(default)]
    pub analytics: AnalyticsConfig,
    /// Cameras known at start.
    #[serde(default, rename = "camera")]
    pub cameras: Vec<CameraConfig>,
}

/// A secret from an environment variable (preferred) or the first line of a file; `None` when
/// neither is named. Secrets never come from the command line or a URL.
pub fn read_secret(env: Option<&str>, file: Option<&Path>) -> anyhow::Result<Option<String>> {
    match (env, file) {
        (Some(var), _) => std::env::var(var)
            .map(Some)
            .with_context(|| format!("environment variable {var} is not set")),
        (None, Some(f)) => {
            let text = std::fs::read_to_string(f)
                .with_context(|| format!("reading password file {}", f.display()))?;
            Ok(Some(text.lines().next().unwrap_or_default().to_string()))
        }
        (None, None) => Ok(None),
    }
}

impl Config {
    /// The configuration a CLI command names: `--config FILE`, or defaults with `--data-dir DIR`.
    pub fn from_args(config: Option<PathBuf>, data_dir: Option<PathBuf>) -> anyhow::Result<Config> {
        match (config, data_dir) {
            (Some(p), _) => Config::load(&p),
            (None, Some(d)) => {
                let mut c = Config::default();
                c.server.data_dir = d;
                Ok(c)
            }
            (None, None) => bail!("give --config FILE or --data-dir DIR"),
        }
    }
}

/// `[server]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// HTTP listen address.
    pub listen: SocketAddr,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Database URL; empty means SQLite in the data directory.
    pub database_url: String,
    /// Graceful shutdown deadline, seconds.
    pub shutdown_grace_secs: f64,
    /// Mark console session cookies `Secure` (needs HTTPS in front of roeh).
    pub secure_cookie: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("/var/lib/roeh"),
            database_url: String::new(),
            shutdown_grace_secs: 10.0,
            secure_cookie: true,
        }
    }
}

/// `[recording]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecordingConfig {
    /// Target segment length, seconds.
    pub segment_secs: f64,
    /// Commit interval, seconds: frames are written in batches spanning at most this.
    pub commit_interval_secs: f64,
    /// Recorder queue capacity per camera, in access units.
    pub queue_frames: usize,
    /// Retention pass interval, seconds.
    pub retention_interval_secs: f64,
    /// Default maximum age, days (0 = none).
    pub retention_max_age_days: f64,
    /// Default maximum bytes per camera (0 = none).
    pub retention_max_bytes: u64,
    /// Free space to keep on the footage disk, bytes.
    pub min_free_bytes: u64,
}

impl Default for RecordingConfig {
    fn default() -> Self {
        RecordingConfig {
            segment_secs: 10.0,
            commit_interval_secs: 0.5,
            queue_frames: 256,
            retention_interval_secs: 60.0,
            retention_max_age_days: 30.0,
            retention_max_bytes: 0,
            min_free_bytes: 1 << 30,
        }
    }
}

/// `[evidence]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvidenceConfig {
    /// The log's name in signed checkpoints (printable ASCII, no spaces).
    pub origin: String,
    /// A checkpoint is signed this often (seconds) while the log grows.
    pub checkpoint_secs: f64,
    /// URL (`http://…`) of an RFC 3161 time-stamping authority that timestamps every new
    /// checkpoint; none by default.
    pub tsa_url: Option<String>,
    /// Limit of one request to the time-stamping authority, seconds.
    pub tsa_timeout_secs: f64,
}

impl Default for EvidenceConfig {
    fn default() -> Self {
        EvidenceConfig {
            origin: "roeh".to_string(),
            checkpoint_secs: 60.0,
            tsa_url: None,
            tsa_timeout_secs: 10.0,
        }
    }
}

/// `[ingest]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// Connect timeout, seconds.
    pub connect_timeout_secs: f64,
    /// Stall timeout, seconds.
    pub stall_timeout_secs: f64,
    /// First reconnect delay, seconds.
    pub backoff_initial_secs: f64,
    /// Largest reconnect delay, seconds.
    pub backoff_max_secs: f64,
    /// How long the recorder queue may stay full, seconds.
    pub backpressure_timeout_secs: f64,
    /// Largest accepted media-time jump, seconds.
    pub max_pts_jump_secs: f64,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            connect_timeout_secs: 10.0,
            stall_timeout_secs: 10.0,
            backoff_initial_secs: 0.5,
            backoff_max_secs: 30.0,
            backpressure_timeout_secs: 5.0,
            max_pts_jump_secs: 10.0,
        }
    }
}

/// `[onvif]`: ONVIF discovery and onboarding. Checked when the file is read.
#[derive(Debug, Deserialize)]
#[serde(try_from = "RawOnvifConfig")]
pub struct OnvifConfig {
    /// Camera networks: devices and every address they return must lie inside.
    pub allowed_networks: Vec<roeh_onvif::Cidr>,
    /// IPv4 address of the interface for the multicast discovery probe.
    pub discovery_interface: Option<std::net::Ipv4Addr>,
    /// Addresses probed by unicast.
    pub probe_addresses: Vec<SocketAddr>,
    /// How long discovery collects replies.
    pub discovery_timeout: Duration,
    /// Connect timeout of one device request.
    pub connect_timeout: Duration,
    /// Total timeout of one device request.
    pub request_timeout: Duration,
    /// Largest device reply accepted, bytes.
    pub max_reply_bytes: usize,
}

/// `[onvif]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawOnvifConfig {
    allowed_networks: Vec<String>,
    discovery_interface: String,
    probe_addresses: Vec<String>,
    discovery_timeout_secs: f64,
    connect_timeout_secs: f64,
    request_timeout_secs: f64,
    max_reply_bytes: usize,
}

/// Loopback and the RFC 1918 private ranges.
const DEFAULT_CAMERA_NETWORKS: [&str; 5] = [
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
];

impl Default for RawOnvifConfig {
    fn default() -> Self {
        RawOnvifConfig {
            allowed_networks: DEFAULT_CAMERA_NETWORKS.map(String::from).to_vec(),
            discovery_interface: String::new(),
            probe_addresses: Vec::new(),
            discovery_timeout_secs: 3.0,
            connect_timeout_secs: 3.0,
            request_timeout_secs: 10.0,
            max_reply_bytes: 1 << 20,
        }
    }
}

impl Default for OnvifConfig {
    fn default() -> Self {
        OnvifConfig {
            allowed_networks: DEFAULT_CAMERA_NETWORKS
                .iter()
                .filter_map(|c| roeh_onvif::Cidr::parse(c).ok())
                .collect(),
            discovery_interface: None,
            probe_addresses: Vec::new(),
            discovery_timeout: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(3),
            request_timeout: Duration::from_secs(10),
            max_reply_bytes: 1 << 20,
        }
    }
}

impl TryFrom<RawOnvifConfig> for OnvifConfig {
    type Error = String;

    fn try_from(r: RawOnvifConfig) -> Result<Self, String> {
        let mut allowed = Vec::with_capacity(r.allowed_networks.len());
        for c in &r.allowed_networks {
            allowed.push(
                roeh_onvif::Cidr::parse(c)
                    .map_err(|_| format!("onvif.allowed_networks: {c:?} is not ADDR/PREFIX"))?,
            );
        }
        let discovery_interface =
            match r.discovery_interface.trim() {
                "" => None,
                s => Some(s.parse().map_err(|_| {
                    format!("onvif.discovery_interface: {s:?} is not an IPv4 address")
                })?),
            };
        let mut probes = Vec::with_capacity(r.probe_addresses.len());
        for a in &r.probe_addresses {
            let p = parse_probe_address(a).map_err(|e| format!("onvif.probe_addresses: {e}"))?;
            probes.push(p);
        }
        let t = |name: &str, v: f64| -> Result<Duration, String> {
            if v.is_finite() && v > 0.0 && v <= 300.0 {
                Ok(Duration::from_secs_f64(v))
            } else {
                Err(format!(
                    "onvif.{name} must be above 0 and at most 300, got {v}"
                ))
            }
        };
        if !(1024..=(16 << 20)).contains(&r.max_reply_bytes) {
            return Err("onvif.max_reply_bytes must be between 1024 and 16777216".into());
        }
        Ok(OnvifConfig {
            allowed_networks: allowed,
            discovery_interface,
            probe_addresses: probes,
            discovery_timeout: t("discovery_timeout_secs", r.discovery_timeout_secs)?,
            connect_timeout: t("connect_timeout_secs", r.connect_timeout_secs)?,
            request_timeout: t("request_timeout_secs", r.request_timeout_secs)?,
            max_reply_bytes: r.max_reply_bytes,
        })
    }
}

/// A unicast discovery target: `IP` (port 3702) or `IP:PORT`.
pub fn parse_probe_address(s: &str) -> Result<SocketAddr, String> {
    let s = s.trim();
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    s.parse::<std::net::IpAddr>()
        .map(|ip| SocketAddr::new(ip, 3702))
        .map_err(|_| format!("{s:?} is not IP or IP:PORT"))
}

impl OnvifConfig {
    /// The API's ONVIF settings.
    pub fn settings(&self) -> roeh_api::onvif::OnvifSettings {
        let mut policy = roeh_onvif::NetPolicy::new(self.allowed_networks.clone());
        policy.connect_timeout = self.connect_timeout;
        policy.timeout = self.request_timeout;
        policy.max_reply_bytes = self.max_reply_bytes;
        let mut s = roeh_api::onvif::OnvifSettings::new(policy);
        s.multicast_interface = self.discovery_interface;
        s.unicast_targets = self.probe_addresses.clone();
        s.discovery_timeout = self.discovery_timeout;
        s
    }
}

/// Where inference runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Execution {
    /// On the CPU.
    #[default]
    Cpu,
    /// ONNX Runtime's CUDA execution provider (GPU 0) when the build and the machine have it;
    /// otherwise the CPU, with a warning.
    Cuda,
}

/// `[analytics]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnalyticsConfig {
    /// Whether detection runs at all. When off, ONNX Runtime is never loaded.
    pub enabled: bool,
    /// The model manifest: absolute, or relative to the current directory (then to the source
    /// tree the binary was built from).
    pub models: PathBuf,
    /// Id of the model in the manifest.
    pub model: String,
    /// Inference threads (ONNX Runtime intra-op threads).
    pub threads: usize,
    /// Most frames per inference call, across cameras.
    pub max_batch: usize,
    /// How long the first frame of a batch waits for more, milliseconds.
    pub max_wait_ms: u64,
    /// Analysed frames per second of cameras without their own setting.
    pub default_fps: f64,
    /// Evidence kept before an incident opens, seconds.
    pub pre_secs: f64,
    /// Evidence kept after an incident closes, seconds.
    pub post_secs: f64,
    /// `cpu` or `cuda`.
    pub execution: Execution,
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        AnalyticsConfig {
            enabled: true,
            models: PathBuf::from("models/models.toml"),
            model: "ssdlite-mobilenet-v2-ped".to_string(),
            threads: 2,
            max_batch: 4,
            max_wait_ms: 40,
            default_fps: 5.0,
            pre_secs: 10.0,
            post_secs: 10.0,
            execution: Execution::Cpu,
        }
    }
}

impl AnalyticsConfig {
    fn validate(&self) -> anyhow::Result<()> {
        if self.model.trim().is_empty() {
            bail!("analytics.model must name a model of the manifest");
        }
        if !(1..=64).contains(&self.threads) {
            bail!("analytics.threads must be between 1 and 64");
        }
        if !(1..=64).contains(&self.max_batch) {
            bail!("analytics.max_batch must be between 1 and 64");
        }
        if self.max_wait_ms > 1000 {
            bail!("analytics.max_wait_ms must be at most 1000");
        }
        if !(self.default_fps.is_finite() && self.default_fps > 0.0 && self.default_fps <= 30.0) {
            bail!("analytics.default_fps must be above 0 and at most 30");
        }
        for (n, v) in [
            ("analytics.pre_secs", self.pre_secs),
            ("analytics.post_secs", self.post_secs),
        ] {
            if !(v.is_finite() && (0.0..=600.0).contains(&v)) {
                bail!("{n} must be between 0 and 600, got {v}");
            }
        }
        Ok(())
    }

    /// The manifest file: `models` if absolute or found from the current directory, else the
    /// same relative path in the source tree this binary was built from.
    pub fn manifest_path(&self) -> anyhow::Result<PathBuf> {
        if self.models.is_absolute() || self.models.is_file() {
            return Ok(self.models.clone());
        }
        let built = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(&self.models);
        if built.is_file() {
            return Ok(built);
        }
        bail!(
            "analytics model manifest {} not found in {} (set analytics.models to its path, or \
             analytics.enabled = false)",
            self.models.display(),
            std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_else(|_| "the current directory".into())
        )
    }
}

/// One `[[camera]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraConfig {
    /// Name, unique.
    pub name: String,
    /// RTSP URL without credentials.
    pub url: String,
    /// User name, if the camera needs a login.
    #[serde(default)]
    pub username: Option<String>,
    /// Environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// File holding the password (first line).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// `tcp` (default) or `udp`.
    #[serde(default)]
    pub transport: Transport,
    /// Maximum age, days; overrides the default.
    #[serde(default)]
    pub retention_max_age_days: Option<f64>,
    /// Maximum bytes; overrides the default.
    #[serde(default)]
    pub retention_max_bytes: Option<u64>,
}

/// Seconds as a `Duration`, refusing negative, NaN and absurd values.
pub fn secs(name: &str, v: f64) -> anyhow::Result<Duration> {
    if !v.is_finite() || !(0.0..=10.0 * 365.0 * 86_400.0).contains(&v) {
        bail!("{name} must be between 0 and ten years, got {v}");
    }
    Ok(Duration::from_secs_f64(v))
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config file {}", path.display()))?;
        Config::parse(&text).with_context(|| format!("in config file {}", path.display()))
    }

    /// Parses and validates config text.
    pub fn parse(text: &str) -> anyhow::Result<Config> {
        let cfg: Config = toml::from_str(text)?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> anyhow::Result<()> {
        let r = &self.recording;
        let segment = secs("recording.segment_secs", r.segment_secs)?;
        if segment < Duration::from_millis(500) || segment > Duration::from_secs(3600) {
            bail!("recording.segment_secs must be between 0.5 and 3600");
        }
        if secs("recording.commit_interval_secs", r.commit_interval_secs)? > segment {
            bail!("recording.commit_interval_secs must not exceed recording.segment_secs");
        }
        if r.queue_frames == 0 || r.queue_frames > 100_000 {
            bail!("recording.queue_frames must be between 1 and 100000");
        }
        secs(
            "recording.retention_interval_secs",
            r.retention_interval_secs,
        )?;
        secs(
            "recording.retention_max_age_days",
            r.retention_max_age_days * 86_400.0,
        )?;
        secs(
            "server.shutdown_grace_secs",
            self.server.shutdown_grace_secs,
        )?;
        let i = &self.ingest;
        for (n, v) in [
            ("ingest.connect_timeout_secs", i.connect_timeout_secs),
            ("ingest.stall_timeout_secs", i.stall_timeout_secs),
            ("ingest.backoff_initial_secs", i.backoff_initial_secs),
            ("ingest.backoff_max_secs", i.backoff_max_secs),
            (
                "ingest.backpressure_timeout_secs",
                i.backpressure_timeout_secs,
            ),
            ("ingest.max_pts_jump_secs", i.max_pts_jump_secs),
        ] {
            secs(n, v)?;
        }
        self.analytics.validate()?;
        let mut names = std::collections::HashSet::new();
        for c in &self.cameras {
            roeh_domain::camera::validate_name(&c.name)?;
            if !names.insert(c.name.as_str()) {
                bail!("camera name {:?} appears twice", c.name);
            }
            CameraUrl::parse_local_source(&c.url)
                .with_context(|| format!("camera {:?}", c.name))?;
            if c.password_env.is_some() && c.password_file.is_some() {
                bail!(
                    "camera {:?}: give password_env or password_file, not both",
                    c.name
                );
            }
        }
        Ok(())
    }
}

impl CameraConfig {
    /// The credentials, reading the password from its variable or file.
    pub fn credentials(&self) -> anyhow::Result<Option<Credentials>> {
        let Some(username) = &self.username else {
            return Ok(None);
        };
        let password = read_secret(self.password_env.as_deref(), self.password_file.as_deref())
            .with_context(|| format!("camera {:?}", self.name))?
            .unwrap_or_default();
        Ok(Some(Credentials {
            username: username.clone(),
            password: Secret::new(password),
        }))
    }

    /// The retention policy, falling back to the defaults.
    pub fn retention(&self, defaults: &RecordingConfig) -> Retention {
        retention(
            self.retention_max_age_days
                .unwrap_or(defaults.retention_max_age_days),
            self.retention_max_bytes
                .unwrap_or(defaults.retention_max_bytes),
        )
    }
}

/// A retention policy from days and bytes, where 0 means no limit.
pub fn retention(max_age_days: f64, max_bytes: u64) -> Retention {
    Retention {
        max_age: (max_age_days > 0.0 && max_age_days.is_finite())
            .then(|| Duration::from_secs_f64(max_age_days * 86_400.0)),
        max_bytes: (max_bytes > 0).then_some(max_bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses_with_defaults() {
        let text = include_str!("../../../config/example.toml");
        let cfg = Config::parse(text).unwrap();
        let d = Config::default();
        assert_eq!(cfg.server.listen, d.server.listen);
        assert_eq!(cfg.recording.segment_secs, d.recording.segment_secs);
        assert_eq!(cfg.recording.queue_frames, d.recording.queue_frames);
        assert_eq!(
            cfg.recording.commit_interval_secs,
            d.recording.commit_interval_secs
        );
        assert_eq!(cfg.recording.min_free_bytes, d.recording.min_free_bytes);
        assert_eq!(cfg.ingest.stall_timeout_secs, d.ingest.stall_timeout_secs);
        assert_eq!(cfg.ingest.backoff_max_secs, d.ingest.backoff_max_secs);
        assert!(cfg.cameras.is_empty());
        let (a, da) = (&cfg.analytics, &d.analytics);
        assert_eq!(
            (a.enabled, &a.models, &a.model),
            (da.enabled, &da.models, &da.model)
        );
        assert_eq!(
            (a.threads, a.max_batch, a.max_wait_ms),
            (da.threads, da.max_batch, da.max_wait_ms)
        );
        assert_eq!(
            (a.default_fps, a.pre_secs, a.post_secs),
            (da.default_fps, da.pre_secs, da.post_secs)
        );
        assert_eq!(a.execution, da.execution);
    }

    #[test]
    fn analytics_settings_are_checked() {
        let cfg = Config::parse("[analytics]\nenabled = false\nexecution = \"cuda\"").unwrap();
        assert!(!cfg.analytics.enabled);
        assert_eq!(cfg.analytics.execution, Execution::Cuda);
        for bad in [
            "execution = \"tpu\"",
            "default_fps = 0.0",
            "default_fps = 31.0",
            "max_batch = 0",
            "threads = 0",
            "pre_secs = -1.0",
            "post_secs = 601.0",
            "max_wait_ms = 5000",
            "model = \"\"",
            "modle = \"x\"",
        ] {
            assert!(
                Config::parse(&format!("[analytics]\n{bad}")).is_err(),
                "{bad}"
            );
        }
        let missing = AnalyticsConfig {
            models: PathBuf::from("no/such/models.toml"),
            ..AnalyticsConfig::default()
        };
        let e = missing.manifest_path().unwrap_err().to_string();
        assert!(
            e.contains("no/such/models.toml") && e.contains("analytics.models"),
            "{e}"
        );
        assert!(
            AnalyticsConfig::default()
                .manifest_path()
                .unwrap()
                .is_file()
        );
    }

    #[test]
    fn example_camera_block_parses_when_uncommented() {
        let text = include_str!("../../../config/example.toml");
        let uncommented: String = text
            .lines()
            .skip_while(|l| !l.starts_with("# [[camera]]"))
            .map(|l| l.strip_prefix("# ").unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n");
        let cfg = Config::parse(&uncommented).unwrap();
        assert_eq!(cfg.cameras.len(), 1);
        assert_eq!(cfg.cameras[0].transport, Transport::Tcp);
    }

    #[test]
    fn refuses_unknown_keys_and_bad_values() {
        assert!(Config::parse("[server]\nlisten_addr = \"x\"").is_err());
        assert!(Config::parse("[recording]\nsegment_secs = -1.0").is_err());
        assert!(Config::parse("[recording]\nsegment_secs = nan").is_err());
        assert!(Config::parse("[[camera]]\nname = \"a\"\nurl = \"rtsp://u:p@h/x\"").is_err());
        assert!(Config::parse("[[camera]]\nname = \"a\"\nurl = \"rtsp://h/$(id)\"").is_err());
        let dup = "[[camera]]\nname = \"a\"\nurl = \"rtsp://h/1\"\n[[camera]]\nname = \"a\"\nurl = \"rtsp://h/2\"";
        assert!(Config::parse(dup).is_err());
    }
}
