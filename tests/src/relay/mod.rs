//! The serial cable: pty pairs joined by a relay process the lab controls.
//!
//! The relay (`lab relay --dir LABDIR`) opens three pseudo-terminals and links their slave
//! ends as `<labdir>/a.tty`, `<labdir>/b.tty` (the nodes' serial devices) and `<labdir>/x.tty`
//! (a node of a foreign cluster, for cross-wiring). It copies bytes a ⇄ b and, on command,
//! cuts, corrupts (seeded), delays or drops the first K frames, per direction. Commands go
//! over the unix socket `<labdir>/relay.sock`, one line each, answered by one JSON line.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::{Duration, Instant};

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::error::{io_err, sys_err, Result};

mod ctl;
pub use ctl::RelayCtl;

/// Byte counters of one direction of the cable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirStats {
    /// Bytes read from the sending side.
    pub bytes_in: u64,
    /// Bytes written to the receiving side.
    pub bytes_out: u64,
    /// Bytes discarded because the direction was cut.
    pub bytes_cut: u64,
    /// Bytes altered by the corruption fault.
    pub bytes_corrupted: u64,
    /// Frames (0x00-delimited, non-empty) discarded by the drop-first-K fault.
    pub frames_dropped: u64,
    /// Bytes discarded by the drop-first-K fault.
    pub bytes_dropped: u64,
    /// Bytes lost because the receiver's buffer was full (nobody reading).
    pub bytes_overflow: u64,
}

/// Counters of the whole cable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayStats {
    /// a → b (or a → nowhere while cross-wired).
    pub ab: DirStats,
    /// b → a (or b → x while cross-wired).
    pub ba: DirStats,
    /// x → b while cross-wired (x → nowhere otherwise).
    pub xb: DirStats,
}

/// A direction selector for commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// From a to b.
    AtoB,
    /// From b to a.
    BtoA,
    /// Both directions.
    Both,
}

impl Dir {
    fn word(self) -> &'static str {
        match self {
            Dir::AtoB => "ab",
            Dir::BtoA => "ba",
            Dir::Both => "both",
        }
    }
}

struct Lane {
    cut: bool,
    corrupt: f64,
    rng: StdRng,
    delay: Duration,
    drop_left: u64,
    in_frame: bool,
    queue: VecDeque<(Instant, Vec<u8>)>,
    stats: DirStats,
}

impl Lane {
    fn new() -> Self {
        Self {
            cut: false,
            corrupt: 0.0,
            rng: StdRng::seed_from_u64(0),
            delay: Duration::ZERO,
            drop_left: 0,
            in_frame: false,
            queue: VecDeque::new(),
            stats: DirStats::default(),
        }
    }

    fn clear_faults(&mut self) {
        self.cut = false;
        self.corrupt = 0.0;
        self.delay = Duration::ZERO;
        self.drop_left = 0;
    }

    /// Applies the faults to bytes read from the sender; returns what should go on.
    fn process(&mut self, data: &[u8]) -> Vec<u8> {
        self.stats.bytes_in += data.len() as u64;
        if self.cut {
            self.stats.bytes_cut += data.len() as u64;
            return Vec::new();
        }
        let mut out = Vec::with_capacity(data.len());
        for &byte in data {
            if self.drop_left > 0 {
                self.stats.bytes_dropped += 1;
                if byte == 0 {
                    if self.in_frame {
                        self.in_frame = false;
                        self.stats.frames_dropped += 1;
                        self.drop_left -= 1;
                    }
                } else {
                    self.in_frame = true;
                }
                continue;
            }
            let mut b = byte;
            if self.corrupt > 0.0 && self.rng.random_bool(self.corrupt) {
                b ^= self.rng.random_range(1..=255u8);
                self.stats.bytes_corrupted += 1;
            }
            out.push(b);
        }
        out
    }
}

