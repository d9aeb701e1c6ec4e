//! The control interface: operator commands to a running daemon (`twinbeat resume
//! --force-primary`, `twinbeat rejoin [--reclone]`, `twinbeat pause` and `resume`,
//! `twinbeat switchover`) and the status `twinbeat diagnose` reads beside it, over a
//! Unix stream socket in the state directory, never over TCP.
//!
//! The server (`server`) accepts a caller by its kernel credentials (`SO_PEERCRED`):
//! root, or a member of `control.group` (`access`); anyone else gets a one-line refusal
//! and a log line. A request is handed to the driver, which owns the engine, over a
//! channel ([`Operation`]); the engine decides, the answer carries its reason. The client
//! (`client`) is the CLI's side. `{"command":"status"}` changes nothing and is not
//! handed to the driver: the answer carries the status snapshot (`status`), the same
//! document as `/status`.
//!
//! The protocol: one JSON object per line each way, one request per connection.
//! `{"command":"resume","force_primary":true}` → `{"ok":true,"message":"..."}`, or
//! `{"ok":false,"message":"...","refusal":"engine"}` (`refusal` says who refused:
//! [`Refusal`]). Every read and write is bounded in time, a request in size.

mod access;
mod client;
mod server;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use crate::status::StatusSnapshot;

pub(crate) use client::{send, ClientError};
pub(crate) use server::{serve, ControlError};

/// The socket's file name inside `state_dir`.
pub(crate) const SOCKET_NAME: &str = "twinbeat.sock";

/// The largest request the server reads, newline included; a request is a few dozen
/// bytes, so anything longer is refused unread.
pub(crate) const MAX_REQUEST: usize = 1024;

/// The largest answer the client reads: a status snapshot is a few KiB.
pub(crate) const MAX_ANSWER: usize = 256 * 1024;

/// The bound of each read and write on a connection, on either side: a caller that
/// stalls cannot hold the server, and a daemon that stalls cannot hold the CLI.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// The control socket of the daemon whose state directory is `state_dir`: the one
/// place the daemon and the CLI take its path from.
pub(crate) fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join(SOCKET_NAME)
}

/// A request, as the caller sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case", deny_unknown_fields)]
pub(crate) enum Request {
    /// Without `force_primary`: end the maintenance pause (rule `maintenance-pause`).
    /// With it: release this node's hold (rule `hold-needs-evidence`), serving as
    /// primary without evidence about the peer.
    Resume {
        /// The operator's acknowledgement that the peer may have taken over: what
        /// turns `resume` into the release of a hold.
        #[serde(default)]
        force_primary: bool,
    },
    /// Pause the pair (rule `maintenance-pause`), for `for_ms` milliseconds or until
    /// resumed.
    Pause {
        /// How long; absent: until `resume`.
        #[serde(default)]
        for_ms: Option<u64>,
    },
    /// Make this fenced node the standby of the peer, which is primary in a higher
    /// term (rule `rejoin-after-fence`).
    Rejoin {
        /// Rebuild with `pg_basebackup` rather than rewind with `pg_rewind`.
        #[serde(default)]
        reclone: bool,
    },
    /// A planned switchover (rule `planned-switchover`), on either node.
    Switchover,
    /// The daemon's status snapshot; changes nothing.
    Status,
}

/// Who refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Refusal {
    /// The caller is neither root nor in `control.group`.
    Permission,
    /// The request does not parse, is too long, or lacks `force_primary`.
    Request,
    /// The engine refused (its reason is the message).
    Engine,
    /// The daemon could not answer: it is starting or stopping.
    Unavailable,
}

/// An answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Response {
    /// Whether the request was carried out.
    pub ok: bool,
    /// What happened, or why not, for the operator.
    pub message: String,
    /// Who refused, when `ok` is false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<Refusal>,
    /// The status snapshot, the answer to [`Request::Status`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Box<StatusSnapshot>>,
}

impl Response {
    /// A request carried out.
    pub(crate) fn done(message: impl Into<String>) -> Self {
        Self {
            ok: true,
            message: message.into(),
            refusal: None,
            status: None,
        }
    }

    /// The answer to [`Request::Status`].
    pub(crate) fn status(snapshot: StatusSnapshot) -> Self {
        Self {
            status: Some(Box::new(snapshot)),
            ..Self::done("status")
        }
    }

    /// A request refused by `who`; the message starts with "refused: ".
    pub(crate) fn refused(who: Refusal, why: impl std::fmt::Display) -> Self {
        Self {
            ok: false,
            message: format!("refused: {why}"),
            refusal: Some(who),
            status: None,
        }
    }
}

/// What the driver is asked to do for an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Command {
    /// Release the hold (`Engine::release_hold`).
    ReleaseHold,
    /// Pause the pair (`Engine::pause`), for this long or until resumed.
    Pause(Option<Duration>),
    /// End the pause (`Engine::unpause`).
    Unpause,
    /// Rejoin the peer (`Engine::request_rejoin`).
    Rejoin {
        /// With `pg_basebackup`.
        reclone: bool,
    },
    /// A planned switchover (`Engine::request_switchover`).
    Switchover,
}

impl Command {
    /// The command line that asks for it, as the log names it.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Command::ReleaseHold => "resume --force-primary",
            Command::Pause(_) => "pause",
            Command::Unpause => "resume",
            Command::Rejoin { reclone: false } => "rejoin",
            Command::Rejoin { reclone: true } => "rejoin --reclone",
            Command::Switchover => "switchover",
        }
    }
}

/// A command for the driver and where its answer goes: `Ok` with what was done, or
/// `Err` with the engine's reason for refusing.
#[derive(Debug)]
pub(crate) struct Operation {
    /// The command.
    pub command: Command,
    /// Who asked (for the log).
    pub caller: String,
    /// The answer.
    pub reply: oneshot::Sender<Result<String, String>>,
}
