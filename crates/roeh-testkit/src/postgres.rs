//! A real PostgreSQL for tests: a throwaway cluster of Debian's server (package `postgresql`,
//! installed by `scripts/setup.sh`) in a directory of its own, on a free loopback port, trusting
//! local connections, stopped and removed on drop; without `fsync` unless asked for.
//!
//! The server refuses to run as root: as root the cluster is made and run as the `postgres`
//! user (which the Debian package creates), through `runuser`.
//!
//! Test suites that run on either database ask [`test_database`] for theirs: a fresh database
//! on one cluster per test process ([`shared`]) where [`ON_POSTGRES`] is `1`, else nothing (and
//! they use SQLite). That cluster outlives every test of the process and is stopped and removed
//! once the process ends, however it ends: a watcher process waits for the end of a pipe that
//! only the test process holds.

use anyhow::Context as _;
use std::ffi::OsString;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Where Debian installs the server's programs, one directory per major version.
const PG_LIB: &str = "/usr/lib/postgresql";

/// The newest installed server's `bin` directory (with `initdb`, `pg_ctl` and `postgres`).
fn bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(PG_LIB)
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            ["initdb", "pg_ctl", "postgres"]
                .iter()
                .all(|p| bin.join(p).exists())
                .then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// Whether a PostgreSQL server is installed. When it is not, the calling test fails through
/// [`crate::prerequisite_missing`] (and returns `false` only where skipping was asked for).
pub fn have_postgres(test: &str) -> bool {
    if bin_dir().is_some() && Path::new("/usr/bin/psql").exists() {
        return true;
    }
    crate::prerequisite_missing(
        test,
        "the PostgreSQL server is not installed (Debian package postgresql)",
    );
    false
}

/// The variable that runs the tests of the store's users (the store's own repository tests,
/// the API's, custody's) on PostgreSQL instead of SQLite: `ROEH_STORE_TEST_POSTGRES=1`.
pub const ON_POSTGRES: &str = "ROEH_STORE_TEST_POSTGRES";

/// Whether tests run their stores on PostgreSQL ([`ON_POSTGRES`] is `1`). Then the server must
/// be installed: a missing one fails the test, even where skipping was asked for, since the
/// run asked for PostgreSQL by name.
pub fn on_postgres() -> bool {
    if std::env::var_os(ON_POSTGRES).is_none_or(|v| v != "1") {
        return false;
    }
    assert!(
        have_postgres(ON_POSTGRES),
        "{ON_POSTGRES}=1 needs PostgreSQL"
    );
    true
}

/// Where [`on_postgres`], the URL of a new empty database on this process's [`shared`]
/// cluster; else `None`, and the test uses its SQLite database. Each call gives a database of
/// its own, so tests running at once never share one.
pub fn test_database() -> Option<String> {
    if !on_postgres() {
        return None;
    }
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = format!("test_{}", NEXT.fetch_add(1, Ordering::Relaxed));
    Some(
        shared()
            .create_database(&name)
            .unwrap_or_else(|e| panic!("creating database {name}: {e:#}")),
    )
}

/// The cluster of this test process, started on first use in a temporary directory, shared by
/// every test of the process (each in a database of its own, see [`test_database`]). Statics are
/// never dropped, so [`Cluster`]'s drop cannot stop it: a watcher (`sh`, ignoring the signals a
/// terminal or a timeout sends to the whole group) reads a pipe whose writing end only this
/// process holds (close-on-exec, so no child inherits it). The kernel closes it when the
/// process ends, also when it is killed, and the watcher then stops the server at once and
/// removes the directory.
pub fn shared() -> &'static Cluster {
    static SHARED: OnceLock<(Cluster, Child)> = OnceLock::new();
    &SHARED
        .get_or_init(|| {
            let dir = tempfile::Builder::new()
                .prefix("roeh-pg-")
                .tempdir()
                .expect("a temporary directory for the test cluster")
                .keep();
            let cluster = match Cluster::start(&dir) {
                Ok(c) => c,
                Err(e) => {
                    let _ = std::fs::remove_dir_all(&dir);
                    panic!("starting the test cluster: {e:#}");
                }
            };
            // On failure the cluster drops here, which stops it and removes its directory.
            let watcher = cluster
                .stop_when_process_ends(&dir)
                .unwrap_or_else(|e| panic!("starting the test cluster's watcher: {e:#}"));
            (cluster, watcher)
        })
        .0
}

/// The superuser of every test cluster (no password: the cluster trusts local connections).
pub const USER: &str = "roeh";

/// A running throwaway cluster. Stopped (immediately) and its directory removed on drop.
#[derive(Debug)]
pub struct Cluster {
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
    durable: bool,
}

impl Cluster {
    /// Makes a cluster in `dir/pg` (which must not exist) and starts it on a free port, without
    /// `fsync` (tests do not outlive the machine).
    pub fn start(dir: &Path) -> anyhow::Result<Cluster> {
        Cluster::start_with(dir, false)
    }

    /// As [`Cluster::start`], with `fsync` on as a production server has it (for benchmarks).
    pub fn start_durable(dir: &Path) -> anyhow::Result<Cluster> {
        Cluster::start_with(dir, true)
    }

