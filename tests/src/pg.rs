//! The PostgreSQL 15 pair: primary on a, a `pg_basebackup -R` standby on b, each listening in
//! its node's namespace, each with its unix socket directory outside the data directory
//! (so the base backup never copies a lock file) and its own `cluster_name`.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use nix::sys::signal::Signal;
use nix::unistd::{chown, User};

use crate::cmd::{run_within, DEFAULT_DEADLINE};
use crate::error::{io_err, sys_err, LabError, Result};
use crate::netns::{Node, Topology};
use crate::pgq::{self, Target};
use crate::procs;

/// Where Debian puts PostgreSQL 15.
pub const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
/// The password of the `postgres` role over TCP (the lab's own, throwaway).
pub const PASSWORD: &str = "twinbeat-lab";
/// The PostgreSQL port on both nodes.
pub const PORT: u16 = crate::faults::PG_PORT;

/// A line that makes `postgresql.conf` unparsable (see [`PgNode::break_config`]).
const BREAKAGE: &str = "this line breaks the lab configuration on purpose";

/// One node's PostgreSQL: where its files are and how to reach it.
#[derive(Debug, Clone)]
pub struct PgNode {
    /// The node.
    pub node: Node,
    /// The node's namespace.
    pub ns: String,
    /// The node's lab address.
    pub addr: Ipv4Addr,
    /// `<labdir>/<node>`: owned by `postgres`.
    pub home: PathBuf,
    /// The data directory.
    pub data: PathBuf,
    /// The unix socket directory (outside the data directory).
    pub sock_dir: PathBuf,
    /// The server log.
    pub log: PathBuf,
    /// `cluster_name`, unique per lab and node (`tblab<id>-<node>`).
    pub cluster_name: String,
}

/// Options of the pair.
#[derive(Debug, Clone, Copy, Default)]
pub struct PgOptions {
    /// Synchronous replication to the standby (scenario 17).
    pub synchronous: bool,
}

impl PgNode {
    /// The layout of `node`'s PostgreSQL in lab `dir`.
    pub fn new(topo: &Topology, dir: &Path, node: Node) -> Self {
        let home = dir.join(node.name());
        Self {
            node,
            ns: topo.ns(node.host()),
            addr: topo.addr(node.host()),
            data: home.join("data"),
            sock_dir: home.join("run"),
            log: home.join("postgres.log"),
            cluster_name: format!("tblab{}-{}", topo.id, node.name()),
            home,
        }
    }

    /// Connection target over the unix socket (from the host namespace).
    pub fn socket_target(&self) -> Target {
        Target::socket(&self.sock_dir, self.node.name())
    }

