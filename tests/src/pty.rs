//! [`PtyPair`]: two ptys wired to each other by `socat`, reachable through two stable link
//! paths, that a test can cut (kill socat: the ptys hang up and the links disappear) and
//! restore (start socat again with the same link paths), like a USB serial adapter
//! unplugged and plugged back in. socat is killed by PID when the pair is dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::cmd::{have, wait_for};
use crate::error::{io_err, LabError, Result};

/// Two pty ends, `a` and `b`.
#[derive(Debug)]
pub struct PtyPair {
    _dir: TempDir,
    /// Link to end `a`.
    pub a: PathBuf,
    /// Link to end `b`.
    pub b: PathBuf,
    socat: Option<Child>,
}

impl PtyPair {
    /// Starts socat and waits for both links.
    pub fn new() -> Result<Self> {
        if !have("socat") {
            return Err(LabError::MissingTool {
                tool: "socat".into(),
                hint: "apt-get install socat".into(),
            });
        }
        let dir = tempfile::Builder::new()
            .prefix("tbpty")
            .tempdir()
            .map_err(io_err("a temporary directory"))?;
        let mut pair = Self {
            a: dir.path().join("a"),
            b: dir.path().join("b"),
            _dir: dir,
            socat: None,
        };
        pair.plug()?;
        Ok(pair)
    }

    /// (Re)starts socat with the same link paths.
    pub fn plug(&mut self) -> Result<()> {
        if self.socat.is_some() {
            return Err(LabError::Relay("socat already running".into()));
        }
        let end = |path: &Path| format!("pty,raw,echo=0,link={}", path.display());
        let mut cmd = Command::new("socat");
        cmd.arg(end(&self.a))
            .arg(end(&self.b))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd.spawn().map_err(|source| LabError::Spawn {
            cmd: crate::cmd::describe(&cmd),
            source,
        })?;
        self.socat = Some(child);
        wait_for(
            "socat's pty links",
            Duration::from_secs(10),
            Duration::from_millis(20),
            || (self.a.exists() && self.b.exists()).then_some(()),
        )
    }

    /// Kills socat: both ptys hang up and the links go away.
    pub fn unplug(&mut self) {
        if let Some(mut child) = self.socat.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // socat removes its links on a clean exit only; SIGKILL leaves them.
        let _ = std::fs::remove_file(&self.a);
        let _ = std::fs::remove_file(&self.b);
    }
}

impl Drop for PtyPair {
    fn drop(&mut self) {
        self.unplug();
    }
}