    fn start_with(dir: &Path, durable: bool) -> anyhow::Result<Cluster> {
        let bin = bin_dir().context("no PostgreSQL server under /usr/lib/postgresql")?;
        let as_postgres = rustix::process::geteuid().is_root();
        let root = dir.join("pg");
        std::fs::create_dir_all(&root)?;
        if as_postgres {
            // The server's user needs its way into the directory and its own cluster directory.
            let out = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&root)
                .output()?;
            ok(&out, "chown")?;
            let mut d = dir.to_path_buf();
            loop {
                let out = Command::new("chmod").arg("o+x").arg(&d).output()?;
                ok(&out, "chmod")?;
                if !d.pop() || d.as_os_str().is_empty() || d == Path::new("/") {
                    break;
                }
            }
        }
        let port = {
            let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
            l.local_addr()?.port()
        };
        let c = Cluster {
            port,
            dir: root,
            bin,
            as_postgres,
            durable,
        };
        let data = c.dir.join("data");
        let out = c
            .command("initdb")
            .args(["--auth=trust", "--no-sync", "--encoding=UTF8", "--locale=C"])
            .args(["-U", USER, "-D"])
            .arg(&data)
            .output()
            .context("running initdb")?;
        ok(&out, "initdb")?;
        c.pg_ctl_start()?;
        Ok(c)
    }

    fn command(&self, program: &str) -> Command {
        let argv = self.argv(program);
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]);
        cmd
    }

    /// The server's `program` as its user runs it (through `runuser` where the tests run as
    /// root), as arguments.
    fn argv(&self, program: &str) -> Vec<OsString> {
        let mut argv: Vec<OsString> = Vec::new();
        if self.as_postgres {
            argv.extend(["runuser", "-u", "postgres", "--"].map(OsString::from));
        }
        argv.push(self.bin.join(program).into_os_string());
        argv
    }

    /// Starts the watcher of [`shared`]: once this process ends, it stops the server as
    /// [`Cluster::kill`] does and removes `remove` (the cluster's parent directory). The watcher
    /// runs as long as the returned child's standard input stays open.
    fn stop_when_process_ends(&self, remove: &Path) -> anyhow::Result<Child> {
        const SCRIPT: &str = r#"trap '' HUP INT QUIT TERM PIPE
cat >/dev/null
remove=$1
shift
"$@" >/dev/null 2>&1
rm -rf -- "$remove""#;
        let mut stop = self.argv("pg_ctl");
        stop.extend(["-D".into(), self.dir.join("data").into_os_string()]);
        stop.extend(["-m", "immediate", "-w", "stop"].map(OsString::from));
        Command::new("sh")
            .args(["-c", SCRIPT, "sh"])
            .arg(remove)
            .args(stop)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting sh")
    }

    fn pg_ctl_start(&self) -> anyhow::Result<()> {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync={}",
            self.port,
            self.dir.display(),
            if self.durable { "on" } else { "off" }
        );
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-o", &opts, "-l"])
            .arg(self.dir.join("log"))
            .args(["-w", "start"])
            .output()
            .context("running pg_ctl start")?;
        ok(&out, "pg_ctl start").with_context(|| self.log())
    }

    /// Stops the server at once (as a crash would), keeping its data.
    pub fn kill(&self) -> anyhow::Result<()> {
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .output()
            .context("running pg_ctl stop")?;
        ok(&out, "pg_ctl stop")
    }

    /// Starts it again on the same port after [`Cluster::kill`].
    pub fn restart(&self) -> anyhow::Result<()> {
        self.pg_ctl_start()
    }

    /// Makes a new empty database `name` (letters, digits and `_` only).
    pub fn create_database(&self, name: &str) -> anyhow::Result<String> {
        anyhow::ensure!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "database name {name:?}"
        );
        self.psql("postgres", &format!("CREATE DATABASE {name}"))?;
        Ok(self.url(name))
    }

    /// Runs `sql` in database `db` through `psql`, stopping at the first error; its output.
    pub fn psql(&self, db: &str, sql: &str) -> anyhow::Result<String> {
        let out = Command::new("/usr/bin/psql")
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", USER])
            .args(["-d", db, "-c", sql])
            .output()
            .context("running psql")?;
        ok(&out, "psql")?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The URL of database `db` on this cluster.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{db}", self.port)
    }

    /// The server's data directory (its databases' files under `base/`, its WAL under
    /// `pg_wal/`).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn ok(out: &Output, what: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        out.status.success(),
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_starts_answers_survives_a_kill_and_goes_away() {
        if !have_postgres("a_cluster_starts_answers_survives_a_kill_and_goes_away") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let root;
        {
            let c = Cluster::start(dir.path()).unwrap();
            root = c.dir.clone();
            c.create_database("t1").unwrap();
            c.psql("t1", "CREATE TABLE x (v BIGINT); INSERT INTO x VALUES (7)")
                .unwrap();
            assert_eq!(c.psql("t1", "SELECT v FROM x").unwrap().trim(), "7");
            c.kill().unwrap();
            assert!(c.psql("t1", "SELECT 1").is_err(), "stopped");
            c.restart().unwrap();
            assert_eq!(c.psql("t1", "SELECT v FROM x").unwrap().trim(), "7");
            assert!(c.create_database("bad name").is_err());
            assert!(c.psql("t1", "SELECT * FROM nothing_here").is_err());
        }
        assert!(!root.exists(), "removed on drop");
    }

    #[test]
    fn the_watcher_stops_and_removes_the_cluster_once_the_pipe_closes() {
        if !have_postgres("the_watcher_stops_and_removes_the_cluster_once_the_pipe_closes") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().join("shared");
        std::fs::create_dir(&top).unwrap();
        let c = Cluster::start(&top).unwrap();
        let mut watcher = c.stop_when_process_ends(&top).unwrap();
        c.create_database("t1").unwrap();
        assert_eq!(c.psql("t1", "SELECT 1").unwrap().trim(), "1");
        assert!(
            watcher.try_wait().unwrap().is_none(),
            "waits while the pipe is open"
        );
        // What the end of the test process does to the pipe.
        drop(watcher.stdin.take());
        assert!(watcher.wait().unwrap().success());
        assert!(c.psql("t1", "SELECT 1").is_err(), "stopped");
        assert!(!top.exists(), "removed");
    }
}
