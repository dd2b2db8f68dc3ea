//! One CI host on gearmand and gearman-server at once: the same client ids on both
//! (`NODE_exec-I`, `MANAGER_manager`), builds from either server reporting that identity, and
//! `stop:` / `set_description:` answered whichever server delivers them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use ci_functions::memory::MemoryHost;
use ci_functions::{BuildResult, ManagerName, Runner};
use common::{ending, f, node, pn, project, registrations, set, start_report, WAIT};
use gearman_client::{Client, Job};
use gearman_testkit::{until, ServerKind, TestServer};

async fn client(addr: SocketAddr) -> Client {
    let client = Client::builder().server(addr.to_string()).spawn().unwrap();
    until("the client", WAIT, || async { client.connected() == 1 }).await;
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_on_two_servers_has_one_identity_on_both() {
    let Some(gearmand) = TestServer::start_or_skip(ServerKind::Gearmand, "ci two servers") else {
        return;
    };
    let Some(embedded) = TestServer::start_or_skip(ServerKind::GearmanServer, "ci two servers")
    else {
        return;
    };
    let (a, b) = (gearmand.addr(), embedded.addr());
    let host = MemoryHost::new(
        ManagerName::new("ci01").unwrap(),
        vec![project("py27", None)],
        vec![node("n1", &[], 1)],
    );
    let runner = Runner::start(Arc::new(host.clone()), vec![a.to_string(), b.to_string()])
        .await
        .unwrap();
    let want = vec![
        (
            "ci01_manager".to_string(),
            set(&["set_description:ci01", "stop:ci01"]),
        ),
        ("n1_exec-0".to_string(), set(&["build:py27"])),
    ];
    for addr in [a, b] {
        until("the same ids on this server", WAIT, || async {
            registrations(addr).await == want
        })
        .await;
    }
    let (on_a, on_b) = (client(a).await, client(b).await);

    // A build from each server; the one executor runs them one after the other.
    for (i, c) in [&on_b, &on_a].into_iter().enumerate() {
        let number = i as u64 + 1;
        let mut build = c.submit(Job::new(f("build:py27"), "{}")).await.unwrap();
        let start = start_report(&mut build).await;
        assert_eq!(
            (start["worker"].as_str(), start["number"].as_u64()),
            (Some("n1_exec-0"), Some(number))
        );
        assert!(host.finish(&pn("py27"), number, BuildResult::Success));
        assert_eq!(ending(&mut build).await.0, 1);
    }

    // A build from gearman-server, stopped through gearmand.
    let mut build = on_b.submit(Job::new(f("build:py27"), "{}")).await.unwrap();
    assert_eq!(start_report(&mut build).await["number"], 3);
    let stop = Job::new(f("stop:ci01"), r#"{"name":"py27","number":3}"#);
    assert_eq!(on_a.call(stop).await, Ok(Bytes::new()));
    let (terminal, report) = ending(&mut build).await;
    assert_eq!(terminal, 1);
    assert_eq!(report.unwrap()["result"], "ABORTED");

    // set_description through either server, for a build either server delivered.
    for (c, number) in [(&on_a, 1), (&on_b, 2)] {
        let describe = Job::new(
            f("set_description:ci01"),
            format!(r#"{{"name":"py27","number":{number},"html_description":"d{number}"}}"#),
        );
        assert_eq!(
            c.call(describe).await.unwrap(),
            format!("Description for Jenkins build {number} was updated to d{number}")
        );
        assert_eq!(
            host.description(&pn("py27"), number),
            Some(Some(format!("d{number}")))
        );
    }
    runner.shutdown(WAIT).await;
}
