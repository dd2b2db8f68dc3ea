//! The interop scenario shared by the peer tests (python gear, node's gearman): the peer script
//! first runs its own client against this family's `rs:upper` worker and prints `CLIENT OK`;
//! then it serves `PREFIX:rev`, `PREFIX:fail` (and more) with its worker for this family's client;
//! closing its stdin makes it print `BYE` and exit 0.

use std::process::Stdio;
use std::time::Duration;

use bytes::Bytes;
use gearman_client::{Client, Job};
use gearman_proto::FunctionName;
use gearman_testkit::until;
use gearman_worker::{Job as WorkerJob, Worker};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout};

pub(crate) const WAIT: Duration = Duration::from_secs(30);

pub(crate) fn f(s: &str) -> FunctionName {
    FunctionName::try_from(s).unwrap()
}

/// A peer program: `PROGRAM SCRIPT HOST PORT`, run in `dir`.
pub(crate) struct Peer {
    /// For messages: `gear`, `node`.
    pub(crate) name: &'static str,
    pub(crate) program: &'static str,
    pub(crate) script: &'static str,
    pub(crate) dir: Option<&'static str>,
    /// The prefix of the peer worker's functions.
    pub(crate) prefix: &'static str,
}

/// The scenario under way: the peer's client has passed and its worker is serving.
pub(crate) struct Session {
    pub(crate) client: Client,
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    worker: Worker,
}

/// Runs the peer's client against our worker, then 20 calls of our client to the peer's
/// `PREFIX:rev`, each checked.
pub(crate) async fn start(peer: &Peer, addr: std::net::SocketAddr) -> Session {
    let worker = Worker::builder()
        .server(addr.to_string())
        .function(f("rs:upper"), |job: WorkerJob| async move {
            Ok(Bytes::from(job.data().to_ascii_uppercase()))
        })
        .spawn()
        .unwrap();
    let mut command = tokio::process::Command::new(peer.program);
    if let Some(dir) = peer.dir {
        command.current_dir(dir);
    }
    let mut child = command
        .arg(peer.script)
        .arg(addr.ip().to_string())
        .arg(addr.port().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(WAIT, lines.next_line())
        .await
        .unwrap_or_else(|_| panic!("the {} client did not finish in time", peer.name))
        .unwrap();
    assert_eq!(
        first.as_deref(),
        Some("CLIENT OK"),
        "{}'s client checks",
        peer.name
    );

    // This family's client, the peer's worker.
    let client = Client::builder().server(addr.to_string()).spawn().unwrap();
    until("the client's connection", WAIT, || async {
        client.connected() > 0
    })
    .await;
    let rev = format!("{}:rev", peer.prefix);
    for i in 0..20 {
        let input = format!("from rust {i}");
        let out = tokio::time::timeout(WAIT, client.call(Job::new(f(&rev), input.clone())))
            .await
            .unwrap()
            .unwrap();
        let want: String = input.chars().rev().collect();
        assert_eq!(out, Bytes::from(want));
    }
    Session {
        client,
        child,
        lines,
        worker,
    }
}

impl Session {
    /// Closes the peer's stdin: it says `BYE` and exits 0; our worker stops.
    pub(crate) async fn finish(mut self) {
        drop(self.child.stdin.take());
        let bye = tokio::time::timeout(WAIT, self.lines.next_line())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(bye.as_deref(), Some("BYE"));
        let status = tokio::time::timeout(WAIT, self.child.wait())
            .await
            .unwrap()
            .unwrap();
        assert!(status.success(), "{status}");
        self.worker.shutdown(Duration::from_secs(5)).await.unwrap();
    }
}
