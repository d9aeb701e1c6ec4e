//! TLS to a real PostgreSQL 15 with certificates `openssl` makes here: each sslmode
//! connects or refuses as libpq's would.

use std::path::Path;
use std::time::Duration;

use twinbeat_lab::certs::CertDir;
use twinbeat_lab::pg::{Launch, PgServer};
use twinbeat_lab::rt::runtime;

use super::*;
use crate::probe::lab_target::target;
use crate::probe::pg::{connect, Connect, Readiness};

/// A primary serving TLS with a certificate for 127.0.0.1 from CA `ca` in `dir`.
fn tls_server(dir: &Path) -> PgServer {
    let certs = CertDir::new(dir).unwrap();
    certs.ca("ca").unwrap();
    certs.ca("other-ca").unwrap();
    certs.leaf("server", "ca", "IP:127.0.0.1").unwrap();
    let server = PgServer::primary(Launch::Child).expect("a primary");
    let files = server.files();
    for name in ["server.crt", "server.key"] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        files.write_owned(name, &text).unwrap();
    }
    let key = server.data().join("server.key");
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    files
        .configure(
            "tls.conf",
            "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n",
        )
        .unwrap();
    server.query("SELECT pg_reload_conf()").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    server
}

fn tls(mode: SslMode, root: Option<&Path>) -> PeerTls {
    PeerTls {
        mode,
        root_cert: root.map(Path::to_path_buf),
        cert: None,
        key: None,
    }
}

/// A session's `pg_stat_ssl` (`ssl`, `client_dn`), or, when none opens, what the
/// connect says of the server.
fn connected(server: &PgServer, host: &str, settings: &PeerTls) -> Result<Vec<String>, Readiness> {
    let mut t = target(server, "tb-tls", false);
    t.host = host.into();
    t.tls = PeerConnector::new(settings).unwrap();
    runtime().block_on(async {
        match connect(&t, Duration::from_secs(5)).await {
            Connect::Session(s) => {
                let row = s
                    .first_row(
                        "SELECT ssl, coalesce(client_dn, '') FROM pg_stat_ssl \
                         WHERE pid = pg_backend_pid()",
                    )
                    .await
                    .unwrap();
                Ok(row.into_iter().map(Option::unwrap_or_default).collect())
            }
            Connect::NoSession(r) => Err(r),
        }
    })
}

/// Whether a session opens, and whether it is encrypted (`pg_stat_ssl`).
fn session(server: &PgServer, host: &str, settings: &PeerTls) -> Option<bool> {
    connected(server, host, settings)
        .ok()
        .map(|row| row.first().map(String::as_str) == Some("t"))
}

