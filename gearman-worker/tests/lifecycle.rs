//! What a program sees of a worker's life: waiting for it to end, its connection state per
//! server, the warning when a server cannot be reached, and its one identity on every server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::WAIT;
use gearman_proto::admin::{AdminCommand, AdminReply};
use gearman_testkit::{until, ServerKind, TestServer};
use gearman_worker::{ConnState, Worker, WorkerError};

fn echo_worker(servers: &[String]) -> gearman_worker::WorkerBuilder {
    let mut b =
        Worker::builder().function("life:echo", |job| async move { Ok(job.data().clone()) });
    for s in servers {
        b = b.server(s.clone());
    }
    b
}

async fn join_resolves_after_shutdown_from_another_clone(kind: ServerKind) {
    let Some(g) = TestServer::start_or_skip(kind, "join") else {
        return;
    };
    let worker = echo_worker(&[g.addr().to_string()]).spawn().unwrap();
    worker.ready(WAIT).await.unwrap();
    // Cancel-safe: a join given up on changes nothing.
    assert!(
        tokio::time::timeout(Duration::from_millis(100), worker.join())
            .await
            .is_err(),
        "a running worker has not ended"
    );
    let joiner = {
        let worker = worker.clone();
        tokio::spawn(async move { worker.join().await })
    };
    worker.shutdown(WAIT).await.unwrap();
    tokio::time::timeout(WAIT, joiner)
        .await
        .expect("join resolved after shutdown")
        .unwrap();
    assert_eq!(worker.connected(), 0);
    // Once ended, join and a second shutdown resolve at once.
    tokio::time::timeout(Duration::from_secs(1), worker.join())
        .await
        .expect("join after the end resolves at once");
    tokio::time::timeout(Duration::from_secs(1), worker.shutdown(WAIT))
        .await
        .expect("a second shutdown resolves at once")
        .unwrap();
}

async fn one_client_id_on_every_server_with_suffixes_for_extra_connections(kind: ServerKind) {
    let (Some(a), Some(b)) = (
        TestServer::start_or_skip(kind, "one identity"),
        TestServer::start_or_skip(kind, "one identity"),
    ) else {
        return;
    };
    let worker = echo_worker(&[a.addr().to_string(), b.addr().to_string()])
        .client_id("node-1")
        .connections_per_server(2)
        .concurrency(2)
        .spawn()
        .unwrap();
    let want: BTreeSet<String> = ["node-1".to_string(), "node-1_1".to_string()].into();
    for server in [a.addr(), b.addr()] {
        let ids = || async move {
            let AdminReply::Workers(rows) = common::admin(server, AdminCommand::Workers).await
            else {
                panic!("not a workers reply")
            };
            rows.iter()
                .filter(|r| r.functions.iter().any(|f| f == "life:echo"))
                .filter_map(|r| r.client_id.as_ref())
                .map(|id| String::from_utf8_lossy(id).into_owned())
                .collect::<BTreeSet<_>>()
        };
        until(
            "both connections registered under their ids",
            WAIT,
            || async { ids().await == want },
        )
        .await;
    }
    worker.shutdown(WAIT).await.unwrap();
}

