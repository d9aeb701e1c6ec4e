//! `[vip]`: the virtual IP, its prefix and interface (inferred from this host's
//! subnets and routes when not given), and the ARP settings.

use std::net::IpAddr;

use ipnet::IpNet;

use super::{required, Resolver, R};
use crate::config::defaults as d;
use crate::config::error::ConfigError;
use crate::config::raw::RawVip;
use crate::config::types::Vip;

impl Resolver<'_> {
    pub(super) fn vip(&mut self, raw: Option<RawVip>) -> R<Vip> {
        let raw = raw.unwrap_or_default();
        let s = required(
            "vip.address",
            raw.address,
            "the virtual IP, such as \"10.0.0.100/24\"",
        )?;
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
        let arp_probe_timeout = self.timed(
            "vip.arp_probe_timeout",
            raw.arp_probe_timeout,
            self.timings.arp_probe_timeout,
        );
        Ok(Vip {
            address,
            interface,
            gratuitous_arp,
            arp_probe_timeout,
        })
    }
}
