//! TLS to the peer's PostgreSQL (`[peer] sslmode`, `sslrootcert`, `sslcert`, `sslkey`),
//! with rustls through tokio-postgres-rustls, read as libpq reads the same settings:
//! `prefer` and `require` encrypt without verifying (with `sslrootcert`, `require`
//! verifies the chain, as libpq does), `verify-ca` verifies the chain, `verify-full`
//! also that the certificate names the address the daemon connects to.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::{PeerTls, SslMode};

/// Why the TLS settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsError {
    /// A PEM file cannot be read or holds nothing usable.
    #[error("{field} {}: {detail}", path.display())]
    File {
        /// The setting that names it.
        field: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// rustls refused the configuration (e.g. a key that does not match).
    #[error("peer TLS: {0}")]
    Config(#[from] rustls::Error),
}

/// What a connection to a PostgreSQL server uses: plain TCP (the local server, or
/// `sslmode = "disable"`) or TLS.
#[derive(Clone, Debug)]
pub struct PeerConnector(pub(crate) Connector);

/// The two kinds of [`PeerConnector`].
#[derive(Clone)]
pub(crate) enum Connector {
    /// Plain TCP (`sslmode = "disable"`).
    Plain,
    /// TLS, with tokio-postgres's `ssl_mode` (whether plain is still allowed).
    Tls {
        /// `Prefer` or `Require`.
        mode: tokio_postgres::config::SslMode,
        /// The connector.
        connector: MakeRustlsConnect,
        /// The settings, for the libpq programs (`pg_rewind`, `pg_basebackup`).
        settings: PeerTls,
    },
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Connector::Plain => f.write_str("Plain"),
            Connector::Tls { mode, .. } => write!(f, "Tls({mode:?})"),
        }
    }
}

impl PeerConnector {
    /// Plain TCP.
    pub fn plain() -> Self {
        PeerConnector(Connector::Plain)
    }

    /// The connector of the settings, their files read now.
    pub(crate) fn new(tls: &PeerTls) -> Result<Self, TlsError> {
        // ring builds with the C compiler alone; its lack of post-quantum key exchange
        // (the reason rustls deprecates it) is no concern on the pair's private link.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier: Arc<dyn ServerCertVerifier> = match (tls.mode, &tls.root_cert) {
            (SslMode::Disable, _) => return Ok(Self::plain()),
            (SslMode::VerifyFull, Some(root)) => webpki(root, &provider)?,
            (SslMode::VerifyCa | SslMode::Require, Some(root)) => Arc::new(ChainOnly {
                inner: webpki(root, &provider)?,
            }),
            (SslMode::Prefer, _) | (SslMode::Require, None) => Arc::new(Unverified {
                provider: provider.clone(),
            }),
            // The configuration refuses a verifying mode without a CA; kept total.
            (SslMode::VerifyCa | SslMode::VerifyFull, None) => {
                return Err(TlsError::File {
                    field: "peer.sslrootcert",
                    path: PathBuf::new(),
                    detail: "required by this sslmode".into(),
                })
            }
        };
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let config = match (&tls.cert, &tls.key) {
            (Some(cert), Some(key)) => builder
                .with_client_auth_cert(certificates("peer.sslcert", cert)?, private_key(key)?)
                .map_err(|e| match e {
                    rustls::Error::InconsistentKeys(_) => TlsError::File {
                        field: "peer.sslkey",
                        path: key.clone(),
                        detail: format!("is not the key of peer.sslcert {}", cert.display()),
                    },
                    other => TlsError::Config(other),
                })?,
            _ => builder.with_no_client_auth(),
        };
        let mode = if tls.mode == SslMode::Prefer {
            tokio_postgres::config::SslMode::Prefer
        } else {
            tokio_postgres::config::SslMode::Require
        };
        Ok(PeerConnector(Connector::Tls {
            mode,
            connector: MakeRustlsConnect::new(config),
            settings: tls.clone(),
        }))
    }

    /// The same settings as libpq connection-string keywords (` sslmode=… sslrootcert=…`),
    /// each path quoted by `quote`; ` sslmode=disable` for plain TCP.
    pub(crate) fn libpq_params(&self, quote: impl Fn(&str) -> String) -> String {
        let Connector::Tls { settings, .. } = &self.0 else {
            return " sslmode=disable".into();
        };
        let mut s = format!(" sslmode={}", settings.mode.as_str());
        for (key, path) in [
            ("sslrootcert", &settings.root_cert),
            ("sslcert", &settings.cert),
            ("sslkey", &settings.key),
        ] {
            if let Some(p) = path {
                s.push_str(&format!(" {key}={}", quote(&p.display().to_string())));
            }
        }
        s
    }
}

