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
    /// Alerts: the control room's time zone and shifts.
    #[serde(default)]
    pub alerts: AlertsConfig,
    /// Outbound webhooks: where they may go.
    #[serde(default)]
    pub webhooks: WebhooksConfig,
    /// MQTT: alerts, incidents and availability on a broker (off without `host`).
    #[serde(default)]
    pub mqtt: MqttConfig,
    /// The browser console: the site's map tile server.
    #[serde(default)]
    pub console: ConsoleConfig,
    /// The database's connection pool.
    #[serde(default)]
    pub database: DatabaseConfig,
    /// The weekly report made for the enforcement forum.
    #[serde(default)]
    pub reports: ReportsConfig,
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
    /// This process's node on a database shared by several processes: it records the cameras
    /// of this node only, and the `[[camera]]` entries below become this node's. `None`: the
    /// process records the cameras of no node (a site of one process).
    pub node: Option<String>,
    /// Graceful shutdown deadline, seconds.
    pub shutdown_grace_secs: f64,
    /// Runs the node's wall clock this many seconds ahead of the system's (behind when
    /// negative), for a drill or an acceptance test of schedules ("as if it were 23:00"). Every
    /// time the node writes (footage, incidents, the log) is then shifted too: never set it on a
    /// site whose footage is evidence. 0 (the default) is the system's clock.
    pub clock_offset_secs: f64,
    /// Mark console session cookies `Secure` (needs HTTPS in front of roeh). Always on when
    /// roeh serves HTTPS itself.
    pub secure_cookie: bool,
    /// PEM certificate chain (leaf first) for serving HTTPS; given together with `tls_key`.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, RSA or EC, unencrypted) of `tls_cert`.
    pub tls_key: Option<PathBuf>,
}

impl ServerConfig {
    /// The certificate and key files when HTTPS is configured (validation ensures both or
    /// neither are given).
    pub fn tls(&self) -> Option<(&Path, &Path)> {
        Some((self.tls_cert.as_deref()?, self.tls_key.as_deref()?))
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("/var/lib/roeh"),
            database_url: String::new(),
            node: None,
            shutdown_grace_secs: 10.0,
            clock_offset_secs: 0.0,
            secure_cookie: true,
            tls_cert: None,
            tls_key: None,
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
    /// A database write of the recorder taking longer than this waits in the camera's backlog
    /// and recording goes on, seconds.
    pub database_write_timeout_secs: f64,
    /// While the database is away, how often the recorder asks for it, seconds.
    pub database_retry_secs: f64,
    /// Frames of finished segments a camera holds while the database is away; beyond them
    /// recording stops with a gap of reason `database` until it is back.
    pub database_backlog_frames: usize,
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
            database_write_timeout_secs: 5.0,
            database_retry_secs: 1.0,
            database_backlog_frames: 15_000,
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
    pub fn settings(&self) -> roeh_onvif::OnvifSettings {
        let mut policy = roeh_onvif::NetPolicy::new(self.allowed_networks.clone());
        policy.connect_timeout = self.connect_timeout;
        policy.timeout = self.request_timeout;
        policy.max_reply_bytes = self.max_reply_bytes;
        let mut s = roeh_onvif::OnvifSettings::new(policy);
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

/// `[alerts]`: the control room's time zone and shifts, which response-time reports group
/// alerts by. Checked when the file is read.
#[derive(Debug, Deserialize)]
#[serde(try_from = "RawAlertsConfig")]
pub struct AlertsConfig {
    /// The time zone and shifts; one shift `all` from 00:00 UTC by default.
    pub shifts: roeh_alerts::Shifts,
    /// How long a pushed message stays valid after it is signed (clients refuse it later).
    pub push_ttl: std::time::Duration,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            shifts: roeh_alerts::Shifts::default(),
            push_ttl: roeh_alerts::service::AlertsSettings::default().push_ttl,
        }
    }
}

/// `[alerts]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawAlertsConfig {
    time_zone: String,
    shifts: Option<Vec<RawShift>>,
    push_ttl_secs: f64,
}

impl Default for RawAlertsConfig {
    fn default() -> Self {
        RawAlertsConfig {
            time_zone: "UTC".into(),
            shifts: None,
            push_ttl_secs: 60.0,
        }
    }
}

/// One entry of `alerts.shifts`: `{ name = "night", start = "23:00" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawShift {
    name: String,
    start: String,
}

