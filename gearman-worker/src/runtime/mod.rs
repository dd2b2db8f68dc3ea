//! The tokio runtime: a cloneable [`Worker`] handle over one driver task per server connection.

mod builder;
mod driver;
mod gate;
mod handler;

pub use builder::{BuildError, WorkerBuilder};
pub use gate::{GatePass, GrabGate};
pub use handler::{BoxFuture, Handler, Job, JobError, JobGone, JobResult, SharedHandler};

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use gearman_proto::FunctionName;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::function_set::{FunctionSet, Timeout};

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
pub enum Error {
    /// A function was offered with neither its own handler nor a fallback.
    #[error("no handler for function {0}")]
    NoHandler(FunctionName),
    /// Graceful shutdown ran out of time; running jobs were aborted (the server re-queues them).
    #[error("{0} connection(s) still had jobs when the grace period ended")]
    ShutdownTimedOut(usize),
}

pub(crate) struct Shared {
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

    /// Replaces the functions offered. Every connection sends only the difference; a function
    /// whose job is running is dropped once that job ends.
    pub fn set_functions(&self, functions: FunctionSet) -> Result<(), Error> {
        {
            let handlers = self
                .shared
                .handlers
                .read()
                .unwrap_or_else(|e| e.into_inner());
            if let Some((f, _)) = functions.iter().find(|(f, _)| handlers.get(f).is_none()) {
                return Err(Error::NoHandler(f.clone()));
            }
        }
        self.functions.send_replace(functions);
        Ok(())
    }

    /// Adds a function with its handler, or replaces it, and offers it.
    pub fn add_function(
        &self,
        function: FunctionName,
        timeout: Option<Timeout>,
        handler: impl Handler,
    ) {
        self.shared
            .handlers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .by_function
            .insert(function.clone(), Arc::new(handler));
        self.functions
            .send_modify(|set| set.insert(function, timeout));
    }

    /// Stops offering a function (once its running jobs end).
    pub fn remove_function(&self, function: &FunctionName) {
        self.functions.send_modify(|set| {
            set.remove(function);
        });
    }

    /// Graceful shutdown: stop grabbing, let running jobs finish within `grace`, then close
    /// every connection. Jobs still running after `grace` are aborted; the server re-queues them.
    pub async fn shutdown(&self, grace: Duration) -> Result<(), Error> {
        self.phase.send_replace(Phase::Draining);
        let tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(mut tasks) = tasks else {
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
        Err(Error::ShutdownTimedOut(left))
    }
}
