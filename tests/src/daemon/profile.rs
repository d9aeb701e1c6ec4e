//! The lab's timing profiles and the configuration of a lab node's daemon.

use std::path::Path;

use super::config::{
    DaemonConfig, Failover, Fence, Gateway, Hooks, Icmp, LocalDb, Peer, Serial, Service, Status,
    Timing, Vip,
};
use super::STATUS_LISTEN;
use crate::netns::{Host, Topology, IFACE};
use crate::pg::{PgNode, PORT};

/// Timing profile of the lab's daemons: the daemon's own `profile` preset of that name
/// (its timings are the daemon's, `host-daemon/src/config/defaults.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// `profile = "default"`: the user's rates.
    Default,
    /// `profile = "fast"`: tight timeouts.
    Fast,
}

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
        DaemonConfig {
            profile: Some(self.name().into()),
            cluster_id: Some(format!("tblab-{}", topo.id)),
            node_id: pg.node.name().into(),
            role: Some("auto".into()),
            state_dir: state_dir.to_path_buf(),
            local_db: LocalDb {
                host: pg.files.sock_dir.display().to_string(),
                port: PORT,
                user: Some("postgres".into()),
                password: None,
                password_file: Some(password_file.to_path_buf()),
                dbname: Some("postgres".into()),
                check_interval: None,
                timeout: None,
                retries: None,
                service: Service::pg_ctl(&pg.files.data),
            },
            peer: Peer {
                address: topo.addr(pg.node.peer().host()).to_string(),
                node_id: Some(pg.node.peer().name().into()),
                db_port: PORT,
                ..Peer::default()
            },
            checks: super::Checks {
                icmp: Icmp {
                    timing: Timing::default(),
                    ttl: Some(64),
                },
                remote_db: Some(Timing::default()),
                serial: Serial {
                    device: tty.to_path_buf(),
                    baud: Some(115_200),
                    bridge: Some(bridge),
                    timing: Timing::default(),
                },
                gateway: Gateway {
                    address: topo.addr(Host::Gateway).to_string(),
                    timing: Timing::default(),
                },
            },
            vip: Vip {
                address: format!("{}/24", topo.vip()),
                interface: Some(IFACE.into()),
                gratuitous_arp: Some(5),
                arp_probe_timeout: None,
            },
            failover: Some(Failover {
                startup_grace: None,
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
            // The hooks run on every lab node: the scenarios read their lines in the
            // daemon's log (they never hold up a decision, so they cost no timing).
            hooks: Some(Hooks::echo_event()),
        }
    }
}