fn raw_pty(dir: &Path, name: &str) -> Result<(File, File)> {
    let pty = nix::pty::openpty(None, None).map_err(sys_err("openpty"))?;
    let mut t = tcgetattr(&pty.slave).map_err(sys_err("tcgetattr"))?;
    cfmakeraw(&mut t);
    tcsetattr(&pty.slave, SetArg::TCSANOW, &t).map_err(sys_err("tcsetattr"))?;
    let path = nix::unistd::ttyname(&pty.slave).map_err(sys_err("ttyname"))?;
    let link = dir.join(format!("{name}.tty"));
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&path, &link).map_err(io_err(&link))?;
    let flags = fcntl(
        std::os::fd::AsRawFd::as_raw_fd(&pty.master),
        FcntlArg::F_GETFL,
    )
    .map_err(sys_err("F_GETFL"))?;
    fcntl(
        std::os::fd::AsRawFd::as_raw_fd(&pty.master),
        FcntlArg::F_SETFL(OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK),
    )
    .map_err(sys_err("F_SETFL"))?;
    // The relay keeps the slave open too: a master whose slave is closed reads EIO.
    Ok((File::from(pty.master), File::from(pty.slave)))
}

/// Entry point of `lab relay --dir LABDIR`: runs until killed. Returns an exit code.
pub fn relay_main(dir: &Path) -> i32 {
    match serve(dir) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("lab relay: {e}");
            1
        }
    }
}

const SRC_A: usize = 0;
const SRC_B: usize = 1;
const SRC_X: usize = 2;

fn serve(dir: &Path) -> Result<()> {
    let mut ports = Vec::new();
    let mut slaves = Vec::new();
    for name in ["a", "b", "x"] {
        let (m, s) = raw_pty(dir, name)?;
        ports.push(m);
        slaves.push(s);
    }
    let sock = dir.join("relay.sock");
    let _ = std::fs::remove_file(&sock);
    let listener = UnixListener::bind(&sock).map_err(io_err(&sock))?;
    listener.set_nonblocking(true).map_err(io_err(&sock))?;
    // lanes: ab, ba, xb (indices of RelayStats).
    let mut lanes = [Lane::new(), Lane::new(), Lane::new()];
    let mut cross = false;
    println!("ready");
    let _ = std::io::stdout().flush();
    let mut buf = [0u8; 4096];
    loop {
        let now = Instant::now();
        let wait = lanes
            .iter()
            .filter_map(|l| {
                l.queue
                    .front()
                    .map(|(due, _)| due.saturating_duration_since(now))
            })
            .min()
            .unwrap_or(Duration::from_millis(200))
            .min(Duration::from_millis(200));
        let ms = u16::try_from(wait.as_millis()).unwrap_or(200);
        let ready: Vec<bool> = {
            let mut fds: Vec<PollFd<'_>> = ports
                .iter()
                .map(|p| PollFd::new(p.as_fd(), PollFlags::POLLIN))
                .collect();
            fds.push(PollFd::new(listener.as_fd(), PollFlags::POLLIN));
            match poll(&mut fds, PollTimeout::from(ms)) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(sys_err("poll")(e)),
            }
            fds.iter()
                .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
                .collect()
        };
        for src in [SRC_A, SRC_B, SRC_X] {
            if !ready[src] {
                continue;
            }
            let n = match ports[src].read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_err(format!("pty {src}"))(e)),
            };
            // Routing: normally a ⇄ b; cross-wired, b ⇄ x and a talks to nobody.
            let (lane, dest) = match (src, cross) {
                (SRC_A, false) => (0, Some(SRC_B)),
                (SRC_A, true) => (0, None),
                (SRC_B, false) => (1, Some(SRC_A)),
                (SRC_B, true) => (1, Some(SRC_X)),
                (_, true) => (2, Some(SRC_B)),
                (_, false) => (2, None),
            };
            let l = &mut lanes[lane];
            let out = l.process(&buf[..n]);
            let Some(dest) = dest else {
                l.stats.bytes_cut += out.len() as u64;
                continue;
            };
            if out.is_empty() {
                continue;
            }
            if l.delay.is_zero() && l.queue.is_empty() {
                deliver(&mut ports[dest], &out, &mut l.stats);
            } else {
                l.queue.push_back((Instant::now() + l.delay, out));
            }
        }
        // Delayed bytes that are due.
        let now = Instant::now();
        for (i, l) in lanes.iter_mut().enumerate() {
            while l.queue.front().is_some_and(|(due, _)| *due <= now) {
                if let Some((_, data)) = l.queue.pop_front() {
                    let dest = match (i, cross) {
                        (0, _) => SRC_B,
                        (1, false) => SRC_A,
                        (1, true) => SRC_X,
                        _ => SRC_B,
                    };
                    deliver(&mut ports[dest], &data, &mut l.stats);
                }
            }
        }
        if ready[3] {
            while let Ok((stream, _)) = listener.accept() {
                handle_client(stream, &mut lanes, &mut cross);
            }
        }
    }
}

