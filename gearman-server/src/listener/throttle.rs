//! Logging a failure that repeats (accept failing while the process is out of descriptors)
//! once per interval, with how often it happened since, instead of every time.

use std::time::{Duration, Instant};

/// How often a repeating failure is logged.
pub(crate) const INTERVAL: Duration = Duration::from_secs(10);

/// Counts a repeating failure and says when to log it.
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    last: Option<Instant>,
    since: u64,
}

impl Throttle {
    /// One more failure at `now`: `Some(n)` when it is to be logged, `n` being the failures
    /// not logged since the last report.
    pub(crate) fn hit(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(at) if now.saturating_duration_since(at) < INTERVAL => {
                self.since += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.since))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_the_first_then_once_per_interval_with_the_count_between() {
        let mut t = Throttle::default();
        let t0 = Instant::now();
        assert_eq!(t.hit(t0), Some(0));
        // 20 a second for 10 s (as every 50 ms): none logged until the interval is over.
        let mut logged = Vec::new();
        for i in 1..=200u32 {
            if let Some(n) = t.hit(t0 + Duration::from_millis(50) * i) {
                logged.push((i, n));
            }
        }
        assert_eq!(logged, vec![(200, 199)]);
        assert_eq!(t.hit(t0 + Duration::from_millis(50) * 201), None);
    }
}
