//! The tokio runtime: a cloneable [`Worker`] handle over one driver task per server connection.

mod builder;
mod driver;
mod gate;
mod handler;
mod name;

pub use builder::{BuildError, WorkerBuilder};
pub use gate::{GatePass, GrabGate};
pub use handler::{BoxFuture, Handler, Job, JobError, JobGone, JobResult, SharedHandler};

pub use handler::JobHandler;
pub use name::{IntoName, InvalidName};

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use gearman_proto::FunctionName;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::function_set::{FunctionSet, Timeout};
use gearman_io::{ServerState, ServerStates, Unreachable};

/// Where the worker is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Running,
    /// Stop grabbing, let running jobs finish, then close.
    Draining,
    /// Abort what still runs and close now.
    Stop,
}

/// Handlers by function, plus the fallback for functions without their own.
#[derive(Default)]
pub(crate) struct Handlers {
    pub(crate) by_function: HashMap<FunctionName, SharedHandler>,
    pub(crate) fallback: Option<SharedHandler>,
}

impl Handlers {
    pub(crate) fn get(&self, function: &FunctionName) -> Option<SharedHandler> {
        self.by_function
            .get(function)
            .or(self.fallback.as_ref())
            .cloned()
    }
}

/// Errors of the worker handle.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// A function was offered with neither its own handler nor a fallback.
    #[error("no handler for function {0}")]
    NoHandler(FunctionName),
    /// Graceful shutdown ran out of time; running jobs were aborted (the server re-queues them).
    #[error("{0} connection(s) still had jobs when the grace period ended")]
    ShutdownTimedOut(usize),
    /// A function name given as text is not a valid name.
    #[error(transparent)]
    InvalidName(#[from] InvalidName),
    /// [`Worker::ready`] saw no connection come up: every server failed an attempt, or the
    /// time ran out. Holds each connection's reason.
    #[error(transparent)]
    Unreachable(#[from] Unreachable),
}

/// The former name of [`WorkerError`], kept so that older code compiles.
#[deprecated(note = "renamed WorkerError, so that it cannot clash with gearman_client's error")]
pub type Error = WorkerError;

pub(crate) struct Shared {
    /// Drivers not yet ended (see [`AliveGuard`]).
    pub(crate) alive: AtomicUsize,
    /// Bumped whenever a driver ends.
    pub(crate) changed: watch::Sender<()>,
    /// One slot per connection (driver), servers in the order given.
    pub(crate) states: Arc<ServerStates>,

    pub(crate) handlers: RwLock<Handlers>,
    pub(crate) connected: AtomicUsize,
    pub(crate) running: AtomicUsize,
    pub(crate) gate: Option<Arc<dyn GrabGate>>,
}

/// A running worker: cheap to clone; every clone controls the same connections.
///
/// Built with [`Worker::builder`]. Each server gets one connection (or
/// [`connections_per_server`](WorkerBuilder::connections_per_server)), each driven by its own
/// task; together they never run more than [`concurrency`](WorkerBuilder::concurrency) jobs.
///
/// [`servers`](Self::servers) and [`ready`](Self::ready) tell whether the connections are up;
/// [`shutdown`](Self::shutdown) stops it and [`join`](Self::join) waits for the end.
#[derive(Clone)]
pub struct Worker {
    shared: Arc<Shared>,
    functions: Arc<watch::Sender<FunctionSet>>,
    phase: Arc<watch::Sender<Phase>>,
    tasks: Arc<Mutex<Option<JoinSet<()>>>>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("functions", &*self.functions.borrow())
            .field("connected", &self.connected())
            .finish()
    }
}

impl Worker {
    /// Starts configuring a worker.
    pub fn builder() -> WorkerBuilder {
        WorkerBuilder::default()
    }

    /// Connections currently up.
    pub fn connected(&self) -> usize {
        self.shared.connected.load(Ordering::Relaxed)
    }

    /// Jobs currently running.
    pub fn running(&self) -> usize {
        self.shared.running.load(Ordering::Relaxed)
    }

    /// The functions offered now.
    pub fn functions(&self) -> FunctionSet {
        self.functions.borrow().clone()
    }

    /// Each connection's state, servers in the order given (a server with
    /// [`connections_per_server`](WorkerBuilder::connections_per_server) `n` appears `n`
    /// times): connecting, up, or down with the reason, and since when.
    ///
    /// A worker pointed at a server that is down keeps retrying (capped backoff) and never
    /// gives up; this is where a program sees why it has no connection. The first failure of
    /// each connection, and each change of reason, is also logged at WARN (repeats at DEBUG).
    pub fn servers(&self) -> Vec<ServerState> {
        self.shared.states.snapshot()
    }

