//! `[control]`: who may use the control socket besides root. The group must be a
//! plain group name; that it exists is a fact of the host (`run` refuses a missing one,
//! `check-config` warns), since the server looks its members up when a caller connects.

use super::{Resolver, R};
use crate::config::error::ConfigError;
use crate::config::raw::RawControl;
use crate::config::types::Control;

/// What a group name may look like: the portable user and group names (POSIX), which
/// every group database accepts, not starting with `-` (an option) or a digit (a GID).
const GROUP_NAME: &str = "a group name: a letter or _, then up to 31 of A-Z a-z 0-9 . _ -";

fn valid_group_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.len() <= 32
        && chars.all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

impl Resolver<'_> {
    pub(super) fn control(&mut self, raw: Option<RawControl>) -> R<Control> {
        let Some(group) = raw.unwrap_or_default().group else {
            return Ok(Control::default());
        };
        if !valid_group_name(&group) {
            return Err(ConfigError::invalid(
                "control.group",
                format!("{group:?}"),
                GROUP_NAME,
            ));
        }
        if !self.facts.has_group(&group) {
            self.host_problem(
                "control.group",
                format!("{group:?}"),
                "a group that exists on this host (no such group: `getent group NAME` finds none)",
            )?;
        }
        Ok(Control { group: Some(group) })
    }
}
