//! The persisted term and state (rules `promotion-order` and `hold-needs-evidence`).
//!
//! One small JSON file, `state.json` in `state_dir`, replaced atomically: the new
//! content goes to a temporary file in the same directory, is fsynced, renamed over
//! the old file, and the directory is fsynced so the rename itself is durable. A crash
//! at any point leaves either the old or the new file, never a mix.
//!
//! Reading: a missing file is `Ok(None)` (see [`StateStore::load`] for the safe
//! default); a file that does not parse is [`StateError::Corrupt`], which the daemon
//! must treat as fatal: it never guesses a role from a damaged file.
//!
//! The role is the engine's [`PersistedRole`]; its spelling in the file
//! (`"standby"`, `"promoting"`, `"primary"`, `"fenced"`, `"rejoining"`) is defined
//! here alone.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use twinbeat_core::{self as engine, PersistedRole};

/// The file name inside `state_dir`.
pub(crate) const STATE_FILE_NAME: &str = "state.json";
/// The version written in the file; a file with another version is refused.
const FORMAT_VERSION: u32 = 1;

/// The file's spelling of a [`PersistedRole`] (serde's remote derive: it must
/// list exactly the engine's variants, or this does not compile).
#[derive(Serialize, Deserialize)]
#[serde(remote = "PersistedRole", rename_all = "kebab-case")]
enum PersistedRoleInFile {
    Standby,
    Promoting,
    Primary,
    Fenced,
    Rejoining,
    /// `{"demoting": {"to": 2, "final_lsn": 50331688}}` (rule `planned-switchover`).
    Demoting {
        #[serde(with = "NodeIdInFile")]
        to: engine::NodeId,
        final_lsn: Option<u64>,
    },
}

/// A node id as the file writes it: its number.
#[derive(Serialize, Deserialize)]
#[serde(remote = "engine::NodeId")]
struct NodeIdInFile(u32);

/// The persisted record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PersistedState {
    /// Format version (`FORMAT_VERSION`).
    pub version: u32,
    /// What this node last committed to doing: "promoting" is written before
    /// `pg_promote` runs (rule `promotion-order`); "fenced" is sticky until an
    /// operator rejoins the node (rule `fence-sequence`).
    #[serde(with = "PersistedRoleInFile")]
    pub state: PersistedRole,
    /// The term this state belongs to.
    pub term: u64,
    /// Why the node entered this state (shown by `twinbeat status`).
    pub reason: String,
    /// When it was written, in milliseconds since the Unix epoch.
    pub since_unix_ms: u64,
}

impl PersistedState {
    /// A record stamped with the current wall-clock time.
    pub(crate) fn new(state: PersistedRole, term: u64, reason: impl Into<String>) -> Self {
        let since_unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        Self {
            version: FORMAT_VERSION,
            state,
            term,
            reason: reason.into(),
            since_unix_ms,
        }
    }

    /// The documented default for a node without a state file: standby, term 0.
    ///
    /// This is safe because the role at start-up comes from PostgreSQL (rule
    /// `hold-needs-evidence`): a node whose PostgreSQL is out of recovery is a primary
    /// whatever this says, and term 0 is below any term a promotion ever wrote, so a
    /// node with no file never wins a term comparison against a node that promoted.
    pub(crate) fn default_missing() -> Self {
        Self {
            version: FORMAT_VERSION,
            state: PersistedRole::Standby,
            term: 0,
            reason: "no state file (never promoted by twinbeat)".to_owned(),
            since_unix_ms: 0,
        }
    }

    /// The engine's view of this record: role and term.
    pub(crate) fn engine_state(&self) -> engine::PersistedState {
        engine::PersistedState {
            role: self.state,
            term: self.term,
        }
    }
}

/// Errors of the state file.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StateError {
    /// The file or directory could not be read, written, synced or renamed.
    #[error("state file {path}: {op}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The file exists but is not a valid state record: refuse to guess.
    #[error("state file {path} is corrupt ({reason}); refusing to start: inspect it, then fix or remove it")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// The state file of one node.
