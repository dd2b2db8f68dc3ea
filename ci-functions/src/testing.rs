//! [`FakeHost`]: a scripted CI host for tests, of this crate and of yours.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::Generation;

use crate::book::BuildBook;
use crate::host::{AbortOutcome, BuildRequest, CiHost, HostNode, RunningBuild};
use crate::label::{Label, ManagerName};
use crate::payload::BuildResult;
use crate::policy::ProjectInfo;

/// Why the fake host refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("fake host: {0}")]
pub struct FakeError(pub String);

#[derive(Default)]
struct State {
    projects: Vec<ProjectInfo>,
    nodes: Vec<HostNode>,
    book: BuildBook<oneshot::Sender<BuildResult>>,
    started: Vec<BuildRequest>,
}

/// A CI host whose projects and nodes the test sets, whose builds run until the test ends them
/// ([`finish`](Self::finish)) or `stop:` aborts them, and which records what it was asked.
#[derive(Clone)]
pub struct FakeHost {
    manager: ManagerName,
    state: Arc<Mutex<State>>,
    generation: Generation,
}

impl std::fmt::Debug for FakeHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeHost")
            .field("manager", &self.manager)
            .finish_non_exhaustive()
    }
}

impl FakeHost {
    /// A host named `manager` with these projects and nodes.
    pub fn new(manager: ManagerName, projects: Vec<ProjectInfo>, nodes: Vec<HostNode>) -> Self {
        Self {
            manager,
            state: Arc::new(Mutex::new(State {
                projects,
                nodes,
                ..State::default()
            })),
            generation: Generation::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the projects and tells the runner.
    pub fn set_projects(&self, projects: Vec<ProjectInfo>) {
        self.state().projects = projects;
        self.generation.bump();
    }

    /// Replaces the nodes and tells the runner.
    pub fn set_nodes(&self, nodes: Vec<HostNode>) {
        self.state().nodes = nodes;
        self.generation.bump();
    }

    /// Ends a running build with `result`; false if it is not running.
    pub fn finish(&self, project: &str, number: u64, result: BuildResult) -> bool {
        let tx = self.state().book.take(project, number);
        match tx {
            Some(tx) => tx.send(result).is_ok(),
            None => false,
        }
    }

    /// Builds started so far, in order.
    pub fn started(&self) -> Vec<BuildRequest> {
        self.state().started.clone()
    }

    /// Builds running now, as `(project, number)`.
    pub fn running(&self) -> Vec<(String, u64)> {
        self.state().book.running()
    }

    /// A build's description, if one was set.
    pub fn description(&self, project: &str, number: u64) -> Option<Option<String>> {
        self.state().book.description(project, number)
    }

    /// Whether a node is online.
    pub fn is_online(&self, node: &str) -> bool {
        self.state()
            .nodes
            .iter()
            .any(|n| n.info.name.as_str() == node && n.info.online)
    }
}

#[async_trait::async_trait]
impl CiHost for FakeHost {
    type Error = FakeError;

    fn manager(&self) -> ManagerName {
        self.manager.clone()
    }

    async fn projects(&self) -> Result<Vec<ProjectInfo>, FakeError> {
        Ok(self.state().projects.clone())
    }

    async fn nodes(&self) -> Result<Vec<HostNode>, FakeError> {
        Ok(self.state().nodes.clone())
    }

    async fn start_build(&self, request: BuildRequest) -> Result<RunningBuild, FakeError> {
        let (tx, rx) = oneshot::channel();
        let mut s = self.state();
        if !s
            .projects
            .iter()
            .any(|p| p.name == request.project && !p.disabled)
        {
            return Err(FakeError(format!(
                "no buildable project {}",
                request.project
            )));
        }
        let project = request.project.to_string();
        let number = s.book.start(&project, tx);
        s.started.push(request);
        let state = self.state.clone();
        Ok(RunningBuild {
            number,
            url: Some(format!("http://fake/job/{project}/{number}/")),
            estimated: (number > 1).then(|| Duration::from_secs(60)),
            finished: Box::pin(async move {
                let result = rx.await.unwrap_or(BuildResult::Aborted);
                let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
                s.book.ended(&project, number);
                result
            }),
        })
    }

    async fn abort_build(&self, project: &str, number: u64) -> Result<AbortOutcome, FakeError> {
        let (outcome, stop) = self.state().book.abort(project, number);
        if let Some(tx) = stop {
            let _ = tx.send(BuildResult::Aborted);
        }
        Ok(outcome)
    }

    async fn set_description(
        &self,
        project: &str,
        number: u64,
        html: Option<String>,
    ) -> Result<bool, FakeError> {
        Ok(self.state().book.describe(project, number, html))
    }

    async fn set_node_offline(&self, node: &Label) -> Result<(), FakeError> {
        let mut s = self.state();
        for n in s.nodes.iter_mut().filter(|n| &n.info.name == node) {
            n.info.online = false;
        }
        Ok(())
    }

    async fn changed(&self) -> u64 {
        self.generation.changed().await
    }
}
