//! `[checks]`: the attempt settings of the icmp, remote_db, serial and gateway paths
//! (defaults filled in; the engine checks them), the ICMP TTL, the serial line, and
//! the gateway's address (given, or the default route's next hop; never the peer, the
//! VIP or this host).

use std::net::IpAddr;
use std::path::PathBuf;

use super::address::resolve_host;
use super::{absolute, Resolver, R};
use crate::config::defaults as d;
use crate::config::error::ConfigError;
use crate::config::raw::{RawChecks, RawPath};
use crate::config::types::{Checks, Peer, RolePin, Vip};

impl Resolver<'_> {
    pub(super) fn checks(&mut self, raw: RawChecks) -> R<Checks> {
        let icmp = raw.icmp.unwrap_or_default();
        let ttl = icmp.ttl.unwrap_or(d::TTL);
        let icmp_ttl = u8::try_from(ttl)
            .ok()
            .filter(|t| *t > 0)
            .ok_or_else(|| ConfigError::invalid("checks.icmp.ttl", ttl, "a TTL from 1 to 255"))?;
        let ser = raw.serial.unwrap_or_default();
        let serial_baud = ser.baud.unwrap_or(d::BAUD);
        if serial_baud == 0 || serial_baud > 4_000_000 {
            return Err(ConfigError::invalid(
                "checks.serial.baud",
                serial_baud,
                "a speed from 1 to 4000000 baud",
            ));
        }
        let serial_device = absolute(
            "checks.serial.device",
            ser.device.unwrap_or_else(|| d::SERIAL_DEVICE.to_owned()),
            "an absolute device path such as \"/dev/ttyS0\"",
        )?;
        if !std::path::Path::new(&serial_device).exists() {
            self.warn("checks.serial.device", format!("{serial_device:?} does not exist (yet): the serial path counts as down until it appears"));
        }
        let gw = raw.gateway.unwrap_or_default();
        let gateway_address = match gw.address {
            Some(a) => Some(resolve_host("checks.gateway.address", &a)?),
            None => None,
        };
        Ok(Checks {
            icmp: self.path_config(
                "checks.icmp",
                RawPath {
                    interval: icmp.interval,
                    timeout: icmp.timeout,
                    retries: icmp.retries,
                },
                self.timings.icmp,
            ),
            icmp_ttl,
            remote_db: self.path_config(
                "checks.remote_db",
                raw.remote_db.unwrap_or_default(),
                self.timings.remote_db,
            ),
            serial: self.path_config(
                "checks.serial",
                RawPath {
                    interval: ser.interval,
                    timeout: ser.timeout,
                    retries: ser.retries,
                },
                self.timings.serial,
            ),
            serial_device: PathBuf::from(serial_device),
            serial_baud,
            serial_bridge: ser.bridge.unwrap_or(false),
            gateway: self.path_config(
                "checks.gateway",
                RawPath {
                    interval: gw.interval,
                    timeout: gw.timeout,
                    retries: gw.retries,
                },
                self.timings.gateway,
            ),
            gateway_address,
        })
    }

    /// The gateway's address: the one given, or the default route's next hop.
    pub(super) fn gateway_address(
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
}
