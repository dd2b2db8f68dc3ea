//! Every example of this crate, run as a user would against an embedded gearman-server and
//! driven by a Gearman client.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use gearman_client::{Client, Job};
use gearman_proto::FunctionName;
use gearman_testkit::{run_example, until, ServerKind, TestServer};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_host_serves_two_builds_and_exits() {
    let Some(g) = TestServer::start_or_skip(ServerKind::GearmanServer, "echo_host example") else {
        return;
    };
    // Built before anything is timed.
    tokio::task::spawn_blocking(|| gearman_testkit::build_example("echo_host"))
        .await
        .unwrap();
    let addr = g.addr().to_string();
    let server = addr.clone();
    let example = tokio::task::spawn_blocking(move || {
        run_example("echo_host", &server, &["--builds", "2"], WAIT)
    });
    let client = Client::builder().server(addr).spawn().unwrap();
    until("the client", WAIT, || async { client.connected() == 1 }).await;
    for greeting in ["hi", "ho"] {
        let job = Job::new(
            FunctionName::try_from("build:hello").unwrap(),
            format!(r#"{{"GREETING":"{greeting}"}}"#),
        );
        let reply = tokio::time::timeout(WAIT, client.call(job)).await;
        let reply = reply.expect("the example answers (is it built? `cargo test` builds it)");
        let report: Value = serde_json::from_slice(&reply.unwrap()).unwrap();
        assert_eq!(
            (report["result"].as_str(), report["manager"].as_str()),
            (Some("SUCCESS"), Some("echo"))
        );
        assert_eq!(report["worker"], "local_exec-0");
    }
    let run = example.await.unwrap();
    assert!(run.success(), "{run:?}");
    assert!(
        run.stdout.contains("build hello #1 on local: GREETING=hi")
            && run.stdout.contains("build hello #2 on local: GREETING=ho")
            && run.stdout.contains("served 2 build(s)"),
        "{}",
        run.stdout
    );
}
