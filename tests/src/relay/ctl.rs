//! The lab's side of the relay: commands over its control socket.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Dir, RelayStats};
use crate::error::{io_err, LabError, Result};

/// The lab's handle on a running relay: its control socket and tty paths.
#[derive(Debug, Clone)]
pub struct RelayCtl {
    /// `<labdir>/relay.sock`.
    pub sock: PathBuf,
    /// The lab directory holding `a.tty`, `b.tty`, `x.tty`.
    pub dir: PathBuf,
}

impl RelayCtl {
    /// The handle for the relay serving `dir`.
    pub fn new(dir: &Path) -> Self {
        Self {
            sock: dir.join("relay.sock"),
            dir: dir.to_owned(),
        }
    }

    /// The serial device a node opens (`<labdir>/a.tty`, `b.tty`, or `x.tty` for the foreign end).
    pub fn tty(&self, end: &str) -> PathBuf {
        self.dir.join(format!("{end}.tty"))
    }

    /// Sends one command line and returns the JSON answer.
    pub fn send(&self, line: &str) -> Result<serde_json::Value> {
        let mut s = UnixStream::connect(&self.sock).map_err(io_err(&self.sock))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .and_then(|()| s.set_write_timeout(Some(Duration::from_secs(5))))
            .map_err(io_err(&self.sock))?;
        writeln!(s, "{line}").map_err(io_err(&self.sock))?;
        let mut reply = String::new();
        s.read_to_string(&mut reply).map_err(io_err(&self.sock))?;
        let v: serde_json::Value = serde_json::from_str(reply.trim())
            .map_err(|e| LabError::Relay(format!("bad reply {reply:?}: {e}")))?;
        if v["ok"] != true {
            return Err(LabError::Relay(
                v["error"].as_str().unwrap_or("?").to_owned(),
            ));
        }
        Ok(v)
    }

    /// Clears every fault (both directions).
    pub fn pass(&self) -> Result<()> {
        self.send("pass").map(drop)
    }

    /// Cuts the cable in `dir`.
    pub fn cut(&self, dir: Dir) -> Result<()> {
        self.send(&format!("cut {}", dir.word())).map(drop)
    }

    /// Reconnects the cable in `dir` (other faults stay).
    pub fn restore(&self, dir: Dir) -> Result<()> {
        self.send(&format!("restore {}", dir.word())).map(drop)
    }

    /// Corrupts `percent` % of the bytes in `dir`, with a seeded generator (0 turns it off).
    pub fn corrupt(&self, percent: f64, seed: u64, dir: Dir) -> Result<()> {
        self.send(&format!("corrupt {percent} {seed} {}", dir.word()))
            .map(drop)
    }

    /// Delays bytes in `dir` by `delay` (zero turns it off).
    pub fn delay(&self, delay: Duration, dir: Dir) -> Result<()> {
        let ms = delay.as_secs_f64() * 1000.0;
        self.send(&format!("delay {ms} {}", dir.word())).map(drop)
    }

    /// Drops the next `k` frames in `dir`.
    pub fn drop_first(&self, k: u64, dir: Dir) -> Result<()> {
        self.send(&format!("drop-first {k} {}", dir.word()))
            .map(drop)
    }

    /// Cross-wires b to the foreign end `x.tty` (a then talks to nobody), or undoes it.
    pub fn cross(&self, on: bool) -> Result<()> {
        self.send(if on { "cross on" } else { "cross off" })
            .map(drop)
    }

    /// The byte counters.
    pub fn stats(&self) -> Result<RelayStats> {
        let v = self.send("stats")?;
        serde_json::from_value(v["stats"].clone())
            .map_err(|e| LabError::Relay(format!("bad stats: {e}")))
    }

    /// Zeroes the byte counters.
    pub fn reset_stats(&self) -> Result<()> {
        self.send("reset-stats").map(drop)
    }
}
