//! PostgreSQL 15 for the tests: [`PgFiles`], one server's directory and the tools run on it
//! as the `postgres` user; the lab's pair ([`PgNode`], one per node, in the node's
//! namespace); and [`PgServer`], a lone throw-away server on 127.0.0.1 for the daemon's
//! tests.

mod node;
mod server;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use nix::sys::signal::Signal;
use nix::unistd::{chown, User};

pub use node::{tls_client, tls_server, PgNode, PgOptions, Replication, CA, PASSWORD, PORT};
pub use server::{Launch, PgServer, KEEP_VAR};

use crate::cmd::run_within;
use crate::error::{io_err, sys_err, LabError, Result};
use crate::pgq::{self, Target};
use crate::procs;

/// Where Debian puts PostgreSQL 15.
pub const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// Whether PostgreSQL 15 is installed where Debian puts it.
pub fn installed() -> bool {
    Path::new(PG_BIN).join("pg_ctl").exists()
}

/// One server's files: `home` (owned by `postgres`, the tools' working directory), the data
/// directory, the unix socket directory (outside the data directory, so a base backup never
/// copies a lock file) and the server log; and the port it listens on.
#[derive(Debug, Clone)]
pub struct PgFiles {
    /// The server's own directory.
    pub home: PathBuf,
    /// `<home>/data`.
    pub data: PathBuf,
    /// `<home>/run`: the unix socket directory.
    pub sock_dir: PathBuf,
    /// `<home>/postgres.log`.
    pub log: PathBuf,
    /// The TCP port (also names the unix socket).
    pub port: u16,
}

impl PgFiles {
    /// The layout of a server in `home` listening on `port`.
    pub fn new(home: PathBuf, port: u16) -> Self {
        Self {
            data: home.join("data"),
            sock_dir: home.join("run"),
            log: home.join("postgres.log"),
            home,
            port,
        }
    }