impl TryFrom<RawAlertsConfig> for AlertsConfig {
    type Error = String;

    fn try_from(r: RawAlertsConfig) -> Result<Self, String> {
        // Without `shifts`, one shift a day from local midnight.
        let list: Vec<(&str, &str)> = match &r.shifts {
            None => vec![("all", "00:00")],
            Some(l) => l
                .iter()
                .map(|s| (s.name.as_str(), s.start.as_str()))
                .collect(),
        };
        let shifts = roeh_alerts::Shifts::parse(r.time_zone.trim(), &list)
            .map_err(|e| format!("alerts.{}", e.message()))?;
        // Long enough for a unit on a poor mobile link, short enough that a captured alert is
        // useless soon: between 5 s and one hour.
        if !(5.0..=3600.0).contains(&r.push_ttl_secs) {
            return Err(format!(
                "alerts.push_ttl_secs: {} is outside 5..=3600 seconds",
                r.push_ttl_secs
            ));
        }
        Ok(AlertsConfig {
            shifts,
            push_ttl: std::time::Duration::from_secs_f64(r.push_ttl_secs),
        })
    }
}

/// `[reports]`: when the weekly report for the enforcement forum is made, site-wide, into
/// `reports/` of the data directory (listed by `GET /api/reports`): `weekly_at = "mon 06:00"`
/// (a weekday and a local time in `[alerts] time_zone`; `"off"` for never) and `weekly_langs =
/// ["he", "en"]`. It reports the ISO week before; a report missed while roeh was down is made
/// at start.
#[derive(Debug, Deserialize)]
#[serde(try_from = "RawReportsConfig")]
pub struct ReportsConfig {
    /// The schedule; `None` when off.
    pub weekly: Option<roeh_api::weekly::WeeklySchedule>,
}

impl Default for ReportsConfig {
    fn default() -> Self {
        // The defaults parse.
        RawReportsConfig::default()
            .try_into()
            .unwrap_or(ReportsConfig { weekly: None })
    }
}

/// `[reports]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawReportsConfig {
    weekly_at: String,
    weekly_langs: Vec<String>,
}

impl Default for RawReportsConfig {
    fn default() -> Self {
        RawReportsConfig {
            weekly_at: "mon 06:00".into(),
            weekly_langs: vec!["he".into(), "en".into()],
        }
    }
}

impl TryFrom<RawReportsConfig> for ReportsConfig {
    type Error = String;

    fn try_from(r: RawReportsConfig) -> Result<Self, String> {
        if r.weekly_at.trim() == "off" {
            return Ok(ReportsConfig { weekly: None });
        }
        roeh_api::weekly::WeeklySchedule::parse(&r.weekly_at, &r.weekly_langs)
            .map(|s| ReportsConfig { weekly: Some(s) })
            .map_err(|e| format!("reports.{e}"))
    }
}

/// `[console]`: the site's map tile server, if it has one (XYZ Web Mercator tiles on the city's
/// network, e.g. `map_tiles = "https://tiles.city.local/osm/{z}/{x}/{y}.png"`). Without it the
/// console's maps are the plain coordinate view, which needs no network.
#[derive(Debug, Default, Deserialize)]
#[serde(try_from = "RawConsoleConfig")]
pub struct ConsoleConfig {
    /// The checked tile server.
    pub map_tiles: Option<roeh_domain::MapTiles>,
}

/// `[console]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawConsoleConfig {
    map_tiles: String,
    map_attribution: String,
    map_max_zoom: u8,
}

impl Default for RawConsoleConfig {
    fn default() -> Self {
        RawConsoleConfig {
            map_tiles: String::new(),
            map_attribution: String::new(),
            map_max_zoom: 19,
        }
    }
}

impl TryFrom<RawConsoleConfig> for ConsoleConfig {
    type Error = String;

    fn try_from(r: RawConsoleConfig) -> Result<Self, String> {
        if r.map_tiles.trim().is_empty() {
            return Ok(ConsoleConfig::default());
        }
        let attribution = Some(r.map_attribution).filter(|a| !a.trim().is_empty());
        roeh_domain::MapTiles::parse(&r.map_tiles, attribution, r.map_max_zoom)
            .map(|t| ConsoleConfig { map_tiles: Some(t) })
            .map_err(|e| format!("console.{e}"))
    }
}

