//! One fixture for both job servers: the real gearmand, and this family's gearman-server run in
//! a thread of its own (its own runtime, so killing it closes every socket at once, as a crash
//! would, and it shares no threads with the test).

use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc as std_mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use gearman_server::{Server, ServerConfig};

use crate::{gearmand_or_skip, Gearmand, TestkitError};

const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Which job server a live test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerKind {
    /// Debian's gearmand 1.1.20, in its own process.
    Gearmand,
    /// gearman-server, in a thread with its own runtime.
    GearmanServer,
}

impl ServerKind {
    /// Both, gearmand first.
    pub const ALL: [Self; 2] = [Self::Gearmand, Self::GearmanServer];

    /// A short name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Gearmand => "gearmand",
            Self::GearmanServer => "gearman-server",
        }
    }

    /// How the admin `version` reply begins: gearmand 1.1.20 says `1.1.20+ds`, gearman-server
    /// says `gearman-rs VERSION`.
    pub fn version_prefix(self) -> &'static str {
        match self {
            Self::Gearmand => "1.",
            Self::GearmanServer => "gearman-rs ",
        }
    }
}

/// A live job server of either kind on 127.0.0.1 at a free port; stopped on drop.
#[derive(Debug)]
pub struct TestServer {
    kind: ServerKind,
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Gearmand(Gearmand),
    Embedded(Embedded),
}

impl TestServer {
    /// Starts a server of `kind`. For gearmand this is [`gearmand_or_skip`]: `None` (after a
    /// visible skip notice) where it is not installed and CI does not demand it.
    ///
    /// # Panics
    /// When the server cannot start (or gearmand is missing and required).
    pub fn start_or_skip(kind: ServerKind, test: &str) -> Option<Self> {
        let inner = match kind {
            ServerKind::Gearmand => {
                Inner::Gearmand(gearmand_or_skip(&format!("{test} (gearmand)"))?)
            }
            ServerKind::GearmanServer => Inner::Embedded(
                Embedded::start(ServerConfig::default(), None)
                    .unwrap_or_else(|e| panic!("{test}: gearman-server did not start: {e}")),
            ),
        };
        Some(Self { kind, inner })
    }

    /// Which server it is.
    pub fn kind(&self) -> ServerKind {
        self.kind
    }

    /// Its address, `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        match &self.inner {
            Inner::Gearmand(g) => g.addr(),
            Inner::Embedded(e) => e.addr,
        }
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.addr().port()
    }

    /// Stops it at once: every connection drops, every job is gone.
    pub fn kill(&mut self) {
        match &mut self.inner {
            Inner::Gearmand(g) => g.kill(),
            Inner::Embedded(e) => e.kill(),
        }
    }

    /// Starts it again on the same port (after [`kill`](Self::kill)), empty.
    pub fn restart(&mut self) -> Result<(), TestkitError> {
        match &mut self.inner {
            Inner::Gearmand(g) => g.restart(),
            Inner::Embedded(e) => e.restart(),
        }
    }
}

/// gearman-server in a thread of its own.
#[derive(Debug)]
pub struct Embedded {
    addr: SocketAddr,
    config: ServerConfig,
    running: Option<(JoinHandle<()>, tokio::sync::oneshot::Sender<()>)>,
}

impl Embedded {
    /// Starts gearman-server with `config` on 127.0.0.1 (port 0 when `port` is `None`).
    pub fn start(config: ServerConfig, port: Option<u16>) -> Result<Self, TestkitError> {
        let mut e = Self {
            addr: SocketAddr::from(([127, 0, 0, 1], port.unwrap_or(0))),
            config,
            running: None,
        };
        e.spawn()?;
        Ok(e)
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn spawn(&mut self) -> Result<(), TestkitError> {
        let (ready_tx, ready_rx) = std_mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (addr, config) = (self.addr, self.config.clone());
        let thread = std::thread::Builder::new()
            .name(format!("gearman-server-{}", addr.port()))
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                rt.block_on(async move {
                    match Server::bind(addr, config).await {
                        Ok(server) => {
                            let _ = ready_tx.send(Ok(server.local_addr()));
                            let _ = stop_rx.await;
                            drop(server);
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
                // Dropping the runtime cancels every connection task: all sockets close.
                drop(rt);
            })?;
        match ready_rx.recv_timeout(START_TIMEOUT) {
            Ok(Ok(bound)) => {
                self.addr = bound;
                self.running = Some((thread, stop_tx));
                Ok(())
            }
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(TestkitError::Io(e))
            }
            Err(_) => Err(TestkitError::Start(
                "gearman-server did not bind in time".into(),
            )),
        }
    }

    /// Stops it at once, like a crash: every connection closed, every job gone.
    pub fn kill(&mut self) {
        if let Some((thread, stop)) = self.running.take() {
            let _ = stop.send(());
            let _ = thread.join();
        }
    }

    /// Starts it again on the same port, empty, retrying while the port is still held.
    pub fn restart(&mut self) -> Result<(), TestkitError> {
        self.kill();
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match self.spawn() {
                Ok(()) => break,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => return Err(e),
            }
        }
        // Answering at once: the listener is bound before `spawn` returns.
        TcpStream::connect_timeout(&self.addr, Duration::from_secs(1))?;
        Ok(())
    }
}

impl Drop for Embedded {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs an async scenario against each server kind, as tests named `gearmand` and
/// `gearman_server` in a module named after the scenario:
/// `on_both_servers!(scenario_a, scenario_b);` where each is `async fn(ServerKind)`.
#[macro_export]
macro_rules! on_both_servers {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn gearmand() {
                super::$scenario($crate::ServerKind::Gearmand).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn gearman_server() {
                super::$scenario($crate::ServerKind::GearmanServer).await
            }
        }
    )*};
}

/// [`on_both_servers!`] for blocking scenarios, `fn(ServerKind)`.
#[macro_export]
macro_rules! on_both_servers_blocking {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[test]
            fn gearmand() {
                super::$scenario($crate::ServerKind::Gearmand)
            }

            #[test]
            fn gearman_server() {
                super::$scenario($crate::ServerKind::GearmanServer)
            }
        }
    )*};
}
