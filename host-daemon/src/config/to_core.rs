//! The effective configuration mapped onto the engine's [`twinbeat_core::Config`] and
//! checked there: done once per load, and `run` starts the engine with the result.

use std::time::Duration;

use twinbeat_core as engine;

use super::engine_errors::from_core_error;
use super::error::ConfigError;
use super::types::{Config, PathConfig};

/// The engine's number for a node id. Frames carry it and, on an equal term, the
/// smaller number wins (rule `higher-term-wins`): a decimal `node_id` ("1", "2") is
/// used as is, any other string by its FNV-1a hash, which both nodes compute alike.
pub(crate) fn node_number(node_id: &str) -> u32 {
    if let Ok(n) = node_id.parse::<u32>() {
        return n;
    }
    fnv1a(node_id.as_bytes())
}

impl Config {
    /// The configured name of the node whose frames carry `number`: this node's
    /// `node_id`, or `[peer] node_id` when it is the peer's.
    pub(crate) fn node_name(&self, number: u32) -> Option<&str> {
        std::iter::once(self.node_id.as_str())
            .chain(self.peer.node_id.as_deref())
            .find(|name| node_number(name) == number)
    }
}

/// FNV-1a, 32 bits: the hash both nodes compute alike (node numbers, the pair's
/// fingerprint).
pub(super) fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

/// Maps the effective configuration onto the engine's and runs the engine's checks,
/// the one validation of every timing (rule `config-names-field-and-value`).
pub(super) fn to_core(c: &Config) -> Result<engine::Config, ConfigError> {
    let cfg = engine::Config {
        node_id: engine::NodeId(node_number(&c.node_id)),
        role: c.role,
        icmp: c.checks.icmp,
        remote_db: c.checks.remote_db,
        serial: c.checks.serial,
        gateway: c.checks.gateway,
        local_db: PathConfig {
            interval: c.local_db.check_interval,
            timeout: c.local_db.timeout,
            retries: c.local_db.retries,
        },
        restart_grace: c.local_db.service.restart_grace,
        startup_grace: c.failover.startup_grace,
        failure_window: c.failover.failure_window,
        promote_when_degraded: c.failover.promote_when_degraded,
        serial_bridge: c
            .checks
            .serial_bridge
            .then_some(Duration::from_millis(u64::from(
                twinbeat_protocol::BRIDGE_STATUS_PERIOD_MS,
            ))),
        max_lag_on_failover: c.failover.max_lag_on_failover,
        peer_state_max_age: c.failover.peer_state_max_age,
        arp_probe_timeout: c.vip.arp_probe_timeout,
        poweroff_on_unconfirmed_stop: matches!(c.fence, super::types::FenceAction::Poweroff),
        auto_rejoin: c.failover.auto_rejoin,
        auto_rejoin_attempts: c.failover.auto_rejoin_attempts,
        switchover_timeout: c.failover.switchover_timeout,
        rejoin_timeout: c.rejoin.timeout,
        replication: c.replication,
        fingerprint: Some(super::fingerprint::pair_fingerprint(c)),
    };
    cfg.validate().map_err(from_core_error)?;
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::node_number;

    #[test]
    fn node_numbers_are_stable() {
        assert_eq!(node_number("7"), 7);
        assert_eq!(node_number("a"), node_number("a"));
        assert_ne!(node_number("a"), node_number("b"));
    }
}
