//! Throw-away certificates for TLS tests, made at test time with rcgen and written to a
//! temporary directory (nothing with a private key is committed).

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, SanType,
};

/// A certificate authority that signs the certificates of one test.
pub struct Pki {
    dir: PathBuf,
    ca: rcgen::Certificate,
    ca_key: KeyPair,
}

impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pki")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// A certificate and its key, as PEM files.
#[derive(Clone, Debug)]
pub struct PkiFiles {
    /// The certificate.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
}

fn params(cn: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    params.distinguished_name = dn;
    params
}

impl Pki {
    /// A new CA named `name`, its files under a fresh directory of the system's temp dir.
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "gearman-pki-{name}-{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).expect("create the PKI directory");
        let ca_key = KeyPair::generate().expect("CA key");
        // A name no leaf certificate takes: OpenSSL calls a leaf whose issuer is its own subject
        // self-signed.
        let mut p = params(&format!("{name} test CA"));
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = p.self_signed(&ca_key).expect("CA certificate");
        std::fs::write(dir.join("ca.pem"), ca.pem()).expect("write the CA");
        Self { dir, ca, ca_key }
    }

    /// The CA certificate's PEM file.
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The directory the files are in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn issue(&self, file: &str, p: CertificateParams) -> PkiFiles {
        let key = KeyPair::generate().expect("key");
        let cert = p.signed_by(&key, &self.ca, &self.ca_key).expect("sign");
        let files = PkiFiles {
            cert: self.dir.join(format!("{file}.pem")),
            key: self.dir.join(format!("{file}.key")),
        };
        std::fs::write(&files.cert, cert.pem()).expect("write a certificate");
        std::fs::write(&files.key, key.serialize_pem()).expect("write a key");
        files
    }

    /// A server certificate for `localhost` and 127.0.0.1 (and `names`), subject CN `cn`.
    pub fn server(&self, cn: &str, names: &[&str]) -> PkiFiles {
        let mut p = params(cn);
        p.subject_alt_names = vec![
            SanType::DnsName("localhost".try_into().expect("a DNS name")),
            SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()),
        ];
        for name in names {
            p.subject_alt_names
                .push(SanType::DnsName((*name).try_into().expect("a DNS name")));
        }
        self.issue(cn, p)
    }

    /// A client certificate with subject CN `cn`.
    pub fn client(&self, cn: &str) -> PkiFiles {
        self.issue(cn, params(cn))
    }

    /// A server certificate for `localhost` and 127.0.0.1 that expired in 2020.
    pub fn expired_server(&self, cn: &str) -> PkiFiles {
        let mut p = params(cn);
        p.subject_alt_names = vec![
            SanType::DnsName("localhost".try_into().expect("a DNS name")),
            SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()),
        ];
        p.not_before = rcgen::date_time_ymd(2019, 1, 1);
        p.not_after = rcgen::date_time_ymd(2020, 1, 1);
        self.issue(cn, p)
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
