//! Jobs and the per-function queues.

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
    pub(crate) numerator: i64,
    pub(crate) denominator: i64,
    pub(crate) retries: u32,
}

/// Three FIFO queues of one function, high first.
#[derive(Clone, Debug, Default)]
pub(crate) struct Queues([VecDeque<JobHandle>; 3]);

fn index(p: Priority) -> usize {
    match p {
        Priority::High => 0,
        Priority::Normal => 1,
        Priority::Low => 2,
    }
}

impl Queues {
    pub(crate) fn push(&mut self, p: Priority, h: JobHandle) {
        self.0[index(p)].push_back(h);
    }

    /// Puts a re-queued job at the tail of its priority, as gearmand does.
    pub(crate) fn requeue(&mut self, p: Priority, h: JobHandle) {
        self.push(p, h);
    }

    /// The best priority with a queued job.
    pub(crate) fn best(&self) -> Option<usize> {
        self.0.iter().position(|q| !q.is_empty())
    }

    pub(crate) fn pop(&mut self, level: usize) -> Option<JobHandle> {
        self.0.get_mut(level)?.pop_front()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.iter().all(VecDeque::is_empty)
    }

    pub(crate) fn len(&self) -> usize {
        self.0.iter().map(VecDeque::len).sum()
    }

    pub(crate) fn len_at(&self, p: Priority) -> usize {
        self.0[index(p)].len()
    }
}
