//! Rule `pair-agrees`: the settings both nodes of a pair must share, as one canonical
//! text and its hash. Every frame carries the hash (tail field 9); the engine alarms
//! when the peer's differs, and `twinbeat diagnose` prints the text. Node-specific
//! settings (names, addresses of the peer and of the local database, directories) are
//! not in it.

use std::time::Duration;

use super::to_core::fnv1a;
use super::types::{Config, PathConfig};

/// One `key=value` line per shared setting, in a fixed order; durations in
/// milliseconds.
pub(crate) fn pair_settings(c: &Config) -> String {
    let ms = |d: Duration| d.as_millis();
    let path = |p: &PathConfig| format!("{},{},{}", ms(p.interval), ms(p.timeout), p.retries);
    let k = &c.checks;
    let f = &c.failover;
    [
        format!("cluster_id={}", c.cluster_id),
        format!("vip={}", c.vip.address),
        format!("icmp={}", path(&k.icmp)),
        format!("remote_db={}", path(&k.remote_db)),
        format!(
            "serial={},baud={},bridge={}",
            path(&k.serial),
            k.serial_baud,
            k.serial_bridge
        ),
        format!("gateway={}", path(&k.gateway)),
        format!(
            "failure_window={}",
            f.failure_window
                .map_or("auto".to_owned(), |w| ms(w).to_string())
        ),
        format!("peer_state_max_age={}", ms(f.peer_state_max_age)),
        format!("max_lag_on_failover={}", f.max_lag_on_failover),
        format!("promote_when_degraded={}", f.promote_when_degraded),
        format!("replication={}", c.replication.as_str()),
    ]
    .join("\n")
}

/// The hash of [`pair_settings`] (FNV-1a, as node numbers).
pub(crate) fn pair_fingerprint(c: &Config) -> u32 {
    fnv1a(pair_settings(c).as_bytes())
}
