//! The `roeh` command: `serve`, `demo`, `camera add|list|remove`.
//!
//! Secrets never come in on the command line in clear: camera passwords are read from an
//! environment variable or a file named by an option.

mod config;
mod run;

use anyhow::Context;
use clap::{Parser, Subcommand};
use config::Config;
use roeh_domain::{Camera, CameraId, CameraUrl, Credentials, Transport};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "roeh",
    version,
    about = "Control-room recorder for hotspot cameras"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Records the configured cameras and serves the HTTP API.
    Serve {
        /// Configuration file (see config/example.toml).
        #[arg(long)]
        config: PathBuf,
    },
    /// Starts bundled test cameras on a local RTSP server, records them and serves the API.
    Demo {
        /// Data directory (database and footage).
        #[arg(long, default_value = "data/demo")]
        data_dir: PathBuf,
        /// Number of test cameras.
        #[arg(long, default_value_t = 4)]
        cameras: usize,
        /// HTTP port on 127.0.0.1 (0 picks a free one).
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Footage file the test cameras loop (H.264 or H.265 MP4).
        #[arg(long)]
        footage: Option<PathBuf>,
        /// Target segment length, seconds.
        #[arg(long, default_value_t = 10.0)]
        segment_secs: f64,
        /// Stop after this many seconds (0 = run until Ctrl-C).
        #[arg(long, default_value_t = 0.0)]
        duration_secs: f64,
    },
    /// Manages cameras in the database (a running server picks changes up within seconds).
    Camera {
        #[command(subcommand)]
        cmd: CameraCmd,
        /// Configuration file, for the database location.
        #[arg(long, global = true)]
        config: Option<PathBuf>,
        /// Data directory, when no configuration file is given.
        #[arg(long, global = true)]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum CameraCmd {
    /// Adds a camera.
    Add {
        /// Display name.
        #[arg(long)]
        name: String,
        /// RTSP URL without credentials.
        #[arg(long)]
        url: String,
        /// User name for the camera.
        #[arg(long)]
        username: Option<String>,
        /// Environment variable holding the camera password.
        #[arg(long)]
        password_env: Option<String>,
        /// File whose first line is the camera password.
        #[arg(long)]
        password_file: Option<PathBuf>,
        /// `tcp` or `udp`.
        #[arg(long, default_value = "tcp")]
        transport: String,
    },
    /// Lists cameras.
    List,
    /// Removes a camera (its footage and gaps are kept as evidence).
    Remove {
        /// Camera id.
        id: String,
    },
}

fn main() -> std::process::ExitCode {
    run::init_logging();
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("roeh: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(dispatch(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("roeh: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.cmd {
        Cmd::Serve { config } => {
            let cfg = Config::load(&config)?;
            run::serve(cfg).await
        }
        Cmd::Demo {
            data_dir,
            cameras,
            port,
            footage,
            segment_secs,
            duration_secs,
        } => {
            run::demo(run::DemoArgs {
                data_dir,
                cameras,
                port,
                footage,
                segment_secs,
                duration_secs,
            })
            .await
        }
        Cmd::Camera {
            cmd,
            config,
            data_dir,
        } => {
            let cfg = match (config, data_dir) {
                (Some(p), _) => Config::load(&p)?,
                (None, Some(d)) => {
                    let mut c = Config::default();
                    c.server.data_dir = d;
                    c
                }
                (None, None) => anyhow::bail!("give --config FILE or --data-dir DIR"),
            };
            let store = run::open_store(&cfg).await?;
            camera_cmd(&store, &cfg, cmd).await
        }
    }
}

async fn camera_cmd(store: &roeh_store::Store, cfg: &Config, cmd: CameraCmd) -> anyhow::Result<()> {
    let clock = roeh_domain::SystemClock::new();
    match cmd {
        CameraCmd::Add {
            name,
            url,
            username,
            password_env,
            password_file,
            transport,
        } => {
            let cc = config::CameraConfig {
                name,
                url,
                username,
                password_env,
                password_file,
                transport: Transport::parse(&transport).context("transport must be tcp or udp")?,
                retention_max_age_days: None,
                retention_max_bytes: None,
            };
            roeh_domain::camera::validate_name(&cc.name)?;
            let cam = Camera {
                id: CameraId::new_random(),
                name: cc.name.clone(),
                url: CameraUrl::parse(&cc.url)?,
                credentials: cc.credentials()?,
                transport: cc.transport,
                enabled: true,
                retention: cc.retention(&cfg.recording),
            };
            store
                .insert_camera(&cam, roeh_domain::Clock::wall(&clock))
                .await?;
            println!("{}", cam.id);
        }
        CameraCmd::List => {
            for c in store.list_cameras().await? {
                let user = c
                    .credentials
                    .as_ref()
                    .map(|c: &Credentials| c.username.as_str())
                    .unwrap_or("-");
                println!(
                    "{}\t{}\t{}\t{}\tuser={}\t{}",
                    c.id,
                    c.name,
                    c.url,
                    c.transport.as_str(),
                    user,
                    if c.enabled { "enabled" } else { "disabled" }
                );
            }
        }
        CameraCmd::Remove { id } => {
            let id = CameraId::parse(&id)?;
            match store
                .delete_camera(id, roeh_domain::Clock::wall(&clock))
                .await?
            {
                roeh_store::CameraRemoval::Deleted => println!("deleted {id}"),
                roeh_store::CameraRemoval::Retired => {
                    println!("removed {id}; its footage and gaps are kept as evidence")
                }
            }
        }
    }
    Ok(())
}
