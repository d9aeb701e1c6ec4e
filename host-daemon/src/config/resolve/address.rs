//! Host addresses shared by `[peer]` and `[checks.gateway]`: resolving a host name or
//! IP literal, and refusing (or loudly warning about) an address of this host.

use std::net::{IpAddr, ToSocketAddrs};

use super::{Resolver, R};
use crate::config::error::ConfigError;
use crate::config::types::RolePin;

/// Resolves a host name or IP literal; IPv4 first, as the lab and the flat JSON format use it.
pub(super) fn resolve_host(field: &str, host: &str) -> R<IpAddr> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(ip);
    }
    // Something that looks like an address literal but does not parse is a typo, not a
    // host name: refuse it without asking DNS.
    if host.contains(':') || host.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(ConfigError::invalid(
            field,
            format!("{host:?}"),
            "an IP address or a resolvable host name",
        ));
    }
    let addrs: Vec<IpAddr> = (host, 0)
        .to_socket_addrs()
        .map_err(|_| {
            ConfigError::invalid(
                field,
                format!("{host:?}"),
                "an IP address or a resolvable host name",
            )
        })?
        .map(|a| a.ip())
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| {
            ConfigError::invalid(
                field,
                format!("{host:?}"),
                "an IP address or a resolvable host name",
            )
        })
}

impl Resolver<'_> {
    pub(super) fn self_address(
        &mut self,
        field: &str,
        host: &str,
        ip: IpAddr,
        role: RolePin,
    ) -> R<()> {
        if !self.facts.is_self(ip) {
            return Ok(());
        }
        let why = format!("{host:?} is this host ({ip}): that path would always be up and the standby could never promote");
        if role != RolePin::Auto {
            self.warn(
                field,
                format!(
                    "LOUD WARNING: {why}; allowed only because role is pinned (single-host test)"
                ),
            );
            return Ok(());
        }
        self.warn(field, format!("LOUD WARNING: {why}"));
        self.host_problem(
            field,
            format!("{host:?}"),
            "the other node's address (or pin role for a single-host test)",
        )
    }
}
