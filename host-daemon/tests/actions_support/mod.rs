//! Test helpers of the actions tests: network namespaces with veth pairs, and real
//! PostgreSQL 15 clusters in temp dirs run as the `postgres` user.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::fs::File;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use nix::sched::{setns, CloneFlags};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Runs a command, panicking with its output on failure.
pub fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A network namespace, deleted on drop.
pub struct NetNs {
    pub name: String,
}

impl NetNs {
    pub fn new() -> Self {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("tbact-{}-{n}", std::process::id());
        sh(&["ip", "netns", "add", &name]);
        sh(&["ip", "-n", &name, "link", "set", "lo", "up"]);
        Self { name }
    }

    /// `ip -n <ns> args...`
    pub fn ip(&self, args: &[&str]) -> String {
        let mut v = vec!["ip", "-n", &self.name];
        v.extend_from_slice(args);
        sh(&v)
    }

    /// The MAC address of `dev` in this namespace.
    pub fn mac(&self, dev: &str) -> [u8; 6] {
        let out = std::fs::read_to_string(format!("/sys/class/net/{dev}/address"));
        // /sys shows the test's own namespace: read it through `ip` instead.
        drop(out);
        let text = self.ip(&["-o", "link", "show", dev]);
        let lladdr = text
            .split_whitespace()
            .skip_while(|w| *w != "link/ether")
            .nth(1)
            .expect("link/ether in ip link output");
        parse_mac(lladdr)
    }

    /// Runs `f` on a thread inside this namespace with its own current-thread runtime.
    pub fn run<F, Fut, T>(&self, f: F) -> T
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: std::future::Future<Output = T>,
        T: Send + 'static,
    {
        let path = format!("/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let ns = File::open(&path).expect("open netns");
            setns(ns, CloneFlags::CLONE_NEWNET).expect("setns");
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(f())
        })
        .join()
        .expect("namespace thread panicked")
    }

    /// Spawns `f` on a thread inside this namespace (no runtime).
    pub fn spawn<F, T>(&self, f: F) -> std::thread::JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let path = format!("/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let ns = File::open(&path).expect("open netns");
            setns(ns, CloneFlags::CLONE_NEWNET).expect("setns");
            f()
        })
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

pub fn parse_mac(s: &str) -> [u8; 6] {
    let mut m = [0u8; 6];
    for (i, p) in s.split(':').enumerate() {
        m[i] = u8::from_str_radix(p, 16).expect("hex");
    }
    m
}

/// Two namespaces joined by a veth pair: `a` has `va` 10.251.0.1/24, `b` has `vb`
/// 10.251.0.2/24. The addresses exist only inside these namespaces.
pub struct Pair {
    pub a: NetNs,
    pub b: NetNs,
}

impl Pair {
    pub fn new() -> Self {
        let a = NetNs::new();
        let b = NetNs::new();
        a.ip(&[
            "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", &b.name,
        ]);
        a.ip(&["addr", "add", "10.251.0.1/24", "dev", "va"]);
        b.ip(&["addr", "add", "10.251.0.2/24", "dev", "vb"]);
        a.ip(&["link", "set", "va", "up"]);
        b.ip(&["link", "set", "vb", "up"]);
        Self { a, b }
    }
}

pub const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

pub fn postgres_ids() -> (u32, u32) {
    let u = nix::unistd::User::from_name("postgres")
        .expect("getpwnam")
        .expect("a postgres user");
    (u.uid.as_raw(), u.gid.as_raw())
}

