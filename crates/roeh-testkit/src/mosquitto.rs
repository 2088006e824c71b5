//! A real MQTT broker for tests: Debian's `mosquitto` (installed by `scripts/setup.sh`) on a
//! free loopback port, with a password file, optional TLS and persistence in a directory of its
//! own, so a test can stop it and start it again on the same port with the same sessions.

use anyhow::Context as _;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Where Debian installs the broker.
const MOSQUITTO: &str = "/usr/sbin/mosquitto";
/// Where Debian installs the password tool.
const MOSQUITTO_PASSWD: &str = "/usr/bin/mosquitto_passwd";

/// Whether the broker is installed. When it is not, the calling test fails through
/// [`crate::prerequisite_missing`] (and returns `false` only where skipping was asked for).
pub fn have_mosquitto(test: &str) -> bool {
    if Path::new(MOSQUITTO).exists() && Path::new(MOSQUITTO_PASSWD).exists() {
        return true;
    }
    crate::prerequisite_missing(
        test,
        "the mosquitto MQTT broker is not installed (Debian package mosquitto)",
    );
    false
}

/// TLS files for the broker's listener.
#[derive(Clone, Debug)]
pub struct BrokerTls {
    /// CA certificate (PEM).
    pub ca: PathBuf,
    /// Server certificate (PEM).
    pub cert: PathBuf,
    /// Server key (PEM).
    pub key: PathBuf,
}

/// A running `mosquitto`. Killed on drop.
#[derive(Debug)]
pub struct Broker {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// The one user it accepts.
    pub username: String,
    /// That user's password.
    pub password: String,
    dir: PathBuf,
    child: Option<Child>,
}

impl Broker {
    /// Starts a broker in `dir` (config, password file, persistence, log) on a free port,
    /// accepting only `username` with `password`; with TLS when `tls` is given.
    pub fn start(
        dir: &Path,
        username: &str,
        password: &str,
        tls: Option<&BrokerTls>,
    ) -> anyhow::Result<Broker> {
        std::fs::create_dir_all(dir)?;
        let port = {
            let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
            l.local_addr()?.port()
        };
        let passwd = dir.join("passwd");
        let out = Command::new(MOSQUITTO_PASSWD)
            .args(["-c", "-b"])
            .arg(&passwd)
            .args([username, password])
            .output()
            .context("running mosquitto_passwd")?;
        anyhow::ensure!(
            out.status.success(),
            "mosquitto_passwd: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut conf = format!(
            "user root\nper_listener_settings false\nallow_anonymous false\n\
             password_file {}\npersistence true\npersistence_location {}/\n\
             autosave_interval 1\nlog_dest stderr\nlog_type error\nlog_type warning\n\
             log_type notice\nlistener {port} 127.0.0.1\n",
            passwd.display(),
            dir.display()
        );
        if let Some(t) = tls {
            conf.push_str(&format!(
                "cafile {}\ncertfile {}\nkeyfile {}\n",
                t.ca.display(),
                t.cert.display(),
                t.key.display()
            ));
        }
        std::fs::write(dir.join("mosquitto.conf"), conf)?;
        let mut b = Broker {
            port,
            username: username.into(),
            password: password.into(),
            dir: dir.to_path_buf(),
            child: None,
        };
        b.run()?;
        Ok(b)
    }

    fn run(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("mosquitto.log"))?;
        let child = Command::new(MOSQUITTO)
            .arg("-c")
            .arg(self.dir.join("mosquitto.conf"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting mosquitto")?;
        self.child = Some(child);
        let port = self.port;
        crate::wait_for("the MQTT broker to listen", Duration::from_secs(20), || {
            TcpStream::connect((Ipv4Addr::LOCALHOST, port)).ok()
        })
        .with_context(|| format!("mosquitto log:\n{}", self.log()))?;
        Ok(())
    }

    /// Stops the broker (SIGTERM: it saves its sessions) and waits for it to exit.
    pub fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(mut c) = self.child.take() {
            let pid = i32::try_from(c.id()).context("pid")?;
            rustix::process::kill_process(
                rustix::process::Pid::from_raw(pid).context("pid 0")?,
                rustix::process::Signal::TERM,
            )?;
            c.wait()?;
        }
        Ok(())
    }

    /// Starts the stopped broker again on the same port, with its saved sessions.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        anyhow::ensure!(self.child.is_none(), "the broker is running");
        self.run()
    }

    /// The broker's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("mosquitto.log")).unwrap_or_default()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// One message a [`Subscriber`] got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Topic.
    pub topic: String,
    /// Payload as text.
    pub payload: String,
    /// Whether the broker sent it as retained.
    pub retain: bool,
}

/// A blocking subscriber with a persistent session (QoS 1) on a [`Broker`], for tests without
/// an async runtime. It subscribes again at every connect, and keeps reconnecting while the
/// broker is away.
#[derive(Debug)]
pub struct Subscriber {
    rx: std::sync::mpsc::Receiver<Message>,
    /// Everything received so far, in order.
    pub seen: Vec<Message>,
}

impl Subscriber {
    /// Subscribes to `filter` on `broker` (plain TCP, its user) and returns once the broker
    /// acknowledged the subscription.
    pub fn start(broker: &Broker, filter: &str) -> anyhow::Result<Subscriber> {
        use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut o = MqttOptions::new(
            format!("subscriber-{}-{n}", std::process::id()),
            "127.0.0.1",
            broker.port,
        );
        o.set_clean_session(false);
        o.set_keep_alive(Duration::from_secs(5));
        o.set_credentials(broker.username.clone(), broker.password.clone());
        let (client, mut connection) = Client::new(o, 64);
        // Full: the reader waits (the broker holds QoS 1 messages for the session meanwhile).
        let (tx, rx) = std::sync::mpsc::sync_channel(1024);
        // Full: a second acknowledgement is dropped (only the first is awaited).
        let (ready_tx, ready) = std::sync::mpsc::sync_channel(1);
        let filter = filter.to_string();
        std::thread::spawn(move || {
            for ev in connection.iter() {
                match ev {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        if client.subscribe(filter.clone(), QoS::AtLeastOnce).is_err() {
                            break;
                        }
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        let _ = ready_tx.try_send(());
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let m = Message {
                            topic: p.topic.clone(),
                            payload: String::from_utf8_lossy(&p.payload).into_owned(),
                            retain: p.retain,
                        };
                        if tx.send(m).is_err() {
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(200)),
                }
            }
        });
        ready
            .recv_timeout(Duration::from_secs(30))
            .context("the broker did not acknowledge the subscription")?;
        Ok(Subscriber {
            rx,
            seen: Vec::new(),
        })
    }

    /// Waits until `f` holds for what was received so far, at most `timeout`.
    pub fn until(
        &mut self,
        what: &str,
        timeout: Duration,
        f: impl Fn(&[Message]) -> bool,
    ) -> anyhow::Result<()> {
        let deadline = std::time::Instant::now() + timeout;
        while !f(&self.seen) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(m) => self.seen.push(m),
                Err(_) => anyhow::bail!("timed out waiting for {what}; got {:#?}", self.seen),
            }
        }
        Ok(())
    }
}
