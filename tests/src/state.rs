//! The lab's state file (which lab ids are in use, by whom, and which PIDs they started)
//! and the removal of stale labs left by earlier runs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{io_err, Result};
use crate::procs::{self, ProcId};

/// Where lab directories live unless `TWINBEAT_LAB_ROOT` says otherwise.
pub const DEFAULT_ROOT: &str = "/tmp/tblab";

/// Prefix of every network namespace the lab creates.
pub const NS_PREFIX: &str = "tblab-";

/// The lab root directory.
pub fn root() -> PathBuf {
    std::env::var_os("TWINBEAT_LAB_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_ROOT))
}

/// Contents of `<labdir>/state.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LabState {
    /// The lab id (names `tblab-<id>-*`, subnet 10.77.<id>.0/24).
    pub id: u8,
    /// The process that owns the lab; when it is gone the lab is stale.
    pub owner: Option<ProcId>,
    /// Left running on purpose by `cargo lab up`: only `cargo lab down` removes it.
    pub detached: bool,
    /// Every process the lab started (keepers, daemons, PostgreSQL, relay).
    pub procs: Vec<ProcId>,
}

impl LabState {
    /// Reads a state file.
    pub fn load(path: &Path) -> Option<Self> {
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
    }

    /// Writes the state file atomically (write + rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        let tmp = path.with_extension("tmp");
        let text = serde_json::to_string_pretty(self).unwrap_or_default();
        std::fs::write(&tmp, text).map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, path).map_err(io_err(path))
    }

    /// Is the lab still owned by a live process, or kept on purpose?
    pub fn in_use(&self) -> bool {
        self.detached || self.owner.as_ref().is_some_and(ProcId::alive)
    }
}

/// Claims the lowest free lab id: creates `<root>/<id>` (mkdir is atomic, so two labs
/// starting at once never get the same id) and writes its state file.
pub fn claim(root: &Path, detached: bool) -> Result<(LabState, PathBuf)> {
    std::fs::create_dir_all(root).map_err(io_err(root))?;
    set_mode(root, 0o755)?;
    let existing = list_netns();
    for id in 1..=250u8 {
        if existing.iter().any(|n| ns_id(n) == Some(id)) {
            continue;
        }
        let dir = root.join(id.to_string());
        match std::fs::create_dir(&dir) {
            Ok(()) => {
                set_mode(&dir, 0o755)?;
                let state = LabState {
                    id,
                    owner: ProcId::of(std::process::id() as i32, "lab owner"),
                    detached,
                    procs: Vec::new(),
                };
                state.save(&dir.join("state.json"))?;
                return Ok((state, dir));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_err(&dir)(e)),
        }
    }
    Err(crate::error::LabError::NoFreeId)
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io_err(path))
}

/// Names of the lab's network namespaces now present (`/run/netns/tblab-*`).
pub fn list_netns() -> Vec<String> {
    std::fs::read_dir("/run/netns")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with(NS_PREFIX))
                .collect()
        })
        .unwrap_or_default()
}

/// The lab id in a namespace name `tblab-<id>-<host>`.
pub fn ns_id(name: &str) -> Option<u8> {
    name.strip_prefix(NS_PREFIX)?
        .split('-')
        .next()?
        .parse()
        .ok()
}

/// Removes one lab completely: its recorded processes (by PID and start time), every process
/// inside its namespaces, the namespaces, and its directory. Returns what it did.
pub fn remove_lab(id: u8, state: Option<&LabState>, dir: Option<&Path>) -> Vec<String> {
    let mut done = Vec::new();
    if let Some(st) = state {
        let pids: Vec<i32> = st
            .procs
            .iter()
            .filter(|p| p.alive())
            .map(|p| p.pid)
            .collect();
        if !pids.is_empty() {
            done.push(format!("lab {id}: killed recorded pids {pids:?}"));
            procs::kill_all(&pids, Duration::from_secs(5));
        }
    }
    let prefix = format!("{NS_PREFIX}{id}-");
    for ns in list_netns().into_iter().filter(|n| n.starts_with(&prefix)) {
        done.extend(crate::netns::remove(&ns));
    }
    if let Some(dir) = dir {
        if dir.exists() {
            match std::fs::remove_dir_all(dir) {
                Ok(()) => done.push(format!("removed {}", dir.display())),
                Err(e) => done.push(format!("could not remove {}: {e}", dir.display())),
            }
        }
    }
    done
}

/// Removes labs left by earlier runs: those whose owner is gone and that were not
/// detached by `cargo lab up` (or all of them when `include_detached`), plus any
/// `tblab-*` namespace that belongs to no live lab. Returns what it did.
pub fn remove_stale(root: &Path, include_detached: bool) -> Vec<String> {
    let mut done = Vec::new();
    let mut live: Vec<u8> = Vec::new();
    if let Ok(entries) = std::fs::read_dir(root) {
        for e in entries.flatten() {
            let dir = e.path();
            let Some(id) = e.file_name().to_str().and_then(|s| s.parse::<u8>().ok()) else {
                continue;
            };
            let state = LabState::load(&dir.join("state.json"));
            let keep = match &state {
                Some(s) => s.in_use() && !(include_detached && s.detached),
                // A directory just claimed has its state file within microseconds;
                // one without it for a while is debris.
                None => e
                    .metadata()
                    .and_then(|m| m.modified())
                    .map(|t| t.elapsed().unwrap_or_default() < Duration::from_secs(30))
                    .unwrap_or(false),
            };
            if keep {
                live.push(id);
            } else {
                done.extend(remove_lab(id, state.as_ref(), Some(&dir)));
            }
        }
    }
    let mut orphan_ids: Vec<u8> = list_netns()
        .iter()
        .filter_map(|n| ns_id(n))
        .filter(|id| !live.contains(id))
        .collect();
    orphan_ids.dedup();
    for id in orphan_ids {
        done.extend(remove_lab(id, None, None));
    }
    done
}
