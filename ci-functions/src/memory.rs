//! [`MemoryHost`]: a CI host kept in memory, whose builds run until its owner ends them. Tests
//! (of this crate and of yours) and `gearmanctl demo` drive the runner with it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{oneshot, watch};

use crate::book::BuildBook;
use crate::host::{AbortOutcome, BuildRequest, CiHost, HostNode, RunningBuild};
use crate::label::{Label, ManagerName, ProjectName};
use crate::payload::BuildResult;
use crate::policy::ProjectInfo;
use crate::Generation;

/// Why the memory host refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("memory host: {0}")]
pub struct MemoryError(pub String);

type Key = (ProjectName, u64);

#[derive(Default)]
struct State {
    projects: Vec<ProjectInfo>,
    nodes: Vec<HostNode>,
    book: BuildBook<oneshot::Sender<BuildResult>>,
    started: Vec<BuildRequest>,
    on_node: HashMap<Key, Label>,
    reserved: BTreeMap<Label, usize>,
    lock_changes: Vec<(Label, bool)>,
}

/// A CI host whose projects and nodes its owner sets, whose builds run until the owner ends them
/// ([`finish`](Self::finish)) or `stop:` aborts them, and which records what it was asked.
///
/// Builds start at once, or wait queued while [`hold_starts`](Self::hold_starts) is on (then
/// `stop:` cancels them). [`reserve`](Self::reserve) marks executors busy with builds of the
/// host's own, which [`CiHost::idle_executors`] reports.
#[derive(Clone)]
pub struct MemoryHost {
    manager: ManagerName,
    state: Arc<Mutex<State>>,
    generation: Generation,
    hold: Arc<watch::Sender<bool>>,
}

impl std::fmt::Debug for MemoryHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryHost")
            .field("manager", &self.manager)
            .finish_non_exhaustive()
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Forgets a queued build whose start was given up (its future dropped before it ran).
struct PendingGuard {
    state: Arc<Mutex<State>>,
    key: Option<Key>,
}

impl Drop for PendingGuard {
    fn drop(&mut self) {
        if let Some((project, number)) = self.key.take() {
            let mut s = lock(&self.state);
            if s.book.take(&project, number).is_some() {
                s.book.ended(&project, number);
            }
        }
    }
}

impl MemoryHost {
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
            hold: Arc::new(watch::channel(false).0),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Replaces the projects and tells the runner.
    pub fn set_projects(&self, projects: Vec<ProjectInfo>) {
        self.state().projects = projects;
        self.generation.bump();
    }

    /// Replaces the nodes (a node left out is deleted; one put back online returns) and tells
    /// the runner.
    pub fn set_nodes(&self, nodes: Vec<HostNode>) {
        self.state().nodes = nodes;
        self.generation.bump();
    }

    /// While on, builds wait queued (numbered, not started) until it is turned off.
    pub fn hold_starts(&self, hold: bool) {
        self.hold.send_replace(hold);
    }

    /// Marks `busy` executors of `node` as running builds of the host's own (0 frees them).
    pub fn reserve(&self, node: &Label, busy: usize) {
        self.state().reserved.insert(node.clone(), busy);
    }

