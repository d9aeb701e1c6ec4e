//! `[failover]`: the promotion settings with their defaults filled in. Every one is
//! the engine's: the engine checks them and derives the "auto" failure window.

use std::time::Duration;

use super::{dur, Resolver};
use crate::config::defaults as d;
use std::path::{Path, PathBuf};
use twinbeat_core::ReplicationMode;

use crate::config::raw::{RawFailover, RawRejoin};
use crate::config::types::{Failover, Rejoin, ServiceManager};
use crate::config::units::{Size, WindowSetting};

impl Resolver<'_> {
    pub(super) fn failover(
        &mut self,
        raw: Option<RawFailover>,
        replication: ReplicationMode,
    ) -> Failover {
        let raw = raw.unwrap_or_default();
        let startup_grace = self.timed(
            "failover.startup_grace",
            raw.startup_grace,
            self.timings.startup_grace,
        );
        failover(raw, replication, startup_grace)
    }
}

fn failover(raw: RawFailover, replication: ReplicationMode, startup_grace: Duration) -> Failover {
    let max_age = match replication {
        ReplicationMode::Sync => d::PEER_STATE_MAX_AGE_SYNC,
        ReplicationMode::Async | ReplicationMode::Strict => d::PEER_STATE_MAX_AGE,
    };
    Failover {
        startup_grace,
        failure_window: match raw.failure_window.unwrap_or(WindowSetting::Auto) {
            WindowSetting::Auto => None,
            WindowSetting::Fixed(w) => Some(w),
        },
        promote_when_degraded: raw.promote_when_degraded.unwrap_or(false),
        max_lag_on_failover: raw.max_lag_on_failover.unwrap_or(Size(d::MAX_LAG)).0,
        peer_state_max_age: dur(raw.peer_state_max_age, max_age),
        auto_rejoin: raw.auto_rejoin.unwrap_or(false),
        auto_rejoin_attempts: raw.auto_rejoin_attempts.unwrap_or(d::AUTO_REJOIN_ATTEMPTS),
        switchover_timeout: dur(raw.switchover_timeout, d::SWITCHOVER_TIMEOUT),
    }
}

/// `[rejoin]`: the programs default to pg_ctl's directory when `pg_ctl` is a path,
/// and to Debian's PostgreSQL 15 directory otherwise.
pub(super) fn rejoin(raw: Option<RawRejoin>, service: &ServiceManager) -> Rejoin {
    let raw = raw.unwrap_or_default();
    let pg_ctl_dir = match service {
        ServiceManager::PgCtl { pg_ctl, .. } => pg_ctl
            .parent()
            .filter(|p| p.is_absolute())
            .map(Path::to_path_buf),
        _ => None,
    };
    Rejoin {
        timeout: dur(raw.timeout, d::REJOIN_TIMEOUT),
        bin_dir: raw
            .bin_dir
            .map(PathBuf::from)
            .or(pg_ctl_dir)
            .unwrap_or_else(|| PathBuf::from(d::PG_BIN_DIR)),
    }
}
