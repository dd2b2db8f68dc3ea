//! Requests waiting for their answers.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;
use gearman_proto::{FunctionName, JobHandle, UniqueId};

use crate::event::RequestId;

/// A coalescing key: function and non-empty unique.
pub(crate) type Key = (FunctionName, UniqueId);

/// A submission waiting for JOB_CREATED, with the local submissions coalesced onto it.
#[derive(Clone, Debug)]
pub(crate) struct Creating {
    pub(crate) id: RequestId,
    pub(crate) key: Option<Key>,
    pub(crate) foreground: bool,
    pub(crate) deadline: Instant,
    pub(crate) followers: Vec<RequestId>,
}

/// A foreground job being followed.
#[derive(Clone, Debug)]
pub(crate) struct Running {
    pub(crate) subscribers: Vec<RequestId>,
    pub(crate) key: Option<Key>,
    /// JOB_CREATED answers this connection got for the job: gearmand sends every packet once
    /// per registration.
    pub(crate) registrations: usize,
    /// Copies of the current packet still to come.
    pub(crate) skip: usize,
}

impl Running {
    pub(crate) fn new(key: Option<Key>) -> Self {
        Self {
            subscribers: Vec::new(),
            key,
            registrations: 0,
            skip: 0,
        }
    }
}

/// Queries whose answers name what was asked: matched by content, so one that goes unanswered
/// only times out.
#[derive(Debug, Default)]
pub(crate) struct Queries {
    status: VecDeque<(RequestId, JobHandle, Instant)>,
    unique: VecDeque<(RequestId, UniqueId, Instant)>,
    echo: VecDeque<(RequestId, Bytes, Instant)>,
}

fn take<T: PartialEq>(q: &mut VecDeque<(RequestId, T, Instant)>, what: &T) -> Option<RequestId> {
    let at = q.iter().position(|(_, t, _)| t == what)?;
    q.remove(at).map(|(id, _, _)| id)
}

fn expired<T>(q: &mut VecDeque<(RequestId, T, Instant)>, now: Instant, out: &mut Vec<RequestId>) {
    q.retain(|(id, _, at)| {
        let keep = *at > now;
        if !keep {
            out.push(*id);
        }
        keep
    });
}

impl Queries {
    pub(crate) fn len(&self) -> usize {
        self.status.len() + self.unique.len() + self.echo.len()
    }

    pub(crate) fn add_status(&mut self, id: RequestId, handle: JobHandle, deadline: Instant) {
        self.status.push_back((id, handle, deadline));
    }

    pub(crate) fn add_unique(&mut self, id: RequestId, unique: UniqueId, deadline: Instant) {
        self.unique.push_back((id, unique, deadline));
    }

    pub(crate) fn add_echo(&mut self, id: RequestId, data: Bytes, deadline: Instant) {
        self.echo.push_back((id, data, deadline));
    }

    pub(crate) fn take_status(&mut self, handle: &JobHandle) -> Option<RequestId> {
        take(&mut self.status, handle)
    }

    pub(crate) fn take_unique(&mut self, unique: &UniqueId) -> Option<RequestId> {
        take(&mut self.unique, unique)
    }

    pub(crate) fn take_echo(&mut self, data: &Bytes) -> Option<RequestId> {
        take(&mut self.echo, data)
    }

    /// Gives the queries in `ids` a new deadline (they were held back until now).
    pub(crate) fn restart(
        &mut self,
        ids: &std::collections::HashSet<RequestId>,
        deadline: Instant,
    ) {
        for (id, _, at) in self.status.iter_mut() {
            if ids.contains(id) {
                *at = deadline;
            }
        }
        for (id, _, at) in self.unique.iter_mut() {
            if ids.contains(id) {
                *at = deadline;
            }
        }
        for (id, _, at) in self.echo.iter_mut() {
            if ids.contains(id) {
                *at = deadline;
            }
        }
    }

    pub(crate) fn take_expired(&mut self, now: Instant) -> Vec<RequestId> {
        let mut out = Vec::new();
        expired(&mut self.status, now, &mut out);
        expired(&mut self.unique, now, &mut out);
        expired(&mut self.echo, now, &mut out);
        out
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        // Deadlines grow in insertion order within each queue.
        [
            self.status.front().map(|e| e.2),
            self.unique.front().map(|e| e.2),
            self.echo.front().map(|e| e.2),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub(crate) fn drain(&mut self) -> Vec<RequestId> {
        let mut out: Vec<RequestId> = self.status.drain(..).map(|e| e.0).collect();
        out.extend(self.unique.drain(..).map(|e| e.0));
        out.extend(self.echo.drain(..).map(|e| e.0));
        out
    }
}
