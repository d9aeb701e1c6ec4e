//! The lab's network: a switch (a bridge in its own namespace), node a, node b, a gateway
//! host and a client, each joined to the switch by a veth pair, all in one private /24
//! that exists only inside these namespaces. Nothing routes off the machine.

use std::fmt;
use std::net::Ipv4Addr;
use std::process::Command;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{enter, exec_in, ip_in};
use crate::cmd::{output_within, run, run_within};
use crate::error::{LabError, Result};

/// One of the two database nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Node {
    /// The first node: primary at start.
    A,
    /// The second node: standby at start.
    B,
}

impl Node {
    /// Both nodes.
    pub const BOTH: [Node; 2] = [Node::A, Node::B];

    /// "a" or "b" (the daemon's `node_id`).
    pub fn name(self) -> &'static str {
        match self {
            Node::A => "a",
            Node::B => "b",
        }
    }

    /// The other node.
    pub fn peer(self) -> Node {
        match self {
            Node::A => Node::B,
            Node::B => Node::A,
        }
    }

    /// The host this node runs on.
    pub fn host(self) -> Host {
        match self {
            Node::A => Host::A,
            Node::B => Host::B,
        }
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A host (network namespace) of the lab.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Host {
    /// The switch: a bridge, no address.
    Switch,
    /// Node a.
    A,
    /// Node b.
    B,
    /// The gateway both nodes check; it has no uplink.
    Gateway,
    /// A client that uses the VIP.
    Client,
}

impl Host {
    /// The hosts attached to the switch.
    pub const ATTACHED: [Host; 4] = [Host::A, Host::B, Host::Gateway, Host::Client];

    fn suffix(self) -> &'static str {
        match self {
            Host::Switch => "sw",
            Host::A => "a",
            Host::B => "b",
            Host::Gateway => "gw",
            Host::Client => "cl",
        }
    }

    /// The host's port (veth end) on the switch.
    fn port(self) -> String {
        format!("veth-{}", self.suffix())
    }

    fn octet(self) -> u8 {
        match self {
            Host::Switch => 0,
            Host::A => 11,
            Host::B => 12,
            Host::Gateway => 1,
            Host::Client => 50,
        }
    }
}

/// The interface every attached host uses towards the switch.
pub const IFACE: &str = "eth0";

/// Names and addresses of one lab instance's network.
#[derive(Debug, Clone)]
pub struct Topology {
    /// The lab id: namespaces `tblab-<id>-*`, subnet 10.77.<id>.0/24.
    pub id: u8,
}

/// What a host's lab interface looks like now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfaceState {
    /// The kernel's operational state ("UP", "DOWN", "LOWERLAYERDOWN").
    pub operstate: String,
    /// IPv4 addresses on it.
    pub addrs: Vec<Ipv4Addr>,
}

impl IfaceState {
    /// Is the interface up with carrier (reachable from the switch)?
    pub fn up(&self) -> bool {
        self.operstate == "UP"
    }
}

impl Topology {
    /// The topology of lab `id`.
    pub fn new(id: u8) -> Self {
        Self { id }
    }

    /// The namespace name of `host`.
    pub fn ns(&self, host: Host) -> String {
        format!("{}{}-{}", crate::state::NS_PREFIX, self.id, host.suffix())
    }

    /// The address of `host` (the switch has none: 10.77.<id>.0).
    pub fn addr(&self, host: Host) -> Ipv4Addr {
        Ipv4Addr::new(10, 77, self.id, host.octet())
    }