    /// Waits until a connection is up, at most `timeout`; fails at once when every connection
    /// has failed an attempt, with each one's reason (the worker keeps retrying in the
    /// background all the same).
    ///
    /// A connection counts once it is up; its first write is the registration. Cancel-safe:
    /// dropping the future changes nothing.
    ///
    /// # Errors
    /// [`WorkerError::Unreachable`] with each connection's reason.
    pub async fn ready(&self, timeout: Duration) -> Result<(), WorkerError> {
        if self.connected() > 0 {
            return Ok(());
        }
        let deadline = gearman_io::deadline_in(timeout);
        Ok(self.shared.states.wait_usable(deadline).await?)
    }

    /// Replaces the functions offered. Every connection sends only the difference; a function
    /// whose job is running is dropped once that job ends.
    ///
    /// # Errors
    /// [`WorkerError::NoHandler`] when a function has neither its own handler nor a fallback;
    /// nothing changes then.
    pub fn set_functions(&self, functions: FunctionSet) -> Result<(), WorkerError> {
        {
            let handlers = self
                .shared
                .handlers
                .read()
                .unwrap_or_else(|e| e.into_inner());
            if let Some((f, _)) = functions.iter().find(|(f, _)| handlers.get(f).is_none()) {
                return Err(WorkerError::NoHandler(f.clone()));
            }
        }
        self.functions.send_replace(functions);
        Ok(())
    }

    /// Adds a function with its handler, or replaces it, and offers it. The name may be text
    /// (`"reverse"`) or a [`FunctionName`].
    ///
    /// # Errors
    /// [`WorkerError::InvalidName`] when the name is not valid; nothing changes then.
    pub fn add_function(
        &self,
        function: impl IntoName<FunctionName>,
        timeout: Option<Timeout>,
        handler: impl Handler,
    ) -> Result<(), WorkerError> {
        self.add_handler(function, timeout, handler)
    }

    /// [`add_function`](Self::add_function) for a [`JobHandler`]: a struct or a
    /// [`SharedHandler`].
    ///
    /// # Errors
    /// [`WorkerError::InvalidName`] when the name is not valid; nothing changes then.
    pub fn add_handler(
        &self,
        function: impl IntoName<FunctionName>,
        timeout: Option<Timeout>,
        handler: impl JobHandler,
    ) -> Result<(), WorkerError> {
        let function = function.into_name()?;
        self.shared
            .handlers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .by_function
            .insert(function.clone(), Arc::new(handler));
        self.functions
            .send_modify(|set| set.insert(function, timeout));
        Ok(())
    }

    /// Stops offering a function (once its running jobs end). A name that is not valid was
    /// never offered: nothing happens.
    pub fn remove_function(&self, function: impl IntoName<FunctionName>) {
        let Ok(function) = function.into_name() else {
            return;
        };
        self.functions.send_modify(|set| {
            set.remove(&function);
        });
    }

    /// Graceful shutdown: stop grabbing, let running jobs finish within `grace`, then close
    /// every connection. Jobs still running after `grace` are aborted; the server re-queues them.
    ///
    /// Called again (from any clone) while a shutdown runs, it waits for that one to end.
    /// Dropping the future before it resolves aborts the connections at once, as if `grace`
    /// had run out: to wait for a shutdown without that risk, call it from one place and
    /// [`join`](Self::join) elsewhere.
    ///
    /// # Errors
    /// [`WorkerError::ShutdownTimedOut`] when jobs were still running after `grace`.
    pub async fn shutdown(&self, grace: Duration) -> Result<(), WorkerError> {
        self.phase.send_replace(Phase::Draining);
        let tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(mut tasks) = tasks else {
            self.join().await;
            return Ok(());
        };
        let drained =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        if drained.is_ok() {
            return Ok(());
        }
        let left = tasks.len();
        self.phase.send_replace(Phase::Stop);
        while tasks.join_next().await.is_some() {}
        Err(WorkerError::ShutdownTimedOut(left))
    }

    /// Resolves once the worker has shut down: every connection closed after
    /// [`shutdown`](Self::shutdown) (called from any clone), or every driver ended otherwise.
    /// Until then it waits; a worker whose servers are down keeps retrying and does not end.
    ///
    /// Cancel-safe: dropping the future changes nothing, and it can be awaited again, from any
    /// clone, any number of times (it resolves at once after the end). Typical `main`:
    /// spawn a task that calls `shutdown` on Ctrl-C, and `join().await`.
    pub async fn join(&self) {
        let mut changed = self.shared.changed.subscribe();
        while self.shared.alive.load(Ordering::SeqCst) > 0 {
            if changed.changed().await.is_err() {
                return;
            }
        }
    }
}

/// Counts a driver as alive from its creation until it is dropped: when it returns, or when its
/// task is aborted (even before it first ran).
pub(crate) struct AliveGuard(Arc<Shared>);

impl AliveGuard {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        shared.alive.fetch_add(1, Ordering::SeqCst);
        Self(shared)
    }
}

impl Drop for AliveGuard {
    fn drop(&mut self) {
        self.0.alive.fetch_sub(1, Ordering::SeqCst);
        self.0.changed.send_replace(());
    }
}
