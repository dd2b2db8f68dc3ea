//! The glue: one worker per executor (one connection per server, the same client id on each),
//! one management worker per host, function sets and node lifecycles kept in step with the
//! host.

mod build;
mod error;
mod lock;
mod management;
mod observer;

pub use error::RunnerError;
pub use observer::{ExecutorCounts, RunnerObserver};

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use gearman_proto::ClientId;
use gearman_worker::{FunctionSet, Job, JobError, Worker, WorkerBuilder};
use tokio::sync::Mutex;
use tracing::{info, warn};

use crate::host::CiHost;
use crate::label::Label;
use crate::naming;
use crate::policy::{functions_for, ProjectIndex};
use lock::{NodeGate, NodeLock};

/// Above this many online nodes a refresh computes function sets through a [`ProjectIndex`].
const INDEX_FROM_NODES: usize = 8;

/// How long a retired executor's running build may take to finish.
const RETIRE_GRACE: Duration = Duration::from_secs(7 * 24 * 3600);

/// A node's executors (one worker each, so an executor can be added or retired on its own) and
/// the lock they share.
struct NodeWorkers {
    executors: Vec<Worker>,
    lock: Arc<NodeLock>,
}

/// What the runner applies to each worker builder before adding its own settings: connection
/// options such as TLS (`|b| b.tls(options.clone())` with `gearman-worker`'s `tls` feature).
pub type ConfigureWorker = Arc<dyn Fn(WorkerBuilder) -> WorkerBuilder + Send + Sync>;

struct Shared<H: CiHost> {
    host: Arc<H>,
    servers: Vec<String>,
    configure: ConfigureWorker,
    nodes: Mutex<HashMap<Label, NodeWorkers>>,
    /// Nodes a single-use build used up: kept offline here until the host has reported them
    /// offline (or gone) once, whatever a refresh that read the host earlier says.
    used_up: std::sync::Mutex<HashSet<Label>>,
    /// Set by [`Runner::shutdown`]: refreshes change nothing from then on.
    stopping: std::sync::atomic::AtomicBool,
    /// Hears of builds and registrations, if any.
    observer: Option<Arc<dyn RunnerObserver>>,
}

/// Runs a [`CiHost`]'s builds for Gearman jobs, as the Jenkins gearman plugin did.
///
/// - Every online node of the host gets one worker per executor, named `NODE_exec-I` on every
///   server, all offering the node's function set ([`functions_for`]); the host gets one
///   management worker, `MANAGER_manager`, for `stop:MANAGER` and `set_description:MANAGER`.
/// - On [`CiHost::changed`] (or [`refresh`](Self::refresh)) function sets change by delta;
///   executors are added or retired as counts change; a node that is gone or offline stops
///   grabbing at once, its idle executors disconnect, and its busy ones finish their build,
///   report it, then disconnect; a node that comes back registers again.
/// - An executor grabs only while it holds its node's lock and the host reports an idle
///   executor there ([`CiHost::idle_executors`]); the lock is released once the build started,
///   or, with `OFFLINE_NODE_WHEN_COMPLETE`, after the build ended and the node went offline.
/// - A connection lost mid-build: the server takes the job back; the runner aborts the build
///   on the host (or gives up its pending start) and never sends its result on a later
///   connection.
pub struct Runner<H: CiHost> {
    shared: Arc<Shared<H>>,
    management: Worker,
    watcher: tokio::task::JoinHandle<()>,
}

impl<H: CiHost> std::fmt::Debug for Runner<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("servers", &self.shared.servers)
            .finish_non_exhaustive()
    }
}

fn ascii_id(text: String) -> Option<ClientId> {
    ClientId::try_from(text).ok()
}

fn retire_all(workers: Vec<Worker>) {
    for w in workers {
        // Stops grabbing at once; an idle executor disconnects now, a busy one after its build.
        tokio::spawn(async move {
            let _ = w.shutdown(RETIRE_GRACE).await;
        });
    }
}