/// The words of a refused connect: the server answered, so it counts as up.
fn refusal(server: &PgServer, host: &str, settings: &PeerTls) -> String {
    match connected(server, host, settings) {
        Err(Readiness::Accepting {
            login_error: Some(words),
        }) => words,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn each_sslmode_connects_or_refuses_as_libpq() {
    let dir = tempfile::tempdir().unwrap();
    let server = tls_server(dir.path());
    let ca = dir.path().join("ca.crt");
    let other = dir.path().join("other-ca.crt");
    // The certificate names 127.0.0.1, and is signed by `ca`.
    assert_eq!(
        session(&server, "127.0.0.1", &tls(SslMode::VerifyFull, Some(&ca))),
        Some(true)
    );
    assert_eq!(
        session(
            &server,
            "127.0.0.1",
            &tls(SslMode::VerifyFull, Some(&other))
        ),
        None
    );
    // verify-ca does not look at the name; verify-full does.
    assert_eq!(
        session(&server, "localhost", &tls(SslMode::VerifyCa, Some(&ca))),
        Some(true)
    );
    assert_eq!(
        session(&server, "localhost", &tls(SslMode::VerifyFull, Some(&ca))),
        None
    );
    // require and prefer encrypt without verifying; disable does not encrypt.
    assert_eq!(
        session(&server, "127.0.0.1", &tls(SslMode::Require, None)),
        Some(true)
    );
    assert_eq!(
        session(&server, "127.0.0.1", &tls(SslMode::Prefer, None)),
        Some(true)
    );
    assert_eq!(
        session(&server, "127.0.0.1", &tls(SslMode::Disable, None)),
        Some(false)
    );
}

#[test]
fn a_refusal_says_what_to_fix_and_counts_the_server_as_up() {
    let dir = tempfile::tempdir().unwrap();
    let server = tls_server(dir.path());
    let ca = dir.path().join("ca.crt");
    let other = dir.path().join("other-ca.crt");
    let words = refusal(
        &server,
        "127.0.0.1",
        &tls(SslMode::VerifyFull, Some(&other)),
    );
    assert!(
        words.starts_with(
            "the peer's certificate does not verify: no CA in peer.sslrootcert signed it"
        ),
        "{words}"
    );
    let words = refusal(&server, "localhost", &tls(SslMode::VerifyFull, Some(&ca)));
    assert!(
        words.starts_with("the peer's certificate does not verify: it does not name peer.address"),
        "{words}"
    );
    // A server without TLS answers the TLS request with no.
    let plain = PgServer::primary(Launch::Child).expect("a primary");
    let words = refusal(&plain, "127.0.0.1", &tls(SslMode::Require, None));
    assert!(words.starts_with("the peer refuses TLS"), "{words}");
    // prefer falls back to plain TCP, as libpq does.
    assert_eq!(
        session(&plain, "127.0.0.1", &tls(SslMode::Prefer, None)),
        Some(false)
    );
    // Nobody listening is no answer, not a refusal.
    let port = twinbeat_lab::netns::free_local_port();
    let mut t = target(&plain, "tb-tls", false);
    t.port = port;
    t.tls = PeerConnector::new(&tls(SslMode::VerifyFull, Some(&ca))).unwrap();
    let nobody = runtime().block_on(connect(&t, Duration::from_secs(5)));
    assert!(
        matches!(nobody, Connect::NoSession(Readiness::NoResponse { .. })),
        "a closed port"
    );
}

#[test]
fn a_client_certificate_is_presented_and_the_server_verifies_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = tls_server(dir.path());
    let certs = CertDir::new(dir.path()).unwrap();
    certs.leaf("client", "ca", "DNS:twinbeat-b").unwrap();
    certs.leaf("stranger", "other-ca", "DNS:stranger").unwrap();
    // The server asks for a client certificate and checks it against `ca`.
    let text = std::fs::read_to_string(dir.path().join("ca.crt")).unwrap();
    server.files().write_owned("root.crt", &text).unwrap();
    server
        .files()
        .configure("tls-ca.conf", "ssl_ca_file = 'root.crt'\n")
        .unwrap();
    server.query("SELECT pg_reload_conf()").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let ca = dir.path().join("ca.crt");
    let with = |name: &str| PeerTls {
        cert: Some(certs.cert(name)),
        key: Some(certs.key(name)),
        ..tls(SslMode::VerifyFull, Some(&ca))
    };
    let row = connected(&server, "127.0.0.1", &with("client")).expect("a session");
    assert_eq!(row, ["t", "/CN=client"]);
    let words = refusal(&server, "127.0.0.1", &with("stranger"));
    assert!(
        words.starts_with("the peer's PostgreSQL refused the TLS handshake"),
        "{words}"
    );
}

#[test]
fn a_key_of_another_certificate_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let certs = CertDir::new(dir.path()).unwrap();
    certs.ca("ca").unwrap();
    certs.leaf("one", "ca", "DNS:one").unwrap();
    certs.leaf("two", "ca", "DNS:two").unwrap();
    let settings = PeerTls {
        cert: Some(certs.cert("one")),
        key: Some(certs.key("two")),
        ..tls(SslMode::VerifyFull, Some(&certs.cert("ca")))
    };
    let e = PeerConnector::new(&settings).unwrap_err().to_string();
    assert!(
        e.starts_with("peer.sslkey") && e.contains("is not the key of peer.sslcert"),
        "{e}"
    );
}

#[test]
fn a_ca_file_without_a_certificate_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let e = PeerConnector::new(&tls(SslMode::VerifyFull, Some(&empty))).unwrap_err();
    assert!(e.to_string().contains("peer.sslrootcert"), "{e}");
}
