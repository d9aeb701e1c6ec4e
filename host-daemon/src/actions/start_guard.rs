//! The start guard (rule `start-guard`): `standby.signal` kept in the data directory of a
//! running primary.
//!
//! PostgreSQL reads signal files only at start-up, and removes `standby.signal`
//! itself when promoted, so the file changes nothing for the running primary. What
//! it changes is every start the daemon did not order — a reboot, a crash restart,
//! an operator's `pg_ctl start`: the server comes up in recovery, read-only, and the
//! daemon decides (hold, then fence or re-open with `pg_promote`). This is Patroni's
//! "start as a replica until the leader key is held", without a DCS.
//!
//! The daemon arms the guard only on a primary, and disarms it only around a
//! restart it orders on that primary. A standby's own `standby.signal` (from
//! `pg_basebackup -R`) is never touched.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The signal file's name (PostgreSQL 12+).
pub(crate) const SIGNAL_FILE: &str = "standby.signal";

/// Why the guard could not be armed, disarmed or checked.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GuardError {
    /// The data directory could not be inspected (missing, unreadable).
    #[error("start guard: cannot read the data directory {path}: {source}")]
    DataDir {
        /// The data directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// `standby.signal` could not be created, written or synced.
    #[error("start guard: cannot create {path}: {source}")]
    Create {
        /// The signal file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// `standby.signal` could not be given to the data directory's owner.
    #[error("start guard: cannot give {path} to uid {uid}: {source}")]
    Chown {
        /// The signal file.
        path: PathBuf,
        /// The data directory's owner.
        uid: u32,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// `standby.signal` could not be removed.
    #[error("start guard: cannot remove {path}: {source}")]
    Remove {
        /// The signal file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The data directory could not be synced after a change of its entries.
    #[error("start guard: cannot sync the directory {path}: {source}")]
    SyncDir {
        /// The data directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// The signal file in `data_dir`.
pub(crate) fn signal_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SIGNAL_FILE)
}

/// Whether the guard is armed (`standby.signal` exists).
pub(crate) fn is_armed(data_dir: &Path) -> Result<bool, GuardError> {
    let path = signal_path(data_dir);
    match std::fs::symlink_metadata(&path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // Absent file, or an absent directory: only the first is an answer.
            std::fs::metadata(data_dir).map_err(|source| GuardError::DataDir {
                path: data_dir.to_path_buf(),
                source,
            })?;
            Ok(false)
        }
        Err(source) => Err(GuardError::DataDir {
            path: data_dir.to_path_buf(),
            source,
        }),
    }
}

/// Arms the guard: creates an empty `standby.signal`, mode 0600, owned by the data
/// directory's owner, and syncs it and the directory so it survives a power cut
/// (the case it exists for). Idempotent. Returns whether it was newly created.
pub(crate) fn arm(data_dir: &Path) -> Result<bool, GuardError> {
    let meta = std::fs::metadata(data_dir).map_err(|source| GuardError::DataDir {
        path: data_dir.to_path_buf(),
        source,
    })?;
    let path = signal_path(data_dir);
    let created = match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
    {
        Ok(file) => {
            // PostgreSQL only checks that the file exists; the owner matters to the
            // operator and to tools that clean the data directory as postgres.
            nix::unistd::fchown(
                std::os::fd::AsRawFd::as_raw_fd(&file),
                Some(meta.uid().into()),
                Some(meta.gid().into()),
            )
            .map_err(|e| GuardError::Chown {
                path: path.clone(),
                uid: meta.uid(),
                source: e.into(),
            })?;
            file.sync_all().map_err(|source| GuardError::Create {
                path: path.clone(),
                source,
            })?;
            true
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => false,
        Err(source) => return Err(GuardError::Create { path, source }),
    };
    // Also when it existed: an earlier arm may have died between create and sync.
    sync_dir(data_dir)?;
    Ok(created)
}

/// Disarms the guard: removes `standby.signal` (absent is fine) and syncs the
/// directory. Returns whether a file was removed.
pub(crate) fn disarm(data_dir: &Path) -> Result<bool, GuardError> {
    let path = signal_path(data_dir);
    let removed = match std::fs::remove_file(&path) {
        Ok(()) => true,
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(source) => return Err(GuardError::Remove { path, source }),
    };
    if removed {
        sync_dir(data_dir)?;
    }
    Ok(removed)
}

fn sync_dir(dir: &Path) -> Result<(), GuardError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| GuardError::SyncDir {
            path: dir.to_path_buf(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn arm_is_idempotent_private_and_disarm_tolerates_absence() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert!(!is_armed(d).unwrap());
        assert!(arm(d).unwrap(), "first arm creates the file");
        assert!(!arm(d).unwrap(), "second arm finds it");
        assert!(is_armed(d).unwrap());
        let meta = std::fs::metadata(signal_path(d)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(meta.len(), 0);
        let dir_meta = std::fs::metadata(d).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (dir_meta.uid(), dir_meta.gid()));
        assert!(disarm(d).unwrap());
        assert!(!disarm(d).unwrap(), "absent is fine");
        assert!(!is_armed(d).unwrap());
    }

    #[test]
    fn the_file_belongs_to_the_data_directory_owner() {
        if !nix::unistd::geteuid().is_root() {
            return; // only root can give a file away; CI runs as root
        }
        let dir = tempfile::tempdir().unwrap();
        nix::unistd::chown(dir.path(), Some(4321.into()), Some(4322.into())).unwrap();
        arm(dir.path()).unwrap();
        let meta = std::fs::metadata(signal_path(dir.path())).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (4321, 4322));
    }

    #[test]
    fn errors_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-data-dir");
        let e = arm(&missing).unwrap_err();
        assert!(matches!(e, GuardError::DataDir { .. }), "{e:?}");
        assert!(e.to_string().contains("no-such-data-dir"), "{e}");
        let e = is_armed(&missing).unwrap_err();
        assert!(e.to_string().contains("no-such-data-dir"), "{e}");
        // A directory in the file's place cannot be removed as a file.
        std::fs::create_dir(signal_path(dir.path())).unwrap();
        let e = disarm(dir.path()).unwrap_err();
        assert!(matches!(e, GuardError::Remove { .. }), "{e:?}");
        assert!(e.to_string().contains("standby.signal"), "{e}");
    }
}
