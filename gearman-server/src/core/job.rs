//! Jobs, and the state the server keeps per function: three queues, counters, limits.

use std::collections::VecDeque;

use bytes::Bytes;
use gearman_proto::{FunctionName, JobHandle, Priority, UniqueId};

use super::ConnId;

/// A job the server holds.
#[derive(Clone, Debug)]
pub(crate) struct Job {
    pub(crate) function: FunctionName,
    pub(crate) unique: UniqueId,
    pub(crate) reducer: Option<FunctionName>,
    pub(crate) data: Bytes,
    pub(crate) priority: Priority,
    /// Foreground submitters attached to the job, in order.
    pub(crate) waiters: Vec<ConnId>,
    /// Whether any submission was foreground (a job nobody waits for any more is dropped).
    pub(crate) foreground: bool,
    /// The worker connection holding it.
    pub(crate) worker: Option<ConnId>,
    /// An epoch job not yet due: when it may run (unix milliseconds).
    pub(crate) run_at: Option<u64>,
    /// When the holding worker's CAN_DO_TIMEOUT expires (unix milliseconds).
    pub(crate) deadline: Option<u64>,
    pub(crate) numerator: i64,
    pub(crate) denominator: i64,
    pub(crate) retries: u32,
    /// Its place in the store, if it is stored.
    pub(crate) store: Option<super::durable::Stored>,
    /// When it was last queued (the core's clock).
    pub(crate) queued_at: u64,
    /// When a worker last took it (the core's clock).
    pub(crate) assigned_at: u64,
}

impl Job {
    /// A background job that has not run: no waiters, worker, timers, progress, retries or
    /// store; the caller sets what else it is.
    pub(crate) fn new(
        function: FunctionName,
        unique: UniqueId,
        data: Bytes,
        priority: Priority,
    ) -> Self {
        Self {
            function,
            unique,
            reducer: None,
            data,
            priority,
            waiters: Vec::new(),
            foreground: false,
            worker: None,
            run_at: None,
            deadline: None,
            numerator: 0,
            denominator: 0,
            retries: 0,
            store: None,
            queued_at: 0,
            assigned_at: 0,
        }
    }
}

fn index(p: Priority) -> usize {
    match p {
        Priority::High => 0,
        Priority::Normal => 1,
        Priority::Low => 2,
    }
}

/// One function: its three FIFO queues (high first), counters and `maxqueue` limits.
#[derive(Clone, Debug, Default)]
pub(crate) struct FnState {
    queues: [VecDeque<JobHandle>; 3],
    /// Jobs held by workers.
    pub(crate) running: usize,
    /// Epoch jobs waiting for their time.
    pub(crate) scheduled: usize,
    /// `maxqueue` per priority; `None` is unlimited.
    pub(crate) max: [Option<usize>; 3],
    /// Workers sent a NOOP for this function that have not grabbed since (nor timed out).
    pub(crate) woken: usize,
    /// Where the next wake-up starts among the function's workers (round robin).
    pub(crate) wake_from: u64,
}

impl FnState {
    pub(crate) fn push(&mut self, p: Priority, h: JobHandle) {
        self.queues[index(p)].push_back(h);
    }

    /// The best priority with a queued job.
    pub(crate) fn best(&self) -> Option<usize> {
        self.queues.iter().position(|q| !q.is_empty())
    }

    pub(crate) fn pop(&mut self, level: usize) -> Option<JobHandle> {
        self.queues.get_mut(level)?.pop_front()
    }

    /// Jobs in the queues, ready for a worker now (epoch jobs not yet due are not).
    pub(crate) fn runnable(&self) -> usize {
        self.queues.iter().map(VecDeque::len).sum()
    }

    pub(crate) fn has_queued(&self) -> bool {
        self.queues.iter().any(|q| !q.is_empty())
    }

    /// Jobs waiting for a worker, epoch jobs not yet due included (gearmand counts them too).
    pub(crate) fn queued(&self) -> usize {
        self.queues.iter().map(VecDeque::len).sum::<usize>() + self.scheduled
    }

    pub(crate) fn queued_at(&self, p: Priority) -> usize {
        self.queues[index(p)].len()
            + if p == Priority::Normal {
                self.scheduled
            } else {
                0
            }
    }

    /// Whether `maxqueue` refuses one more job at `p`: gearmand compares the function's whole
    /// total (every priority, running included) with the limit of the priority submitted.
    pub(crate) fn full(&self, p: Priority) -> bool {
        self.max[index(p)].is_some_and(|max| self.queued() + self.running >= max)
    }

    /// Takes every queued handle out (for `drop function`).
    pub(crate) fn drain(&mut self) -> Vec<JobHandle> {
        self.queues.iter_mut().flat_map(|q| q.drain(..)).collect()
    }

    /// Whether `h` is queued (for the consistency check).
    pub(crate) fn contains(&self, h: &JobHandle) -> bool {
        self.queues.iter().any(|q| q.contains(h))
    }
}
