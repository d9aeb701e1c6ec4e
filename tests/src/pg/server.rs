//! [`PgServer`]: a lone throw-away PostgreSQL 15 server for the daemon's tests, in a
//! temporary directory, run as `postgres` on a free port of 127.0.0.1 and on its unix
//! socket, trust authentication. Dropping it kills it (by PID, also when the test panics)
//! and removes its directory.

use std::fs::OpenOptions;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use tempfile::TempDir;

use super::PgFiles;
use crate::error::{io_err, LabError, Result};
use crate::netns::free_local_port;

/// With this variable set, a dropped server's directory (data and log) is kept for a
/// post-mortem.
pub const KEEP_VAR: &str = "TWINBEAT_TEST_KEEP_PG";

/// How the postmaster is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Launch {
    /// As this process's own child: reaped at once when it exits, so its PID never lingers
    /// as a zombie.
    Child,
    /// With `pg_ctl start -w`, detached, as an operator or the daemon's `pg_ctl` manager
    /// starts it (the settings are in its configuration files, so the daemon's own
    /// `pg_ctl start` brings back the same server).
    PgCtl,
}

/// One PostgreSQL server and its directory.
#[derive(Debug)]
pub struct PgServer {
    files: PgFiles,
    launch: Launch,
    child: Option<Child>,
    dir: Option<TempDir>,
}

impl PgServer {
    /// A fresh primary (`initdb`), started and ready.
    pub fn primary(launch: Launch) -> Result<Self> {
        let mut server = Self::empty(launch)?;
        server.files.initdb(&["--auth=trust".to_owned()])?;
        server.configure(true)?;
        server.start()?;
        server.wait_status(&["ready"])?;
        Ok(server)
    }

    /// A streaming standby of `primary` (`pg_basebackup -R`), started. With `hot_standby`
    /// it accepts read-only connections once consistent; without, it rejects every
    /// connection with SQLSTATE 57P03.
    pub fn standby_of(primary: &PgServer, launch: Launch, hot_standby: bool) -> Result<Self> {
        let mut server = Self::empty(launch)?;
        server
            .files
            .basebackup("127.0.0.1", primary.port(), None, None, None)?;
        server.configure(hot_standby)?;
        server.start()?;
        if hot_standby {
            server.wait_status(&["standby", "ready"])?;
        } else {
            server.wait_status(&["starting"])?;
        }
        Ok(server)
    }

    fn empty(launch: Launch) -> Result<Self> {
        let initdb = Path::new(super::PG_BIN).join("initdb");
        if !initdb.exists() {
            return Err(LabError::MissingTool {
                tool: initdb.display().to_string(),
                hint: "postgresql-15; run tests/install-deps.sh as root".into(),
            });
        }
        let dir = tempfile::Builder::new()
            .prefix("tbpg")
            .tempdir()
            .map_err(io_err("a temporary directory"))?;
        Ok(Self {
            files: PgFiles::new(dir.path().to_path_buf(), free_local_port()),
            launch,
            child: None,
            dir: Some(dir),
        })
    }

    fn configure(&self, hot_standby: bool) -> Result<()> {
        let settings = format!(
            "listen_addresses = '127.0.0.1'\n\
             port = {port}\n\
             unix_socket_directories = '{sock}'\n\
             fsync = off\n\
             shared_buffers = '16MB'\n\
             max_connections = 40\n\
             max_wal_senders = 5\n\
             logging_collector = off\n\
             wal_log_hints = on\n\
             hot_standby = {hot}\n",
            port = self.files.port,
            sock = self.files.sock_dir.display(),
            hot = if hot_standby { "on" } else { "off" },
        );
        self.files.configure("test.conf", &settings)
    }

    /// Its files (data directory, socket directory, log, port).
    pub fn files(&self) -> &PgFiles {
        &self.files
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.files.port
    }

    /// The data directory.
    pub fn data(&self) -> &Path {
        &self.files.data
    }

    /// The unix socket directory.
    pub fn sock_dir(&self) -> &Path {
        &self.files.sock_dir
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self) -> String {
        self.files.log_text()
    }

