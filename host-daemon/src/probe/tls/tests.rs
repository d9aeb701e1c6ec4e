//! TLS to a real PostgreSQL 15 with certificates `openssl` makes here: each sslmode
//! connects or refuses as libpq's would.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use twinbeat_lab::pg::{Launch, PgServer};
use twinbeat_lab::rt::runtime;

use super::*;
use crate::probe::lab_target::target;
use crate::probe::pg::{connect, Connect};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (Debian package openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA `name`.crt/.key in `dir`.
fn ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.crt"),
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
        ],
    );
}

/// A certificate `name`.crt/.key for `san` signed by CA `by`.
fn leaf(dir: &Path, name: &str, by: &str, san: &str) {
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN={name}"),
            "-addext",
            &format!("subjectAltName={san}"),
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{by}.crt"),
            "-CAkey",
            &format!("{by}.key"),
            "-CAcreateserial",
            "-out",
            &format!("{name}.crt"),
            "-days",
            "2",
            "-copy_extensions",
            "copy",
        ],
    );
}

/// A primary serving TLS with a certificate for 127.0.0.1 from CA `ca` in `dir`.
fn tls_server(dir: &Path) -> PgServer {
    ca(dir, "ca");
    ca(dir, "other-ca");
    leaf(dir, "server", "ca", "IP:127.0.0.1");
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

/// Whether a session opens, and whether it is encrypted (`pg_stat_ssl`).
fn session(server: &PgServer, host: &str, settings: &PeerTls) -> Option<bool> {
    let mut t = target(server, "tb-tls", false);
    t.host = host.into();
    t.tls = PeerConnector::new(settings).unwrap();
    runtime().block_on(async {
        match connect(&t, Duration::from_secs(5)).await {
            Connect::Session(s) => {
                let row = s
                    .first_row("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                    .await
                    .unwrap();
                Some(row.first().cloned().flatten().as_deref() == Some("t"))
            }
            Connect::NoSession(_) => None,
        }
    })
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
fn a_ca_file_without_a_certificate_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let e = PeerConnector::new(&tls(SslMode::VerifyFull, Some(&empty))).unwrap_err();
    assert!(e.to_string().contains("peer.sslrootcert"), "{e}");
}
