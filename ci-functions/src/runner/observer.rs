//! What a [`Runner`](super::Runner) tells an observer as it works, for metrics: builds as they
//! start and end, and the registrations it asks its executors' workers to make. A runner
//! without an observer skips all of it.

use crate::label::Label;
use crate::payload::BuildResult;

/// Hears of a [`Runner`](super::Runner)'s builds and registrations (see
/// [`Runner::start_observed`](super::Runner::start_observed)). Every method does nothing by
/// default; they are called from the runner's tasks, so they should return quickly.
pub trait RunnerObserver: Send + Sync + 'static {
    /// A build of `node` started on the host.
    fn build_started(&self, node: &Label) {
        let _ = node;
    }

    /// A build of `node` ended: `Some(result)` once it ran (a build whose job was lost
    /// mid-build is aborted, and ends with what the host reports then), `None` if it never
    /// started (the host refused it, or the job was lost first).
    fn build_ended(&self, node: &Label, result: Option<BuildResult>) {
        let _ = (node, result);
    }

    /// An executor's function set changed: `can_do` functions added and `cant_do` removed
    /// (a new executor registers its whole set). Its worker sends them to every server as
    /// CAN_DO and CANT_DO packets, or as one RESET_ABILITIES and the whole set when that is
    /// shorter.
    fn registrations(&self, can_do: usize, cant_do: usize) {
        let _ = (can_do, cant_do);
    }
}

/// How many executors a runner has, and how many run a build.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExecutorCounts {
    /// Executors of the nodes the runner serves (not those retired and finishing a build).
    pub total: usize,
    /// Of those, how many run a build (never more than `total`).
    pub busy: usize,
}

impl ExecutorCounts {
    /// Executors free for a build.
    pub fn idle(&self) -> usize {
        self.total.saturating_sub(self.busy)
    }
}
