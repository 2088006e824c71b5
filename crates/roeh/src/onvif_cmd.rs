//! `roeh onvif discover|list|add|dismiss`: ONVIF onboarding from the command line, on the
//! database of the configured site (a running server picks added cameras up within seconds).
//!
//! The same onboarding as the HTTP routes ([`roeh_onvif::onboard`](mod@roeh_onvif::onboard)):
//! discovery only lists devices for approval; a device becomes a camera only through `add`; the
//! password comes from an environment variable or a file, never from the command line, and is
//! stored encrypted.

use crate::config::{self, Config};
use anyhow::Context;
use clap::Subcommand;
use roeh_domain::{Clock, SystemClock, Transport};
use roeh_onvif::{AddRequest, DiscoveredView, discover_and_record, onboard};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;

/// `roeh onvif …`.
#[derive(Subcommand, Debug)]
pub enum OnvifCmd {
    /// Probes for ONVIF devices and lists them for approval (nothing is added).
    Discover {
        /// Send the multicast probe from the interface with this IPv4 address (overrides
        /// `[onvif] discovery_interface`).
        #[arg(long)]
        interface: Option<Ipv4Addr>,
        /// Also probe this address by unicast (`IP` or `IP:PORT`); repeatable (overrides
        /// `[onvif] probe_addresses`).
        #[arg(long = "probe")]
        probe: Vec<String>,
        /// Collect replies for this many seconds.
        #[arg(long)]
        timeout_secs: Option<f64>,
    },
    /// Lists discovered devices and the cameras added through ONVIF.
    List {
        /// Also list dismissed and approved discovered devices.
        #[arg(long)]
        all: bool,
    },
    /// Adds an ONVIF device as a camera: main profile recorded, sub profile kept for analysis.
    Add {
        /// Device service URL, e.g. http://10.20.0.7/onvif/device_service.
        #[arg(
            long,
            conflicts_with = "discovered",
            required_unless_present = "discovered"
        )]
        address: Option<String>,
        /// Id of a pending discovered device (see `roeh onvif list`); approves it.
        #[arg(long)]
        discovered: Option<i64>,
        /// Display name.
        #[arg(long)]
        name: String,
        /// User name on the device.
        #[arg(long)]
        username: Option<String>,
        /// Environment variable holding the password.
        #[arg(long, conflicts_with = "password_file")]
        password_env: Option<String>,
        /// File whose first line is the password.
        #[arg(long)]
        password_file: Option<PathBuf>,
        /// `tcp` or `udp`.
        #[arg(long, default_value = "tcp")]
        transport: String,
    },
    /// Sets a discovered device aside; it is never added.
    Dismiss {
        /// Discovered device id.
        id: i64,
    },
}

fn read_password(
    env: Option<String>,
    file: Option<PathBuf>,
    username: Option<&str>,
) -> anyhow::Result<Option<String>> {
    let pw = crate::config::read_secret(env.as_deref(), file.as_deref())?;
    if pw.is_some() && username.is_none() {
        anyhow::bail!("a password needs --username");
    }
    Ok(pw)
}

fn print_discovered(d: &DiscoveredView) {
    println!(
        "discovered\t{}\t{}\t{}\t{}\tname={}\tcamera={}",
        d.id,
        d.state,
        d.endpoint_ref,
        d.xaddrs.join(" "),
        d.name.as_deref().unwrap_or("-"),
        d.camera_id
            .map_or_else(|| "-".to_owned(), |c| c.to_string()),
    );
}

/// Runs `roeh onvif …`.
pub async fn run(
    cmd: OnvifCmd,
    config: Option<PathBuf>,
    data_dir: Option<PathBuf>,
) -> anyhow::Result<()> {
    let cfg = Config::from_args(config, data_dir)?;
    let store = crate::run::open_store(&cfg).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let mut settings = cfg.onvif.settings();
    let result = match cmd {
        OnvifCmd::Discover {
            interface,
            probe,
            timeout_secs,
        } => {
            if interface.is_some() || !probe.is_empty() {
                settings.multicast_interface = interface;
                settings.unicast_targets = probe
                    .iter()
                    .map(|p| config::parse_probe_address(p).map_err(anyhow::Error::msg))
                    .collect::<anyhow::Result<_>>()?;
            }
            if let Some(t) = timeout_secs {
                if !(t.is_finite() && t > 0.0 && t <= 300.0) {
                    anyhow::bail!("--timeout-secs must be above 0 and at most 300");
                }
                settings.discovery_timeout = std::time::Duration::from_secs_f64(t);
            }
            let found = discover_and_record(&store, &settings, clock.as_ref()).await?;
            if found.is_empty() {
                println!("no ONVIF device answered");
            }
            for d in &found {
                print_discovered(d);
            }
            Ok(())
        }
        OnvifCmd::List { all } => {
            for d in store.list_discovered(all).await? {
                print_discovered(&DiscoveredView::from(d));
            }
            for d in store.list_onvif_devices().await? {
                let dims = |w: Option<u32>, h: Option<u32>| match (w, h) {
                    (Some(w), Some(h)) => format!("{w}x{h}"),
                    _ => "?".to_owned(),
                };
                let sub = d.sub.as_ref().map_or_else(
                    || "-".to_owned(),
                    |s| format!("{} {}", s.token, dims(s.width, s.height)),
                );
                println!(
                    "camera\t{}\t{}\t{} {}\tmain={} {}\tsub={}",
                    d.camera,
                    d.device_url,
                    d.manufacturer,
                    d.model,
                    d.main.token,
                    dims(d.main.width, d.main.height),
                    sub,
                );
            }
            Ok(())
        }
        OnvifCmd::Add {
            address,
            discovered,
            name,
            username,
            password_env,
            password_file,
            transport,
        } => {
            let password = read_password(password_env, password_file, username.as_deref())?;
            let req = AddRequest {
                address,
                discovered_id: discovered,
                name,
                username,
                password,
                transport: Some(
                    Transport::parse(&transport).context("transport must be tcp or udp")?,
                ),
                main_profile: None,
                sub_profile: None,
            };
            let done = onboard(&store, &settings, clock, req).await?;
            println!("{}", done.camera.id);
            Ok(())
        }
        OnvifCmd::Dismiss { id } => {
            let d = store.dismiss_discovered(id).await?;
            print_discovered(&DiscoveredView::from(d));
            Ok(())
        }
    };
    store.close().await;
    result
}
