//! The TLS settings of a [`Server`](crate::Server) (feature `tls`): a certificate and key, an
//! optional CA whose client certificates are required, and how long a handshake may take.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// TLS on a server's port: every connection must shake hands first. The files are PEM; they are
/// read at [`bind`](crate::Server::bind) and again at
/// [`reload_tls`](crate::Server::reload_tls) (what `gearmanctl serve` does on SIGHUP), which
/// leaves open connections as they are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerTls {
    /// The server's certificate chain.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
    /// When set, clients must show a certificate signed by a CA of this bundle.
    pub client_ca: Option<PathBuf>,
    /// How long a handshake may take; a peer that has not finished by then is dropped (it held
    /// no more than a plain idle connection meanwhile). Default 10 s.
    pub handshake_timeout: Duration,
}

impl ServerTls {
    /// TLS with this certificate and key, no client certificates, a 10 s handshake bound.
    pub fn new(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        Self {
            cert: cert.into(),
            key: key.into(),
            client_ca: None,
            handshake_timeout: Duration::from_secs(10),
        }
    }

    /// Requires client certificates signed by a CA of the bundle at `ca`.
    pub fn client_ca(mut self, ca: impl Into<PathBuf>) -> Self {
        self.client_ca = Some(ca.into());
        self
    }

    /// Sets how long a handshake may take.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Reads the files into a rustls configuration.
    pub(crate) fn load(&self) -> std::io::Result<Arc<rustls::ServerConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certs = certs(&self.cert)?;
        let key =
            PrivateKeyDer::from_pem_slice(&read(&self.key)?).map_err(|e| invalid(&self.key, e))?;
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(std::io::Error::other)?;
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in certs_of(ca)? {
                    roots.add(cert).map_err(|e| invalid(ca, e))?;
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .map_err(|e| invalid(ca, e))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let config = builder
            .with_single_cert(certs, key)
            .map_err(|e| invalid(&self.cert, e))?;
        Ok(Arc::new(config))
    }
}

fn invalid(path: &Path, e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("{}: {e}", path.display()),
    )
}

fn read(path: &Path) -> std::io::Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

fn certs_of(path: &Path) -> std::io::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(&read(path)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(path, e))?;
    if certs.is_empty() {
        return Err(invalid(path, "no certificate in it"));
    }
    Ok(certs)
}

fn certs(path: &Path) -> std::io::Result<Vec<CertificateDer<'static>>> {
    certs_of(path)
}

/// The live TLS configuration of a listener: swapped whole on reload, read at each accept.
#[derive(Debug)]
pub(crate) struct Acceptor {
    pub(crate) settings: ServerTls,
    pub(crate) config: RwLock<Arc<rustls::ServerConfig>>,
}

impl Acceptor {
    pub(crate) fn new(settings: ServerTls) -> std::io::Result<Self> {
        let config = RwLock::new(settings.load()?);
        Ok(Self { settings, config })
    }

    /// Re-reads the files; on error the old configuration stays.
    pub(crate) fn reload(&self) -> std::io::Result<()> {
        let fresh = self.settings.load()?;
        *self.config.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        Ok(())
    }

    pub(crate) fn current(&self) -> tokio_rustls::TlsAcceptor {
        let config = self
            .config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        tokio_rustls::TlsAcceptor::from(config)
    }
}

/// One DER element: its tag, its contents, and what follows it; `None` if malformed.
fn der(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The common name of a certificate's subject (its last one, as python's `ssl` reading in
/// geard takes), from the DER of a certificate that rustls has already verified. Only this
/// one field is needed, so a few lines of DER walking stand in for an X.509 crate.
pub(crate) fn subject_common_name(cert: &[u8]) -> Option<String> {
    const SEQ: u8 = 0x30;
    const CN: &[u8] = &[0x55, 0x04, 0x03];
    let (SEQ, cert, _) = der(cert)? else {
        return None;
    };
    let (SEQ, mut tbs, _) = der(cert)? else {
        return None;
    };
    // [0] version (optional), serial, signature algorithm, issuer, validity, then subject.
    let (tag, _, rest) = der(tbs)?;
    tbs = if tag == 0xa0 { der(rest)?.2 } else { rest };
    for _ in 0..3 {
        tbs = der(tbs)?.2;
    }
    let (SEQ, mut names, _) = der(tbs)? else {
        return None;
    };
    let mut found = None;
    while !names.is_empty() {
        let (_, set, rest) = der(names)?;
        names = rest;
        let mut attrs = set;
        while !attrs.is_empty() {
            let (_, attr, rest) = der(attrs)?;
            attrs = rest;
            let (_, oid, value) = der(attr)?;
            if oid == CN {
                let (_, text, _) = der(value)?;
                found = Some(String::from_utf8_lossy(text).into_owned());
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subject_common_name_is_read_and_junk_is_none() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "org");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "zuul-executor");
        let cert = params.self_signed(&key).unwrap();
        assert_eq!(
            subject_common_name(cert.der()).as_deref(),
            Some("zuul-executor")
        );
        for cut in 0..cert.der().len() {
            let _ = subject_common_name(&cert.der()[..cut]);
        }
        assert_eq!(
            subject_common_name(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]),
            None
        );
        assert_eq!(subject_common_name(b""), None);
    }
}
