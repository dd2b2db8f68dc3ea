//! The jobs a connection holds, by handle.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use gearman_proto::{FunctionName, JobHandle};

/// A held job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HeldJob {
    pub(crate) function: FunctionName,
    pub(crate) deadline: Option<Instant>,
}

/// Jobs held by one connection. WORK_* packets go out only for handles in here.
#[derive(Clone, Debug, Default)]
pub(crate) struct Jobs(HashMap<JobHandle, HeldJob>);

impl Jobs {
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn contains(&self, handle: &JobHandle) -> bool {
        self.0.contains_key(handle)
    }

    pub(crate) fn insert(&mut self, handle: JobHandle, job: HeldJob) {
        self.0.insert(handle, job);
    }

    pub(crate) fn remove(&mut self, handle: &JobHandle) -> Option<HeldJob> {
        self.0.remove(handle)
    }

    pub(crate) fn drain(&mut self) -> impl Iterator<Item = JobHandle> + '_ {
        self.0.drain().map(|(h, _)| h)
    }

    /// Functions of held jobs: registration must not drop these.
    pub(crate) fn functions(&self) -> BTreeSet<FunctionName> {
        self.0.values().map(|j| j.function.clone()).collect()
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.0.values().filter_map(|j| j.deadline).min()
    }

    /// Removes and returns the jobs whose deadline has passed.
    pub(crate) fn take_expired(&mut self, now: Instant) -> Vec<JobHandle> {
        let expired: Vec<JobHandle> = self
            .0
            .iter()
            .filter(|(_, j)| j.deadline.is_some_and(|d| d <= now))
            .map(|(h, _)| h.clone())
            .collect();
        for h in &expired {
            self.0.remove(h);
        }
        expired
    }
}
