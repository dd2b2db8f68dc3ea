//! Sleeping workers and their wake-ups. gearmand sends a NOOP to every sleeping worker of a
//! function when one of its jobs arrives (`--worker-wakeup 0`, its default): with N idle
//! workers, one job costs N NOOPs, N GRABs, N-1 NO_JOBs and N-1 PRE_SLEEPs, in the server and
//! in every worker. By default this core wakes only as many workers as there are jobs waiting
//! that no woken worker has yet come for ([`WakeUp::AsNeeded`]), taking the function's
//! workers in turn:
//! - a worker is counted as woken for a function from its NOOP until its next GRAB,
//!   PRE_SLEEP or disconnect, or until [`WAKE_GRACE_MS`] pass (a worker that never comes is
//!   then no longer counted, and another is woken);
//! - whenever a woken worker stops counting, its function is looked at again: a woken worker
//!   that took another function's job, or found nothing, leaves no job waiting behind it;
//! - a PRE_SLEEP is answered with a NOOP at once only for a job that no woken worker is coming
//!   for (a job that came between the worker's NO_JOB and its PRE_SLEEP, and woke nobody).
//!
//! So a function with jobs waiting beyond its woken workers has no sleeping worker left
//! ([`check_consistency`](ServerCore::check_consistency) checks it after every step).

use gearman_proto::{FunctionName, Response};

use super::{ConnId, ServerCore};

/// How long a woken worker is waited for before another is woken in its place.
pub const WAKE_GRACE_MS: u64 = 500;

/// Which sleeping workers a new job wakes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WakeUp {
    /// As many as the function has jobs that no woken worker is coming for, in turn.
    #[default]
    AsNeeded,
    /// Every sleeping worker of the function (gearmand's default, `--worker-wakeup 0`).
    All,
}

impl ServerCore {
    /// The worker sleeps until a job of one of its functions arrives.
    pub(super) fn sleep(&mut self, conn: ConnId) {
        if self.conns.contains_key(&conn) {
            self.sleepers.insert(conn);
        }
    }

    /// The worker is awake (it grabbed, was woken, or left).
    pub(super) fn unsleep(&mut self, conn: ConnId) {
        self.sleepers.remove(&conn);
    }

    /// Wakes sleeping workers of `function`: as many as its waiting jobs exceed the workers
    /// already woken for it (or all of them, with [`WakeUp::All`]), starting after the last
    /// one woken.
    pub(super) fn wake(&mut self, function: &FunctionName) {
        let Some(state) = self.functions.get(function) else {
            return;
        };
        let all = self.config.wake_up == WakeUp::All;
        let mut wanted = state.runnable().saturating_sub(state.woken);
        // Nothing to wake for (even gearmand's way wakes only for a waiting job).
        if state.runnable() == 0 || (wanted == 0 && !all) || self.sleepers.is_empty() {
            return;
        }
        let Some(workers) = self.registrants.get(function) else {
            return;
        };
        let from = ConnId(state.wake_from);
        let mut woken = Vec::new();
        for &id in workers.range(from..).chain(workers.range(..from)) {
            if !all && wanted == 0 {
                break;
            }
            if self.sleepers.contains(&id) {
                woken.push(id);
                wanted = wanted.saturating_sub(1);
            }
        }
        for id in woken {
            self.sleepers.remove(&id);
            self.woken_for(id, function);
            self.send(id, Response::Noop);
        }
    }

    /// A function of `conn` with a job waiting that no woken worker is coming for (with
    /// [`WakeUp::All`]: with any job waiting): what a PRE_SLEEP is answered with a NOOP for.
    pub(super) fn uncovered_for(&self, conn: ConnId) -> Option<FunctionName> {
        let c = self.conns.get(&conn)?;
        let all = self.config.wake_up == WakeUp::All;
        let uncovered = |f: &FunctionName| {
            self.functions
                .get(f)
                .is_some_and(|s| s.runnable() > if all { 0 } else { s.woken })
        };
        if self.ready.len() <= c.functions.len() {
            self.ready
                .iter()
                .find(|f| c.functions.contains_key(*f) && uncovered(f))
                .cloned()
        } else {
            c.functions.keys().find(|f| uncovered(f)).cloned()
        }
    }

