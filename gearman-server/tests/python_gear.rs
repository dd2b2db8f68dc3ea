//! Interop with the python `gear` library (pip `gear==0.16.0`, the library Zuul and nodepool
//! were built on): its worker and client run jobs through each server, also against this
//! family's worker and client. The scenario runs against gearmand too, which shows the script
//! itself is right. CI installs gear; elsewhere a missing gear is a visible skip
//! (`gearman_testkit::skip`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;
use std::time::Duration;

use bytes::Bytes;
use gearman_client::{Client, Job};
use gearman_proto::FunctionName;
use gearman_testkit::{skip, until, ServerKind, TestServer};
use gearman_worker::{Job as WorkerJob, Worker};
use tokio::io::{AsyncBufReadExt, BufReader};

const WAIT: Duration = Duration::from_secs(30);
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/gear_interop.py");

fn f(s: &str) -> FunctionName {
    FunctionName::try_from(s).unwrap()
}

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
    let addr = g.addr();
    let worker = Worker::builder()
        .server(addr.to_string())
        .function(f("rs:upper"), |job: WorkerJob| async move {
            Ok(Bytes::from(job.data().to_ascii_uppercase()))
        })
        .spawn()
        .unwrap();
    let mut py = tokio::process::Command::new("python3")
        .arg(SCRIPT)
        .arg(addr.ip().to_string())
        .arg(addr.port().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(py.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(WAIT, lines.next_line())
        .await
        .expect("the gear client finished in time")
        .unwrap();
    assert_eq!(first.as_deref(), Some("CLIENT OK"), "gear's client checks");

    // This family's client, gear's worker.
    let client = Client::builder().server(addr.to_string()).spawn().unwrap();
    until("the client's connection", WAIT, || async {
        client.connected() > 0
    })
    .await;
    for i in 0..20 {
        let input = format!("from rust {i}");
        let out = tokio::time::timeout(WAIT, client.call(Job::new(f("py:rev"), input.clone())))
            .await
            .unwrap()
            .unwrap();
        let want: String = input.chars().rev().collect();
        assert_eq!(out, Bytes::from(want));
    }
    let failed = client.call(Job::new(f("py:fail"), "x")).await;
    assert!(failed.is_err(), "py:fail came back as {failed:?}");

    drop(py.stdin.take());
    let bye = tokio::time::timeout(WAIT, lines.next_line())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bye.as_deref(), Some("BYE"));
    let status = tokio::time::timeout(WAIT, py.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
    worker.shutdown(Duration::from_secs(5)).await.unwrap();
}

gearman_testkit::on_both_servers!(python_gear_client_and_worker);