#[derive(Debug, Clone)]
pub(crate) struct StateStore {
    dir: PathBuf,
}

impl StateStore {
    /// A store in `state_dir` (created on the first save if missing).
    pub(crate) fn new(state_dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: state_dir.into(),
        }
    }

    /// The path of the state file.
    pub(crate) fn path(&self) -> PathBuf {
        self.dir.join(STATE_FILE_NAME)
    }

    /// Reads the state. `Ok(None)` when there is no file: the caller then uses
    /// [`PersistedState::default_missing`] together with what PostgreSQL says.
    pub(crate) fn load(&self) -> Result<Option<PersistedState>, StateError> {
        let path = self.path();
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StateError::Io {
                    path,
                    op: "read",
                    source,
                })
            }
        };
        let state: PersistedState =
            serde_json::from_slice(&bytes).map_err(|e| StateError::Corrupt {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        if state.version != FORMAT_VERSION {
            return Err(StateError::Corrupt {
                path,
                reason: format!(
                    "format version {} (this twinbeat reads {FORMAT_VERSION})",
                    state.version
                ),
            });
        }
        Ok(Some(state))
    }

    /// Writes `state` atomically and durably (temp file, fsync, rename, fsync dir).
    ///
    /// Blocking: a few milliseconds for the two fsyncs. Rule `promotion-order` needs
    /// it on disk before the next step, so the caller awaits it (e.g. in
    /// `spawn_blocking`).
    pub(crate) fn save(&self, state: &PersistedState) -> Result<(), StateError> {
        let mut body = serde_json::to_vec_pretty(state).map_err(|e| StateError::Corrupt {
            path: self.path(),
            reason: format!("cannot serialise: {e}"),
        })?;
        body.push(b'\n');
        replace_durably(&self.dir, STATE_FILE_NAME, &body)
    }

    /// [`save`](Self::save) on tokio's blocking pool.
    pub(crate) async fn save_async(&self, state: PersistedState) -> Result<(), StateError> {
        let store = self.clone();
        match tokio::task::spawn_blocking(move || store.save(&state)).await {
            Ok(r) => r,
            Err(join) => Err(StateError::Io {
                path: self.path(),
                op: "save task",
                source: io::Error::other(join.to_string()),
            }),
        }
    }
}

#[cfg(test)]
mod tests;

/// Replaces `<dir>/<name>` with `body` atomically and durably: a temp file, fsynced,
/// renamed over the old one, the directory fsynced so the rename is too. A crash at
/// any point leaves the old file or the new one, never a mix. Blocking: a few
/// milliseconds for the two fsyncs.
pub(crate) fn replace_durably(dir: &Path, name: &str, body: &[u8]) -> Result<(), StateError> {
    let io_err = |path: &Path, op: &'static str| {
        let path = path.to_path_buf();
        move |source| StateError::Io { path, op, source }
    };
    fs::create_dir_all(dir).map_err(io_err(dir, "create directory"))?;
    // A per-process temp name: two writers never share a half-written file.
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(io_err(&tmp, "create temp file"))?;
        f.write_all(body).map_err(io_err(&tmp, "write temp file"))?;
        f.sync_all().map_err(io_err(&tmp, "fsync temp file"))?;
    }
    let path = dir.join(name);
    fs::rename(&tmp, &path).map_err(io_err(&path, "rename"))?;
    remove_stale_temp_files(dir, name, &tmp);
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir, "fsync directory"))?;
    Ok(())
}

/// Removes temp files of `name` left by a writer that died mid-write (one daemon owns
/// a state directory, so any other temp file is stale). Best effort.
fn remove_stale_temp_files(dir: &Path, name: &str, ours: &Path) {
    let prefix = format!(".{name}.tmp-");
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let stale = p != ours
            && e.file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(&prefix));
        if stale {
            let _ = fs::remove_file(p);
        }
    }
}
