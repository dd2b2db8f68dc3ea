//! [`ClientBuilder`]: the options of a [`Client`].

use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::Arc;
use std::time::Duration;

use gearman_io::ServerStates;
use gearman_proto::ClientId;
use tokio::sync::mpsc;

use super::driver::{Driver, DriverConfig};
use super::{Client, ClientError, Inner, Server};
use crate::machine::ClientConfig;

/// Options of a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    servers: Vec<String>,
    machine: ClientConfig,
    driver: DriverConfig,
    client_id: Option<ClientId>,
    queue: usize,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            servers: Vec::new(),
            machine: ClientConfig::default(),
            driver: DriverConfig::default(),
            client_id: None,
            queue: 1024,
        }
    }
}

impl ClientBuilder {
    /// Adds a job server, `host:port`. Jobs with a unique id are routed by this name as written
    /// (see [`Ring`](crate::Ring)): write each server the same way in every client.
    pub fn server(mut self, addr: impl Into<String>) -> Self {
        self.servers.push(addr.into());
        self
    }

    /// How long JOB_CREATED, a status or an echo may take (default 10 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.machine.request_timeout = timeout;
        self
    }

    /// Whether to ask for WORK_EXCEPTION packets (the `exceptions` option; default on).
    pub fn exceptions(mut self, on: bool) -> Self {
        self.machine.exceptions = on;
        self
    }

    /// Send an ECHO after `after` of silence and drop the connection if no answer comes within
    /// `timeout` (default 30 s and 10 s); `None` turns it off (python gear's server answers no
    /// ECHO).
    pub fn heartbeat(mut self, after: Option<Duration>, timeout: Duration) -> Self {
        self.machine.heartbeat_after = after;
        self.machine.heartbeat_timeout = timeout;
        self
    }

    /// Names every connection with SET_CLIENT_ID.
    pub fn client_id(mut self, id: ClientId) -> Self {
        self.client_id = Some(id);
        self
    }

    /// How many requests may wait for a connection's driver (default 1024); callers wait
    /// beyond that.
    pub fn queue(mut self, n: usize) -> Self {
        self.queue = n.max(1);
        self
    }

    /// Reconnect delays, doubling from `initial` to `max`, with jitter (default 100 ms to 2 s).
    pub fn reconnect_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.driver.reconnect = gearman_io::ReconnectOptions { initial, max };
        self
    }

    /// How long a connection attempt may take (default 5 s). It also bounds how long a call
    /// made before any connection is up waits for the first one.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.driver.connect.timeout = timeout;
        self
    }

    /// TCP keepalive idle time (default 30 s; `None` turns it off).
    /// Connects over TLS with these settings (a CA bundle, an optional client certificate, an
    /// optional server name): a server that fails verification, or refuses this client, is down
    /// with a [`TlsError`](gearman_io::TlsError) in its [`ConnectError`](crate::ConnectError).
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: gearman_io::TlsOptions) -> Self {
        self.driver.connect.tls = Some(tls);
        self
    }

    /// TCP keepalive idle time (default 30 s); `None` turns it off.
    pub fn keepalive(mut self, idle: Option<Duration>) -> Self {
        self.driver.connect.keepalive = idle;
        self
    }

    /// How long one write may wait for a server that takes no bytes (frozen, its window full)
    /// before the connection counts as dead: its requests then end as they do on any lost
    /// connection, so no call without a deadline waits on a stuck write forever (default 10 s).
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.driver.connect.write_timeout = timeout;
        self
    }

    /// Starts one connection per server, in the background, and returns at once. Calls made
    /// before the first connection is up wait for it (up to the connect timeout, or their own
    /// deadline); [`Client::ready`] waits explicitly.
    ///
    /// # Errors
    /// [`ClientError::NoServer`] without a server, [`ClientError::NoRuntime`] outside a tokio
    /// runtime.
    pub fn spawn(self) -> Result<Client, ClientError> {
        if self.servers.is_empty() {
            return Err(ClientError::NoServer);
        }
        let rt = tokio::runtime::Handle::try_current().map_err(|_| ClientError::NoRuntime)?;
        let states = Arc::new(ServerStates::new(&self.servers));
        let ring = crate::Ring::new(&self.servers);
        let mut servers = Vec::new();
        for (slot, addr) in self.servers.into_iter().enumerate() {
            let (tx, rx) = mpsc::channel(self.queue);
            let up = Arc::new(AtomicBool::new(false));
            let driver = Driver::new(
                addr,
                slot,
                states.clone(),
                self.machine.clone(),
                self.client_id.clone(),
                self.driver.clone(),
                rx,
                up.clone(),
            );
            rt.spawn(driver.run());
            servers.push(Server { commands: tx, up });
        }
        Ok(Client {
            inner: Arc::new(Inner {
                servers,
                states,
                round_robin: AtomicUsize::new(0),
                ring,
                first_contact: self.driver.connect.timeout,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_options_reach_the_connection_options() {
        let b = ClientBuilder::default()
            .keepalive(Some(Duration::from_secs(7)))
            .connect_timeout(Duration::from_millis(700));
        assert_eq!(b.driver.connect.keepalive, Some(Duration::from_secs(7)));
        assert_eq!(b.driver.connect.timeout, Duration::from_millis(700));
        let off = ClientBuilder::default().keepalive(None);
        assert_eq!(off.driver.connect.keepalive, None);
    }
}
