//! The sans-IO core of the job server: connections, registrations, jobs and queues, with the
//! semantics of gearmand 1.1.20 (protocol.md §3) unless marked as a fix. Requests go in with
//! [`ServerCore::handle`]; the clock goes in with [`ServerCore::advance`]; responses come out,
//! addressed to connections, from [`ServerCore::poll_output`].

mod admin;
mod durable;
mod events;
mod job;
mod stats;
#[cfg(test)]
mod tests;
mod timers;
mod wakeups;
mod workers;

use std::collections::{BTreeSet, HashMap, VecDeque};

use bytes::Bytes;
use gearman_proto::{
    ClientId, ErrorPacket, FunctionName, GrabKind, JobAssign, JobHandle, JobStatus, Priority,
    Request, Response, UniqueId, UniqueStatus, WorkUpdate,
};

use durable::Deferred;
pub use events::{JobEvent, JobOutcome};
use job::{FnState, Job};
pub use stats::FunctionStats;
pub use wakeups::{WakeUp, WAKE_GRACE_MS};

/// Names one connection of the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

#[derive(Clone, Debug, Default)]
struct Conn {
    /// Registered functions, each with when it was registered (higher: more recent).
    functions: HashMap<FunctionName, u64>,
    /// CAN_DO_TIMEOUT of registered functions, in milliseconds.
    timeouts: HashMap<FunctionName, u64>,
    client_id: Option<ClientId>,
    exceptions: bool,
    held: BTreeSet<JobHandle>,
    waiting_on: BTreeSet<JobHandle>,
    peer: Option<std::net::SocketAddr>,
    /// Replies held until a background submission's store write is done (store in use only).
    backlog: VecDeque<Deferred>,
    /// The function this worker was last woken for, and until when that counts.
    woken: Option<(FunctionName, u64)>,
}

/// How long a foreground job waits in its queue before a GRAB asks whether its clients are
/// still there ([`ServerCore::handle_with`]).
pub const ASK_GONE_AFTER_MS: u64 = 100;

/// Settings of the core.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreConfig {
    /// Job handles are `PREFIX:N`.
    pub handle_prefix: String,
    /// Re-queues after which a job is failed to its waiters (gearmand's `-j`); `None`: never.
    pub max_retries: Option<u32>,
    /// Jobs the server holds at most, over all functions; past it a submission gets
    /// `ERROR QUEUE_ERROR` (gearmand has no such bound and grows until memory runs out).
    pub max_jobs: usize,
    /// The newest GRAB variant the server knows. Newer ones (in the order GRAB_JOB,
    /// GRAB_JOB_UNIQ, GRAB_JOB_ALL) are answered `ERROR INVALID_COMMAND`, as by a server that
    /// predates them: lets a test stand in for such a server. Default: all three are known.
    pub newest_grab: GrabKind,
    /// Which sleeping workers a new job wakes: by default only as many as it needs
    /// ([`WakeUp::AsNeeded`]); [`WakeUp::All`] is gearmand's way.
    pub wake_up: WakeUp,
}

impl Default for CoreConfig {
    fn default() -> Self {
        Self {
            handle_prefix: "H:gearman-rs".into(),
            max_retries: None,
            max_jobs: 1_000_000,
            newest_grab: GrabKind::All,
            wake_up: WakeUp::AsNeeded,
        }
    }
}

/// GRAB variants from oldest (0) to newest.
fn grab_age(kind: GrabKind) -> u8 {
    match kind {
        GrabKind::Plain => 0,
        GrabKind::Uniq => 1,
        GrabKind::All => 2,
    }
}

