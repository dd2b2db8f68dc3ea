//! The tokio runtime: a cloneable [`Client`] over one driver task per server.

mod admin;
mod batch;
mod builder;
mod driver;
mod error;
mod job;
mod payload;
mod request;

pub use admin::{AdminClient, AdminClientError};
pub use builder::ClientBuilder;
pub use error::{ClientError, Error};
pub use job::{JobEvent, JobStream};
pub use payload::Payload;
pub use request::Job;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gearman_io::{ServerState, ServerStates, Unreachable};
use gearman_proto::{JobHandle, JobStatus, UniqueId, UniqueStatus};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::event::{Event, Failure, JobOutcome};
use driver::Command;

/// Whether a command reached its driver's queue.
enum Queued {
    Yes,
    /// The driver is gone: the request may go to the next server.
    DriverGone,
    /// The caller's deadline passed while the queue was full: nothing was sent.
    DeadlinePassed,
}

impl Queued {
    /// For an attempt on one server: `None` to go on, else how the attempt ends (`Some(None)`:
    /// try the next server).
    fn ending<R>(self) -> Option<Option<Result<R, ClientError>>> {
        match self {
            Self::Yes => None,
            Self::DriverGone => Some(None),
            Self::DeadlinePassed => Some(Some(Err(ClientError::Failed(Failure::NotSent)))),
        }
    }
}

/// How long past a caller's deadline a call waits for its driver's own verdict (which knows
/// whether the job was acknowledged) before it ends on its own.
const DEADLINE_GRACE: Duration = Duration::from_millis(50);

/// A caller's deadline plus [`DEADLINE_GRACE`].
fn with_grace(deadline: std::time::Instant) -> Instant {
    let d = Instant::from_std(deadline);
    d.checked_add(DEADLINE_GRACE).unwrap_or(d)
}

/// Events a job's stream may hold unread before the client stops following the job.
pub const STREAM_BUFFER: usize = 1024;

struct Server {
    commands: mpsc::Sender<Command>,
    up: Arc<AtomicBool>,
}

struct Inner {
    servers: Vec<Server>,
    states: Arc<ServerStates>,
    round_robin: AtomicUsize,
    /// Where jobs with a unique id go.
    ring: crate::Ring,
    /// How long a call waits for the first connection (the connect timeout).
    first_contact: Duration,
}