/// `[webhooks]`: where outbound webhooks may go (the server-side request forgery allow-list).
/// Checked when the file is read; the CA file is read at start.
#[derive(Debug, Default, Deserialize)]
#[serde(try_from = "RawWebhooksConfig")]
pub struct WebhooksConfig {
    /// Networks receivers may live on besides public addresses.
    pub allowed_networks: Vec<roeh_egress::Cidr>,
    /// Host names trusted whatever unicast address they resolve to (lower case, no trailing
    /// dot).
    pub allowed_hosts: Vec<String>,
    /// Whether plain `http://` targets are allowed.
    pub allow_http: bool,
    /// PEM file of extra CA certificates trusted for `https://` targets.
    pub ca_file: Option<PathBuf>,
    /// The sender and area radius of CAP messages.
    pub cap: roeh_outbound::cap::CapSettings,
}

/// `[webhooks]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawWebhooksConfig {
    allowed_networks: Vec<String>,
    allowed_hosts: Vec<String>,
    allow_http: bool,
    ca_file: String,
    /// CAP `sender` (default `roeh`).
    cap_sender: String,
    /// Radius of a hotspot's circle in CAP messages, metres (default 100).
    cap_radius_m: f64,
}

impl Default for RawWebhooksConfig {
    fn default() -> Self {
        let cap = roeh_outbound::cap::CapSettings::default();
        RawWebhooksConfig {
            allowed_networks: Vec::new(),
            allowed_hosts: Vec::new(),
            allow_http: false,
            ca_file: String::new(),
            cap_sender: cap.sender,
            cap_radius_m: cap.radius_m,
        }
    }
}

impl TryFrom<RawWebhooksConfig> for WebhooksConfig {
    type Error = String;

    fn try_from(r: RawWebhooksConfig) -> Result<Self, String> {
        let (networks, hosts) = egress_lists("webhooks", &r.allowed_networks, &r.allowed_hosts)?;
        let cap = roeh_outbound::cap::CapSettings {
            sender: r.cap_sender.trim().to_string(),
            radius_m: r.cap_radius_m,
        };
        cap.check()
            .map_err(|e| format!("webhooks.cap_sender / cap_radius_m: {e}"))?;
        let ca_file = match r.ca_file.trim() {
            "" => None,
            f => Some(PathBuf::from(f)),
        };
        Ok(WebhooksConfig {
            allowed_networks: networks,
            allowed_hosts: hosts,
            allow_http: r.allow_http,
            ca_file,
            cap,
        })
    }
}

/// The networks and host names of an outbound section's egress policy (`section` names it in
/// errors): networks as `ADDR/PREFIX`, hosts as exact names (lower case, no trailing dot).
fn egress_lists(
    section: &str,
    networks: &[String],
    hosts: &[String],
) -> Result<(Vec<roeh_egress::Cidr>, Vec<String>), String> {
    let mut nets = Vec::with_capacity(networks.len());
    for c in networks {
        nets.push(
            roeh_egress::Cidr::parse(c.trim())
                .map_err(|_| format!("{section}.allowed_networks: {c:?} is not ADDR/PREFIX"))?,
        );
    }
    let mut names = Vec::with_capacity(hosts.len());
    for h in hosts {
        let name = h.trim().trim_end_matches('.').to_ascii_lowercase();
        if name.parse::<std::net::IpAddr>().is_ok() {
            return Err(format!(
                "{section}.allowed_hosts: {h:?} is an address; list addresses in \
                 {section}.allowed_networks"
            ));
        }
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if name.is_empty() || name.len() > 253 || !name.split('.').all(label_ok) {
            return Err(format!(
                "{section}.allowed_hosts: {h:?} is not a host name (exact names, no wildcards)"
            ));
        }
        names.push(name);
    }
    Ok((nets, names))
}

/// `[database]`: the store's connection pool (its size matters on PostgreSQL; SQLite keeps four
/// connections whatever it says).
#[derive(Debug, Default, Deserialize)]
#[serde(try_from = "RawDatabaseConfig")]
pub struct DatabaseConfig {
    /// The pool's settings, checked.
    pub pool: roeh_store::PoolSettings,
}

/// `[database]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawDatabaseConfig {
    max_connections: u32,
    acquire_timeout_secs: f64,
    statement_timeout_secs: f64,
    idle_in_transaction_timeout_secs: f64,
}

