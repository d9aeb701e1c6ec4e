//! Network faults made with nftables inside a namespace (this kernel has no netem).
//!
//! Each fault's rules carry a comment naming the fault, so one fault can be lifted while
//! others stay. Delays are not done here: the serial relay delays bytes in user space.

use std::net::Ipv4Addr;

use crate::error::{LabError, Result};
use crate::netns::{Host, Node, Topology};

/// The PostgreSQL port used on both nodes.
pub const PG_PORT: u16 = 5432;

const TABLE: &str = "tblab";

/// A network fault the lab can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// ICMP from `from` to `to`'s address is dropped (on `from`'s way out); TCP still passes.
    DropIcmp {
        /// The node whose pings are lost.
        from: Node,
        /// The node they were meant for.
        to: Node,
    },
    /// `from`'s TCP to `to`'s PostgreSQL port is dropped; ICMP still passes.
    DropPostgres {
        /// The node whose connections are lost.
        from: Node,
        /// The node whose PostgreSQL they target.
        to: Node,
    },
    /// All IP between a and b (either address, either way) is dropped; both still reach the
    /// gateway and the client.
    DropAllIpBetweenNodes,
    /// `node` can no longer reach the gateway (both ways dropped on `node`).
    DropGateway(Node),
}

impl Fault {
    fn tag(self) -> String {
        match self {
            Fault::DropIcmp { from, to } => format!("icmp-{from}-{to}"),
            Fault::DropPostgres { from, to } => format!("pg-{from}-{to}"),
            Fault::DropAllIpBetweenNodes => "ip-a-b".into(),
            Fault::DropGateway(n) => format!("gw-{n}"),
        }
    }

    /// (namespace host, chain, match) triples that make up this fault.
    fn rules(self, t: &Topology) -> Vec<(Host, &'static str, String)> {
        let addr = |n: Node| t.addr(n.host());
        match self {
            Fault::DropIcmp { from, to } => vec![(
                from.host(),
                "out",
                format!("ip daddr {} ip protocol icmp", addr(to)),
            )],
            Fault::DropPostgres { from, to } => vec![(
                from.host(),
                "out",
                format!("ip daddr {} tcp dport {PG_PORT}", addr(to)),
            )],
            Fault::DropAllIpBetweenNodes => Node::BOTH
                .iter()
                .flat_map(|&n| {
                    let peer = addr(n.peer());
                    [
                        (n.host(), "in", format!("ip saddr {peer}")),
                        (n.host(), "out", format!("ip daddr {peer}")),
                    ]
                })
                .collect(),
            Fault::DropGateway(n) => {
                let gw: Ipv4Addr = t.addr(Host::Gateway);
                vec![
                    (n.host(), "in", format!("ip saddr {gw}")),
                    (n.host(), "out", format!("ip daddr {gw}")),
                ]
            }
        }
    }
}

fn nft(t: &Topology, host: Host, script: &str) -> Result<String> {
    let args: Vec<&str> = script.split_whitespace().collect();
    let mut cmd = t.exec(host, "nft", &args);
    cmd.env("LC_ALL", "C");
    crate::cmd::run_within(cmd, crate::cmd::DEFAULT_DEADLINE)
}

fn ensure_table(t: &Topology, host: Host) -> Result<()> {
    // `add` is idempotent for tables and chains.
    nft(t, host, &format!("add table inet {TABLE}"))?;
    for (chain, hook) in [("in", "input"), ("out", "output")] {
        let script = format!(
            "add chain inet {TABLE} {chain} {{ type filter hook {hook} priority 0 ; policy accept ; }}"
        );
        nft(t, host, &script)?;
    }
    Ok(())
}

/// Injects `fault`.
pub fn apply(t: &Topology, fault: Fault) -> Result<()> {
    let tag = fault.tag();
    for (host, chain, matcher) in fault.rules(t) {
        ensure_table(t, host)?;
        nft(
            t,
            host,
            &format!("add rule inet {TABLE} {chain} {matcher} counter drop comment \"{tag}\""),
        )?;
    }
    Ok(())
}

/// Lifts `fault` (its rules only; other faults stay).
pub fn lift(t: &Topology, fault: Fault) -> Result<()> {
    let tag = fault.tag();
    let mut hosts: Vec<Host> = fault.rules(t).into_iter().map(|r| r.0).collect();
    hosts.dedup();
    for host in hosts {
        for (chain, handle) in rules_tagged(t, host, &tag)? {
            nft(
                t,
                host,
                &format!("delete rule inet {TABLE} {chain} handle {handle}"),
            )?;
        }
    }
    Ok(())
}

/// Lifts every fault in `host`'s namespace.
pub fn clear(t: &Topology, host: Host) -> Result<()> {
    if nft(t, host, &format!("list table inet {TABLE}")).is_ok() {
        nft(t, host, &format!("delete table inet {TABLE}"))?;
    }
    Ok(())
}

/// Packets dropped so far by `fault`'s rules (summed over its rules).
pub fn dropped_packets(t: &Topology, fault: Fault) -> Result<u64> {
    let tag = fault.tag();
    let mut hosts: Vec<Host> = fault.rules(t).into_iter().map(|r| r.0).collect();
    hosts.dedup();
    let mut total = 0;
    for host in hosts {
        for rule in list_rules(t, host)? {
            if rule["comment"] == tag.as_str() {
                for e in rule["expr"].as_array().into_iter().flatten() {
                    total += e["counter"]["packets"].as_u64().unwrap_or(0);
                }
            }
        }
    }
    Ok(total)
}

fn list_rules(t: &Topology, host: Host) -> Result<Vec<serde_json::Value>> {
    let Ok(text) = nft(t, host, &format!("-j -a list table inet {TABLE}")) else {
        return Ok(Vec::new()); // no table: no rules
    };
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| LabError::Parse {
        what: "nft -j output".into(),
        detail: e.to_string(),
    })?;
    Ok(v["nftables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item.get("rule").cloned())
        .collect())
}

fn rules_tagged(t: &Topology, host: Host, tag: &str) -> Result<Vec<(String, u64)>> {
    Ok(list_rules(t, host)?
        .into_iter()
        .filter(|r| r["comment"] == tag)
        .filter_map(|r| Some((r["chain"].as_str()?.to_owned(), r["handle"].as_u64()?)))
        .collect())
}
