//! What the server holds, per function, and a consistency check of its indexes.

use std::collections::BTreeSet;

use gearman_proto::FunctionName;

use super::ServerCore;

/// The jobs and workers of one function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionStats {
    /// The function.
    pub function: FunctionName,
    /// Jobs waiting for a worker (epoch jobs not yet due included).
    pub queued: usize,
    /// Jobs held by workers.
    pub running: usize,
    /// Connections that registered it.
    pub workers: usize,
}

impl ServerCore {
    /// Every function the server knows (registered, submitted to or created), sorted by name.
    pub fn stats(&self) -> Vec<FunctionStats> {
        let mut rows: Vec<FunctionStats> = self
            .functions
            .iter()
            .map(|(f, state)| FunctionStats {
                queued: state.queued(),
                running: state.running,
                workers: self.workers_of(f),
                function: f.clone(),
            })
            .collect();
        rows.sort_by(|a, b| a.function.as_bytes().cmp(b.function.as_bytes()));
        rows
    }

    /// Checks that every index agrees with the job table; returns what disagrees. For tests
    /// and fuzzing: it walks everything.
    pub fn check_consistency(&self) -> Result<(), String> {
        for (h, job) in &self.jobs {
            let state = self
                .functions
                .get(&job.function)
                .ok_or_else(|| format!("{h:?}: function missing"))?;
            if let Some(stored) = &job.store {
                if self.by_store_id.get(&stored.id) != Some(h) {
                    return Err(format!("{h:?}: store id not indexed"));
                }
                if stored.gated {
                    let placed = job.worker.is_some()
                        || state.contains(h)
                        || job
                            .run_at
                            .is_some_and(|t| self.scheduled.contains(&(t, h.clone())));
                    if placed || stored.committed {
                        return Err(format!("{h:?}: waits for the store but is placed"));
                    }
                    continue;
                }
            }
            match (job.worker, job.run_at) {
                (Some(w), None) => {
                    let held = self.conns.get(&w).is_some_and(|c| c.held.contains(h));
                    if !held {
                        return Err(format!("{h:?}: worker {w:?} does not hold it"));
                    }
                }
                (None, Some(t)) => {
                    if !self.scheduled.contains(&(t, h.clone())) {
                        return Err(format!("{h:?}: not scheduled"));
                    }
                }
                (None, None) => {
                    if !state.contains(h) {
                        return Err(format!("{h:?}: neither queued nor held"));
                    }
                }
                (Some(_), Some(_)) => return Err(format!("{h:?}: running before its time")),
            }
            if let Some(t) = job.deadline {
                if job.worker.is_none() || !self.deadlines.contains(&(t, h.clone())) {
                    return Err(format!("{h:?}: stray deadline"));
                }
            }
            for w in &job.waiters {
                if !self.conns.get(w).is_some_and(|c| c.waiting_on.contains(h)) {
                    return Err(format!("{h:?}: waiter {w:?} not linked"));
                }
            }
        }
        for (f, state) in &self.functions {
            let running = self
                .jobs
                .values()
                .filter(|j| &j.function == f && j.worker.is_some())
                .count();
            let scheduled = self
                .jobs
                .values()
                .filter(|j| &j.function == f && j.run_at.is_some())
                .filter(|j| !j.store.as_ref().is_some_and(|s| s.gated))
                .count();
            if (running, scheduled) != (state.running, state.scheduled) {
                return Err(format!("{f:?}: counters off"));
            }
        }
        for (id, c) in &self.conns {
            for h in &c.held {
                if self.jobs.get(h).and_then(|j| j.worker) != Some(*id) {
                    return Err(format!("{id:?} holds {h:?} the job does not name it"));
                }
            }
        }
        for (id, c) in &self.conns {
            for f in c.functions.keys() {
                if !self.functions.contains_key(f) {
                    return Err(format!("{id:?}: {f:?} registered but unknown"));
                }
                if !self.registrants.get(f).is_some_and(|s| s.contains(id)) {
                    return Err(format!("{id:?}: {f:?} missing from the registrants"));
                }
            }
        }
        let registrations: usize = self.conns.values().map(|c| c.functions.len()).sum();
        let indexed: usize = self.registrants.values().map(BTreeSet::len).sum();
        if registrations != indexed {
            return Err("stray entries in the registrants".into());
        }
        for (f, state) in &self.functions {
            if state.has_queued() != self.ready.contains(f) {
                return Err(format!("{f:?}: ready set off"));
            }
        }
        if self.ready.iter().any(|f| !self.functions.contains_key(f)) {
            return Err("a ready function is unknown".into());
        }
        let indexed: usize = self.by_unique_only.values().map(Vec::len).sum();
        if indexed != self.by_unique.len()
            || self
                .by_unique_only
                .values()
                .flatten()
                .any(|h| !self.jobs.contains_key(h))
        {
            return Err("the index by unique alone disagrees".into());
        }
        if self.by_store_id.len() > self.jobs.len() {
            return Err("stray entries in the store index".into());
        }
        if let Some(gone) = self.sleepers.iter().find(|id| !self.conns.contains_key(id)) {
            return Err(format!("sleeper {gone:?} is not connected"));
        }
        if self.scheduled.len() + self.deadlines.len() > self.jobs.len() * 2 {
            return Err("timer sets larger than the job table".into());
        }
        self.check_wakes()
    }
}
