//! Running external commands with a deadline (every wait in the lab is bounded).

use std::io::Read;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::error::{LabError, Result};

/// The default bound for one command (`ip`, `nft`, `initdb`...).
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(60);

/// A readable command line for error messages.
pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Runs `cmd` to completion within `deadline` and returns its output, whatever the exit status.
/// On timeout the child is killed.
pub fn output_within(mut cmd: Command, deadline: Duration) -> Result<Output> {
    let line = describe(&cmd);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|source| LabError::Spawn {
        cmd: line.clone(),
        source,
    })?;
    // Readers on threads so a chatty child never blocks on a full pipe.
    let out_rx = drain(child.stdout.take());
    let err_rx = drain(child.stderr.take());
    let status = wait_child(&mut child, deadline).map_err(|e| match e {
        LabError::Timeout { after, .. } => LabError::Timeout {
            what: line.clone(),
            after,
        },
        other => other,
    })?;
    // A grandchild may keep the pipes open: do not wait for EOF forever.
    let grace = Duration::from_secs(2);
    let stdout = out_rx.recv_timeout(grace).unwrap_or_default();
    let stderr = err_rx.recv_timeout(grace).unwrap_or_default();
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        let _ = tx.send(buf);
    });
    rx
}

/// Waits for `child` at most `deadline`; kills and reaps it on timeout.
pub fn wait_child(child: &mut Child, deadline: Duration) -> Result<std::process::ExitStatus> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) => {}
            Err(source) => {
                return Err(LabError::Spawn {
                    cmd: format!("wait for pid {}", child.id()),
                    source,
                })
            }
        }
        if start.elapsed() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(LabError::Timeout {
                what: format!("pid {}", child.id()),
                after: deadline,
            });
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// Runs `cmd` within `deadline`; a non-zero exit is an error. Returns standard output.
pub fn run_within(cmd: Command, deadline: Duration) -> Result<String> {
    let line = describe(&cmd);
    let out = output_within(cmd, deadline)?;
    if !out.status.success() {
        return Err(LabError::Command {
            cmd: line,
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `program args...` within [`DEFAULT_DEADLINE`]; a non-zero exit is an error.
pub fn run(program: &str, args: &[&str]) -> Result<String> {
    let mut cmd = Command::new(program);
    cmd.args(args);
    run_within(cmd, DEFAULT_DEADLINE)
}

/// Is `program` on the PATH (or an existing absolute path)?
pub fn have(program: &str) -> bool {
    if program.contains('/') {
        return std::path::Path::new(program).exists();
    }
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

/// Polls `probe` until it returns `Some`, at most `deadline`; `what` names the wait in the error.
pub fn wait_for<T>(
    what: &str,
    deadline: Duration,
    poll: Duration,
    mut probe: impl FnMut() -> Option<T>,
) -> Result<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = probe() {
            return Ok(v);
        }
        if start.elapsed() >= deadline {
            return Err(LabError::Timeout {
                what: what.to_owned(),
                after: deadline,
            });
        }
        std::thread::sleep(poll);
    }
}

/// Polls `condition` every 20 ms until it holds, at most `deadline`.
pub fn wait_until(
    what: &str,
    deadline: Duration,
    mut condition: impl FnMut() -> bool,
) -> Result<()> {
    wait_for(what, deadline, Duration::from_millis(20), || {
        condition().then_some(())
    })
}

/// Polls `probe` every 100 ms until it returns `Some`, at most `deadline`; `None` after.
pub fn poll<T>(deadline: Duration, probe: impl FnMut() -> Option<T>) -> Option<T> {
    wait_for("", deadline, Duration::from_millis(100), probe).ok()
}
