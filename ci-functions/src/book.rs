//! The build bookkeeping every host needs for `stop:` and `set_description:`, in one place.

use std::collections::{BTreeSet, HashMap};

use crate::host::AbortOutcome;
use crate::label::ProjectName;

type Key = (ProjectName, u64);

/// Where a build is: queued on the host (`stop:` cancels it), or running (`stop:` aborts it).
#[derive(Debug)]
enum Live<T> {
    Pending(T),
    Running(T),
}

/// Build numbers per project, queued and running builds with a handle to cancel or stop each
/// (`T`), and what `stop:` and `set_description:` need to know of builds that ended.
///
/// A build is numbered when it is queued ([`queue`](Self::queue)), so `stop:` finds it before
/// it starts; [`run`](Self::run) moves it to running unless it was cancelled meanwhile.
#[derive(Debug)]
pub struct BuildBook<T> {
    numbers: HashMap<ProjectName, u64>,
    live: HashMap<Key, Live<T>>,
    aborting: BTreeSet<Key>,
    finished: BTreeSet<Key>,
    descriptions: HashMap<Key, Option<String>>,
}

impl<T> Default for BuildBook<T> {
    fn default() -> Self {
        Self {
            numbers: HashMap::new(),
            live: HashMap::new(),
            aborting: BTreeSet::new(),
            finished: BTreeSet::new(),
            descriptions: HashMap::new(),
        }
    }
}

fn key(project: &ProjectName, number: u64) -> Key {
    (project.clone(), number)
}

impl<T> BuildBook<T> {
    /// Queues a build of `project` (requested, not started): its number (counting from 1 per
    /// project) is returned and `cancel` is kept to cancel it.
    pub fn queue(&mut self, project: &ProjectName, cancel: T) -> u64 {
        let n = self.numbers.entry(project.clone()).or_insert(0);
        *n += 1;
        let number = *n;
        self.live
            .insert(key(project, number), Live::Pending(cancel));
        number
    }

    /// A queued build starts: `stop` is kept to abort it. False (and nothing kept) if it is not
    /// queued, e.g. `stop:` cancelled it.
    pub fn run(&mut self, project: &ProjectName, number: u64, stop: T) -> bool {
        match self.live.get_mut(&key(project, number)) {
            Some(live @ Live::Pending(_)) => {
                *live = Live::Running(stop);
                true
            }
            _ => false,
        }
    }

    /// Starts a build of `project` at once (queued and run): its number is returned and `stop`
    /// is kept to abort it.
    pub fn start(&mut self, project: &ProjectName, stop: T) -> u64 {
        let n = self.numbers.entry(project.clone()).or_insert(0);
        *n += 1;
        let number = *n;
        self.live.insert(key(project, number), Live::Running(stop));
        number
    }

    /// The build ended (whatever the result), or a queued build was given up.
    pub fn ended(&mut self, project: &ProjectName, number: u64) {
        let k = key(project, number);
        self.live.remove(&k);
        self.aborting.remove(&k);
        self.finished.insert(k);
    }

    /// Takes a queued or running build's handle (to end it some other way than `stop:`).
    pub fn take(&mut self, project: &ProjectName, number: u64) -> Option<T> {
        match self.live.remove(&key(project, number))? {
            Live::Pending(t) | Live::Running(t) => Some(t),
        }
    }

    /// `stop:`: what the build's state allows, and the handle to use when it is `Aborted` (a
    /// queued build's cancel handle, a running build's stop handle).
    pub fn abort(&mut self, project: &ProjectName, number: u64) -> (AbortOutcome, Option<T>) {
        let k = key(project, number);
        if self.aborting.contains(&k) {
            return (AbortOutcome::AlreadyAborting, None);
        }
        if self.finished.contains(&k) {
            return (AbortOutcome::AlreadyFinished, None);
        }
        match self.live.remove(&k) {
            Some(Live::Pending(t) | Live::Running(t)) => {
                self.aborting.insert(k);
                (AbortOutcome::Aborted, Some(t))
            }
            None => (AbortOutcome::NotFound, None),
        }
    }

    /// `set_description:`: stores the text (untrusted, never rendered); false for an unknown build.
    pub fn describe(&mut self, project: &ProjectName, number: u64, html: Option<String>) -> bool {
        let k = key(project, number);
        let known =
            self.live.contains_key(&k) || self.aborting.contains(&k) || self.finished.contains(&k);
        if known {
            self.descriptions.insert(k, html);
        }
        known
    }

    /// A build's description, if one was set.
    pub fn description(&self, project: &ProjectName, number: u64) -> Option<Option<String>> {
        self.descriptions.get(&key(project, number)).cloned()
    }

    /// Builds running now, in order.
    pub fn running(&self) -> Vec<(ProjectName, u64)> {
        self.select(|l| matches!(l, Live::Running(_)))
    }

    /// Builds queued (not started) now, in order.
    pub fn pending(&self) -> Vec<(ProjectName, u64)> {
        self.select(|l| matches!(l, Live::Pending(_)))
    }

    fn select(&self, keep: impl Fn(&Live<T>) -> bool) -> Vec<(ProjectName, u64)> {
        let mut v: Vec<_> = self
            .live
            .iter()
            .filter(|(_, l)| keep(l))
            .map(|(k, _)| k.clone())
            .collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str) -> ProjectName {
        ProjectName::new(name).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn stop_answers_by_state() {
        let mut b = BuildBook::default();
        assert_eq!(b.start(&p("p"), 'a'), 1);
        assert_eq!(b.start(&p("p"), 'b'), 2);
        assert_eq!(b.abort(&p("p"), 1), (AbortOutcome::Aborted, Some('a')));
        assert_eq!(b.abort(&p("p"), 1), (AbortOutcome::AlreadyAborting, None));
        b.ended(&p("p"), 1);
        assert_eq!(b.abort(&p("p"), 1), (AbortOutcome::AlreadyFinished, None));
        assert_eq!(b.abort(&p("p"), 9), (AbortOutcome::NotFound, None));
        assert!(b.describe(&p("p"), 2, Some("<b>x</b>".into())));
        assert!(!b.describe(&p("q"), 1, None));
        assert_eq!(b.running(), vec![(p("p"), 2)]);
    }

    #[test]
    fn a_queued_build_is_numbered_and_stop_cancels_it_for_good() {
        let mut b = BuildBook::default();
        assert_eq!(b.queue(&p("p"), 'c'), 1);
        assert_eq!(b.pending(), vec![(p("p"), 1)]);
        assert!(b.running().is_empty());
        assert_eq!(b.abort(&p("p"), 1), (AbortOutcome::Aborted, Some('c')));
        assert!(!b.run(&p("p"), 1, 's'), "a cancelled build never runs");
        assert_eq!(b.queue(&p("p"), 'd'), 2);
        assert!(b.run(&p("p"), 2, 's'));
        assert_eq!(b.running(), vec![(p("p"), 2)]);
        assert_eq!(b.take(&p("p"), 2), Some('s'));
    }
}