impl<H: CiHost> Shared<H> {
    /// Recomputes every node's functions and applies them; starts and retires executors and
    /// nodes as the host changes (no restart needed).
    async fn refresh(self: &Arc<Self>) -> Result<(), RunnerError<H::Error>> {
        // Refreshes run one at a time, each on what the host says once it runs: one that read
        // the host earlier cannot undo a later one.
        let mut workers = self.nodes.lock().await;
        if self.stopping.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(());
        }
        let projects = self.host.projects().await.map_err(RunnerError::Host)?;
        let mut nodes = self.host.nodes().await.map_err(RunnerError::Host)?;
        {
            let mut used_up = self.used_up.lock().unwrap_or_else(|e| e.into_inner());
            // A used-up node the host reports offline (or no longer has) may come back later.
            used_up.retain(|name| nodes.iter().any(|n| &n.info.name == name && n.info.online));
            for n in nodes.iter_mut().filter(|n| used_up.contains(&n.info.name)) {
                n.info.online = false;
            }
        }
        let gone: Vec<Label> = workers
            .keys()
            .filter(|name| !nodes.iter().any(|n| &n.info.name == *name && n.info.online))
            .cloned()
            .collect();
        for name in gone {
            if let Some(entry) = workers.remove(&name) {
                info!(node = %name, "node gone or offline: retiring its executors");
                entry.lock.close();
                retire_all(entry.executors);
            }
        }
        // Over a few nodes, the free function; over more, the index pays for itself (it spells
        // every function name once instead of once per node: with 10,000 projects, building it
        // costs about what 10 nodes' sets cost). Both give the same sets.
        let online = nodes.iter().filter(|n| n.info.online).count();
        let index = (online > INDEX_FROM_NODES).then(|| ProjectIndex::new(&projects));
        for node in nodes.into_iter().filter(|n| n.info.online) {
            let set: FunctionSet = match &index {
                Some(index) => index.functions_vec(&node.info).into_iter().collect(),
                None => functions_for(&node.info, &projects).into_iter().collect(),
            };
            let name = node.info.name.clone();
            let entry = workers.entry(name.clone()).or_insert_with(|| NodeWorkers {
                executors: Vec::new(),
                lock: Arc::new(NodeLock::default()),
            });
            entry.lock.set_capacity(node.executors);
            while entry.executors.len() < node.executors {
                let i = entry.executors.len();
                let worker = self.start_executor(&name, i, &entry.lock, set.clone())?;
                entry.executors.push(worker);
            }
            if entry.executors.len() > node.executors {
                let retired = entry.executors.split_off(node.executors);
                retire_all(retired);
            }
            for worker in &entry.executors {
                let old = worker.functions();
                if old != set {
                    self.observe_registrations(&old, &set);
                    // Every function has the fallback handler: this cannot fail.
                    let _ = worker.set_functions(set.clone());
                }
            }
        }
        Ok(())
    }

    /// Tells the observer of a change from `old` to `new` functions.
    fn observe_registrations(&self, old: &FunctionSet, new: &FunctionSet) {
        if let Some(o) = &self.observer {
            let added = new.iter().filter(|(f, _)| !old.contains(f)).count();
            let removed = old.iter().filter(|(f, _)| !new.contains(f)).count();
            o.registrations(added, removed);
        }
    }

    /// A single-use build used `node` up: it grabs nothing more until the host has reported it
    /// offline and then online again.
    fn mark_used_up(&self, node: &Label) {
        self.used_up
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(node.clone());
    }

    /// Counts a build of `node` (see [`NodeLock::build_slot`]); `None` for a node no longer
    /// kept (it was retired while the job came in).
    async fn build_slot(&self, node: &Label) -> Option<lock::BuildSlot> {
        self.nodes
            .lock()
            .await
            .get(node)
            .map(|n| n.lock.build_slot())
    }

    /// Retires a node now (it went offline), whatever the host says.
    async fn retire(&self, node: &Label) {
        if let Some(entry) = self.nodes.lock().await.remove(node) {
            entry.lock.close();
            retire_all(entry.executors);
        }
    }

    fn start_executor(
        self: &Arc<Self>,
        node: &Label,
        i: usize,
        lock: &Arc<NodeLock>,
        functions: FunctionSet,
    ) -> Result<Worker, RunnerError<H::Error>> {
        let mut builder = (self.configure)(Worker::builder())
            .concurrency(1)
            .gate(Arc::new(NodeGate {
                lock: lock.clone(),
                host: self.host.clone(),
                node: node.clone(),
            }));
        // The same id on every server (the plugin's `NODE_exec-I`).
        if let Some(id) = ascii_id(format!("{node}_exec-{i}")) {
            builder = builder.connection_ids(vec![id]);
        }
        for s in &self.servers {
            builder = builder.server(s.clone());
        }
        let shared = Arc::downgrade(self);
        let node_name = node.clone();
        info!(node = %node, executor = i, "starting executor");
        let worker = builder
            .fallback(move |job: Job| {
                let shared = shared.clone();
                let node_name = node_name.clone();
                async move {
                    let Some(shared) = shared.upgrade() else {
                        return Err(JobError::Fail);
                    };
                    shared.run_build(node_name, job).await
                }
            })
            .spawn()?;
        self.observe_registrations(&FunctionSet::new(), &functions);
        // Every function has the fallback handler: this cannot fail.
        let _ = worker.set_functions(functions);
        Ok(worker)
    }
}

