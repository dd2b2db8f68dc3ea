//! Configuring and starting a [`Worker`].

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use gearman_proto::{ClientId, FunctionName, GrabKind};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use super::driver::{Driver, RuntimeConfig};
use super::{GrabGate, Handler, Handlers, Phase, Shared, SharedHandler, Worker};
use crate::function_set::{FunctionSet, Timeout};
use crate::machine::MachineConfig;

/// Why a worker could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// No server was given.
    #[error("no server given")]
    NoServer,
    /// Called outside a tokio runtime.
    #[error("a worker must be started inside a tokio runtime")]
    NoRuntime,
}

/// Options of a [`Worker`].
pub struct WorkerBuilder {
    servers: Vec<String>,
    functions: FunctionSet,
    handlers: HashMap<FunctionName, SharedHandler>,
    fallback: Option<SharedHandler>,
    concurrency: usize,
    connections_per_server: usize,
    client_id: Option<ClientId>,
    connection_ids: Vec<ClientId>,
    machine: MachineConfig,
    runtime: RuntimeConfig,
    gate: Option<Arc<dyn GrabGate>>,
}

impl Default for WorkerBuilder {
    fn default() -> Self {
        Self {
            servers: Vec::new(),
            functions: FunctionSet::new(),
            handlers: HashMap::new(),
            fallback: None,
            concurrency: 1,
            connections_per_server: 1,
            client_id: None,
            connection_ids: Vec::new(),
            machine: MachineConfig::default(),
            runtime: RuntimeConfig::default(),
            gate: None,
        }
    }
}

impl std::fmt::Debug for WorkerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerBuilder")
            .field("servers", &self.servers)
            .field("functions", &self.functions)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

impl WorkerBuilder {
    /// Adds a job server, `host:port`.
    pub fn server(mut self, addr: impl Into<String>) -> Self {
        self.servers.push(addr.into());
        self
    }

    /// Offers `function`, run by `handler`.
    pub fn function(self, function: FunctionName, handler: impl Handler) -> Self {
        self.function_with_timeout(function, None, handler)
    }

    /// Offers `function` with a server-side timeout (CAN_DO_TIMEOUT). When it runs out the
    /// server re-queues the job, so the worker abandons it locally at the same moment.
    pub fn function_with_timeout(
        mut self,
        function: FunctionName,
        timeout: Option<Timeout>,
        handler: impl Handler,
    ) -> Self {
        self.functions.insert(function.clone(), timeout);
        self.handlers.insert(function, Arc::new(handler));
        self
    }

    /// Runs jobs of offered functions that have no handler of their own (functions added
    /// later with [`Worker::set_functions`]).
    pub fn fallback(mut self, handler: impl Handler) -> Self {
        self.fallback = Some(Arc::new(handler));
        self
    }

    /// Jobs run at once across all connections (default 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Connections per server (default 1). Each connection holds at most
    /// `concurrency / connections` jobs (rounded up): with one connection per slot, one job each,
    /// like the Jenkins plugin's executors.
    pub fn connections_per_server(mut self, n: usize) -> Self {
        self.connections_per_server = n.max(1);
        self
    }

    /// Names every connection with SET_CLIENT_ID (shown by the admin `workers` command). With
    /// several connections, each gets `ID` suffixed by `_` and its number after the first.
    pub fn client_id(mut self, id: ClientId) -> Self {
        self.client_id = Some(id);
        self
    }

    /// Names each connection of a server by its position: connection `i` gets `ids[i]` (the
    /// Jenkins plugin's `NODE_exec-I`). Takes precedence over [`client_id`](Self::client_id).
    pub fn connection_ids(mut self, ids: Vec<ClientId>) -> Self {
        self.connection_ids = ids;
        self
    }

    /// The GRAB variant (default GRAB_JOB_UNIQ; GRAB_JOB_ALL also brings reducers).
    pub fn grab(mut self, kind: GrabKind) -> Self {
        self.machine.grab = kind;
        self
    }

    /// While asleep, grab again after this long without a NOOP (default 5 s).
    pub fn regrab_after(mut self, after: Duration) -> Self {
        self.machine.regrab_after = after;
        self
    }

    /// Send an ECHO after `after` of silence and drop the connection if no answer comes within
    /// `timeout` (default 30 s and 10 s); `None` turns the heartbeat off.
    pub fn heartbeat(mut self, after: Option<Duration>, timeout: Duration) -> Self {
        self.machine.heartbeat_after = after;
        self.machine.heartbeat_timeout = timeout;
        self
    }

    /// Reconnect delays: from `initial`, doubling, capped at `max`, with jitter (default
    /// 100 ms to 2 s).
    pub fn reconnect_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.runtime.reconnect = gearman_io::ReconnectOptions { initial, max };
        self
    }

    /// How long a connection attempt may take (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.runtime.connect.timeout = timeout;
        self
    }

    /// TCP keepalive idle time (default 30 s; `None` turns it off).
    pub fn keepalive(mut self, idle: Option<Duration>) -> Self {
        self.runtime.connect.keepalive = idle;
        self
    }

    /// Grabs only with a pass from `gate` (see [`GrabGate`]), besides a free slot.
    pub fn gate(mut self, gate: Arc<dyn GrabGate>) -> Self {
        self.gate = Some(gate);
        self
    }

    /// Starts the connections. Must be called inside a tokio runtime.
    pub fn spawn(self) -> Result<Worker, BuildError> {
        if self.servers.is_empty() {
            return Err(BuildError::NoServer);
        }
        let rt = tokio::runtime::Handle::try_current().map_err(|_| BuildError::NoRuntime)?;
        let shared = Arc::new(Shared {
            handlers: RwLock::new(Handlers {
                by_function: self.handlers,
                fallback: self.fallback,
            }),
            connected: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            gate: self.gate,
        });
        let (functions, _) = watch::channel(self.functions);
        let (phase, _) = watch::channel(Phase::Running);
        let permits = Arc::new(Semaphore::new(self.concurrency));
        // The limit is shared by all connections; each holds at most its share (one job each
        // when there is a connection per slot, as the plugin's executors do).
        let machine = MachineConfig {
            slots: self.concurrency.div_ceil(self.connections_per_server),
            gated: true,
            ..self.machine
        };
        let runtime = Arc::new(self.runtime);
        let mut tasks = JoinSet::new();
        let mut n = 0usize;
        for addr in &self.servers {
            for i in 0..self.connections_per_server {
                let client_id = match self.connection_ids.get(i) {
                    Some(id) => Some(id.clone()),
                    None => self.client_id.as_ref().map(|id| match n {
                        0 => id.clone(),
                        _ => ClientId::try_from(format!("{id}_{n}")).unwrap_or_else(|_| id.clone()),
                    }),
                };
                let driver = Driver::new(
                    addr.clone(),
                    client_id,
                    machine.clone(),
                    runtime.clone(),
                    shared.clone(),
                    functions.subscribe(),
                    phase.subscribe(),
                    permits.clone(),
                );
                tasks.spawn_on(driver.run(), &rt);
                n += 1;
            }
        }
        Ok(Worker {
            shared,
            functions: Arc::new(functions),
            phase: Arc::new(phase),
            tasks: Arc::new(Mutex::new(Some(tasks))),
        })
    }
}