fn deliver(port: &mut File, data: &[u8], stats: &mut DirStats) {
    match port.write(data) {
        Ok(n) => {
            stats.bytes_out += n as u64;
            stats.bytes_overflow += (data.len() - n) as u64;
        }
        Err(_) => stats.bytes_overflow += data.len() as u64,
    }
}

fn handle_client(mut stream: UnixStream, lanes: &mut [Lane; 3], cross: &mut bool) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while line.len() < 512 {
        match stream.read(&mut byte) {
            Ok(1) if byte[0] != b'\n' => line.push(byte[0]),
            _ => break,
        }
    }
    let reply = match command(&String::from_utf8_lossy(&line), lanes, cross) {
        Ok(v) => v,
        Err(msg) => serde_json::json!({ "ok": false, "error": msg }),
    };
    let _ = writeln!(stream, "{reply}");
}

fn command(
    line: &str,
    lanes: &mut [Lane; 3],
    cross: &mut bool,
) -> std::result::Result<serde_json::Value, String> {
    let mut words: Vec<&str> = line.split_whitespace().collect();
    let dir = match words.last() {
        Some(&"ab") => Some(0),
        Some(&"ba") => Some(1),
        Some(&"both") => None,
        _ => None,
    };
    if matches!(words.last(), Some(&"ab" | &"ba" | &"both")) {
        words.pop();
    }
    let targets: Vec<usize> = match dir {
        Some(d) => vec![d],
        None => vec![0, 1, 2],
    };
    let num = |i: usize| -> std::result::Result<f64, String> {
        words
            .get(i)
            .ok_or_else(|| format!("missing argument {i} in {line:?}"))?
            .parse::<f64>()
            .map_err(|e| format!("bad number in {line:?}: {e}"))
    };
    let ok = serde_json::json!({ "ok": true });
    match words.first().copied() {
        Some("pass") => targets.iter().for_each(|&i| lanes[i].clear_faults()),
        Some("cut") => targets.iter().for_each(|&i| lanes[i].cut = true),
        Some("restore") => targets.iter().for_each(|&i| lanes[i].cut = false),
        Some("corrupt") => {
            let pct = num(1)?;
            if !(0.0..=100.0).contains(&pct) {
                return Err(format!("percent out of range: {pct}"));
            }
            let seed = words.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
            for &i in &targets {
                lanes[i].corrupt = pct / 100.0;
                lanes[i].rng = StdRng::seed_from_u64(seed + i as u64);
            }
        }
        Some("delay") => {
            let ms = num(1)?;
            if !(0.0..=60_000.0).contains(&ms) {
                return Err(format!("delay out of range: {ms} ms"));
            }
            let d = Duration::from_secs_f64(ms / 1000.0);
            targets.iter().for_each(|&i| lanes[i].delay = d);
        }
        Some("drop-first") => {
            let k: u64 = words
                .get(1)
                .and_then(|w| w.parse().ok())
                .ok_or_else(|| format!("drop-first needs a frame count: {line:?}"))?;
            for &i in &targets {
                lanes[i].drop_left = k;
                lanes[i].in_frame = false;
            }
        }
        Some("cross") => *cross = words.get(1) == Some(&"on"),
        Some("reset-stats") => lanes.iter_mut().for_each(|l| l.stats = DirStats::default()),
        Some("stats") => {
            let stats = RelayStats {
                ab: lanes[0].stats,
                ba: lanes[1].stats,
                xb: lanes[2].stats,
            };
            return Ok(serde_json::json!({ "ok": true, "stats": stats }));
        }
        _ => return Err(format!("unknown command {line:?}")),
    }
    Ok(ok)
}
