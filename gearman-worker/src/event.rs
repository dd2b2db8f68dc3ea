//! What the worker machine tells its driver.

use std::time::Instant;

use bytes::Bytes;
use gearman_proto::{ErrorPacket, FunctionName, GrabKind, JobHandle, UniqueId};

/// A job the server handed out, to be run and then finished exactly once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    /// The server's handle.
    pub handle: JobHandle,
    /// The function to run.
    pub function: FunctionName,
    /// The unique id (GRAB_JOB_UNIQ / GRAB_JOB_ALL).
    pub unique: Option<UniqueId>,
    /// The reducer (reduce jobs via GRAB_JOB_ALL).
    pub reducer: Option<FunctionName>,
    /// The workload.
    pub data: Bytes,
    /// When the server takes the job back (CAN_DO_TIMEOUT), if it will.
    pub deadline: Option<Instant>,
}

/// Why a job was taken away from its handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbandonReason {
    /// The connection dropped: gearmand re-queues the job for another worker.
    Disconnected,
    /// The CAN_DO_TIMEOUT ran out: gearmand re-queues the job, so its result is no longer wanted.
    TimedOut,
}

/// An output of the machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Run this job, then call `update` as it goes and `finish` once.
    Job(Assignment),
    /// Stop this job's handler: its result would be refused (the server has re-queued it).
    JobAbandoned {
        /// The job.
        handle: JobHandle,
        /// Why.
        reason: AbandonReason,
    },
    /// A job for a function this worker no longer offers: failed at once with WORK_FAIL.
    JobRefused {
        /// The job.
        handle: JobHandle,
        /// Its function.
        function: FunctionName,
    },
    /// The server sent an ERROR packet (for instance JOB_NOT_FOUND for a late result).
    ServerError(ErrorPacket),
    /// The server does not know a GRAB variant (it is older than GRAB_JOB_ALL or
    /// GRAB_JOB_UNIQ): it answered it with ERROR before it ever answered it otherwise, or left it
    /// unanswered for [`grab_answer_timeout`](crate::MachineConfig::grab_answer_timeout). The
    /// connection sends `to` from now on, through reconnects. Happens at most twice per
    /// connection.
    GrabFallback {
        /// The variant the server does not know.
        from: GrabKind,
        /// The older variant used in its place.
        to: GrabKind,
        /// The server's ERROR; the older GRAB has been queued in its place. `None`: the GRAB
        /// went unanswered, may still be answered, and so the driver must close this connection
        /// and connect again (the new connection sends `to`); no job is held on it.
        error: Option<ErrorPacket>,
    },
    /// The heartbeat ECHO went unanswered: the connection is dead and should be replaced.
    ConnectionDead,
    /// Draining finished: no job is held and none will be grabbed.
    Drained,
}
