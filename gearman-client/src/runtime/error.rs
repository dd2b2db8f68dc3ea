//! What a call of the tokio [`Client`](super::Client) can end in besides its result.

use bytes::Bytes;
use gearman_io::Unreachable;

use crate::event::Failure;

/// Why a client call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The request did not get its answer (see [`Failure`] for what is known of the job:
    /// [`Failure::NotSent`] means it certainly does not exist, [`Failure::Ambiguous`] that it may).
    #[error(transparent)]
    Failed(#[from] Failure),
    /// No server was configured, or a server index that does not exist was named.
    #[error("no such server: none was configured, or the index is out of range")]
    NoServer,
    /// No server could be reached: nothing was sent. Holds each server's last connect error
    /// (`connection refused`, a timeout, ...).
    #[error(transparent)]
    Unreachable(#[from] Unreachable),
    /// A job's function name, unique id or reducer is not valid; nothing was sent.
    #[error("invalid {what}: {reason}")]
    InvalidArgument {
        /// Which part of the request.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// The job ended with WORK_FAIL.
    #[error("the job failed")]
    JobFailed,
    /// The job ended with WORK_EXCEPTION.
    #[error("the job raised an exception")]
    JobException(Bytes),
    /// The client was shut down.
    #[error("the client is closed")]
    Closed,
    /// Started outside a tokio runtime.
    #[error("a client must be started inside a tokio runtime")]
    NoRuntime,
}

impl ClientError {
    /// Whether the job certainly was not submitted, so that submitting it again cannot run it
    /// twice.
    pub fn is_not_sent(&self) -> bool {
        matches!(
            self,
            Self::Failed(Failure::NotSent)
                | Self::NoServer
                | Self::Unreachable(_)
                | Self::InvalidArgument { .. }
                | Self::NoRuntime
        )
    }
}

/// The client's error under its old name; [`ClientError`] does not clash with
/// `gearman_worker::WorkerError` in a program that uses both crates.
pub type Error = ClientError;
