//! Check 5, the VIP without a command (the notes' question): the capabilities the
//! daemon needs, the interface and its subnet, netlink answering, and who holds the
//! VIP now: this node (netlink says so), or someone an ARP probe finds — RFC 5227's
//! probe, sender address 0.0.0.0, never an announcement, so no cache anywhere
//! changes.

use std::net::IpAddr;

use super::Finding;
use crate::actions::arp_probe::{probe_vip, ProbeOptions, ProbeOutcome};
use crate::actions::vip::{Vip, VipSpec};
use crate::config::{Config, HostFacts};

/// `CAP_NET_ADMIN`'s bit in the capability sets (linux/capability.h).
const CAP_NET_ADMIN: u32 = 12;
/// `CAP_NET_RAW`'s bit.
const CAP_NET_RAW: u32 = 13;

pub(super) async fn check(cfg: &Config, facts: &HostFacts) -> Vec<Finding> {
    let mut out = vec![capabilities()];
    let vip = cfg.vip.address;
    let subnet_iface = facts.subnet_of(vip.addr()).map(|a| a.interface.clone());
    let Some(iface) = cfg.vip.interface.clone().or(subnet_iface.clone()) else {
        out.push(Finding::fail(
            "vip.interface",
            format!("no interface of this host is on {}'s subnet", vip.trunc()),
            "set vip.interface, or give the interface an address in the VIP's subnet",
        ));
        return out;
    };
    out.push(if !facts.has_interface(&iface) {
        Finding::fail("vip.interface", format!("no interface named {iface:?}"), "set vip.interface to an interface of this host")
    } else if subnet_iface.as_deref() != Some(iface.as_str()) {
        Finding::warn(
            "vip.interface",
            format!("{iface} holds no address in {}", vip.trunc()),
            "put the VIP on the interface of its subnet: elsewhere, ARP for it is not answered where clients look",
        )
    } else {
        Finding::ok("vip.interface", format!("{iface} is on {}", vip.trunc()))
    });
    let spec = VipSpec {
        address: vip.addr(),
        prefix_len: vip.prefix_len(),
        interface: iface.clone(),
    };
    let present = match Vip::new(spec) {
        Ok(handle) => handle.is_present().await,
        Err(e) => Err(e),
    };
    let here = match present {
        Ok(here) => {
            out.push(Finding::ok(
                "vip.netlink",
                format!("netlink answers: {iface} read"),
            ));
            here
        }
        Err(e) => {
            out.push(Finding::fail(
                "vip.netlink",
                e.to_string(),
                "the daemon moves the VIP over netlink: run where it runs",
            ));
            return out;
        }
    };
    out.push(holder(cfg, &iface, here).await);
    out
}

/// Whether this process has `CAP_NET_ADMIN` and `CAP_NET_RAW` in its effective set.
fn capabilities() -> Finding {
    let effective = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        });
    let Some(eff) = effective else {
        return Finding::warn(
            "vip.capabilities",
            "cannot read CapEff from /proc/self/status",
            "run on Linux with /proc mounted",
        );
    };
    let missing: Vec<&str> = [
        (CAP_NET_ADMIN, "CAP_NET_ADMIN"),
        (CAP_NET_RAW, "CAP_NET_RAW"),
    ]
    .into_iter()
    .filter(|(bit, _)| eff & (1 << bit) == 0)
    .map(|(_, name)| name)
    .collect();
    if missing.is_empty() {
        Finding::ok(
            "vip.capabilities",
            "CAP_NET_ADMIN and CAP_NET_RAW in the effective set",
        )
    } else {
        Finding::fail(
            "vip.capabilities",
            format!("{} missing from the effective set", missing.join(" and ")),
            "run as root, or grant AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW (the package's unit does): without them the VIP cannot move (netlink refuses) and ICMP and ARP probes cannot be sent",
        )
    }
}

/// Who answers for the VIP: this node, the peer (its primary), or another host (a
/// conflict).
async fn holder(cfg: &Config, iface: &str, here: bool) -> Finding {
    let vip = cfg.vip.address.addr();
    if here {
        return Finding::ok(
            "vip.holder",
            format!("{vip} is on {iface}: this node holds it"),
        );
    }
    let IpAddr::V4(v4) = vip else {
        return Finding::ok(
            "vip.holder",
            format!("{vip} is not on this node (IPv6: no ARP probe)"),
        );
    };
    let opts = ProbeOptions {
        count: 3,
        interval: cfg.vip.arp_probe_timeout / 4,
    };
    match probe_vip(iface, v4, opts).await {
        Err(e) => Finding::warn(
            "vip.holder",
            format!("cannot probe: {e}"),
            "run diagnose as the daemon runs (CAP_NET_RAW)",
        ),
        Ok(ProbeOutcome::Free) => Finding::ok("vip.holder", format!("nobody answers for {vip}")),
        Ok(ProbeOutcome::Held { by, .. }) => {
            let mac = mac_text(by);
            let peer_mac = neighbour_mac(cfg.peer.address);
            if peer_mac.as_deref() == Some(mac.as_str()) {
                Finding::ok(
                    "vip.holder",
                    format!("{vip} answered by {mac}: the peer ({})", cfg.peer.address),
                )
            } else {
                Finding::fail(
                    "vip.holder",
                    format!("{vip} answered by {mac}, not this node and not the peer ({}{})", cfg.peer.address, peer_mac.map_or(String::new(), |m| format!(" is {m}"))),
                    "another host uses the VIP: free it there, or choose a free address (a promotion would refuse while it answers)",
                )
            }
        }
    }
}

fn mac_text(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The MAC the neighbour table (`/proc/net/arp`) has for `ip`, if any.
fn neighbour_mac(ip: IpAddr) -> Option<String> {
    let text = std::fs::read_to_string("/proc/net/arp").ok()?;
    let ip = ip.to_string();
    text.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.first() == Some(&ip.as_str()) && f.get(3).is_some_and(|m| *m != "00:00:00:00:00:00"))
            .then(|| f[3].to_lowercase())
    })
}
