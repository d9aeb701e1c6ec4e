//! The local postmaster as a process: its PID and status from `postmaster.pid`,
//! whether it is still there, SIGKILL of it and its children, and reaping of adopted
//! zombies.
//!
//! Why reaping matters here: `pg_ctl start` leaves the postmaster as an orphan. With
//! the daemon a child subreaper ([`become_subreaper`]) the orphan is re-parented to
//! the daemon, which must `waitpid` it once it dies; otherwise the zombie's PID still
//! "exists", PostgreSQL's next start sees a live lock file and refuses to start.
//! Only zombies named `postgres`/`postmaster` are reaped by the sweep, so the exit
//! status of children spawned through tokio is never stolen from it.

use std::fs;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;

/// How a process looks in `/proc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProcState {
    /// No such process.
    Gone,
    /// Dead, waiting to be reaped: counts as gone.
    Zombie,
    /// Running or sleeping.
    Alive,
    /// Stopped (SIGSTOP) or traced: alive but frozen.
    Stopped,
}

impl ProcState {
    /// Gone or zombie.
    pub(crate) fn is_dead(self) -> bool {
        matches!(self, Self::Gone | Self::Zombie)
    }
}

/// The postmaster's PID from `data_dir/postmaster.pid`; `Ok(None)` if there is no file.
pub(crate) fn read_pid(data_dir: &Path) -> io::Result<Option<i32>> {
    match fs::read_to_string(data_dir.join("postmaster.pid")) {
        Ok(s) => s
            .lines()
            .next()
            .and_then(|l| l.trim().parse::<i32>().ok())
            .filter(|p| *p > 0)
            .map(Some)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "postmaster.pid has no PID")),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The postmaster's status in `data_dir/postmaster.pid` (its 8th line): `ready` once
/// it accepts connections, `standby` once a standby does (or, without hot standby,
/// once recovery started), as `pg_ctl start -w` reads it; `None` before it is written.
pub(crate) fn read_status(data_dir: &Path) -> Option<String> {
    let text = fs::read_to_string(data_dir.join("postmaster.pid")).ok()?;
    text.lines().nth(7).map(|l| l.trim().to_owned())
}

/// `(state char, ppid, comm)` from `/proc/<pid>/stat`.
fn stat(pid: i32) -> Option<(char, i32, String)> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // comm is in parentheses and may itself contain ')' or spaces: split at the last one.
    let open = s.find('(')?;
    let close = s.rfind(')')?;
    let comm = s.get(open + 1..close)?.to_owned();
    let mut rest = s.get(close + 1..)?.split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some((state, ppid, comm))
}

/// The state of `pid`.
pub(crate) fn proc_state(pid: i32) -> ProcState {
    match stat(pid) {
        None => ProcState::Gone,
        Some(('Z' | 'X' | 'x', _, _)) => ProcState::Zombie,
        Some(('T' | 't', _, _)) => ProcState::Stopped,
        Some(_) => ProcState::Alive,
    }
}

/// Whether a process name is PostgreSQL's (the postmaster runs as `postgres`).
fn is_postgres_comm(comm: &str) -> bool {
    comm == "postgres" || comm == "postmaster"
}

/// The state of the postmaster that `postmaster.pid` named: like [`proc_state`],
/// but a live process that is not PostgreSQL is [`ProcState::Gone`] (the PID was
/// reused after the postmaster died: never wait on it, never signal it).
pub(crate) fn postmaster_state(pid: i32) -> ProcState {
    match stat(pid) {
        Some((_, _, comm)) if !is_postgres_comm(&comm) => ProcState::Gone,
        _ => proc_state(pid),
    }
}

/// Direct children of `pid`, by reading the parent of every process in `/proc`
/// (five syscalls per process on the machine: callers keep it rare). Kernels
/// built with `CONFIG_PROC_CHILDREN` have a cheaper list, but not these machines.
pub(crate) fn children_of(pid: i32) -> Vec<i32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| stat(*p).is_some_and(|(_, ppid, _)| ppid == pid))
        .collect()
}

