//! Interop with the node.js `gearman` package (npm `gearman@2.1.0`, installed into
//! `tests/peers/node` by `npm ci`): its worker (plain GRAB_JOB) and client run jobs through each
//! server, also against this family's worker and client. The scenario runs against gearmand
//! too, which shows the script itself is right. CI installs node and the package; elsewhere a
//! missing one is a visible skip (`gearman_testkit::skip`), a failure where CI demands it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "peers/scenario.rs"]
mod scenario;

use std::process::Stdio;

use gearman_client::{ClientError, Job};
use gearman_testkit::{skip, ServerKind, TestServer};
use scenario::{f, Peer, WAIT};

const PEER_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/node");
const PEER: Peer = Peer {
    name: "node",
    program: "node",
    script: concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/peers/node/node_interop.js"
    ),
    dir: Some(PEER_DIR),
    prefix: "node",
};

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
    let session = scenario::start(&PEER, g.addr()).await;
    let client = &session.client;
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
    session.finish().await;
}

gearman_testkit::on_both_servers!(node_gearman_client_and_worker);
