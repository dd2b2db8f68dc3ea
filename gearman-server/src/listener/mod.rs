//! The tokio server: an accept task, one task per connection, and one task owning the core
//! (and its clock). Output per connection is bounded in bytes, so a reader that stops reading
//! is disconnected instead of growing the server.

mod conn;
mod driver;
mod guard;
mod meter;
#[cfg(feature = "metrics")]
mod metrics;
mod output;
mod store_task;
mod tcp;
pub(crate) mod throttle;

use std::net::SocketAddr;

use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};
#[cfg(feature = "tls")]
use tracing::debug;
use tracing::{info, warn};

use crate::core::{ConnId, FunctionStats, ServerCore};
use crate::inbound::Inbound;
use crate::ServerConfig;
use output::Output;

/// Messages to the task that owns the core.
pub(crate) enum ToCore {
    Open(SocketAddr, Output, oneshot::Sender<ConnId>),
    /// What one read of a connection brought, in order (never a close: the connection task
    /// acts on those itself).
    Inputs(ConnId, Vec<Inbound>),
    Closed(ConnId),
    Stats(oneshot::Sender<Vec<FunctionStats>>),
    Shutdown {
        graceful: bool,
    },
}

/// Where the server is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Running,
    /// Not accepting; existing connections are served until they close.
    Draining,
    Stopped,
}

/// The server has stopped (by [`Server::shutdown`] or an admin `shutdown`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stopped;

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the job server has stopped")
    }
}

impl std::error::Error for Stopped {}

/// A running server. Stop it with [`shutdown`](Self::shutdown) or
/// [`shutdown_graceful`](Self::shutdown_graceful); dropping it stops it too, abruptly (every
/// connection closed at once, like a crash).
///
/// It runs on the tokio runtime that called [`bind`](Self::bind), which needs IO and time
/// enabled.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    to_core: mpsc::Sender<ToCore>,
    phase: watch::Receiver<Phase>,
    accept: Option<JoinHandle<()>>,
    core: Option<JoinHandle<()>>,
    #[cfg(feature = "tls")]
    tls: Option<std::sync::Arc<crate::tls::Acceptor>>,
    #[cfg(feature = "tls")]
    refusals: std::sync::Arc<std::sync::atomic::AtomicU64>,
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    meter: meter::Meter,
}

impl Drop for Server {
    fn drop(&mut self) {
        for task in [self.accept.take(), self.core.take()].into_iter().flatten() {
            task.abort();
        }
    }
}

impl Server {
    /// Binds `addr` (port 0 picks a free one) and starts serving. `config` is a
    /// [`ServerConfig`] or just a [`CoreConfig`](crate::CoreConfig).
    pub async fn bind(
        addr: impl ToSocketAddrs,
        config: impl Into<ServerConfig>,
    ) -> std::io::Result<Self> {
        Self::start(addr, config.into(), None).await
    }

    /// Like [`bind`](Self::bind), with background jobs kept in `store`: the jobs it holds are
    /// loaded and queued first, and a background submission is answered (JOB_CREATED) only
    /// once the store has it. Fails with an error of kind `InvalidData` wrapping the
    /// [`StoreError`](crate::store::StoreError) if the store cannot be read.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use gearman_server::store::{SqliteStore, StoreSync};
    /// use gearman_server::{CoreConfig, Server};
    ///
    /// let store = SqliteStore::open("jobs.sqlite3", StoreSync::Always)?;
    /// let server = Server::bind_with_store("127.0.0.1:4730", CoreConfig::default(), store).await?;
    /// # Ok(()) }
    /// ```
    pub async fn bind_with_store(
        addr: impl ToSocketAddrs,
        config: impl Into<ServerConfig>,
        store: impl crate::store::JobStore,
    ) -> std::io::Result<Self> {
        Self::start(addr, config.into(), Some(Box::new(store))).await
    }

