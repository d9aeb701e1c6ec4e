//! `[hooks]`: an operator's commands run on events, like Patroni's callbacks — on a
//! role change, when this node begins to fence itself, on an alarm — with the event in
//! the environment (`TWINBEAT_*`, below).
//!
//! A hook never holds up a decision: the driver hands it over without waiting
//! ([`Hooks::fire`] only queues), and one worker on a thread of its own (so that even
//! the fork of a run costs the driver's thread nothing) runs the queue in order, each
//! run bounded by `hooks.timeout` (then its process group is killed). Its exit status and
//! the start of its output are logged. A full queue drops the new run, with a warning,
//! rather than wait.

use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;
use tokio::process::Command;
use tokio::sync::mpsc;

use crate::config::Config;

/// Runs waiting in the queue at most; past it a new run is dropped.
const QUEUE: usize = 32;
/// The output of a run kept for the log, per stream.
const OUTPUT_KEPT: usize = 2048;

/// What happened, for a hook's environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HookEvent {
    /// This node's role changed (`on_role_change`).
    RoleChange {
        /// The role it left.
        from: &'static str,
        /// The role it is in now.
        to: &'static str,
        /// The term now.
        term: u64,
        /// The code of the decision behind it.
        reason: &'static str,
        /// The decision's reason in words.
        reason_text: &'static str,
    },
    /// This node begins to fence itself (`on_fence`).
    Fence {
        /// Its role: `fencing`.
        role: &'static str,
        /// The term.
        term: u64,
        /// Why: the reason's code.
        reason: &'static str,
        /// Why, in words.
        reason_text: String,
    },
    /// The engine raised an alarm (`on_alarm`).
    Alarm {
        /// This node's role.
        role: &'static str,
        /// The term.
        term: u64,
        /// `warning` or `critical`.
        severity: &'static str,
        /// The alarm's code.
        reason: String,
        /// The alarm in words.
        reason_text: String,
    },
}

impl HookEvent {
    /// `TWINBEAT_EVENT`.
    fn name(&self) -> &'static str {
        match self {
            HookEvent::RoleChange { .. } => "role_change",
            HookEvent::Fence { .. } => "fence",
            HookEvent::Alarm { .. } => "alarm",
        }
    }

    /// The variables that say what happened.
    fn environment(&self) -> Vec<(&'static str, String)> {
        match self {
            HookEvent::RoleChange {
                from,
                to,
                term,
                reason,
                reason_text,
            } => vec![
                ("TWINBEAT_PREVIOUS_ROLE", (*from).to_owned()),
                ("TWINBEAT_ROLE", (*to).to_owned()),
                ("TWINBEAT_TERM", term.to_string()),
                ("TWINBEAT_REASON", (*reason).to_owned()),
                ("TWINBEAT_REASON_TEXT", (*reason_text).to_owned()),
            ],
            HookEvent::Fence {
                role,
                term,
                reason,
                reason_text,
            } => vec![
                ("TWINBEAT_ROLE", (*role).to_owned()),
                ("TWINBEAT_TERM", term.to_string()),
                ("TWINBEAT_REASON", (*reason).to_owned()),
                ("TWINBEAT_REASON_TEXT", reason_text.clone()),
            ],
            HookEvent::Alarm {
                role,
                term,
                severity,
                reason,
                reason_text,
            } => vec![
                ("TWINBEAT_ROLE", (*role).to_owned()),
                ("TWINBEAT_TERM", term.to_string()),
                ("TWINBEAT_SEVERITY", (*severity).to_owned()),
                ("TWINBEAT_REASON", reason.clone()),
                ("TWINBEAT_REASON_TEXT", reason_text.clone()),
            ],
        }
    }
}

/// One run: the command and its whole environment.
#[derive(Debug)]
struct Run {
    command: String,
    env: Vec<(&'static str, String)>,
}

/// The hooks of a configuration, and the worker that runs them.
#[derive(Debug)]
pub(crate) struct Hooks {
    on_role_change: Option<String>,
    on_fence: Option<String>,
    on_alarm: Option<String>,
    /// Who this node is, in every run's environment.
    identity: Vec<(&'static str, String)>,
    queue: Option<mpsc::Sender<Run>>,
}

impl Hooks {
    /// The configured hooks; the worker's thread is started only when at least one is
    /// set (and if it cannot be, the hooks are off, with an error in the log).
    pub(crate) fn start(cfg: &Config) -> Self {
        let h = &cfg.hooks;
        let any = h.on_role_change.is_some() || h.on_fence.is_some() || h.on_alarm.is_some();
        let queue = any.then(|| spawn_worker(h.timeout)).flatten();
        Hooks {
            on_role_change: h.on_role_change.clone(),
            on_fence: h.on_fence.clone(),
            on_alarm: h.on_alarm.clone(),
            identity: vec![
                ("TWINBEAT_CLUSTER", cfg.cluster_id.clone()),
                ("TWINBEAT_NODE", cfg.node_id.clone()),
                (
                    "TWINBEAT_PEER",
                    cfg.peer
                        .node_id
                        .clone()
                        .unwrap_or_else(|| cfg.peer.host.clone()),
                ),
            ],
            queue,
        }
    }

