//! Reconnect delays: exponential, capped, with jitter so that many workers do not reconnect in
//! lockstep after a server restart.

use std::time::Duration;

/// Exponential backoff with jitter in `[delay / 2, delay]`.
#[derive(Clone, Debug)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    current: Duration,
    rng: u64,
}

impl Backoff {
    /// Delays from `initial`, doubling up to `max`; `seed` spreads the jitter.
    pub fn new(initial: Duration, max: Duration, seed: u64) -> Self {
        Self {
            initial,
            max,
            current: initial,
            rng: seed | 1,
        }
    }

    /// Back to the initial delay (after a successful connection).
    pub fn reset(&mut self) {
        self.current = self.initial;
    }

    /// The next delay; doubles the base up to the cap.
    pub fn next_delay(&mut self) -> Duration {
        let base = self.current.min(self.max);
        self.current = (self.current * 2).min(self.max);
        // xorshift64: plenty for spreading reconnects.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let half = base / 2;
        let spread = half.as_micros().max(1) as u64;
        half + Duration::from_micros(self.rng % spread)
    }
}

/// A seed that differs between workers and runs.
pub fn seed(salt: &str) -> u64 {
    use std::hash::{BuildHasher, Hash, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    salt.hash(&mut h);
    std::time::SystemTime::now().hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_caps_and_jitters_within_bounds() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2), 42);
        let mut bases = Vec::new();
        for _ in 0..8 {
            let d = b.next_delay();
            bases.push(d);
        }
        let caps = [100, 200, 400, 800, 1600, 2000, 2000, 2000];
        for (d, cap) in bases.iter().zip(caps) {
            let cap = Duration::from_millis(cap);
            assert!(
                *d >= cap / 2 && *d <= cap,
                "{d:?} not in [{:?}, {cap:?}]",
                cap / 2
            );
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }
}
