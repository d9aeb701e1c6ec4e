//! `[failover]`: the promotion settings with their defaults filled in. Every one is
//! the engine's: the engine checks them and derives the "auto" failure window.

use super::dur;
use crate::config::defaults as d;
use crate::config::raw::RawFailover;
use crate::config::types::Failover;
use crate::config::units::{Size, WindowSetting};

pub(super) fn failover(raw: Option<RawFailover>) -> Failover {
    let raw = raw.unwrap_or_default();
    Failover {
        startup_grace: dur(raw.startup_grace, d::STARTUP_GRACE),
        failure_window: match raw.failure_window.unwrap_or(WindowSetting::Auto) {
            WindowSetting::Auto => None,
            WindowSetting::Fixed(w) => Some(w),
        },
        promote_when_degraded: raw.promote_when_degraded.unwrap_or(false),
        max_lag_on_failover: raw.max_lag_on_failover.unwrap_or(Size(d::MAX_LAG)).0,
        peer_state_max_age: dur(raw.peer_state_max_age, d::PEER_STATE_MAX_AGE),
    }
}