    /// `<PG_BIN>/<program>` run as `postgres` (setpriv execs, so no extra process lingers),
    /// inside namespace `ns` if given.
    pub fn as_postgres(&self, program: &str, ns: Option<&str>) -> Command {
        let mut cmd = match ns {
            Some(ns) => crate::netns::exec_in(ns, "setpriv", &[]),
            None => Command::new("setpriv"),
        };
        cmd.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--",
        ])
        .arg(Path::new(PG_BIN).join(program))
        .current_dir(&self.home)
        .env("LC_ALL", "C");
        // libpq looks for a client certificate under ~/.postgresql: postgres's, not root's.
        if let Ok(user) = postgres_user() {
            cmd.env("HOME", user.dir);
        }
        cmd
    }

    fn prepare_home(&self) -> Result<()> {
        for d in [&self.home, &self.sock_dir] {
            std::fs::create_dir_all(d).map_err(io_err(d))?;
            chown_postgres(d)?;
        }
        Ok(())
    }

    /// `initdb` a fresh cluster owned by `postgres`, with `auth` options (`--auth=trust`...).
    pub fn initdb(&self, auth: &[String]) -> Result<()> {
        self.prepare_home()?;
        let mut cmd = self.as_postgres("initdb", None);
        cmd.arg("-D")
            .arg(&self.data)
            .args(["-U", "postgres"])
            .args(auth)
            .args(["-E", "UTF8", "--locale=C", "--no-sync"]);
        run_within(cmd, Duration::from_secs(120)).map(drop)
    }

    /// Makes this a streaming standby of the server at `host`:`port` with
    /// `pg_basebackup -R`, run inside namespace `ns` if given, with `password` if the
    /// primary asks for one and `conninfo`'s options (which `-R` also writes into
    /// `primary_conninfo`).
    pub fn basebackup(
        &self,
        host: &str,
        port: u16,
        ns: Option<&str>,
        password: Option<&str>,
        conninfo: Option<&str>,
    ) -> Result<()> {
        self.prepare_home()?;
        let mut cmd = self.as_postgres("pg_basebackup", ns);
        cmd.args(["-h", host, "-p", &port.to_string(), "-U", "postgres", "-D"])
            .arg(&self.data)
            .args(["-R", "-X", "stream", "-c", "fast", "--no-password"]);
        if let Some(conninfo) = conninfo {
            // `-R` writes the connection's options into `primary_conninfo`.
            cmd.arg("-d").arg(conninfo);
        }
        if let Some(password) = password {
            cmd.env("PGPASSWORD", password);
        }
        run_within(cmd, Duration::from_secs(120)).map(drop)
    }

    /// Writes `settings` to `<data>/<file>` and includes that file from `postgresql.conf`
    /// (once), so it overrides whatever a base backup copied.
    pub fn configure(&self, file: &str, settings: &str) -> Result<()> {
        self.write_owned(file, settings)?;
        let main = self.data.join("postgresql.conf");
        let text = std::fs::read_to_string(&main).map_err(io_err(&main))?;
        let include = format!("include '{file}'");
        if !text.contains(&include) {
            self.write_owned("postgresql.conf", &format!("{text}\n{include}\n"))?;
        }
        Ok(())
    }

    /// Writes `<data>/<name>` owned by `postgres`.
    pub fn write_owned(&self, name: &str, text: &str) -> Result<()> {
        let path = self.data.join(name);
        std::fs::write(&path, text).map_err(io_err(&path))?;
        chown_postgres(&path)
    }

    /// The postmaster's PID from `postmaster.pid`, if that process is running.
    pub fn postmaster_pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.data.join("postmaster.pid")).ok()?;
        let pid: i32 = text.lines().next()?.trim().parse().ok()?;
        (!procs::gone(pid)).then_some(pid)
    }

    /// The postmaster's status word (`postmaster.pid` line 8: "starting", "ready",
    /// "standby"...), once written.
    pub fn status(&self) -> Option<String> {
        let text = std::fs::read_to_string(self.data.join("postmaster.pid")).ok()?;
        text.lines().nth(7).map(|s| s.trim().to_owned())
    }

    /// Stops the server at once: thaws it, `pg_ctl stop -m immediate`, then SIGKILL of its
    /// processes if that did not finish (a stopped postmaster ignores it); waits until the
    /// postmaster is gone and reaps it if it is this process's child. `what` names it in
    /// errors.
    pub fn stop_immediate(&self, what: &str) -> Result<()> {
        let Some(pid) = self.postmaster_pid() else {
            return Ok(());
        };
        self.signal_all(Signal::SIGCONT);
        let mut cmd = self.as_postgres("pg_ctl", None);
        cmd.arg("stop")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "-t", "5"]);
        if run_within(cmd, Duration::from_secs(10)).is_err() || !procs::gone(pid) {
            let left = procs::kill_all(&procs::tree(pid), Duration::from_secs(5));
            if !left.is_empty() {
                return Err(LabError::Timeout {
                    what: format!("PostgreSQL {what} to exit (pids {left:?})"),
                    after: Duration::from_secs(5),
                });
            }
        }
        procs::reap(pid);
        Ok(())
    }

    /// Crashes the server: SIGKILL of the postmaster only (its children notice and exit).
    pub fn kill(&self) -> bool {
        self.postmaster_pid().is_some_and(|pid| {
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL).is_ok()
        })
    }

    /// Sends `sig` (SIGSTOP / SIGCONT) to the postmaster and all its children.
    pub fn signal_all(&self, sig: Signal) -> usize {
        self.postmaster_pid()
            .map(|pid| procs::signal_tree(pid, sig))
            .unwrap_or(0)
    }

    /// Connection target over the unix socket (from any namespace), labelled `label`.
    pub fn socket_target(&self, label: &str) -> Target {
        Target::socket(&self.sock_dir, self.port, label)
    }

    /// Waits until the server answers `SELECT 1` on its socket; `what` names it.
    pub fn wait_ready(&self, what: &str, deadline: Duration) -> Result<()> {
        let target = self.socket_target(what);
        crate::cmd::wait_for(
            &format!("PostgreSQL {what} to accept queries"),
            deadline,
            Duration::from_millis(50),
            || crate::rt::block_on(pgq::query(&target, "SELECT 1", Duration::from_secs(2))).ok(),
        )
        .map(drop)
    }

    /// The server log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last `n` lines of the server log (for error messages).
    pub fn log_tail(&self, n: usize) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

fn postgres_user() -> Result<User> {
    User::from_name("postgres")
        .map_err(sys_err("look up user postgres"))?
        .ok_or_else(|| LabError::MissingTool {
            tool: "user postgres".into(),
            hint: "install postgresql-15".into(),
        })
}

/// The `postgres` user's uid and gid.
pub fn postgres_ids() -> Result<(u32, u32)> {
    let user = postgres_user()?;
    Ok((user.uid.as_raw(), user.gid.as_raw()))
}

/// Gives `path` to the `postgres` user.
pub fn chown_postgres(path: &Path) -> Result<()> {
    let user = postgres_user()?;
    chown(path, Some(user.uid), Some(user.gid))
        .map_err(sys_err(format!("chown {}", path.display())))
}