/// The server's state, without IO.
#[derive(Debug, Default)]
pub struct ServerCore {
    config: CoreConfig,
    conns: HashMap<ConnId, Conn>,
    jobs: HashMap<JobHandle, Job>,
    by_unique: HashMap<(FunctionName, UniqueId), JobHandle>,
    /// The same jobs by unique alone, for GET_STATUS_UNIQUE (which names no function).
    by_unique_only: HashMap<UniqueId, Vec<JobHandle>>,
    functions: HashMap<FunctionName, FnState>,
    /// Epoch jobs not yet due, by time.
    scheduled: BTreeSet<(u64, JobHandle)>,
    /// Workers asleep (PRE_SLEEP) that have had no NOOP since: the ones a new job wakes.
    sleepers: BTreeSet<ConnId>,
    /// Woken workers' grace deadlines, by time.
    wakes: BTreeSet<(u64, ConnId)>,
    /// The connections that registered each function.
    registrants: HashMap<FunctionName, BTreeSet<ConnId>>,
    /// Functions with a job waiting in a queue.
    ready: BTreeSet<FunctionName>,
    next_registration: u64,
    /// CAN_DO_TIMEOUT deadlines of running jobs, by time.
    deadlines: BTreeSet<(u64, JobHandle)>,
    /// The clock: unix milliseconds, as last given to [`advance`](Self::advance).
    now: u64,
    next_conn: u64,
    next_job: u64,
    out: VecDeque<(ConnId, Response)>,
    /// Background jobs are stored ([`enable_store`](Self::enable_store)).
    durable: bool,
    /// Store writes not yet taken by the driver.
    store_ops: Vec<crate::store::StoreOp>,
    next_store_id: u64,
    /// Stored jobs by their store id.
    by_store_id: HashMap<u64, JobHandle>,
    events: events::Events,
}

fn error(code: &'static str, text: &'static str) -> Response {
    Response::Error(ErrorPacket {
        code: Bytes::from_static(code.as_bytes()),
        text: Bytes::from_static(text.as_bytes()),
    })
}

