//! Interop with the node.js `gearman` package (npm `gearman@2.1.0`, installed into
//! `tests/peers/node` by `npm ci`): its worker (plain GRAB_JOB) and client run jobs through each
//! server, also against this family's worker and client. The scenario runs against gearmand
//! too, which shows the script itself is right. CI installs node and the package; elsewhere a
//! missing one is a visible skip (`gearman_testkit::skip`), a failure where CI demands it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;
use std::time::Duration;

use bytes::Bytes;
use gearman_client::{Client, ClientError, Job};
use gearman_proto::FunctionName;
use gearman_testkit::{skip, until, ServerKind, TestServer};
use gearman_worker::{Job as WorkerJob, Worker};
use tokio::io::{AsyncBufReadExt, BufReader};

const WAIT: Duration = Duration::from_secs(30);
const PEER_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/node");
const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/peers/node/node_interop.js"
);

fn f(s: &str) -> FunctionName {
    FunctionName::try_from(s).unwrap()
}

/// Whether node can load the package; a visible skip where not, a failure where CI demands it.
fn node_gearman_installed(kind: ServerKind) -> bool {
    let ok = std::process::Command::new("node")
        .args(["-e", "require('gearman')"])
        .current_dir(PEER_DIR)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        skip(
            &format!("node_gearman_client_and_worker ({})", kind.name()),
            "node or its gearman package is missing (apt-get install -y nodejs npm && \
             npm ci --prefix gearman-server/tests/peers/node)",
        );
    }
    ok
}

async fn node_gearman_client_and_worker(kind: ServerKind) {
    if !node_gearman_installed(kind) {
        return;
    }
    let Some(g) = TestServer::start_or_skip(kind, "node_gearman_client_and_worker") else {
        return;
    };
    let addr = g.addr();
    let worker = Worker::builder()
        .server(addr.to_string())
        .function(f("rs:upper"), |job: WorkerJob| async move {
            Ok(Bytes::from(job.data().to_ascii_uppercase()))
        })
        .spawn()
        .unwrap();
    let mut node = tokio::process::Command::new("node")
        .arg(SCRIPT)
        .arg(addr.ip().to_string())
        .arg(addr.port().to_string())
        .current_dir(PEER_DIR)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(node.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(WAIT, lines.next_line())
        .await
        .expect("the node client finished in time")
        .unwrap();
    assert_eq!(first.as_deref(), Some("CLIENT OK"), "node's client checks");

    // This family's client, node's worker.
    let client = Client::builder().server(addr.to_string()).spawn().unwrap();
    until("the client's connection", WAIT, || async {
        client.connected() > 0
    })
    .await;
    for i in 0..20 {
        let input = format!("from rust {i}");
        let out = tokio::time::timeout(WAIT, client.call(Job::new(f("node:rev"), input.clone())))
            .await
            .unwrap()
            .unwrap();
        let want: String = input.chars().rev().collect();
        assert_eq!(out, Bytes::from(want));
    }
    let failed = tokio::time::timeout(WAIT, client.call(Job::new(f("node:fail"), "x")))
        .await
        .unwrap();
    assert!(
        matches!(failed, Err(ClientError::JobFailed)),
        "node:fail came back as {failed:?}"
    );
    let exc = tokio::time::timeout(WAIT, client.call(Job::new(f("node:exc"), "x")))
        .await
        .unwrap();
    assert!(
        matches!(&exc, Err(ClientError::JobException(text)) if text == "node says no"),
        "node:exc came back as {exc:?}"
    );

    drop(node.stdin.take());
    let bye = tokio::time::timeout(WAIT, lines.next_line())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bye.as_deref(), Some("BYE"));
    let status = tokio::time::timeout(WAIT, node.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
    worker.shutdown(Duration::from_secs(5)).await.unwrap();
}

gearman_testkit::on_both_servers!(node_gearman_client_and_worker);
