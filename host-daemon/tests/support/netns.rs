//! Two network namespaces joined by a veth pair, made by the test and removed
//! by Drop even when the test fails. Addresses (10.250.1.1/24 in `a`,
//! 10.250.1.2/24 in `b`) exist only inside the namespaces, so tests in parallel
//! never collide and nothing leaks to the host.

use std::fs::File;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use nix::sched::{setns, CloneFlags};

use super::{require_program, run};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Namespaces `a` and `b` with `veth0` in each, linked.
pub(crate) struct NetPair {
    /// Name of namespace `a` (the prober's side).
    pub(crate) a: String,
    /// Name of namespace `b` (the peer).
    pub(crate) b: String,
}

impl NetPair {
    /// Address of `a`'s end.
    pub(crate) const ADDR_A: Ipv4Addr = Ipv4Addr::new(10, 250, 1, 1);
    /// Address of `b`'s end.
    pub(crate) const ADDR_B: Ipv4Addr = Ipv4Addr::new(10, 250, 1, 2);
    /// IPv6 address of `a`'s end (unique local, only inside the namespace).
    pub(crate) const ADDR6_A: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x250, 0, 0, 0, 0, 0, 1);
    /// IPv6 address of `b`'s end.
    pub(crate) const ADDR6_B: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x250, 0, 0, 0, 0, 0, 2);

    /// Builds both namespaces and the link between them (both ends up).
    pub(crate) fn new() -> Self {
        require_program("ip", "iproute2 (apt-get install iproute2) and root");
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let base = format!("tbtest-{}-{n}", std::process::id());
        let pair = NetPair {
            a: format!("{base}-a"),
            b: format!("{base}-b"),
        };
        // The guard exists before the first namespace, so a half-built pair is removed too.
        run(Command::new("ip").args(["netns", "add", &pair.a]));
        run(Command::new("ip").args(["netns", "add", &pair.b]));
        run(Command::new("ip").args([
            "link", "add", "veth0", "netns", &pair.a, "type", "veth", "peer", "name", "veth0",
            "netns", &pair.b,
        ]));
        for (ns, addr, addr6) in [
            (&pair.a, Self::ADDR_A, Self::ADDR6_A),
            (&pair.b, Self::ADDR_B, Self::ADDR6_B),
        ] {
            // nodad: usable at once, no duplicate address detection delay.
            run(Command::new("ip").args([
                "-n",
                ns,
                "addr",
                "add",
                &format!("{addr6}/64"),
                "dev",
                "veth0",
                "nodad",
            ]));
            run(Command::new("ip").args([
                "-n",
                ns,
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                "veth0",
            ]));
            run(Command::new("ip").args(["-n", ns, "link", "set", "lo", "up"]));
            run(Command::new("ip").args(["-n", ns, "link", "set", "veth0", "up"]));
        }
        pair
    }

    /// Sets `b`'s end of the link up or down.
    pub(crate) fn set_b_link(&self, up: bool) {
        let state = if up { "up" } else { "down" };
        run(Command::new("ip").args(["-n", &self.b, "link", "set", "veth0", state]));
    }

    /// Runs `f` on a thread that has entered namespace `a` (sockets it opens
    /// live there); returns its result.
    pub(crate) fn run_in_a<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = format!("/run/netns/{}", self.a);
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let ns = File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
                    setns(ns, CloneFlags::CLONE_NEWNET).expect("setns into the test namespace");
                    f()
                })
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }
}

impl Drop for NetPair {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth end inside it (and so its peer).
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}
