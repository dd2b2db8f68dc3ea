//! [`Job`]: a job to submit, built step by step.

use std::time::Duration;

use gearman_proto::{FunctionName, Priority, UniqueId};

use super::{ClientError, Payload};
use crate::machine::{JobKind, NewJob};

/// A job to submit, built step by step:
///
/// ```
/// use gearman_client::{Job, Priority};
/// use std::time::Duration;
///
/// let job = Job::new("reverse", "hello")
///     .unique("order-42")
///     .priority(Priority::High)
///     .timeout(Duration::from_secs(30));
/// ```
///
/// Names and unique ids are checked here but reported by the call that submits the job
/// ([`ClientError::InvalidArgument`]), so building never fails. A `Job` is a template: each
/// submission of a clone starts its own [`timeout`](Self::timeout).
#[derive(Clone, Debug)]
pub struct Job {
    pub(crate) job: NewJob,
    timeout: Option<Duration>,
    invalid: Option<ClientError>,
}

/// A field conversion that may fail (`&str`, `String`, or the checked type itself).
fn convert<T, F>(value: F, what: &'static str) -> Result<T, ClientError>
where
    F: TryInto<T>,
    F::Error: std::fmt::Display,
{
    value.try_into().map_err(|e| ClientError::InvalidArgument {
        what,
        reason: e.to_string(),
    })
}

impl Job {
    /// A foreground job at normal priority with an empty unique id. `function` is a
    /// [`FunctionName`], `&str` or `String`; `data` anything a [`Payload`] comes from.
    pub fn new<F>(function: F, data: impl Into<Payload>) -> Self
    where
        F: TryInto<FunctionName>,
        F::Error: std::fmt::Display,
    {
        let (function, invalid) = match convert(function, "function name") {
            Ok(f) => (f, None),
            // A placeholder that is never sent: the call reports `invalid` first.
            Err(e) => (
                FunctionName::try_from("invalid").expect("a valid name"),
                Some(e),
            ),
        };
        Self {
            job: NewJob {
                function,
                unique: UniqueId::empty(),
                data: data.into().0,
                priority: Priority::Normal,
                kind: JobKind::Foreground,
                deadline: None,
            },
            timeout: None,
            invalid,
        }
    }

    fn invalid(mut self, e: ClientError) -> Self {
        self.invalid.get_or_insert(e);
        self
    }

    /// The unique id (coalescing key, at most 63 bytes): a [`UniqueId`], `&str` or `String`.
    pub fn unique<U>(mut self, unique: U) -> Self
    where
        U: TryInto<UniqueId>,
        U::Error: std::fmt::Display,
    {
        match convert(unique, "unique id") {
            Ok(u) => {
                self.job.unique = u;
                self
            }
            Err(e) => self.invalid(e),
        }
    }

    /// A fresh random unique id (32 hex digits), as libgearman gives background jobs so that
    /// persistent queues do not collide on empty ones.
    pub fn generated_unique(mut self) -> Self {
        self.job.unique = random_unique();
        self
    }

    /// A map/reduce job with `reducer` (SUBMIT_REDUCE_JOB, or its background form).
    pub fn reduce<F>(mut self, reducer: F, background: bool) -> Self
    where
        F: TryInto<FunctionName>,
        F::Error: std::fmt::Display,
    {
        match convert(reducer, "reducer") {
            Ok(reducer) => {
                self.job.kind = JobKind::Reduce {
                    reducer,
                    background,
                };
                self
            }
            Err(e) => self.invalid(e),
        }
    }

    /// The priority.
    pub fn priority(mut self, priority: Priority) -> Self {
        self.job.priority = priority;
        self
    }

    /// High priority.
    pub fn high(self) -> Self {
        self.priority(Priority::High)
    }

    /// Low priority.
    pub fn low(self) -> Self {
        self.priority(Priority::Low)
    }

    /// Background: only JOB_CREATED comes back.
    pub fn background(mut self) -> Self {
        self.job.kind = JobKind::Background;
        self
    }

    /// Background, runnable at or after `unix_seconds`.
    pub fn at(mut self, unix_seconds: u64) -> Self {
        self.job.kind = JobKind::Epoch(unix_seconds);
        self
    }

    /// Gives up waiting after `timeout`, counted from each submission (waiting for a
    /// connection included). Past it, a job the server acknowledged ends in
    /// [`Failure::TimedOut`](crate::Failure::TimedOut) (it goes on at the server), one sent but
    /// not yet acknowledged in [`Failure::Ambiguous`](crate::Failure::Ambiguous), and one never
    /// sent in [`ClientError::Unreachable`] or [`Failure::NotSent`](crate::Failure::NotSent).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Whether only JOB_CREATED comes back.
    pub fn is_background(&self) -> bool {
        !self.job.kind.is_foreground()
    }

    /// The job as the machine takes it, with its deadline counted from `now`; or why it cannot
    /// be sent.
    pub(crate) fn prepare(&self, now: std::time::Instant) -> Result<NewJob, ClientError> {
        if let Some(e) = &self.invalid {
            return Err(e.clone());
        }
        let mut job = self.job.clone();
        // A timeout too large to add (`Duration::MAX`) is no deadline at all.
        job.deadline = self.timeout.and_then(|t| now.checked_add(t));
        Ok(job)
    }
}

/// 128 random bits as 32 hex digits, from the standard library's randomly keyed hasher.
fn random_unique() -> UniqueId {
    use std::hash::BuildHasher;
    let state = std::collections::hash_map::RandomState::new();
    let a = state.hash_one(std::time::SystemTime::now());
    let b = state.hash_one(a);
    UniqueId::try_from(format!("{a:016x}{b:016x}")).unwrap_or_else(|_| UniqueId::empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_str_and_errors_at_the_call() {
        let now = std::time::Instant::now();
        let job = Job::new("reverse", "x").unique("u-1");
        let prepared = job.prepare(now).unwrap();
        assert_eq!(prepared.function.as_bytes(), b"reverse");
        assert_eq!(prepared.unique.as_bytes(), b"u-1");
        let bad = Job::new("a\0b", "x").prepare(now).unwrap_err();
        assert!(matches!(
            bad,
            ClientError::InvalidArgument {
                what: "function name",
                ..
            }
        ));
        let long = Job::new("f", "x").unique("u".repeat(64)).prepare(now);
        assert!(matches!(
            long,
            Err(ClientError::InvalidArgument {
                what: "unique id",
                ..
            })
        ));
    }

    #[test]
    fn a_huge_timeout_is_no_deadline() {
        let job = Job::new("f", "x").timeout(Duration::MAX);
        assert_eq!(
            job.prepare(std::time::Instant::now()).unwrap().deadline,
            None
        );
    }

    #[test]
    fn the_timeout_counts_from_each_submission() {
        let job = Job::new("f", "x").timeout(Duration::from_secs(2));
        let t0 = std::time::Instant::now();
        let first = job.prepare(t0).unwrap().deadline.unwrap();
        let later = t0 + Duration::from_secs(60);
        let second = job.prepare(later).unwrap().deadline.unwrap();
        assert_eq!(first, t0 + Duration::from_secs(2));
        assert_eq!(second, later + Duration::from_secs(2));
    }
}