    /// Starts the postmaster as [`Launch`] says (a [`Launch::Child`] is not waited for).
    pub fn start(&mut self) -> Result<()> {
        match self.launch {
            Launch::Child => {
                if self.child.is_some() {
                    return Err(LabError::Postgres {
                        node: self.label(),
                        message: "already running".into(),
                    });
                }
                let log = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.files.log)
                    .map_err(io_err(&self.files.log))?;
                let log_err = log.try_clone().map_err(io_err(&self.files.log))?;
                let mut cmd = self.files.as_postgres("postgres", None);
                cmd.arg("-D")
                    .arg(&self.files.data)
                    .stdin(Stdio::null())
                    .stdout(Stdio::from(log))
                    .stderr(Stdio::from(log_err));
                let child = cmd.spawn().map_err(|source| LabError::Spawn {
                    cmd: crate::cmd::describe(&cmd),
                    source,
                })?;
                self.child = Some(child);
                Ok(())
            }
            Launch::PgCtl => self
                .pg_ctl(&["start", "-w", "-t", "60"])
                .map(drop)
                .map_err(|e| self.with_log(e)),
        }
    }

    /// Runs `pg_ctl -D <data> -l <log> args...` as `postgres`.
    pub fn pg_ctl(&self, args: &[&str]) -> Result<String> {
        let mut cmd = self.files.as_postgres("pg_ctl", None);
        cmd.arg("-D")
            .arg(&self.files.data)
            .arg("-l")
            .arg(&self.files.log)
            .args(args);
        crate::cmd::run_within(cmd, Duration::from_secs(90))
    }

    /// Waits until the status in `postmaster.pid` is one of `wanted`.
    pub fn wait_status(&mut self, wanted: &[&str]) -> Result<()> {
        let mut last = None;
        let waited = crate::cmd::wait_for(
            &format!("PostgreSQL {} {wanted:?}", self.label()),
            Duration::from_secs(60),
            Duration::from_millis(20),
            || {
                last = self.files.status().or(last.take());
                if last.as_deref().is_some_and(|s| wanted.contains(&s)) {
                    return Some(Ok(()));
                }
                // "starting" is written once the sockets exist: a TCP connect that
                // succeeds says the same, should the status line be missed.
                if wanted.contains(&"starting")
                    && std::net::TcpStream::connect(("127.0.0.1", self.files.port)).is_ok()
                {
                    return Some(Ok(()));
                }
                match self.child.as_mut().map(Child::try_wait) {
                    Some(Ok(Some(exit))) => Some(Err(exit)),
                    _ => None,
                }
            },
        );
        match waited {
            Ok(Ok(())) => Ok(()),
            Ok(Err(exit)) => Err(self.with_log(LabError::Postgres {
                node: self.label(),
                message: format!("exited ({exit})"),
            })),
            Err(e) => Err(self.with_log(e)),
        }
    }

    /// The postmaster's PID, if it is running.
    pub fn pid(&self) -> Option<i32> {
        self.files.postmaster_pid()
    }

    /// Fast shutdown (SIGINT, as `pg_ctl stop -m fast`), waiting until the postmaster is gone.
    pub fn stop(&mut self) -> Result<()> {
        self.thaw();
        if let Some(pid) = self.pid() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGINT);
            crate::cmd::wait_for(
                "PostgreSQL to stop",
                Duration::from_secs(60),
                Duration::from_millis(10),
                || crate::procs::gone(pid).then_some(()),
            )?;
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
        Ok(())
    }

    /// SIGSTOPs the postmaster and all its children: a hung server. Returns how many.
    pub fn freeze(&self) -> usize {
        self.files.signal_all(Signal::SIGSTOP)
    }

    /// SIGCONTs what [`PgServer::freeze`] stopped.
    pub fn thaw(&self) -> usize {
        self.files.signal_all(Signal::SIGCONT)
    }

    /// Connection settings over TCP (127.0.0.1), 5 s connect timeout.
    pub fn tcp_config(&self) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config
            .host("127.0.0.1")
            .port(self.files.port)
            .user("postgres")
            .dbname("postgres")
            .connect_timeout(Duration::from_secs(5));
        config
    }

    /// Connection settings over the unix socket (reachable from any namespace).
    pub fn socket_config(&self) -> tokio_postgres::Config {
        let mut config = self.tcp_config();
        config.host_path(&self.files.sock_dir);
        config
    }

    /// Runs `sql` over TCP; returns the first column of the first row.
    pub async fn query_text(&self, sql: &str) -> Result<String, tokio_postgres::Error> {
        crate::pgq::first_text(&self.tcp_config(), sql).await
    }

    /// Runs `sql` over the unix socket, blocking; returns the first column of the first row.
    pub fn query(&self, sql: &str) -> Result<String, tokio_postgres::Error> {
        crate::rt::runtime().block_on(crate::pgq::first_text(&self.socket_config(), sql))
    }

    fn label(&self) -> String {
        format!("in {}", self.files.home.display())
    }

    fn with_log(&self, e: LabError) -> LabError {
        LabError::Postgres {
            node: self.label(),
            message: format!("{e}; log:\n{}", self.files.log_tail(20)),
        }
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        // Immediate shutdown, SIGKILL of the whole tree if that does not finish.
        let _ = self.files.stop_immediate(&self.label());
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::env::var_os(KEEP_VAR).is_some() {
            if let Some(dir) = self.dir.take() {
                eprintln!("kept {}", dir.keep().display());
            }
        }
    }
}
