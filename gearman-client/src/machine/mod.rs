//! The sans-IO client machine of one server connection.

mod pending;
#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gearman_proto::{
    ClientId, ErrorPacket, FunctionName, JobHandle, OptionName, Priority, Request, Response,
    Submit, SubmitReduce, UniqueId, WorkUpdate,
};

use crate::event::{Event, Failure, JobOutcome, RequestId};
use crate::ProtocolError;
use pending::{Creating, Key, Queries, Running};

/// What kind of job a submission creates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobKind {
    /// The submitter waits for progress and the outcome.
    Foreground,
    /// Only JOB_CREATED comes back.
    Background,
    /// A background job runnable at or after this unix time (SUBMIT_JOB_EPOCH).
    Epoch(u64),
    /// A map/reduce job (SUBMIT_REDUCE_JOB*).
    Reduce {
        /// The reducer function.
        reducer: FunctionName,
        /// Background mode.
        background: bool,
    },
}

impl JobKind {
    /// Whether the submitter gets progress and the outcome (not only JOB_CREATED).
    pub fn is_foreground(&self) -> bool {
        matches!(
            self,
            Self::Foreground
                | Self::Reduce {
                    background: false,
                    ..
                }
        )
    }
}

/// A job to submit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewJob {
    /// The function.
    pub function: FunctionName,
    /// Coalescing key (empty: never coalesce).
    pub unique: UniqueId,
    /// The workload.
    pub data: Bytes,
    /// The queue (ignored by epoch and reduce jobs, which gearmand runs at normal priority).
    pub priority: Priority,
    /// Foreground, background, epoch or reduce.
    pub kind: JobKind,
    /// For a foreground job: give up waiting at this instant (the job itself goes on).
    pub deadline: Option<Instant>,
}

impl NewJob {
    fn request(&self) -> Request {
        let (function, unique, data) = (
            self.function.clone(),
            self.unique.clone(),
            self.data.clone(),
        );
        match &self.kind {
            JobKind::Foreground | JobKind::Background => Request::Submit(Submit {
                function,
                unique,
                data,
                priority: self.priority,
                background: self.kind == JobKind::Background,
            }),
            JobKind::Epoch(epoch) => Request::SubmitEpoch {
                function,
                unique,
                epoch: *epoch,
                data,
            },
            JobKind::Reduce {
                reducer,
                background,
            } => Request::SubmitReduce(SubmitReduce {
                function,
                unique,
                reducer: reducer.clone(),
                aggregator: Bytes::new(),
                data,
                background: *background,
            }),
        }
    }
}

/// Settings of a client machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// Ask for the `exceptions` option on every connection, before any other request.
    pub exceptions: bool,
    /// How long JOB_CREATED, a status, an echo or the option answer may take.
    pub request_timeout: Duration,
    /// Send an ECHO after this long without hearing from the server (`None`: never). python
    /// gear's server answers no ECHO: turn this off for it.
    pub heartbeat_after: Option<Duration>,
    /// How long the heartbeat ECHO may go unanswered before the connection counts as dead.
    pub heartbeat_timeout: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            exceptions: true,
            request_timeout: Duration::from_secs(10),
            heartbeat_after: Some(Duration::from_secs(30)),
            heartbeat_timeout: Duration::from_secs(10),
        }
    }
}

