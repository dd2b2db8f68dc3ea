//! The glue: one worker per node (one connection per executor per server), one management
//! worker per host, function sets kept in step with the host.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gearman_proto::{ClientId, FunctionName};
use gearman_worker::{FunctionSet, Job, JobError, JobResult, Worker};
use tokio::sync::Mutex;
use tracing::{info, warn};

use crate::host::{AbortOutcome, BuildRequest, CiHost};
use crate::label::{Label, ProjectName};
use crate::naming;
use crate::payload::{offline_when_complete, parse_build_ref, parse_params, BuildReport};
use crate::policy::functions_for;

/// Why the runner could not do its work.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunnerError<E: std::error::Error + 'static> {
    /// The host failed.
    #[error("host: {0}")]
    Host(#[source] E),
    /// A worker could not start.
    #[error("worker: {0}")]
    Worker(String),
}

/// A node's executors: one worker each (one connection per server, one job at a time), so an
/// executor can be added or retired on its own.
struct NodeWorkers {
    executors: Vec<Worker>,
}

struct Shared<H: CiHost> {
    host: Arc<H>,
    servers: Vec<String>,
    nodes: Mutex<HashMap<Label, NodeWorkers>>,
}

/// Runs a [`CiHost`]'s builds for Gearman jobs, as the Jenkins gearman plugin did.
pub struct Runner<H: CiHost> {
    shared: Arc<Shared<H>>,
    management: Worker,
    watcher: tokio::task::JoinHandle<()>,
}

impl<H: CiHost> std::fmt::Debug for Runner<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("servers", &self.shared.servers)
            .finish_non_exhaustive()
    }
}

fn ascii_id(text: String) -> Option<ClientId> {
    ClientId::try_from(text).ok()
}

/// `build:P` or `build:P:L` back to `P` (names cannot hold ':').
fn project_of(function: &FunctionName) -> Option<ProjectName> {
    let name = function.to_string();
    let rest = name.strip_prefix("build:")?;
    ProjectName::new(rest.split(':').next()?).ok()
}

impl<H: CiHost> Shared<H> {
    /// Recomputes every node's functions and applies them; starts and retires executors as
    /// their count changes (no restart needed).
    async fn refresh(self: &Arc<Self>) -> Result<(), RunnerError<H::Error>> {
        let projects = self.host.projects().await.map_err(RunnerError::Host)?;
        let nodes = self.host.nodes().await.map_err(RunnerError::Host)?;
        let mut workers = self.nodes.lock().await;
        for node in nodes {
            let set: FunctionSet = functions_for(&node.info, &projects).into_iter().collect();
            let name = node.info.name.clone();
            let entry = workers.entry(name.clone()).or_insert_with(|| NodeWorkers {
                executors: Vec::new(),
            });
            while entry.executors.len() < node.executors {
                let i = entry.executors.len();
                entry.executors.push(self.start_executor(&name, i)?);
            }
            while entry.executors.len() > node.executors {
                if let Some(retired) = entry.executors.pop() {
                    // Stops grabbing at once; a running build finishes first.
                    tokio::spawn(async move {
                        let _ = retired.shutdown(Duration::from_secs(24 * 3600)).await;
                    });
                }
            }
            for worker in &entry.executors {
                if worker.functions() != set {
                    // Every function has the fallback handler: this cannot fail.
                    let _ = worker.set_functions(set.clone());
                }
            }
        }
        Ok(())
    }

    fn start_executor(
        self: &Arc<Self>,
        node: &Label,
        i: usize,
    ) -> Result<Worker, RunnerError<H::Error>> {
        let mut builder = Worker::builder().concurrency(1);
        if let Some(id) = ascii_id(format!("{node}_exec-{i}")) {
            builder = builder.client_id(id);
        }
        for s in &self.servers {
            builder = builder.server(s.clone());
        }
        let shared = Arc::downgrade(self);
        let node_name = node.clone();
        info!(node = %node, executor = i, "starting executor");
        builder
            .fallback(move |job: Job| {
                let shared = shared.clone();
                let node_name = node_name.clone();
                async move {
                    let Some(shared) = shared.upgrade() else {
                        return Err(JobError::Fail);
                    };
                    shared.run_build(node_name, job).await
                }
            })
            .spawn()
            .map_err(|e| RunnerError::Worker(e.to_string()))
    }

