//! A throw-away PostgreSQL 15 server in a temporary directory, run as the
//! `postgres` user on a free port, listening on 127.0.0.1 and on a unix socket
//! outside its data directory (so `pg_basebackup` does not copy the lock file).
//!
//! The postmaster is this process's own child (started directly, not through
//! `pg_ctl`, which would orphan it), so it is reaped at once when it exits and
//! its PID never lingers as a zombie. Drop stops it with an immediate shutdown
//! (SIGQUIT), SIGKILL if it does not exit.

use std::fs::{self, OpenOptions};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::{Pid, User};
use tempfile::TempDir;
use twinbeat::probe::DbTarget;

use super::{require_file, run};

/// Where Debian's PostgreSQL 15 binaries live.
pub(crate) const BIN: &str = "/usr/lib/postgresql/15/bin";

/// One PostgreSQL server and its directory.
pub(crate) struct PgServer {
    dir: TempDir,
    /// TCP port on 127.0.0.1.
    pub(crate) port: u16,
    data: PathBuf,
    socket_dir: PathBuf,
    extra: Vec<String>,
    child: Option<Child>,
    frozen: Vec<Pid>,
    uid: u32,
    gid: u32,
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

impl PgServer {
    /// A fresh primary (`initdb`), started and ready.
    pub(crate) fn primary() -> Self {
        let mut server = Self::empty(Vec::new());
        run(server
            .as_postgres("initdb")
            .args(["-D"])
            .arg(&server.data)
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "-N",
                "-E",
                "UTF8",
                "--locale=C",
            ]));
        server.start();
        server.wait_status(&["ready"]);
        server
    }

    /// A streaming standby of `primary` (`pg_basebackup -R`), started. With
    /// `hot_standby` it accepts read-only connections once consistent;
    /// without, it rejects every connection with SQLSTATE 57P03.
    pub(crate) fn standby_of(primary: &PgServer, hot_standby: bool) -> Self {
        let extra = vec![format!(
            "hot_standby={}",
            if hot_standby { "on" } else { "off" }
        )];
        let mut server = Self::empty(extra);
        run(server
            .as_postgres("pg_basebackup")
            .arg("-D")
            .arg(&server.data)
            .args([
                "-R",
                "-X",
                "stream",
                "-N",
                "-U",
                "postgres",
                "-h",
                "127.0.0.1",
            ])
            .args(["-p", &primary.port.to_string()]));
        server.start();
        if hot_standby {
            server.wait_status(&["standby", "ready"]);
        } else {
            server.wait_status(&["starting"]);
        }
        server
    }

    fn empty(extra: Vec<String>) -> Self {
        require_file(
            &format!("{BIN}/initdb"),
            "PostgreSQL 15 (apt-get install postgresql-15)",
        );
        let user = User::from_name("postgres")
            .expect("read the user database")
            .expect("a `postgres` user (installed with postgresql-15)");
        let dir = tempfile::Builder::new()
            .prefix("tbpg")
            .tempdir()
            .expect("create a temporary directory");
        let (uid, gid) = (user.uid.as_raw(), user.gid.as_raw());
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown to postgres");
        let socket_dir = dir.path().join("sock");
        fs::create_dir(&socket_dir).expect("create the socket directory");
        std::os::unix::fs::chown(&socket_dir, Some(uid), Some(gid)).expect("chown socket dir");
        Self {
            data: dir.path().join("data"),
            port: free_port(),
            socket_dir,
            dir,
            extra,
            child: None,
            frozen: Vec::new(),
            uid,
            gid,
        }
    }

    fn as_postgres(&self, program: &str) -> Command {
        let mut command = Command::new(Path::new(BIN).join(program));
        command
            .uid(self.uid)
            .gid(self.gid)
            .env("LC_ALL", "C")
            .env("HOME", self.dir.path())
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        command
    }

    fn log_file(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    /// The server's log so far (for failure messages).
    pub(crate) fn log(&self) -> String {
        fs::read_to_string(self.log_file()).unwrap_or_default()
    }

    /// Starts the postmaster (not waiting for it to be ready).
    pub(crate) fn start(&mut self) {
        assert!(self.child.is_none(), "server already running");
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_file())
            .expect("open the log file");
        let log_err = log.try_clone().expect("clone the log file");
        let mut command = self.as_postgres("postgres");
        command
            .arg("-D")
            .arg(&self.data)
            .args(["-p", &self.port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!(
                "unix_socket_directories={}",
                self.socket_dir.display()
            ))
            .args(["-c", "fsync=off", "-c", "shared_buffers=16MB"])
            .args(["-c", "max_connections=40", "-c", "logging_collector=off"])
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err));
        for setting in &self.extra {
            command.args(["-c", setting]);
        }
        self.child = Some(command.spawn().expect("start postgres"));
    }

    /// The postmaster's status word from `postmaster.pid` (line 8), if written yet.
    pub(crate) fn status(&self) -> Option<String> {
        let pid_file = fs::read_to_string(self.data.join("postmaster.pid")).ok()?;
        pid_file.lines().nth(7).map(|s| s.trim().to_owned())
    }

    /// Waits until the status is one of `wanted`.
    pub(crate) fn wait_status(&mut self, wanted: &[&str]) {
        let until = Instant::now() + Duration::from_secs(60);
        let mut last = None;
        loop {
            last = self.status().or(last);
            if let Some(status) = &last {
                if wanted.contains(&status.as_str()) {
                    return;
                }
            }
            // "starting" is written once the sockets exist: a TCP connect that
            // succeeds says the same, should the status line be missed.
            if wanted.contains(&"starting")
                && std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            {
                return;
            }
            if let Some(child) = &mut self.child {
                if let Ok(Some(exit)) = child.try_wait() {
                    panic!("postgres exited ({exit}):\n{}", self.log());
                }
            }
            assert!(
                Instant::now() < until,
                "postgres not {wanted:?} in time (last status {last:?}):\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The postmaster's PID.
    pub(crate) fn pid(&self) -> Pid {
        let child = self.child.as_ref().expect("server running");
        Pid::from_raw(i32::try_from(child.id()).expect("pid fits i32"))
    }

    /// Fast shutdown (SIGINT, as `pg_ctl stop -m fast`), waiting for the exit.
    pub(crate) fn stop(&mut self) {
        self.thaw();
        if let Some(mut child) = self.child.take() {
            let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid fits i32"));
            let _ = kill(pid, Signal::SIGINT);
            let _ = child.wait();
        }
    }

    /// SIGSTOPs the postmaster and all its children: a hung server.
    pub(crate) fn freeze(&mut self) {
        let postmaster = self.pid();
        let mut pids = children_of(postmaster);
        pids.push(postmaster);
        for pid in &pids {
            let _ = kill(*pid, Signal::SIGSTOP);
        }
        self.frozen = pids;
    }

    /// SIGCONTs what [`PgServer::freeze`] stopped.
    pub(crate) fn thaw(&mut self) {
        for pid in self.frozen.drain(..) {
            let _ = kill(pid, Signal::SIGCONT);
        }
    }

    /// A probe target for this server over TCP.
    pub(crate) fn target(&self, application_name: &str) -> DbTarget {
        DbTarget {
            host: "127.0.0.1".into(),
            port: self.port,
            user: "postgres".into(),
            password: None,
            dbname: "postgres".into(),
            application_name: application_name.into(),
        }
    }

    /// A probe target for this server over its unix socket.
    pub(crate) fn socket_target(&self, application_name: &str) -> DbTarget {
        DbTarget {
            host: self.socket_dir.display().to_string(),
            ..self.target(application_name)
        }
    }

    /// Runs `sql` with psql over the unix socket; returns its unaligned output.
    pub(crate) fn psql(&self, sql: &str) -> String {
        let out = run(self
            .as_postgres("psql")
            .args(["-X", "-A", "-t", "-U", "postgres", "-d", "postgres", "-h"])
            .arg(&self.socket_dir)
            .args(["-p", &self.port.to_string(), "-c", sql]));
        out.trim().to_owned()
    }
}

/// Direct children of `parent` (the postmaster's backends and workers).
fn children_of(parent: Pid) -> Vec<Pid> {
    let mut children = Vec::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return children;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // Fields after the parenthesised command name: state, ppid, ...
        let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
        let ppid = after
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<i32>().ok());
        if ppid == Some(parent.as_raw()) {
            children.push(Pid::from_raw(pid));
        }
    }
    children
}

/// Total CPU time (user + system, in clock ticks) of `pid` and its children.
pub(crate) fn cpu_ticks_of_tree(pid: Pid) -> u64 {
    let mut pids = children_of(pid);
    pids.push(pid);
    pids.iter()
        .filter_map(|pid| fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .map(|stat| {
            let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
            let fields: Vec<&str> = after.split_whitespace().collect();
            // utime and stime are fields 14 and 15 of stat; 12 and 13 after ')'.
            let field = |i: usize| {
                fields
                    .get(i)
                    .and_then(|s| s.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            field(11) + field(12)
        })
        .sum()
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.thaw();
        if let Some(mut child) = self.child.take() {
            let pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(0));
            // Immediate shutdown, as `pg_ctl stop -m immediate`.
            let _ = kill(pid, Signal::SIGQUIT);
            let until = Instant::now() + Duration::from_secs(10);
            while matches!(child.try_wait(), Ok(None)) {
                if Instant::now() > until {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}
