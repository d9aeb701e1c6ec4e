//! The shipped systemd unit's privileges, applied to a daemon the tests start: its
//! `CapabilityBoundingSet=`, `AmbientCapabilities=` and `NoNewPrivileges=` become a
//! `setpriv` in front of `twinbeat run`. systemd is not PID 1 on the test machines, so
//! `systemd-run` cannot start the unit; a root process whose bounding set is the unit's
//! gets exactly the unit's capabilities, which is what decides whether arming the start
//! guard, promoting, stopping PostgreSQL and moving the VIP work under it.
//!
//! Not applied: the unit's file-system protections (`ProtectSystem=full` and the other
//! `Protect*=` settings), which would need a mount namespace systemd builds.

use std::path::{Path, PathBuf};

use crate::error::{io_err, LabError, Result};

/// The unit a test daemon runs under: `TWINBEAT_UNIT` (the package's test points it at
/// the installed unit), else the repository's `host-daemon/dist/twinbeat.service`.
pub fn unit_path() -> PathBuf {
    std::env::var_os("TWINBEAT_UNIT").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../host-daemon/dist/twinbeat.service"),
        PathBuf::from,
    )
}

/// The privileges a unit gives its service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitPrivileges {
    /// `CapabilityBoundingSet=`, lower case without `CAP_` (setpriv's spelling).
    pub bounding: Vec<String>,
    /// `AmbientCapabilities=`, the same spelling.
    pub ambient: Vec<String>,
    /// `NoNewPrivileges=yes`.
    pub no_new_privileges: bool,
}

impl UnitPrivileges {
    /// Reads them from the unit file at `path`.
    pub fn from_unit(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(io_err(path))?;
        Ok(Self::parse(&text))
    }

    /// Reads them from a unit file's text (the `[Service]` keys; a key given twice adds
    /// to the list, as systemd does).
    pub fn parse(text: &str) -> Self {
        let caps = |key: &str| -> Vec<String> {
            text.lines()
                .filter_map(|l| l.trim().strip_prefix(key))
                .flat_map(str::split_whitespace)
                .map(|c| c.trim_start_matches("CAP_").to_lowercase())
                .collect()
        };
        Self {
            bounding: caps("CapabilityBoundingSet="),
            ambient: caps("AmbientCapabilities="),
            no_new_privileges: text
                .lines()
                .any(|l| l.trim() == "NoNewPrivileges=yes" || l.trim() == "NoNewPrivileges=true"),
        }
    }

    /// The `setpriv` command line that runs a program with these privileges.
    pub fn setpriv(&self) -> Result<Vec<String>> {
        if self.bounding.is_empty() {
            return Err(LabError::Daemon(
                "the unit sets no CapabilityBoundingSet: nothing to apply".into(),
            ));
        }
        let set = |caps: &[String]| {
            std::iter::once("-all".to_owned())
                .chain(caps.iter().map(|c| format!("+{c}")))
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut argv = vec!["setpriv".to_owned()];
        if self.no_new_privileges {
            argv.push("--no-new-privs".into());
        }
        argv.push(format!("--bounding-set={}", set(&self.bounding)));
        argv.push(format!("--inh-caps={}", set(&self.ambient)));
        argv.push(format!("--ambient-caps={}", set(&self.ambient)));
        Ok(argv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_units_capabilities_become_a_setpriv_command_line() {
        let p = UnitPrivileges::parse(
            "[Service]\nNoNewPrivileges=yes\nCapabilityBoundingSet=CAP_NET_ADMIN CAP_KILL\nAmbientCapabilities=CAP_NET_ADMIN\n",
        );
        assert_eq!(p.bounding, ["net_admin", "kill"]);
        assert_eq!(
            p.setpriv().unwrap(),
            [
                "setpriv",
                "--no-new-privs",
                "--bounding-set=-all,+net_admin,+kill",
                "--inh-caps=-all,+net_admin",
                "--ambient-caps=-all,+net_admin",
            ]
        );
    }

    #[test]
    fn the_shipped_unit_is_read() {
        let p = UnitPrivileges::from_unit(&unit_path()).unwrap();
        assert!(p.bounding.iter().any(|c| c == "net_admin"), "{p:?}");
        assert!(p.no_new_privileges);
    }
}
