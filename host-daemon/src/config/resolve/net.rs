//! Addresses: the peer, the gateway and the VIP, checked against this host.

use std::net::{IpAddr, ToSocketAddrs};

use ipnet::IpNet;

use super::{check_timeout, dur, non_empty, Resolver, R};
use crate::config::defaults as d;
use crate::config::error::ConfigError;
use crate::config::raw::{RawPeer, RawVip};
use crate::config::types::*;
use crate::config::units::Port;

/// Resolves a host name or IP literal; IPv4 first, as the lab and the notes use it.
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

    pub(super) fn peer(&mut self, raw: Option<RawPeer>, local: &DbConn, role: RolePin) -> R<Peer> {
        let raw = raw.unwrap_or_default();
        let host = raw.address.ok_or_else(|| {
            ConfigError::invalid(
                "peer.address",
                "(missing)",
                "the other node's IP address or host name",
            )
        })?;
        let address = resolve_host("peer.address", &host)?;
        self.self_address("peer.address", &host, address, role)?;
        let password = self
            .password("peer", raw.password, raw.password_file)?
            .unwrap_or_else(|| local.password.clone());
        let db = DbConn {
            host: host.clone(),
            port: raw.db_port.unwrap_or(Port(d::DB_PORT)).0,
            user: non_empty("peer.user", raw.user, &local.user)?,
            password,
            dbname: non_empty("peer.dbname", raw.dbname, &local.dbname)?,
        };
        Ok(Peer { host, address, db })
    }

    pub(super) fn gateway(
        &mut self,
        given: Option<IpAddr>,
        role: RolePin,
        peer: &Peer,
        vip: &Vip,
    ) -> R<Option<IpAddr>> {
        let gw = given.or_else(|| self.facts.default_gateway().map(IpAddr::V4));
        match gw {
            None => {
                self.host_problem(
                    "checks.gateway.address",
                    "(none)",
                    "an address, or a default route to take it from",
                )?;
            }
            Some(ip) => {
                if ip == peer.address {
                    return Err(ConfigError::invalid(
                        "checks.gateway.address",
                        ip,
                        "an address other than peer.address",
                    ));
                }
                if ip == vip.address.addr() {
                    return Err(ConfigError::invalid(
                        "checks.gateway.address",
                        ip,
                        "an address other than vip.address",
                    ));
                }
                self.self_address("checks.gateway.address", &ip.to_string(), ip, role)?;
            }
        }
        Ok(gw)
    }

    pub(super) fn vip(&mut self, raw: Option<RawVip>) -> R<Vip> {
        let raw = raw.unwrap_or_default();
        let s = raw.address.ok_or_else(|| {
            ConfigError::invalid(
                "vip.address",
                "(missing)",
                "the virtual IP, such as \"10.0.0.100/24\"",
            )
        })?;
        let expected = "an IP address with an optional prefix length, such as \"10.0.0.100/24\"";
        let (ip, prefix): (IpAddr, Option<u8>) = match s.split_once('/') {
            Some((a, p)) => (
                a.trim()
                    .parse()
                    .map_err(|_| ConfigError::invalid("vip.address", format!("{s:?}"), expected))?,
                Some(p.trim().parse().map_err(|_| {
                    ConfigError::invalid("vip.address", format!("{s:?}"), expected)
                })?),
            ),
            None => (
                s.trim()
                    .parse()
                    .map_err(|_| ConfigError::invalid("vip.address", format!("{s:?}"), expected))?,
                None,
            ),
        };
        if ip.is_loopback() || ip.is_unspecified() || ip.is_multicast() {
            return Err(ConfigError::invalid(
                "vip.address",
                format!("{s:?}"),
                "a unicast address that is not loopback",
            ));
        }
        let subnet = self.facts.subnet_of(ip).cloned();
        let prefix = prefix
            .or(subnet.as_ref().map(|a| a.net.prefix_len()))
            .unwrap_or(if ip.is_ipv4() { 32 } else { 128 });
        let address = IpNet::new(ip, prefix)
            .map_err(|_| ConfigError::invalid("vip.address", format!("{s:?}"), expected))?;
        if prefix < address.max_prefix_len()
            && (ip == address.network() || (ip.is_ipv4() && ip == address.broadcast()))
        {
            return Err(ConfigError::invalid(
                "vip.address",
                format!("{s:?}"),
                "a host address, not the subnet's network or broadcast address",
            ));
        }
        let route_if = self.facts.route_to(ip).map(|r| r.interface.clone());
        let interface = match raw.interface {
            Some(i) => {
                if !self.facts.has_interface(&i) {
                    self.host_problem(
                        "vip.interface",
                        format!("{i:?}"),
                        "a network interface of this host",
                    )?;
                }
                Some(i)
            }
            None => subnet.as_ref().map(|a| a.interface.clone()).or(route_if),
        };
        if subnet.is_none() {
            self.host_problem(
                "vip.address",
                format!("{s:?}"),
                "an address inside a subnet of one of this host's interfaces",
            )?;
        }
        let gratuitous_arp = raw.gratuitous_arp.unwrap_or(d::GARP);
        if gratuitous_arp > 100 {
            return Err(ConfigError::invalid(
                "vip.gratuitous_arp",
                gratuitous_arp,
                "a count from 0 to 100",
            ));
        }
        let arp_probe_timeout = check_timeout(
            "vip.arp_probe_timeout",
            dur(raw.arp_probe_timeout, d::ARP_PROBE_TIMEOUT),
        )?;
        Ok(Vip {
            address,
            interface,
            gratuitous_arp,
            arp_probe_timeout,
        })
    }
}