impl Default for RawDatabaseConfig {
    fn default() -> Self {
        let d = roeh_store::PoolSettings::default();
        RawDatabaseConfig {
            max_connections: d.max_connections,
            acquire_timeout_secs: d.acquire_timeout.as_secs_f64(),
            statement_timeout_secs: d.statement_timeout.as_secs_f64(),
            idle_in_transaction_timeout_secs: d.idle_in_transaction_timeout.as_secs_f64(),
        }
    }
}

impl TryFrom<RawDatabaseConfig> for DatabaseConfig {
    type Error = String;

    fn try_from(r: RawDatabaseConfig) -> Result<Self, String> {
        let secs = |name: &str, v: f64| {
            std::time::Duration::try_from_secs_f64(v)
                .map_err(|_| format!("database: {name} must be a number of seconds, not {v}"))
        };
        let pool = roeh_store::PoolSettings {
            max_connections: r.max_connections,
            acquire_timeout: secs("acquire_timeout_secs", r.acquire_timeout_secs)?,
            statement_timeout: secs("statement_timeout_secs", r.statement_timeout_secs)?,
            idle_in_transaction_timeout: secs(
                "idle_in_transaction_timeout_secs",
                r.idle_in_transaction_timeout_secs,
            )?,
        };
        pool.check().map_err(|e| e.message().to_string())?;
        Ok(DatabaseConfig { pool })
    }
}

/// `[mqtt]`: the broker alerts, incidents and availability are published to. Without `host`
/// nothing is published.
#[derive(Debug, Default, Deserialize)]
#[serde(try_from = "RawMqttConfig")]
pub struct MqttConfig {
    /// The broker's host name or address; `None`: MQTT is off.
    pub host: Option<String>,
    /// The broker's port (default 1883, or 8883 with TLS).
    pub port: u16,
    /// Whether to connect with TLS.
    pub tls: bool,
    /// PEM file of extra CA certificates trusted for the broker.
    pub ca_file: Option<PathBuf>,
    /// User name, if the broker wants one.
    pub username: Option<String>,
    /// Environment variable holding the password.
    pub password_env: Option<String>,
    /// File holding the password (first line).
    pub password_file: Option<PathBuf>,
    /// MQTT client id (default `roeh`).
    pub client_id: String,
    /// First topic level (default `roeh`).
    pub topic_prefix: String,
    /// Networks the broker may live on besides public addresses.
    pub allowed_networks: Vec<roeh_egress::Cidr>,
    /// Host names trusted whatever unicast address they resolve to.
    pub allowed_hosts: Vec<String>,
}

/// `[mqtt]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawMqttConfig {
    host: String,
    port: Option<u16>,
    tls: bool,
    ca_file: String,
    username: String,
    password_env: String,
    password_file: String,
    client_id: String,
    topic_prefix: String,
    allowed_networks: Vec<String>,
    allowed_hosts: Vec<String>,
}

impl TryFrom<RawMqttConfig> for MqttConfig {
    type Error = String;

    fn try_from(r: RawMqttConfig) -> Result<Self, String> {
        let (networks, hosts) = egress_lists("mqtt", &r.allowed_networks, &r.allowed_hosts)?;
        let opt = |s: &str| Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_string);
        let c = MqttConfig {
            host: opt(&r.host),
            port: r.port.unwrap_or(if r.tls { 8883 } else { 1883 }),
            tls: r.tls,
            ca_file: opt(&r.ca_file).map(PathBuf::from),
            username: opt(&r.username),
            password_env: opt(&r.password_env),
            password_file: opt(&r.password_file).map(PathBuf::from),
            client_id: opt(&r.client_id).unwrap_or_else(|| "roeh".into()),
            topic_prefix: opt(&r.topic_prefix).unwrap_or_else(|| "roeh".into()),
            allowed_networks: networks,
            allowed_hosts: hosts,
        };
        if c.password_env.is_some() && c.password_file.is_some() {
            return Err("mqtt: give password_env or password_file, not both".into());
        }
        if (c.password_env.is_some() || c.password_file.is_some()) && c.username.is_none() {
            return Err("mqtt: a password needs a username".into());
        }
        if let Some(host) = &c.host {
            let mut s = roeh_outbound::mqtt::MqttSettings::new(host.clone(), c.port);
            s.username.clone_from(&c.username);
            s.client_id.clone_from(&c.client_id);
            s.topic_prefix.clone_from(&c.topic_prefix);
            s.check().map_err(|e| e.message().to_string())?;
        }
        Ok(c)
    }
}

