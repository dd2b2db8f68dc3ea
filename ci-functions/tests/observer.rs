//! A runner's observer, live against gearman-server with a memory host: the registrations of
//! new executors and of a changed project list, a build's start and result, and the executor
//! counts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use ci_functions::memory::MemoryHost;
use ci_functions::{BuildResult, ExecutorCounts, Label, ManagerName, Runner, RunnerObserver};
use common::{f, node, pn, project, WAIT};
use gearman_client::{Client, Job};
use gearman_testkit::{until, ServerKind, TestServer};

#[derive(Debug, Default)]
struct Seen {
    started: usize,
    ended: BTreeMap<String, usize>,
    can_do: usize,
    cant_do: usize,
}

#[derive(Debug, Default)]
struct Counting(Mutex<Seen>);

impl Counting {
    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.0.lock().unwrap()
    }
}

impl RunnerObserver for Counting {
    fn build_started(&self, _node: &Label) {
        self.seen().started += 1;
    }

    fn build_ended(&self, _node: &Label, result: Option<BuildResult>) {
        let key = result.map_or("NOT_STARTED", BuildResult::as_str).to_owned();
        *self.seen().ended.entry(key).or_default() += 1;
    }

    fn registrations(&self, can_do: usize, cant_do: usize) {
        let mut seen = self.seen();
        seen.can_do += can_do;
        seen.cant_do += cant_do;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_observer_hears_of_registrations_and_builds() {
    let Some(g) = TestServer::start_or_skip(ServerKind::GearmanServer, "runner observer") else {
        return;
    };
    let addr = g.addr();
    let host = MemoryHost::new(
        ManagerName::new("ci01").unwrap(),
        vec![project("p", None)],
        vec![node("n1", &[], 2)],
    );
    let seen = Arc::new(Counting::default());
    let runner = Runner::start_observed(
        Arc::new(host.clone()),
        vec![addr.to_string()],
        Arc::new(|b| b),
        seen.clone(),
    )
    .await
    .unwrap();
    // Two executors, each registering build:p.
    let registered = {
        let seen = seen.seen();
        (seen.can_do, seen.cant_do)
    };
    assert_eq!(registered, (2, 0));
    assert_eq!(
        runner.executors().await,
        ExecutorCounts { total: 2, busy: 0 }
    );

    let client = Client::builder().server(addr.to_string()).spawn().unwrap();
    client.ready(WAIT).await.unwrap();
    let build = tokio::spawn({
        let client = client.clone();
        async move { client.call(Job::new(f("build:p"), "{}")).await }
    });
    until("the build to start", WAIT, || async {
        host.running() == vec![(pn("p"), 1)]
    })
    .await;
    until("the executor counted busy", WAIT, || async {
        runner.executors().await == ExecutorCounts { total: 2, busy: 1 }
    })
    .await;
    assert_eq!(runner.executors().await.idle(), 1);
    assert!(host.finish(&pn("p"), 1, BuildResult::Failure));
    let done = tokio::time::timeout(WAIT, build).await.unwrap().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&done.unwrap()).unwrap();
    assert_eq!(report["result"], "FAILURE");
    until("the build counted", WAIT, || async {
        seen.seen().ended.get("FAILURE") == Some(&1)
    })
    .await;
    assert_eq!(seen.seen().started, 1);
    until("the executor idle again", WAIT, || async {
        runner.executors().await.busy == 0
    })
    .await;

    // A project added, then the first removed: a CAN_DO, then a CANT_DO, per executor.
    host.set_projects(vec![project("p", None), project("q", None)]);
    until("build:q registered", WAIT, || async {
        seen.seen().can_do == 4
    })
    .await;
    host.set_projects(vec![project("q", None)]);
    until("build:p dropped", WAIT, || async {
        seen.seen().cant_do == 2
    })
    .await;
    assert_eq!(seen.seen().can_do, 4);
    runner.shutdown(WAIT).await;
}
