//! A real PostgreSQL for tests: a throwaway cluster of Debian's server (package `postgresql`,
//! installed by `scripts/setup.sh`) in a directory of its own, on a free loopback port, trusting
//! local connections, stopped and removed on drop; without `fsync` unless asked for.
//!
//! The server refuses to run as root: as root the cluster is made and run as the `postgres`
//! user (which the Debian package creates), through `runuser`.

use anyhow::Context as _;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(path);
            cmd
        } else {
            Command::new(path)
        }
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
}
