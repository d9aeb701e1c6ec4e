//! `[peer]`: the other node's address (resolved, and not this host's) and its
//! database credentials, which default to `[local_db]`'s.

use super::address::resolve_host;
use super::{non_empty, required, Resolver, R};
use crate::config::defaults as d;
use crate::config::error::ConfigError;
use crate::config::raw::RawPeer;
use crate::config::types::{DbConn, Peer, PeerTls, RolePin, SslMode};
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
        let tls = peer_tls(raw.sslmode, raw.sslrootcert, raw.sslcert, raw.sslkey)?;
        Ok(Peer {
            host,
            address,
            node_id,
            db,
            tls,
        })
    }
}

/// `sslmode` and its files: the verifying modes need the CA, a client certificate
/// needs its key (and the other way round), every path is absolute.
fn peer_tls(
    mode: Option<String>,
    root: Option<String>,
    cert: Option<String>,
    key: Option<String>,
) -> R<PeerTls> {
    let mode = match mode.as_deref() {
        None => SslMode::Disable,
        Some(m) => SslMode::ALL
            .iter()
            .find(|(_, name)| *name == m)
            .map(|(mode, _)| *mode)
            .ok_or_else(|| {
                ConfigError::invalid(
                    "peer.sslmode",
                    format!("{m:?}"),
                    "one of \"disable\", \"prefer\", \"require\", \"verify-ca\", \"verify-full\"",
                )
            })?,
    };
    let path = |field: &str, v: Option<String>| -> R<Option<std::path::PathBuf>> {
        v.map(|p| super::absolute(field, p, "an absolute path to a PEM file").map(Into::into))
            .transpose()
    };
    let tls = PeerTls {
        mode,
        root_cert: path("peer.sslrootcert", root)?,
        cert: path("peer.sslcert", cert)?,
        key: path("peer.sslkey", key)?,
    };
    if matches!(mode, SslMode::VerifyCa | SslMode::VerifyFull) && tls.root_cert.is_none() {
        return Err(ConfigError::invalid(
            "peer.sslrootcert",
            "(missing)",
            "the CA certificate file, required with sslmode = \"verify-ca\" or \"verify-full\"",
        ));
    }
    if tls.cert.is_some() != tls.key.is_some() {
        return Err(ConfigError::invalid(
            if tls.cert.is_some() {
                "peer.sslkey"
            } else {
                "peer.sslcert"
            },
            "(missing)",
            "both peer.sslcert and peer.sslkey, or neither",
        ));
    }
    Ok(tls)
}
