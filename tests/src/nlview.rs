//! An interface's state and addresses read over a netlink socket opened inside a node's
//! network namespace. The invariant sampler reads where the VIP is this way on every
//! tick: spawning `ip` 40 times a second misses the tick's bound on a loaded machine.

use std::fs::File;
use std::net::IpAddr;

use futures_util::TryStreamExt;
use nix::sched::{setns, CloneFlags};
use rtnetlink::packet_route::address::AddressAttribute;
use rtnetlink::packet_route::link::{LinkAttribute, State};
use rtnetlink::Handle;

use crate::error::{io_err, sys_err, Result};

/// One interface of one namespace, seen over netlink.
#[derive(Debug)]
pub struct IfaceView {
    handle: Handle,
    iface: String,
}

/// What [`IfaceView::read`] found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IfaceRead {
    /// Operational state UP (carrier).
    pub up: bool,
    /// Its addresses.
    pub addrs: Vec<IpAddr>,
}

impl IfaceView {
    /// Opens a netlink socket inside the namespace at `ns_path` (`/run/netns/NAME`); the
    /// calling thread returns to its own namespace before this returns. Call it inside a
    /// tokio runtime: the connection runs as a task on it.
    pub fn open(ns_path: &str, iface: &str) -> Result<Self> {
        let own_path = "/proc/thread-self/ns/net";
        let own = File::open(own_path).map_err(io_err(own_path))?;
        let target = File::open(ns_path).map_err(io_err(ns_path))?;
        setns(&target, CloneFlags::CLONE_NEWNET).map_err(sys_err(format!("setns {ns_path}")))?;
        // The socket belongs to the namespace it was created in, whatever thread uses it.
        let made = rtnetlink::new_connection();
        setns(&own, CloneFlags::CLONE_NEWNET).map_err(sys_err("setns back".to_owned()))?;
        let (connection, handle, _) = made.map_err(io_err(ns_path))?;
        tokio::spawn(connection);
        Ok(Self {
            handle,
            iface: iface.to_owned(),
        })
    }

    /// The interface's carrier and addresses (no interface: down, none).
    pub async fn read(&self) -> std::result::Result<IfaceRead, rtnetlink::Error> {
        let mut links = self
            .handle
            .link()
            .get()
            .match_name(self.iface.clone())
            .execute();
        let Some(link) = links.try_next().await? else {
            return Ok(IfaceRead::default());
        };
        let up = link
            .attributes
            .iter()
            .any(|a| matches!(a, LinkAttribute::OperState(State::Up)));
        let mut found = self
            .handle
            .address()
            .get()
            .set_link_index_filter(link.header.index)
            .execute();
        let mut addrs = Vec::new();
        while let Some(msg) = found.try_next().await? {
            for attr in &msg.attributes {
                if let AddressAttribute::Local(ip) | AddressAttribute::Address(ip) = attr {
                    if !addrs.contains(ip) {
                        addrs.push(*ip);
                    }
                }
            }
        }
        Ok(IfaceRead { up, addrs })
    }
}
