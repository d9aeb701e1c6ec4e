//! The data directory as the daemon knows it (configured, or learned once from the
//! local DB) and the start guard operations the DB worker performs with it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::OnceCell;

use crate::actions::start_guard;

/// Bound on learning the data directory: it can sit in front of a stop.
const LEARN_BOUND: Duration = Duration::from_secs(1);

/// `local_db.service.data_dir`, or what `SHOW data_directory` said.
#[derive(Debug)]
pub(crate) struct DataDir {
    configured: Option<PathBuf>,
    learned: OnceCell<PathBuf>,
}

impl DataDir {
    pub(crate) fn new(configured: Option<PathBuf>) -> DataDir {
        DataDir {
            configured,
            learned: OnceCell::new(),
        }
    }

    /// The data directory if known now, without asking the DB.
    pub(crate) fn known(&self) -> Option<&Path> {
        self.configured
            .as_deref()
            .or(self.learned.get().map(|p| p.as_path()))
    }

    /// The data directory, asking the local DB once if it was not configured. A
    /// failed ask is retried the next time (the DB may have been down).
    pub(crate) async fn get(&self, local: &tokio_postgres::Config) -> Option<&Path> {
        if let Some(p) = &self.configured {
            return Some(p);
        }
        let learned = self
            .learned
            .get_or_try_init(|| async {
                match tokio::time::timeout(LEARN_BOUND, show_data_directory(local)).await {
                    Ok(Ok(p)) => {
                        tracing::info!(
                            "local_db.service.data_dir not set: learned {} from the local DB (SHOW data_directory)",
                            p.display()
                        );
                        Ok(p)
                    }
                    Ok(Err(e)) => {
                        tracing::warn!("local_db.service.data_dir not set and SHOW data_directory failed ({e}): a stop or restart cannot be confirmed by PID and the start guard is off");
                        Err(())
                    }
                    Err(_) => {
                        tracing::warn!("local_db.service.data_dir not set and SHOW data_directory got no answer within {LEARN_BOUND:?}: a stop or restart cannot be confirmed by PID and the start guard is off");
                        Err(())
                    }
                }
            })
            .await;
        learned.ok().map(|p| p.as_path())
    }
}

async fn show_data_directory(local: &tokio_postgres::Config) -> Result<PathBuf, String> {
    let (client, conn) = local
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|e| e.to_string())?;
    let task = tokio::spawn(conn);
    let row = client.query_one("SHOW data_directory", &[]).await;
    drop(client);
    let _ = task.await;
    let text: String = row
        .map_err(|e| e.to_string())?
        .try_get(0)
        .map_err(|e| e.to_string())?;
    if text.starts_with('/') {
        Ok(PathBuf::from(text))
    } else {
        Err(format!("not an absolute path: {text:?}"))
    }
}

/// `armed`, `disarmed` or `unknown` (no data directory, or it cannot be read).
pub(crate) fn state_name(dir: Option<&Path>) -> &'static str {
    match dir.map(start_guard::is_armed) {
        Some(Ok(true)) => "armed",
        Some(Ok(false)) => "disarmed",
        _ => "unknown",
    }
}

/// Arms the guard (on a primary only: the caller knows). A failure is a warning:
/// the node still serves, only an unordered start would come up writable.
pub(crate) async fn arm(dir: Option<&Path>, why: &str) {
    let Some(dir) = dir else {
        tracing::warn!("start guard not armed ({why}): the data directory is unknown");
        return;
    };
    let d = dir.to_path_buf();
    // fsync of a file and a directory: off the runtime's only thread.
    match tokio::task::spawn_blocking(move || start_guard::arm(&d)).await {
        Ok(Ok(true)) => tracing::info!(
            "start guard armed ({why}): {}",
            start_guard::signal_path(dir).display()
        ),
        Ok(Ok(false)) => tracing::info!(
            "start guard armed ({why}): {} was already there",
            start_guard::signal_path(dir).display()
        ),
        Ok(Err(e)) => tracing::warn!("{e}: an unordered start of this primary would be writable"),
        Err(e) => tracing::warn!(
            "start guard: arming {} failed: {e}",
            start_guard::signal_path(dir).display()
        ),
    }
}

/// Disarms the guard before a restart the primary itself orders. Returns false when
/// the file is still there (the restart then comes back read-only, and the engine
/// sees a primary in recovery: safe, not silent).
pub(crate) async fn disarm(dir: &Path, why: &str) -> bool {
    let d = dir.to_path_buf();
    match tokio::task::spawn_blocking(move || start_guard::disarm(&d)).await {
        Ok(Ok(removed)) => {
            tracing::info!(
                "start guard disarmed ({why}): {}{}",
                start_guard::signal_path(dir).display(),
                if removed { "" } else { " was not there" }
            );
            true
        }
        Ok(Err(e)) => {
            tracing::warn!("{e}: the restart comes back read-only");
            false
        }
        Err(e) => {
            tracing::warn!("start guard: disarming failed: {e}");
            false
        }
    }
}
