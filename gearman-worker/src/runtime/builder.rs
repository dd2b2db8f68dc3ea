//! Configuring and starting a [`Worker`].

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use gearman_io::ServerStates;
use gearman_proto::{ClientId, FunctionName, GrabKind};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use super::driver::{Driver, RuntimeConfig};
use super::{GrabGate, Handler, Handlers, Phase, Shared, SharedHandler, Worker};
use crate::function_set::{FunctionSet, Timeout};
use crate::machine::MachineConfig;

use super::name::{IntoName, InvalidName};
use super::JobHandler;

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
    /// A function name or client id given as text is not valid (the first one found).
    #[error(transparent)]
    InvalidName(#[from] InvalidName),
}

/// Options of a [`Worker`].
pub struct WorkerBuilder {
    /// The first invalid name given, reported by `spawn`.
    invalid: Option<InvalidName>,

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
            invalid: None,

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

    /// Offers `function`, run by `handler`: an `async fn(Job) -> JobResult` or a closure, whose
    /// argument and result types are inferred:
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), gearman_worker::BuildError> {
    /// let worker = gearman_worker::Worker::builder()
    ///     .server("127.0.0.1:4730")
    ///     .function("echo", |job| async move { Ok(job.data().clone()) })
    ///     .spawn()?;
    /// # Ok(()) }
    /// ```
    ///
    /// The name may be text or a [`FunctionName`]; an invalid one is reported by
    /// [`spawn`](Self::spawn) as [`BuildError::InvalidName`].
    pub fn function(self, function: impl IntoName<FunctionName>, handler: impl Handler) -> Self {
        self.handler_with_timeout(function, None, handler)
    }

    /// Offers `function` with a server-side timeout (CAN_DO_TIMEOUT). When it runs out the
    /// server re-queues the job, so the worker abandons it locally at the same moment.
    pub fn function_with_timeout(
        self,
        function: impl IntoName<FunctionName>,
        timeout: Option<Timeout>,
        handler: impl Handler,
    ) -> Self {
        self.handler_with_timeout(function, timeout, handler)
    }

    /// Offers `function`, run by a [`JobHandler`]: a struct of your own, or a
    /// [`SharedHandler`] (`Arc<dyn JobHandler>`).
    pub fn handler(self, function: impl IntoName<FunctionName>, handler: impl JobHandler) -> Self {
        self.handler_with_timeout(function, None, handler)
    }

    /// [`handler`](Self::handler) with a server-side timeout, as
    /// [`function_with_timeout`](Self::function_with_timeout).
    pub fn handler_with_timeout(
        mut self,
        function: impl IntoName<FunctionName>,
        timeout: Option<Timeout>,
        handler: impl JobHandler,
    ) -> Self {
        match function.into_name() {
            Ok(function) => {
                self.functions.insert(function.clone(), timeout);
                self.handlers.insert(function, Arc::new(handler));
            }
            Err(e) => {
                self.invalid.get_or_insert(e);
            }
        }
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

    /// Names the worker with SET_CLIENT_ID (shown by the admin `workers` command): the same id
    /// on every server, one identity as the Jenkins plugin has. With
    /// [`connections_per_server`](Self::connections_per_server) above one, the extra
    /// connections to a server get `ID_1`, `ID_2`, ... by position. Text or a [`ClientId`]; an
    /// invalid id is reported by [`spawn`](Self::spawn).
    pub fn client_id(mut self, id: impl IntoName<ClientId>) -> Self {
        match id.into_name() {
            Ok(id) => self.client_id = Some(id),
            Err(e) => {
                self.invalid.get_or_insert(e);
            }
        }
        self
    }

    /// Names each connection of a server by its position: connection `i` gets `ids[i]` on
    /// every server (the Jenkins plugin's `NODE_exec-I`). Takes precedence over
    /// [`client_id`](Self::client_id) for the positions it covers.
    pub fn connection_ids<I>(mut self, ids: I) -> Self
    where
        I: IntoIterator,
        I::Item: IntoName<ClientId>,
    {
        self.connection_ids.clear();
        for id in ids {
            match id.into_name() {
                Ok(id) => self.connection_ids.push(id),
                Err(e) => {
                    self.invalid.get_or_insert(e);
                }
            }
        }
        self
    }

    /// The GRAB variant (default GRAB_JOB_UNIQ; GRAB_JOB_ALL also brings reducers). A server
    /// that does not know it (it answers ERROR) gets the next older one on that connection.
    pub fn grab(mut self, kind: GrabKind) -> Self {
        self.machine.grab = kind;
        self
    }

    /// How long a GRAB_JOB_ALL or GRAB_JOB_UNIQ the server has never answered may wait for its
    /// answer before the connection is replaced and the next older GRAB used (default 10 s;
    /// `None`: wait forever). Some servers ignore packets they do not know.
    pub fn grab_answer_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.machine.grab_answer_timeout = timeout;
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
    /// Connects over TLS with these settings (a CA bundle, an optional client certificate, an
    /// optional server name); a server that fails verification, or refuses this worker, is
    /// retried with the usual backoff.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: gearman_io::TlsOptions) -> Self {
        self.runtime.connect.tls = Some(tls);
        self
    }

    /// TCP keepalive idle time (default 30 s); `None` turns it off.
    pub fn keepalive(mut self, idle: Option<Duration>) -> Self {
        self.runtime.connect.keepalive = idle;
        self
    }

    /// How long one write may wait for a server that takes no bytes (frozen, its window full)
    /// before the connection counts as dead and is replaced (default 10 s).
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.runtime.connect.write_timeout = timeout;
        self
    }

    /// Grabs only with a pass from `gate` (see [`GrabGate`]), besides a free slot.
    pub fn gate(mut self, gate: Arc<dyn GrabGate>) -> Self {
        self.gate = Some(gate);
        self
    }

    /// Starts the connections. Must be called inside a tokio runtime.
    ///
    /// It does not wait for them: a server that is down is retried with backoff, for ever, and
    /// logged at WARN. See [`Worker::ready`] and [`Worker::servers`].
    ///
    /// # Errors
    /// [`BuildError::NoServer`], [`BuildError::NoRuntime`], or [`BuildError::InvalidName`] for
    /// the first invalid name given to the builder.
    pub fn spawn(self) -> Result<Worker, BuildError> {
        if let Some(e) = self.invalid {
            return Err(BuildError::InvalidName(e));
        }
        if self.servers.is_empty() {
            return Err(BuildError::NoServer);
        }
        let rt = tokio::runtime::Handle::try_current().map_err(|_| BuildError::NoRuntime)?;
        // One state slot per connection, in the order the drivers are made below.
        let slots: Vec<&String> = self
            .servers
            .iter()
            .flat_map(|addr| std::iter::repeat_n(addr, self.connections_per_server))
            .collect();
        let states = Arc::new(ServerStates::new(&slots));
        let shared = Arc::new(Shared {
            alive: AtomicUsize::new(0),
            changed: watch::channel(()).0,
            states: states.clone(),

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
        for (slot, addr) in slots.iter().enumerate() {
            // Connection i of its server: the same id on every server.
            let i = slot % self.connections_per_server;
            let client_id = connection_id(&self.connection_ids, self.client_id.as_ref(), i);
            let driver = Driver::new(
                (*addr).clone(),
                (states.clone(), slot),
                client_id,
                machine.clone(),
                runtime.clone(),
                shared.clone(),
                functions.subscribe(),
                phase.subscribe(),
                permits.clone(),
            );
            tasks.spawn_on(driver.run(), &rt);
        }
        Ok(Worker {
            shared,
            functions: Arc::new(functions),
            phase: Arc::new(phase),
            tasks: Arc::new(Mutex::new(Some(tasks))),
        })
    }
}

/// The SET_CLIENT_ID of connection `i` of a server (the same on every server): its entry in
/// `ids`, else `id` for the first connection and `id_I` for the others.
fn connection_id(ids: &[ClientId], id: Option<&ClientId>, i: usize) -> Option<ClientId> {
    if let Some(id) = ids.get(i) {
        return Some(id.clone());
    }
    let id = id?;
    Some(match i {
        0 => id.clone(),
        _ => ClientId::try_from(format!("{id}_{i}")).unwrap_or_else(|_| id.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> ClientId {
        ClientId::try_from(s).unwrap()
    }

    #[test]
    fn one_identity_on_every_server_with_suffixes_only_for_extra_connections() {
        let ids: Vec<_> = (0..3)
            .map(|i| connection_id(&[], Some(&id("n1")), i))
            .collect();
        assert_eq!(
            ids,
            vec![Some(id("n1")), Some(id("n1_1")), Some(id("n1_2"))]
        );
        assert_eq!(connection_id(&[], None, 0), None);
    }

    #[test]
    fn connection_ids_name_positions_and_client_id_covers_the_rest() {
        let ids = [id("n1_exec-0"), id("n1_exec-1")];
        assert_eq!(
            connection_id(&ids, Some(&id("n1")), 1),
            Some(id("n1_exec-1"))
        );
        assert_eq!(connection_id(&ids, Some(&id("n1")), 2), Some(id("n1_2")));
        assert_eq!(connection_id(&ids, None, 2), None);
    }

    #[test]
    fn an_invalid_name_is_reported_by_spawn() {
        let err = Worker::builder()
            .server("127.0.0.1:1")
            .function("", |job| async move { Ok(job.data().clone()) })
            .spawn()
            .unwrap_err();
        assert!(
            matches!(err, BuildError::InvalidName(ref e) if e.name.is_empty()),
            "{err}"
        );
        let err = Worker::builder()
            .server("127.0.0.1:1")
            .client_id("a\0b")
            .spawn()
            .unwrap_err();
        assert!(
            matches!(err, BuildError::InvalidName(ref e) if e.name == "a\0b"),
            "{err}"
        );
    }
}
