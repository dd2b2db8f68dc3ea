//! The runner under change and faults, on both job servers (ci-plugin.md §5, §6): nodes the
//! host removes or takes offline retire, single-use nodes hold their lock and always go
//! offline, a host with no idle executor gets no build, a server restart mid-build, a queued
//! build stopped before it starts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ci_functions::memory::MemoryHost;
use ci_functions::{AbortOutcome, BuildResult, CiHost, ManagerName, Runner};
use common::{ending, f, ids_of, label, node, pn, project, registrations, set, start_report, WAIT};
use gearman_client::{Client, Job};
use gearman_testkit::{eventually, until, ServerKind, TestServer};

/// How long "nothing happens" is watched for.
const QUIET: Duration = Duration::from_millis(800);

fn host() -> MemoryHost {
    MemoryHost::new(
        ManagerName::new("ci01").unwrap(),
        vec![project("py27", Some("trusty")), project("pep8", None)],
        vec![node("n1", &["trusty"], 2), node("n2", &["precise"], 1)],
    )
}

async fn client(addr: std::net::SocketAddr) -> Client {
    let client = Client::builder().server(addr.to_string()).spawn().unwrap();
    until("the client", WAIT, || async { client.connected() == 1 }).await;
    client
}

fn stop(number: u64) -> Job {
    Job::new(
        f("stop:ci01"),
        format!(r#"{{"name":"py27","number":{number}}}"#),
    )
}

async fn a_removed_node_retires_idle_executors_at_once_and_busy_ones_after_their_build(
    kind: ServerKind,
) {
    let Some(g) = TestServer::start_or_skip(kind, "ci node removed") else {
        return;
    };
    let addr = g.addr();
    let host = host();
    let runner = Runner::start(Arc::new(host.clone()), vec![addr.to_string()])
        .await
        .unwrap();
    until("n1's two executors", WAIT, || async {
        ids_of(addr, "n1_").await.len() == 2
    })
    .await;
    let client = client(addr).await;
    let mut build = client
        .submit(Job::new(f("build:py27:trusty"), "{}"))
        .await
        .unwrap();
    let start = start_report(&mut build).await;
    let busy = start["worker"].as_str().unwrap().to_string();

    // n1 deleted from the host: its idle executor is gone within a second, the busy one stays
    // until its build ends.
    host.set_nodes(vec![node("n2", &["precise"], 1)]);
    until("the idle executor gone", Duration::from_secs(1), || async {
        ids_of(addr, "n1_").await == [busy.clone()]
    })
    .await;
    // It stops grabbing at once: a new n1 build waits in the queue.
    let mut queued = client
        .submit(Job::new(f("build:py27:trusty"), "{}"))
        .await
        .unwrap();
    assert!(
        !eventually(QUIET, || async { host.started().len() > 1 }).await,
        "a removed node took a build"
    );
    assert!(host.finish(&pn("py27"), 1, BuildResult::Success));
    let (terminal, report) = ending(&mut build).await;
    assert_eq!(terminal, 1);
    assert_eq!(report.unwrap()["result"], "SUCCESS");
    until("the busy executor gone after its build", WAIT, || async {
        ids_of(addr, "n1_").await.is_empty()
    })
    .await;
    assert_eq!(ids_of(addr, "n2_").await, ["n2_exec-0"], "n2 untouched");

    // n1 comes back: it registers again and takes the queued build.
    host.set_nodes(vec![
        node("n1", &["trusty"], 2),
        node("n2", &["precise"], 1),
    ]);
    until("n1 back, the queued build on it", WAIT, || async {
        host.running() == vec![(pn("py27"), 2)]
    })
    .await;
    until("both n1 executors back", WAIT, || async {
        ids_of(addr, "n1_").await == ["n1_exec-0", "n1_exec-1"]
    })
    .await;
    assert!(host.finish(&pn("py27"), 2, BuildResult::Success));
    assert_eq!(ending(&mut queued).await.0, 1);
    runner.shutdown(WAIT).await;
}

async fn a_single_use_build_holds_its_node_and_always_takes_it_offline(kind: ServerKind) {
    let Some(g) = TestServer::start_or_skip(kind, "ci single use") else {
        return;
    };
    let addr = g.addr();
    let host = host();
    let runner = Runner::start(Arc::new(host.clone()), vec![addr.to_string()])
        .await
        .unwrap();
    until("n1's two executors", WAIT, || async {
        ids_of(addr, "n1_").await.len() == 2
    })
    .await;
    let client = client(addr).await;
    let n1 = node("n1", &["trusty"], 2);
    let n2 = node("n2", &["precise"], 1);

    // Once ending in SUCCESS, once stopped (ABORTED): the node goes offline either way.
    for (number, stopped) in [(1, false), (3, true)] {
        let mut single = client
            .submit(Job::new(
                f("build:py27"),
                r#"{"OFFLINE_NODE_WHEN_COMPLETE":"true"}"#,
            ))
            .await
            .unwrap();
        assert_eq!(start_report(&mut single).await["number"], number);
        let last_on_n1 = |host: &MemoryHost| {
            host.lock_changes()
                .into_iter()
                .rev()
                .find(|(n, _)| *n == label("n1"))
        };
        // The host heard that n1's lock is held (its own scheduler should start nothing there).
        assert_eq!(last_on_n1(&host), Some((label("n1"), true)));
        // The other executor of the node is idle, but the node is about to go: nothing else
        // starts there.
        let mut other = client
            .submit(Job::new(f("build:py27:trusty"), "{}"))
            .await
            .unwrap();
        assert!(
            !eventually(QUIET, || async { host.running().len() > 1 }).await,
            "a second build started beside a single-use one"
        );
        if stopped {
            assert_eq!(client.call(stop(number)).await, Ok(Bytes::new()));
        } else {
            assert!(host.finish(&pn("py27"), number, BuildResult::Success));
        }
        let (terminal, report) = ending(&mut single).await;
        assert_eq!(terminal, 1);
        let want = if stopped { "ABORTED" } else { "SUCCESS" };
        assert_eq!(report.unwrap()["result"], want);
        assert!(!host.is_online(&label("n1")));
        until(
            "n1's lock released after the node went offline",
            WAIT,
            || async { last_on_n1(&host) == Some((label("n1"), false)) },
        )
        .await;
        until("n1 registers nothing", WAIT, || async {
            ids_of(addr, "n1_").await.is_empty()
        })
        .await;
        assert!(
            !eventually(QUIET, || async { !host.running().is_empty() }).await,
            "the other build started on an offline node"
        );
        // Re-enabled by the host: n1 registers again and takes the waiting build.
        host.set_nodes(vec![n1.clone(), n2.clone()]);
        until("the waiting build runs on n1 again", WAIT, || async {
            host.running() == vec![(pn("py27"), number + 1)]
        })
        .await;
        assert!(host.finish(&pn("py27"), number + 1, BuildResult::Success));
        assert_eq!(ending(&mut other).await.0, 1);
    }
    runner.shutdown(WAIT).await;
}

async fn a_host_without_an_idle_executor_gets_no_build(kind: ServerKind) {
    let Some(g) = TestServer::start_or_skip(kind, "ci idle executors") else {
        return;
    };
    let addr = g.addr();
    let host = host();
    // n2's one executor runs a build of the host's own.
    host.reserve(&label("n2"), 1);
    let runner = Runner::start(Arc::new(host.clone()), vec![addr.to_string()])
        .await
        .unwrap();
    until("n2 registered", WAIT, || async {
        registrations(addr)
            .await
            .contains(&("n2_exec-0".to_string(), set(&["build:pep8"])))
    })
    .await;
    // Only n2 can run it: pep8 is unlabelled, so take n1 out of the way first.
    host.reserve(&label("n1"), 2);
    let client = client(addr).await;
    let mut build = client
        .submit(Job::new(f("build:pep8"), "{}"))
        .await
        .unwrap();
    assert!(
        !eventually(QUIET, || async { !host.started().is_empty() }).await,
        "a build was grabbed for a node with no idle executor"
    );
    host.reserve(&label("n2"), 0);
    let start = start_report(&mut build).await;
    assert_eq!(start["node_name"], "n2");
    assert!(host.finish(&pn("pep8"), 1, BuildResult::Success));
    assert_eq!(ending(&mut build).await.0, 1);
    runner.shutdown(WAIT).await;
}

async fn a_server_restart_mid_build_aborts_the_builds_and_single_use_nodes_go_offline(
    kind: ServerKind,
) {
    let Some(mut g) = TestServer::start_or_skip(kind, "ci server restart") else {
        return;
    };
    let addr = g.addr();
    let host = MemoryHost::new(
        ManagerName::new("ci01").unwrap(),
        vec![
            project("py27", Some("trusty")),
            project("pep8", Some("precise")),
        ],
        vec![node("n1", &["trusty"], 2), node("n2", &["precise"], 1)],
    );
    let runner = Runner::start(Arc::new(host.clone()), vec![addr.to_string()])
        .await
        .unwrap();
    until("every executor", WAIT, || async {
        registrations(addr).await.len() == 4
    })
    .await;
    let client = client(addr).await;
    let mut single = client
        .submit(Job::new(
            f("build:py27"),
            r#"{"OFFLINE_NODE_WHEN_COMPLETE":"1"}"#,
        ))
        .await
        .unwrap();
    start_report(&mut single).await;
    let mut normal = client
        .submit(Job::new(f("build:pep8"), "{}"))
        .await
        .unwrap();
    start_report(&mut normal).await;
    assert_eq!(host.running().len(), 2);

    g.kill();
    // The client sees the disconnect, and nothing else.
    for stream in [&mut single, &mut normal] {
        let (terminal, report) = ending(stream).await;
        assert!(terminal <= 1 && report.is_none(), "{terminal} {report:?}");
    }
    // The host learns the builds' fate: aborted, not left running.
    until("both builds aborted on the host", WAIT, || async {
        host.running().is_empty()
    })
    .await;
    assert_eq!(
        host.abort_build(&pn("py27"), 1).await,
        Ok(AbortOutcome::AlreadyFinished)
    );
    assert!(
        !host.is_online(&label("n1")),
        "the single-use node went offline"
    );

    g.restart().unwrap();
    until("n2 and the manager registered again", WAIT, || async {
        registrations(addr).await
            == vec![
                (
                    "ci01_manager".to_string(),
                    set(&["set_description:ci01", "stop:ci01"]),
                ),
                (
                    "n2_exec-0".to_string(),
                    set(&["build:pep8", "build:pep8:precise"]),
                ),
            ]
    })
    .await;
    assert!(
        !eventually(QUIET, || async { !ids_of(addr, "n1_").await.is_empty() }).await,
        "the single-use node registered on the new server"
    );
    // n2 serves on; its aborted build's result was never sent on the new connection.
    let client = self::client(addr).await;
    let mut next = client
        .submit(Job::new(f("build:pep8"), "{}"))
        .await
        .unwrap();
    assert_eq!(start_report(&mut next).await["number"], 2);
    assert!(host.finish(&pn("pep8"), 2, BuildResult::Success));
    let (terminal, report) = ending(&mut next).await;
    assert_eq!(
        (terminal, report.unwrap()["result"].clone()),
        (1, "SUCCESS".into())
    );
    runner.shutdown(WAIT).await;
}

async fn stop_cancels_a_build_queued_on_the_host(kind: ServerKind) {
    let Some(g) = TestServer::start_or_skip(kind, "ci queued stop") else {
        return;
    };
    let addr = g.addr();
    let host = host();
    host.hold_starts(true);
    let runner = Runner::start(Arc::new(host.clone()), vec![addr.to_string()])
        .await
        .unwrap();
    let client = client(addr).await;
    until("n1 registered", WAIT, || async {
        ids_of(addr, "n1_").await.len() == 2
    })
    .await;
    let mut build = client
        .submit(Job::new(f("build:py27"), "{}"))
        .await
        .unwrap();
    until("the build queued on the host", WAIT, || async {
        host.pending() == vec![(pn("py27"), 1)]
    })
    .await;
    assert_eq!(client.call(stop(1)).await, Ok(Bytes::new()));
    let start = start_report(&mut build).await;
    assert_eq!(start["number"], 1);
    let (terminal, report) = ending(&mut build).await;
    assert_eq!(terminal, 1);
    assert_eq!(report.unwrap()["result"], "ABORTED");
    host.hold_starts(false);
    assert!(
        !eventually(QUIET, || async { !host.started().is_empty() }).await,
        "a cancelled build started later"
    );
    assert_eq!(
        client.call(stop(1)).await,
        Err(gearman_client::Error::JobFailed),
        "already finished"
    );
    runner.shutdown(WAIT).await;
}

gearman_testkit::on_both_servers!(
    a_removed_node_retires_idle_executors_at_once_and_busy_ones_after_their_build,
    a_single_use_build_holds_its_node_and_always_takes_it_offline,
    a_host_without_an_idle_executor_gets_no_build,
    a_server_restart_mid_build_aborts_the_builds_and_single_use_nodes_go_offline,
    stop_cancels_a_build_queued_on_the_host,
);
