//! Why the runner could not do its work.

/// Why the runner could not do its work.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunnerError<E: std::error::Error + 'static> {
    /// The host failed to list its projects or nodes.
    #[error("host: {0}")]
    Host(#[source] E),
    /// A worker could not start (no server given, or called outside a tokio runtime).
    #[error("worker: {0}")]
    Worker(#[from] gearman_worker::BuildError),
}
