//! Background jobs in a store: the core asks for each new background job to be stored, holds
//! its JOB_CREATED (and everything after it on that connection, so replies keep their order)
//! until the driver says the store has it, and asks for it to be removed when it ends. A job
//! submitted while the store is in use runs only once it is stored.

use std::collections::VecDeque;

use gearman_proto::{JobHandle, Response};

use super::job::Job;
use super::{error, ConnId, ServerCore};
use crate::store::{StoreOp, StoredJob};

/// A job's place in the store.
#[derive(Clone, Debug)]
pub(crate) struct Stored {
    /// The store's key.
    pub(crate) id: u64,
    /// Whether the store has said it holds the job.
    pub(crate) committed: bool,
    /// The job came in with this store write and waits for it: not queued, not scheduled.
    pub(crate) gated: bool,
    /// Background submitters whose JOB_CREATED waits for the write (a connection once per
    /// submission).
    pub(crate) acks: Vec<ConnId>,
}

/// A reply held back on a connection until an earlier JOB_CREATED can be sent.
#[derive(Clone, Debug)]
pub(crate) enum Deferred {
    /// The JOB_CREATED of a background submission waiting for store write `id`.
    Ack(u64),
    /// A reply that only waits for the ones before it.
    Ready(Response),
}

impl ServerCore {
    /// Turns the store on: from now on a background submission is answered only once the
    /// driver reports it stored ([`store_done`](Self::store_done)), and the core's writes are
    /// taken with [`take_store_ops`](Self::take_store_ops). `jobs` are the jobs the store
    /// held at start: they are queued again (epoch jobs scheduled) under new handles.
    pub fn enable_store(&mut self, jobs: Vec<StoredJob>) {
        self.durable = true;
        self.next_store_id = self.next_store_id.max(1);
        for stored in jobs {
            self.next_store_id = self.next_store_id.max(stored.id.saturating_add(1));
            self.next_job += 1;
            let text = format!("{}:{}", self.config.handle_prefix, self.next_job);
            let Ok(handle) = JobHandle::try_from(text) else {
                continue;
            };
            let key = (!stored.unique.is_empty())
                .then(|| (stored.function.clone(), stored.unique.clone()))
                .filter(|k| !self.by_unique.contains_key(k));
            if let Some(k) = key {
                self.index_unique(k, &handle);
            }
            let run_at = stored.run_at.filter(|&t| t > self.now);
            let function = stored.function.clone();
            self.by_store_id.insert(stored.id, handle.clone());
            self.jobs.insert(
                handle.clone(),
                Job {
                    run_at,
                    store: Some(Stored {
                        id: stored.id,
                        committed: true,
                        gated: false,
                        acks: Vec::new(),
                    }),
                    ..Job::new(stored.function, stored.unique, stored.data, stored.priority)
                },
            );
            self.place(&function, stored.priority, run_at, handle);
        }
    }

    /// Whether background jobs are stored.
    pub fn store_enabled(&self) -> bool {
        self.durable
    }

    /// The store writes asked for since the last call, in order: give them to the store, then
    /// report with [`store_done`](Self::store_done).
    pub fn take_store_ops(&mut self) -> Vec<StoreOp> {
        std::mem::take(&mut self.store_ops)
    }

