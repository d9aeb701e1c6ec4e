//! The serial cable through the heartbeat bridge firmware (`link-firmware`) running in
//! QEMU `lm3s6965evb`, instead of the relay.
//!
//! QEMU maps its `-serial` options to UART0 then UART1. Each is a `pty` chardev: QEMU
//! makes a pseudo-terminal and says which (`char device redirected to /dev/pts/N (label
//! serialK)`); the lab links them as `<labdir>/a.tty` (UART0, side A) and `<labdir>/b.tty`
//! (UART1, side B), the same paths the relay cable uses, so the daemons' configs differ
//! only by `checks.serial.bridge = true`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::Lab;
use crate::error::{io_err, LabError, Result};
use crate::netns::Node;
use crate::procs::ProcId;

/// The environment variable naming the firmware ELF (exported by `tests/run-all.sh`
/// from `link-firmware/ci.sh elf-paths`).
pub const ELF_VAR: &str = "TWINBEAT_LINK_ELF";

/// How to get an ELF, for the error when there is none.
const BUILD_HINT: &str = "build the bridge firmware first: `link-firmware/ci.sh` (or \
     `cd link-firmware/boards/lm3s6965evb && cargo build --release`), then export the \
     paths it prints with `link-firmware/ci.sh elf-paths` (tests/run-all.sh does both)";

/// The bridge firmware ELF: `$TWINBEAT_LINK_ELF`, else the path `link-firmware/ci.sh
/// elf-paths` gives. Missing is an error that says how to build it (never a skip).
pub fn firmware_elf() -> Result<PathBuf> {
    let path = match std::env::var_os(ELF_VAR) {
        Some(p) => PathBuf::from(p),
        None => elf_from_ci_script()?,
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(LabError::Bridge(format!(
            "no firmware ELF at {}: {BUILD_HINT}",
            path.display()
        )))
    }
}

fn elf_from_ci_script() -> Result<PathBuf> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../link-firmware/ci.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg("elf-paths")
        .output()
        .map_err(|source| LabError::Spawn {
            cmd: format!("{} elf-paths", script.display()),
            source,
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{ELF_VAR}=")))
        .map(PathBuf::from)
        .ok_or_else(|| {
            LabError::Bridge(format!(
                "{} elf-paths printed no {ELF_VAR}: {BUILD_HINT}",
                script.display()
            ))
        })
}

impl Lab {
    pub(super) fn start_bridge(&self) -> Result<()> {
        let cable = BridgeCable::start(&self.dir, &firmware_elf()?)?;
        if let Some(p) = ProcId::of(cable.pid() as i32, "qemu bridge") {
            self.register(p);
        }
        if let Ok(mut b) = self.bridge.lock() {
            *b = Some(cable);
        }
        Ok(())
    }

    /// Whether the serial cable runs through the bridge firmware.
    pub fn has_bridge(&self) -> bool {
        self.opts.bridge
    }

    /// The bridge dies (QEMU killed): both nodes' serial devices go dead.
    pub fn kill_bridge(&self) -> Result<()> {
        let mut guard = self
            .bridge
            .lock()
            .map_err(|_| LabError::Bridge("lock poisoned".into()))?;
        match guard.as_mut() {
            Some(cable) => cable.kill(),
            None => Err(LabError::Bridge("this lab has no bridge cable".into())),
        }
    }

    /// Node `n`'s serial device, whichever cable the lab runs.
    pub fn serial_device(&self, n: Node) -> PathBuf {
        tty_link(&self.dir, n)
    }
}

/// The running bridge: QEMU with the firmware, its UARTs linked at `<labdir>/{a,b}.tty`.
#[derive(Debug)]
pub struct BridgeCable {
    child: Child,
    links: [PathBuf; 2],
}

impl BridgeCable {
    /// Boots the firmware and links its UARTs into `dir`.
    pub fn start(dir: &Path, elf: &Path) -> Result<Self> {
        let err_path = dir.join("qemu.err");
        let err = std::fs::File::create(&err_path).map_err(io_err(&err_path))?;
        let out_path = dir.join("bridge-defmt.bin");
        let out = std::fs::File::create(&out_path).map_err(io_err(&out_path))?;
        let child = Command::new("qemu-system-arm")
            .args(["-M", "lm3s6965evb", "-display", "none", "-monitor", "none"])
            // QEMU names the ptys on stdout; then the firmware's defmt log over
            // semihosting follows (decode with `defmt-print -e ELF`).
            .args(["-semihosting-config", "enable=on,target=native"])
            .args(["-serial", "pty", "-serial", "pty"])
            .arg("-kernel")
            .arg(elf)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|source| LabError::Spawn {
                cmd: "qemu-system-arm (apt-get install qemu-system-arm)".into(),
                source,
            })?;
        let mut cable = BridgeCable {
            child,
            links: Node::BOTH.map(|n| tty_link(dir, n)),
        };
        let ptys = cable.wait_for_ptys(&out_path, &err_path)?;
        for (link, pty) in cable.links.iter().zip(ptys) {
            let _ = std::fs::remove_file(link);
            std::os::unix::fs::symlink(&pty, link).map_err(io_err(link))?;
        }
        Ok(cable)
    }

    /// QEMU prints one "redirected to /dev/pts/N (label serialK)" line per UART on its
    /// stdout, before the firmware's binary defmt log starts there.
    fn wait_for_ptys(&mut self, out_path: &Path, err_path: &Path) -> Result<[PathBuf; 2]> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = std::fs::read(out_path).unwrap_or_default();
            let text = String::from_utf8_lossy(&out);
            let pty = |label: &str| {
                text.lines()
                    .filter(|l| l.contains(&format!("(label {label})")))
                    .find_map(|l| l.split_whitespace().find(|w| w.starts_with("/dev/pts/")))
                    .map(PathBuf::from)
            };
            if let (Some(a), Some(b)) = (pty("serial0"), pty("serial1")) {
                return Ok([a, b]);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                let err = std::fs::read_to_string(err_path).unwrap_or_default();
                return Err(LabError::Bridge(format!(
                    "QEMU exited at start ({status}): {}",
                    err.trim()
                )));
            }
            if Instant::now() > deadline {
                return Err(LabError::Timeout {
                    what: format!("QEMU's serial ptys in {}", out_path.display()),
                    after: Duration::from_secs(10),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// QEMU's PID (the lab records it for teardown).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The bridge dies: QEMU is killed and reaped; the tty links stay, dangling, as a
    /// cable whose box lost power.
    pub fn kill(&mut self) -> Result<()> {
        if self.child.try_wait().ok().flatten().is_none() {
            self.child
                .kill()
                .map_err(|e| LabError::Bridge(format!("kill QEMU: {e}")))?;
        }
        self.child
            .wait()
            .map_err(|e| LabError::Bridge(format!("reap QEMU: {e}")))?;
        Ok(())
    }
}

impl Drop for BridgeCable {
    fn drop(&mut self) {
        let _ = self.kill();
        for l in &self.links {
            let _ = std::fs::remove_file(l);
        }
    }
}

/// Node `n`'s serial device: the same path as the relay's (`<labdir>/<node>.tty`).
fn tty_link(dir: &Path, n: Node) -> PathBuf {
    dir.join(format!("{}.tty", n.name()))
}