/// A Gearman client: cheap to clone, many requests in flight per connection.
///
/// [`spawn`](ClientBuilder::spawn) returns at once and connects in the background; a call made
/// before any connection is up waits for the first one (up to the connect timeout or the call's
/// own deadline), and fails with [`ClientError::Unreachable`], carrying each server's connect
/// error, when none can be reached.
///
/// Submissions go to a connected server: a job with a unique id to the server a ketama ring
/// over the server names picks ([`Ring`](crate::Ring), the same choice libgearman 2.2 makes
/// with selection by unique, whatever the order of the list), so that coalescing works across
/// clients, and down that ring's fail-over chain when the server is down; a job without one
/// in turn. A server that is down is skipped, and a request that was never sent is tried on
/// the next one. Nothing that was sent is ever sent
/// again: an unacknowledged submission ends in [`Failure::Ambiguous`].
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("servers", &self.inner.states.snapshot())
            .finish()
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

    /// Each server's connection: up, on its first attempt, or down with the reason.
    pub fn servers(&self) -> Vec<ServerState> {
        self.inner.states.snapshot()
    }

    /// Waits until a connection is up, at most `timeout`. Fails at once when every server has
    /// failed an attempt, with each one's reason.
    pub async fn ready(&self, timeout: Duration) -> Result<(), ClientError> {
        if self.connected() > 0 {
            return Ok(());
        }
        Ok(self
            .inner
            .states
            .wait_usable(gearman_io::deadline_in(timeout))
            .await?)
    }

    /// Before the first request of a client with no connection up: wait for one, until the
    /// connect timeout or `deadline`.
    async fn first_contact(&self, deadline: Option<std::time::Instant>) -> Result<(), ClientError> {
        if self.connected() > 0 {
            return Ok(());
        }
        let mut until = gearman_io::deadline_in(self.inner.first_contact);
        if let Some(d) = deadline {
            until = until.min(Instant::from_std(d));
        }
        Ok(self.inner.states.wait_usable(until).await?)
    }

    /// What a request that no server took ends in: each server's reason when none is up.
    fn none_took_it(&self) -> ClientError {
        let states = self.inner.states.snapshot();
        if states.iter().any(ServerState::is_up) {
            return ClientError::Failed(Failure::NotSent);
        }
        let servers = states
            .into_iter()
            .map(|s| match s.state {
                gearman_io::ConnState::Down(e) => e,
                _ => gearman_io::ConnectError {
                    addr: s.addr,
                    kind: std::io::ErrorKind::NotConnected,
                    message: "not connected".into(),
                    tls: None,
                },
            })
            .collect();
        ClientError::Unreachable(Unreachable { servers })
    }

    /// Server order for a request: by the ring for a unique id, else in turn; live servers
    /// first (in that order).
    fn order(&self, unique: &UniqueId) -> Vec<usize> {
        let n = self.inner.servers.len();
        let mut order: Vec<usize> = if unique.is_empty() {
            let start = self.inner.round_robin.fetch_add(1, Ordering::Relaxed) % n;
            (0..n).map(|i| (start + i) % n).collect()
        } else {
            self.inner.ring.order(unique.as_bytes())
        };
        order.sort_by_key(|&i| !self.inner.servers[i].up.load(Ordering::Relaxed));
        order
    }

    /// Submits a job and waits for the server's acknowledgement (JOB_CREATED); the stream then
    /// reports its progress and outcome. A background job's stream ends at its creation.
    pub async fn submit(&self, job: Job) -> Result<JobStream, ClientError> {
        if job.is_background() {
            // Only the creation matters: the cheaper path.
            let (server, event) = self.submit_for_end(job).await?;
            return match event {
                Event::Created { handle, .. } => Ok(JobStream::background_created(handle, server)),
                _ => Err(ClientError::Closed),
            };
        }
        let new = job.prepare(std::time::Instant::now())?;
        let order = self.order(&new.unique);
        self.on_a_live_server(order, new.deadline, |i| {
            let new = new.clone();
            async move {
                let (tx, rx) = mpsc::channel(STREAM_BUFFER);
                let deadline = new.deadline;
                let cmd = Command::Submit {
                    job: new,
                    events: tx,
                };
                if let Some(end) = self.queue(i, cmd, deadline).await.ending() {
                    return end;
                }
                let mut stream = JobStream::new(rx, i, deadline);
                // Wait for the acknowledgement; a request that never left may go elsewhere.
                match stream.created().await {
                    Err(ClientError::Failed(Failure::NotSent)) => None,
                    Err(e) => Some(Err(e)),
                    Ok(_) => Some(Ok(stream)),
                }
            }
        })
        .await
    }

    /// Waits for a first connection if none is up, then tries `attempt` on each live server of
    /// `order` until one is not `None` (`None`: the request was never sent there, so it may go to
    /// the next). Ends with each server's reason when none took it.
    async fn on_a_live_server<R, Fut>(
        &self,
        order: Vec<usize>,
        deadline: Option<std::time::Instant>,
        mut attempt: impl FnMut(usize) -> Fut,
    ) -> Result<R, ClientError>
    where
        Fut: std::future::Future<Output = Option<Result<R, ClientError>>>,
    {
        self.first_contact(deadline).await?;
        for i in order {
            if !self.inner.servers[i].up.load(Ordering::Relaxed) {
                continue;
            }
            if let Some(result) = attempt(i).await {
                return result;
            }
        }
        Err(self.none_took_it())
    }

    /// Hands `cmd` to server `i`'s driver, waiting for room in its queue until `deadline`.
    async fn queue(&self, i: usize, cmd: Command, deadline: Option<std::time::Instant>) -> Queued {
        let commands = &self.inner.servers[i].commands;
        let sent = match deadline {
            Some(d) => {
                match tokio::time::timeout_at(Instant::from_std(d), commands.send(cmd)).await {
                    Ok(sent) => sent,
                    Err(_) => return Queued::DeadlinePassed,
                }
            }
            None => commands.send(cmd).await,
        };
        match sent {
            Ok(()) => Queued::Yes,
            Err(_) => Queued::DriverGone,
        }
    }

    /// Submits a job and waits only for its ending: a foreground job's outcome, a background
    /// job's creation, or a failure (one event, one wake-up). Returns the server's index too.
    async fn submit_for_end(&self, job: Job) -> Result<(usize, Event), ClientError> {
        let new = job.prepare(std::time::Instant::now())?;
        let order = self.order(&new.unique);
        self.on_a_live_server(order, new.deadline, |i| {
            let new = new.clone();
            async move {
                let (tx, rx) = oneshot::channel();
                let deadline = new.deadline;
                let acked = deadline.map(|_| Arc::new(AtomicBool::new(false)));
                let cmd = Command::SubmitForEnd {
                    job: new,
                    end: tx,
                    acked: acked.clone(),
                };
                if let Some(end) = self.queue(i, cmd, deadline).await.ending() {
                    return end;
                }
                // The driver ends the request at its deadline; should the driver itself be
                // stuck (a write the server does not take), the caller's deadline still holds.
                let ended = match deadline {
                    Some(d) => match tokio::time::timeout_at(with_grace(d), rx).await {
                        Ok(ended) => ended,
                        Err(_) => {
                            let created = acked.is_some_and(|a| a.load(Ordering::Relaxed));
                            let failure = match created {
                                true => Failure::TimedOut,
                                false => Failure::Ambiguous,
                            };
                            return Some(Err(ClientError::Failed(failure)));
                        }
                    },
                    None => rx.await,
                };
                match ended {
                    Ok(Event::Failed {
                        failure: Failure::NotSent,
                        ..
                    }) => None,
                    Ok(Event::Failed { failure, .. }) => Some(Err(ClientError::Failed(failure))),
                    Ok(event) => Some(Ok((i, event))),
                    // The driver let go without an ending: the client is closing.
                    Err(_) => Some(Err(ClientError::Failed(Failure::Abandoned))),
                }
            }
        })
        .await
    }

    /// Sends one query to the first live server of `servers` and waits for its single answer.
    async fn query(
        &self,
        servers: Vec<usize>,
        make: impl Fn(mpsc::Sender<Event>) -> Command,
    ) -> Result<Event, ClientError> {
        self.on_a_live_server(servers, None, |i| {
            let (tx, mut rx) = mpsc::channel(1);
            let cmd = make(tx);
            async move {
                if let Some(end) = self.queue(i, cmd, None).await.ending() {
                    return end;
                }
                match rx.recv().await {
                    Some(Event::Failed {
                        failure: Failure::NotSent,
                        ..
                    }) => None,
                    Some(Event::Failed { failure, .. }) => Some(Err(ClientError::Failed(failure))),
                    Some(event) => Some(Ok(event)),
                    None => Some(Err(ClientError::Closed)),
                }
            }
        })
        .await
    }

    /// The status of a job (GET_STATUS) on the server that created it
    /// ([`JobStream::server`]).
    pub async fn status(&self, server: usize, handle: JobHandle) -> Result<JobStatus, ClientError> {
        if server >= self.inner.servers.len() {
            return Err(ClientError::NoServer);
        }
        let event = self
            .query(vec![server], |reply| Command::Status {
                handle: handle.clone(),
                reply,
            })
            .await?;
        match event {
            Event::Status { status, .. } => Ok(status),
            _ => Err(ClientError::Closed),
        }
    }

    /// The status of a job by unique id (GET_STATUS_UNIQUE), asked of the server that
    /// submissions with this unique go to.
    pub async fn status_unique<U>(&self, unique: U) -> Result<UniqueStatus, ClientError>
    where
        U: TryInto<UniqueId>,
        U::Error: std::fmt::Display,
    {
        let unique: UniqueId = unique
            .try_into()
            .map_err(|e| ClientError::InvalidArgument {
                what: "unique id",
                reason: e.to_string(),
            })?;
        let order = self.order(&unique);
        let event = self
            .query(order, |reply| Command::StatusUnique {
                unique: unique.clone(),
                reply,
            })
            .await?;
        match event {
            Event::UniqueStatus { status, .. } => Ok(status),
            _ => Err(ClientError::Closed),
        }
    }

    /// Sends ECHO_REQ to a live server and returns what came back.
    pub async fn echo(&self, data: impl Into<Payload>) -> Result<Bytes, ClientError> {
        let data = data.into().into_bytes();
        let order = self.order(&UniqueId::empty());
        let event = self
            .query(order, |reply| Command::Echo {
                data: data.clone(),
                reply,
            })
            .await?;
        match event {
            Event::Echo { data, .. } => Ok(data),
            _ => Err(ClientError::Closed),
        }
    }

    /// Like [`call`](Self::call), but submits again, up to `attempts` times in all, when the
    /// outcome is unknown (the submission was not acknowledged, or the connection dropped while
    /// the job ran). Opt-in, because the job may then run more than once. Each attempt gets
    /// the job's whole [`timeout`](Job::timeout).
    pub async fn call_resubmitting(&self, job: Job, attempts: usize) -> Result<Bytes, ClientError> {
        let mut last = ClientError::NoServer;
        for _ in 0..attempts.max(1) {
            match self.call(job.clone()).await {
                Err(e @ ClientError::Failed(Failure::Ambiguous | Failure::Disconnected)) => {
                    last = e
                }
                other => return other,
            }
        }
        Err(last)
    }

    /// Runs a foreground job to its end and returns its result.
    pub async fn call(&self, job: Job) -> Result<Bytes, ClientError> {
        if job.is_background() {
            return Err(ClientError::InvalidArgument {
                what: "job kind",
                reason: "call runs foreground jobs; use submit for background ones".into(),
            });
        }
        match self.submit_for_end(job).await?.1 {
            Event::Done {
                outcome: JobOutcome::Complete(data),
                ..
            } => Ok(data),
            Event::Done {
                outcome: JobOutcome::Fail,
                ..
            } => Err(ClientError::JobFailed),
            Event::Done {
                outcome: JobOutcome::Exception(data),
                ..
            } => Err(ClientError::JobException(data)),
            _ => Err(ClientError::Closed),
        }
    }
}
