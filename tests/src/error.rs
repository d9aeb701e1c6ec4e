//! The lab's one error type.

use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong while building, driving or tearing down a lab.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// The lab needs root (network namespaces, nftables, running PostgreSQL as `postgres`).
    #[error("the lab needs root: {0}")]
    NotRoot(String),
    /// A tool the lab runs is not installed.
    #[error("missing tool {tool} ({hint})")]
    MissingTool {
        /// The program that was not found.
        tool: String,
        /// What provides it.
        hint: String,
    },
    /// A command could not be started.
    #[error("could not start `{cmd}`: {source}")]
    Spawn {
        /// The command line.
        cmd: String,
        /// Why.
        source: std::io::Error,
    },
    /// A command ran but failed.
    #[error("`{cmd}` failed ({status}): {stderr}")]
    Command {
        /// The command line.
        cmd: String,
        /// Its exit status, as text.
        status: String,
        /// What it printed on standard error (trimmed).
        stderr: String,
    },
    /// A bounded wait ran out.
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// The bound that was exceeded.
        after: Duration,
    },
    /// A file-system operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A system call failed.
    #[error("{what}: {source}")]
    Sys {
        /// What was attempted.
        what: String,
        /// The errno.
        source: nix::Error,
    },
    /// A PostgreSQL query or connection failed.
    #[error("PostgreSQL on {node}: {message}")]
    Postgres {
        /// The node name.
        node: String,
        /// The error text.
        message: String,
    },
    /// The relay's control socket answered with an error or not at all.
    #[error("serial relay: {0}")]
    Relay(String),
    /// The heartbeat bridge cable (firmware in QEMU) could not be found or run.
    #[error("bridge cable: {0}")]
    Bridge(String),
    /// Output of a tool could not be understood.
    #[error("could not parse {what}: {detail}")]
    Parse {
        /// What was being parsed.
        what: String,
        /// Why it failed.
        detail: String,
    },
    /// No free lab id was left (all of 1..=250 are taken).
    #[error("no free lab id (1..=250): remove old labs with `cargo lab down`")]
    NoFreeId,
    /// The `twinbeat` binary is missing and could not be built.
    #[error("twinbeat binary unavailable: {0}")]
    Daemon(String),
}

/// The lab's result type.
pub type Result<T, E = LabError> = std::result::Result<T, E>;

/// Attaches a path to an I/O error.
pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> LabError {
    let path = path.into();
    move |source| LabError::Io { path, source }
}

/// Attaches a description to a system-call error.
pub(crate) fn sys_err(what: impl Into<String>) -> impl FnOnce(nix::Error) -> LabError {
    let what = what.into();
    move |source| LabError::Sys { what, source }
}
