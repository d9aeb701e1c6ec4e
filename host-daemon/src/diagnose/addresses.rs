//! Check 1, addresses: the peer, the gateway and the VIP are real, distinct addresses,
//! and neither the peer nor the gateway is this host (a path to oneself is always up,
//! so the standby could never promote). A peer given by name depends on the resolver,
//! which must not be consulted at failover time.

use std::net::{IpAddr, ToSocketAddrs};

use super::Finding;
use crate::config::{Config, HostFacts};

pub(super) fn check(cfg: &Config, facts: &HostFacts) -> Vec<Finding> {
    let peer = cfg.peer.address;
    let vip = cfg.vip.address.addr();
    let mut out = vec![one(
        "address.peer",
        "peer.address",
        peer,
        facts,
        &[
            ("the gateway", cfg.checks.gateway_address),
            ("the VIP", Some(vip)),
        ],
    )];
    if let Some(named) = by_name(&cfg.peer.host, peer) {
        out.push(named);
    }
    out.push(match cfg.checks.gateway_address {
        Some(gw) => one(
            "address.gateway",
            "checks.gateway.address",
            gw,
            facts,
            &[("the peer", Some(peer)), ("the VIP", Some(vip))],
        ),
        None => Finding::fail(
            "address.gateway",
            "no gateway: none given and no default route to take it from",
            "set checks.gateway.address to the router both nodes reach (the master fences when it loses it)",
        ),
    });
    out.push(if vip.is_loopback() || vip.is_unspecified() {
        Finding::fail(
            "address.vip",
            format!("the VIP {vip} is not a unicast address of the network"),
            "set vip.address to a free address of the nodes' subnet",
        )
    } else if facts.is_self(vip) {
        Finding::ok(
            "address.vip",
            format!(
                "{} (on this node now: it serves as primary)",
                cfg.vip.address
            ),
        )
    } else {
        Finding::ok("address.vip", cfg.vip.address.to_string())
    });
    out
}

/// The verdict on `ip` (configured as `field`): loopback, this host's own, or the same
/// as one of `others` fails.
fn one(
    check: &str,
    field: &str,
    ip: IpAddr,
    facts: &HostFacts,
    others: &[(&str, Option<IpAddr>)],
) -> Finding {
    if ip.is_loopback() || ip.is_unspecified() {
        return Finding::fail(
            check,
            format!("{field} is {ip}, this host's loopback: that path would always be up"),
            format!("set {field} to the other machine's address on the pair's network"),
        );
    }
    if facts.is_self(ip) {
        let iface = facts
            .addrs
            .iter()
            .find(|a| a.net.addr() == ip)
            .map_or(String::new(), |a| format!(" (on {})", a.interface));
        return Finding::fail(
            check,
            format!(
                "{field} is {ip}, an address of this host{iface}: that path would always be up"
            ),
            format!("set {field} to the other machine's address, not this one's"),
        );
    }
    if let Some((what, _)) = others.iter().find(|(_, other)| *other == Some(ip)) {
        return Finding::fail(
            check,
            format!("{field} is {ip}, the same address as {what}"),
            "give the peer, the gateway and the VIP three different addresses",
        );
    }
    Finding::ok(check, ip.to_string())
}

/// A peer written as a host name: a warning, and how many addresses it has now.
fn by_name(host: &str, resolved: IpAddr) -> Option<Finding> {
    if host.parse::<IpAddr>().is_ok() {
        return None;
    }
    let mut all: Vec<IpAddr> = (host, 0)
        .to_socket_addrs()
        .map(|a| a.map(|s| s.ip()).collect())
        .unwrap_or_default();
    all.sort();
    all.dedup();
    let todo = format!(
        "write peer.address = \"{resolved}\": the daemon resolves names only at start, and a resolver that is down or changed must not decide a failover"
    );
    Some(if all.len() > 1 {
        Finding::warn(
            "address.peer.name",
            format!("peer.address {host:?} resolves to {} addresses ({all:?}); the daemon uses {resolved}", all.len()),
            todo,
        )
    } else {
        Finding::warn(
            "address.peer.name",
            format!("peer.address is the name {host:?} ({resolved})"),
            todo,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::host::LocalAddr;
    use crate::diagnose::Verdict;

    fn facts() -> HostFacts {
        HostFacts {
            addrs: vec![
                LocalAddr {
                    interface: "lo".into(),
                    net: "127.0.0.1/8".parse().unwrap(),
                },
                LocalAddr {
                    interface: "eth0".into(),
                    net: "10.0.0.1/24".parse().unwrap(),
                },
            ],
            ..HostFacts::default()
        }
    }

    fn verdict(ip: &str, others: &[(&str, Option<IpAddr>)]) -> (Verdict, String) {
        let f = one(
            "address.peer",
            "peer.address",
            ip.parse().unwrap(),
            &facts(),
            others,
        );
        (f.verdict, f.found)
    }

    #[test]
    fn loopback_and_own_addresses_fail_and_name_the_cause() {
        let (v, found) = verdict("127.0.0.1", &[]);
        assert_eq!(v, Verdict::Fail);
        assert!(found.contains("loopback"), "{found}");
        let (v, found) = verdict("10.0.0.1", &[]);
        assert_eq!(v, Verdict::Fail);
        assert!(
            found.contains("an address of this host (on eth0)"),
            "{found}"
        );
        let gw = Some("10.0.0.254".parse().unwrap());
        let (v, found) = verdict("10.0.0.254", &[("the gateway", gw)]);
        assert_eq!(v, Verdict::Fail);
        assert!(found.contains("the same address as the gateway"), "{found}");
        assert_eq!(verdict("10.0.0.2", &[("the gateway", gw)]).0, Verdict::Ok);
    }

    #[test]
    fn a_peer_given_by_name_warns() {
        assert_eq!(by_name("10.0.0.2", "10.0.0.2".parse().unwrap()), None);
        let f = by_name("localhost", "127.0.0.1".parse().unwrap()).expect("a finding");
        assert_eq!(f.verdict, Verdict::Warn);
        assert!(
            f.todo.contains("peer.address = \"127.0.0.1\""),
            "{}",
            f.todo
        );
    }
}
