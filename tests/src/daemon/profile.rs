//! The lab's timing profiles and the configuration of a lab node's daemon.

use std::path::Path;

use super::config::{
    DaemonConfig, Failover, Fence, Gateway, Icmp, LocalDb, Peer, Serial, Service, Status, Timing,
    Vip,
};
use super::STATUS_LISTEN;
use crate::netns::{Host, Topology, IFACE};
use crate::pg::{PgNode, PORT};

/// Timing profile of the lab's daemons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// The user's rates: icmp 1 ms, remote DB 10 ms, serial 1 s, local DB 2 s; retries 5.
    Default,
    /// Tight timeouts: icmp 20 ms, remote DB 25 ms, serial every 50 ms with a 25 ms timeout,
    /// gateway and local DB checks at 100–200 ms.
    Fast,
}

/// One profile's numbers (durations as the daemon's configuration writes them).
struct Rates {
    icmp: [&'static str; 2],
    remote_db: [&'static str; 2],
    serial: [&'static str; 2],
    gateway: [&'static str; 2],
    local_db: [&'static str; 2],
    restart_grace: &'static str,
    startup_grace: &'static str,
    arp_probe_timeout: &'static str,
}

/// Every path's retries in both profiles.
const RETRIES: u32 = 5;

impl Profile {
    /// "default" or "fast".
    pub fn name(self) -> &'static str {
        match self {
            Profile::Default => "default",
            Profile::Fast => "fast",
        }
    }

    fn rates(self) -> Rates {
        match self {
            Profile::Default => Rates {
                icmp: ["1ms", "100ms"],
                remote_db: ["10ms", "200ms"],
                serial: ["1s", "200ms"],
                gateway: ["1s", "500ms"],
                local_db: ["2s", "1s"],
                restart_grace: "10s",
                startup_grace: "60s",
                arp_probe_timeout: "150ms",
            },
            Profile::Fast => Rates {
                icmp: ["1ms", "20ms"],
                remote_db: ["10ms", "25ms"],
                serial: ["50ms", "25ms"],
                gateway: ["100ms", "100ms"],
                local_db: ["200ms", "100ms"],
                restart_grace: "2s",
                startup_grace: "10s",
                arp_probe_timeout: "20ms",
            },
        }
    }

    /// The configuration of the daemon of `pg`'s node: its serial cable is `tty` (through
    /// the heartbeat bridge if `bridge`), its PostgreSQL password in `password_file`.
    pub fn config(
        self,
        topo: &Topology,
        pg: &PgNode,
        tty: &Path,
        state_dir: &Path,
        password_file: &Path,
        bridge: bool,
    ) -> DaemonConfig {
        let r = self.rates();
        let timing = |[interval, timeout]: [&str; 2]| Timing::new(interval, timeout, RETRIES);
        DaemonConfig {
            cluster_id: Some(format!("tblab-{}", topo.id)),
            node_id: pg.node.name().into(),
            role: Some("auto".into()),
            state_dir: state_dir.to_path_buf(),
            local_db: LocalDb {
                host: pg.files.sock_dir.display().to_string(),
                port: PORT,
                user: Some("postgres".into()),
                password_file: Some(password_file.to_path_buf()),
                dbname: Some("postgres".into()),
                check_interval: Some(r.local_db[0].into()),
                timeout: Some(r.local_db[1].into()),
                retries: Some(RETRIES),
                service: Service {
                    restart_grace: Some(r.restart_grace.into()),
                    ..Service::pg_ctl(&pg.files.data)
                },
            },
            peer: Peer {
                address: topo.addr(pg.node.peer().host()).to_string(),
                db_port: PORT,
            },
            checks: super::Checks {
                icmp: Icmp {
                    timing: timing(r.icmp),
                    ttl: Some(64),
                },
                remote_db: Some(timing(r.remote_db)),
                serial: Serial {
                    device: tty.to_path_buf(),
                    baud: Some(115_200),
                    bridge: Some(bridge),
                    timing: timing(r.serial),
                },
                gateway: Gateway {
                    address: topo.addr(Host::Gateway).to_string(),
                    timing: timing(r.gateway),
                },
            },
            vip: Vip {
                address: format!("{}/24", topo.vip()),
                interface: Some(IFACE.into()),
                gratuitous_arp: Some(5),
                arp_probe_timeout: Some(r.arp_probe_timeout.into()),
            },
            failover: Some(Failover {
                startup_grace: Some(r.startup_grace.into()),
                failure_window: Some("auto".into()),
                promote_when_degraded: Some(false),
                max_lag_on_failover: Some("1MiB".into()),
                peer_state_max_age: Some("5s".into()),
            }),
            fence: Some(Fence {
                action: "stop-db".into(),
            }),
            status: Status {
                listen: STATUS_LISTEN.into(),
            },
        }
    }
}
