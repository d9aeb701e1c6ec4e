//! `[peer]`: the other node's address (resolved, and not this host's) and its
//! database credentials, which default to `[local_db]`'s.

use super::address::resolve_host;
use super::{non_empty, required, Resolver, R};
use crate::config::defaults as d;
use crate::config::raw::RawPeer;
use crate::config::types::{DbConn, Peer, RolePin};
use crate::config::units::Port;

impl Resolver<'_> {
    pub(super) fn peer(&mut self, raw: Option<RawPeer>, local: &DbConn, role: RolePin) -> R<Peer> {
        let raw = raw.unwrap_or_default();
        let host = required(
            "peer.address",
            raw.address,
            "the other node's IP address or host name",
        )?;
        let address = resolve_host("peer.address", &host)?;
        self.self_address("peer.address", &host, address, role)?;
        let password = self
            .password("peer", raw.password, raw.password_file)?
            .unwrap_or_else(|| local.password.clone());
        let db = DbConn {
            host: host.clone(),
            port: raw.db_port.unwrap_or(Port(d::DB_PORT)).0,
            user: non_empty("peer.user", raw.user, &local.user)?,
            password,
            dbname: non_empty("peer.dbname", raw.dbname, &local.dbname)?,
        };
        let node_id = match raw.node_id {
            Some(n) => {
                super::name_like("peer.node_id", &n)?;
                Some(n)
            }
            None => None,
        };
        Ok(Peer {
            host,
            address,
            node_id,
            db,
        })
    }
}
