//! Boots the bridge firmware in QEMU with its UARTs on Unix sockets, and
//! talks protocol frames to them.

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use twinbeat_protocol::{
    encode, ClusterFilter, ClusterId, Deframer, Extensions, Feed, Frame, Message, NodeId,
    NodeState, Ping, Role, MAX_FRAME_LEN,
};

/// The environment variable naming the firmware ELF to boot.
pub(crate) const ELF_VAR: &str = "TWINBEAT_LINK_ELF";

/// The cluster the test hosts belong to.
pub(crate) const CLUSTER: ClusterId = ClusterId(0x7E57_0001);

/// How long anything the firmware should do may take before a test gives up
/// (generous: QEMU on a loaded two-core machine).
pub(crate) const PATIENCE: Duration = Duration::from_secs(10);

/// The environment variable naming the firmware built with the
/// `watchdog-demo` feature (stops feeding the watchdog after 2 s).
pub(crate) const WDT_ELF_VAR: &str = "TWINBEAT_LINK_WDT_ELF";

/// QEMU's machine options. `-no-reboot` turns a reset (the watchdog firing)
/// into QEMU exiting, so a test sees it instead of a silent reboot.
pub(crate) const QEMU_ARGS: [&str; 9] = [
    "-M",
    "lm3s6965evb",
    "-display",
    "none",
    "-monitor",
    "none",
    "-no-reboot",
    "-semihosting-config",
    "enable=on,target=native",
];

/// The firmware ELF, or a panic that says how to get one.
pub(crate) fn firmware_elf() -> PathBuf {
    elf_from(ELF_VAR, "")
}

/// The `watchdog-demo` firmware ELF, or a panic that says how to get one.
pub(crate) fn watchdog_demo_elf() -> PathBuf {
    elf_from(
        WDT_ELF_VAR,
        " --features watchdog-demo --target-dir target/watchdog-demo",
    )
}

fn elf_from(var: &str, build_args: &str) -> PathBuf {
    let Some(path) = std::env::var_os(var) else {
        panic!(
            "{var} is not set. Build the firmware and point it at the ELF:\n  \
             (cd link-firmware/boards/lm3s6965evb && cargo build --release{build_args})\n  \
             see link-firmware/README.md, \"Testing in QEMU\""
        )
    };
    let path = PathBuf::from(path);
    assert!(path.is_file(), "{var}={} is not a file", path.display());
    path
}

/// A running QEMU; killed (by PID) and reaped when dropped.
pub(crate) struct Qemu {
    child: Child,
    dir: PathBuf,
    /// Host A's end of UART0.
    pub(crate) a: Line,
    /// Host B's end of UART1.
    pub(crate) b: Line,
}

impl Qemu {
    /// Boots the firmware and connects to both UARTs.
    pub(crate) fn boot() -> Qemu {
        static RUN: AtomicU32 = AtomicU32::new(0);
        let elf = firmware_elf();
        let dir = std::env::temp_dir().join(format!(
            "twinbeat-link-qemu-{}-{}",
            std::process::id(),
            RUN.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let sock = |name: &str| dir.join(name);
        let serial = |path: &Path| format!("unix:{},server=on,wait=off", path.display());
        let child = Command::new("qemu-system-arm")
            .args(QEMU_ARGS)
            .args(["-serial", &serial(&sock("uart0.sock"))])
            .args(["-serial", &serial(&sock("uart1.sock"))])
            .arg("-kernel")
            .arg(&elf)
            .stdin(Stdio::null())
            // defmt's binary log; decode it with `defmt-print -e ELF` when debugging by hand.
            .stdout(std::fs::File::create(dir.join("defmt.bin")).expect("log file"))
            .stderr(std::fs::File::create(dir.join("qemu.err")).expect("log file"))
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start qemu-system-arm (apt-get install qemu-system-arm): {e}")
            });
        let mut qemu = Qemu {
            child,
            a: Line::placeholder(),
            b: Line::placeholder(),
            dir,
        };
        qemu.a = qemu.connect("uart0.sock");
        qemu.b = qemu.connect("uart1.sock");
        qemu
    }

