//! Job handlers and what they get: the job, and a way to report progress.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use gearman_proto::{ClientId, FunctionName, JobHandle, UniqueId, WorkUpdate};
use tokio::sync::mpsc;

use super::driver::JobMsg;
use super::gate::GatePass;

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// How a handler ends a job other than with a result.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// Sent as WORK_FAIL.
    #[error("job failed")]
    Fail,
    /// Sent as WORK_EXCEPTION with this data (clients without the `exceptions` option see a
    /// WORK_FAIL).
    #[error("job raised an exception")]
    Exception(Bytes),
}

/// What a handler returns: WORK_COMPLETE data, or a failure.
pub type JobResult = Result<Bytes, JobError>;

/// A job function: any `Fn(Job) -> impl Future<Output = JobResult>`, such as an `async fn` or a
/// closure returning an `async` block. Implemented automatically; never implement it yourself.
///
/// [`WorkerBuilder::function`](super::WorkerBuilder::function) and the other methods that take a
/// function bound their argument this way, so a closure needs no type annotations:
/// `.function("echo", |job| async move { Ok(job.data().clone()) })`. The same holds for a
/// helper of your own taking `impl Handler`. For a handler that is a struct or a trait object,
/// implement [`JobHandler`] and pass it with [`WorkerBuilder::handler`](super::WorkerBuilder::handler).
///
/// The future runs on its connection's task, beside the socket (no task spawn, no cross-thread
/// hand-off per job). It must not block: run CPU-heavy or blocking work with
/// `tokio::task::spawn_blocking` and await it. A panic in it is caught and reported as
/// WORK_EXCEPTION `panic: <message>`; the worker keeps serving.
pub trait Handler: Fn(Job) -> <Self as Handler>::Future + Send + Sync + 'static {
    /// The future the function returns.
    type Future: Future<Output = JobResult> + Send + 'static;
}

impl<F, Fut> Handler for F
where
    F: Fn(Job) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = JobResult> + Send + 'static,
{
    type Future = Fut;
}

/// Runs jobs: the object-safe form of a handler, for structs and trait objects.
///
/// Every [`Handler`] (closure or `async fn`) is one already. Implement it for a struct that
/// carries its own state, and pass it with [`WorkerBuilder::handler`](super::WorkerBuilder::handler)
/// or [`Worker::add_handler`](super::Worker::add_handler); a [`SharedHandler`] can be passed too.
/// The rules of [`Handler`] apply: do not block, panics become WORK_EXCEPTION.
pub trait JobHandler: Send + Sync + 'static {
    /// Runs one job.
    fn call(&self, job: Job) -> BoxFuture<JobResult>;
}

impl<H: Handler> JobHandler for H {
    fn call(&self, job: Job) -> BoxFuture<JobResult> {
        Box::pin(self(job))
    }
}

impl JobHandler for SharedHandler {
    fn call(&self, job: Job) -> BoxFuture<JobResult> {
        (**self).call(job)
    }
}

/// A shared handler.
pub type SharedHandler = Arc<dyn JobHandler>;

/// The job is no longer held by its connection: it was abandoned (the connection dropped, or its
/// CAN_DO_TIMEOUT ran out and the server re-queued it), it already ended, or the worker is
/// shutting down. Also what a `Job` moved into a task of its own gets once that happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the job is no longer held by its connection")]
pub struct JobGone;

/// `?` on a progress update in a handler: a job that is gone ends as [`JobError::Fail`].
///
/// Nothing is sent for it: a gone job was abandoned (its connection dropped, or its
/// CAN_DO_TIMEOUT ran out and the server re-queued it) or the worker is stopping, and the result
/// of a job its connection no longer holds is never sent. Returning at once only stops the work.
impl From<JobGone> for JobError {
    fn from(_: JobGone) -> Self {
        Self::Fail
    }
}

/// One job, as a handler sees it.
///
/// gearman-client's `Job` is something else (a job to submit); the two never need to be
/// imported together, since a handler closure gets this one's type from the builder's bound.
#[derive(Debug)]
pub struct Job {
    pub(crate) handle: JobHandle,
    pub(crate) function: FunctionName,
    pub(crate) unique: Option<UniqueId>,
    pub(crate) reducer: Option<FunctionName>,
    pub(crate) data: Bytes,
    pub(crate) connection: Option<ClientId>,
    pub(crate) epoch: u64,
    pub(crate) updates: mpsc::Sender<JobMsg>,
    /// Raised by the driver once its connection no longer holds the job.
    pub(crate) gone: Arc<AtomicBool>,
    pub(crate) gate_pass: Option<GatePass>,
}

impl Job {
    /// The server's handle.
    pub fn handle(&self) -> &JobHandle {
        &self.handle
    }

    /// The function.
    pub fn function(&self) -> &FunctionName {
        &self.function
    }

    /// The unique id, when the server sent one.
    pub fn unique(&self) -> Option<&UniqueId> {
        self.unique.as_ref()
    }

    /// The reducer of a map/reduce job (with [`GrabKind::All`](gearman_proto::GrabKind::All)).
    pub fn reducer(&self) -> Option<&FunctionName> {
        self.reducer.as_ref()
    }

    /// The client id of the connection the job came on, if it has one.
    pub fn connection_id(&self) -> Option<&ClientId> {
        self.connection.as_ref()
    }

    /// Takes the [`GatePass`] this job was grabbed with (with a
    /// [`gate`](super::WorkerBuilder::gate)), to release it early or keep it past the job.
    pub fn take_gate_pass(&mut self) -> Option<GatePass> {
        self.gate_pass.take()
    }

    /// The workload.
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    async fn send(&self, update: WorkUpdate) -> Result<(), JobGone> {
        if self.gone.load(Ordering::Relaxed) {
            return Err(JobGone);
        }
        self.updates
            .send(JobMsg {
                epoch: self.epoch,
                update,
            })
            .await
            .map_err(|_| JobGone)
    }

    /// Sends WORK_DATA (a partial result) to waiting clients.
    pub async fn send_data(&self, data: impl Into<Bytes>) -> Result<(), JobGone> {
        let handle = self.handle.clone();
        self.send(WorkUpdate::Data {
            handle,
            data: data.into(),
        })
        .await
    }

    /// Sends WORK_WARNING.
    pub async fn send_warning(&self, data: impl Into<Bytes>) -> Result<(), JobGone> {
        let handle = self.handle.clone();
        self.send(WorkUpdate::Warning {
            handle,
            data: data.into(),
        })
        .await
    }

    /// Sends WORK_STATUS: `numerator` of `denominator` done (the Jenkins plugin sends elapsed
    /// and estimated milliseconds, with `-1` for an unknown estimate).
    pub async fn send_status(&self, numerator: i64, denominator: i64) -> Result<(), JobGone> {
        let handle = self.handle.clone();
        self.send(WorkUpdate::Status {
            handle,
            numerator,
            denominator,
        })
        .await
    }
}
