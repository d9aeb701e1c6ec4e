//! Two namespaces joined by a veth pair: the daemon's tests' small networks (a prober and
//! its peer, a node and its gateway).

use super::Netns;
use crate::error::Result;

/// One end of a [`NetPair`]: the interface's name and its addresses in CIDR notation.
/// IPv6 addresses are added without duplicate address detection, usable at once.
#[derive(Debug, Clone, Copy)]
pub struct End<'a> {
    /// The veth end's name inside its namespace.
    pub ifname: &'a str,
    /// Its addresses (`10.250.1.1/24`, `fd00:250::1/64`).
    pub addrs: &'a [&'a str],
}

impl<'a> End<'a> {
    /// An end named `ifname` with `addrs`.
    pub fn new(ifname: &'a str, addrs: &'a [&'a str]) -> Self {
        Self { ifname, addrs }
    }
}

/// Namespaces `a` and `b`, each holding one end of a veth pair, both ends up.
#[derive(Debug)]
pub struct NetPair {
    /// The first namespace.
    pub a: Netns,
    /// The second namespace.
    pub b: Netns,
}

impl NetPair {
    /// Builds both namespaces (named `<prefix>-<pid>-<n>`, see [`Netns::unique`]) and the
    /// link between them. A half-built pair is removed like a whole one.
    pub fn new(prefix: &str, a_end: End<'_>, b_end: End<'_>) -> Result<Self> {
        let pair = Self {
            a: Netns::unique(prefix)?,
            b: Netns::unique(prefix)?,
        };
        pair.a.ip(&[
            "link",
            "add",
            a_end.ifname,
            "type",
            "veth",
            "peer",
            "name",
            b_end.ifname,
            "netns",
            pair.b.name(),
        ])?;
        for (ns, end) in [(&pair.a, a_end), (&pair.b, b_end)] {
            for addr in end.addrs {
                let mut args = vec!["addr", "add", addr, "dev", end.ifname];
                if addr.contains(':') {
                    args.push("nodad");
                }
                ns.ip(&args)?;
            }
            ns.ip(&["link", "set", end.ifname, "up"])?;
        }
        Ok(pair)
    }
}