/// A `Job` moved into a task of its own learns that its connection let go of it: its
/// progress updates fail with `JobGone` once CAN_DO_TIMEOUT has made the server take it back.
async fn a_job_kept_in_a_task_learns_it_is_gone(kind: ServerKind) {
    let Some(g) = TestServer::start_or_skip(kind, "job_gone") else {
        return;
    };
    let (gone_tx, gone_rx) = tokio::sync::oneshot::channel::<usize>();
    let gone_tx = Arc::new(Mutex::new(Some(gone_tx)));
    let worker = Worker::builder()
        .server(g.addr().to_string())
        .function_with_timeout(
            "life:slow",
            gearman_worker::Timeout::from_millis(1000),
            move |job| {
                let gone_tx = gone_tx.clone();
                async move {
                    tokio::spawn(async move {
                        // Bounded: 100 updates at most, 100 ms apart.
                        for sent in 0..100 {
                            if job.send_status(sent, 100).await.is_err() {
                                if let Some(tx) = gone_tx.lock().unwrap().take() {
                                    let _ = tx.send(sent as usize);
                                }
                                return;
                            }
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    });
                    // The handler itself never ends: the server's timeout takes the job back.
                    std::future::pending::<gearman_worker::JobResult>().await
                }
            },
        )
        .spawn()
        .unwrap();
    worker.ready(WAIT).await.unwrap();
    let client = gearman_client::Client::builder()
        .server(g.addr().to_string())
        .spawn()
        .unwrap();
    client
        .submit(gearman_client::Job::new("life:slow", "x").background())
        .await
        .unwrap();
    let sent = tokio::time::timeout(WAIT, gone_rx)
        .await
        .expect("the task never saw JobGone")
        .unwrap();
    assert!(sent >= 5, "updates went out while the job was held: {sent}");
    worker.shutdown(WAIT).await.unwrap();
}

gearman_testkit::on_both_servers!(
    join_resolves_after_shutdown_from_another_clone,
    one_client_id_on_every_server_with_suffixes_for_extra_connections,
    a_job_kept_in_a_task_learns_it_is_gone,
);

/// Everything logged while it is the thread's default subscriber, as text.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Log {
    fn lines_with(&self, text: &str) -> Vec<String> {
        let bytes = self.0.lock().unwrap().clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter(|l| l.contains(text))
            .map(str::to_owned)
            .collect()
    }
}

impl std::io::Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The worker's drivers run on this (current-thread) runtime, so the thread's default
/// subscriber sees their logs.
#[tokio::test]
async fn a_server_that_is_down_is_warned_once_per_outage_and_shown_by_servers_and_ready() {
    use tracing_subscriber::util::SubscriberInitExt;

    let Some(mut g) = TestServer::start_or_skip(ServerKind::GearmanServer, "down") else {
        return;
    };
    let log = Log::default();
    let _guard = {
        let log = log.clone();
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing_subscriber::filter::LevelFilter::DEBUG)
            .with_writer(move || log.clone())
            .finish()
            .set_default()
    };
    g.kill();
    let worker = echo_worker(&[g.addr().to_string()])
        .reconnect_backoff(Duration::from_millis(10), Duration::from_millis(20))
        .spawn()
        .unwrap();

    // Every server has failed an attempt: ready says why at once.
    let err = worker.ready(WAIT).await.unwrap_err();
    let WorkerError::Unreachable(unreachable) = &err else {
        panic!("{err}")
    };
    assert_eq!(unreachable.servers.len(), 1);
    assert_eq!(unreachable.servers[0].addr, g.addr().to_string());
    assert_eq!(unreachable.servers[0].kind, ErrorKind::ConnectionRefused);
    let state = &worker.servers()[0];
    let ConnState::Down(e) = &state.state else {
        panic!("{state:?}")
    };
    assert_eq!(e.kind, ErrorKind::ConnectionRefused);
    // Attempts every 10-20 ms: the repeats are at debug, the warning came once.
    until("repeated attempts", WAIT, || async {
        log.lines_with("still not connected").len() >= 5
    })
    .await;
    let warned = log.lines_with("not connected; retrying");
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(warned[0].contains("WARN") && warned[0].to_lowercase().contains("refused"));

    g.restart().unwrap();
    until("the connection", WAIT, || async {
        worker.ready(Duration::from_millis(50)).await.is_ok()
    })
    .await;
    let up = worker.servers()[0].clone();
    assert!(up.is_up(), "{up:?}");

    // A new outage warns again: the loss, then the refused reconnects (a new reason).
    g.kill();
    until("the loss is seen", WAIT, || async {
        !worker.servers()[0].is_up()
    })
    .await;
    until("the warnings of the second outage", WAIT, || async {
        let warned = log.lines_with("not connected; retrying");
        warned.len() == 3
            && warned[1].contains("connection lost")
            && warned[2].to_lowercase().contains("refused")
    })
    .await;
    worker.shutdown(WAIT).await.unwrap();
    worker.join().await;
}