    /// Ends a running build with `result`; false if it is not running.
    pub fn finish(&self, project: &ProjectName, number: u64, result: BuildResult) -> bool {
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
    pub fn running(&self) -> Vec<(ProjectName, u64)> {
        self.state().book.running()
    }

    /// Builds queued (held, not started) now, as `(project, number)`.
    pub fn pending(&self) -> Vec<(ProjectName, u64)> {
        self.state().book.pending()
    }

    /// A build's description, if one was set.
    pub fn description(&self, project: &ProjectName, number: u64) -> Option<Option<String>> {
        self.state().book.description(project, number)
    }

    /// Every [`CiHost::node_lock_changed`] call so far: the node, and whether it was taken.
    pub fn lock_changes(&self) -> Vec<(Label, bool)> {
        self.state().lock_changes.clone()
    }

    /// Whether a node is there and online.
    pub fn is_online(&self, node: &Label) -> bool {
        self.state()
            .nodes
            .iter()
            .any(|n| &n.info.name == node && n.info.online)
    }

    /// Waits while starts are held; false if `stop:` cancelled the build meanwhile.
    async fn wait_for_start(&self, cancelled: &mut oneshot::Receiver<BuildResult>) -> bool {
        let mut hold = self.hold.subscribe();
        tokio::select! {
            _ = cancelled => false,
            released = hold.wait_for(|h| !*h) => released.is_ok(),
        }
    }
}

fn ended(
    result: BuildResult,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = BuildResult> + Send>> {
    Box::pin(std::future::ready(result))
}

#[async_trait::async_trait]
impl CiHost for MemoryHost {
    type Error = MemoryError;

    fn manager(&self) -> ManagerName {
        self.manager.clone()
    }

    async fn projects(&self) -> Result<Vec<ProjectInfo>, MemoryError> {
        Ok(self.state().projects.clone())
    }

    async fn nodes(&self) -> Result<Vec<HostNode>, MemoryError> {
        Ok(self.state().nodes.clone())
    }

    fn node_lock_changed(&self, node: &Label, held: bool) {
        self.state().lock_changes.push((node.clone(), held));
    }

    async fn idle_executors(&self, node: &Label) -> Result<Option<usize>, MemoryError> {
        let s = self.state();
        let Some(n) = s.nodes.iter().find(|n| &n.info.name == node) else {
            return Ok(Some(0));
        };
        let busy = s.on_node.values().filter(|l| *l == node).count()
            + s.reserved.get(node).copied().unwrap_or(0);
        Ok(Some(n.executors.saturating_sub(busy)))
    }

    async fn start_build(&self, request: BuildRequest) -> Result<RunningBuild, MemoryError> {
        let project = request.project.clone();
        let (cancel_tx, mut cancel_rx) = oneshot::channel();
        let number = {
            let mut s = self.state();
            if !s.projects.iter().any(|p| p.name == project && !p.disabled) {
                return Err(MemoryError(format!("no buildable project {project}")));
            }
            s.book.queue(&project, cancel_tx)
        };
        let mut guard = PendingGuard {
            state: self.state.clone(),
            key: Some((project.clone(), number)),
        };
        let url = Some(format!("http://memory/job/{project}/{number}/"));
        let go = self.wait_for_start(&mut cancel_rx).await;
        guard.key = None;
        let (tx, rx) = oneshot::channel();
        {
            let mut s = self.state();
            if !go || !s.book.run(&project, number, tx) {
                s.book.ended(&project, number);
                return Ok(RunningBuild {
                    number,
                    url,
                    estimated: None,
                    finished: ended(BuildResult::Aborted),
                });
            }
            s.on_node
                .insert((project.clone(), number), request.node.clone());
            s.started.push(request);
        }
        let state = self.state.clone();
        Ok(RunningBuild {
            number,
            url,
            estimated: (number > 1).then(|| Duration::from_secs(60)),
            finished: Box::pin(async move {
                let result = rx.await.unwrap_or(BuildResult::Aborted);
                let mut s = lock(&state);
                s.book.ended(&project, number);
                s.on_node.remove(&(project, number));
                result
            }),
        })
    }

    async fn abort_build(
        &self,
        project: &ProjectName,
        number: u64,
    ) -> Result<AbortOutcome, MemoryError> {
        let (outcome, stop) = self.state().book.abort(project, number);
        if let Some(tx) = stop {
            let _ = tx.send(BuildResult::Aborted);
        }
        Ok(outcome)
    }

    async fn set_description(
        &self,
        project: &ProjectName,
        number: u64,
        html: Option<String>,
    ) -> Result<bool, MemoryError> {
        Ok(self.state().book.describe(project, number, html))
    }

    async fn set_node_offline(&self, node: &Label) -> Result<(), MemoryError> {
        let mut s = self.state();
        for n in s.nodes.iter_mut().filter(|n| &n.info.name == node) {
            n.info.online = false;
        }
        Ok(())
    }

    async fn changed(&self) {
        self.generation.changed().await;
    }
}
