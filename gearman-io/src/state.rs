//! What each server connection of a client or worker is doing, as its driver last reported it,
//! and a way to wait for the first usable one.
//!
//! Every driver owns one slot of a [`ServerStates`]; callers read a [`snapshot`]
//! (ServerStates::snapshot) or wait, with a deadline, until some connection is up or every server
//! has failed an attempt ([`wait_usable`](ServerStates::wait_usable)). The first failure of a
//! server, and each change of its reason, is logged at WARN; repeats of the same reason at DEBUG,
//! so a worker pointed at a dead port says why once, not every backoff period.

use std::time::Instant;

use tokio::sync::watch;

/// Why a server is not connected: its last connect attempt failed, or its connection was lost.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{addr}: {message}")]
pub struct ConnectError {
    /// The server, as configured (`host:port`).
    pub addr: String,
    /// The kind of IO error (`ConnectionRefused`, `TimedOut`, ...).
    pub kind: std::io::ErrorKind,
    /// What happened, for people.
    pub message: String,
    /// Why the TLS handshake or verification failed, when that is what happened.
    pub tls: Option<TlsError>,
}

/// Why a TLS connection could not be made: what the client saw of the server's certificate, or
/// what the server said of the client's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The server's certificate is not signed by a CA this side trusts.
    #[error("TLS: the server's certificate is not from a trusted CA")]
    UnknownIssuer,
    /// The server's certificate has expired.
    #[error("TLS: the server's certificate has expired")]
    Expired,
    /// The server's certificate is not valid yet.
    #[error("TLS: the server's certificate is not valid yet")]
    NotYetValid,
    /// The server's certificate is not for the name verified.
    #[error("TLS: the server's certificate is not valid for its name")]
    WrongName,
    /// The server refused this client (no certificate, or one it does not trust), or closed the
    /// connection during the handshake.
    #[error("TLS: refused by the server: {0}")]
    Refused(String),
    /// The peer does not speak TLS.
    #[error("TLS: the server does not speak TLS ({0})")]
    NotTls(String),
    /// Any other handshake failure.
    #[error("TLS handshake failed: {0}")]
    Handshake(String),
}

impl ConnectError {
    /// The error of a failed attempt to reach `addr`.
    pub fn from_io(addr: &str, error: &std::io::Error) -> Self {
        Self {
            addr: addr.to_string(),
            kind: error.kind(),
            message: error.to_string(),
            tls: error
                .get_ref()
                .and_then(|e| e.downcast_ref::<TlsError>())
                .cloned(),
        }
    }

    /// A lost connection to `addr`, for `reason`.
    pub fn lost(addr: &str, reason: impl std::fmt::Display) -> Self {
        Self {
            addr: addr.to_string(),
            kind: std::io::ErrorKind::ConnectionAborted,
            message: format!("connection lost: {reason}"),
            tls: None,
        }
    }
}

/// One server connection's state.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnState {
    /// The first attempt is under way.
    Connecting,
    /// Connected.
    Up,
    /// Not connected; reconnecting with backoff. Holds why.
    Down(ConnectError),
    /// Shut down: no more connections.
    Closed,
}

/// One server as seen by a [`ServerStates`] reader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerState {
    /// The server, as configured.
    pub addr: String,
    /// Its connection's state.
    pub state: ConnState,
    /// When it entered this state.
    pub since: Instant,
}

impl ServerState {
    /// Whether it is connected.
    pub fn is_up(&self) -> bool {
        self.state == ConnState::Up
    }
}

/// The states of a runtime's server connections, one slot per driver.
#[derive(Debug)]
pub struct ServerStates {
    tx: watch::Sender<Vec<ServerState>>,
}

/// How a wait for a usable connection ended without one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no server reachable: {}", list(.servers))]
pub struct Unreachable {
    /// Each server's last error; one still on its first attempt at the deadline shows
    /// `TimedOut`.
    pub servers: Vec<ConnectError>,
}

