//! `twinbeat run` as the tests drive it: its configuration ([`DaemonConfig`], written for
//! the lab's nodes by [`Profile`]), the binary, the running process ([`DaemonProcess`]) and
//! its status.

mod config;
mod process;
mod profile;

pub use config::{
    Checks, Control, DaemonConfig, Failover, Fence, Gateway, Hooks, Icmp, LocalDb, Peer,
    ReplicationSection, Serial, Service, Status, Timing, Vip,
};
pub use process::DaemonProcess;
pub use profile::Profile;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::error::{io_err, LabError, Result};
use crate::netns::{Node, Topology};

/// Where each daemon serves its status, inside its own namespace.
pub const STATUS_LISTEN: &str = "127.0.0.1:8432";

/// Finds the release build of `twinbeat`: `$TWINBEAT_BIN`, else `twinbeat` beside the running
/// executable (or its parent, for test binaries in `deps/`), else `<target>/release/twinbeat`.
pub fn find_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("TWINBEAT_BIN") {
        return Some(PathBuf::from(p));
    }
    let exe = std::env::current_exe().ok()?;
    let mut candidates = Vec::new();
    for dir in exe.ancestors().skip(1).take(2) {
        candidates.push(dir.join("twinbeat"));
    }
    candidates.push(target_dir().join("release").join("twinbeat"));
    candidates.into_iter().find(|p| p.is_file())
}

fn workspace_root() -> PathBuf {
    // tests/ is one level below the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// The `twinbeat` binary, built with `cargo build --release -p twinbeat` if it is missing.
pub fn binary_or_build() -> Result<PathBuf> {
    if let Some(p) = find_binary() {
        return Ok(p);
    }
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(["build", "--release", "-p", "twinbeat"])
        .current_dir(workspace_root());
    crate::cmd::run_within(cmd, Duration::from_secs(1800))
        .map_err(|e| LabError::Daemon(format!("cargo build --release -p twinbeat: {e}")))?;
    find_binary()
        .ok_or_else(|| LabError::Daemon("built, but target/release/twinbeat is not there".into()))
}

/// `binary run --config <config>` inside namespace `ns`.
pub fn run_command(ns: &str, binary: &Path, config: &Path) -> Command {
    let mut cmd = crate::netns::exec_in(ns, &binary.to_string_lossy(), &["run", "--config"]);
    cmd.arg(config);
    cmd
}

/// The command line of `node`'s daemon inside its namespace.
pub fn argv(topo: &Topology, node: Node, binary: &Path, config: &Path) -> Vec<String> {
    let cmd = run_command(&topo.ns(node.host()), binary, config);
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|s| s.to_string_lossy().into_owned())
        .collect()
}

/// `binary status --json --config <config>` inside namespace `ns`, parsed; `None` while
/// the daemon does not answer.
pub fn status_json(ns: &str, binary: &Path, config: &Path) -> Option<serde_json::Value> {
    let mut cmd = crate::netns::exec_in(
        ns,
        &binary.to_string_lossy(),
        &["status", "--json", "--config"],
    );
    cmd.arg(config);
    let out = crate::cmd::output_within(cmd, Duration::from_secs(10)).ok()?;
    serde_json::from_slice(&out.stdout).ok()
}

/// The daemon's persisted state (`<state_dir>/state.json`), if it is there and parses.
pub fn persisted_state(state_dir: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(state_dir.join("state.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// Writes `text` to `path` with mode 0600 (it names a password file).
pub fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).map_err(io_err(path))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io_err(path))
}

/// GETs `path` (e.g. "/status") from `node`'s daemon, inside its namespace. Returns the body.
pub fn http_get(topo: &Topology, node: Node, path: &str) -> Result<String> {
    let addr: SocketAddr = STATUS_LISTEN.parse().map_err(|e| LabError::Parse {
        what: "status address".into(),
        detail: format!("{e}"),
    })?;
    topo.in_netns(node.host(), || http_get_at(addr, path))?
}

/// GETs `path` from the HTTP server at `addr` (HTTP/1.0, so the body is never chunked).
/// Returns the body.
pub fn http_get_at(addr: SocketAddr, path: &str) -> Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
        .map_err(io_err(format!("connect {addr}")))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(io_err("set_read_timeout"))?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .map_err(io_err("write request"))?;
    let mut text = String::new();
    s.read_to_string(&mut text)
        .map_err(io_err(format!("http://{addr}{path}")))?;
    Ok(text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or(text))
}

/// Writes `<state_dir>/state.json` as the daemon persists it (format version 1):
/// `state` is `standby`, `promoting`, `primary` or `fenced`. Seeds a node's persisted
/// state before `twinbeat run` starts.
pub fn write_persisted_state(state_dir: &Path, state: &str, term: u64, reason: &str) -> Result<()> {
    std::fs::create_dir_all(state_dir).map_err(io_err(state_dir))?;
    let since_unix_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    let doc = serde_json::json!({
        "version": 1,
        "state": state,
        "term": term,
        "reason": reason,
        "since_unix_ms": since_unix_ms,
    });
    let path = state_dir.join("state.json");
    let text = serde_json::to_string_pretty(&doc).map_err(|e| LabError::Parse {
        what: "state file".into(),
        detail: e.to_string(),
    })?;
    std::fs::write(&path, text + "\n").map_err(io_err(&path))
}