    async fn start(
        addr: impl ToSocketAddrs,
        config: ServerConfig,
        store: Option<Box<dyn crate::store::JobStore>>,
    ) -> std::io::Result<Self> {
        let mut core = ServerCore::new(config.core.clone());
        let store = match store {
            Some(mut store) => {
                let (store, jobs) = tokio::task::spawn_blocking(move || {
                    let jobs = store.load();
                    (store, jobs)
                })
                .await
                .map_err(std::io::Error::other)?;
                let jobs =
                    jobs.map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
                if !jobs.is_empty() {
                    info!(jobs = jobs.len(), "stored background jobs loaded");
                }
                core.enable_store(jobs);
                Some(store_task::StoreLink::start(store)?)
            }
            None => None,
        };
        #[cfg(feature = "tls")]
        let tls = match &config.tls {
            Some(settings) => Some(std::sync::Arc::new(crate::tls::Acceptor::new(
                settings.clone(),
            )?)),
            None => None,
        };
        #[cfg(feature = "tls")]
        let refusals = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (to_core, from_conns) = mpsc::channel(8192);
        let (phase_tx, phase) = watch::channel(Phase::Running);
        let (unbound_tx, unbound_rx) = oneshot::channel();
        let meter = meter::Meter::default();
        meter.start(&mut core);
        let core = tokio::spawn(driver::run(
            core,
            store,
            from_conns,
            phase_tx,
            unbound_rx,
            meter.clone(),
        ));
        let accept = tokio::spawn(accept(
            listener,
            to_core.clone(),
            phase.clone(),
            config,
            #[cfg(feature = "tls")]
            tls.clone(),
            #[cfg(feature = "tls")]
            refusals.clone(),
            unbound_tx,
            meter.clone(),
        ));
        info!(%addr, "gearman-server listening");
        Ok(Self {
            addr,
            to_core,
            phase,
            accept: Some(accept),
            core: Some(core),
            #[cfg(feature = "tls")]
            tls,
            #[cfg(feature = "tls")]
            refusals,
            meter,
        })
    }

