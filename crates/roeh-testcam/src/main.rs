//! `roeh-testcam`: serves N looping test cameras over RTSP until Ctrl-C.
//!
//! Prints one URL per line on stdout (without credentials), then runs until SIGINT or SIGTERM.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use roeh_testcam::{TestCamConfig, TestCamServer};
use tokio::signal::unix::{Signal, SignalKind, signal};

/// Serve looping test cameras from a footage file over RTSP.
#[derive(Debug, Parser)]
#[command(name = "roeh-testcam", version)]
struct Args {
    /// MP4 file with an H.264 or H.265 video track.
    #[arg(long)]
    footage: PathBuf,
    /// Number of cameras (mounts /cam0 … /cam{N-1}).
    #[arg(long, default_value_t = 1)]
    cameras: usize,
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 8554)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Require this user name (RTSP digest authentication); needs --password too.
    #[arg(long, requires = "password")]
    user: Option<String>,
    /// Password for --user; read from the environment so it stays out of process listings.
    #[arg(
        long,
        env = "ROEH_TESTCAM_PASSWORD",
        hide_env_values = true,
        requires = "user"
    )]
    password: Option<String>,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    // Signals are registered before the server starts, so none is lost in between.
    let (rt, mut interrupt, mut terminate) = match signals() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("roeh-testcam: cannot listen for signals: {e}");
            return ExitCode::FAILURE;
        }
    };
    let cfg = TestCamConfig {
        footage: args.footage,
        cameras: args.cameras,
        bind: args.bind,
        port: args.port,
        credentials: args.user.zip(args.password),
    };
    let server = match TestCamServer::start(cfg) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("roeh-testcam: {}", e.chain());
            return ExitCode::FAILURE;
        }
    };
    for url in server.urls() {
        println!("{url}");
    }
    rt.block_on(async {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    });
    server.stop();
    ExitCode::SUCCESS
}

/// A small runtime and the SIGINT and SIGTERM streams, registered at once.
fn signals() -> std::io::Result<(tokio::runtime::Runtime, Signal, Signal)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    let (interrupt, terminate) = rt.block_on(async {
        Ok::<_, std::io::Error>((
            signal(SignalKind::interrupt())?,
            signal(SignalKind::terminate())?,
        ))
    })?;
    Ok((rt, interrupt, terminate))
}
