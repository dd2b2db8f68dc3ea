//! Errors of the worker, split by who caused them.

use gearman_proto::{JobHandle, PacketType};

/// The server broke the protocol: the connection should be closed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A packet the worker's state does not allow.
    #[error("unexpected {got} (expected one of {expected:?})")]
    Inappropriate {
        /// What the state accepts.
        expected: &'static [PacketType],
        /// What came.
        got: PacketType,
    },
    /// A job was assigned with the handle of a job this connection already holds.
    #[error("job {0} assigned twice")]
    DuplicateHandle(JobHandle),
}

/// The caller misused the machine; nothing was sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// No job with this handle is held (it ended, was abandoned, or never existed).
    #[error("no job {0} is held")]
    UnknownJob(JobHandle),
    /// `update` was given a terminal packet, or an update for another handle.
    #[error("not a progress update for {0}")]
    BadUpdate(JobHandle),
}