/// The client side of one connection, without IO and without a clock.
///
/// Gearman replies carry no request id. JOB_CREATED (or ERROR) answers submissions strictly in
/// order; STATUS_RES, STATUS_RES_UNIQUE and ECHO_RES are matched by the handle, unique or data
/// they carry, so an unanswered query (python gear's server answers no ECHO) times out without
/// disturbing anything; WORK_* packets are routed by handle to every submission waiting on the
/// job, exactly once each, and ignored once the job has ended (a cancelled running job sends
/// WORK_FAIL, then WORK_COMPLETE). A submission left unacknowledged past its deadline makes the
/// order unknowable: [`Event::OutOfStep`] asks the driver to close the connection.
///
/// Foreground submissions with the same function and non-empty unique are coalesced here, so
/// the server is asked once and every submitter gets every event once.
///
/// Inputs take `now`; after each, drain [`poll_transmit`](Self::poll_transmit) and
/// [`poll_event`](Self::poll_event), and call [`handle_timeout`](Self::handle_timeout) at
/// [`poll_timeout`](Self::poll_timeout).
#[derive(Debug)]
pub struct ClientMachine {
    config: ClientConfig,
    client_id: Option<ClientId>,
    connected: bool,
    out_of_step: bool,
    /// Waiting for the option answer, until this instant; requests wait in `held` meanwhile.
    negotiating: Option<Instant>,
    held: Vec<(RequestId, Request)>,
    next_id: u64,
    outbox: VecDeque<Request>,
    events: VecDeque<Event>,
    creating: VecDeque<Creating>,
    by_key: HashMap<Key, KeyState>,
    jobs: HashMap<JobHandle, Running>,
    job_deadlines: BTreeSet<(Instant, RequestId)>,
    deadline_of: HashMap<RequestId, (Instant, Option<JobHandle>)>,
    queries: Queries,
    dropped: HashSet<RequestId>,
    last_heard: Option<Instant>,
    heartbeat_deadline: Option<Instant>,
}

const HEARTBEAT: &[u8] = b"gearman-client heartbeat";

/// `now + d`, saturating about 30 years ahead instead of overflowing (a configured
/// `Duration::MAX` means "never", not a panic).
fn later(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(30 * 365 * 86_400))
}

#[derive(Clone, Debug)]
enum KeyState {
    Creating(RequestId),
    Running(JobHandle),
}

impl ClientMachine {
    /// A disconnected machine.
    pub fn new(config: ClientConfig) -> Self {
        Self {
            config,
            client_id: None,
            connected: false,
            out_of_step: false,
            negotiating: None,
            held: Vec::new(),
            next_id: 0,
            outbox: VecDeque::new(),
            events: VecDeque::new(),
            creating: VecDeque::new(),
            by_key: HashMap::new(),
            jobs: HashMap::new(),
            job_deadlines: BTreeSet::new(),
            deadline_of: HashMap::new(),
            queries: Queries::default(),
            dropped: HashSet::new(),
            last_heard: None,
            heartbeat_deadline: None,
        }
    }

    // ===== getters =====

    /// Whether requests can be sent.
    pub fn is_usable(&self) -> bool {
        self.connected && !self.out_of_step
    }

    /// Requests waiting for an answer, and foreground jobs being followed.
    pub fn in_flight(&self) -> usize {
        self.creating.len() + self.queries.len() + self.jobs.len()
    }

    // ===== inputs =====

    /// A connection is up: name it, negotiate the `exceptions` option before anything else.
    pub fn handle_connected(&mut self, now: Instant) {
        self.connected = true;
        self.out_of_step = false;
        self.last_heard = Some(now);
        self.heartbeat_deadline = None;
        if let Some(id) = &self.client_id {
            self.outbox.push_back(Request::SetClientId(id.clone()));
        }
        if self.config.exceptions {
            self.outbox
                .push_back(Request::Option(OptionName::exceptions()));
            self.negotiating = Some(later(now, self.config.request_timeout));
        }
    }

    /// The connection is gone: every request without its answer fails, as precisely as is known.
    pub fn handle_disconnected(&mut self, _now: Instant) {
        self.connected = false;
        self.negotiating = None;
        self.last_heard = None;
        self.heartbeat_deadline = None;
        self.outbox.clear();
        let unsent: HashSet<RequestId> = self.held.drain(..).map(|(id, _)| id).collect();
        let fail = |id: RequestId, sent: Failure| {
            if unsent.contains(&id) {
                Failure::NotSent
            } else {
                sent
            }
        };
        let mut failed = Vec::new();
        for c in self.creating.drain(..) {
            failed.push((c.id, fail(c.id, Failure::Ambiguous)));
            failed.extend(
                c.followers
                    .iter()
                    .map(|&id| (id, fail(c.id, Failure::Ambiguous))),
            );
        }
        for (_, job) in self.jobs.drain() {
            failed.extend(
                job.subscribers
                    .iter()
                    .map(|&id| (id, Failure::Disconnected)),
            );
        }
        for id in self.queries.drain() {
            failed.push((id, fail(id, Failure::Disconnected)));
        }
        self.by_key.clear();
        self.job_deadlines.clear();
        self.deadline_of.clear();
        for (id, failure) in failed {
            self.emit(Event::Failed { id, failure });
        }
        self.dropped.clear();
    }

