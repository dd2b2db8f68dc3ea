//! What happens to jobs, for metrics: the core stamps each job when it is queued and when a
//! worker takes it, and, once asked to ([`ServerCore::record_events`]), keeps a list of
//! [`JobEvent`]s that its driver takes with [`ServerCore::take_events`]. The core still reads
//! no clock: the durations are in the driver's time, as given to
//! [`advance`](ServerCore::advance) (milliseconds).

use gearman_proto::{JobHandle, WorkUpdate};

use super::ServerCore;

/// How one run of a job ended, or why the server gave up on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JobOutcome {
    /// WORK_COMPLETE from the worker.
    Complete,
    /// WORK_FAIL from the worker.
    Fail,
    /// WORK_EXCEPTION from the worker.
    Exception,
    /// The job went back to its queue: its worker was lost, or dropped the function.
    Requeued,
    /// The job went back to its queue: its worker's CAN_DO_TIMEOUT ran out.
    TimedOut,
    /// The job was re-queued as often as `max_retries` allows and failed to its clients (it
    /// was counted as [`Requeued`](Self::Requeued) or [`TimedOut`](Self::TimedOut) first).
    RetriesExhausted,
}

impl JobOutcome {
    /// Every outcome, in declaration order.
    pub const ALL: [Self; 6] = [
        Self::Complete,
        Self::Fail,
        Self::Exception,
        Self::Requeued,
        Self::TimedOut,
        Self::RetriesExhausted,
    ];

    /// The outcome in snake case (`complete`, `timed_out`, ...), as metrics label it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Complete => "complete",
            Self::Fail => "fail",
            Self::Exception => "exception",
            Self::Requeued => "requeued",
            Self::TimedOut => "timed_out",
            Self::RetriesExhausted => "retries_exhausted",
        }
    }

    /// Whether the worker ended the job (complete, fail or exception).
    pub fn is_terminal_result(self) -> bool {
        matches!(self, Self::Complete | Self::Fail | Self::Exception)
    }
}

/// One thing that happened to a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobEvent {
    /// A submission created a new job (one coalesced into a job held already does not).
    Submitted,
    /// A worker took a job that had waited `waited_ms` since it was last queued (submitted,
    /// come due, or re-queued).
    Assigned {
        /// Milliseconds in the queue.
        waited_ms: u64,
    },
    /// A run of a job ended, `ran_ms` after a worker took it (`None` for
    /// [`JobOutcome::RetriesExhausted`], which ends no run).
    Ended {
        /// How it ended.
        outcome: JobOutcome,
        /// Milliseconds since a worker took it.
        ran_ms: Option<u64>,
    },
}

/// The recorded events, if recording is on.
#[derive(Debug, Default)]
pub(crate) struct Events {
    list: Option<Vec<JobEvent>>,
}

impl ServerCore {
    /// Starts (or stops) keeping [`JobEvent`]s. Off by default; when on, take them with
    /// [`take_events`](Self::take_events) regularly (the tokio listener does, every round),
    /// as they are kept until taken.
    pub fn record_events(&mut self, on: bool) {
        self.events.list = on.then(|| self.events.list.take().unwrap_or_default());
    }

    /// The events recorded since the last call, oldest first (none when not recording).
    pub fn take_events(&mut self) -> Vec<JobEvent> {
        self.events
            .list
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    fn record(&mut self, event: JobEvent) {
        if let Some(list) = self.events.list.as_mut() {
            list.push(event);
        }
    }

    /// A new job was created.
    pub(super) fn note_submitted(&mut self) {
        self.record(JobEvent::Submitted);
    }

    /// `handle` was put in its queue now.
    pub(super) fn note_queued(&mut self, handle: &JobHandle) {
        let now = self.now;
        if let Some(job) = self.jobs.get_mut(handle) {
            job.queued_at = now;
        }
    }

    /// A worker took `handle` now.
    pub(super) fn note_assigned(&mut self, handle: &JobHandle) {
        let now = self.now;
        let Some(job) = self.jobs.get_mut(handle) else {
            return;
        };
        job.assigned_at = now;
        let waited_ms = now.saturating_sub(job.queued_at);
        self.record(JobEvent::Assigned { waited_ms });
    }

    /// The run of `handle` ended `outcome` (called before the job is forgotten or re-queued).
    pub(super) fn note_ended(&mut self, handle: &JobHandle, outcome: JobOutcome) {
        let now = self.now;
        let ran_ms = match outcome {
            JobOutcome::RetriesExhausted => None,
            _ => self
                .jobs
                .get(handle)
                .map(|j| now.saturating_sub(j.assigned_at)),
        };
        self.record(JobEvent::Ended { outcome, ran_ms });
    }
}

/// The outcome a terminal work update reports (only called for terminal ones).
pub(super) fn outcome_of(update: &WorkUpdate) -> JobOutcome {
    match update {
        WorkUpdate::Complete { .. } => JobOutcome::Complete,
        WorkUpdate::Exception { .. } => JobOutcome::Exception,
        _ => JobOutcome::Fail,
    }
}
