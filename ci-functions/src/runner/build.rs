//! One `build:` job (ci-plugin.md §2-§3, §5.2, §6).
//!
//! The job's handler hands the build to a task of its own, which outlives the handler: when
//! the connection drops mid-build, the server takes the job back (gearmand re-queues it, or
//! fails it to the client) and the driver drops the handler. The build task then aborts the
//! build on the host (or gives up its pending start), so it does not finish as if it still
//! owned the job; its result goes nowhere, and the client sees only what the server tells it.
//! Whatever the ending, a single-use build's node goes offline and is retired before the node
//! lock is released, so no executor of that node grabs again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gearman_proto::FunctionName;
use gearman_worker::{GatePass, Job, JobError, JobResult};
use tokio::sync::oneshot;
use tracing::{info, warn};

use super::Shared;
use crate::host::{BuildRequest, CiHost, RunningBuild};
use crate::label::{Label, ProjectName};
use crate::payload::{offline_when_complete, parse_params, BuildReport};

/// `build:P` or `build:P:L` back to `P` (names cannot hold ':').
fn project_of(function: &FunctionName) -> Option<ProjectName> {
    let name = function.to_string();
    let rest = name.strip_prefix("build:")?;
    ProjectName::new(rest.split(':').next()?).ok()
}

fn exception(msg: String) -> JobError {
    JobError::Exception(Bytes::from(msg))
}

/// What the build task tells the handler once the build runs.
struct Started {
    report: BuildReport,
    estimated: Option<Duration>,
    at: Instant,
}

/// The build task's end of the conversation.
struct Task<H: CiHost> {
    shared: Arc<Shared<H>>,
    node: Label,
    request: BuildRequest,
    offline: bool,
    worker: String,
    /// The node lock (from the grab): released once the build started, or at its end for a
    /// single-use build.
    pass: Option<GatePass>,
    started: Option<oneshot::Sender<Result<Started, String>>>,
    done: Option<oneshot::Sender<Bytes>>,
    /// Closes when the handler is dropped: the job is gone.
    lost: oneshot::Receiver<()>,
    /// Counts this build against its node's executors until the task ends, also when its job
    /// was lost and its executor free again.
    _slot: Option<super::lock::BuildSlot>,
}

impl<H: CiHost> Shared<H> {
    /// The handler of every `build:` function of `node`.
    pub(super) async fn run_build(self: Arc<Self>, node: Label, mut job: Job) -> JobResult {
        let pass = job.take_gate_pass();
        let project = project_of(job.function()).ok_or(JobError::Fail)?;
        let params = parse_params(job.data()).map_err(|e| exception(e.to_string()))?;
        let offline = offline_when_complete(&params);
        let unique = job.unique().filter(|u| !u.as_bytes().is_empty()).cloned();
        let (started_tx, started_rx) = oneshot::channel();
        let (done_tx, done_rx) = oneshot::channel();
        let (_alive, lost) = oneshot::channel::<()>();
        let slot = self.build_slot(&node).await;
        let task = Task {
            shared: self,
            node: node.clone(),
            request: BuildRequest {
                project,
                node,
                params,
                unique,
            },
            offline,
            worker: job
                .connection_id()
                .map(|c| c.to_string())
                .unwrap_or_default(),
            pass,
            started: Some(started_tx),
            done: Some(done_tx),
            lost,
            _slot: slot,
        };
        tokio::spawn(task.run());
        let started = match started_rx.await {
            Ok(Ok(started)) => started,
            Ok(Err(msg)) => return Err(exception(msg)),
            Err(_) => return Err(JobError::Fail),
        };
        let _ = job.send_data(started.report.start_payload()).await;
        let elapsed = i64::try_from(started.at.elapsed().as_millis()).unwrap_or(i64::MAX);
        let estimate = started
            .estimated
            .map_or(-1, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let _ = job.send_status(elapsed, estimate).await;
        done_rx.await.map_err(|_| JobError::Fail)
    }
}

impl<H: CiHost> Task<H> {
    async fn run(mut self) {
        let host = self.shared.host.clone();
        let project = self.request.project.clone();
        let start = host.start_build(self.request.clone());
        let started = tokio::select! {
            started = start => Some(started),
            _ = &mut self.lost => None,
        };
        let build = match started {
            None => {
                info!(%project, node = %self.node, "job lost before the build started: start given up");
                self.observe(None);
                self.end().await;
                return;
            }
            Some(Err(e)) => {
                self.observe(None);
                if let Some(tx) = self.started.take() {
                    let _ = tx.send(Err(format!("cannot start {project}: {e}")));
                }
                self.end().await;
                return;
            }
            Some(Ok(build)) => build,
        };
        if let Some(o) = &self.shared.observer {
            o.build_started(&self.node);
        }
        if !self.offline {
            self.pass = None;
        }
        let started = Instant::now();
        let RunningBuild {
            number,
            url,
            estimated,
            mut finished,
        } = build;
        let report = self.report(number, url).await;
        if let Some(tx) = self.started.take() {
            let _ = tx.send(Ok(Started {
                report: report.clone(),
                estimated,
                at: started,
            }));
        }
        let result = tokio::select! {
            result = &mut finished => Some(result),
            _ = &mut self.lost => None,
        };
        let result = match result {
            Some(result) => result,
            None => {
                warn!(%project, number, "job lost mid-build: aborting the build");
                if let Err(e) = host.abort_build(&project, number).await {
                    warn!(%project, number, error = %e, "could not abort the build");
                }
                finished.await
            }
        };
        self.observe(Some(result));
        self.end().await;
        if let Some(tx) = self.done.take() {
            let _ = tx.send(Bytes::from(report.complete_payload(result)));
        }
    }

    /// Tells the observer, if any, how the build ended.
    fn observe(&self, result: Option<crate::payload::BuildResult>) {
        if let Some(o) = &self.shared.observer {
            o.build_ended(&self.node, result);
        }
    }

    async fn report(&self, number: u64, url: Option<String>) -> BuildReport {
        let nodes = self.shared.host.nodes().await.unwrap_or_default();
        let labels = nodes
            .iter()
            .find(|n| n.info.name == self.node)
            .map(|n| n.info.atoms().iter().map(|l| l.to_string()).collect())
            .unwrap_or_else(|| vec![self.node.to_string()]);
        BuildReport {
            name: self.request.project.to_string(),
            number,
            manager: self.shared.host.manager().to_string(),
            worker: self.worker.clone(),
            url,
            node_name: self.node.to_string(),
            node_labels: labels,
        }
    }

    /// Every ending: a single-use build takes its node offline and retires its executors
    /// before the lock is released.
    async fn end(&mut self) {
        if self.offline {
            self.shared.mark_used_up(&self.node);
            if let Err(e) = self.shared.host.set_node_offline(&self.node).await {
                warn!(node = %self.node, error = %e, "could not take the node offline");
            }
            if let Err(e) = self.shared.refresh().await {
                warn!(error = %e, "refresh after taking a node offline failed");
            }
            // Even if the host failed to take it offline, this node grabs nothing more: it is
            // marked used up until the host reports it offline and then online again.
            self.shared.retire(&self.node).await;
        }
        self.pass = None;
    }
}