    /// Queues the hook of `event`, if one is configured; never waits.
    pub(crate) fn fire(&self, event: HookEvent) {
        let command = match event {
            HookEvent::RoleChange { .. } => &self.on_role_change,
            HookEvent::Fence { .. } => &self.on_fence,
            HookEvent::Alarm { .. } => &self.on_alarm,
        };
        let (Some(command), Some(queue)) = (command, &self.queue) else {
            return;
        };
        let mut env = self.identity.clone();
        env.push(("TWINBEAT_EVENT", event.name().to_owned()));
        env.extend(event.environment());
        let run = Run {
            command: command.clone(),
            env,
        };
        if let Err(e) = queue.try_send(run) {
            tracing::warn!(
                "hook for {}: not run, {QUEUE} runs are waiting already ({e})",
                event.name()
            );
        }
    }
}

/// The worker's thread, with a runtime of its own; `None` if it cannot start.
fn spawn_worker(timeout: Duration) -> Option<mpsc::Sender<Run>> {
    let (tx, rx) = mpsc::channel(QUEUE);
    let started = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .and_then(|rt| {
            std::thread::Builder::new()
                .name("hooks".into())
                .spawn(move || rt.block_on(worker(rx, timeout)))
        });
    match started {
        Ok(_) => Some(tx),
        Err(e) => {
            tracing::error!("hooks: cannot start their worker, no hook will run: {e}");
            None
        }
    }
}

async fn worker(mut queue: mpsc::Receiver<Run>, timeout: Duration) {
    while let Some(run) = queue.recv().await {
        let event = run
            .env
            .iter()
            .find(|(k, _)| *k == "TWINBEAT_EVENT")
            .map_or(String::new(), |(_, v)| v.clone());
        match run_bounded(&run, timeout).await {
            Ok(outcome) if outcome.status.success() => tracing::info!(
                "hook {event}: {:?} exited 0{}",
                run.command,
                outcome.output_suffix()
            ),
            Ok(outcome) => tracing::warn!(
                "hook {event}: {:?} failed: {}{}",
                run.command,
                outcome.status,
                outcome.output_suffix()
            ),
            Err(why) => tracing::warn!("hook {event}: {:?}: {why}", run.command),
        }
    }
}

/// A finished run.
pub(crate) struct Outcome {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    fn output_suffix(&self) -> String {
        let mut s = String::new();
        for (name, text) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            let text = text.trim();
            if !text.is_empty() {
                s.push_str(&format!("; {name}: {text:?}"));
            }
        }
        s
    }
}

/// Runs `sh -c command` with the run's environment, in a process group of its own,
/// killed as a whole past `timeout`.
async fn run_bounded(run: &Run, timeout: Duration) -> Result<Outcome, String> {
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(&run.command)
        .envs(run.env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start: {e}"))?;
    let group = child
        .id()
        .and_then(|p| i32::try_from(p).ok())
        .map(Pid::from_raw);
    let (mut out, mut err) = (child.stdout.take(), child.stderr.take());
    let finished = tokio::time::timeout(timeout, async {
        let (stdout, stderr) = tokio::join!(kept(out.as_mut()), kept(err.as_mut()));
        (child.wait().await, stdout, stderr)
    })
    .await;
    match finished {
        Ok((Ok(status), stdout, stderr)) => Ok(Outcome {
            status,
            stdout,
            stderr,
        }),
        Ok((Err(e), ..)) => Err(format!("cannot wait for it: {e}")),
        Err(_) => {
            if let Some(pgid) = group {
                // ESRCH: the group is already empty.
                let _ = killpg(pgid, Signal::SIGKILL);
            }
            Err(format!("killed after {timeout:?} (hooks.timeout)"))
        }
    }
}

/// The first [`OUTPUT_KEPT`] bytes of a stream, read to its end.
async fn kept<R: tokio::io::AsyncRead + Unpin>(stream: Option<&mut R>) -> String {
    let Some(stream) = stream else {
        return String::new();
    };
    let mut kept = Vec::new();
    let mut chunk = [0u8; 512];
    while let Ok(n) = stream.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        let room = OUTPUT_KEPT.saturating_sub(kept.len());
        kept.extend_from_slice(&chunk[..n.min(room)]);
    }
    String::from_utf8_lossy(&kept).into_owned()
}

#[cfg(test)]
mod tests;
