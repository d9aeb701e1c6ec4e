//! The operator's maintenance pause on disk (rule `maintenance-pause`):
//! `maintenance.json` in `state_dir`, written when an operator pauses on this node and
//! removed when the pause ends, so a restarted daemon is still paused. Its end is
//! kept on the wall clock (the engine's clock starts again at each run); who paused
//! it is kept for the status page. A pause heard from the peer is never written: the
//! peer's frames bring it back.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::state_file::{replace_durably, StateError};

/// The file name inside `state_dir`.
const FILE_NAME: &str = "maintenance.json";

/// The record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PauseRecord {
    /// When it ends by itself, in milliseconds since the Unix epoch; `None`: when an
    /// operator resumes.
    pub until_unix_ms: Option<u64>,
    /// Who paused it (the control socket's caller).
    pub by: String,
    /// When, in milliseconds since the Unix epoch.
    pub since_unix_ms: u64,
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl PauseRecord {
    /// A pause starting now for `left` (`None`: until resumed), by `by`.
    pub(crate) fn new(left: Option<Duration>, by: impl Into<String>) -> Self {
        let now = SystemTime::now();
        Self {
            until_unix_ms: left.map(|d| unix_ms(now + d)),
            by: by.into(),
            since_unix_ms: unix_ms(now),
        }
    }

    /// What is left of it now; `Some(None)`: until resumed; `None`: over.
    pub(crate) fn left(&self) -> Option<Option<Duration>> {
        match self.until_unix_ms {
            None => Some(None),
            Some(until) => {
                let now = unix_ms(SystemTime::now());
                (until > now).then(|| Some(Duration::from_millis(until - now)))
            }
        }
    }
}

/// `maintenance.json` in a state directory.
#[derive(Debug, Clone)]
pub(crate) struct PauseStore {
    dir: PathBuf,
}

impl PauseStore {
    pub(crate) fn new(state_dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: state_dir.into(),
        }
    }

    fn path(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    /// The pause on disk; a missing file is none, an unreadable one is reported and
    /// read as none (the rules then run unpaused: the safe side of a lost pause).
    pub(crate) fn load(&self) -> Option<PauseRecord> {
        let path = self.path();
        let bytes = std::fs::read(&path).ok()?;
        match serde_json::from_slice(&bytes) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::warn!(
                    "{}: unreadable ({e}): starting without a maintenance pause",
                    path.display()
                );
                None
            }
        }
    }

    /// Writes `record`, or removes the file (`None`).
    pub(crate) fn save(&self, record: Option<&PauseRecord>) -> Result<(), StateError> {
        match record {
            Some(r) => {
                let mut body = serde_json::to_vec_pretty(r).unwrap_or_default();
                body.push(b'\n');
                replace_durably(&self.dir, FILE_NAME, &body)
            }
            None => match std::fs::remove_file(self.path()) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(source) => Err(StateError::Io {
                    path: self.path(),
                    op: "remove",
                    source,
                }),
            },
        }
    }

    /// The directory (for messages).
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pause_round_trips_and_its_end_counts_down() {
        let dir = tempfile::tempdir().unwrap();
        let store = PauseStore::new(dir.path());
        assert_eq!(store.load(), None);
        let r = PauseRecord::new(Some(Duration::from_secs(600)), "uid 0");
        store.save(Some(&r)).unwrap();
        let back = store.load().unwrap();
        assert_eq!(back, r);
        let left = back.left().unwrap().unwrap();
        assert!(left <= Duration::from_secs(600) && left > Duration::from_secs(590));
        let forever = PauseRecord::new(None, "uid 0");
        assert_eq!(forever.left(), Some(None));
        let over = PauseRecord {
            until_unix_ms: Some(1),
            ..r
        };
        assert_eq!(over.left(), None);
        store.save(None).unwrap();
        assert_eq!(store.load(), None);
        store.save(None).unwrap();
    }
}
