//! Network namespaces: [`Netns`], one namespace the kit made and removes (its processes by
//! PID, then the namespace) when dropped; [`NetPair`], two of them joined by a veth; and the
//! lab's five-host [`Topology`]. Addresses exist only inside these namespaces, so nothing
//! routes off the machine and tests running in parallel never collide.

mod pair;
mod topology;

use std::net::TcpListener;
use std::process::Command;
use std::sync::atomic::{AtomicU16, AtomicU32, Ordering};
use std::time::Duration;

pub use pair::{End, NetPair};
pub use topology::{parse_iface, Host, IfaceState, Node, Topology, IFACE};

use crate::cmd::{run, run_within, DEFAULT_DEADLINE};
use crate::error::{io_err, sys_err, Result};
use crate::procs;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A network namespace; dropping it removes it with every process inside.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates namespace `name` with its loopback up.
    pub fn create(name: impl Into<String>) -> Result<Self> {
        let ns = Self { name: name.into() };
        run("ip", &["netns", "add", &ns.name])?;
        // From here on, a failure drops `ns`, which removes it.
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// Creates a namespace named `<prefix>-<pid>-<n>`: unique to this process and call, so
    /// tests running in parallel (threads of one binary, or several binaries) never collide.
    pub fn unique(prefix: &str) -> Result<Self> {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        Self::create(format!("{prefix}-{}-{n}", std::process::id()))
    }

    /// The namespace's name (`/run/netns/<name>`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n <ns> args...`; returns its standard output.
    pub fn ip(&self, args: &[&str]) -> Result<String> {
        ip_in(&self.name, args)
    }

    /// A command that runs `program args...` inside the namespace.
    pub fn exec(&self, program: &str, args: &[&str]) -> Command {
        exec_in(&self.name, program, args)
    }

    /// Runs `program args...` inside the namespace; a non-zero exit is an error.
    pub fn run(&self, program: &str, args: &[&str]) -> Result<String> {
        run_within(self.exec(program, args), DEFAULT_DEADLINE)
    }

    /// Runs `f` on a thread inside the namespace (sockets it opens live there); a panic in
    /// `f` is the caller's panic.
    pub fn enter<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T> {
        enter(&self.name, f)
    }

    /// Runs the future `f` makes on a current-thread runtime inside the namespace.
    pub fn block_on<F, Fut, T>(&self, f: F) -> Result<T>
    where
        F: FnOnce() -> Fut + Send,
        Fut: std::future::Future<Output = T>,
        T: Send,
    {
        self.enter(|| crate::rt::runtime().block_on(f()))
    }

    /// Starts `f` on a thread of its own inside the namespace.
    pub fn spawn<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<T> {
        let name = self.name.clone();
        std::thread::spawn(move || {
            setns(&name).unwrap_or_else(|e| panic!("{e}"));
            f()
        })
    }

    /// The MAC address of `dev`, read through `ip` (this process's /sys shows its own
    /// namespace).
    pub fn mac(&self, dev: &str) -> Result<[u8; 6]> {
        let text = self.ip(&["-o", "link", "show", dev])?;
        let bad = |detail: &str| crate::LabError::Parse {
            what: format!("MAC of {dev} in {}", self.name),
            detail: detail.to_owned(),
        };
        let lladdr = text
            .split_whitespace()
            .skip_while(|w| *w != "link/ether")
            .nth(1)
            .ok_or_else(|| bad(&text))?;
        let mut mac = [0u8; 6];
        let mut parts = lladdr.split(':');
        for byte in &mut mac {
            let part = parts.next().ok_or_else(|| bad(lladdr))?;
            *byte = u8::from_str_radix(part, 16).map_err(|e| bad(&e.to_string()))?;
        }
        Ok(mac)
    }

    /// Whether `dev` holds `addr` (any family; `ip -o addr show dev`).
    pub fn has_addr(&self, dev: &str, addr: &str) -> bool {
        self.ip(&["-o", "addr", "show", "dev", dev])
            .is_ok_and(|text| text.contains(&format!("{addr}/")))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        remove(&self.name);
    }
}

/// Runs `ip -n <ns> args...`.
pub(crate) fn ip_in(ns: &str, args: &[&str]) -> Result<String> {
    let mut all = vec!["-n", ns];
    all.extend_from_slice(args);
    run("ip", &all)
}

/// A command that runs `program args...` inside namespace `ns`.
pub(crate) fn exec_in(ns: &str, program: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns, program]).args(args);
    cmd
}

fn setns(ns: &str) -> Result<()> {
    let path = format!("/run/netns/{ns}");
    let file = std::fs::File::open(&path).map_err(io_err(&path))?;
    nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
        .map_err(sys_err(format!("setns {path}")))
}

/// Runs `f` on a scoped thread that has entered namespace `ns`; a panic in `f` is resumed
/// on the caller's thread.
pub(crate) fn enter<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> Result<T> {
    std::thread::scope(|s| {
        s.spawn(|| -> Result<T> {
            setns(ns)?;
            Ok(f())
        })
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Removes namespace `ns`: SIGKILLs every process inside it by PID (never this one), then
/// deletes it (which deletes its veth ends). Returns what it did.
pub fn remove(ns: &str) -> Vec<String> {
    let mut done = Vec::new();
    let me = i32::try_from(std::process::id()).unwrap_or(0);
    let pids: Vec<i32> = procs::netns_pids(ns)
        .into_iter()
        .filter(|p| *p != me)
        .collect();
    if !pids.is_empty() {
        done.push(format!("{ns}: killed pids {pids:?}"));
        procs::kill_all(&pids, Duration::from_secs(5));
    }
    match run("ip", &["netns", "del", ns]) {
        Ok(_) => done.push(format!("deleted namespace {ns}")),
        Err(e) => done.push(format!("could not delete {ns}: {e}")),
    }
    done
}

/// The ports [`free_local_port`] hands out: below Linux's default ephemeral range
/// (32768–60999), from which every client connection's local port comes. A port
/// taken from that range (`bind` to port 0) can be some test's client socket by the
/// time a server binds it: PostgreSQL then fails with "Address already in use".
const TEST_PORTS: std::ops::Range<u16> = 20_000..32_000;

/// A TCP port on 127.0.0.1 that was free a moment ago, from [`TEST_PORTS`]: each call in
/// a process takes the next one (from a start that differs between processes), so
/// concurrent tests never share one.
pub fn free_local_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let span = TEST_PORTS.end - TEST_PORTS.start;
    // Process ids spread the start over the range in steps of 64.
    let start = u16::try_from(std::process::id() % u32::from(span / 64)).unwrap_or(0) * 64;
    for _ in 0..span {
        let n = NEXT.fetch_add(1, Ordering::Relaxed) % span;
        let port = TEST_PORTS.start + (start + n) % span;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port on 127.0.0.1 in {TEST_PORTS:?}")
}
