//! The boundary between this library and a CI system: what a host must offer (ci-plugin.md §10).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use gearman_proto::UniqueId;

use crate::label::{Label, ManagerName, ProjectName};
use crate::payload::{BuildParams, BuildResult};
use crate::policy::{NodeInfo, ProjectInfo};

/// A node as the host sees it: what the policy needs, and how many builds it runs at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostNode {
    /// Name, labels, mode, online.
    pub info: NodeInfo,
    /// Executors: one Gearman connection each, and at most this many builds at once.
    pub executors: usize,
}

/// A build to start, pinned to a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildRequest {
    /// The project.
    pub project: ProjectName,
    /// The node it must run on.
    pub node: Label,
    /// Its parameters, as Zuul sent them (`ZUUL_UUID` among them).
    pub params: BuildParams,
    /// The Gearman unique id, when the client sent a non-empty one (Zuul sends its
    /// `ZUUL_UUID`).
    pub unique: Option<UniqueId>,
}

/// A build that has started on an executor.
pub struct RunningBuild {
    /// Its number (counting up per project).
    pub number: u64,
    /// Its URL, when the host has one.
    pub url: Option<String>,
    /// The host's estimate of its duration.
    pub estimated: Option<Duration>,
    /// Resolves with the result when the build ends.
    pub finished: Pin<Box<dyn Future<Output = BuildResult> + Send>>,
}

impl std::fmt::Debug for RunningBuild {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningBuild")
            .field("number", &self.number)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// What aborting a build found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbortOutcome {
    /// It was running and is being aborted, or it was queued and is cancelled: either way it
    /// ends ABORTED.
    Aborted,
    /// It was already being aborted.
    AlreadyAborting,
    /// It had already finished.
    AlreadyFinished,
    /// No such build.
    NotFound,
}

/// A CI system that runs builds for Gearman jobs. Implement it, hand it to
/// [`Runner`](crate::Runner), and Zuul can drive it as it drove the Jenkins gearman plugin.
#[async_trait::async_trait]
pub trait CiHost: Send + Sync + 'static {
    /// The host's own error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// This master's name: the `MANAGER` of `stop:MANAGER` and `set_description:MANAGER`, and
    /// the `manager` of every build report.
    fn manager(&self) -> ManagerName;

    /// Every project, with its label expression and whether it is disabled.
    async fn projects(&self) -> Result<Vec<ProjectInfo>, Self::Error>;

    /// Every node, with its executors.
    async fn nodes(&self) -> Result<Vec<HostNode>, Self::Error>;

    /// How many executors of `node` could start a build now (the plugin's `countIdle()`), for
    /// hosts that also run builds the runner did not ask for. An executor grabs a job only when
    /// this is not `Some(0)`. The default, `None`, means the host does not count: the runner's
    /// own node lock and executor count then bound the builds.
    async fn idle_executors(&self, node: &Label) -> Result<Option<usize>, Self::Error> {
        let _ = node;
        Ok(None)
    }

    /// The runner took (`true`) or released (`false`) `node`'s lock: while it is held, an
    /// executor of the node is grabbing or starting a Gearman build there, and a host that also
    /// schedules builds of its own should start none on that node but the one the runner asks
    /// for with [`start_build`](Self::start_build) (the plugin's `canTake` veto,
    /// ci-plugin.md §5.1). Called from the runner's tasks; it must not block. The default does
    /// nothing.
    fn node_lock_changed(&self, node: &Label, held: bool) {
        let _ = (node, held);
    }

    /// Starts a build on the node and returns once it runs on an executor.
    ///
    /// The build may wait on the host first (queued, not started); a host that numbers it
    /// then lets `stop:` cancel it ([`abort_build`](Self::abort_build) answering `Aborted`),
    /// and this returns a build that has already ended ABORTED. Dropping the returned future
    /// before it resolves cancels the pending start (the runner does so when the job's
    /// connection is lost): the host must not start the build afterwards.
    async fn start_build(&self, request: BuildRequest) -> Result<RunningBuild, Self::Error>;

    /// `stop:`: aborts a running build, or cancels a queued one. The runner also aborts a
    /// build whose job the server took back (its connection was lost): that is how the host
    /// learns such a build's fate.
    async fn abort_build(
        &self,
        project: &ProjectName,
        number: u64,
    ) -> Result<AbortOutcome, Self::Error>;

    /// Sets (or with `None` clears) a build's description; `false` if there is no such build.
    async fn set_description(
        &self,
        project: &ProjectName,
        number: u64,
        html: Option<String>,
    ) -> Result<bool, Self::Error>;

    /// Takes a node offline (a build asked for it with `OFFLINE_NODE_WHEN_COMPLETE`). After
    /// this, [`nodes`](Self::nodes) must report it offline (or not at all) until the host
    /// brings it back.
    async fn set_node_offline(&self, node: &Label) -> Result<(), Self::Error>;

    /// Resolves when projects or nodes may have changed (a [`Generation`](crate::Generation)
    /// does the counting). The default never resolves: the runner then refreshes only when
    /// asked.
    async fn changed(&self) {
        std::future::pending().await
    }
}
