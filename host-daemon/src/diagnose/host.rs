//! Check 7, the host: the state directory takes a write and an fsync and has room;
//! the clock is synchronised (a warning only: the rules run on the monotonic clock,
//! but logs and the maintenance pause's end do not); the pause threshold the daemon
//! will apply; and, on a systemd host, the unit's watchdog and capabilities.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::Finding;
use crate::config::Config;

/// Free space below this is a warning: the state file is tiny, but a rejoin saves the
/// old timeline's WAL under `state_dir/rejoin/`.
const LOW_SPACE: u64 = 64 << 20;
/// Bound of the clock question over D-Bus.
const DBUS_TIMEOUT: Duration = Duration::from_secs(1);
/// Where a unit file for the daemon is looked for, in systemd's order.
const UNIT_PATHS: [&str; 3] = [
    "/etc/systemd/system/twinbeat.service",
    "/usr/lib/systemd/system/twinbeat.service",
    "/lib/systemd/system/twinbeat.service",
];

pub(super) async fn check(cfg: &Config, engine: &twinbeat_core::Config) -> Vec<Finding> {
    vec![
        state_dir(&cfg.state_dir),
        clock().await,
        Finding::ok(
            "host.pause_threshold",
            format!(
                "a scheduling gap over {:?} ({:?} while serial is down) is a pause: the daemon restarts its judgement (rule pause-is-a-restart)",
                engine.pause_threshold(),
                engine.degraded_pause_threshold()
            ),
        ),
        systemd_unit(),
    ]
}

/// A 4 KiB write, fsync and removal in `dir`, timed; and its free space.
pub(super) fn state_dir(dir: &Path) -> Finding {
    if !dir.is_dir() {
        let parent = dir
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/"));
        return Finding::warn(
            "host.state_dir",
            format!("{} does not exist yet", dir.display()),
            format!("the daemon creates it at its first start; {} must let it (or create it, owned by the daemon's user, mode 0700)", parent.display()),
        );
    }
    let probe = dir.join(format!(".twinbeat-diagnose-{}", std::process::id()));
    let started = Instant::now();
    let written = std::fs::File::create(&probe).and_then(|mut f| {
        f.write_all(&[0u8; 4096])?;
        f.sync_all()
    });
    let took = started.elapsed();
    let _ = std::fs::remove_file(&probe);
    if let Err(e) = written {
        return Finding::fail(
            "host.state_dir",
            format!("cannot write and fsync in {}: {e}", dir.display()),
            "the daemon persists its term there before every promotion: give its user write access",
        );
    }
    let free = nix::sys::statvfs::statvfs(dir)
        .ok()
        .map(|s| s.blocks_available() * s.fragment_size());
    let found = format!(
        "{}: write + fsync {:.1} ms, {} free",
        dir.display(),
        took.as_secs_f64() * 1e3,
        free.map_or("unknown".to_owned(), |b| format!("{} MiB", b >> 20))
    );
    match free {
        Some(b) if b < LOW_SPACE => Finding::warn(
            "host.state_dir",
            found,
            "free some space: a rejoin saves the old timeline's WAL there",
        ),
        _ => Finding::ok("host.state_dir", found),
    }
}

mod timedate {
    #[zbus::proxy(
        interface = "org.freedesktop.timedate1",
        default_service = "org.freedesktop.timedate1",
        default_path = "/org/freedesktop/timedate1"
    )]
    pub(super) trait Timedate {
        #[zbus(property, name = "NTPSynchronized")]
        fn ntp_synchronized(&self) -> zbus::Result<bool>;
    }
}

/// Whether the kernel's clock is synchronised, as `timedatectl` asks it (systemd's
/// timedated over D-Bus).
async fn clock() -> Finding {
    let ask = async {
        let conn = zbus::Connection::system().await?;
        let proxy = timedate::TimedateProxy::new(&conn).await?;
        proxy.ntp_synchronized().await
    };
    match tokio::time::timeout(DBUS_TIMEOUT, ask).await {
        Ok(Ok(true)) => Finding::ok("host.clock", "synchronised (NTP)"),
        Ok(Ok(false)) => Finding::warn(
            "host.clock",
            "not synchronised",
            "run an NTP client (systemd-timesyncd, chrony): the rules use the monotonic clock, but logs of the two nodes and a pause's end are read by wall time",
        ),
        Ok(Err(e)) => Finding::warn(
            "host.clock",
            format!("cannot tell: {e}"),
            "check the clock's synchronisation yourself (timedatectl, chronyc tracking)",
        ),
        Err(_) => Finding::warn(
            "host.clock",
            format!("cannot tell: no answer from timedated within {DBUS_TIMEOUT:?}"),
            "check the clock's synchronisation yourself (timedatectl, chronyc tracking)",
        ),
    }
}

/// On a systemd host, the unit's `WatchdogSec=` and capabilities, read from its file.
fn systemd_unit() -> Finding {
    if !Path::new("/run/systemd/system").is_dir() {
        return Finding::ok("host.systemd", "not a systemd host: no unit to check");
    }
    let Some((path, text)) = UNIT_PATHS
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok().map(|t| (*p, t)))
    else {
        return Finding::warn(
            "host.systemd",
            "no twinbeat.service unit installed",
            "install the package, or the unit from host-daemon/README.md: it runs the daemon with a watchdog and only the capabilities it needs",
        );
    };
    let value = |key: &str| {
        text.lines()
            .rev()
            .filter_map(|l| l.trim().strip_prefix(key))
            .find_map(|v| v.strip_prefix('='))
            .map(str::trim)
            .map(str::to_owned)
    };
    let watchdog = value("WatchdogSec");
    let caps = value("AmbientCapabilities").unwrap_or_default();
    let missing: Vec<&str> = ["CAP_NET_ADMIN", "CAP_NET_RAW"]
        .into_iter()
        .filter(|c| !caps.contains(c))
        .collect();
    let found = format!(
        "{path}: WatchdogSec={}, AmbientCapabilities={caps}",
        watchdog.as_deref().unwrap_or("(none)")
    );
    if watchdog.is_none() {
        Finding::warn(
            "host.systemd",
            found,
            "set WatchdogSec= (the daemon pings the watchdog; a hung daemon is then restarted)",
        )
    } else if !missing.is_empty() && !text.contains("User=root") && text.contains("User=") {
        Finding::warn(
            "host.systemd",
            found,
            format!(
                "the unit runs as a non-root user without {}",
                missing.join(", ")
            ),
        )
    } else {
        Finding::ok("host.systemd", found)
    }
}