    /// How many requests the ACL has refused since the server started (registrations,
    /// submissions and admin commands).
    #[cfg(feature = "tls")]
    pub fn acl_refusals(&self) -> u64 {
        self.refusals.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Re-reads the TLS certificate, key and client CA files: new connections use them, open
    /// ones keep what they shook hands with. On error (a file missing or unreadable) the
    /// files last read stay in use. Without TLS there is nothing to do.
    #[cfg(feature = "tls")]
    pub fn reload_tls(&self) -> std::io::Result<()> {
        match &self.tls {
            Some(tls) => tls.reload(),
            None => Ok(()),
        }
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Per function: jobs queued and running, and workers registered, sorted by name.
    pub async fn stats(&self) -> Result<Vec<FunctionStats>, Stopped> {
        let (tx, rx) = oneshot::channel();
        self.to_core
            .send(ToCore::Stats(tx))
            .await
            .map_err(|_| Stopped)?;
        rx.await.map_err(|_| Stopped)
    }

    /// Resolves once the server has stopped, whoever stopped it (an admin `shutdown`, say).
    pub async fn stopped(&self) {
        reached(&mut self.phase.clone(), |p| p == Phase::Stopped).await;
    }

    /// Stops now: no more connections, every connection closed once what was already answered
    /// is written. Jobs still held are lost, and their clients see the connection close.
    pub async fn shutdown(mut self) {
        let _ = self
            .to_core
            .send(ToCore::Shutdown { graceful: false })
            .await;
        self.join().await;
    }

    /// Stops accepting connections and returns once every open connection has closed; until
    /// then they are served as usual (admin `shutdown graceful` does the same).
    pub async fn shutdown_graceful(mut self) {
        let _ = self.to_core.send(ToCore::Shutdown { graceful: true }).await;
        self.join().await;
    }

    async fn join(&mut self) {
        for task in [self.core.take(), self.accept.take()].into_iter().flatten() {
            let _ = task.await;
        }
    }
}

/// Waits until the phase satisfies `done` (or the server is gone).
pub(crate) async fn reached(phase: &mut watch::Receiver<Phase>, done: impl Fn(Phase) -> bool) {
    let _ = phase.wait_for(|p| done(*p)).await.map(|_| ());
}

/// Accepts until the server stops running, closes the listener (and says so on `unbound`),
/// then waits for its connections to end.
// The TLS acceptor and refusal count exist with the feature `tls` only; bundling them with
// the rest would only move the list elsewhere.
#[allow(clippy::too_many_arguments)]
async fn accept(
    listener: TcpListener,
    to_core: mpsc::Sender<ToCore>,
    mut phase: watch::Receiver<Phase>,
    config: ServerConfig,
    #[cfg(feature = "tls")] tls: Option<std::sync::Arc<crate::tls::Acceptor>>,
    #[cfg(feature = "tls")] refusals: std::sync::Arc<std::sync::atomic::AtomicU64>,
    unbound: oneshot::Sender<()>,
    meter: meter::Meter,
) {
    let mut conns = JoinSet::new();
    #[cfg(feature = "tls")]
    let acl = config.acl.clone().map(std::sync::Arc::new);
    let conn_phase = phase.clone();
    let mut accept_errors = throttle::Throttle::default();
    let limits = conn::Limits {
        max_packet: config.max_packet,
        max_output: config.max_output,
        admin_shutdown: config.admin_shutdown,
        meter,
    };
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    limits.meter.accepted();
                    while conns.try_join_next().is_some() {}
                    if conns.len() >= config.max_connections {
                        limits.meter.rejected();
                        warn!(%peer, max = config.max_connections, "connection limit: closing");
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    #[cfg(feature = "tls")]
                    if let Some(tls) = &tls {
                        let (acceptor, bound) = (tls.current(), tls.settings.handshake_timeout);
                        let (to_core, phase) = (to_core.clone(), conn_phase.clone());
                        let (acl, refusals) = (acl.clone(), refusals.clone());
                        let limits = limits.clone();
                        let mut stop = conn_phase.clone();
                        conns.spawn(async move {
                            let shake = tokio::select! {
                                shake = tokio::time::timeout(bound, acceptor.accept(stream)) => shake,
                                () = reached(&mut stop, |p| p == Phase::Stopped) => return,
                            };
                            match shake {
                                Ok(Ok(tls)) => {
                                    let subject = tls
                                        .get_ref()
                                        .1
                                        .peer_certificates()
                                        .and_then(|c| c.first())
                                        .and_then(|c| crate::tls::subject_common_name(c));
                                    let guard = acl.map(|acl| guard::Guard {
                                        acl,
                                        subject,
                                        refusals,
                                        peer,
                                        logged: false,
                                    });
                                    let (rd, wr) = tokio::io::split(tls);
                                    conn::serve((tcp::Reader(rd), wr), None, peer, to_core, phase, limits, guard).await;
                                }
                                Ok(Err(e)) => debug!(%peer, error = %e, "TLS handshake failed"),
                                Err(_) => debug!(%peer, ?bound, "TLS handshake timed out"),
                            }
                        });
                        continue;
                    }
                    #[cfg(feature = "tls")]
                    let guard = acl.as_ref().map(|acl| guard::Guard {
                        acl: acl.clone(),
                        subject: None,
                        refusals: refusals.clone(),
                        peer,
                        logged: false,
                    });
                    #[cfg(not(feature = "tls"))]
                    let guard = None;
                    let (rd, wr, probe) = tcp::share(stream);
                    conns.spawn(conn::serve((rd, wr), Some(probe), peer, to_core.clone(), conn_phase.clone(), limits.clone(), guard));
                }
                // Out of descriptors, say: wait a moment rather than spin, and say so once
                // per interval rather than every time.
                Err(e) => {
                    if let Some(unlogged) = accept_errors.hit(std::time::Instant::now()) {
                        warn!(error = %e, unlogged, every = ?throttle::INTERVAL, "accept failed (logged at most once per interval; `unlogged` counts the failures since the last report)");
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            () = reached(&mut phase, |p| p != Phase::Running) => break,
        }
    }
    drop(listener);
    let _ = unbound.send(());
    while conns.join_next().await.is_some() {}
}
