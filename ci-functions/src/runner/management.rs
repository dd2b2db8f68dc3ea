//! `stop:MANAGER` and `set_description:MANAGER` (ci-plugin.md §4), answered from the host's
//! own bookkeeping, so they work whichever server delivered them.

use std::sync::Arc;

use bytes::Bytes;
use gearman_worker::{Job, JobError, JobResult};

use crate::host::{AbortOutcome, CiHost};
use crate::label::ProjectName;
use crate::payload::parse_build_ref;

fn exception(msg: String) -> JobError {
    JobError::Exception(Bytes::from(msg))
}

pub(super) async fn stop<H: CiHost>(host: Arc<H>, job: Job) -> JobResult {
    let build = parse_build_ref(job.data()).map_err(|e| exception(e.to_string()))?;
    let not_found = || {
        exception(format!(
            "Cannot find build {}: {}",
            build.name, build.number
        ))
    };
    // A name no project can have names no build.
    let project = ProjectName::new(build.name.clone()).map_err(|_| not_found())?;
    match host.abort_build(&project, build.number).await {
        Ok(AbortOutcome::Aborted) => Ok(Bytes::new()),
        Ok(AbortOutcome::AlreadyAborting | AbortOutcome::AlreadyFinished) => Err(JobError::Fail),
        Ok(AbortOutcome::NotFound) => Err(not_found()),
        Err(e) => Err(exception(format!(
            "Cannot stop {}: {}: {e}",
            build.name, build.number
        ))),
    }
}

pub(super) async fn set_description<H: CiHost>(host: Arc<H>, job: Job) -> JobResult {
    let build = parse_build_ref(job.data()).map_err(|e| exception(e.to_string()))?;
    let not_found = || exception(format!("Cannot find build number {}", build.number));
    let project = ProjectName::new(build.name.clone()).map_err(|_| not_found())?;
    let html = build.html_description.clone();
    match host
        .set_description(&project, build.number, html.clone())
        .await
    {
        Ok(true) => Ok(Bytes::from(format!(
            "Description for Jenkins build {} was updated to {}",
            build.number,
            html.as_deref().unwrap_or("null")
        ))),
        Ok(false) => Err(not_found()),
        Err(_) => Err(exception(format!(
            "Unable to set description for {}: {}",
            build.name, build.number
        ))),
    }
}
