//! The DB probe tests' one link to the kit: a [`DbTarget`] for a kit [`PgServer`].

use twinbeat_lab::pg::PgServer;

use super::DbTarget;

/// A probe target for `server` over TCP (`socket: false`) or its unix socket, as
/// `application_name`.
pub(crate) fn target(server: &PgServer, application_name: &str, socket: bool) -> DbTarget {
    let host = if socket {
        server.sock_dir().display().to_string()
    } else {
        "127.0.0.1".to_owned()
    };
    DbTarget {
        host,
        port: server.port(),
        user: "postgres".into(),
        password: None,
        dbname: "postgres".into(),
        application_name: application_name.into(),
        tls: super::pg::PeerConnector::plain(),
    }
}