    /// The store has made `added` durable (`ok`), or failed to write them: their
    /// submitters get JOB_CREATED and the jobs are queued, or the submitters get
    /// `ERROR QUEUE_ERROR` and the jobs are forgotten (foreground clients that joined one get
    /// WORK_FAIL). `added` are the ids of the [`StoreOp::Add`]s of the writes reported.
    pub fn store_done(&mut self, added: &[u64], ok: bool) {
        for id in added {
            let Some(handle) = self.by_store_id.get(id).cloned() else {
                continue;
            };
            let Some(job) = self.jobs.get_mut(&handle) else {
                continue;
            };
            let Some(stored) = job.store.as_mut().filter(|s| s.id == *id) else {
                continue;
            };
            let acks = std::mem::take(&mut stored.acks);
            let gated = std::mem::replace(&mut stored.gated, false);
            if ok {
                stored.committed = true;
                let (function, priority) = (job.function.clone(), job.priority);
                let run_at = job.run_at.filter(|&t| t > self.now);
                job.run_at = run_at;
                for conn in acks {
                    self.resolve(conn, *id, Response::JobCreated(handle.clone()));
                }
                if gated {
                    self.place(&function, priority, run_at, handle);
                }
            } else {
                job.store = None;
                self.by_store_id.remove(id);
                for conn in acks {
                    self.resolve(
                        conn,
                        *id,
                        error("QUEUE_ERROR", "The job could not be stored"),
                    );
                }
                if gated {
                    // Never queued: it ends here, to anyone who joined it too.
                    if let Some(job) = self.jobs.get_mut(&handle) {
                        job.run_at = None;
                    }
                    self.fail(&handle);
                }
            }
        }
    }

    /// Queues a job, or schedules it if it is not due yet.
    pub(super) fn place(
        &mut self,
        function: &gearman_proto::FunctionName,
        priority: gearman_proto::Priority,
        run_at: Option<u64>,
        handle: JobHandle,
    ) {
        match run_at {
            Some(t) => {
                self.fn_state(function).scheduled += 1;
                self.scheduled.insert((t, handle));
            }
            None => self.enqueue(function, priority, handle),
        }
    }

    /// A background submission of a job to be stored: asks for the write (once per job) and
    /// holds the submitter's JOB_CREATED until it is done.
    pub(super) fn defer_ack(&mut self, conn: ConnId, handle: &JobHandle) {
        let Some(job) = self.jobs.get_mut(handle) else {
            return;
        };
        let stored = match &mut job.store {
            Some(s) if s.committed => {
                self.send(conn, Response::JobCreated(handle.clone()));
                return;
            }
            Some(s) => s,
            None => {
                // A job not stored yet (a foreground one this background submission joins).
                let id = self.next_store_id;
                self.next_store_id += 1;
                self.store_ops.push(StoreOp::Add(StoredJob {
                    id,
                    function: job.function.clone(),
                    unique: job.unique.clone(),
                    priority: job.priority,
                    run_at: job.run_at,
                    data: job.data.clone(),
                }));
                self.by_store_id.insert(id, handle.clone());
                job.store.insert(Stored {
                    id,
                    committed: false,
                    gated: false,
                    acks: Vec::new(),
                })
            }
        };
        stored.acks.push(conn);
        let id = stored.id;
        if let Some(c) = self.conns.get_mut(&conn) {
            c.backlog.push_back(Deferred::Ack(id));
        }
    }

    /// Settles a held JOB_CREATED of `conn` for store write `id`, then sends whatever is no
    /// longer held.
    fn resolve(&mut self, conn: ConnId, id: u64, reply: Response) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if let Some(slot) = c
            .backlog
            .iter_mut()
            .find(|d| matches!(d, Deferred::Ack(i) if *i == id))
        {
            *slot = Deferred::Ready(reply);
        }
        release(&mut c.backlog, conn, &mut self.out);
    }

    /// A stored job ends: the store is asked to forget it, and submitters still waiting for
    /// its write are answered (the job existed; it is over).
    pub(super) fn unstore(&mut self, handle: &JobHandle, stored: Stored) {
        self.by_store_id.remove(&stored.id);
        self.store_ops.push(StoreOp::Remove(stored.id));
        for conn in stored.acks {
            self.resolve(conn, stored.id, Response::JobCreated(handle.clone()));
        }
    }
}

/// Sends the held replies at the front of a backlog that no longer wait.
fn release(backlog: &mut VecDeque<Deferred>, conn: ConnId, out: &mut VecDeque<(ConnId, Response)>) {
    while let Some(Deferred::Ready(_)) = backlog.front() {
        if let Some(Deferred::Ready(res)) = backlog.pop_front() {
            out.push_back((conn, res));
        }
    }
}
