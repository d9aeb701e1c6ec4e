//! `[hooks]`: the commands run on events, and their time bound.

use super::{dur, R};
use crate::config::defaults as d;
use crate::config::error::ConfigError;
use crate::config::raw::RawHooks;
use crate::config::types::Hooks;

pub(super) fn hooks(raw: Option<RawHooks>) -> R<Hooks> {
    let raw = raw.unwrap_or_default();
    let command = |field: &str, v: Option<String>| match v {
        Some(c) if c.trim().is_empty() => Err(ConfigError::invalid(
            field,
            "\"\"",
            "a command (run with sh -c), or no setting",
        )),
        other => Ok(other),
    };
    let timeout = dur(raw.timeout, d::HOOK_TIMEOUT);
    if timeout.is_zero() || timeout > d::HOOK_TIMEOUT_MAX {
        return Err(ConfigError::invalid(
            "hooks.timeout",
            format!("{:?}", crate::config::units::format_duration(timeout)),
            "from 1 ms to 10 min",
        ));
    }
    Ok(Hooks {
        on_role_change: command("hooks.on_role_change", raw.on_role_change)?,
        on_fence: command("hooks.on_fence", raw.on_fence)?,
        on_alarm: command("hooks.on_alarm", raw.on_alarm)?,
        timeout,
    })
}
