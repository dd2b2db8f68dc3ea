//! The sans-IO core of the job server: connections, registrations, jobs and queues, with the
//! semantics of gearmand 1.1.20 (protocol.md §3) unless marked as a fix. Requests go in with
//! [`ServerCore::handle`]; responses come out, addressed to connections, from
//! [`ServerCore::poll_output`].

mod admin;
mod job;
#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap, VecDeque};

use bytes::Bytes;
use gearman_proto::{
    ClientId, ErrorPacket, FunctionName, GrabKind, JobAssign, JobHandle, JobStatus, Priority,
    Request, Response, UniqueId, UniqueStatus, WorkUpdate,
};

use job::{Job, Queues};

/// Names one connection of the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

#[derive(Clone, Debug, Default)]
struct Conn {
    /// Registered functions, most recent first.
    functions: Vec<FunctionName>,
    client_id: Option<ClientId>,
    exceptions: bool,
    sleeping: bool,
    noop_sent: bool,
    held: BTreeSet<JobHandle>,
    waiting_on: BTreeSet<JobHandle>,
    peer: Option<std::net::SocketAddr>,
}

/// Settings of the core.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreConfig {
    /// Job handles are `PREFIX:N`.
    pub handle_prefix: String,
    /// Re-queues after which a job is failed to its waiters (gearmand's `-j`); `None`: never.
    pub max_retries: Option<u32>,
}

impl Default for CoreConfig {
    fn default() -> Self {
        Self {
            handle_prefix: "H:gearman-rs".into(),
            max_retries: None,
        }
    }
}

/// The server's state, without IO.
#[derive(Debug, Default)]
pub struct ServerCore {
    config: CoreConfig,
    conns: HashMap<ConnId, Conn>,
    jobs: HashMap<JobHandle, Job>,
    by_unique: HashMap<(FunctionName, UniqueId), JobHandle>,
    queues: HashMap<FunctionName, Queues>,
    next_conn: u64,
    next_job: u64,
    out: VecDeque<(ConnId, Response)>,
}

