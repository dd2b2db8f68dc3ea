//! Interop with the python `gear` library (pip `gear==0.16.0`, the library Zuul and nodepool
//! were built on): its worker and client run jobs through each server, also against this
//! family's worker and client. The scenario runs against gearmand too, which shows the script
//! itself is right. CI installs gear; elsewhere a missing gear is a visible skip
//! (`gearman_testkit::skip`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "peers/scenario.rs"]
mod scenario;

use std::process::Stdio;

use gearman_client::Job;
use gearman_testkit::{skip, ServerKind, TestServer};
use scenario::{f, Peer, WAIT};

const PEER: Peer = Peer {
    name: "gear",
    program: "python3",
    script: concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/gear_interop.py"),
    dir: None,
    prefix: "py",
};

/// Whether `import gear` works; a visible skip where not, a failure where CI demands it.
fn gear_installed(kind: ServerKind) -> bool {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import gear"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        skip(
            &format!("python_gear_client_and_worker ({})", kind.name()),
            "python gear is missing (pip install gear==0.16.0)",
        );
    }
    ok
}

async fn python_gear_client_and_worker(kind: ServerKind) {
    if !gear_installed(kind) {
        return;
    }
    let Some(g) = TestServer::start_or_skip(kind, "python_gear_client_and_worker") else {
        return;
    };
    let session = scenario::start(&PEER, g.addr()).await;
    let failed = tokio::time::timeout(WAIT, session.client.call(Job::new(f("py:fail"), "x")))
        .await
        .unwrap();
    assert!(failed.is_err(), "py:fail came back as {failed:?}");
    session.finish().await;
}

gearman_testkit::on_both_servers!(python_gear_client_and_worker);