    /// A command run as `postgres` (setpriv execs, so no extra process lingers).
    fn as_postgres(&self, program: &str, in_ns: bool) -> Command {
        let mut cmd = if in_ns {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", &self.ns, "setpriv"]);
            c
        } else {
            Command::new("setpriv")
        };
        cmd.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--",
        ])
        .arg(program)
        .current_dir(&self.home)
        .env("LC_ALL", "C");
        cmd
    }

    fn prepare_home(&self) -> Result<()> {
        for d in [&self.home, &self.sock_dir] {
            std::fs::create_dir_all(d).map_err(io_err(d))?;
            chown_postgres(d)?;
        }
        Ok(())
    }

    /// `initdb` a fresh primary with the lab password.
    pub fn initdb(&self) -> Result<()> {
        self.prepare_home()?;
        let pwfile = self.home.join("pwfile");
        std::fs::write(&pwfile, PASSWORD).map_err(io_err(&pwfile))?;
        chown_postgres(&pwfile)?;
        let mut cmd = self.as_postgres(&format!("{PG_BIN}/initdb"), false);
        cmd.arg("-D")
            .arg(&self.data)
            .args([
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .args(["-E", "UTF8", "--no-sync"]);
        run_within(cmd, Duration::from_secs(120))?;
        let _ = std::fs::remove_file(&pwfile);
        Ok(())
    }

    /// Writes this node's settings (`lab.conf`, included from `postgresql.conf`) and pg_hba.
    pub fn configure(&self, topo: &Topology, opts: PgOptions) -> Result<()> {
        let sync = if opts.synchronous {
            // Either node may be primary: name both standbys' cluster names.
            format!(
                "synchronous_standby_names = 'FIRST 1 (\"tblab{id}-a\", \"tblab{id}-b\")'\n",
                id = topo.id
            )
        } else {
            String::new()
        };
        let conf = format!(
            "# written by the twinbeat lab\n\
             listen_addresses = '*'\n\
             port = {PORT}\n\
             unix_socket_directories = '{sock}'\n\
             cluster_name = '{name}'\n\
             wal_level = replica\n\
             hot_standby = on\n\
             max_wal_senders = 5\n\
             wal_keep_size = '128MB'\n\
             max_connections = 50\n\
             shared_buffers = '32MB'\n\
             fsync = off\n\
             wal_sender_timeout = '5s'\n\
             wal_receiver_status_interval = '1s'\n\
             wal_retrieve_retry_interval = '500ms'\n\
             log_line_prefix = '%m [%p] '\n\
             {sync}",
            sock = self.sock_dir.display(),
            name = self.cluster_name,
        );
        self.write_owned("lab.conf", &conf)?;
        let main = self.data.join("postgresql.conf");
        let text = std::fs::read_to_string(&main).map_err(io_err(&main))?;
        if !text.contains("include 'lab.conf'") {
            self.write_owned("postgresql.conf", &format!("{text}\ninclude 'lab.conf'\n"))?;
        }
        let subnet = topo.subnet();
        let hba = format!(
            "local all all trust\n\
             local replication all trust\n\
             host all all 127.0.0.1/32 scram-sha-256\n\
             host all all {subnet} scram-sha-256\n\
             host replication all {subnet} scram-sha-256\n"
        );
        self.write_owned("pg_hba.conf", &hba)
    }

    fn write_owned(&self, name: &str, text: &str) -> Result<()> {
        let path = self.data.join(name);
        std::fs::write(&path, text).map_err(io_err(&path))?;
        chown_postgres(&path)
    }

    /// Makes this node a streaming standby of `primary` with `pg_basebackup -R`, over the lab
    /// network from inside this node's namespace.
    pub fn basebackup_from(&self, primary: &PgNode) -> Result<()> {
        self.prepare_home()?;
        let mut cmd = self.as_postgres(&format!("{PG_BIN}/pg_basebackup"), true);
        cmd.args(["-h", &primary.addr.to_string(), "-p", &PORT.to_string()])
            .args(["-U", "postgres", "-D"])
            .arg(&self.data)
            .args(["-R", "-X", "stream", "-c", "fast", "--no-password"])
            .env("PGPASSWORD", PASSWORD);
        run_within(cmd, Duration::from_secs(120))?;
        Ok(())
    }

    /// The command line that runs the postmaster in the foreground inside the namespace.
    pub fn postmaster_argv(&self) -> Vec<String> {
        let mut v: Vec<String> = ["ip", "netns", "exec", &self.ns, "setpriv"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        v.extend(
            [
                "--reuid=postgres",
                "--regid=postgres",
                "--init-groups",
                "--",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        v.push(format!("{PG_BIN}/postgres"));
        v.push("-D".into());
        v.push(self.data.display().to_string());
        v
    }

    /// The postmaster's PID from `postmaster.pid`, if that process is running.
    pub fn postmaster_pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.data.join("postmaster.pid")).ok()?;
        let pid: i32 = text.lines().next()?.trim().parse().ok()?;
        (!procs::gone(pid)).then_some(pid)
    }

    /// Stops PostgreSQL: `pg_ctl stop -m immediate`, then SIGKILL of its processes if it did not
    /// finish (a SIGSTOPped postmaster ignores it); waits until the postmaster is gone.
    pub fn stop_immediate(&self) -> Result<()> {
        let Some(pid) = self.postmaster_pid() else {
            return Ok(());
        };
        let mut cmd = self.as_postgres(&format!("{PG_BIN}/pg_ctl"), false);
        cmd.arg("stop")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "-t", "5"]);
        if run_within(cmd, Duration::from_secs(10)).is_err() || !procs::gone(pid) {
            let left = procs::kill_all(&procs::tree(pid), Duration::from_secs(5));
            if !left.is_empty() {
                return Err(LabError::Timeout {
                    what: format!("PostgreSQL on {} to exit (pids {left:?})", self.node),
                    after: Duration::from_secs(5),
                });
            }
        }
        Ok(())
    }

    /// Crashes PostgreSQL: SIGKILL of the postmaster only (its children notice and exit).
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

    /// Makes `postgresql.conf` unparsable, so PostgreSQL cannot start again.
    pub fn break_config(&self) -> Result<()> {
        let path = self.data.join("postgresql.conf");
        let text = std::fs::read_to_string(&path).map_err(io_err(&path))?;
        if !text.contains(BREAKAGE) {
            self.write_owned("postgresql.conf", &format!("{text}\n{BREAKAGE}\n"))?;
        }
        Ok(())
    }

    /// Undoes [`break_config`](Self::break_config).
    pub fn repair_config(&self) -> Result<()> {
        let path = self.data.join("postgresql.conf");
        let text = std::fs::read_to_string(&path).map_err(io_err(&path))?;
        let fixed: String = text
            .lines()
            .filter(|l| *l != BREAKAGE)
            .map(|l| format!("{l}\n"))
            .collect();
        self.write_owned("postgresql.conf", &fixed)
    }

    /// Waits until the server answers `SELECT 1` on its socket.
    pub fn wait_ready(&self, deadline: Duration) -> Result<()> {
        let target = self.socket_target();
        crate::cmd::wait_for(
            &format!("PostgreSQL on {} to accept queries", self.node),
            deadline,
            Duration::from_millis(50),
            || pgq::block_on(pgq::query(&target, "SELECT 1", Duration::from_secs(2))).ok(),
        )
        .map(drop)
    }

    /// The last `n` lines of the server log (for error messages).
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

/// Gives `path` to the `postgres` user.
pub fn chown_postgres(path: &Path) -> Result<()> {
    let user = User::from_name("postgres")
        .map_err(sys_err("look up user postgres"))?
        .ok_or_else(|| LabError::MissingTool {
            tool: "user postgres".into(),
            hint: "install postgresql-15".into(),
        })?;
    chown(path, Some(user.uid), Some(user.gid))
        .map_err(sys_err(format!("chown {}", path.display())))
}

/// Runs a PostgreSQL client tool as `postgres` (used for checks in tests).
pub fn tool(program: &str, args: &[&str]) -> Result<String> {
    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--reuid=postgres",
        "--regid=postgres",
        "--init-groups",
        "--",
    ])
    .arg(format!("{PG_BIN}/{program}"))
    .args(args)
    .current_dir("/");
    run_within(cmd, DEFAULT_DEADLINE)
}
