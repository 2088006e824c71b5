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
    /// Cameras known at start.
    #[serde(default, rename = "camera")]
    pub cameras: Vec<CameraConfig>,
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
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("/var/lib/roeh"),
            database_url: String::new(),
            shutdown_grace_secs: 10.0,
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
        let password = if let Some(var) = &self.password_env {
            std::env::var(var).with_context(|| {
                format!(
                    "camera {:?}: environment variable {var} is not set",
                    self.name
                )
            })?
        } else if let Some(file) = &self.password_file {
            let text = std::fs::read_to_string(file).with_context(|| {
                format!(
                    "camera {:?}: reading password file {}",
                    self.name,
                    file.display()
                )
            })?;
            text.lines().next().unwrap_or_default().to_string()
        } else {
            String::new()
        };
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
