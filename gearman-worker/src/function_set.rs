//! The set of functions a worker offers, each with an optional server-side timeout.

use std::collections::BTreeMap;
use std::time::Duration;

use gearman_proto::FunctionName;

/// gearmand raises CAN_DO_TIMEOUT values under one second to one second (protocol.md §3.7).
pub const MIN_SERVER_TIMEOUT: Duration = Duration::from_secs(1);

/// A server-side job timeout sent with CAN_DO_TIMEOUT, in whole milliseconds (gearmand >= 1.1.19).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timeout(u32);

impl Timeout {
    /// A timeout of `ms` milliseconds; zero means none.
    pub fn from_millis(ms: u32) -> Option<Self> {
        (ms > 0).then_some(Self(ms))
    }

    /// The value sent on the wire.
    pub fn millis(self) -> u32 {
        self.0
    }

    /// How long the server really waits: gearmand raises anything under a second to a second.
    /// The worker abandons the job locally after the same time.
    pub fn effective(self) -> Duration {
        Duration::from_millis(u64::from(self.0)).max(MIN_SERVER_TIMEOUT)
    }
}

/// Functions in a fixed order, so that registration plans are deterministic.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FunctionSet(BTreeMap<FunctionName, Option<Timeout>>);

impl FunctionSet {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a function.
    pub fn insert(&mut self, function: FunctionName, timeout: Option<Timeout>) {
        self.0.insert(function, timeout);
    }

    /// Removes a function.
    pub fn remove(&mut self, function: &FunctionName) -> Option<Option<Timeout>> {
        self.0.remove(function)
    }

    /// Whether the set has `function`.
    pub fn contains(&self, function: &FunctionName) -> bool {
        self.0.contains_key(function)
    }

    /// The timeout of `function`, if it is in the set and has one.
    pub fn timeout(&self, function: &FunctionName) -> Option<Timeout> {
        self.0.get(function).copied().flatten()
    }

    /// The entry of `function`: `None` when absent, `Some(timeout)` when present.
    pub fn get(&self, function: &FunctionName) -> Option<Option<Timeout>> {
        self.0.get(function).copied()
    }

    /// Number of functions.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The functions in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&FunctionName, Option<Timeout>)> {
        self.0.iter().map(|(f, t)| (f, *t))
    }
}

impl FromIterator<(FunctionName, Option<Timeout>)> for FunctionSet {
    fn from_iter<I: IntoIterator<Item = (FunctionName, Option<Timeout>)>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl FromIterator<FunctionName> for FunctionSet {
    fn from_iter<I: IntoIterator<Item = FunctionName>>(iter: I) -> Self {
        Self(iter.into_iter().map(|f| (f, None)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts() {
        assert_eq!(Timeout::from_millis(0), None);
        let t = Timeout::from_millis(250).unwrap();
        assert_eq!((t.millis(), t.effective()), (250, MIN_SERVER_TIMEOUT));
        let t = Timeout::from_millis(1500).unwrap();
        assert_eq!(t.effective(), Duration::from_millis(1500));
    }
}
