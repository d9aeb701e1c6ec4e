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

/// Each setting in the default and the fast profile (indexed by `Profile as usize`); a
/// path's pair is (interval, timeout), the local DB's (check interval, timeout).
const ICMP: [[&str; 2]; 2] = [["1ms", "100ms"], ["1ms", "20ms"]];
const REMOTE_DB: [[&str; 2]; 2] = [["10ms", "200ms"], ["10ms", "25ms"]];
const SERIAL: [[&str; 2]; 2] = [["1s", "200ms"], ["50ms", "25ms"]];
const GATEWAY: [[&str; 2]; 2] = [["1s", "500ms"], ["100ms", "100ms"]];
const LOCAL_DB: [[&str; 2]; 2] = [["2s", "1s"], ["200ms", "100ms"]];
const RESTART_GRACE: [&str; 2] = ["10s", "2s"];
const STARTUP_GRACE: [&str; 2] = ["60s", "10s"];
const ARP_PROBE_TIMEOUT: [&str; 2] = ["150ms", "20ms"];

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
        let p = self as usize;
        let timing = |table: [[&str; 2]; 2]| Timing::new(table[p][0], table[p][1], RETRIES);
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
                check_interval: Some(LOCAL_DB[p][0].into()),
                timeout: Some(LOCAL_DB[p][1].into()),
                retries: Some(RETRIES),
                service: Service {
                    restart_grace: Some(RESTART_GRACE[p].into()),
                    ..Service::pg_ctl(&pg.files.data)
                },
            },
            peer: Peer {
                address: topo.addr(pg.node.peer().host()).to_string(),
                node_id: Some(pg.node.peer().name().into()),
                db_port: PORT,
            },
            checks: super::Checks {
                icmp: Icmp {
                    timing: timing(ICMP),
                    ttl: Some(64),
                },
                remote_db: Some(timing(REMOTE_DB)),
                serial: Serial {
                    device: tty.to_path_buf(),
                    baud: Some(115_200),
                    bridge: Some(bridge),
                    timing: timing(SERIAL),
                },
                gateway: Gateway {
                    address: topo.addr(Host::Gateway).to_string(),
                    timing: timing(GATEWAY),
                },
            },
            vip: Vip {
                address: format!("{}/24", topo.vip()),
                interface: Some(IFACE.into()),
                gratuitous_arp: Some(5),
                arp_probe_timeout: Some(ARP_PROBE_TIMEOUT[p].into()),
            },
            failover: Some(Failover {
                startup_grace: Some(STARTUP_GRACE[p].into()),
                failure_window: Some("auto".into()),
                promote_when_degraded: Some(false),
                max_lag_on_failover: Some("1MiB".into()),
                // The daemon's default: 5 s, and 1.8 s in `sync` (rule `sync-epoch`).
                peer_state_max_age: None,
                auto_rejoin: None,
            }),
            fence: Some(Fence {
                action: "stop-db".into(),
            }),
            status: Status {
                listen: STATUS_LISTEN.into(),
            },
            control: None,
            replication: None,
        }
    }
}
