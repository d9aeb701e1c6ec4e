//! Defaults of every optional setting (documented in `host-daemon/README.md`).

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
/// `local_db.check_interval`: the design's default, every 2 s.
pub(crate) const LOCAL_INTERVAL: Duration = Duration::from_secs(2);
/// `local_db.timeout`.
pub(crate) const LOCAL_TIMEOUT: Duration = Duration::from_secs(1);
/// `retries` of every check: the design's 5.
pub(crate) const RETRIES: u32 = 5;
/// `local_db.service.manager` when the section does not say.
pub(crate) const MANAGER: &str = "systemd";
/// `local_db.service.unit` when no manager is given (Debian's umbrella unit).
pub(crate) const UNIT: &str = "postgresql.service";
/// `local_db.service.pg_ctl`: found on `PATH`.
pub(crate) const PG_CTL: &str = "pg_ctl";
/// `local_db.service.restart_grace`.
pub(crate) const RESTART_GRACE: Duration = Duration::from_secs(10);
/// `checks.icmp.interval` (the design's 1 ms, read as an interval).
pub(crate) const ICMP_INTERVAL: Duration = Duration::from_millis(1);
/// `checks.icmp.timeout`.
pub(crate) const ICMP_TIMEOUT: Duration = Duration::from_millis(100);
/// `checks.icmp.ttl`.
pub(crate) const TTL: u32 = 64;
/// `checks.remote_db.interval` (the design's 10 ms).
pub(crate) const REMOTE_INTERVAL: Duration = Duration::from_millis(10);
/// `checks.remote_db.timeout`.
pub(crate) const REMOTE_TIMEOUT: Duration = Duration::from_millis(200);
/// `checks.serial.device`.
pub(crate) const SERIAL_DEVICE: &str = "/dev/ttyS0";
/// `checks.serial.baud`.
pub(crate) const BAUD: u32 = 115_200;
/// `checks.serial.interval` (the design's 1 s).
pub(crate) const SERIAL_INTERVAL: Duration = Duration::from_secs(1);
/// `checks.serial.timeout`.
pub(crate) const SERIAL_TIMEOUT: Duration = Duration::from_millis(200);
/// `checks.gateway.interval`.
pub(crate) const GATEWAY_INTERVAL: Duration = Duration::from_secs(1);
/// `checks.gateway.timeout`.
pub(crate) const GATEWAY_TIMEOUT: Duration = Duration::from_millis(500);
/// `vip.gratuitous_arp`.
pub(crate) const GARP: u32 = 5;
/// `vip.arp_probe_timeout`: a few ARP probes tens of ms apart (rule
/// `fresh-checks`).
pub(crate) const ARP_PROBE_TIMEOUT: Duration = Duration::from_millis(150);
/// `failover.startup_grace` (heartbeat's `initdead`).
pub(crate) const STARTUP_GRACE: Duration = Duration::from_secs(60);
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
/// `status.listen`.
pub(crate) const LISTEN: &str = "127.0.0.1:8432";
