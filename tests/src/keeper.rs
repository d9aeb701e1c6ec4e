//! The keeper: a tiny child-subreaper process that runs one command (PostgreSQL, a daemon)
//! and reaps it and everything it orphans at once.
//!
//! Why: PID 1 on these machines reaps orphans seconds late, and a killed postmaster that
//! lingers as a zombie keeps its PID "alive", so the next start fails with "lock file already
//! exists" (design §5). Making the lab process itself a subreaper would race with the
//! `std::process` children it waits for; a separate keeper per command has no such race.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

use crate::error::{io_err, LabError, Result};
use crate::procs::ProcId;

/// A command running under a keeper.
#[derive(Debug)]
pub struct Kept {
    /// The keeper process (a child of the lab process).
    pub keeper: Child,
    /// The command itself (the keeper's child).
    pub main: ProcId,
}

/// Entry point of `lab keeper --log FILE -- PROGRAM ARGS...`: returns the exit code.
pub fn keeper_main(log: &Path, argv: &[String]) -> i32 {
    if let Err(e) = nix::sys::prctl::set_child_subreaper(true) {
        eprintln!("lab keeper: PR_SET_CHILD_SUBREAPER failed: {e}");
        return 111;
    }
    let Some((program, args)) = argv.split_first() else {
        eprintln!("lab keeper: no command given");
        return 111;
    };
    let open = || {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
    };
    let (out, err) = match (open(), open()) {
        (Ok(o), Ok(e)) => (o, e),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("lab keeper: {}: {e}", log.display());
            return 111;
        }
    };
    let child = match Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("lab keeper: cannot start {program}: {e}");
            return 111;
        }
    };
    let main = i32::try_from(child.id()).unwrap_or(-1);
    {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "pid {main}");
        let _ = stdout.flush();
    }
    // Reap everything (the command and whatever it orphans) until no child is left.
    let mut code = 0;
    loop {
        match waitpid(Pid::from_raw(-1), None) {
            Ok(WaitStatus::Exited(pid, c)) if pid.as_raw() == main => code = c,
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid.as_raw() == main => {
                code = 128 + sig as i32
            }
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => break,
        }
    }
    code
}

/// Starts `argv` under a keeper (`lab_exe keeper`), output appended to `log`.
pub fn spawn_kept(
    lab_exe: &Path,
    log: &Path,
    argv: &[String],
    envs: &[(&str, &str)],
    label: &str,
) -> Result<Kept> {
    // The keeper's own complaints go to the log too: an inherited stderr would keep the
    // caller's pipes open for as long as the keeper lives (`cargo lab up` exits, it does not).
    let keeper_err = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(io_err(log))?;
    let mut cmd = Command::new(lab_exe);
    cmd.arg("keeper")
        .arg("--log")
        .arg(log)
        .arg("--")
        .args(argv)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(keeper_err);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let line = crate::cmd::describe(&cmd);
    let mut keeper = cmd.spawn().map_err(|source| LabError::Spawn {
        cmd: line.clone(),
        source,
    })?;
    let stdout = keeper.stdout.take().ok_or_else(|| LabError::Spawn {
        cmd: line.clone(),
        source: std::io::Error::other("no stdout pipe"),
    })?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut first = String::new();
        let _ = BufReader::new(stdout).read_line(&mut first);
        let _ = tx.send(first);
    });
    let first = rx.recv_timeout(Duration::from_secs(10)).unwrap_or_default();
    let pid = first
        .strip_prefix("pid ")
        .and_then(|p| p.trim().parse::<i32>().ok());
    let Some(pid) = pid else {
        let _ = keeper.kill();
        let _ = keeper.wait();
        let tail = std::fs::read_to_string(log).map_err(io_err(log))?;
        return Err(LabError::Command {
            cmd: line,
            status: "keeper did not start the command".into(),
            stderr: tail.lines().rev().take(5).collect::<Vec<_>>().join(" | "),
        });
    };
    // The command may already have exited; record it anyway (start 0 never matches a live one).
    let main = ProcId::of(pid, label).unwrap_or(ProcId {
        pid,
        start: 0,
        label: label.to_owned(),
    });
    Ok(Kept { keeper, main })
}