    /// One `build:` job, as ci-plugin.md §2-§3 has it: parameters in, the build started on
    /// this node, WORK_DATA and WORK_STATUS when it runs, WORK_COMPLETE with the result.
    async fn run_build(self: Arc<Self>, node: Label, job: Job) -> JobResult {
        let exception = |msg: String| JobError::Exception(Bytes::from(msg));
        let project = project_of(job.function()).ok_or(JobError::Fail)?;
        let params = parse_params(job.data()).map_err(|e| exception(e.to_string()))?;
        let offline = offline_when_complete(&params);
        let unique = job
            .unique()
            .filter(|u| !u.is_empty())
            .map(|u| String::from_utf8_lossy(u.as_bytes()).into_owned());
        let request = BuildRequest {
            project: project.clone(),
            node: node.clone(),
            params,
            unique,
        };
        let build = self
            .host
            .start_build(request)
            .await
            .map_err(|e| exception(format!("cannot start {project}: {e}")))?;
        let started = Instant::now();
        let nodes = self.host.nodes().await.unwrap_or_default();
        let labels = nodes
            .iter()
            .find(|n| n.info.name == node)
            .map(|n| n.info.atoms().iter().map(|l| l.to_string()).collect())
            .unwrap_or_else(|| vec![node.to_string()]);
        let report = BuildReport {
            name: project.to_string(),
            number: build.number,
            manager: self.host.manager().to_string(),
            worker: job
                .connection_id()
                .map(|c| c.to_string())
                .unwrap_or_default(),
            url: build.url.clone(),
            node_name: node.to_string(),
            node_labels: labels,
        };
        let _ = job.send_data(report.start_payload()).await;
        let elapsed = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let estimate = build
            .estimated
            .map_or(-1, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let _ = job.send_status(elapsed, estimate).await;
        let result = build.finished.await;
        if offline {
            if let Err(e) = self.host.set_node_offline(&node).await {
                warn!(%node, error = %e, "could not take the node offline");
            }
            // Deregister before this job's slot frees, so the node takes nothing more.
            if let Err(e) = self.refresh().await {
                warn!(error = %e, "refresh after taking a node offline failed");
            }
        }
        Ok(Bytes::from(report.complete_payload(result)))
    }
}

async fn stop<H: CiHost>(host: Arc<H>, job: Job) -> JobResult {
    let exception = |msg: String| JobError::Exception(Bytes::from(msg));
    let build = parse_build_ref(job.data()).map_err(|e| exception(e.to_string()))?;
    match host.abort_build(&build.name, build.number).await {
        Ok(AbortOutcome::Aborted) => Ok(Bytes::new()),
        Ok(AbortOutcome::AlreadyAborting | AbortOutcome::AlreadyFinished) => Err(JobError::Fail),
        Ok(AbortOutcome::NotFound) => Err(exception(format!(
            "Cannot find build {}: {}",
            build.name, build.number
        ))),
        Err(e) => Err(exception(format!(
            "Cannot stop {}: {}: {e}",
            build.name, build.number
        ))),
    }
}

async fn set_description<H: CiHost>(host: Arc<H>, job: Job) -> JobResult {
    let exception = |msg: String| JobError::Exception(Bytes::from(msg));
    let build = parse_build_ref(job.data()).map_err(|e| exception(e.to_string()))?;
    let html = build.html_description.clone();
    match host
        .set_description(&build.name, build.number, html.clone())
        .await
    {
        Ok(true) => Ok(Bytes::from(format!(
            "Description for Jenkins build {} was updated to {}",
            build.number,
            html.as_deref().unwrap_or("null")
        ))),
        Ok(false) => Err(exception(format!(
            "Cannot find build number {}",
            build.number
        ))),
        Err(_) => Err(exception(format!(
            "Unable to set description for {}: {}",
            build.name, build.number
        ))),
    }
}

impl<H: CiHost> Runner<H> {
    /// Starts the management worker and a worker per node, registers every node's functions,
    /// and follows the host's changes.
    pub async fn start(host: Arc<H>, servers: Vec<String>) -> Result<Self, RunnerError<H::Error>> {
        let manager = host.manager();
        let mut builder = Worker::builder();
        for s in &servers {
            builder = builder.server(s.clone());
        }
        if let Some(id) = ascii_id(format!("{manager}_manager")) {
            builder = builder.client_id(id);
        }
        let (h1, h2) = (host.clone(), host.clone());
        let management = builder
            .function(naming::stop(&manager), move |job: Job| {
                stop(h1.clone(), job)
            })
            .function(naming::set_description(&manager), move |job: Job| {
                set_description(h2.clone(), job)
            })
            .spawn()
            .map_err(|e| RunnerError::Worker(e.to_string()))?;
        let shared = Arc::new(Shared {
            host,
            servers,
            nodes: Mutex::new(HashMap::new()),
        });
        shared.refresh().await?;
        let weak = Arc::downgrade(&shared);
        let watcher = tokio::spawn(async move {
            loop {
                let Some(shared) = weak.upgrade() else { return };
                shared.host.changed().await;
                if let Err(e) = shared.refresh().await {
                    warn!(error = %e, "refresh failed");
                }
            }
        });
        Ok(Self {
            shared,
            management,
            watcher,
        })
    }

    /// Recomputes and re-registers every node's functions now (e.g. on SIGHUP).
    pub async fn refresh(&self) -> Result<(), RunnerError<H::Error>> {
        self.shared.refresh().await
    }

    /// Stops taking jobs, lets running builds end within `grace`, and disconnects.
    pub async fn shutdown(&self, grace: Duration) {
        self.watcher.abort();
        let workers: Vec<Worker> = self
            .shared
            .nodes
            .lock()
            .await
            .values()
            .flat_map(|n| n.executors.iter().cloned())
            .collect();
        for w in workers.iter().chain(std::iter::once(&self.management)) {
            let _ = w.shutdown(grace).await;
        }
    }
}
