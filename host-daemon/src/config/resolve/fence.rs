//! `[fence]`: what fencing does after stopping PostgreSQL.

use super::{required, R};
use crate::config::error::ConfigError;
use crate::config::raw::RawFence;
use crate::config::types::FenceAction;

pub(super) fn fence(raw: Option<RawFence>) -> R<FenceAction> {
    let raw = raw.unwrap_or_default();
    match raw.action.as_deref().unwrap_or("stop-db") {
        "stop-db" => Ok(FenceAction::StopDb),
        "poweroff" => Ok(FenceAction::Poweroff),
        "command" => required(
            "fence.command",
            raw.command.filter(|c| !c.trim().is_empty()),
            "a command, required with action = \"command\"",
        )
        .map(FenceAction::Command),
        other => Err(ConfigError::invalid(
            "fence.action",
            format!("{other:?}"),
            "one of \"stop-db\", \"poweroff\", \"command\"",
        )),
    }
}
