//! The runner against both job servers (gearmand and gearman-server) with a memory CI host: registrations per executor, the
//! payloads of a build as Zuul reads them, stop, set_description, single-use nodes, and
//! re-registration when projects change.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ci_functions::memory::MemoryHost;
use ci_functions::{BuildResult, Label, ManagerName, Runner};
use common::{f, node, pn, project, registrations, set, WAIT};
use gearman_client::{AdminClient, Client, Error, Job, JobEvent, JobOutcome};
use gearman_proto::{UniqueId, WorkUpdate};
use gearman_testkit::{until, ServerKind, TestServer};
use serde_json::Value;

async fn a_ci_host_behind_gearman_speaks_the_plugin_contract(kind: ServerKind) {
    let Some(g) = TestServer::start_or_skip(kind, "ci runner") else {
        return;
    };
    let addr = g.addr();
    let host = MemoryHost::new(
        ManagerName::new("ci01").unwrap(),
        vec![project("py27", Some("trusty")), project("pep8", None)],
        vec![node("n1", &["trusty"], 2), node("n2", &["precise"], 1)],
    );
    let runner = Runner::start(Arc::new(host.clone()), vec![addr.to_string()])
        .await
        .unwrap();

    // One connection per executor, each with the node's whole set; one management connection.
    let n1 = set(&["build:pep8", "build:py27", "build:py27:trusty"]);
    let want = vec![
        (
            "ci01_manager".to_string(),
            set(&["set_description:ci01", "stop:ci01"]),
        ),
        ("n1_exec-0".to_string(), n1.clone()),
        ("n1_exec-1".to_string(), n1.clone()),
        ("n2_exec-0".to_string(), set(&["build:pep8"])),
    ];
    until("the registrations", WAIT, || async {
        registrations(addr).await == want
    })
    .await;

    // A build as Zuul v2 submits it: build:JOB, unique = ZUUL_UUID.
    let client = Client::builder().server(addr.to_string()).spawn().unwrap();
    until("the client", WAIT, || async { client.connected() == 1 }).await;
    let uuid = "0b6c1c5e9f3a4a438d2b6a1f1e0c7d11";
    let job = Job::new(
        f("build:py27"),
        format!(r#"{{"ZUUL_UUID":"{uuid}","ZUUL_PIPELINE":"gate"}}"#),
    )
    .unique(UniqueId::try_from(uuid).unwrap());
    let mut build = client.submit(job).await.unwrap();
    let Some(JobEvent::Progress(WorkUpdate::Data { data, .. })) = build.next().await else {
        panic!("expected the start WORK_DATA")
    };
    let start: Value = serde_json::from_slice(&data).unwrap();
    assert_eq!(start["name"], "py27");
    assert_eq!(start["number"], 1);
    assert_eq!(start["manager"], "ci01");
    assert_eq!(start["node_name"], "n1");
    assert!(start["worker"].as_str().unwrap().starts_with("n1_exec-"));
    assert_eq!(start["url"], "http://memory/job/py27/1/");
    let labels: BTreeSet<&str> = start["node_labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(labels, BTreeSet::from(["n1", "trusty"]));
    assert!(start.get("result").is_none(), "no result while running");
    let Some(JobEvent::Progress(WorkUpdate::Status {
        numerator,
        denominator,
        ..
    })) = build.next().await
    else {
        panic!("expected WORK_STATUS")
    };
    assert!(numerator >= 0);
    assert_eq!(denominator, -1, "first run: unknown estimate");
    let started = host.started();
    assert_eq!(
        started[0].unique.as_ref().map(|u| u.as_bytes()),
        Some(uuid.as_bytes())
    );
    assert_eq!(started[0].params["ZUUL_UUID"].as_deref(), Some(uuid));
    assert_eq!(started[0].node.as_str(), "n1");
    assert!(host.finish(&pn("py27"), 1, BuildResult::Unstable));
    let Some(JobEvent::Done(JobOutcome::Complete(done))) = build.next().await else {
        panic!("expected WORK_COMPLETE")
    };
    let done: Value = serde_json::from_slice(&done).unwrap();
    assert_eq!(
        (done["result"].as_str(), done["number"].as_u64()),
        (Some("UNSTABLE"), Some(1))
    );

    // stop:ci01 aborts a running build, which then completes ABORTED.
    let mut second = client
        .submit(Job::new(f("build:py27:trusty"), "{}"))
        .await
        .unwrap();
    until("the second build", WAIT, || async {
        host.running() == vec![(pn("py27"), 2)]
    })
    .await;
    let stop = |number: &str| {
        Job::new(
            f("stop:ci01"),
            format!(r#"{{"name":"py27","number":{number}}}"#),
        )
    };
    assert_eq!(client.call(stop("2")).await, Ok(Bytes::new()));
    let end = loop {
        match second.next().await.unwrap() {
            JobEvent::Done(JobOutcome::Complete(d)) => {
                break serde_json::from_slice::<Value>(&d).unwrap()
            }
            JobEvent::Progress(_) | JobEvent::Created(_) => {}
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(end["result"], "ABORTED");
    assert_eq!(
        client.call(stop("\"2\"")).await,
        Err(Error::JobFailed),
        "already finished"
    );
    let missing = client.call(stop("99")).await;
    assert_eq!(
        missing,
        Err(Error::JobException(Bytes::from_static(
            b"Cannot find build py27: 99"
        )))
    );

    // set_description:ci01.
    let describe = Job::new(
        f("set_description:ci01"),
        r#"{"name":"py27","number":1,"html_description":"<b>ok</b>"}"#,
    );
    let reply = client.call(describe).await.unwrap();
    assert_eq!(
        reply,
        "Description for Jenkins build 1 was updated to <b>ok</b>"
    );
    assert_eq!(
        host.description(&pn("py27"), 1),
        Some(Some("<b>ok</b>".into()))
    );

    // Bad JSON is an exception with a clear message, not a crash.
    let bad = client
        .call(Job::new(f("build:pep8"), r#"{"a":{"nested":1}}"#))
        .await;
    assert!(
        matches!(bad, Err(Error::JobException(m)) if String::from_utf8_lossy(&m).contains("flat"))
    );

    // A single-use build takes its node offline: the node registers nothing afterwards.
    let mut single = client
        .submit(Job::new(
            f("build:py27"),
            r#"{"OFFLINE_NODE_WHEN_COMPLETE":"1"}"#,
        ))
        .await
        .unwrap();
    until("the single-use build", WAIT, || async {
        host.running().len() == 1
    })
    .await;
    let (p, n) = host.running()[0].clone();
    assert!(host.finish(&p, n, BuildResult::Success));
    while let Some(e) = single.next().await {
        if matches!(e, JobEvent::Done(_)) {
            break;
        }
    }
    assert!(!host.is_online(&Label::new("n1").unwrap()));
    until("n1 deregistered", WAIT, || async {
        registrations(addr)
            .await
            .iter()
            .filter(|(id, _)| id.starts_with("n1_"))
            .all(|(_, fs)| fs.is_empty())
    })
    .await;

    // Projects change: n2 drops pep8 by delta, without a restart.
    host.set_projects(vec![project("py27", Some("trusty"))]);
    until("n2 re-registered", WAIT, || async {
        registrations(addr)
            .await
            .iter()
            .any(|(id, fs)| id == "n2_exec-0" && fs.is_empty())
    })
    .await;
    runner.shutdown(WAIT).await;
}

async fn executors_bound_the_builds_and_a_removed_project_spares_its_running_builds(
    kind: ServerKind,
) {
    let Some(g) = TestServer::start_or_skip(kind, "ci executors") else {
        return;
    };
    let addr = g.addr();
    let host = MemoryHost::new(
        ManagerName::new("ci01").unwrap(),
        vec![project("py27", Some("trusty")), project("pep8", None)],
        vec![node("n1", &["trusty"], 2)],
    );
    let runner = Runner::start(Arc::new(host.clone()), vec![addr.to_string()])
        .await
        .unwrap();
    let client = Client::builder().server(addr.to_string()).spawn().unwrap();
    until("the client", WAIT, || async { client.connected() == 1 }).await;
    until("n1 registered", WAIT, || async {
        registrations(addr).await.len() == 3
    })
    .await;

    let mut streams = Vec::new();
    for _ in 0..5 {
        streams.push(
            client
                .submit(Job::new(f("build:py27"), "{}"))
                .await
                .unwrap(),
        );
    }
    until("two builds running", WAIT, || async {
        host.running().len() == 2
    })
    .await;
    let admin = AdminClient::new(addr.to_string(), WAIT);
    for _ in 0..10 {
        assert_eq!(
            host.running().len(),
            2,
            "a node runs no more builds than executors"
        );
        let st = admin.status().await.unwrap();
        let row = st
            .iter()
            .find(|r| &r.function[..] == b"build:py27")
            .unwrap();
        assert_eq!((row.total, row.running), (5, 2));
        tokio::time::sleep(Duration::from_millis(30)).await;
    }

    // py27 is removed while two of its builds run: its label function goes at once, its
    // running builds' function only when they end, and they end normally.
    host.set_projects(vec![project("pep8", None)]);
    until("build:py27:trusty dropped", WAIT, || async {
        registrations(addr)
            .await
            .iter()
            .filter(|(id, _)| id.starts_with("n1_"))
            .all(|(_, fs)| !fs.contains("build:py27:trusty") && fs.contains("build:py27"))
    })
    .await;
    for (p, n) in host.running() {
        assert!(host.finish(&p, n, BuildResult::Success));
    }
    let mut results = Vec::new();
    for mut s in streams.drain(..2) {
        while let Some(e) = tokio::time::timeout(WAIT, s.next()).await.unwrap() {
            if let JobEvent::Done(JobOutcome::Complete(d)) = e {
                let v: Value = serde_json::from_slice(&d).unwrap();
                results.push(v["result"].as_str().unwrap().to_string());
            }
        }
    }
    assert_eq!(results, ["SUCCESS", "SUCCESS"]);
    until("build:py27 dropped after its builds", WAIT, || async {
        registrations(addr)
            .await
            .iter()
            .filter(|(id, _)| id.starts_with("n1_"))
            .all(|(_, fs)| *fs == set(&["build:pep8"]))
    })
    .await;
    assert_eq!(
        host.started().len(),
        2,
        "the queued py27 jobs never started"
    );
    runner.shutdown(WAIT).await;
}

async fn a_new_executor_count_takes_effect_without_restart(kind: ServerKind) {
    let Some(g) = TestServer::start_or_skip(kind, "ci executor count") else {
        return;
    };
    let addr = g.addr();
    let host = MemoryHost::new(
        ManagerName::new("ci01").unwrap(),
        vec![project("pep8", None)],
        vec![node("n1", &[], 1)],
    );
    let runner = Runner::start(Arc::new(host.clone()), vec![addr.to_string()])
        .await
        .unwrap();
    let executors = |addr| async move {
        registrations(addr)
            .await
            .into_iter()
            .filter(|(id, fs)| id.starts_with("n1_exec-") && !fs.is_empty())
            .map(|(id, _)| id)
            .collect::<Vec<_>>()
    };
    until("one executor", WAIT, || async {
        executors(addr).await == ["n1_exec-0"]
    })
    .await;
    host.set_nodes(vec![node("n1", &[], 3)]);
    until("three executors", WAIT, || async {
        executors(addr).await == ["n1_exec-0", "n1_exec-1", "n1_exec-2"]
    })
    .await;
    // Shrinking retires the newest executors; a running build on one of them finishes first.
    let client = Client::builder().server(addr.to_string()).spawn().unwrap();
    until("the client", WAIT, || async { client.connected() == 1 }).await;
    let mut streams = Vec::new();
    for _ in 0..3 {
        streams.push(
            client
                .submit(Job::new(f("build:pep8"), "{}"))
                .await
                .unwrap(),
        );
    }
    until("three builds", WAIT, || async { host.running().len() == 3 }).await;
    host.set_nodes(vec![node("n1", &[], 1)]);
    for (p, n) in host.running() {
        assert!(host.finish(&p, n, BuildResult::Success));
    }
    for mut s in streams {
        let mut done = false;
        while let Some(e) = tokio::time::timeout(WAIT, s.next()).await.unwrap() {
            done |= matches!(e, JobEvent::Done(JobOutcome::Complete(_)));
        }
        assert!(done, "every running build completed");
    }
    until("one executor again", WAIT, || async {
        executors(addr).await == ["n1_exec-0"]
    })
    .await;
    runner.shutdown(WAIT).await;
}

gearman_testkit::on_both_servers!(
    a_ci_host_behind_gearman_speaks_the_plugin_contract,
    executors_bound_the_builds_and_a_removed_project_spares_its_running_builds,
    a_new_executor_count_takes_effect_without_restart,
);
