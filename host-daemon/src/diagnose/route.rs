//! Check 2, route and TTL (the notes' traceroute): echo requests with a growing TTL
//! to the peer and to the gateway find how many hops away each is; the routing table
//! says through which interface and next hop. The peer must be one hop away, on the
//! VIP's interface and subnet: a peer reached through the gateway, or through another
//! interface, shares fate with a path it should be independent of.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::Finding;
use crate::config::{Config, HostFacts};
use crate::probe::icmp::{IcmpOutcome, IcmpProber};

/// The most hops looked for: a pair is one hop apart, a gateway one or two.
const MAX_TTL: u32 = 4;
/// Echo requests per TTL before that TTL counts as not reaching.
const TRIES: u32 = 2;

/// What the probes found of one address.
struct Trace {
    /// The smallest TTL an echo reply came back with (`None`: none up to `MAX_TTL`).
    hops: Option<u32>,
    /// Round trip at the normal TTL (`None`: no reply).
    rtt: Option<Duration>,
}

pub(super) async fn check(cfg: &Config, facts: &HostFacts) -> Vec<Finding> {
    let timeout = cfg.checks.icmp.timeout;
    let vip_iface = cfg.vip.interface.clone().or_else(|| {
        facts
            .subnet_of(cfg.vip.address.addr())
            .map(|a| a.interface.clone())
    });
    let mut out = Vec::new();
    let peer = cfg.peer.address;
    match trace(peer, u32::from(cfg.checks.icmp_ttl), timeout).await {
        Err(e) => out.push(cannot_probe("route.peer", &e)),
        Ok(t) => out.push(judge_peer(cfg, facts, vip_iface.as_deref(), &t)),
    }
    if let Some(gw) = cfg.checks.gateway_address {
        match trace(
            gw,
            u32::from(cfg.checks.icmp_ttl),
            cfg.checks.gateway.timeout,
        )
        .await
        {
            Err(e) => out.push(cannot_probe("route.gateway", &e)),
            Ok(t) => out.push(judge_gateway(gw, facts, &t)),
        }
    }
    out
}

fn cannot_probe(check: &str, e: &str) -> Finding {
    Finding::warn(
        check,
        format!("cannot send ICMP: {e}"),
        "run diagnose as the daemon runs (root, or with CAP_NET_RAW)",
    )
}

/// `via <interface>[ through <next hop>]`, from the routing table.
fn route_words(facts: &HostFacts, ip: IpAddr) -> String {
    match facts.route_to(ip) {
        Some(r) => match r.gateway {
            Some(gw) => format!("via {} through {gw}", r.interface),
            None => format!("via {}", r.interface),
        },
        None => "no route in /proc/net/route".to_owned(),
    }
}

fn measured(t: &Trace) -> String {
    let hops = t.hops.map_or(format!("more than {MAX_TTL} hops"), |h| {
        format!("{h} hop{}", if h == 1 { "" } else { "s" })
    });
    let rtt = t.rtt.map_or("no echo reply".to_owned(), |d| {
        format!("rtt {:.3} ms", d.as_secs_f64() * 1e3)
    });
    format!("{hops}, {rtt}")
}

fn judge_peer(cfg: &Config, facts: &HostFacts, vip_iface: Option<&str>, t: &Trace) -> Finding {
    let peer = cfg.peer.address;
    let found = format!("peer {peer}: {}, {}", measured(t), route_words(facts, peer));
    if t.rtt.is_none() && t.hops.is_none() {
        return Finding::fail(
            "route.peer",
            found,
            "the peer does not answer ICMP: check its address, that it is up, and that no firewall drops echo requests",
        );
    }
    let route = facts.route_to(peer);
    if let Some(gw) = route.and_then(|r| r.gateway) {
        return Finding::warn(
            "route.peer",
            found,
            format!("the route to the peer goes through {gw}: losing that router loses the peer's IP paths together; put both nodes on one subnet"),
        );
    }
    if let (Some(route), Some(vip_iface)) = (route, vip_iface) {
        if route.interface != vip_iface {
            return Finding::warn(
                "route.peer",
                found,
                format!("the peer is reached via {}, the VIP lives on {vip_iface}: the paths are not the ones the VIP depends on", route.interface),
            );
        }
    }
    if !cfg.vip.address.contains(&peer) {
        return Finding::warn(
            "route.peer",
            found,
            format!(
                "the peer is not in the VIP's subnet {}",
                cfg.vip.address.trunc()
            ),
        );
    }
    if t.hops != Some(1) {
        return Finding::warn(
            "route.peer",
            found,
            "the peer is not one hop away: a router between the nodes is a shared point of failure",
        );
    }
    Finding::ok("route.peer", found)
}

fn judge_gateway(gw: IpAddr, facts: &HostFacts, t: &Trace) -> Finding {
    let found = format!("gateway {gw}: {}, {}", measured(t), route_words(facts, gw));
    if t.rtt.is_none() && t.hops.is_none() {
        return Finding::fail(
            "route.gateway",
            found,
            "the gateway does not answer ICMP: the master would fence at once; set checks.gateway.address to a router that answers",
        );
    }
    Finding::ok("route.gateway", found)
}

/// The smallest TTL in `1..=MAX_TTL` that `ip` answers at, and a round trip at `ttl`.
/// Each echo request is bounded by `timeout`.
async fn trace(ip: IpAddr, ttl: u32, timeout: Duration) -> Result<Trace, String> {
    let mut hops = None;
    for probe_ttl in 1..=MAX_TTL {
        if reply(ip, probe_ttl, timeout).await?.is_some() {
            hops = Some(probe_ttl);
            break;
        }
    }
    let rtt = reply(ip, ttl, timeout).await?;
    Ok(Trace { hops, rtt })
}

/// Up to `TRIES` echo requests with `ttl`: the first reply's round trip.
async fn reply(ip: IpAddr, ttl: u32, timeout: Duration) -> Result<Option<Duration>, String> {
    let prober = IcmpProber::new(ttl);
    let mut target = prober.target(ip).await.map_err(|e| e.to_string())?;
    for _ in 0..TRIES {
        let started = Instant::now();
        if let IcmpOutcome::Reply { rtt, .. } = target.attempt(timeout).await {
            return Ok(Some(rtt.min(started.elapsed())));
        }
    }
    Ok(None)
}
