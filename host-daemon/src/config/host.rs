//! Facts about this host that the configuration is checked against: its interfaces and
//! addresses (getifaddrs via `if-addrs`), its routes (`/proc/net/route`), its name and
//! its group database (getgrnam). No external command is run.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;

/// One address on one local interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LocalAddr {
    /// Interface name (`eth0`).
    pub interface: String,
    /// The address with its prefix length: the subnet the interface is on.
    pub net: IpNet,
}

/// One IPv4 route from `/proc/net/route`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route {
    /// Interface name.
    pub interface: String,
    /// Destination network (`0.0.0.0/0` for the default route).
    pub dest: IpNet,
    /// Next hop, when the route has one.
    pub gateway: Option<Ipv4Addr>,
}

/// What the configuration checks need to know about the host.
#[derive(Debug, Clone, Default)]
pub(crate) struct HostFacts {
    /// Host name (the default `node_id`).
    pub hostname: Option<String>,
    /// Every address on every interface, loopback included.
    pub addrs: Vec<LocalAddr>,
    /// IPv4 routes.
    pub routes: Vec<Route>,
    /// Names of the network interfaces (`/sys/class/net`).
    pub interfaces: Vec<String>,
    /// Where group names are looked up (`control.group`).
    pub groups: GroupDb,
}

/// The groups a host knows.
#[derive(Debug, Clone)]
pub(crate) enum GroupDb {
    /// The system's group database, asked per name (getgrnam: `/etc/group` and any
    /// NSS source), as the control server asks it when a caller connects.
    System,
    /// Exactly these names (tests).
    Listed(Vec<String>),
}

impl Default for GroupDb {
    /// No group at all: facts made up by a test ask nothing of the host.
    fn default() -> Self {
        GroupDb::Listed(Vec::new())
    }
}

impl HostFacts {
    /// Reads the facts of the running host. A source that cannot be read leaves its
    /// part empty: the checks that need it then report "not found".
    pub(crate) fn from_system() -> Self {
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        let addrs = if_addrs::get_if_addrs()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|i| {
                let net = match &i.addr {
                    if_addrs::IfAddr::V4(a) => IpNet::new(IpAddr::V4(a.ip), a.prefixlen).ok()?,
                    if_addrs::IfAddr::V6(a) => IpNet::new(IpAddr::V6(a.ip), a.prefixlen).ok()?,
                };
                Some(LocalAddr {
                    interface: i.name,
                    net,
                })
            })
            .collect();
        let routes = std::fs::read_to_string("/proc/net/route")
            .map(|t| parse_proc_route(&t))
            .unwrap_or_default();
        let mut interfaces: Vec<String> = std::fs::read_dir("/sys/class/net")
            .map(|rd| {
                rd.filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default();
        interfaces.sort();
        HostFacts {
            hostname,
            addrs,
            routes,
            interfaces,
            groups: GroupDb::System,
        }
    }

    /// Whether a group of this name exists. A database that cannot be read counts as
    /// "no such group": `run` then refuses the setting and says which one.
    pub(crate) fn has_group(&self, name: &str) -> bool {
        match &self.groups {
            GroupDb::System => matches!(nix::unistd::Group::from_name(name), Ok(Some(_))),
            GroupDb::Listed(names) => names.iter().any(|n| n == name),
        }
    }

    /// Whether `ip` is this host: loopback, unspecified, or one of its own addresses.
    pub(crate) fn is_self(&self, ip: IpAddr) -> bool {
        ip.is_loopback() || ip.is_unspecified() || self.addrs.iter().any(|a| a.net.addr() == ip)
    }

    /// The local address whose subnet contains `ip` (the longest prefix wins),
    /// loopback excluded.
    pub(crate) fn subnet_of(&self, ip: IpAddr) -> Option<&LocalAddr> {
        self.addrs
            .iter()
            .filter(|a| !a.net.addr().is_loopback() && a.net.contains(&ip))
            .max_by_key(|a| a.net.prefix_len())
    }

    /// The interface the routing table sends `ip` through (longest prefix match).
    pub(crate) fn route_to(&self, ip: IpAddr) -> Option<&Route> {
        self.routes
            .iter()
            .filter(|r| r.dest.contains(&ip))
            .max_by_key(|r| r.dest.prefix_len())
    }

    /// The next hop of the default route, if any.
    pub(crate) fn default_gateway(&self) -> Option<Ipv4Addr> {
        self.routes
            .iter()
            .find(|r| r.dest.prefix_len() == 0)
            .and_then(|r| r.gateway)
    }

    /// Whether an interface of this name exists.
    pub(crate) fn has_interface(&self, name: &str) -> bool {
        self.interfaces.iter().any(|i| i == name) || self.addrs.iter().any(|a| a.interface == name)
    }
}

/// Parses `/proc/net/route`: addresses are little-endian hex u32 (host byte order on
/// the little-endian machines this runs on; the kernel prints the raw `__be32`, which
/// read as a native integer on x86/arm64 is little-endian).
pub(crate) fn parse_proc_route(text: &str) -> Vec<Route> {
    fn hex_ip(s: &str) -> Option<Ipv4Addr> {
        let v = u32::from_str_radix(s, 16).ok()?;
        Some(Ipv4Addr::from(v.to_le_bytes()))
    }
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 8 {
                return None;
            }
            let dest = hex_ip(f[1])?;
            let gw = hex_ip(f[2])?;
            let mask = hex_ip(f[7])?;
            let prefix = u8::try_from(u32::from(mask).count_ones()).ok()?;
            Some(Route {
                interface: f[0].to_owned(),
                dest: IpNet::new(IpAddr::V4(dest), prefix).ok()?.trunc(),
                gateway: (!gw.is_unspecified()).then_some(gw),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTE: &str =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
eth0\t00000000\t0100000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
eth0\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";

    #[test]
    fn proc_route_parses_default_and_subnet() {
        let routes = parse_proc_route(ROUTE);
        assert_eq!(routes.len(), 2);
        let facts = HostFacts {
            routes,
            ..HostFacts::default()
        };
        assert_eq!(facts.default_gateway(), Some(Ipv4Addr::new(10, 0, 0, 1)));
        let r = facts.route_to("10.0.0.100".parse().unwrap()).unwrap();
        assert_eq!(r.dest.to_string(), "10.0.0.0/24");
        assert_eq!(r.interface, "eth0");
    }
}