impl MqttConfig {
    /// The publisher's settings, reading the password and the CA file; `None` when MQTT is
    /// off.
    pub fn settings(&self) -> anyhow::Result<Option<roeh_outbound::mqtt::MqttSettings>> {
        let Some(host) = &self.host else {
            return Ok(None);
        };
        let mut s = roeh_outbound::mqtt::MqttSettings::new(host.clone(), self.port);
        s.tls = self.tls;
        s.ca_pem = match &self.ca_file {
            None => None,
            Some(f) => Some(
                std::fs::read(f)
                    .with_context(|| format!("reading mqtt.ca_file {}", f.display()))?,
            ),
        };
        s.username.clone_from(&self.username);
        s.password = read_secret(self.password_env.as_deref(), self.password_file.as_deref())
            .context("the MQTT password")?;
        s.client_id.clone_from(&self.client_id);
        s.topic_prefix.clone_from(&self.topic_prefix);
        s.allowed_networks.clone_from(&self.allowed_networks);
        s.allowed_hosts.clone_from(&self.allowed_hosts);
        Ok(Some(s))
    }
}

impl WebhooksConfig {
    /// The webhook worker's settings, reading the CA file if one is named.
    pub fn settings(&self) -> anyhow::Result<roeh_outbound::WebhookSettings> {
        let extra_ca_pem = match &self.ca_file {
            None => None,
            Some(f) => Some(
                std::fs::read(f)
                    .with_context(|| format!("reading webhooks.ca_file {}", f.display()))?,
            ),
        };
        Ok(roeh_outbound::WebhookSettings {
            allowed_networks: self.allowed_networks.clone(),
            allowed_hosts: self.allowed_hosts.clone(),
            allow_http: self.allow_http,
            extra_ca_pem,
            cap: self.cap.clone(),
            ..Default::default()
        })
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
            "recording.database_write_timeout_secs",
            r.database_write_timeout_secs,
        )?;
        secs("recording.database_retry_secs", r.database_retry_secs)?;
        if r.database_backlog_frames == 0 || r.database_backlog_frames > 10_000_000 {
            bail!("recording.database_backlog_frames must be between 1 and 10000000");
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
        if !(self.server.clock_offset_secs.is_finite()
            && self.server.clock_offset_secs.abs() <= 366.0 * 86_400.0)
        {
            bail!("server.clock_offset_secs must be a number of seconds within a year either way");
        }
        if let Some(node) = &self.server.node
            && (node.is_empty()
                || node.len() > 64
                || !node
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')))
        {
            bail!("server.node must be 1 to 64 letters, digits, '-', '_' or '.', not {node:?}");
        }
        match (&self.server.tls_cert, &self.server.tls_key) {
            (Some(_), None) | (None, Some(_)) => {
                bail!("server.tls_cert and server.tls_key must be given together")
            }
            (Some(c), Some(k)) if c.as_os_str().is_empty() || k.as_os_str().is_empty() => {
                bail!("server.tls_cert and server.tls_key must not be empty")
            }
            _ => {}
        }
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
        assert_eq!(cfg.database.pool, d.database.pool);
        assert_eq!(cfg.recording.segment_secs, d.recording.segment_secs);
        assert_eq!(cfg.recording.queue_frames, d.recording.queue_frames);
        assert_eq!(
            cfg.recording.commit_interval_secs,
            d.recording.commit_interval_secs
        );
        assert_eq!(cfg.recording.min_free_bytes, d.recording.min_free_bytes);
        assert_eq!(
            (
                cfg.recording.database_write_timeout_secs,
                cfg.recording.database_retry_secs,
                cfg.recording.database_backlog_frames
            ),
            (
                d.recording.database_write_timeout_secs,
                d.recording.database_retry_secs,
                d.recording.database_backlog_frames
            )
        );
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
        assert_eq!(cfg.alerts.shifts, d.alerts.shifts);
        assert_eq!(cfg.webhooks.allowed_networks, d.webhooks.allowed_networks);
        assert_eq!(cfg.webhooks.allowed_hosts, d.webhooks.allowed_hosts);
        assert_eq!(
            (cfg.webhooks.allow_http, &cfg.webhooks.ca_file),
            (d.webhooks.allow_http, &d.webhooks.ca_file)
        );
    }

    #[test]
    fn server_node_is_a_plain_name() {
        assert_eq!(Config::parse("").unwrap().server.node, None);
        let cfg = Config::parse("[server]\nnode = \"rec-1.b_2\"").unwrap();
        assert_eq!(cfg.server.node.as_deref(), Some("rec-1.b_2"));
        let long = "n".repeat(65);
        for bad in ["", "a b", "a/b", "ß", long.as_str()] {
            let e = Config::parse(&format!("[server]\nnode = \"{bad}\""))
                .unwrap_err()
                .to_string();
            assert!(e.contains("server.node"), "{bad:?}: {e}");
        }
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
    fn mqtt_is_off_without_a_host_and_its_settings_are_checked() {
        let off = Config::parse("").unwrap().mqtt;
        assert!(off.host.is_none());
        assert!(off.settings().unwrap().is_none());

        let dir = tempfile::tempdir().unwrap();
        let pass = dir.path().join("mqtt-pass");
        std::fs::write(&pass, "s3cret-broker-pass\nignored\n").unwrap();
        let cfg = Config::parse(&format!(
            "[mqtt]\nhost = \"mqtt.city.example\"\ntls = true\nusername = \"roeh\"\n\
             password_file = \"{}\"\ntopic_prefix = \"tlv-roeh\"\n\
             allowed_hosts = [\"MQTT.City.Example.\"]\n",
            pass.display()
        ))
        .unwrap();
        assert_eq!(cfg.mqtt.port, 8883, "the TLS port by default");
        let s = cfg.mqtt.settings().unwrap().unwrap();
        assert_eq!(s.password.as_deref(), Some("s3cret-broker-pass"));
        assert_eq!(s.topic_prefix, "tlv-roeh");
        assert!(s.tls && s.policy().host_trusted("mqtt.city.example"));
        assert!(!format!("{s:?}").contains("s3cret"));
        assert_eq!(
            Config::parse("[mqtt]\nhost = \"10.0.0.5\"\n")
                .unwrap()
                .mqtt
                .port,
            1883
        );

        for bad in [
            "host = \"b\"\ntopic_prefix = \"a/b\"",
            "host = \"b\"\nclient_id = \"has space\"",
            "host = \"b\"\npassword_env = \"X\"",
            "host = \"b\"\nusername = \"u\"\npassword_env = \"X\"\npassword_file = \"/f\"",
            "allowed_networks = [\"intranet\"]",
            "allowed_hosts = [\"10.0.0.1\"]",
            "broker = \"x\"",
        ] {
            assert!(Config::parse(&format!("[mqtt]\n{bad}")).is_err(), "{bad}");
        }
        for bad in ["cap_sender = \"a b\"", "cap_radius_m = 0.0"] {
            assert!(
                Config::parse(&format!("[webhooks]\n{bad}")).is_err(),
                "{bad}"
            );
        }
        let w = Config::parse("[webhooks]\ncap_sender = \"roeh@city.example\"\n").unwrap();
        assert_eq!(
            w.webhooks.settings().unwrap().cap.sender,
            "roeh@city.example"
        );
    }

    #[test]
    fn webhook_targets_are_parsed_and_checked() {
        let d = Config::parse("").unwrap().webhooks;
        assert!(d.allowed_networks.is_empty() && d.allowed_hosts.is_empty());
        assert!(!d.allow_http && d.ca_file.is_none());
        let s = d.settings().unwrap();
        assert!(s.check_address("127.0.0.1".parse().unwrap()).is_err());
        assert!(s.check_address("93.184.216.34".parse().unwrap()).is_ok());

        let cfg = Config::parse(
            "[webhooks]\nallowed_networks = [\"10.20.0.0/16\", \"fd00::/8\"]\n\
             allowed_hosts = [\"Dispatch.City.Example.\"]\nallow_http = true\n",
        )
        .unwrap();
        let w = &cfg.webhooks;
        assert_eq!(w.allowed_networks.len(), 2);
        assert_eq!(w.allowed_hosts, vec!["dispatch.city.example".to_string()]);
        let s = w.settings().unwrap();
        assert!(s.allow_http);
        assert!(s.check_address("10.20.1.2".parse().unwrap()).is_ok());
        assert!(s.check_address("10.21.1.2".parse().unwrap()).is_err());

        for bad in [
            "allowed_networks = [\"10.0.0.0/33\"]",
            "allowed_networks = [\"intranet\"]",
            "allowed_hosts = [\"10.0.0.1\"]",
            "allowed_hosts = [\"*.example.org\"]",
            "allowed_hosts = [\"\"]",
            "allowed_hosts = [\"http://x.example\"]",
            "allow_http = \"yes\"",
            "ca = \"/etc/ca.pem\"",
        ] {
            assert!(
                Config::parse(&format!("[webhooks]\n{bad}")).is_err(),
                "{bad}"
            );
        }

        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-ca.pem");
        let cfg =
            Config::parse(&format!("[webhooks]\nca_file = \"{}\"", missing.display())).unwrap();
        let e = cfg.webhooks.settings().unwrap_err().to_string();
        assert!(e.contains("webhooks.ca_file"), "{e}");
        let pem = dir.path().join("ca.pem");
        std::fs::write(&pem, b"-----BEGIN CERTIFICATE-----\n").unwrap();
        let cfg = Config::parse(&format!("[webhooks]\nca_file = \"{}\"", pem.display())).unwrap();
        assert_eq!(
            cfg.webhooks.settings().unwrap().extra_ca_pem.as_deref(),
            Some(&b"-----BEGIN CERTIFICATE-----\n"[..])
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
    fn push_ttl_defaults_to_the_services_and_is_bounded() {
        assert_eq!(
            Config::default().alerts.push_ttl,
            roeh_alerts::service::AlertsSettings::default().push_ttl
        );
        assert_eq!(
            Config::parse("").unwrap().alerts.push_ttl,
            Duration::from_secs(60)
        );
        let c = Config::parse("[alerts]\npush_ttl_secs = 30").unwrap();
        assert_eq!(c.alerts.push_ttl, Duration::from_secs(30));
        for bad in ["0", "4.9", "3601", "-1"] {
            let e = Config::parse(&format!("[alerts]\npush_ttl_secs = {bad}"))
                .unwrap_err()
                .to_string();
            assert!(e.contains("alerts.push_ttl_secs"), "{bad}: {e}");
        }
    }

    #[test]
    fn alerts_shifts_are_parsed_and_checked() {
        use roeh_domain::WallTime;
        // The shift and shift date of an instant, as text.
        let of = |s: &roeh_alerts::Shifts, t: &str| {
            let (name, date) = s.shift_of(WallTime::parse(t).unwrap());
            (name.to_string(), date.to_string())
        };
        let want = |n: &str, d: &str| (n.to_string(), d.to_string());
        assert_eq!(
            Config::parse("").unwrap().alerts.shifts,
            roeh_alerts::Shifts::default()
        );
        let cfg = Config::parse(
            "[alerts]\ntime_zone = \"Asia/Jerusalem\"\nshifts = [\n  { name = \"morning\", \
             start = \"07:00\" },\n  { name = \"evening\", start = \"15:00\" },\n  \
             { name = \"night\", start = \"23:00\" },\n]",
        )
        .unwrap();
        let s = &cfg.alerts.shifts;
        assert_eq!(s.time_zone().name(), "Asia/Jerusalem");
        // 22:30 UTC is 00:30 in Jerusalem in winter: the night shift of the day before.
        assert_eq!(of(s, "2026-01-15T22:30:00Z"), want("night", "2026-01-15"));
        assert_eq!(of(s, "2026-01-15T05:00:00Z"), want("morning", "2026-01-15"));
        // A zone alone: one shift a day from local midnight.
        let cfg = Config::parse("[alerts]\ntime_zone = \"Europe/London\"").unwrap();
        let names: Vec<&str> = cfg
            .alerts
            .shifts
            .shifts()
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(names, ["all"]);
        assert_eq!(
            of(&cfg.alerts.shifts, "2026-06-30T23:30:00Z"),
            want("all", "2026-07-01")
        );
        for (bad, field) in [
            ("time_zone = \"Mars/Olympus\"", "alerts.time_zone"),
            ("shifts = []", "alerts.shifts"),
            (
                "shifts = [{ name = \"a\", start = \"07:00\" }, { name = \"a\", start = \"08:00\" }]",
                "alerts.shifts[1].name",
            ),
            (
                "shifts = [{ name = \"a\", start = \"07:00\" }, { name = \"b\", start = \"07:00\" }]",
                "alerts.shifts[1].start",
            ),
            (
                "shifts = [{ name = \"a\", start = \"7 am\" }]",
                "alerts.shifts[0].start",
            ),
            ("shifts = [{ name = \"a\" }]", "start"),
            (
                "shifts = [{ name = \"a\", start = \"07:00\", end = \"15:00\" }]",
                "end",
            ),
            ("timezone = \"UTC\"", "timezone"),
        ] {
            let e = Config::parse(&format!("[alerts]\n{bad}")).unwrap_err();
            let text = format!("{e:#}");
            assert!(text.contains(field), "{bad}: {text}");
        }
        // The example's commented shifts parse when uncommented.
        let text = include_str!("../../../config/example.toml");
        let block: String = text
            .lines()
            .skip_while(|l| !l.starts_with("# shifts = ["))
            .take_while(|l| l.starts_with("# "))
            .map(|l| l.strip_prefix("# ").unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n");
        let cfg = Config::parse(&format!("[alerts]\n{block}")).unwrap();
        assert_eq!(cfg.alerts.shifts.shifts().len(), 3);
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

    #[test]
    fn tls_files_come_together() {
        let cfg = Config::parse("[server]\ntls_cert = \"/etc/roeh/cert.pem\"\ntls_key = \"k.pem\"")
            .unwrap();
        assert_eq!(
            cfg.server.tls(),
            Some((Path::new("/etc/roeh/cert.pem"), Path::new("k.pem")))
        );
        assert_eq!(Config::parse("").unwrap().server.tls(), None);
        for bad in [
            "tls_cert = \"c.pem\"",
            "tls_key = \"k.pem\"",
            "tls_cert = \"\"\ntls_key = \"k.pem\"",
        ] {
            let e = Config::parse(&format!("[server]\n{bad}")).unwrap_err();
            assert!(e.to_string().contains("tls_cert"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_map_tile_server_is_optional_and_checked() {
        assert_eq!(Config::parse("").unwrap().console.map_tiles, None);
        let cfg = Config::parse(
            "[console]\nmap_tiles = \"https://tiles.city.local/osm/{z}/{x}/{y}.png\"\n\
             map_attribution = \"© OpenStreetMap contributors\"\nmap_max_zoom = 18",
        )
        .unwrap();
        let t = cfg.console.map_tiles.unwrap();
        assert_eq!(t.template(), "https://tiles.city.local/osm/{z}/{x}/{y}.png");
        assert_eq!(t.max_zoom(), 18);
        for bad in [
            "map_tiles = \"https://tiles.city.local/{z}/{y}.png\"",
            "map_tiles = \"file:///srv/{z}/{x}/{y}.png\"",
            "map_tiles = \"https://t/{z}/{x}/{y}.png\"\nmap_max_zoom = 30",
            "map_tile = \"https://t/{z}/{x}/{y}.png\"",
        ] {
            let e = Config::parse(&format!("[console]\n{bad}")).unwrap_err();
            assert!(e.to_string().contains("map_"), "{bad}: {e}");
        }
    }

    #[test]
    fn the_database_pool_has_defaults_and_checked_settings() {
        let d = Config::parse("").unwrap().database.pool;
        assert_eq!(d, roeh_store::PoolSettings::default());
        let cfg = Config::parse(
            "[database]\nmax_connections = 3\nacquire_timeout_secs = 2.5\n\
             statement_timeout_secs = 30\nidle_in_transaction_timeout_secs = 10",
        )
        .unwrap();
        let p = cfg.database.pool;
        assert_eq!(p.max_connections, 3);
        assert_eq!(p.acquire_timeout, std::time::Duration::from_millis(2500));
        assert_eq!(p.statement_timeout, std::time::Duration::from_secs(30));
        assert_eq!(
            p.idle_in_transaction_timeout,
            std::time::Duration::from_secs(10)
        );
        for (bad, named) in [
            ("max_connections = 0", "max_connections"),
            ("statement_timeout_secs = -1", "statement_timeout_secs"),
            (
                "idle_in_transaction_timeout_secs = 0",
                "idle_in_transaction_timeout_secs",
            ),
            ("acquire_timeout_secs = nan", "acquire_timeout_secs"),
            ("pool_size = 4", "pool_size"),
        ] {
            let e = Config::parse(&format!("[database]\n{bad}")).unwrap_err();
            assert!(e.to_string().contains(named), "{bad}: {e}");
        }
    }
}