fn list(errors: &[ConnectError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl ServerStates {
    /// Slots for `addrs`, all [`ConnState::Connecting`].
    pub fn new<S: AsRef<str>>(addrs: &[S]) -> Self {
        let now = Instant::now();
        let states = addrs
            .iter()
            .map(|a| ServerState {
                addr: a.as_ref().to_string(),
                state: ConnState::Connecting,
                since: now,
            })
            .collect();
        Self {
            tx: watch::Sender::new(states),
        }
    }

    /// Driver `slot` is connected.
    pub fn set_up(&self, slot: usize) {
        self.set(slot, ConnState::Up);
    }

    /// Driver `slot` has stopped for good.
    pub fn set_closed(&self, slot: usize) {
        self.set(slot, ConnState::Closed);
    }

    /// Driver `slot` is not connected, for `error`. Logs the first failure and each new reason
    /// at WARN, repeats at DEBUG.
    pub fn set_down(&self, slot: usize, error: ConnectError) {
        let repeat = self
            .tx
            .borrow()
            .get(slot)
            .is_some_and(|s| matches!(&s.state, ConnState::Down(e) if e.kind == error.kind && e.message == error.message));
        if repeat {
            tracing::debug!(server = %error.addr, error = %error.message, "still not connected");
        } else {
            tracing::warn!(server = %error.addr, error = %error.message, "not connected; retrying with backoff");
        }
        self.set(slot, ConnState::Down(error));
    }

    fn set(&self, slot: usize, state: ConnState) {
        self.tx
            .send_if_modified(|states| match states.get_mut(slot) {
                Some(s) if s.state != state => {
                    s.state = state;
                    s.since = Instant::now();
                    true
                }
                _ => false,
            });
    }

    /// The servers now.
    pub fn snapshot(&self) -> Vec<ServerState> {
        self.tx.borrow().clone()
    }

    /// How many are connected.
    pub fn connected(&self) -> usize {
        self.tx.borrow().iter().filter(|s| s.is_up()).count()
    }

    /// Waits until a connection is up (`Ok`), or every server has failed an attempt, or
    /// `deadline` passes (`Err`, with each server's reason).
    pub async fn wait_usable(&self, deadline: tokio::time::Instant) -> Result<(), Unreachable> {
        let mut rx = self.tx.subscribe();
        let settled = |states: &Vec<ServerState>| {
            states.iter().any(ServerState::is_up)
                || states
                    .iter()
                    .all(|s| matches!(s.state, ConnState::Down(_) | ConnState::Closed))
        };
        let waited = tokio::time::timeout_at(deadline, rx.wait_for(settled)).await;
        let states = self.snapshot();
        if states.iter().any(ServerState::is_up) {
            return Ok(());
        }
        let timed_out = waited.is_err();
        Err(Unreachable {
            servers: states
                .into_iter()
                .map(|s| match s.state {
                    ConnState::Down(e) => e,
                    ConnState::Closed => ConnectError {
                        message: "shut down".into(),
                        addr: s.addr,
                        kind: std::io::ErrorKind::NotConnected,
                        tls: None,
                    },
                    _ => ConnectError {
                        message: if timed_out {
                            "no connection before the deadline".into()
                        } else {
                            "not connected".into()
                        },
                        addr: s.addr,
                        kind: std::io::ErrorKind::TimedOut,
                        tls: None,
                    },
                })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(addr: &str) -> ConnectError {
        ConnectError::from_io(
            addr,
            &std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn waits_for_the_first_up() {
        let states = std::sync::Arc::new(ServerStates::new(&["a:1", "b:2"]));
        let s = states.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            s.set_down(0, refused("a:1"));
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            s.set_up(1);
        });
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        assert_eq!(states.wait_usable(deadline).await, Ok(()));
        assert_eq!(states.connected(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn all_down_ends_the_wait_with_every_reason() {
        let states = std::sync::Arc::new(ServerStates::new(&["a:1", "b:2"]));
        states.set_down(0, refused("a:1"));
        states.set_down(1, refused("b:2"));
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        let err = states.wait_usable(deadline).await.unwrap_err();
        assert_eq!(err.servers, vec![refused("a:1"), refused("b:2")]);
        assert!(err.to_string().starts_with("no server reachable: a:1: "));
    }

    #[tokio::test(start_paused = true)]
    async fn closed_slots_end_the_wait_at_once() {
        let states = ServerStates::new(&["a:1"]);
        states.set_closed(0);
        let start = tokio::time::Instant::now();
        let err = states
            .wait_usable(start + std::time::Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(start.elapsed(), std::time::Duration::ZERO);
        assert_eq!(err.servers[0].message, "shut down");
    }

    #[tokio::test(start_paused = true)]
    async fn the_deadline_ends_the_wait() {
        let states = ServerStates::new(&["a:1"]);
        let start = tokio::time::Instant::now();
        let err = states
            .wait_usable(start + std::time::Duration::from_millis(300))
            .await
            .unwrap_err();
        assert_eq!(start.elapsed(), std::time::Duration::from_millis(300));
        assert_eq!(err.servers[0].kind, std::io::ErrorKind::TimedOut);
    }
}
