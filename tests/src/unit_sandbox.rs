//! The shipped systemd unit's sandbox, applied to a daemon the tests start. systemd is
//! not PID 1 on the test machines, so `systemd-run` cannot start the unit; instead:
//!
//! - its `CapabilityBoundingSet=`, `AmbientCapabilities=` and `NoNewPrivileges=` become a
//!   `setpriv` in front of `twinbeat run`: a root process whose bounding set is the
//!   unit's gets exactly the unit's capabilities, which is what decides whether arming
//!   the start guard, promoting, stopping PostgreSQL and moving the VIP work under it;
//! - its file-system protections that are read-only mounts (`ProtectSystem=`,
//!   `ProtectKernelTunables=`, `ProtectControlGroups=`) become read-only bind mounts in
//!   a private mount namespace (`unshare --mount`) around it, as systemd builds them.
//!
//! Not applied: the protections systemd enforces with seccomp or by hiding devices
//! (`RestrictAddressFamilies=`, `RestrictNamespaces=`, `ProtectKernelLogs=`,
//! `ProtectClock=`, `SystemCallArchitectures=` …).

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
    /// What the unit mounts read-only: `ProtectSystem=` (`yes`: `/usr`, `/boot`,
    /// `/efi`; `full`: also `/etc`), `ProtectKernelTunables=yes` (`/proc/sys`, `/sys`),
    /// `ProtectControlGroups=yes` (`/sys/fs/cgroup`).
    pub read_only: Vec<String>,
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
        let setting = |key: &str| {
            // The last one wins, as in systemd.
            text.lines()
                .rev()
                .find_map(|l| l.trim().strip_prefix(key))
                .map(str::trim)
        };
        let yes = |key: &str| matches!(setting(key), Some("yes" | "true"));
        let mut read_only: Vec<&str> = match setting("ProtectSystem=") {
            Some("yes" | "true") => vec!["/usr", "/boot", "/efi"],
            Some("full") => vec!["/usr", "/boot", "/efi", "/etc"],
            _ => Vec::new(),
        };
        if yes("ProtectKernelTunables=") {
            read_only.extend(["/proc/sys", "/sys"]);
        }
        if yes("ProtectControlGroups=") {
            read_only.push("/sys/fs/cgroup");
        }
        Self {
            bounding: caps("CapabilityBoundingSet="),
            ambient: caps("AmbientCapabilities="),
            no_new_privileges: yes("NoNewPrivileges="),
            read_only: read_only.into_iter().map(str::to_owned).collect(),
        }
    }

    /// The command line that runs a program in this sandbox: a private mount
    /// namespace with [`read_only`](Self::read_only) mounted read-only (the paths this
    /// host has), then [`setpriv`](Self::setpriv). Every step `exec`s, so the program
    /// keeps the first process's PID.
    pub fn argv(&self) -> Result<Vec<String>> {
        let mut script = String::from("set -e\n");
        for path in self.read_only.iter().filter(|p| Path::new(p).is_dir()) {
            script.push_str(&format!(
                "mount --bind {path} {path}\nmount -o remount,bind,ro {path}\n"
            ));
        }
        script.push_str("exec \"$@\"\n");
        let mut argv: Vec<String> = [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            &script,
            "unit-sandbox",
        ]
        .map(str::to_owned)
        .into();
        argv.extend(self.setpriv()?);
        Ok(argv)
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

/// Whether process `pid` runs in the sandbox of `unit`: each of its read-only paths
/// this host has is mounted read-only in the process's mount namespace, and its
/// no_new_privs flag is as the unit says. The error names what is not.
pub fn check_process(pid: u32, unit: &UnitPrivileges) -> std::result::Result<(), String> {
    let mountinfo = std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))
        .map_err(|e| format!("/proc/{pid}/mountinfo: {e}"))?;
    for path in unit.read_only.iter().filter(|p| Path::new(p).is_dir()) {
        // Fields: id, parent, major:minor, root, mount point, options, …; the last
        // mount on a point is the one in effect.
        let options = mountinfo.lines().rev().find_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f.get(4) == Some(&path.as_str())).then(|| f.get(5).copied().unwrap_or(""))
        });
        if !options.is_some_and(|o| o.split(',').any(|x| x == "ro")) {
            return Err(format!(
                "{path} is not read-only in process {pid} ({options:?})"
            ));
        }
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    let nnp = status
        .lines()
        .any(|l| l.split_whitespace().eq(["NoNewPrivs:", "1"]));
    if nnp != unit.no_new_privileges {
        return Err(format!(
            "process {pid}: NoNewPrivs {nnp}, the unit says {}",
            unit.no_new_privileges
        ));
    }
    Ok(())
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
        assert!(p.read_only.is_empty());
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
        // ProtectSystem=full, ProtectKernelTunables, ProtectControlGroups.
        for path in ["/usr", "/etc", "/proc/sys", "/sys/fs/cgroup"] {
            assert!(p.read_only.iter().any(|r| r == path), "{path}: {p:?}");
        }
    }

    #[test]
    fn the_sandbox_mounts_the_units_paths_read_only_around_setpriv() {
        let p = UnitPrivileges::parse(
            "[Service]\nProtectSystem=full\nCapabilityBoundingSet=CAP_KILL\nAmbientCapabilities=CAP_KILL\n",
        );
        let argv = p.argv().unwrap();
        assert_eq!(
            argv[..5],
            ["unshare", "--mount", "--propagation", "private", "--"]
        );
        assert!(
            argv[7].contains("mount -o remount,bind,ro /etc"),
            "{}",
            argv[7]
        );
        assert!(argv[7].ends_with("exec \"$@\"\n"));
        assert_eq!(argv[9], "setpriv");
    }

    /// A real run in the sandbox: /etc cannot be written, and the bounding set is the
    /// unit's (needs root, as every test of this crate).
    #[test]
    fn a_program_in_the_sandbox_cannot_write_etc_and_has_only_the_units_capabilities() {
        let p = UnitPrivileges::parse(
            "[Service]\nProtectSystem=full\nCapabilityBoundingSet=CAP_KILL\nAmbientCapabilities=CAP_KILL\n",
        );
        let mut argv = p.argv().unwrap();
        argv.extend([
            "sh".into(),
            "-c".into(),
            "if touch /etc/.twinbeat-sandbox-probe 2>/dev/null; then rm -f /etc/.twinbeat-sandbox-probe; echo writable; else echo read-only; fi; grep CapBnd /proc/self/status".into(),
        ]);
        let out = std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.starts_with("read-only"), "{text}");
        // CAP_KILL is capability 5: the bounding set holds it alone.
        assert!(text.contains("CapBnd:\t0000000000000020"), "{text}");
        // This test's own process is not in it.
        let own = check_process(std::process::id(), &p).unwrap_err();
        assert!(own.contains("is not read-only"), "{own}");
    }
}