/// SIGKILLs the postmaster `pid` and its direct children (the backends, which call
/// `setsid()`, so a process-group kill would miss them). The postmaster is
/// SIGSTOPped first: a stopped process cannot fork, so no child is born between the
/// listing of its children and the kills. SIGKILL also ends a SIGSTOPped process.
/// Only PostgreSQL processes are signalled (a reused PID is left alone). Returns the
/// PIDs the SIGKILL was delivered to (to wait for with [`wait_all_dead`]).
pub(crate) fn kill_tree(pid: i32) -> Vec<i32> {
    if !stat(pid).is_some_and(|(_, _, comm)| is_postgres_comm(&comm)) {
        return Vec::new();
    }
    let _ = kill(Pid::from_raw(pid), Signal::SIGSTOP);
    let children = children_of(pid);
    std::iter::once(pid)
        .chain(children)
        .filter(|p| kill(Pid::from_raw(*p), Signal::SIGKILL).is_ok())
        .collect()
}

/// Polls until every PostgreSQL process in `pids` is gone or a zombie (reaping the
/// ones that are ours), up to `bound`. A PID now held by a process that is not
/// PostgreSQL counts as gone (reused). Returns the survivors with their state
/// letter from `/proc` (`D`: uninterruptible sleep, which even SIGKILL waits out).
pub(crate) async fn wait_all_dead(pids: &[i32], bound: Duration) -> Vec<(i32, char)> {
    let start = Instant::now();
    loop {
        let left: Vec<(i32, char)> = pids
            .iter()
            .filter_map(|p| match stat(*p) {
                Some(('Z' | 'X' | 'x', _, _)) => {
                    reap(*p);
                    None
                }
                Some((st, _, comm)) if is_postgres_comm(&comm) => Some((*p, st)),
                _ => None,
            })
            .collect();
        if left.is_empty() || start.elapsed() >= bound {
            return left;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Reaps `pid` if it is a dead child of this process (no-op otherwise).
pub(crate) fn reap(pid: i32) {
    // ECHILD (not our child) and "still running" are both fine here.
    let _ = waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG));
}

/// Polls until the postmaster `pid` is gone or a zombie (reaping it if it is
/// ours), up to `bound`, by [`postmaster_state`]. Returns whether it died in time.
pub(crate) async fn wait_dead(pid: i32, bound: Duration) -> bool {
    let start = Instant::now();
    loop {
        let st = postmaster_state(pid);
        if st == ProcState::Zombie {
            reap(pid);
        }
        if st.is_dead() {
            return true;
        }
        if start.elapsed() >= bound {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Makes this process a child subreaper (`PR_SET_CHILD_SUBREAPER`), so orphaned
/// PostgreSQL processes become its children and can be reaped at once.
pub(crate) fn become_subreaper() -> nix::Result<()> {
    nix::sys::prctl::set_child_subreaper(true)
}

/// Reaps every zombie child of this process named `postgres` or `postmaster`.
/// Returns how many were reaped.
pub(crate) fn reap_postgres_zombies() -> usize {
    let me = std::process::id();
    let Ok(me) = i32::try_from(me) else { return 0 };
    children_of(me)
        .into_iter()
        .filter(|p| stat(*p).is_some_and(|(st, _, comm)| st == 'Z' && is_postgres_comm(&comm)))
        .map(reap)
        .count()
}

/// How often the reaper sweeps without a SIGCHLD. Every dead child raises
/// SIGCHLD, which tokio never loses (it may merge several into one wake-up), so
/// this only bounds the time a zombie could wait if that ever failed; the
/// sweep reads `/proc`, too costly for an idle daemon to do often.
const REAP_SWEEP_PERIOD: Duration = Duration::from_secs(10);

/// Reaps adopted PostgreSQL zombies on every SIGCHLD and at least every
/// `REAP_SWEEP_PERIOD` (10 s), until the task is dropped. Call [`become_subreaper`] first.
pub(crate) fn spawn_reaper() -> io::Result<tokio::task::JoinHandle<()>> {
    let mut sigchld = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::child())?;
    Ok(tokio::spawn(async move {
        loop {
            // `Ok(None)`: the runtime is shutting down, no more signals.
            if let Ok(None) = tokio::time::timeout(REAP_SWEEP_PERIOD, sigchld.recv()).await {
                break;
            }
            reap_postgres_zombies();
        }
    }))
}
