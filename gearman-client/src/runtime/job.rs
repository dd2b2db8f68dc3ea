//! The caller's view of one submitted job.

use gearman_proto::{JobHandle, WorkUpdate};
use tokio::sync::mpsc;

use super::ClientError as Error;
use crate::event::{Event, Failure, JobOutcome};

/// What happens to a job, in order: `Created`, any `Progress`, then `Done` or `Failed`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobEvent {
    /// The server accepted the job.
    Created(JobHandle),
    /// WORK_DATA, WORK_WARNING or WORK_STATUS.
    Progress(WorkUpdate),
    /// The job ended.
    Done(JobOutcome),
    /// No outcome will come (see [`Failure`]).
    Failed(Failure),
}

/// A submitted job. Dropping it stops the reporting (the job itself goes on at the server).
#[derive(Debug)]
pub struct JobStream {
    /// `None` for a background job, which ended at its creation.
    rx: Option<mpsc::Receiver<Event>>,
    server: usize,
    handle: Option<JobHandle>,
    background: bool,
    finished: bool,
    /// The caller's deadline: past it (and a short grace for the driver's own verdict) the
    /// stream ends on its own, even if its driver is stuck.
    deadline: Option<tokio::time::Instant>,
}

impl JobStream {
    pub(crate) fn new(
        rx: mpsc::Receiver<Event>,
        server: usize,
        deadline: Option<std::time::Instant>,
    ) -> Self {
        Self {
            rx: Some(rx),
            server,
            handle: None,
            background: false,
            finished: false,
            deadline: deadline.map(super::with_grace),
        }
    }

    /// A background job's stream: created, and so ended.
    pub(crate) fn background_created(handle: JobHandle, server: usize) -> Self {
        Self {
            rx: None,
            server,
            handle: Some(handle),
            background: true,
            finished: true,
            deadline: None,
        }
    }

    /// Which of the client's servers has the job (for [`Client::status`](super::Client::status)).
    pub fn server(&self) -> usize {
        self.server
    }

    /// The server's handle, once created.
    pub fn handle(&self) -> Option<&JobHandle> {
        self.handle.as_ref()
    }

    /// The next event; `None` after the last one.
    pub async fn next(&mut self) -> Option<JobEvent> {
        if self.finished {
            return None;
        }
        let received = match (self.rx.as_mut(), self.deadline) {
            (Some(rx), Some(until)) => match tokio::time::timeout_at(until, rx.recv()).await {
                Ok(received) => received,
                Err(_) => {
                    self.finished = true;
                    let failure = match self.handle {
                        Some(_) => Failure::TimedOut,
                        None => Failure::Ambiguous,
                    };
                    return Some(JobEvent::Failed(failure));
                }
            },
            (Some(rx), None) => rx.recv().await,
            (None, _) => None,
        };
        let event = match received {
            Some(e) => e,
            None => {
                // The driver let go of this job without an ending: the stream fell too far
                // behind, or the client is gone.
                self.finished = true;
                return Some(JobEvent::Failed(Failure::Abandoned));
            }
        };
        let out = match event {
            Event::Created { handle, .. } => {
                self.handle = Some(handle.clone());
                JobEvent::Created(handle)
            }
            Event::Progress { update, .. } => JobEvent::Progress(update),
            Event::Done { outcome, .. } => JobEvent::Done(outcome),
            Event::Failed { failure, .. } => JobEvent::Failed(failure),
            _ => JobEvent::Failed(Failure::Disconnected),
        };
        self.finished = matches!(out, JobEvent::Done(_) | JobEvent::Failed(_))
            || (self.background && matches!(out, JobEvent::Created(_)));
        Some(out)
    }

    /// Waits for JOB_CREATED.
    pub async fn created(&mut self) -> Result<JobHandle, Error> {
        if let Some(h) = &self.handle {
            return Ok(h.clone());
        }
        match self.next().await {
            Some(JobEvent::Created(h)) => Ok(h),
            Some(JobEvent::Failed(f)) => Err(Error::Failed(f)),
            _ => Err(Error::Closed),
        }
    }

    /// Waits for the end, skipping progress.
    pub async fn outcome(mut self) -> Result<JobOutcome, Error> {
        loop {
            match self.next().await {
                Some(JobEvent::Done(outcome)) => return Ok(outcome),
                Some(JobEvent::Failed(f)) => return Err(Error::Failed(f)),
                Some(_) => {}
                None => return Err(Error::Closed),
            }
        }
    }
}
