//! TLS on the client side of a connection (feature `tls`): the settings ([`TlsOptions`]), and
//! the handshake that turns a TCP stream into a verified TLS stream, or a typed [`TlsError`].

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{Stream, TlsError};

/// What a TLS client trusts and shows: a CA bundle, an optional client certificate and key,
/// and an optional server name to verify (by default the host of the address connected to,
/// an IP address or a DNS name).
#[derive(Clone)]
pub struct TlsOptions {
    config: Arc<rustls::ClientConfig>,
    server_name: Option<ServerName<'static>>,
}

impl std::fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsOptions")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

/// Two options are equal when they share one configuration and name the same server.
impl PartialEq for TlsOptions {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.config, &other.config) && self.server_name == other.server_name
    }
}

impl Eq for TlsOptions {}

/// A TLS setting that cannot be used: an unreadable file, a PEM file with nothing usable, a key
/// that does not fit its certificate, a server name that is not one.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {message}")]
pub struct TlsConfigError {
    /// Which setting (a file name, or `server name`).
    pub what: String,
    /// What is wrong with it.
    pub message: String,
}

impl TlsConfigError {
    fn new(what: impl Into<String>, message: impl std::fmt::Display) -> Self {
        Self {
            what: what.into(),
            message: message.to_string(),
        }
    }
}

/// Reads a file whole, for a PEM parser.
pub fn read_pem_file(path: &Path) -> Result<Vec<u8>, TlsConfigError> {
    std::fs::read(path).map_err(|e| TlsConfigError::new(path.display().to_string(), e))
}

/// Every certificate of a PEM bundle (none is an error).
pub fn parse_certs(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, TlsConfigError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsConfigError::new(what, e))?;
    if certs.is_empty() {
        return Err(TlsConfigError::new(what, "no certificate in it"));
    }
    Ok(certs)
}

/// The first private key of a PEM file (PKCS#8, PKCS#1 or SEC1).
pub fn parse_key(pem: &[u8], what: &str) -> Result<PrivateKeyDer<'static>, TlsConfigError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| TlsConfigError::new(what, e))
}

/// A root store of every certificate of a PEM bundle.
pub fn parse_roots(pem: &[u8], what: &str) -> Result<rustls::RootCertStore, TlsConfigError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in parse_certs(pem, what)? {
        roots.add(cert).map_err(|e| TlsConfigError::new(what, e))?;
    }
    Ok(roots)
}

/// The crypto provider every configuration of the family uses (ring).
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl TlsOptions {
    /// From PEM text: the CA bundle to trust, and optionally a client certificate chain and
    /// its key.
    pub fn from_pem(ca: &[u8], identity: Option<(&[u8], &[u8])>) -> Result<Self, TlsConfigError> {
        let roots = parse_roots(ca, "CA bundle")?;
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsConfigError::new("TLS", e))?
            .with_root_certificates(roots);
        let config = match identity {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => builder
                .with_client_auth_cert(
                    parse_certs(cert, "client certificate")?,
                    parse_key(key, "client key")?,
                )
                .map_err(|e| TlsConfigError::new("client certificate", e))?,
        };
        Ok(Self {
            config: Arc::new(config),
            server_name: None,
        })
    }

    /// From PEM files: the CA bundle, and optionally a client certificate and key.
    pub fn from_files(ca: &Path, identity: Option<(&Path, &Path)>) -> Result<Self, TlsConfigError> {
        let ca = read_pem_file(ca)?;
        match identity {
            None => Self::from_pem(&ca, None),
            Some((cert, key)) => {
                let (cert, key) = (read_pem_file(cert)?, read_pem_file(key)?);
                Self::from_pem(&ca, Some((&cert, &key)))
            }
        }
    }

    /// Verifies the server's certificate for `name` (a DNS name or an IP address) instead of
    /// the host connected to.
    pub fn with_server_name(mut self, name: &str) -> Result<Self, TlsConfigError> {
        let name = ServerName::try_from(name.to_string())
            .map_err(|e| TlsConfigError::new("server name", e))?;
        self.server_name = Some(name);
        Ok(self)
    }

    fn name_for(&self, addr: &str) -> std::io::Result<ServerName<'static>> {
        if let Some(name) = &self.server_name {
            return Ok(name.clone());
        }
        let host = match addr.rsplit_once(':') {
            Some((host, _)) => host.trim_start_matches('[').trim_end_matches(']'),
            None => addr,
        };
        ServerName::try_from(host.to_string()).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{host} is no server name to verify ({e}): set one"),
            )
        })
    }
}

