//! Processes seen through /proc: identity (PID + start time), trees, namespaces, signals.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

/// A process the lab started, named by PID and kernel start time so a recycled PID is never
/// mistaken for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcId {
    /// The PID.
    pub pid: i32,
    /// Start time in clock ticks since boot (field 22 of /proc/PID/stat).
    pub start: u64,
    /// What it is, for logs ("daemon a", "postgres b", "relay").
    pub label: String,
}

impl ProcId {
    /// Identifies a running process; `None` if it is gone.
    pub fn of(pid: i32, label: &str) -> Option<Self> {
        let st = stat(pid)?;
        Some(Self {
            pid,
            start: st.start,
            label: label.to_owned(),
        })
    }

    /// Is this very process still running (not exited, not a zombie)?
    pub fn alive(&self) -> bool {
        matches!(stat(self.pid), Some(s) if s.start == self.start && s.state != 'Z' && s.state != 'X')
    }

    /// Sends `sig` if the process is still this one.
    pub fn signal(&self, sig: Signal) -> bool {
        self.alive() && kill(Pid::from_raw(self.pid), sig).is_ok()
    }
}

/// The parts of /proc/PID/stat the lab uses.
#[derive(Debug, Clone, Copy)]
pub struct Stat {
    /// Process state letter (R, S, T, Z...).
    pub state: char,
    /// Parent PID.
    pub ppid: i32,
    /// Start time in clock ticks since boot.
    pub start: u64,
}

/// Reads /proc/PID/stat; `None` if the process does not exist.
pub fn stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: split after the last ')'.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); start time is field 22.
    Some(Stat {
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        start: fields.get(19)?.parse().ok()?,
    })
}

/// All PIDs currently in /proc.
pub fn all_pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// `pid` and all its descendants, parents first.
pub fn tree(pid: i32) -> Vec<i32> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for p in all_pids() {
        if let Some(s) = stat(p) {
            children.entry(s.ppid).or_default().push(p);
        }
    }
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        if let Some(c) = children.get(&out[i]) {
            out.extend(c);
        }
        i += 1;
    }
    out
}

/// Sends `sig` to `pid` and every descendant (SIGSTOP/SIGCONT of a process tree).
pub fn signal_tree(pid: i32, sig: Signal) -> usize {
    tree(pid)
        .into_iter()
        .filter(|p| kill(Pid::from_raw(*p), sig).is_ok())
        .count()
}

/// PIDs of the processes whose network namespace is the named one (`ip netns pids`, in-process).
pub fn netns_pids(ns: &str) -> Vec<i32> {
    let Ok(target) = std::fs::metadata(format!("/run/netns/{ns}")) else {
        return Vec::new();
    };
    all_pids()
        .into_iter()
        .filter(|p| {
            std::fs::metadata(format!("/proc/{p}/ns/net"))
                .map(|m| m.ino() == target.ino() && m.dev() == target.dev())
                .unwrap_or(false)
        })
        .collect()
}

/// Command line of a process, arguments joined by spaces.
pub fn cmdline(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            String::from_utf8_lossy(&b)
                .split('\0')
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

/// Is the PID gone or a zombie (a zombie holds nothing but its PID)?
pub fn gone(pid: i32) -> bool {
    stat(pid).is_none_or(|s| s.state == 'Z' || s.state == 'X')
}

/// Reaps `pid` if it is an exited child of this process (not a child, or still running:
/// nothing to do).
pub fn reap(pid: i32) {
    let _ = nix::sys::wait::waitpid(
        Pid::from_raw(pid),
        Some(nix::sys::wait::WaitPidFlag::WNOHANG),
    );
}

/// SIGKILLs every listed PID and waits (bounded) until all are gone or zombies.
/// Returns the PIDs still running after `deadline`.
pub fn kill_all(pids: &[i32], deadline: Duration) -> Vec<i32> {
    for p in pids {
        // SIGCONT first is unnecessary for SIGKILL, which also ends stopped processes.
        let _ = kill(Pid::from_raw(*p), Signal::SIGKILL);
    }
    let left = crate::cmd::wait_for(
        "processes to exit",
        deadline,
        Duration::from_millis(10),
        || pids.iter().all(|p| gone(*p)).then_some(()),
    );
    if left.is_ok() {
        Vec::new()
    } else {
        pids.iter().copied().filter(|p| !gone(*p)).collect()
    }
}
