//! Registrations and sleepers, indexed for workers with thousands of functions (a CI node
//! registers `build:PROJECT` and `build:PROJECT:LABEL` for every project it can build): the
//! workers of each function are kept as they register, so a new job looks only at its
//! function's workers (as gearmand does); going to sleep costs nothing per function;
//! a GRAB looks only at functions that have work, or only at the worker's functions, whichever
//! is fewer.

use std::cmp::Reverse;

use gearman_proto::FunctionName;

use super::job::FnState;
use super::{ConnId, ServerCore};

impl ServerCore {
    /// Registers `f` for `conn` once (a fix: gearmand lists a function registered twice
    /// twice), as its most recent registration; `timeout` is its CAN_DO_TIMEOUT.
    pub(super) fn can_do(&mut self, conn: ConnId, f: FunctionName, timeout: Option<u64>) {
        let f = f.detached();
        self.functions.entry(f.clone()).or_default();
        self.next_registration += 1;
        let seq = self.next_registration;
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        match timeout {
            Some(t) => c.timeouts.insert(f.clone(), t),
            None => c.timeouts.remove(&f),
        };
        c.functions.insert(f.clone(), seq);
        self.registrants.entry(f.clone()).or_default().insert(conn);
        // A sleeping worker that takes on a function with work waiting is woken for it.
        if self.sleepers.contains(&conn) {
            self.wake(&f);
        }
    }

    /// Drops `f` from `conn`'s registrations (not its held jobs: the caller re-queues those).
    pub(super) fn unregister(&mut self, conn: ConnId, f: &FunctionName) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.functions.remove(f);
            c.timeouts.remove(f);
        }
        if let Some(set) = self.registrants.get_mut(f) {
            set.remove(&conn);
            if set.is_empty() {
                self.registrants.remove(f);
            }
        }
    }

    /// Drops every registration of a connection that is going away.
    pub(super) fn unregister_all(&mut self, conn: ConnId) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let functions: Vec<FunctionName> = c.functions.keys().cloned().collect();
        for f in &functions {
            self.unregister(conn, f);
        }
    }

    /// Connections that registered `f`.
    pub(crate) fn workers_of(&self, f: &FunctionName) -> usize {
        self.registrants
            .get(f)
            .map_or(0, std::collections::BTreeSet::len)
    }

    /// The function `conn` should take a job of next, and the priority level: the highest
    /// priority over its functions, ties to the most recently registered (gearmand 2.0's
    /// order; 1.1.20 looks per function).
    pub(super) fn best_for(&self, conn: ConnId) -> Option<(usize, FunctionName)> {
        let c = self.conns.get(&conn)?;
        let rank = |f: &FunctionName, seq: u64| {
            self.functions
                .get(f)
                .and_then(FnState::best)
                .map(|level| (level, Reverse(seq), f.clone()))
        };
        let best = if self.ready.len() <= c.functions.len() {
            self.ready
                .iter()
                .filter_map(|f| c.functions.get(f).and_then(|&seq| rank(f, seq)))
                .min()
        } else {
            c.functions
                .iter()
                .filter_map(|(f, &seq)| rank(f, seq))
                .min()
        };
        best.map(|(level, _, f)| (level, f))
    }

    /// `conn`'s functions, most recently registered first.
    pub(super) fn functions_of(&self, conn: ConnId) -> Vec<FunctionName> {
        let Some(c) = self.conns.get(&conn) else {
            return Vec::new();
        };
        let mut fs: Vec<(&FunctionName, u64)> = c.functions.iter().map(|(f, &s)| (f, s)).collect();
        fs.sort_by_key(|&(_, seq)| Reverse(seq));
        fs.into_iter().map(|(f, _)| f.clone()).collect()
    }
}