    /// The shared virtual IP.
    pub fn vip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 77, self.id, 100)
    }

    /// The lab subnet in CIDR notation.
    pub fn subnet(&self) -> String {
        format!("10.77.{}.0/24", self.id)
    }

    /// Runs `ip -n <ns> args...`.
    pub fn ip(&self, host: Host, args: &[&str]) -> Result<String> {
        ip_in(&self.ns(host), args)
    }

    /// A command that runs `program args...` inside `host`'s namespace.
    pub fn exec(&self, host: Host, program: &str, args: &[&str]) -> Command {
        exec_in(&self.ns(host), program, args)
    }

    /// Creates the namespaces, the switch and the links; every host but the gateway gets a
    /// default route via the lab gateway (which has none).
    pub fn create(&self) -> Result<()> {
        let sw = self.ns(Host::Switch);
        for h in [Host::Switch, Host::A, Host::B, Host::Gateway, Host::Client] {
            run("ip", &["netns", "add", &self.ns(h)])?;
            self.ip(h, &["link", "set", "lo", "up"])?;
        }
        // STP off (the default) lets bridge ports forward at once.
        self.ip(Host::Switch, &["link", "add", "br0", "type", "bridge"])?;
        self.ip(Host::Switch, &["link", "set", "br0", "up"])?;
        let prefix = format!("/{}", 24);
        for h in Host::ATTACHED {
            let port = h.port();
            self.ip(
                h,
                &[
                    "link", "add", IFACE, "type", "veth", "peer", "name", &port, "netns", &sw,
                ],
            )?;
            self.ip(
                Host::Switch,
                &["link", "set", "dev", &port, "master", "br0"],
            )?;
            self.ip(Host::Switch, &["link", "set", "dev", &port, "up"])?;
            let addr = format!("{}{prefix}", self.addr(h));
            self.ip(h, &["addr", "add", &addr, "dev", IFACE])?;
            self.ip(h, &["link", "set", IFACE, "up"])?;
            if h != Host::Gateway {
                let gw = self.addr(Host::Gateway).to_string();
                self.ip(h, &["route", "add", "default", "via", &gw])?;
            }
        }
        Ok(())
    }

    /// Deletes the namespaces (processes inside must be gone first; see `state::remove_lab`).
    pub fn destroy(&self) -> Vec<String> {
        crate::state::remove_lab(self.id, None, None)
    }

    /// Plugs (`up`) or unplugs a host's cable at the switch: the host's own interface keeps
    /// its addresses but loses carrier.
    pub fn set_link(&self, host: Host, up: bool) -> Result<()> {
        let state = if up { "up" } else { "down" };
        self.ip(Host::Switch, &["link", "set", "dev", &host.port(), state])?;
        Ok(())
    }

    /// One ICMP echo from `from` to `to`, waiting at most `wait`: did a reply come?
    pub fn ping(&self, from: Host, to: Ipv4Addr, wait: Duration) -> bool {
        let secs = format!("{:.3}", wait.as_secs_f64().max(0.2));
        let cmd = self.exec(
            from,
            "ping",
            &["-n", "-q", "-c", "1", "-W", &secs, &to.to_string()],
        );
        output_within(cmd, wait + Duration::from_secs(5)).is_ok_and(|o| o.status.success())
    }

    /// The state and IPv4 addresses of `host`'s lab interface (`ip -j addr`).
    pub fn iface(&self, host: Host) -> Result<IfaceState> {
        let mut cmd = Command::new("ip");
        cmd.args(["-n", &self.ns(host), "-j", "addr", "show", "dev", IFACE]);
        parse_iface(&run_within(cmd, Duration::from_secs(10))?)
    }

    /// Adds or removes an address on a host's lab interface. The lab uses this only to stage
    /// faults and observations (e.g. a rebooted host loses its VIP); the product never does.
    pub fn set_addr(&self, host: Host, addr: Ipv4Addr, present: bool) -> Result<()> {
        let cidr = format!("{addr}/24");
        let verb = if present { "add" } else { "del" };
        self.ip(host, &["addr", verb, &cidr, "dev", IFACE])
            .map(drop)
    }

    /// Runs `f` on a thread inside `host`'s network namespace: sockets it opens live there.
    pub fn in_netns<T: Send>(&self, host: Host, f: impl FnOnce() -> T + Send) -> Result<T> {
        enter(&self.ns(host), f)
    }
}

/// Parses `ip -j addr show dev X`.
pub fn parse_iface(json: &str) -> Result<IfaceState> {
    let bad = |detail: &str| LabError::Parse {
        what: "ip -j addr".into(),
        detail: detail.into(),
    };
    let v: serde_json::Value = serde_json::from_str(json).map_err(|e| bad(&e.to_string()))?;
    let link = v.get(0).ok_or_else(|| bad("no interface"))?;
    let operstate = link["operstate"].as_str().unwrap_or("UNKNOWN").to_owned();
    let addrs = link["addr_info"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|i| i["family"] == "inet")
                .filter_map(|i| i["local"].as_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    Ok(IfaceState { operstate, addrs })
}