fn error(code: &'static str, text: &'static str) -> Response {
    Response::Error(ErrorPacket {
        code: Bytes::from_static(code.as_bytes()),
        text: Bytes::from_static(text.as_bytes()),
    })
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

    /// The next response to send, and to whom.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<(ConnId, Response)> {
        self.out.pop_front()
    }

    /// Jobs held (queued or running).
    pub fn job_count(&self) -> usize {
        self.jobs.len()
    }

    /// Queued (not running) jobs of `function`.
    pub fn queued(&self, function: &FunctionName) -> usize {
        self.queues.get(function).map_or(0, Queues::len)
    }

    fn send(&mut self, to: ConnId, res: Response) {
        self.out.push_back((to, res));
    }

    /// A request from a connection.
    pub fn handle(&mut self, conn: ConnId, req: Request) {
        if !self.conns.contains_key(&conn) {
            return;
        }
        match req {
            Request::CanDo(f) | Request::CanDoTimeout { function: f, .. } => self.can_do(conn, f),
            Request::CantDo(f) => self.cant_do(conn, &f),
            Request::ResetAbilities => {
                let fs = self.conn(conn).functions.clone();
                for f in fs {
                    self.cant_do(conn, &f);
                }
            }
            Request::SetClientId(id) => self.conn(conn).client_id = Some(id),
            Request::Option(o) if o.as_bytes().eq_ignore_ascii_case(b"exceptions") => {
                self.conn(conn).exceptions = true;
                self.send(conn, Response::Option(o));
            }
            Request::Option(_) => self.send(
                conn,
                error("UNKNOWN_OPTION", "Server does not recognize given option"),
            ),
            Request::Echo(data) => self.send(conn, Response::Echo(data)),
            Request::Submit(s) => {
                let fg = !s.background;
                self.submit(conn, s.function, s.unique, s.data, s.priority, fg, None)
            }
            Request::SubmitReduce(r) => {
                let fg = !r.background;
                let reducer = Some(r.reducer);
                self.submit(
                    conn,
                    r.function,
                    r.unique,
                    r.data,
                    Priority::Normal,
                    fg,
                    reducer,
                )
            }
            Request::SubmitEpoch {
                function,
                unique,
                data,
                ..
            } => self.submit(conn, function, unique, data, Priority::Normal, false, None),
            Request::Grab(kind) => self.grab(conn, kind),
            Request::PreSleep => self.pre_sleep(conn),
            Request::Work(update) => self.work(conn, update),
            Request::GetStatus(handle) => {
                let status = match self.jobs.get(&handle) {
                    Some(j) => JobStatus {
                        handle,
                        known: true,
                        running: j.worker.is_some(),
                        numerator: u32::try_from(j.numerator).ok(),
                        denominator: u32::try_from(j.denominator).ok(),
                    },
                    None => JobStatus {
                        handle,
                        known: false,
                        running: false,
                        numerator: Some(0),
                        denominator: Some(0),
                    },
                };
                self.send(conn, Response::Status(status));
            }
            Request::GetStatusUnique(unique) => {
                let job = self
                    .by_unique
                    .iter()
                    .find(|((_, u), _)| *u == unique)
                    .and_then(|(_, h)| self.jobs.get(h));
                let status = UniqueStatus {
                    known: job.is_some(),
                    running: job.is_some_and(|j| j.worker.is_some()),
                    numerator: Some(job.map_or(0, |j| u32::try_from(j.numerator).unwrap_or(0))),
                    denominator: Some(job.map_or(0, |j| u32::try_from(j.denominator).unwrap_or(0))),
                    waiting_clients: job.map_or(0, |j| j.waiters.len() as u32),
                    unique,
                };
                self.send(conn, Response::StatusUnique(status));
            }
            _ => self.send(conn, error("INVALID_COMMAND", "Command not expected")),
        }
    }

    /// A connection closed: its jobs go back to the queue, its waits end.
    pub fn disconnect(&mut self, conn: ConnId) {
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
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

    fn can_do(&mut self, conn: ConnId, f: FunctionName) {
        let c = self.conn(conn);
        c.functions.retain(|x| *x != f);
        c.functions.insert(0, f);
    }

    /// gearmand re-queues a job whose worker drops its function (protocol.md §3.6).
    fn cant_do(&mut self, conn: ConnId, f: &FunctionName) {
        let c = self.conn(conn);
        c.functions.retain(|x| x != f);
        let held: Vec<JobHandle> = c.held.iter().cloned().collect();
        for h in held {
            if self.jobs.get(&h).is_some_and(|j| &j.function == f) {
                self.conn(conn).held.remove(&h);
                self.requeue(&h);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn submit(
        &mut self,
        conn: ConnId,
        function: FunctionName,
        unique: UniqueId,
        data: Bytes,
        priority: Priority,
        foreground: bool,
        reducer: Option<FunctionName>,
    ) {
        let key = (!unique.is_empty()).then(|| (function.clone(), unique.clone()));
        if let Some(handle) = key.as_ref().and_then(|k| self.by_unique.get(k)).cloned() {
            if let Some(job) = self.jobs.get_mut(&handle) {
                if foreground {
                    job.waiters.push(conn);
                    job.foreground = true;
                    self.conn(conn).waiting_on.insert(handle.clone());
                }
                self.send(conn, Response::JobCreated(handle));
                return;
            }
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
        let job = Job {
            function: function.clone(),
            unique,
            reducer,
            data,
            priority,
            waiters: if foreground { vec![conn] } else { Vec::new() },
            foreground,
            worker: None,
            numerator: 0,
            denominator: 0,
            retries: 0,
        };
        if foreground {
            self.conn(conn).waiting_on.insert(handle.clone());
        }
        if let Some(k) = key {
            self.by_unique.insert(k, handle.clone());
        }
        self.jobs.insert(handle.clone(), job);
        self.queues
            .entry(function.clone())
            .or_default()
            .push(priority, handle.clone());
        self.send(conn, Response::JobCreated(handle));
        self.wake(&function);
    }

    /// One NOOP to each sleeping worker of `function` that has not had one since it slept.
    fn wake(&mut self, function: &FunctionName) {
        let mut woken = Vec::new();
        for (id, c) in self.conns.iter_mut() {
            if c.sleeping && !c.noop_sent && c.functions.contains(function) {
                c.noop_sent = true;
                woken.push(*id);
            }
        }
        woken.sort();
        for id in woken {
            self.send(id, Response::Noop);
        }
    }

    fn grab(&mut self, conn: ConnId, kind: GrabKind) {
        {
            let c = self.conn(conn);
            c.sleeping = false;
            c.noop_sent = false;
        }
        loop {
            // Highest priority across the worker's functions; ties go to the most recently
            // registered function (gearmand 2.0's order; 1.1.20 looks per function).
            let functions = self.conn(conn).functions.clone();
            let best = functions
                .iter()
                .filter_map(|f| {
                    self.queues
                        .get(f)
                        .and_then(Queues::best)
                        .map(|lvl| (lvl, f))
                })
                .min_by_key(|(lvl, _)| *lvl)
                .map(|(lvl, f)| (lvl, f.clone()));
            let Some((level, function)) = best else {
                self.send(conn, Response::NoJob);
                return;
            };
            let Some(handle) = self.queues.get_mut(&function).and_then(|q| q.pop(level)) else {
                continue;
            };
            let Some(job) = self.jobs.get_mut(&handle) else {
                continue;
            };
            if job.foreground && job.waiters.is_empty() {
                // Everyone who waited for it left: discard it instead of running it.
                let key = (job.function.clone(), job.unique.clone());
                self.jobs.remove(&handle);
                if self.by_unique.get(&key) == Some(&handle) {
                    self.by_unique.remove(&key);
                }
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
            self.conn(conn).held.insert(handle);
            self.send(conn, Response::JobAssign(assign));
            return;
        }
    }

    fn pre_sleep(&mut self, conn: ConnId) {
        let functions = self.conn(conn).functions.clone();
        let pending = functions
            .iter()
            .any(|f| self.queues.get(f).is_some_and(|q| !q.is_empty()));
        let c = self.conn(conn);
        c.sleeping = true;
        c.noop_sent = pending;
        if pending {
            self.send(conn, Response::Noop);
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
            self.finish(&handle);
        }
    }

    fn finish(&mut self, handle: &JobHandle) {
        let Some(job) = self.jobs.remove(handle) else {
            return;
        };
        let key = (job.function.clone(), job.unique.clone());
        if self.by_unique.get(&key) == Some(handle) {
            self.by_unique.remove(&key);
        }
        if let Some(w) = job.worker {
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

    fn requeue(&mut self, handle: &JobHandle) {
        let Some(job) = self.jobs.get_mut(handle) else {
            return;
        };
        job.worker = None;
        job.retries += 1;
        job.numerator = 0;
        job.denominator = 0;
        if self
            .config
            .max_retries
            .is_some_and(|max| job.retries >= max)
        {
            let waiters = job.waiters.clone();
            for w in waiters {
                self.send(
                    w,
                    Response::Work(WorkUpdate::Fail {
                        handle: handle.clone(),
                    }),
                );
            }
            self.finish(handle);
            return;
        }
        let (function, priority) = (job.function.clone(), job.priority);
        self.queues
            .entry(function.clone())
            .or_default()
            .requeue(priority, handle.clone());
        self.wake(&function);
    }
}