    /// A packet from the server.
    pub fn handle_response(
        &mut self,
        now: Instant,
        response: Response,
    ) -> Result<(), ProtocolError> {
        let ty = response.packet_type();
        self.last_heard = Some(now);
        match response {
            Response::Echo(data) if self.heartbeat_deadline.is_some() && data == HEARTBEAT => {
                self.heartbeat_deadline = None;
            }
            Response::Option(_) => {
                // A late answer after the negotiation timed out changes nothing.
                if self.negotiating.take().is_some() {
                    self.release_held(now);
                }
            }
            Response::Error(_) if self.negotiating.is_some() => {
                self.negotiating = None;
                self.events.push_back(Event::ExceptionsUnavailable);
                self.release_held(now);
            }
            Response::Error(e) => {
                let c = self
                    .creating
                    .pop_front()
                    .ok_or(ProtocolError::Unexpected(ty))?;
                self.refused(c, e);
            }
            Response::JobCreated(handle) => {
                let c = self
                    .creating
                    .pop_front()
                    .ok_or(ProtocolError::Unexpected(ty))?;
                // Kept while the job runs: its own bytes, not the read buffer's.
                self.created(now, c, handle.detached());
            }
            Response::Work(update) => self.work(update),
            Response::Status(status) => {
                if let Some(id) = self.queries.take_status(&status.handle) {
                    self.emit(Event::Status { id, status });
                }
            }
            Response::StatusUnique(status) => {
                if let Some(id) = self.queries.take_unique(&status.unique) {
                    self.emit(Event::UniqueStatus { id, status });
                }
            }
            Response::Echo(data) => {
                if let Some(id) = self.queries.take_echo(&data) {
                    self.emit(Event::Echo { id, data });
                }
            }
            _ => return Err(ProtocolError::Unexpected(ty)),
        }
        Ok(())
    }