    fn connect(&mut self, name: &str) -> Line {
        let path = self.dir.join(name);
        let deadline = Instant::now() + PATIENCE;
        loop {
            match UnixStream::connect(&path) {
                Ok(stream) => return Line::new(stream),
                Err(e) if Instant::now() > deadline => {
                    panic!("QEMU socket {}: {e}; {}", path.display(), self.stderr())
                }
                Err(_) => {
                    if let Ok(Some(status)) = self.child.try_wait() {
                        panic!("QEMU exited early ({status}): {}", self.stderr());
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("qemu.err")).unwrap_or_default()
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A byte stream a test host talks over: a Unix socket to QEMU, or one end
/// of a pty pair or socket pair for the bridge-less baselines.
pub(crate) trait Duplex: Read + Write + Send {}
impl<T: Read + Write + Send> Duplex for T {}

/// One host's end of the serial line: writes bytes, collects frames.
pub(crate) struct Line {
    stream: Option<Box<dyn Duplex>>,
    /// A read of 0 bytes means "nothing yet" (a pty in VMIN=0 mode), not EOF.
    zero_is_timeout: bool,
    /// Every frame ever received (the checks for what must never arrive).
    pub(crate) history: Vec<Frame>,
    deframer: Deframer<MAX_FRAME_LEN>,
    /// Every frame received, with its bytes as they came on the line
    /// (`0x00 · raw · 0x00`), oldest first, not yet taken.
    pub(crate) frames: Vec<(Frame, Vec<u8>)>,
    /// Frames that failed to decode (the bridge must never send one).
    pub(crate) bad_frames: u32,
}

impl Line {
    /// A line with no stream (to move the real one out of a [`Qemu`]).
    pub(crate) fn placeholder() -> Line {
        Line {
            stream: None,
            zero_is_timeout: false,
            history: Vec::new(),
            deframer: Deframer::new(ClusterFilter::Only(CLUSTER)),
            frames: Vec::new(),
            bad_frames: 0,
        }
    }

    /// A line over a Unix socket (also used for the socket-pair baseline).
    pub(crate) fn new(stream: UnixStream) -> Line {
        stream
            .set_read_timeout(Some(Duration::from_millis(20)))
            .expect("timeout");
        Line {
            stream: Some(Box::new(stream)),
            ..Line::placeholder()
        }
    }

    /// A line over a stream whose reads return 0 bytes on time-out.
    pub(crate) fn polled(stream: impl Duplex + 'static) -> Line {
        Line {
            stream: Some(Box::new(stream)),
            zero_is_timeout: true,
            ..Line::placeholder()
        }
    }

    fn stream(&mut self) -> &mut Box<dyn Duplex> {
        self.stream.as_mut().expect("connected")
    }

    /// Puts bytes on the line.
    pub(crate) fn send(&mut self, bytes: &[u8]) {
        self.stream()
            .write_all(bytes)
            .expect("write to UART socket");
    }

    /// Reads whatever arrives for up to one read timeout.
    fn pump(&mut self) {
        let mut buf = [0u8; 256];
        let n = match self.stream().read(&mut buf) {
            Ok(0) if self.zero_is_timeout => return,
            Ok(0) => panic!("UART socket closed: QEMU died?"),
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return,
            Err(e) => panic!("read UART socket: {e}"),
        };
        let mut window = &buf[..n];
        while !window.is_empty() {
            match self.deframer.feed(window) {
                Feed::Consumed => break,
                Feed::Frame {
                    frame,
                    raw,
                    remaining,
                    ..
                } => {
                    self.history.push(frame);
                    self.frames.push((frame, [&[0u8][..], raw, &[0]].concat()));
                    window = remaining;
                }
                Feed::Error { remaining, .. } => {
                    self.bad_frames += 1;
                    window = remaining;
                }
            }
        }
    }

    /// Waits up to `within` for a frame matching `want`, removing it and
    /// every frame before it; `None` on time-out.
    pub(crate) fn wait_for(
        &mut self,
        within: Duration,
        want: impl Fn(&Frame) -> bool,
    ) -> Option<(Frame, Vec<u8>)> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(at) = self.frames.iter().position(|(f, _)| want(f)) {
                return self.frames.drain(..=at).next_back();
            }
            if Instant::now() > deadline {
                return None;
            }
            self.pump();
        }
    }

    /// Collects frames for `during`.
    pub(crate) fn listen(&mut self, during: Duration) {
        let deadline = Instant::now() + during;
        while Instant::now() < deadline {
            self.pump();
        }
    }
}

/// A host's state as carried in pings.
pub(crate) fn state() -> NodeState {
    NodeState {
        role: Role::Standby,
        term: 2,
        fenced: false,
        db_healthy: true,
        gateway_up: true,
        wal_lsn: 0x0100_0028,
    }
}

/// The bytes of `message` from `sender` in the test cluster.
pub(crate) fn wire(sender: u32, message: Message) -> Vec<u8> {
    let frame = Frame {
        cluster: CLUSTER,
        sender: NodeId(sender),
        message,
    };
    let mut out = [0u8; MAX_FRAME_LEN];
    let n = encode(&frame, &mut out).expect("encode");
    out[..n].to_vec()
}

/// A ping from node `sender`.
pub(crate) fn ping(sender: u32, seq: u32) -> Vec<u8> {
    wire(
        sender,
        Message::Ping(Ping {
            seq,
            state: state(),
            extensions: Extensions::NONE,
        }),
    )
}

/// Whether `frame` is the ping or ack with this `seq`.
pub(crate) fn is_seq(frame: &Frame, seq: u32) -> bool {
    matches!(frame.message, Message::Ping(p) if p.seq == seq)
        || matches!(frame.message, Message::Ack(a) if a.seq == seq)
}
