//! A pty pair made by `socat`, reachable through two stable link paths, that
//! the test can cut (kill socat: the ptys hang up and the links disappear) and
//! restore (start socat again with the same link paths), like a USB serial
//! adapter unplugged and plugged back in.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use super::{require_program, wait_until};

/// Two pty ends, `a` and `b`, wired to each other by socat.
pub(crate) struct PtyPair {
    _dir: TempDir,
    /// Link to end `a`.
    pub(crate) a: PathBuf,
    /// Link to end `b`.
    pub(crate) b: PathBuf,
    socat: Option<Child>,
}

impl PtyPair {
    /// Starts socat and waits for both links.
    pub(crate) fn new() -> Self {
        require_program("socat", "socat (apt-get install socat)");
        let dir = tempfile::Builder::new()
            .prefix("tbpty")
            .tempdir()
            .expect("temp dir");
        let mut pair = PtyPair {
            a: dir.path().join("a"),
            b: dir.path().join("b"),
            _dir: dir,
            socat: None,
        };
        pair.plug();
        pair
    }

    /// (Re)starts socat with the same link paths.
    pub(crate) fn plug(&mut self) {
        assert!(self.socat.is_none(), "socat already running");
        let end = |path: &Path| format!("pty,raw,echo=0,link={}", path.display());
        let child = Command::new("socat")
            .arg(end(&self.a))
            .arg(end(&self.b))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start socat");
        self.socat = Some(child);
        let (a, b) = (self.a.clone(), self.b.clone());
        wait_until("socat's pty links", Duration::from_secs(10), || {
            a.exists() && b.exists()
        });
    }

    /// Kills socat: both ptys hang up and the links go away.
    pub(crate) fn unplug(&mut self) {
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