    /// A timer armed from [`poll_timeout`](Self::poll_timeout) fired (early calls are harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.heartbeat_deadline {
            Some(deadline) if deadline <= now => {
                self.heartbeat_deadline = None;
                self.events.push_back(Event::ConnectionDead);
            }
            Some(_) => {}
            None => {
                let due = self
                    .config
                    .heartbeat_after
                    .zip(self.last_heard)
                    .map(|(a, h)| later(h, a));
                if self.is_usable() && due.is_some_and(|d| d <= now) {
                    self.outbox
                        .push_back(Request::Echo(Bytes::from_static(HEARTBEAT)));
                    self.heartbeat_deadline = Some(later(now, self.config.heartbeat_timeout));
                }
            }
        }
        if self.negotiating.is_some_and(|d| d <= now) {
            self.negotiating = None;
            self.events.push_back(Event::ExceptionsUnavailable);
            self.release_held(now);
        }
        if !self.out_of_step && self.creating.front().is_some_and(|c| c.deadline <= now) {
            // JOB_CREATED may still come, for this or any earlier-sent submission: from here on
            // nothing can be matched. Fail this one; the driver closes, failing the rest.
            // It was sent and never acknowledged: the job may exist (a frozen server may still
            // run it), so it is Ambiguous, not TimedOut.
            self.out_of_step = true;
            if let Some(c) = self.creating.pop_front() {
                for id in std::iter::once(c.id).chain(c.followers) {
                    self.forget_deadline(id);
                    self.emit(Event::Failed {
                        id,
                        failure: Failure::Ambiguous,
                    });
                }
                if let Some(key) = c.key {
                    self.by_key.remove(&key);
                }
            }
            self.events.push_back(Event::OutOfStep);
        }
        for id in self.queries.take_expired(now) {
            self.emit(Event::Failed {
                id,
                failure: Failure::TimedOut,
            });
        }
        while let Some(&(at, id)) = self.job_deadlines.first() {
            if at > now {
                break;
            }
            self.job_deadlines.pop_first();
            match self.deadline_of.remove(&id) {
                Some((_, Some(handle))) => {
                    // Acknowledged: the job exists and goes on at the server.
                    self.emit(Event::Failed {
                        id,
                        failure: Failure::TimedOut,
                    });
                    self.unsubscribe_from(&handle, id);
                }
                // Still held behind the option answer, and nobody else waits on it: take it
                // back unsent.
                _ if self.withdraw_held(id) => {
                    self.emit(Event::Failed {
                        id,
                        failure: Failure::NotSent,
                    });
                }
                // Still waiting for JOB_CREATED: sent, so the job may exist. Keep its place in
                // the order, mute it.
                _ => {
                    self.emit(Event::Failed {
                        id,
                        failure: Failure::Ambiguous,
                    });
                    self.dropped.insert(id);
                }
            }
        }
    }

    // ===== commands =====

    /// Names the connection (SET_CLIENT_ID), now and on every reconnect.
    pub fn set_client_id(&mut self, id: Option<ClientId>) {
        self.client_id = id;
        if let (true, Some(id)) = (self.connected, &self.client_id) {
            self.outbox.push_back(Request::SetClientId(id.clone()));
        }
    }

    /// Submits a job. The answer comes as [`Event::Created`] and, for a foreground job,
    /// [`Event::Progress`]* then [`Event::Done`]; or as one [`Event::Failed`].
    pub fn submit(&mut self, now: Instant, job: NewJob) -> RequestId {
        let id = self.next_id();
        // Not usable, or its caller's deadline passed before it reached the connection (it
        // waited in a queue): it is not sent.
        if !self.is_usable() || job.deadline.is_some_and(|d| d <= now) {
            self.emit(Event::Failed {
                id,
                failure: Failure::NotSent,
            });
            return id;
        }
        let foreground = job.kind.is_foreground();
        // "-" asks gearmand to coalesce on the data instead: not a key here.
        let key = (foreground && !job.unique.is_empty() && job.unique.as_bytes() != b"-")
            .then(|| (job.function.clone(), job.unique.clone()));
        if let Some(key) = &key {
            match self.by_key.get(key).cloned() {
                Some(KeyState::Creating(first)) => {
                    if let Some(c) = self.creating.iter_mut().find(|c| c.id == first) {
                        c.followers.push(id);
                        self.track_deadline(id, job.deadline, None);
                        return id;
                    }
                }
                Some(KeyState::Running(handle)) => {
                    if let Some(running) = self.jobs.get_mut(&handle) {
                        running.subscribers.push(id);
                        self.track_deadline(id, job.deadline, Some(handle.clone()));
                        self.emit(Event::Created { id, handle });
                        return id;
                    }
                }
                None => {}
            }
            self.by_key.insert(key.clone(), KeyState::Creating(id));
        }
        self.track_deadline(id, job.deadline, None);
        self.creating.push_back(Creating {
            id,
            key,
            foreground,
            deadline: later(now, self.config.request_timeout),
            followers: Vec::new(),
        });
        self.send(id, job.request());
        id
    }

    /// Asks for a job's status (GET_STATUS).
    pub fn get_status(&mut self, now: Instant, handle: JobHandle) -> RequestId {
        let req = Request::GetStatus(handle.clone());
        self.query(now, req, |q, id, at| q.add_status(id, handle, at))
    }

    /// Asks for a job's status by unique id (GET_STATUS_UNIQUE).
    pub fn get_status_unique(&mut self, now: Instant, unique: UniqueId) -> RequestId {
        let req = Request::GetStatusUnique(unique.clone());
        self.query(now, req, |q, id, at| q.add_unique(id, unique, at))
    }

    /// Sends ECHO_REQ.
    pub fn echo(&mut self, now: Instant, data: Bytes) -> RequestId {
        let req = Request::Echo(data.clone());
        self.query(now, req, |q, id, at| q.add_echo(id, data, at))
    }

    /// Sends a query whose answer names what it asked, remembered by `remember`.
    fn query(
        &mut self,
        now: Instant,
        req: Request,
        remember: impl FnOnce(&mut Queries, RequestId, Instant),
    ) -> RequestId {
        let id = self.next_id();
        if !self.is_usable() {
            self.emit(Event::Failed {
                id,
                failure: Failure::NotSent,
            });
            return id;
        }
        remember(
            &mut self.queries,
            id,
            later(now, self.config.request_timeout),
        );
        self.send(id, req);
        id
    }

    /// Stops reporting on a request (its future or stream was dropped). The server is not told:
    /// the protocol has no way to cancel; later packets for it are ignored.
    pub fn unsubscribe(&mut self, id: RequestId) {
        if let Some((at, handle)) = self.deadline_of.remove(&id) {
            self.job_deadlines.remove(&(at, id));
            if let Some(handle) = handle.filter(|h| self.jobs.contains_key(h)) {
                self.unsubscribe_from(&handle, id);
                return;
            }
        }
        if let Some(handle) = self
            .jobs
            .iter()
            .find(|(_, j)| j.subscribers.contains(&id))
            .map(|(h, _)| h.clone())
        {
            self.unsubscribe_from(&handle, id);
            return;
        }
        // Still waiting for JOB_CREATED or a query answer: keep the slot (order matters), mute it.
        self.dropped.insert(id);
    }

    // ===== outputs =====

    /// The next packet to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Request> {
        self.outbox.pop_front()
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let heartbeat = match self.heartbeat_deadline {
            Some(deadline) => Some(deadline),
            None if self.is_usable() => self
                .config
                .heartbeat_after
                .zip(self.last_heard)
                .map(|(after, heard)| later(heard, after)),
            None => None,
        };
        [
            heartbeat,
            self.negotiating,
            self.creating
                .front()
                .filter(|_| !self.out_of_step)
                .map(|c| c.deadline),
            self.queries.next_deadline(),
            self.job_deadlines.first().map(|(at, _)| *at),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    // ===== internals =====

    fn next_id(&mut self) -> RequestId {
        self.next_id += 1;
        RequestId(self.next_id)
    }

    fn send(&mut self, id: RequestId, req: Request) {
        if self.negotiating.is_some() {
            self.held.push((id, req));
        } else {
            self.outbox.push_back(req);
        }
    }

    /// Sends what waited for the option answer; their deadlines start now, when they leave.
    /// Takes submission `id` back if it is still held (never sent) and no coalesced follower
    /// waits on it; whether it did.
    fn withdraw_held(&mut self, id: RequestId) -> bool {
        let Some(at) = self.held.iter().position(|(h, _)| *h == id) else {
            return false;
        };
        let Some(pos) = self
            .creating
            .iter()
            .position(|c| c.id == id && c.followers.is_empty())
        else {
            return false;
        };
        self.held.remove(at);
        if let Some(c) = self.creating.remove(pos) {
            if let Some(key) = c.key {
                self.by_key.remove(&key);
            }
        }
        true
    }

    fn release_held(&mut self, now: Instant) {
        let deadline = later(now, self.config.request_timeout);
        let ids: HashSet<RequestId> = self.held.iter().map(|(id, _)| *id).collect();
        for c in self.creating.iter_mut().filter(|c| ids.contains(&c.id)) {
            c.deadline = deadline;
        }
        self.queries.restart(&ids, deadline);
        self.outbox.extend(self.held.drain(..).map(|(_, r)| r));
    }

    fn emit(&mut self, event: Event) {
        let id = match &event {
            Event::Created { id, .. }
            | Event::Progress { id, .. }
            | Event::Done { id, .. }
            | Event::Status { id, .. }
            | Event::UniqueStatus { id, .. }
            | Event::Echo { id, .. }
            | Event::Failed { id, .. } => Some(*id),
            Event::ExceptionsUnavailable | Event::OutOfStep | Event::ConnectionDead => None,
        };
        if id.is_some_and(|id| self.dropped.contains(&id)) {
            return;
        }
        self.events.push_back(event);
    }

    fn forget_deadline(&mut self, id: RequestId) {
        if let Some((at, _)) = self.deadline_of.remove(&id) {
            self.job_deadlines.remove(&(at, id));
        }
    }

    fn track_deadline(
        &mut self,
        id: RequestId,
        deadline: Option<Instant>,
        handle: Option<JobHandle>,
    ) {
        if let Some(at) = deadline {
            self.job_deadlines.insert((at, id));
            self.deadline_of.insert(id, (at, handle));
        }
    }

    fn created(&mut self, _now: Instant, c: Creating, handle: JobHandle) {
        let all: Vec<RequestId> = std::iter::once(c.id)
            .chain(c.followers.iter().copied())
            .collect();
        // Requests dropped while waiting end here, silently.
        let ids: Vec<RequestId> = all
            .iter()
            .copied()
            .filter(|id| !self.dropped.remove(id))
            .collect();
        if c.foreground {
            let running = self
                .jobs
                .entry(handle.clone())
                .or_insert_with(|| Running::new(c.key.clone()));
            running.registrations += 1;
            running.subscribers.extend(ids.iter().copied());
            if let Some(key) = c.key {
                self.by_key.insert(key, KeyState::Running(handle.clone()));
            }
            for &id in &ids {
                if let Some(entry) = self.deadline_of.get_mut(&id) {
                    entry.1 = Some(handle.clone());
                }
            }
            if self
                .jobs
                .get(&handle)
                .is_some_and(|j| j.subscribers.is_empty())
            {
                self.forget_job(&handle);
            }
        } else {
            for &id in &ids {
                self.forget_deadline(id);
            }
        }
        for id in ids {
            self.emit(Event::Created {
                id,
                handle: handle.clone(),
            });
        }
    }

    fn refused(&mut self, c: Creating, e: ErrorPacket) {
        if let Some(key) = &c.key {
            self.by_key.remove(key);
        }
        let failure = Failure::Refused {
            code: String::from_utf8_lossy(&e.code).into_owned(),
            text: String::from_utf8_lossy(&e.text).into_owned(),
        };
        for id in std::iter::once(c.id).chain(c.followers) {
            self.forget_deadline(id);
            self.emit(Event::Failed {
                id,
                failure: failure.clone(),
            });
            self.dropped.remove(&id);
        }
    }

    fn work(&mut self, update: WorkUpdate) {
        let handle = update.handle().clone();
        let Some(job) = self.jobs.get_mut(&handle) else {
            // A job already ended or dropped (e.g. WORK_COMPLETE after a cancel's WORK_FAIL).
            return;
        };
        // gearmand sends each packet once per registration of this connection.
        if job.skip > 0 {
            job.skip -= 1;
            return;
        }
        job.skip = job.registrations - 1;
        let subscribers = job.subscribers.clone();
        let terminal = update.is_terminal();
        let outcome = match &update {
            WorkUpdate::Complete { data, .. } => Some(JobOutcome::Complete(data.clone())),
            WorkUpdate::Fail { .. } => Some(JobOutcome::Fail),
            WorkUpdate::Exception { data, .. } => Some(JobOutcome::Exception(data.clone())),
            _ => None,
        };
        for id in subscribers {
            match &outcome {
                Some(outcome) => {
                    self.forget_deadline(id);
                    self.emit(Event::Done {
                        id,
                        outcome: outcome.clone(),
                    });
                }
                None => self.emit(Event::Progress {
                    id,
                    update: update.clone(),
                }),
            }
        }
        if terminal {
            self.forget_job(&handle);
        }
    }

    fn unsubscribe_from(&mut self, handle: &JobHandle, id: RequestId) {
        if let Some(job) = self.jobs.get_mut(handle) {
            job.subscribers.retain(|s| *s != id);
            if job.subscribers.is_empty() {
                self.forget_job(handle);
            }
        }
    }

    fn forget_job(&mut self, handle: &JobHandle) {
        if let Some(job) = self.jobs.remove(handle) {
            if let Some(key) = job.key {
                if matches!(self.by_key.get(&key), Some(KeyState::Running(h)) if h == handle) {
                    self.by_key.remove(&key);
                }
            }
        }
    }
}
