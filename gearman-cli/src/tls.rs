//! The TLS options that `work`, `submit`, `status` and `admin` share, and `[gearman.tls]` of
//! `ci`'s TOML.

use std::path::PathBuf;

use clap::Args;
use gearman_client::TlsOptions;

/// Connect over TLS: `--tls-ca FILE [--tls-cert FILE --tls-key FILE] [--tls-server-name NAME]`.
#[derive(Clone, Debug, Default, Args, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TlsArgs {
    /// Connect over TLS, trusting the CA certificates of this PEM file.
    #[arg(long = "tls-ca", value_name = "FILE")]
    pub(crate) ca: Option<PathBuf>,
    /// Client certificate (PEM) to show the server (with --tls-key).
    #[arg(
        long = "tls-cert",
        value_name = "FILE",
        requires = "key",
        requires = "ca"
    )]
    pub(crate) cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long = "tls-key", value_name = "FILE", requires = "cert")]
    pub(crate) key: Option<PathBuf>,
    /// Verify the server's certificate for this name instead of the host connected to.
    #[arg(long = "tls-server-name", value_name = "NAME", requires = "ca")]
    pub(crate) server_name: Option<String>,
}

impl TlsArgs {
    /// The client's TLS settings; `None` for plain TCP.
    pub(crate) fn options(&self) -> Result<Option<TlsOptions>, String> {
        let Some(ca) = &self.ca else {
            if self.cert.is_some() || self.key.is_some() || self.server_name.is_some() {
                return Err(
                    "TLS: a CA bundle (tls-ca) is required with the other TLS options".into(),
                );
            }
            return Ok(None);
        };
        let identity = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => Some((cert.as_path(), key.as_path())),
            (None, None) => None,
            _ => return Err("TLS: give both a client certificate and its key".into()),
        };
        let mut options = TlsOptions::from_files(ca, identity).map_err(|e| format!("TLS: {e}"))?;
        if let Some(name) = &self.server_name {
            options = options
                .with_server_name(name)
                .map_err(|e| format!("TLS: {e}"))?;
        }
        Ok(Some(options))
    }
}
