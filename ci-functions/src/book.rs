//! The build bookkeeping every host needs for `stop:` and `set_description:`, in one place.

use std::collections::{BTreeSet, HashMap};

use crate::host::AbortOutcome;

type Key = (String, u64);

/// Build numbers per project, running builds with a handle to stop each (`T`), and what
/// `stop:` and `set_description:` need to know of builds that ended.
#[derive(Debug)]
pub struct BuildBook<T> {
    numbers: HashMap<String, u64>,
    running: HashMap<Key, T>,
    aborting: BTreeSet<Key>,
    finished: BTreeSet<Key>,
    descriptions: HashMap<Key, Option<String>>,
}

impl<T> Default for BuildBook<T> {
    fn default() -> Self {
        Self {
            numbers: HashMap::new(),
            running: HashMap::new(),
            aborting: BTreeSet::new(),
            finished: BTreeSet::new(),
            descriptions: HashMap::new(),
        }
    }
}

fn key(project: &str, number: u64) -> Key {
    (project.to_string(), number)
}

impl<T> BuildBook<T> {
    /// Starts a build of `project`: its number (counting from 1 per project) is returned and
    /// `stop` is kept to abort it.
    pub fn start(&mut self, project: &str, stop: T) -> u64 {
        let n = self.numbers.entry(project.to_string()).or_insert(0);
        *n += 1;
        let number = *n;
        self.running.insert(key(project, number), stop);
        number
    }

    /// The build ended (whatever the result).
    pub fn ended(&mut self, project: &str, number: u64) {
        let k = key(project, number);
        self.running.remove(&k);
        self.aborting.remove(&k);
        self.finished.insert(k);
    }

    /// Takes a running build's stop handle (to end it some other way than `stop:`).
    pub fn take(&mut self, project: &str, number: u64) -> Option<T> {
        self.running.remove(&key(project, number))
    }

    /// `stop:`: what the build's state allows, and the handle to use when it is `Aborted`.
    pub fn abort(&mut self, project: &str, number: u64) -> (AbortOutcome, Option<T>) {
        let k = key(project, number);
        if self.aborting.contains(&k) {
            return (AbortOutcome::AlreadyAborting, None);
        }
        if self.finished.contains(&k) {
            return (AbortOutcome::AlreadyFinished, None);
        }
        match self.running.remove(&k) {
            Some(stop) => {
                self.aborting.insert(k);
                (AbortOutcome::Aborted, Some(stop))
            }
            None => (AbortOutcome::NotFound, None),
        }
    }

    /// `set_description:`: stores the text (untrusted, never rendered); false for an unknown build.
    pub fn describe(&mut self, project: &str, number: u64, html: Option<String>) -> bool {
        let k = key(project, number);
        let known = self.running.contains_key(&k)
            || self.aborting.contains(&k)
            || self.finished.contains(&k);
        if known {
            self.descriptions.insert(k, html);
        }
        known
    }

    /// A build's description, if one was set.
    pub fn description(&self, project: &str, number: u64) -> Option<Option<String>> {
        self.descriptions.get(&key(project, number)).cloned()
    }

    /// Builds running now, in order.
    pub fn running(&self) -> Vec<(String, u64)> {
        let mut v: Vec<_> = self.running.keys().cloned().collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_answers_by_state() {
        let mut b = BuildBook::default();
        assert_eq!(b.start("p", 'a'), 1);
        assert_eq!(b.start("p", 'b'), 2);
        assert_eq!(b.abort("p", 1), (AbortOutcome::Aborted, Some('a')));
        assert_eq!(b.abort("p", 1), (AbortOutcome::AlreadyAborting, None));
        b.ended("p", 1);
        assert_eq!(b.abort("p", 1), (AbortOutcome::AlreadyFinished, None));
        assert_eq!(b.abort("p", 9), (AbortOutcome::NotFound, None));
        assert!(b.describe("p", 2, Some("<b>x</b>".into())));
        assert!(!b.describe("q", 1, None));
        assert_eq!(b.running(), vec![("p".to_string(), 2)]);
    }
}