/// An ECHO_REQ with no data, and the ECHO_RES it must bring back.
const ECHO_REQ: [u8; 12] = [0, b'R', b'E', b'Q', 0, 0, 0, 16, 0, 0, 0, 0];
const ECHO_RES: [u8; 12] = [0, b'R', b'E', b'S', 0, 0, 0, 17, 0, 0, 0, 0];

/// Shakes hands over `tcp`; under TLS 1.3, also checks with one ECHO round trip that the
/// server accepted this side: there a server that refuses the client's certificate says so only
/// after the client's half of the handshake has finished, so without the round trip a refused
/// client would look connected until its first request. (Under TLS 1.2 the server's Finished
/// already says so; python gear's server, which speaks only TLS 1.2, does not answer ECHO.)
pub(crate) async fn handshake(
    tcp: TcpStream,
    addr: &str,
    options: &TlsOptions,
) -> std::io::Result<Stream> {
    let name = options.name_for(addr)?;
    let connector = tokio_rustls::TlsConnector::from(options.config.clone());
    let mut tls = connector.connect(name, tcp).await.map_err(classify)?;
    if tls.get_ref().1.protocol_version() != Some(rustls::ProtocolVersion::TLSv1_3) {
        return Ok(Stream::Tls(Box::new(tls)));
    }
    tls.write_all(&ECHO_REQ).await.map_err(classify)?;
    tls.flush().await.map_err(classify)?;
    let mut answer = [0u8; 12];
    match tls.read_exact(&mut answer).await {
        Ok(_) if answer == ECHO_RES => Ok(Stream::Tls(Box::new(tls))),
        Ok(_) => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the server's answer to the first ECHO was not an empty ECHO_RES",
        )),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(tls_error(
            TlsError::Refused("the server closed the connection after the handshake".into()),
        )),
        Err(e) => Err(classify(e)),
    }
}

fn tls_error(e: TlsError) -> std::io::Error {
    let kind = match e {
        TlsError::Refused(_) | TlsError::UnknownIssuer | TlsError::WrongName => {
            std::io::ErrorKind::PermissionDenied
        }
        _ => std::io::ErrorKind::InvalidData,
    };
    std::io::Error::new(kind, e)
}

/// Turns an IO error that carries a rustls error into one that carries a [`TlsError`].
fn classify(e: std::io::Error) -> std::io::Error {
    let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) else {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            return tls_error(TlsError::Refused(
                "the server closed the connection during the handshake".into(),
            ));
        }
        return e;
    };
    use rustls::CertificateError as C;
    let typed = match inner {
        rustls::Error::InvalidCertificate(C::UnknownIssuer | C::BadSignature) => {
            TlsError::UnknownIssuer
        }
        rustls::Error::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => {
            TlsError::Expired
        }
        rustls::Error::InvalidCertificate(C::NotValidYet | C::NotValidYetContext { .. }) => {
            TlsError::NotYetValid
        }
        rustls::Error::InvalidCertificate(
            C::NotValidForName | C::NotValidForNameContext { .. },
        ) => TlsError::WrongName,
        rustls::Error::AlertReceived(alert) => {
            TlsError::Refused(format!("the server sent the alert {alert:?}"))
        }
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            TlsError::NotTls(inner.to_string())
        }
        other => TlsError::Handshake(other.to_string()),
    };
    tls_error(typed)
}
