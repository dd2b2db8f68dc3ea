//! The tokio runtime: a cloneable [`Client`] over one driver task per server.

mod admin;
mod driver;
mod job;

pub use admin::{AdminClient, AdminClientError};
pub use job::{JobEvent, JobStream};

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gearman_proto::{
    ClientId, FunctionName, JobHandle, JobStatus, Priority, UniqueId, UniqueStatus,
};
use tokio::sync::mpsc;

use crate::event::{Event, Failure, JobOutcome};
use crate::machine::{ClientConfig, JobKind, NewJob};
use driver::{Command, Driver, DriverConfig};

/// Why a client call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request did not get its answer (see [`Failure`] for what is known of the job).
    #[error(transparent)]
    Failed(#[from] Failure),
    /// No server is connected.
    #[error("no server is connected")]
    NoServer,
    /// The job ended with WORK_FAIL.
    #[error("the job failed")]
    JobFailed,
    /// The job ended with WORK_EXCEPTION.
    #[error("the job raised an exception")]
    JobException(Bytes),
    /// The client was shut down.
    #[error("the client is closed")]
    Closed,
    /// Started outside a tokio runtime.
    #[error("a client must be started inside a tokio runtime")]
    NoRuntime,
}

/// Events a job's stream may hold unread before the client stops following the job.
pub const STREAM_BUFFER: usize = 1024;

struct Server {
    commands: mpsc::Sender<Command>,
    up: Arc<AtomicBool>,
}

struct Inner {
    servers: Vec<Server>,
    round_robin: AtomicUsize,
}

/// A Gearman client: cheap to clone, many requests in flight per connection.
///
/// Submissions go to a connected server: by a hash of the unique id when there is one (so that
/// coalescing works across clients), otherwise in turn; a server that is down is skipped, and
/// a request that was never sent is tried on the next one. Nothing that was sent is ever sent
/// again: an unacknowledged submission ends in [`Failure::Ambiguous`].
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("connected", &self.connected())
            .finish()
    }
}

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
    /// Adds a job server, `host:port`.
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

    /// How long a connection attempt may take (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.driver.connect.timeout = timeout;
        self
    }

    /// Starts one driver per server. Must be called inside a tokio runtime.
    pub fn spawn(self) -> Result<Client, Error> {
        if self.servers.is_empty() {
            return Err(Error::NoServer);
        }
        let rt = tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
        let mut servers = Vec::new();
        for addr in self.servers {
            let (tx, rx) = mpsc::channel(self.queue);
            let up = Arc::new(AtomicBool::new(false));
            let driver = Driver::new(
                addr,
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
                round_robin: AtomicUsize::new(0),
            }),
        })
    }
}

/// A job to submit, built step by step: `Job::new("f", data).unique("u").high()`.
#[derive(Clone, Debug)]
pub struct Job(NewJob);

impl Job {
    /// A foreground job at normal priority with an empty unique id.
    pub fn new(function: FunctionName, data: impl Into<Bytes>) -> Self {
        Self(NewJob {
            function,
            unique: UniqueId::empty(),
            data: data.into(),
            priority: Priority::Normal,
            kind: JobKind::Foreground,
            deadline: None,
        })
    }

    /// The unique id (coalescing key, at most 63 bytes).
    pub fn unique(mut self, unique: UniqueId) -> Self {
        self.0.unique = unique;
        self
    }

    /// A fresh random unique id (32 hex digits), as libgearman gives background jobs so that
    /// persistent queues do not collide on empty ones.
    pub fn generated_unique(mut self) -> Self {
        self.0.unique = random_unique();
        self
    }

    /// A map/reduce job with `reducer` (SUBMIT_REDUCE_JOB, or its background form).
    pub fn reduce(mut self, reducer: FunctionName, background: bool) -> Self {
        self.0.kind = JobKind::Reduce {
            reducer,
            background,
        };
        self
    }

    /// The priority.
    pub fn priority(mut self, priority: Priority) -> Self {
        self.0.priority = priority;
        self
    }

    /// Background: only JOB_CREATED comes back.
    pub fn background(mut self) -> Self {
        self.0.kind = JobKind::Background;
        self
    }

    /// Background, runnable at or after `unix_seconds`.
    pub fn at(mut self, unix_seconds: u64) -> Self {
        self.0.kind = JobKind::Epoch(unix_seconds);
        self
    }

    /// Gives up waiting for the whole job after `timeout` (the job itself goes on).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.0.deadline = Some(std::time::Instant::now() + timeout);
        self
    }
}

impl Client {
    /// Starts configuring a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// Connections currently up.
    pub fn connected(&self) -> usize {
        self.inner
            .servers
            .iter()
            .filter(|s| s.up.load(Ordering::Relaxed))
            .count()
    }

    /// Server order for a request: by unique, else in turn; live servers first.
    fn order(&self, unique: &UniqueId) -> Vec<usize> {
        let n = self.inner.servers.len();
        let start = if unique.is_empty() {
            self.inner.round_robin.fetch_add(1, Ordering::Relaxed) % n
        } else {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            unique.as_bytes().hash(&mut h);
            (h.finish() % n as u64) as usize
        };
        let mut order: Vec<usize> = (0..n).map(|i| (start + i) % n).collect();
        order.sort_by_key(|&i| !self.inner.servers[i].up.load(Ordering::Relaxed));
        order
    }