/// Runs a PostgreSQL binary as the postgres user.
pub fn pg_cmd(bin: &str, args: &[&str]) -> String {
    let (uid, gid) = postgres_ids();
    let out = Command::new(Path::new(PG_BIN).join(bin))
        .args(args)
        .uid(uid)
        .gid(gid)
        .current_dir("/")
        .env("HOME", "/var/lib/postgresql")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{bin}: {e}"));
    assert!(
        out.status.success(),
        "{bin} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A temp dir the postgres user owns.
pub struct PgBase {
    pub dir: tempfile::TempDir,
}

impl PgBase {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("tbact-pg")
            .tempdir_in("/tmp")
            .expect("tempdir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        let (uid, gid) = postgres_ids();
        nix::unistd::chown(dir.path(), Some(uid.into()), Some(gid.into())).expect("chown");
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for PgBase {
    fn drop(&mut self) {
        // TBACT_KEEP=1 keeps the clusters (and their logs) for a post-mortem.
        if std::env::var_os("TBACT_KEEP").is_some() {
            let kept = self.dir.path().with_extension("kept");
            let _ = std::fs::rename(self.dir.path(), &kept);
            eprintln!("kept {}", kept.display());
        }
    }
}

/// A PostgreSQL cluster; its postmaster is SIGKILLed (with its children) on drop.
pub struct PgCluster {
    pub data: PathBuf,
    pub port: u16,
}

impl PgCluster {
    /// initdb + config + start.
    pub fn primary(base: &PgBase, name: &str) -> Self {
        let data = base.path().join(name);
        let d = data.to_str().unwrap();
        pg_cmd(
            "initdb",
            &[
                "-D",
                d,
                "-U",
                "postgres",
                "--auth=trust",
                "-N",
                "-A",
                "trust",
            ],
        );
        let c = Self {
            data,
            port: free_port(),
        };
        c.configure(base);
        c.start();
        c
    }

    /// `pg_basebackup -R` from `primary`, then start.
    pub fn standby(base: &PgBase, name: &str, primary: &PgCluster) -> Self {
        let data = base.path().join(name);
        let port = primary.port.to_string();
        pg_cmd(
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-D",
                data.to_str().unwrap(),
                "-R",
                "-X",
                "stream",
            ],
        );
        let c = Self {
            data,
            port: free_port(),
        };
        c.configure(base);
        c.start();
        c
    }

    fn configure(&self, base: &PgBase) {
        let conf = format!(
            "\nport = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\nfsync = off\nmax_wal_senders = 5\nshared_buffers = 16MB\n",
            self.port,
            base.path().display()
        );
        let path = self.data.join("postgresql.auto.conf");
        let mut text = std::fs::read_to_string(&path).unwrap_or_default();
        text.push_str(&conf);
        std::fs::write(&path, text).expect("write conf");
    }

    pub fn log(&self) -> PathBuf {
        self.data.join("twinbeat-postmaster.log")
    }

    pub fn start(&self) {
        let log = self.log();
        pg_cmd(
            "pg_ctl",
            &[
                "start",
                "-D",
                self.data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-w",
                "-t",
                "60",
            ],
        );
    }

    pub fn pid(&self) -> Option<i32> {
        twinbeat::actions::postmaster::read_pid(&self.data)
            .ok()
            .flatten()
    }

    pub fn conn_config(&self) -> tokio_postgres::Config {
        let mut c = tokio_postgres::Config::new();
        c.host("127.0.0.1")
            .port(self.port)
            .user("postgres")
            .dbname("postgres")
            .connect_timeout(Duration::from_secs(5));
        c
    }

    /// Runs one statement on a fresh connection; returns the first column of the first row as text.
    pub async fn query_text(&self, sql: &str) -> Result<String, tokio_postgres::Error> {
        let (client, conn) = self.conn_config().connect(tokio_postgres::NoTls).await?;
        let task = tokio::spawn(conn);
        let rows = client.simple_query(sql).await;
        drop(client);
        let _ = task.await;
        let rows = rows?;
        for m in rows {
            if let tokio_postgres::SimpleQueryMessage::Row(r) = m {
                return Ok(r.get(0).unwrap_or("").to_owned());
            }
        }
        Ok(String::new())
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if let Some(pid) = self.pid() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGCONT,
            );
            twinbeat::actions::postmaster::kill_tree(pid);
            for _ in 0..400 {
                twinbeat::actions::postmaster::reap(pid);
                if twinbeat::actions::postmaster::proc_state(pid).is_dead() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

/// Whether PostgreSQL 15 is installed (the tests need it; CI installs it).
pub fn have_pg() -> bool {
    Path::new(PG_BIN).join("pg_ctl").exists()
}