/// A worker's progress number as the u32 a status reply carries: negative (the Jenkins plugin
/// sends -1) reads 0, too large reads u32::MAX.
fn clamp(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

/// A submission, whatever packet it came in.
struct NewJob {
    function: FunctionName,
    unique: UniqueId,
    data: Bytes,
    priority: Priority,
    foreground: bool,
    reducer: Option<FunctionName>,
    run_at: Option<u64>,
}

impl ServerCore {
    /// An empty server.
    pub fn new(config: CoreConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// A new connection.
    pub fn connect(&mut self) -> ConnId {
        self.next_conn += 1;
        let id = ConnId(self.next_conn);
        self.conns.insert(id, Conn::default());
        id
    }

    /// Connections open.
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// The next response to send, and to whom.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<(ConnId, Response)> {
        self.out.pop_front()
    }

    /// Whether responses wait to be taken by [`poll_output`](Self::poll_output).
    pub fn poll_output_pending(&self) -> bool {
        !self.out.is_empty()
    }

    /// Jobs held (queued, scheduled or running).
    pub fn job_count(&self) -> usize {
        self.jobs.len()
    }

    /// Jobs held by workers.
    pub fn running_count(&self) -> usize {
        self.functions.values().map(|f| f.running).sum()
    }

    /// Queued (not running) jobs of `function`, epoch jobs not yet due included.
    pub fn queued(&self, function: &FunctionName) -> usize {
        self.functions.get(function).map_or(0, FnState::queued)
    }

    fn send(&mut self, to: ConnId, res: Response) {
        if self.durable {
            if let Some(c) = self.conns.get_mut(&to).filter(|c| !c.backlog.is_empty()) {
                c.backlog.push_back(Deferred::Ready(res));
                return;
            }
        }
        self.out.push_back((to, res));
    }

    /// A request from a connection.
    pub fn handle(&mut self, conn: ConnId, req: Request) {
        self.handle_with(conn, req, &|_| false);
    }

    /// A request from a connection, where the driver can tell whether a connection's peer has
    /// already closed (a close it has not delivered yet): a GRAB then skips a foreground job
    /// queued for at least [`ASK_GONE_AFTER_MS`] whose every waiting client is gone, and drops
    /// it, as if their closes had come first.
    pub fn handle_with(&mut self, conn: ConnId, req: Request, gone: &dyn Fn(ConnId) -> bool) {
        if !self.conns.contains_key(&conn) {
            return;
        }
        match req {
            Request::CanDo(f) => self.can_do(conn, f, None),
            // 0 means no timeout; 1..999 ms are raised to a second (protocol.md §3.7).
            Request::CanDoTimeout {
                function,
                timeout_ms,
            } => {
                let t = (timeout_ms > 0).then(|| u64::from(timeout_ms).max(1000));
                self.can_do(conn, function, t);
            }
            Request::CantDo(f) => self.cant_do(conn, &f),
            Request::ResetAbilities => {
                for f in self.functions_of(conn) {
                    self.cant_do(conn, &f);
                }
            }
            Request::SetClientId(id) => self.conn(conn).client_id = Some(id.detached()),
            Request::Option(o) if o.as_bytes().eq_ignore_ascii_case(b"exceptions") => {
                self.conn(conn).exceptions = true;
                self.send(conn, Response::Option(o));
            }
            Request::Option(_) => self.send(
                conn,
                error("UNKNOWN_OPTION", "Server does not recognize given option"),
            ),
            Request::Echo(data) => self.send(conn, Response::Echo(data)),
            Request::Submit(s) => self.submit(
                conn,
                NewJob {
                    function: s.function,
                    unique: s.unique,
                    data: s.data,
                    priority: s.priority,
                    foreground: !s.background,
                    reducer: None,
                    run_at: None,
                },
            ),
            Request::SubmitReduce(r) => self.submit(
                conn,
                NewJob {
                    function: r.function,
                    unique: r.unique,
                    data: r.data,
                    priority: Priority::Normal,
                    foreground: !r.background,
                    reducer: Some(r.reducer),
                    run_at: None,
                },
            ),
            Request::SubmitEpoch {
                function,
                unique,
                data,
                epoch,
            } => self.submit(
                conn,
                NewJob {
                    function,
                    unique,
                    data,
                    priority: Priority::Normal,
                    foreground: false,
                    reducer: None,
                    run_at: Some(epoch.saturating_mul(1000)),
                },
            ),
            Request::Grab(kind) if grab_age(kind) > grab_age(self.config.newest_grab) => {
                self.send(conn, error("INVALID_COMMAND", "Command not expected"));
                // It will ask again the older way: someone else may take the job meanwhile.
                self.pass_on_wake(conn);
            }
            Request::Grab(kind) => self.grab(conn, kind, gone),
            Request::PreSleep => self.pre_sleep(conn),
            Request::Work(update) => self.work(conn, update),
            Request::GetStatus(handle) => {
                let status = self.status(handle);
                self.send(conn, Response::Status(status));
            }
            Request::GetStatusUnique(unique) => {
                let status = self.status_unique(unique);
                self.send(conn, Response::StatusUnique(status));
            }
            _ => self.send(conn, error("INVALID_COMMAND", "Command not expected")),
        }
    }

    fn status(&self, handle: JobHandle) -> JobStatus {
        match self.jobs.get(&handle) {
            Some(j) => JobStatus {
                handle,
                known: true,
                running: j.worker.is_some(),
                numerator: Some(clamp(j.numerator)),
                denominator: Some(clamp(j.denominator)),
            },
            None => JobStatus {
                handle,
                known: false,
                running: false,
                numerator: Some(0),
                denominator: Some(0),
            },
        }
    }

    /// Looked up by unique alone, across functions, as gearmand does (§3.11).
    fn status_unique(&self, unique: UniqueId) -> UniqueStatus {
        let job = self
            .by_unique_only
            .get(&unique)
            .and_then(|hs| hs.first())
            .and_then(|h| self.jobs.get(h));
        UniqueStatus {
            known: job.is_some(),
            running: job.is_some_and(|j| j.worker.is_some()),
            numerator: Some(job.map_or(0, |j| clamp(j.numerator))),
            denominator: Some(job.map_or(0, |j| clamp(j.denominator))),
            waiting_clients: job.map_or(0, |j| u32::try_from(j.waiters.len()).unwrap_or(u32::MAX)),
            unique,
        }
    }

    /// A connection closed: its jobs go back to the queue, its waits end.
    pub fn disconnect(&mut self, conn: ConnId) {
        self.unsleep(conn);
        let woken_for = self.unwake(conn);
        self.unregister_all(conn);
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        if let Some(f) = woken_for {
            self.wake(&f);
        }
        for handle in c.held {
            self.requeue(&handle);
        }
        for handle in c.waiting_on {
            if let Some(job) = self.jobs.get_mut(&handle) {
                job.waiters.retain(|w| *w != conn);
            }
        }
    }

    fn conn(&mut self, id: ConnId) -> &mut Conn {
        self.conns.entry(id).or_default()
    }

    /// gearmand re-queues a job whose worker drops its function (protocol.md §3.6).
    fn cant_do(&mut self, conn: ConnId, f: &FunctionName) {
        self.unregister(conn, f);
        self.release_wake(conn, f);
        let held: Vec<JobHandle> = self.conn(conn).held.iter().cloned().collect();
        for h in held {
            if self.jobs.get(&h).is_some_and(|j| &j.function == f) {
                self.requeue(&h);
            }
        }
    }

    fn submit(&mut self, conn: ConnId, new: NewJob) {
        let key = (!new.unique.is_empty()).then(|| (new.function.clone(), new.unique.clone()));
        if let Some(handle) = key.as_ref().and_then(|k| self.by_unique.get(k)).cloned() {
            if let Some(job) = self.jobs.get_mut(&handle) {
                if new.foreground {
                    job.waiters.push(conn);
                    job.foreground = true;
                    self.conn(conn).waiting_on.insert(handle.clone());
                } else if self.durable {
                    self.defer_ack(conn, &handle);
                    return;
                }
                self.send(conn, Response::JobCreated(handle));
                return;
            }
        }
        if self
            .functions
            .get(&new.function)
            .is_some_and(|s| s.full(new.priority))
        {
            self.send(conn, error("QUEUE_ERROR", "Job queue is full"));
            return;
        }
        if self.jobs.len() >= self.config.max_jobs {
            self.send(conn, error("QUEUE_ERROR", "Server job limit reached"));
            return;
        }
        self.next_job += 1;
        let text = format!("{}:{}", self.config.handle_prefix, self.next_job);
        let Ok(handle) = JobHandle::try_from(text) else {
            self.send(
                conn,
                error("ARGUMENT_TOO_LARGE", "Job handle prefix too long"),
            );
            return;
        };
        // What the job keeps is copied out of the read buffer it came in: a queued job holds
        // its own bytes, not a whole buffer of the connection's.
        let (function, unique) = (new.function.detached(), new.unique.detached());
        let key = key.map(|_| (function.clone(), unique.clone()));
        let run_at = new.run_at.filter(|&t| t > self.now);
        // A background job to be stored waits, unqueued, for the store's write.
        let store = (self.durable && !new.foreground).then(|| {
            self.next_store_id += 1;
            durable::Stored {
                id: self.next_store_id - 1,
                committed: false,
                gated: true,
                acks: vec![conn],
            }
        });
        let job = Job {
            reducer: new.reducer.as_ref().map(FunctionName::detached),
            waiters: if new.foreground {
                vec![conn]
            } else {
                Vec::new()
            },
            foreground: new.foreground,
            run_at,
            store,
            ..Job::new(
                function.clone(),
                unique,
                Bytes::copy_from_slice(&new.data),
                new.priority,
            )
        };
        if new.foreground {
            self.conn(conn).waiting_on.insert(handle.clone());
        }
        if let Some(k) = key {
            self.index_unique(k, &handle);
        }
        if let Some(stored) = &job.store {
            let id = stored.id;
            self.store_ops
                .push(crate::store::StoreOp::Add(crate::store::StoredJob {
                    id,
                    function: function.clone(),
                    unique: job.unique.clone(),
                    priority: job.priority,
                    run_at,
                    data: job.data.clone(),
                }));
            self.by_store_id.insert(id, handle.clone());
            self.conn(conn).backlog.push_back(Deferred::Ack(id));
            self.fn_state(&function);
            self.jobs.insert(handle, job);
            self.note_submitted();
            return;
        }
        self.jobs.insert(handle.clone(), job);
        self.note_submitted();
        self.send(conn, Response::JobCreated(handle.clone()));
        self.place(&function, new.priority, run_at, handle);
    }

    /// Indexes a job by (function, unique) and by unique alone.
    fn index_unique(&mut self, key: (FunctionName, UniqueId), handle: &JobHandle) {
        self.by_unique_only
            .entry(key.1.clone())
            .or_default()
            .push(handle.clone());
        self.by_unique.insert(key, handle.clone());
    }

    fn fn_state(&mut self, f: &FunctionName) -> &mut FnState {
        self.functions.entry(f.clone()).or_default()
    }

    /// Puts a job at the tail of its priority and wakes the function's sleepers.
    fn enqueue(&mut self, function: &FunctionName, priority: Priority, handle: JobHandle) {
        self.note_queued(&handle);
        self.fn_state(function).push(priority, handle);
        if !self.ready.contains(function) {
            self.ready.insert(function.clone());
        }
        self.wake(function);
    }

    fn grab(&mut self, conn: ConnId, kind: GrabKind, gone: &dyn Fn(ConnId) -> bool) {
        self.unsleep(conn);
        let woken_for = self.unwake(conn);
        self.take_job(conn, kind, gone);
        // Whatever this worker took, the jobs it was woken for must not wait behind it.
        if let Some(f) = woken_for {
            self.wake(&f);
        }
    }

    /// Answers a GRAB: the best job for `conn`, or NO_JOB.
    fn take_job(&mut self, conn: ConnId, kind: GrabKind, gone: &dyn Fn(ConnId) -> bool) {
        loop {
            let Some((level, function)) = self.best_for(conn) else {
                self.send(conn, Response::NoJob);
                return;
            };
            let state = self.fn_state(&function);
            let popped = state.pop(level);
            if !state.has_queued() {
                self.ready.remove(&function);
            }
            let Some(handle) = popped else {
                continue;
            };
            let Some(job) = self.jobs.get_mut(&handle) else {
                continue;
            };
            // A job queued moments ago is not asked about: a client that left since is found
            // by its close, read in the next round; asking costs a system call per job.
            let asked =
                job.foreground && self.now.saturating_sub(job.queued_at) >= ASK_GONE_AFTER_MS;
            if asked && job.waiters.iter().any(|w| gone(*w)) {
                let (left, stay): (Vec<ConnId>, Vec<ConnId>) =
                    job.waiters.iter().partition(|w| gone(**w));
                job.waiters = stay;
                for w in left {
                    if let Some(c) = self.conns.get_mut(&w) {
                        c.waiting_on.remove(&handle);
                    }
                }
            }
            let Some(job) = self.jobs.get_mut(&handle) else {
                continue;
            };
            if job.foreground && job.waiters.is_empty() {
                // Everyone who waited for it left: discard it instead of running it.
                self.forget(&handle);
                continue;
            }
            job.worker = Some(conn);
            let assign = JobAssign {
                handle: handle.clone(),
                function: job.function.clone(),
                unique: (kind != GrabKind::Plain).then(|| job.unique.clone()),
                reducer: if kind == GrabKind::All {
                    job.reducer.clone()
                } else {
                    None
                },
                data: job.data.clone(),
            };
            self.fn_state(&function).running += 1;
            self.note_assigned(&handle);
            let timeout = self.conn(conn).timeouts.get(&function).copied();
            if let Some(t) = timeout {
                let at = self.now.saturating_add(t);
                if let Some(job) = self.jobs.get_mut(&handle) {
                    job.deadline = Some(at);
                }
                self.deadlines.insert((at, handle.clone()));
            }
            self.conn(conn).held.insert(handle);
            self.send(conn, Response::JobAssign(assign));
            return;
        }
    }

    /// A worker goes to sleep: woken at once if a job waits that no woken worker is coming
    /// for, else by the next job.
    fn pre_sleep(&mut self, conn: ConnId) {
        let woken_for = self.unwake(conn);
        if let Some(f) = self.uncovered_for(conn) {
            self.unsleep(conn);
            self.woken_for(conn, &f);
            self.send(conn, Response::Noop);
        } else {
            self.sleep(conn);
        }
        if let Some(f) = woken_for {
            self.wake(&f);
        }
    }

    fn work(&mut self, conn: ConnId, update: WorkUpdate) {
        let handle = update.handle().clone();
        let held = self
            .jobs
            .get(&handle)
            .is_some_and(|j| j.worker == Some(conn));
        if !held {
            let text = match update {
                WorkUpdate::Data { .. } | WorkUpdate::Warning { .. } => {
                    "Job does not exist on server"
                }
                WorkUpdate::Exception { .. } => {
                    "An exception was received for a job that does not exist"
                }
                _ => "Job given in work result not found",
            };
            self.send(conn, error("JOB_NOT_FOUND", text));
            return;
        }
        if let WorkUpdate::Status {
            numerator,
            denominator,
            ..
        } = &update
        {
            if let Some(job) = self.jobs.get_mut(&handle) {
                job.numerator = *numerator;
                job.denominator = *denominator;
            }
        }
        let waiters = self
            .jobs
            .get(&handle)
            .map(|j| j.waiters.clone())
            .unwrap_or_default();
        for w in waiters {
            let exceptions = self.conns.get(&w).is_some_and(|c| c.exceptions);
            let res = match &update {
                WorkUpdate::Exception { handle, .. } if !exceptions => {
                    Response::Work(WorkUpdate::Fail {
                        handle: handle.clone(),
                    })
                }
                other => Response::Work(other.clone()),
            };
            self.send(w, res);
        }
        if update.is_terminal() {
            self.note_ended(&handle, events::outcome_of(&update));
            self.forget(&handle);
        }
    }

    /// Removes a job from every index (not from the queues: callers pop it first).
    fn forget(&mut self, handle: &JobHandle) {
        let Some(mut job) = self.jobs.remove(handle) else {
            return;
        };
        let gated = job.store.as_ref().is_some_and(|s| s.gated);
        if let Some(stored) = job.store.take() {
            self.unstore(handle, stored);
        }
        let key = (job.function.clone(), job.unique.clone());
        if self.by_unique.get(&key) == Some(handle) {
            self.by_unique.remove(&key);
            if let Some(hs) = self.by_unique_only.get_mut(&key.1) {
                hs.retain(|h| h != handle);
                if hs.is_empty() {
                    self.by_unique_only.remove(&key.1);
                }
            }
        }
        if let Some(t) = job.deadline {
            self.deadlines.remove(&(t, handle.clone()));
        }
        if let Some(t) = job.run_at.filter(|_| !gated) {
            self.scheduled.remove(&(t, handle.clone()));
            self.fn_state(&job.function).scheduled -= 1;
        }
        if let Some(w) = job.worker {
            self.fn_state(&job.function).running -= 1;
            if let Some(c) = self.conns.get_mut(&w) {
                c.held.remove(handle);
            }
        }
        for w in job.waiters {
            if let Some(c) = self.conns.get_mut(&w) {
                c.waiting_on.remove(handle);
            }
        }
    }

    /// Fails a job to everyone waiting for it, and forgets it.
    fn fail(&mut self, handle: &JobHandle) {
        let waiters = self
            .jobs
            .get(handle)
            .map(|j| j.waiters.clone())
            .unwrap_or_default();
        for w in waiters {
            self.send(
                w,
                Response::Work(WorkUpdate::Fail {
                    handle: handle.clone(),
                }),
            );
        }
        self.forget(handle);
    }

    /// A running job goes back to its queue (worker lost, CANT_DO, CAN_DO_TIMEOUT), or fails
    /// once the retry cap is reached.
    fn requeue(&mut self, handle: &JobHandle) {
        self.requeue_for(handle, JobOutcome::Requeued);
    }

    /// [`requeue`](Self::requeue), counted as `why`.
    fn requeue_for(&mut self, handle: &JobHandle, why: JobOutcome) {
        let Some(job) = self.jobs.get_mut(handle) else {
            return;
        };
        let Some(worker) = job.worker.take() else {
            return;
        };
        let deadline = job.deadline.take();
        job.retries += 1;
        job.numerator = 0;
        job.denominator = 0;
        let (function, priority, retries) = (job.function.clone(), job.priority, job.retries);
        self.fn_state(&function).running -= 1;
        if let Some(t) = deadline {
            self.deadlines.remove(&(t, handle.clone()));
        }
        if let Some(c) = self.conns.get_mut(&worker) {
            c.held.remove(handle);
        }
        self.note_ended(handle, why);
        if self.config.max_retries.is_some_and(|max| retries >= max) {
            self.note_ended(handle, JobOutcome::RetriesExhausted);
            self.fail(handle);
            return;
        }
        self.enqueue(&function, priority, handle.clone());
    }
}