    /// Counts `conn` as woken for `function` (it was sent a NOOP).
    pub(super) fn woken_for(&mut self, conn: ConnId, function: &FunctionName) {
        self.pass_on_wake(conn);
        let at = self.now.saturating_add(WAKE_GRACE_MS);
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.woken = Some((function.clone(), at));
        self.wakes.insert((at, conn));
        if let Some(state) = self.functions.get_mut(function) {
            state.woken += 1;
            state.wake_from = conn.0 + 1;
        }
    }

    /// `conn` no longer counts as woken (it grabbed, slept again or left); the function it was
    /// woken for, which the caller looks at again once it is done.
    pub(super) fn unwake(&mut self, conn: ConnId) -> Option<FunctionName> {
        let (f, at) = self.conns.get_mut(&conn)?.woken.take()?;
        self.wakes.remove(&(at, conn));
        if let Some(state) = self.functions.get_mut(&f) {
            state.woken = state.woken.saturating_sub(1);
        }
        Some(f)
    }

    /// `conn` stops counting as woken, and the function it was woken for is looked at again
    /// (another worker woken if its jobs need one). False if it was not counted.
    pub(super) fn pass_on_wake(&mut self, conn: ConnId) -> bool {
        let Some(f) = self.unwake(conn) else {
            return false;
        };
        self.wake(&f);
        true
    }

    /// `conn` stops counting as woken for `f` (it dropped the function); another is woken if
    /// the jobs need one.
    pub(super) fn release_wake(&mut self, conn: ConnId, f: &FunctionName) {
        let woken_for_f = self
            .conns
            .get(&conn)
            .and_then(|c| c.woken.as_ref())
            .is_some_and(|(g, _)| g == f);
        if woken_for_f {
            self.pass_on_wake(conn);
        }
    }

    /// No worker counts as woken for `f` any more (its function is dropped; a worker woken for
    /// it may since have dropped it too).
    pub(super) fn forget_wakes_for(&mut self, f: &FunctionName) {
        for (id, c) in &mut self.conns {
            if c.woken.as_ref().is_some_and(|(g, _)| g == f) {
                if let Some((_, at)) = c.woken.take() {
                    self.wakes.remove(&(at, *id));
                }
            }
        }
        if let Some(state) = self.functions.get_mut(f) {
            state.woken = 0;
        }
    }

    /// Woken workers that did not come within the grace stop counting; others are woken for
    /// their functions' jobs.
    pub(super) fn expire_wakes(&mut self) {
        while let Some(&(at, conn)) = self.wakes.first() {
            if at > self.now {
                break;
            }
            if !self.pass_on_wake(conn) {
                self.wakes.remove(&(at, conn));
            }
        }
    }

    /// Checks the wake-up counts against the connections, and that no job waits while a
    /// sleeping worker of its function could be woken for it.
    pub(super) fn check_wakes(&self) -> Result<(), String> {
        for (f, state) in &self.functions {
            let woken = self
                .conns
                .values()
                .filter(|c| c.woken.as_ref().is_some_and(|(g, _)| g == f))
                .count();
            if woken != state.woken {
                return Err(format!(
                    "{f:?}: {} woken counted, {woken} woken",
                    state.woken
                ));
            }
            let asleep = self
                .registrants
                .get(f)
                .is_some_and(|ws| ws.iter().any(|w| self.sleepers.contains(w)));
            if asleep && state.runnable() > state.woken {
                return Err(format!("{f:?}: jobs wait while a worker sleeps"));
            }
        }
        let timed = self.conns.values().filter(|c| c.woken.is_some()).count();
        if timed != self.wakes.len() {
            return Err("the wake-up timers disagree with the woken workers".into());
        }
        Ok(())
    }
}
