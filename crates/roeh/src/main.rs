//! The `roeh` command: `serve`, `demo`, `camera add|list|remove`, `keys show|rotate`, `export`,
//! `hold place|list|clear`, `verify` and `migrate-store`.
//!
//! Secrets never come in on the command line in clear: camera passwords are read from an
//! environment variable or a file named by an option.

mod config;
mod onvif_cmd;
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
    /// The site's signing keys.
    Keys {
        #[command(subcommand)]
        cmd: KeysCmd,
        /// Configuration file, for the data directory.
        #[arg(long, global = true)]
        config: Option<PathBuf>,
        /// Data directory, when no configuration file is given.
        #[arg(long, global = true)]
        data_dir: Option<PathBuf>,
    },
    /// Legal holds.
    Hold {
        #[command(subcommand)]
        cmd: HoldCmd,
        /// Configuration file, for the data directory.
        #[arg(long, global = true)]
        config: Option<PathBuf>,
        /// Data directory, when no configuration file is given.
        #[arg(long, global = true)]
        data_dir: Option<PathBuf>,
    },
    /// Exports a signed evidence bundle of a camera's range and waits for it.
    Export {
        /// Camera id.
        #[arg(long)]
        camera: String,
        /// Start (RFC 3339).
        #[arg(long)]
        start: String,
        /// End (RFC 3339).
        #[arg(long)]
        end: String,
        /// Why the footage is exported.
        #[arg(long)]
        reason: String,
        /// Case number.
        #[arg(long)]
        case: String,
        /// Who asks.
        #[arg(long)]
        requester: String,
        /// Write a directory instead of a ZIP.
        #[arg(long)]
        directory: bool,
        /// Configuration file, for the data directory.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Data directory, when no configuration file is given.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Verifies an evidence bundle offline (as the standalone `roeh-verify` does).
    Verify {
        /// Bundle: a directory or a ZIP.
        bundle: PathBuf,
        /// The site's public key (PEM) to trust; without it the bundle's own key is used.
        #[arg(long)]
        key: Option<PathBuf>,
    },
    /// Moves a site's database from SQLite to PostgreSQL: copies every row into an empty
    /// PostgreSQL database in one transaction, then proves the copy (the same rows in every
    /// table, the same log size and root hash, every checkpoint and every camera's chain
    /// holding). Stop roeh first; keep the data directory (keys, footage) and point
    /// `[server] database_url` at the new database. Put the database password in PGPASSWORD
    /// or ~/.pgpass, not in the URL.
    MigrateStore {
        /// The SQLite database: `sqlite:///path/roeh.db` or a path. It must exist.
        #[arg(long)]
        from: String,
        /// The PostgreSQL database: `postgres://user@host:port/db`. It must hold no site.
        #[arg(long)]
        to: String,
    },
    /// Reports for the enforcement forum.
    Report {
        #[command(subcommand)]
        cmd: ReportCmd,
        /// Configuration file, for the database and the site's time zone (`[alerts]`).
        #[arg(long, global = true)]
        config: Option<PathBuf>,
        /// Data directory, when no configuration file is given.
        #[arg(long, global = true)]
        data_dir: Option<PathBuf>,
    },
    /// ONVIF devices: discover, list, add as cameras (after approval), dismiss.
    Onvif {
        #[command(subcommand)]
        cmd: onvif_cmd::OnvifCmd,
        /// Configuration file, for the data directory and the `[onvif]` section.
        #[arg(long, global = true)]
        config: Option<PathBuf>,
        /// Data directory, when no configuration file is given.
        #[arg(long, global = true)]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum ReportCmd {
    /// The weekly report of an ISO week for the whole site (or one hotspot): an A4 PDF, or
    /// every table as CSV; the same figures `GET /api/reports/weekly` gives.
    Weekly {
        /// The ISO week, e.g. 2026-W49.
        #[arg(long)]
        week: String,
        /// Only this hotspot (its id).
        #[arg(long)]
        hotspot: Option<String>,
        /// `he` (Hebrew, right to left) or `en`.
        #[arg(long, default_value = "he")]
        lang: String,
        /// `pdf` or `csv`.
        #[arg(long, default_value = "pdf")]
        format: String,
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum KeysCmd {
    /// Prints the site's public keys (PEM) with their ids; the newest signs.
    Show,
    /// Makes a new key the signing key; old keys stay valid for what they signed.
    Rotate,
}

#[derive(Subcommand, Debug)]
enum HoldCmd {
    /// Places a legal hold: retention never deletes the range while it is in force.
    Place {
        /// Camera id.
        #[arg(long)]
        camera: String,
        /// Start (RFC 3339).
        #[arg(long)]
        start: String,
        /// End (RFC 3339).
        #[arg(long)]
        end: String,
        /// Case number.
        #[arg(long)]
        case: String,
        /// Why.
        #[arg(long)]
        reason: String,
        /// Who places it.
        #[arg(long)]
        actor: String,
    },
    /// Lists holds in force (all with --all).
    List {
        /// Include lifted holds.
        #[arg(long)]
        all: bool,
    },
    /// Lifts a hold.
    Clear {
        /// Hold id.
        id: i64,
        /// Why.
        #[arg(long)]
        reason: String,
        /// Who lifts it.
        #[arg(long)]
        actor: String,
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
            let cfg = Config::from_args(config, data_dir)?;
            let store = run::open_store(&cfg).await?;
            camera_cmd(&store, &cfg, cmd).await
        }
        Cmd::Keys {
            cmd,
            config,
            data_dir,
        } => {
            let cfg = Config::from_args(config, data_dir)?;
            let store = run::open_store(&cfg).await?;
            let custody = open_custody(&cfg, &store).await?;
            match cmd {
                KeysCmd::Show => {
                    for k in custody.public_keys().await? {
                        let state = match k.retired_at {
                            None => "signing".to_string(),
                            Some(t) => format!("retired {}", t.to_rfc3339()),
                        };
                        println!(
                            "key {} (created {}, {state})",
                            k.key_id,
                            k.created_at.to_rfc3339()
                        );
                        print!("{}", k.pem);
                    }
                }
                KeysCmd::Rotate => {
                    let k = custody.rotate_key().await?;
                    println!("key {} now signs", k.key_id);
                    print!("{}", k.pem);
                }
            }
            Ok(())
        }
        Cmd::Hold {
            cmd,
            config,
            data_dir,
        } => {
            let cfg = Config::from_args(config, data_dir)?;
            let store = run::open_store(&cfg).await?;
            let custody = open_custody(&cfg, &store).await?;
            hold_cmd(&custody, cmd).await
        }
        Cmd::Export {
            camera,
            start,
            end,
            reason,
            case,
            requester,
            directory,
            config,
            data_dir,
        } => {
            let cfg = Config::from_args(config, data_dir)?;
            let store = run::open_store(&cfg).await?;
            let custody = open_custody(&cfg, &store).await?;
            let req = roeh_custody::ExportRequest {
                camera: CameraId::parse(&camera)?,
                start: parse_time("start", &start)?,
                end: parse_time("end", &end)?,
                reason,
                case_ref: case,
                requester,
                form: if directory {
                    roeh_custody::ExportForm::Directory
                } else {
                    roeh_custody::ExportForm::Zip
                },
            };
            let job = custody.start_export(req).await?;
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                let Some(j) = custody.export_status(&job.id).await? else {
                    anyhow::bail!("export job {} vanished", job.id);
                };
                match j.state {
                    roeh_store::ExportState::Done => {
                        println!("{}", j.path.unwrap_or_default());
                        return Ok(());
                    }
                    roeh_store::ExportState::Failed => {
                        anyhow::bail!("export failed: {}", j.error.unwrap_or_default())
                    }
                    _ => {}
                }
            }
        }
        Cmd::Verify { bundle, key } => verify_cmd(&bundle, key.as_deref()),
        Cmd::MigrateStore { from, to } => migrate_store_cmd(&from, &to).await,
        Cmd::Onvif {
            cmd,
            config,
            data_dir,
        } => onvif_cmd::run(cmd, config, data_dir).await,
        Cmd::Report {
            cmd,
            config,
            data_dir,
        } => {
            let cfg = Config::from_args(config, data_dir)?;
            let store = run::open_store(&cfg).await?;
            report_cmd(&cfg, store, cmd).await
        }
    }
}

/// `roeh report weekly`: the week's report for the whole site, written to `--out`.
async fn report_cmd(cfg: &Config, store: roeh_store::Store, cmd: ReportCmd) -> anyhow::Result<()> {
    let ReportCmd::Weekly {
        week,
        hotspot,
        lang,
        format,
        out,
    } = cmd;
    let lang = roeh_report::Lang::parse(&lang)
        .with_context(|| format!("--lang must be he or en, got {lang:?}"))?;
    let csv = match format.as_str() {
        "pdf" => false,
        "csv" => true,
        f => anyhow::bail!("--format must be pdf or csv, got {f:?}"),
    };
    let src = roeh_api::stats::Source {
        store,
        zone: cfg.alerts.shifts.time_zone(),
        now: roeh_domain::Clock::wall(&roeh_domain::SystemClock::new()),
        shifts: cfg.alerts.shifts.clone(),
    };
    let w = roeh_api::weekly::weekly(
        &src,
        &roeh_auth::Scope::unrestricted(),
        &week,
        hotspot.as_deref(),
        lang,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
    let (incidents, week) = (w.incidents, w.week.clone());
    let bytes = roeh_api::weekly::render(w, csv)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
    roeh_api::weekly::write_atomically(&out, &bytes)
        .with_context(|| format!("writing {}", out.display()))?;
    println!(
        "{}: week {week}, {incidents} incidents, {} bytes",
        out.display(),
        bytes.len()
    );
    Ok(())
}

async fn open_custody(
    cfg: &Config,
    store: &roeh_store::Store,
) -> anyhow::Result<std::sync::Arc<roeh_custody::Custody>> {
    run::open_custody(
        cfg,
        store,
        std::sync::Arc::new(roeh_domain::SystemClock::new()),
    )
    .await
}

fn parse_time(name: &str, s: &str) -> anyhow::Result<roeh_domain::WallTime> {
    roeh_domain::WallTime::parse(s)
        .with_context(|| format!("{name} must be RFC 3339, e.g. 2026-11-22T20:00:00Z"))
}

async fn hold_cmd(custody: &roeh_custody::Custody, cmd: HoldCmd) -> anyhow::Result<()> {
    match cmd {
        HoldCmd::Place {
            camera,
            start,
            end,
            case,
            reason,
            actor,
        } => {
            let h = roeh_store::NewHold {
                case_ref: case,
                camera: CameraId::parse(&camera)?,
                start: parse_time("start", &start)?,
                end: parse_time("end", &end)?,
                reason,
                created_by: actor,
            };
            roeh_custody::validate_text("actor", &h.created_by)?;
            println!("{}", custody.place_hold(&h).await?);
        }
        HoldCmd::List { all } => {
            for h in custody.store().holds(!all).await? {
                println!(
                    "{}\tcase={}\t{}\t{}..{}\tby={}\t{}",
                    h.id,
                    h.hold.case_ref,
                    h.hold.camera,
                    h.hold.start.to_rfc3339(),
                    h.hold.end.to_rfc3339(),
                    h.hold.created_by,
                    match &h.cleared {
                        None => "in force".to_string(),
                        Some((t, by, _)) => format!("lifted {} by {by}", t.to_rfc3339()),
                    }
                );
            }
        }
        HoldCmd::Clear { id, reason, actor } => {
            if custody.clear_hold(id, &actor, &reason).await? {
                println!("lifted {id}");
            } else {
                println!("hold {id} was already lifted");
            }
        }
    }
    Ok(())
}

/// `roeh migrate-store`: opens both databases (the target is given this roeh's schema), copies
/// the site and proves the copy, printing what was proved.
async fn migrate_store_cmd(from: &str, to: &str) -> anyhow::Result<()> {
    let path = from
        .strip_prefix("sqlite://")
        .map(|p| p.split('?').next().unwrap_or(p))
        .unwrap_or(from);
    if from.starts_with("postgres") || !std::path::Path::new(path).is_file() {
        anyhow::bail!("--from must name an existing SQLite database (no file at {path})");
    }
    if !(to.starts_with("postgres://") || to.starts_with("postgresql://")) {
        anyhow::bail!("--to must be a PostgreSQL URL (postgres://user@host:port/database)");
    }
    let source = roeh_store::Store::open(path)
        .await
        .context("opening the SQLite database")?;
    let target = roeh_store::Store::open(to)
        .await
        .context("opening the PostgreSQL database")?;
    let copied = source.copy_site_to(&target).await?;
    let rows: u64 = copied.iter().map(|t| t.rows).sum();
    println!("copied {rows} rows in {} tables", copied.len());
    let proof = source
        .prove_copy(&target)
        .await
        .context("the copy was committed but does not match the source")?;
    for t in &proof.tables {
        println!("  {:<28} {:>10} rows, same as the source", t.table, t.rows);
    }
    println!(
        "log: {} leaves, root {}, the same as the source",
        proof.log_size,
        proof
            .root
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    println!(
        "{} checkpoints match the log; {} cameras' chains ({} segments) verify",
        proof.checkpoints, proof.chains, proof.segments
    );
    println!("OK: point [server] database_url at the new database; keep the data directory");
    source.close().await;
    target.close().await;
    Ok(())
}

/// Exit codes as `roeh-verify`: 0 OK (with or without declared gaps), 1 FAILED, 2 unusable input.
fn verify_cmd(bundle: &std::path::Path, key: Option<&std::path::Path>) -> anyhow::Result<()> {
    let code = roeh_verify::run_bundle(bundle, key, false);
    std::process::exit(i32::from(code));
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