impl<H: CiHost> Runner<H> {
    /// Starts the management worker and a worker per executor of every online node, registers
    /// every node's functions, and follows the host's changes.
    pub async fn start(host: Arc<H>, servers: Vec<String>) -> Result<Self, RunnerError<H::Error>> {
        Self::start_with(host, servers, Arc::new(|b| b)).await
    }

    /// [`start`](Self::start), each worker's builder first passed through `configure` (TLS,
    /// say).
    pub async fn start_with(
        host: Arc<H>,
        servers: Vec<String>,
        configure: ConfigureWorker,
    ) -> Result<Self, RunnerError<H::Error>> {
        Self::start_inner(host, servers, configure, None).await
    }

    /// [`start_with`](Self::start_with), telling `observer` of every build and registration
    /// (for metrics).
    pub async fn start_observed(
        host: Arc<H>,
        servers: Vec<String>,
        configure: ConfigureWorker,
        observer: Arc<dyn RunnerObserver>,
    ) -> Result<Self, RunnerError<H::Error>> {
        Self::start_inner(host, servers, configure, Some(observer)).await
    }

    async fn start_inner(
        host: Arc<H>,
        servers: Vec<String>,
        configure: ConfigureWorker,
        observer: Option<Arc<dyn RunnerObserver>>,
    ) -> Result<Self, RunnerError<H::Error>> {
        let manager = host.manager();
        let mut builder = configure(Worker::builder());
        for s in &servers {
            builder = builder.server(s.clone());
        }
        if let Some(id) = ascii_id(format!("{manager}_manager")) {
            builder = builder.connection_ids(vec![id]);
        }
        let (h1, h2) = (host.clone(), host.clone());
        let management = builder
            .function(naming::stop(&manager), move |job: Job| {
                management::stop(h1.clone(), job)
            })
            .function(naming::set_description(&manager), move |job: Job| {
                management::set_description(h2.clone(), job)
            })
            .spawn()?;
        let shared = Arc::new(Shared {
            host,
            servers,
            configure,
            nodes: Mutex::new(HashMap::new()),
            used_up: std::sync::Mutex::new(HashSet::new()),
            stopping: std::sync::atomic::AtomicBool::new(false),
            observer,
        });
        shared.refresh().await?;
        let weak = Arc::downgrade(&shared);
        let watcher = tokio::spawn(async move {
            loop {
                let Some(host) = weak.upgrade().map(|s| s.host.clone()) else {
                    return;
                };
                host.changed().await;
                let Some(shared) = weak.upgrade() else { return };
                if let Err(e) = shared.refresh().await {
                    warn!(error = %e, "refresh failed");
                }
            }
        });
        Ok(Self {
            shared,
            management,
            watcher,
        })
    }

    /// The executors of the nodes served now, and how many of them run a build.
    pub async fn executors(&self) -> ExecutorCounts {
        let nodes = self.shared.nodes.lock().await;
        let mut counts = ExecutorCounts::default();
        for n in nodes.values() {
            let total = n.executors.len();
            counts.total += total;
            counts.busy += n.lock.builds().min(total);
        }
        counts
    }

    /// Recomputes and re-registers every node's functions now (e.g. on SIGHUP).
    pub async fn refresh(&self) -> Result<(), RunnerError<H::Error>> {
        self.shared.refresh().await
    }

    /// Stops taking jobs, lets running builds end within `grace` (one deadline for all
    /// executors, which stop side by side), and disconnects. Builds still running after `grace`
    /// are aborted on the host; the server takes their jobs back. No refresh starts executors
    /// once this has begun. Executors retired earlier (their node went away mid-build) finish
    /// their build on their own.
    pub async fn shutdown(&self, grace: Duration) {
        self.watcher.abort();
        self.shared
            .stopping
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let workers: Vec<Worker> = self
            .shared
            .nodes
            .lock()
            .await
            .values()
            .flat_map(|n| {
                n.lock.close();
                n.executors.iter().cloned()
            })
            .chain(std::iter::once(self.management.clone()))
            .collect();
        let mut stopping = tokio::task::JoinSet::new();
        for w in workers {
            stopping.spawn(async move {
                let _ = w.shutdown(grace).await;
            });
        }
        while stopping.join_next().await.is_some() {}
    }
}