    /// Submits a job; the stream reports its creation, progress and outcome.
    pub async fn submit(&self, job: Job) -> Result<JobStream, Error> {
        for i in self.order(&job.0.unique) {
            let server = &self.inner.servers[i];
            if !server.up.load(Ordering::Relaxed) {
                continue;
            }
            let (tx, rx) = mpsc::channel(STREAM_BUFFER);
            let cmd = Command::Submit {
                job: job.0.clone(),
                events: tx,
            };
            if server.commands.send(cmd).await.is_err() {
                continue;
            }
            let mut stream = JobStream::new(rx, i);
            stream.set_background(!job.0.kind.is_foreground());
            // Wait for the acknowledgement; a request that never left may go elsewhere.
            match stream.created().await {
                Err(Error::Failed(Failure::NotSent)) => continue,
                Err(e) => return Err(e),
                Ok(_) => return Ok(stream),
            }
        }
        Err(Error::NoServer)
    }

    /// Sends one query to server `i` (or the first live one) and waits for its single answer.
    async fn query(
        &self,
        servers: Vec<usize>,
        make: impl Fn(mpsc::Sender<Event>) -> Command,
    ) -> Result<Event, Error> {
        for i in servers {
            let server = &self.inner.servers[i];
            if !server.up.load(Ordering::Relaxed) {
                continue;
            }
            let (tx, mut rx) = mpsc::channel(1);
            if server.commands.send(make(tx)).await.is_err() {
                continue;
            }
            match rx.recv().await {
                Some(Event::Failed {
                    failure: Failure::NotSent,
                    ..
                }) => continue,
                Some(Event::Failed { failure, .. }) => return Err(Error::Failed(failure)),
                Some(event) => return Ok(event),
                None => return Err(Error::Closed),
            }
        }
        Err(Error::NoServer)
    }

    /// The status of a job (GET_STATUS) on the server that created it
    /// ([`JobStream::server`]).
    pub async fn status(&self, server: usize, handle: JobHandle) -> Result<JobStatus, Error> {
        if server >= self.inner.servers.len() {
            return Err(Error::NoServer);
        }
        let event = self
            .query(vec![server], |reply| Command::Status {
                handle: handle.clone(),
                reply,
            })
            .await?;
        match event {
            Event::Status { status, .. } => Ok(status),
            _ => Err(Error::Closed),
        }
    }

    /// The status of a job by unique id (GET_STATUS_UNIQUE), asked of the server that
    /// submissions with this unique go to.
    pub async fn status_unique(&self, unique: UniqueId) -> Result<UniqueStatus, Error> {
        let order = self.order(&unique);
        let event = self
            .query(order, |reply| Command::StatusUnique {
                unique: unique.clone(),
                reply,
            })
            .await?;
        match event {
            Event::UniqueStatus { status, .. } => Ok(status),
            _ => Err(Error::Closed),
        }
    }

    /// Sends ECHO_REQ to a live server and returns what came back.
    pub async fn echo(&self, data: impl Into<Bytes>) -> Result<Bytes, Error> {
        let data = data.into();
        let order = self.order(&UniqueId::empty());
        let event = self
            .query(order, |reply| Command::Echo {
                data: data.clone(),
                reply,
            })
            .await?;
        match event {
            Event::Echo { data, .. } => Ok(data),
            _ => Err(Error::Closed),
        }
    }

    /// Like [`call`](Self::call), but submits again, up to `attempts` times in all, when the
    /// outcome is unknown (the submission was not acknowledged, or the connection dropped while
    /// the job ran). Opt-in, because the job may then run more than once.
    pub async fn call_resubmitting(&self, job: Job, attempts: usize) -> Result<Bytes, Error> {
        let mut last = Error::NoServer;
        for _ in 0..attempts.max(1) {
            match self.call(job.clone()).await {
                Err(e @ Error::Failed(Failure::Ambiguous | Failure::Disconnected)) => last = e,
                other => return other,
            }
        }
        Err(last)
    }

    /// Runs a foreground job to its end and returns its result.
    pub async fn call(&self, job: Job) -> Result<Bytes, Error> {
        match self.submit(job).await?.outcome().await? {
            JobOutcome::Complete(data) => Ok(data),
            JobOutcome::Fail => Err(Error::JobFailed),
            JobOutcome::Exception(data) => Err(Error::JobException(data)),
        }
    }
}

/// 128 random bits as 32 hex digits, from the standard library's randomly keyed hasher.
fn random_unique() -> UniqueId {
    use std::hash::BuildHasher;
    let state = std::collections::hash_map::RandomState::new();
    let a = state.hash_one(std::time::SystemTime::now());
    let b = state.hash_one(a);
    UniqueId::try_from(format!("{a:016x}{b:016x}")).unwrap_or_else(|_| UniqueId::empty())
}
