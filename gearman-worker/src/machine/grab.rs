//! The grab/sleep cycle of one connection (protocol.md §3.1).

use std::time::Instant;

/// Where the connection is in the grab/sleep cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrabState {
    /// No grab outstanding and not asleep: the next free slot sends GRAB.
    Idle,
    /// A GRAB went out; waiting for JOB_ASSIGN* or NO_JOB. NOOPs here are stray and ignored.
    AwaitingJob,
    /// NO_JOB came and PRE_SLEEP went out; waiting for NOOP, or the re-grab timer.
    Sleeping {
        /// When PRE_SLEEP was sent.
        since: Instant,
    },
}
