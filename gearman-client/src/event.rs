//! What the client machine reports, keyed by the id each request got.

use bytes::Bytes;
use gearman_proto::{JobHandle, JobStatus, UniqueStatus, WorkUpdate};

/// Names one request of a client machine: a submission, a status query, an echo.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub(crate) u64);

/// How a foreground job ended on the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobOutcome {
    /// WORK_COMPLETE with the result.
    Complete(Bytes),
    /// WORK_FAIL.
    Fail,
    /// WORK_EXCEPTION with its data (needs the `exceptions` option, negotiated on connect).
    Exception(Bytes),
}

/// Why a request did not get its answer. Nothing is retried behind the caller's back.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Failure {
    /// Never sent: no connection, or it dropped before the request went out.
    #[error("not sent")]
    NotSent,
    /// Sent, but not acknowledged: the connection dropped (or fell out of step), the server
    /// did not answer within the request timeout, or the caller's deadline passed first. The
    /// job may or may not exist.
    #[error("sent but not acknowledged: the job may or may not exist")]
    Ambiguous,
    /// The server answered with ERROR (unique too long, queue full, ...).
    #[error("refused by the server: {code} {text}")]
    Refused {
        /// The error code.
        code: String,
        /// The server's text.
        text: String,
    },
    /// The connection dropped while the job was running: its outcome is unknown.
    #[error("disconnected while the job was running")]
    Disconnected,
    /// The caller's deadline passed after the server acknowledged the job (it goes on at the
    /// server), or a query (status, echo) went unanswered.
    #[error("deadline passed")]
    TimedOut,
    /// The client stopped following the job (its stream left
    /// [`STREAM_BUFFER`](crate::STREAM_BUFFER) events unread, or the client was dropped); the
    /// job itself goes on.
    #[error("the client stopped following the job")]
    Abandoned,
}

/// An output of the client machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The server accepted a submission (JOB_CREATED). A background job ends here.
    Created {
        /// The submission.
        id: RequestId,
        /// The server's handle.
        handle: JobHandle,
    },
    /// WORK_DATA, WORK_WARNING or WORK_STATUS of a foreground job.
    Progress {
        /// The submission.
        id: RequestId,
        /// The update.
        update: WorkUpdate,
    },
    /// A foreground job ended.
    Done {
        /// The submission.
        id: RequestId,
        /// How.
        outcome: JobOutcome,
    },
    /// Answer to GET_STATUS.
    Status {
        /// The query.
        id: RequestId,
        /// The status.
        status: JobStatus,
    },
    /// Answer to GET_STATUS_UNIQUE.
    UniqueStatus {
        /// The query.
        id: RequestId,
        /// The status.
        status: UniqueStatus,
    },
    /// Answer to ECHO_REQ.
    Echo {
        /// The echo.
        id: RequestId,
        /// The data that came back.
        data: Bytes,
    },
    /// A request ended without its answer.
    Failed {
        /// The request.
        id: RequestId,
        /// Why.
        failure: Failure,
    },
    /// The `exceptions` option was refused or went unanswered: WORK_EXCEPTION arrives as
    /// WORK_FAIL on this connection.
    ExceptionsUnavailable,
    /// The heartbeat ECHO went unanswered: the connection is dead and should be replaced.
    ConnectionDead,
    /// A submission went unacknowledged past its deadline: later replies can no longer be
    /// matched to requests, so the connection must be closed (pending requests then fail).
    OutOfStep,
}
