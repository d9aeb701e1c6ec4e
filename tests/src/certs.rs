//! Throw-away X.509 certificates made with `openssl` (Debian package openssl): a CA, and
//! leaves it signs for a subjectAltName, each as `<name>.crt` and `<name>.key` (EC P-256,
//! valid two days) in one directory. The daemon's TLS tests and the lab's TLS pair use
//! them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::error::{LabError, Result};

/// How long the certificates are valid, in days: longer than any test.
const DAYS: &str = "2";

/// `openssl req`'s arguments for a new EC P-256 key, unencrypted, in `key`, for `subject`.
fn new_key<'a>(key: &'a str, subject: &'a str) -> [&'a str; 9] {
    [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        key,
        "-subj",
        subject,
    ]
}

/// Bound of one `openssl` run (key generation takes milliseconds).
const OPENSSL_BOUND: Duration = Duration::from_secs(30);

/// A directory of certificates.
#[derive(Debug, Clone)]
pub struct CertDir {
    dir: PathBuf,
}

impl CertDir {
    /// Certificates in `dir` (created if missing).
    pub fn new(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(crate::error::io_err(&dir))?;
        Ok(Self { dir })
    }

    /// `<name>.crt`.
    pub fn cert(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.crt"))
    }

    /// `<name>.key`.
    pub fn key(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.key"))
    }

    /// A self-signed CA `name`.
    pub fn ca(&self, name: &str) -> Result<()> {
        let (key, cert, subject) = (
            format!("{name}.key"),
            format!("{name}.crt"),
            format!("/CN={name}"),
        );
        let mut args = vec!["req", "-x509"];
        args.extend(new_key(&key, &subject));
        args.extend(["-out", &cert, "-days", DAYS]);
        self.openssl(&args)
    }

    /// A certificate `name` (subject `CN=<name>`) for `san` (`IP:10.0.0.1`,
    /// `DNS:host`), signed by CA `by`.
    pub fn leaf(&self, name: &str, by: &str, san: &str) -> Result<()> {
        let (key, csr, subject, alt) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("/CN={name}"),
            format!("subjectAltName={san}"),
        );
        let mut args = vec!["req"];
        args.extend(new_key(&key, &subject));
        args.extend(["-out", &csr, "-addext", &alt]);
        self.openssl(&args)?;
        self.openssl(&[
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
            DAYS,
            "-copy_extensions",
            "copy",
        ])
    }

    /// Gives `name`'s certificate and key to `postgres`, the key at mode 0600 (libpq and
    /// the server refuse a key others can read).
    pub fn give_to_postgres(&self, name: &str) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let key = self.key(name);
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))
            .map_err(crate::error::io_err(&key))?;
        crate::pg::chown_postgres(&key)?;
        crate::pg::chown_postgres(&self.cert(name))
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn openssl(&self, args: &[&str]) -> Result<()> {
        if !crate::cmd::have("openssl") {
            return Err(LabError::MissingTool {
                tool: "openssl".into(),
                hint: "run tests/install-deps.sh as root".into(),
            });
        }
        let mut cmd = Command::new("openssl");
        cmd.args(args).current_dir(&self.dir);
        crate::cmd::run_within(cmd, OPENSSL_BOUND).map(drop)
    }
}
