//! Settings of a [`Server`](crate::Server).

use crate::CoreConfig;

/// Settings of a server: the core's, plus the limits the listener enforces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    /// Job handles, retries, the job limit.
    pub core: CoreConfig,
    /// The largest packet body accepted, in bytes; a header announcing more closes the
    /// connection at once, before anything is buffered (gearmand reserves whatever a header
    /// says, up to 4 GiB per connection). A connection never buffers more than this plus one
    /// read's worth.
    pub max_packet: u32,
    /// Bytes a connection may have waiting to be written (each response also counts 64 bytes
    /// of overhead) before it counts as a reader that stopped reading and is disconnected.
    pub max_output: usize,
    /// Connections served at once; more are closed as soon as they are accepted.
    pub max_connections: usize,
    /// Whether the admin `shutdown [graceful]` command stops the server. Without an ACL it is
    /// taken from loopback peers only; refused (or off), it is answered as gearmand 1.1.20
    /// answers it (`ERR UNKNOWN_COMMAND`).
    pub admin_shutdown: bool,
    /// TLS on the port: `None` serves plain TCP.
    #[cfg(feature = "tls")]
    pub tls: Option<crate::ServerTls>,
    /// Access control by the subject of each connection's verified client certificate: who may
    /// register, submit to, and administer what. A connection without one (plain TCP, or TLS
    /// without client certificates) may do none of these. `None`: everyone may do everything,
    /// except that the admin `shutdown` is taken from loopback peers only.
    #[cfg(feature = "tls")]
    pub acl: Option<crate::Acl>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            core: CoreConfig::default(),
            max_packet: gearman_proto::DEFAULT_MAX_BODY,
            max_output: 256 * 1024 * 1024,
            max_connections: 10_000,
            admin_shutdown: true,
            #[cfg(feature = "tls")]
            tls: None,
            #[cfg(feature = "tls")]
            acl: None,
        }
    }
}

impl From<CoreConfig> for ServerConfig {
    fn from(core: CoreConfig) -> Self {
        Self {
            core,
            ..Self::default()
        }
    }
}
