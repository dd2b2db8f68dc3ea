//! Time: epoch jobs that come due, CAN_DO_TIMEOUT deadlines that expire and woken workers
//! that never came. The core reads no clock; its driver says what time it is.

use super::ServerCore;

impl ServerCore {
    /// Moves the clock to `now` (unix milliseconds; a clock going backwards is ignored): epoch
    /// jobs now due are queued and their function's sleeping workers woken (a fix: gearmand
    /// 1.1.20 never wakes them, §3.12), and jobs whose worker's CAN_DO_TIMEOUT ran out are
    /// re-queued like a lost worker's (the worker's later result gets JOB_NOT_FOUND); a woken
    /// worker that has not come for [`WAKE_GRACE_MS`](super::WAKE_GRACE_MS) is replaced.
    pub fn advance(&mut self, now: u64) {
        self.now = self.now.max(now);
        while let Some((at, handle)) = self.scheduled.first().cloned() {
            if at > self.now {
                break;
            }
            self.scheduled.remove(&(at, handle.clone()));
            let Some(job) = self.jobs.get_mut(&handle) else {
                continue;
            };
            job.run_at = None;
            let (function, priority) = (job.function.clone(), job.priority);
            self.fn_state(&function).scheduled -= 1;
            self.enqueue(&function, priority, handle);
        }
        while let Some((at, handle)) = self.deadlines.first().cloned() {
            if at > self.now {
                break;
            }
            self.deadlines.remove(&(at, handle.clone()));
            if let Some(job) = self.jobs.get_mut(&handle) {
                job.deadline = None;
            }
            self.requeue_for(&handle, super::JobOutcome::TimedOut);
        }
        self.expire_wakes();
    }

    /// The clock as last advanced (unix milliseconds).
    pub fn now(&self) -> u64 {
        self.now
    }

    /// When [`advance`](Self::advance) next has something to do (unix milliseconds).
    pub fn next_deadline(&self) -> Option<u64> {
        let epoch = self.scheduled.first().map(|(t, _)| *t);
        let timeout = self.deadlines.first().map(|(t, _)| *t);
        let wake = self.wakes.first().map(|(t, _)| *t);
        [epoch, timeout, wake].into_iter().flatten().min()
    }
}
