//! Defaults of every optional setting (documented in `host-daemon/README.md`); the
//! timings come from the `profile` preset ([`Profile`]).

use std::time::Duration;

/// `state_dir`.
pub(crate) const STATE_DIR: &str = "/var/lib/twinbeat";
/// `local_db.host`.
pub(crate) const DB_HOST: &str = "localhost";
/// `local_db.port` and `peer.db_port`.
pub(crate) const DB_PORT: u16 = 5432;
/// `local_db.user`.
pub(crate) const DB_USER: &str = "postgres";
/// `local_db.dbname`.
pub(crate) const DB_NAME: &str = "postgres";
/// `retries` of every check: the design's 5.
pub(crate) const RETRIES: u32 = 5;
/// `local_db.service.manager` when the section does not say.
pub(crate) const MANAGER: &str = "systemd";
/// `local_db.service.unit` when no manager is given (Debian's umbrella unit).
pub(crate) const UNIT: &str = "postgresql.service";
/// `local_db.service.pg_ctl`: found on `PATH`.
pub(crate) const PG_CTL: &str = "pg_ctl";
/// `checks.icmp.ttl`.
pub(crate) const TTL: u32 = 64;
/// `checks.serial.device`.
pub(crate) const SERIAL_DEVICE: &str = "/dev/ttyS0";
/// `checks.serial.baud`.
pub(crate) const BAUD: u32 = 115_200;
/// `vip.gratuitous_arp`.
pub(crate) const GARP: u32 = 5;
/// `failover.max_lag_on_failover`: 1 MiB, as Patroni.
pub(crate) const MAX_LAG: u64 = 1 << 20;
/// `failover.auto_rejoin_attempts`.
pub(crate) const AUTO_REJOIN_ATTEMPTS: u32 = 3;
/// `failover.switchover_timeout`: the checkpoint and clean stop of a busy primary,
/// then the standby's replay of the rest (it was within `max_lag_on_failover`).
pub(crate) const SWITCHOVER_TIMEOUT: Duration = Duration::from_secs(60);
/// `rejoin.timeout`: a rewind takes seconds, a base backup of a large cluster hours;
/// past this the rejoin fails and the node fences again.
pub(crate) const REJOIN_TIMEOUT: Duration = Duration::from_secs(3600);
/// `rejoin.bin_dir` when `pg_ctl` is not given as a path: Debian's PostgreSQL 15.
pub(crate) const PG_BIN_DIR: &str = "/usr/lib/postgresql/15/bin";
/// `failover.peer_state_max_age`.
pub(crate) const PEER_STATE_MAX_AGE: Duration = Duration::from_secs(5);
/// `failover.peer_state_max_age` with `replication.mode = "sync"`: there it is also how
/// long commits wait after the standby died (rule `sync-epoch`: the primary clears the
/// names that long after its last ack that said "synchronous"), and the goal is 2 s.
/// Past `checks.serial.interval + checks.serial.timeout` (1.2 s), so a healthy peer's
/// state is never stale between its frames. A `sync` standby whose claim expired before
/// it decided is held to `max_lag_on_failover`, which a dead master's acknowledged
/// commits pass (it waited for this standby's flush of each).
pub(crate) const PEER_STATE_MAX_AGE_SYNC: Duration = Duration::from_millis(1800);
/// `hooks.timeout`: a hook that notifies someone has seconds, not minutes.
pub(crate) const HOOK_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest `hooks.timeout` accepted.
pub(crate) const HOOK_TIMEOUT_MAX: Duration = Duration::from_secs(600);
/// `status.listen`.
pub(crate) const LISTEN: &str = "127.0.0.1:8432";

/// `profile`: a preset of the timings below, each filled in where the file does not set
/// it (an explicit setting wins). The benchmarks quote both (`docs/BENCHMARKS.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Profile {
    /// The user's rates: ICMP every 1 ms, the remote DB every 10 ms, serial every 1 s,
    /// the local DB every 2 s.
    #[default]
    Default,
    /// Tight timeouts for a pair on one switch with an idle path between them: failover
    /// in about a quarter of a second.
    Fast,
}

/// The settings a [`Profile`] fills in. A path's pair is (interval, timeout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timings {
    /// `checks.icmp.interval`, `.timeout`.
    pub icmp: (Duration, Duration),
    /// `checks.remote_db.interval`, `.timeout`.
    pub remote_db: (Duration, Duration),
    /// `checks.serial.interval`, `.timeout`.
    pub serial: (Duration, Duration),
    /// `checks.gateway.interval`, `.timeout`.
    pub gateway: (Duration, Duration),
    /// `local_db.check_interval`, `.timeout`.
    pub local_db: (Duration, Duration),
    /// `local_db.service.restart_grace`.
    pub restart_grace: Duration,
    /// `failover.startup_grace` (heartbeat's `initdead`).
    pub startup_grace: Duration,
    /// `vip.arp_probe_timeout`: a few ARP probes tens of ms apart (rule `fresh-checks`).
    pub arp_probe_timeout: Duration,
}

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

impl Profile {
    /// Every profile, with its name in the file.
    pub(crate) const ALL: [(Profile, &'static str); 2] =
        [(Profile::Default, "default"), (Profile::Fast, "fast")];

    /// Its name in the file.
    pub(crate) fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(p, _)| *p == self)
            .map_or("default", |(_, n)| n)
    }

    /// The profile named `name`.
    pub(crate) fn from_name(name: &str) -> Option<Profile> {
        Self::ALL.iter().find(|(_, n)| *n == name).map(|(p, _)| *p)
    }

    /// The timings it fills in.
    pub(crate) const fn timings(self) -> Timings {
        match self {
            // The design's rates (the notes: 1 ms, 10 ms, 1 s, 2 s).
            Profile::Default => Timings {
                icmp: (ms(1), ms(100)),
                remote_db: (ms(10), ms(200)),
                serial: (ms(1000), ms(200)),
                gateway: (ms(1000), ms(500)),
                local_db: (ms(2000), ms(1000)),
                restart_grace: ms(10_000),
                startup_grace: ms(60_000),
                arp_probe_timeout: ms(150),
            },
            Profile::Fast => Timings {
                icmp: (ms(1), ms(20)),
                remote_db: (ms(10), ms(25)),
                serial: (ms(50), ms(25)),
                gateway: (ms(100), ms(100)),
                local_db: (ms(200), ms(100)),
                restart_grace: ms(2000),
                startup_grace: ms(10_000),
                arp_probe_timeout: ms(20),
            },
        }
    }
}
