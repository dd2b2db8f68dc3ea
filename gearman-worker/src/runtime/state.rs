//! What each server's connections are doing, for [`Worker::servers`](super::Worker::servers)
//! and for logging a failure once rather than on every retry.

use std::io;
use std::sync::Mutex;
use std::time::SystemTime;

use tracing::{debug, warn};

/// One server as the worker sees it now.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerState {
    /// The address as given to [`WorkerBuilder::server`](super::WorkerBuilder::server).
    pub address: String,
    /// Connections to this server the worker keeps (see
    /// [`connections_per_server`](super::WorkerBuilder::connections_per_server)).
    pub connections: usize,
    /// How many of them are up.
    pub connected: usize,
    /// When the server last went from no connection up to some, or back (or when the worker
    /// started, if neither happened yet).
    pub since: SystemTime,
    /// The latest failure: a connect attempt that failed or a connection that was lost. It is
    /// kept after a reconnect; compare its [`at`](ConnectionFailure::at) with `since`.
    pub last_error: Option<ConnectionFailure>,
}

impl ServerState {
    /// Whether at least one connection to this server is up.
    pub fn is_connected(&self) -> bool {
        self.connected > 0
    }
}

/// When a connection failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureStage {
    /// Connecting failed (refused, unreachable, timed out, name not resolved).
    Connect,
    /// A connection that was up was lost (closed by the server, io error, protocol error, no
    /// answer to the heartbeat).
    Connected,
}

/// Why a connection to a server failed, and when.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionFailure {
    /// Connecting, or a connection that was up.
    pub stage: FailureStage,
    /// The io error's kind, when an io error caused it (for instance
    /// [`ConnectionRefused`](io::ErrorKind::ConnectionRefused)).
    pub kind: Option<io::ErrorKind>,
    /// The reason as text, for instance "Connection refused (os error 111)".
    pub reason: String,
    /// When it happened.
    pub at: SystemTime,
}

struct Inner {
    connected: usize,
    since: SystemTime,
    last_error: Option<ConnectionFailure>,
    /// The connect failure last logged at WARN; cleared by a connection, so the next outage
    /// warns again.
    warned: Option<String>,
}

/// The shared record of one server, updated by its drivers.
pub(crate) struct ServerStatus {
    address: String,
    connections: usize,
    inner: Mutex<Inner>,
}

impl ServerStatus {
    pub(crate) fn new(address: String, connections: usize) -> Self {
        Self {
            address,
            connections,
            inner: Mutex::new(Inner {
                connected: 0,
                since: SystemTime::now(),
                last_error: None,
                warned: None,
            }),
        }
    }

    pub(crate) fn address(&self) -> &str {
        &self.address
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A connection came up.
    pub(crate) fn up(&self) {
        let mut inner = self.inner();
        if inner.connected == 0 {
            inner.since = SystemTime::now();
        }
        inner.connected += 1;
        inner.warned = None;
    }

    /// A connection that was up ended; `failure` says why, unless the worker closed it.
    pub(crate) fn down(&self, failure: Option<(Option<io::ErrorKind>, String)>) {
        let mut inner = self.inner();
        inner.connected = inner.connected.saturating_sub(1);
        if inner.connected == 0 {
            inner.since = SystemTime::now();
        }
        if let Some((kind, reason)) = failure {
            inner.last_error = Some(ConnectionFailure {
                stage: FailureStage::Connected,
                kind,
                reason,
                at: SystemTime::now(),
            });
        }
    }

    /// A connect attempt failed: logged at WARN the first time and whenever the reason changes,
    /// at DEBUG while it repeats.
    pub(crate) fn connect_failed(&self, error: &io::Error) {
        let reason = error.to_string();
        let mut inner = self.inner();
        if inner.warned.as_deref() == Some(reason.as_str()) {
            debug!(server = %self.address, error = %reason, "connect failed again; retrying");
        } else {
            warn!(server = %self.address, error = %reason, "cannot connect; retrying with backoff");
            inner.warned = Some(reason.clone());
        }
        inner.last_error = Some(ConnectionFailure {
            stage: FailureStage::Connect,
            kind: Some(error.kind()),
            reason,
            at: SystemTime::now(),
        });
    }

    pub(crate) fn snapshot(&self) -> ServerState {
        let inner = self.inner();
        ServerState {
            address: self.address.clone(),
            connections: self.connections,
            connected: inner.connected,
            since: inner.since,
            last_error: inner.last_error.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_is_kept_and_the_connected_count_follows_the_connections() {
        let s = ServerStatus::new("127.0.0.1:1".into(), 2);
        s.connect_failed(&io::Error::from(io::ErrorKind::ConnectionRefused));
        let state = s.snapshot();
        assert!(!state.is_connected());
        let failure = state.last_error.expect("the failure is recorded");
        assert_eq!(failure.stage, FailureStage::Connect);
        assert_eq!(failure.kind, Some(io::ErrorKind::ConnectionRefused));
        s.up();
        s.up();
        assert_eq!(s.snapshot().connected, 2);
        assert!(s.snapshot().last_error.is_some(), "kept after a reconnect");
        s.down(Some((None, "closed by the server".into())));
        let state = s.snapshot();
        assert_eq!(state.connected, 1);
        let lost = state.last_error.expect("the loss is recorded");
        assert_eq!(
            (lost.stage, lost.reason.as_str()),
            (FailureStage::Connected, "closed by the server")
        );
    }

    #[test]
    fn a_repeated_connect_failure_is_warned_once_until_a_connection_comes_up() {
        let s = ServerStatus::new("127.0.0.1:1".into(), 1);
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        s.connect_failed(&refused);
        let first = s.inner().warned.clone();
        assert_eq!(first, Some(refused.to_string()));
        s.connect_failed(&io::Error::from(io::ErrorKind::TimedOut));
        assert_eq!(
            s.inner().warned,
            Some(io::Error::from(io::ErrorKind::TimedOut).to_string()),
            "a new reason is warned"
        );
        s.up();
        assert_eq!(s.inner().warned, None, "the next outage warns again");
    }
}