fn certificates(
    field: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bad = |detail: String| TlsError::File {
        field,
        path: path.to_owned(),
        detail,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no certificate in it".into()));
    }
    Ok(certs)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| TlsError::File {
        field: "peer.sslkey",
        path: path.to_owned(),
        detail: e.to_string(),
    })
}

/// The standard verifier: the chain to `root`, and the name.
fn webpki(
    root: &Path,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in certificates("peer.sslrootcert", root)? {
        roots.add(cert)?;
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| TlsError::File {
            field: "peer.sslrootcert",
            path: root.to_owned(),
            detail: e.to_string(),
        })
}

/// `verify-ca`: the chain verified, the name not (libpq's meaning).
#[derive(Debug)]
struct ChainOnly {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        use rustls::CertificateError::{NotValidForName, NotValidForNameContext};
        match self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                NotValidForName | NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// `prefer` and `require` without a CA: encrypted, the certificate not verified (the
/// handshake's signatures still are), as libpq.
#[derive(Debug)]
struct Unverified {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A connect's TLS failure in words an operator acts on, when the server took part in it:
/// it answered the TLS request with "no" (its `ssl = off`), or TLS went wrong between the
/// two (its certificate does not verify, it refused this node's certificate). `None` for
/// anything else, a network error in the middle of a handshake included.
pub(crate) fn refusal(error: &tokio_postgres::Error) -> Option<String> {
    // The cause is a source of tokio-postgres's error: of its TLS kind during the
    // handshake, of its I/O kind when TLS 1.3 delivers the server's refusal of this
    // node's certificate on the first read after it.
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if cause.to_string() == "server does not support TLS" {
            return Some(
                "the peer refuses TLS: its PostgreSQL answers the TLS request with no (ssl = off \
                 there), and peer.sslmode does not allow plain TCP"
                    .into(),
            );
        }
        // tokio-postgres-rustls hands rustls's error over inside an io::Error, whose
        // `source()` skips it.
        let rustls = cause.downcast_ref::<rustls::Error>().or_else(|| {
            cause
                .downcast_ref::<std::io::Error>()
                .and_then(std::io::Error::get_ref)
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        });
        if let Some(e) = rustls {
            return Some(in_words(e));
        }
        source = cause.source();
    }
    None
}

fn in_words(e: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    let cert = |why: &str| {
        format!("the peer's certificate does not verify: {why} (peer.sslrootcert, peer.sslmode)")
    };
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => cert("no CA in peer.sslrootcert signed it"),
            C::NotValidForName | C::NotValidForNameContext { .. } => cert(
                "it does not name peer.address (verify-full checks the address against its \
                 subjectAltName)",
            ),
            C::Expired | C::ExpiredContext { .. } => cert("it has expired"),
            C::NotValidYet | C::NotValidYetContext { .. } => {
                cert("it is not valid yet (compare both nodes' clocks)")
            }
            C::Revoked => cert("it is revoked"),
            C::BadSignature => cert("its signature is wrong"),
            other => cert(&format!("{other:?}")),
        },
        rustls::Error::AlertReceived(alert) => format!(
            "the peer's PostgreSQL refused the TLS handshake ({alert:?}): does its ssl_ca_file \
             accept this node's peer.sslcert?"
        ),
        other => format!("the TLS handshake with the peer's PostgreSQL failed: {other}"),
    }
}

#[cfg(test)]
mod tests;
