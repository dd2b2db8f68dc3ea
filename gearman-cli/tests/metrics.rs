//! `--metrics ADDR` of `gearmanctl serve` and `gearmanctl ci`, live on loopback: each prints
//! the URL it serves (port 0 picks a free one), and a scrape over a plain TcpStream shows the
//! jobs and builds run meanwhile.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use common::{get, metrics_addr, start};
use gearman_client::{Client, Job};
use gearman_proto::FunctionName;
use gearman_testkit::{ServerKind, TestServer};
use gearman_worker::{Job as WorkerJob, Worker};

const WAIT: Duration = Duration::from_secs(15);

fn f(s: &str) -> FunctionName {
    FunctionName::try_from(s).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_metrics_shows_queues_and_outcomes() {
    let (_server, lines) = start(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--metrics",
            "127.0.0.1:0",
        ],
        2,
    );
    let addr: SocketAddr = lines[0]
        .strip_prefix("listening on ")
        .expect("the listening line first")
        .parse()
        .unwrap();
    let metrics = metrics_addr(&lines[1]);
    assert!(metrics.ip().is_loopback());

    let worker = Worker::builder()
        .server(addr.to_string())
        .function(f("cli:echo"), |job: WorkerJob| async move {
            Ok(job.data().clone())
        })
        .spawn()
        .unwrap();
    let client = Client::builder().server(addr.to_string()).spawn().unwrap();
    client.ready(WAIT).await.unwrap();
    for i in 0..2 {
        client
            .submit(Job::new(f("cli:queued"), format!("{i}")).background())
            .await
            .unwrap();
    }
    let mut done = None;
    for _ in 0..100 {
        // The worker may not have registered yet: a job without a worker would wait.
        if worker.connected() > 0 {
            done = Some(client.call(Job::new(f("cli:echo"), "hi")).await.unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(done, Some(Bytes::from_static(b"hi")));

    let text = tokio::task::spawn_blocking(move || {
        common::scrape_until(
            metrics,
            &[
                ("gearman_function_queued{function=\"cli:queued\"}", 2.0),
                ("gearman_function_workers{function=\"cli:echo\"}", 1.0),
                ("gearman_jobs_submitted_total", 3.0),
                ("gearman_job_outcomes_total{outcome=\"complete\"}", 1.0),
                ("gearman_job_queue_wait_seconds_count", 1.0),
                ("gearman_job_run_seconds_count", 1.0),
                ("gearman_store_commit_seconds_count", 0.0),
            ],
            WAIT,
        )
    })
    .await
    .unwrap();
    assert!(common::value(&text, "gearman_connections_open").unwrap() >= 2.0);
    let (status, _) = tokio::task::spawn_blocking(move || get(metrics, "/"))
        .await
        .unwrap();
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    worker.shutdown(WAIT).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ci_metrics_show_builds_executors_and_registrations() {
    let Some(g) = TestServer::start_or_skip(ServerKind::GearmanServer, "ci --metrics") else {
        return;
    };
    let addr = g.addr();
    let dir = std::env::temp_dir().join(format!("gearmanctl-ci-metrics-{}", addr.port()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("ci.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[gearman]
servers = ["{addr}"]
manager = "ci01"
log_dir = "{logs}"

[[node]]
name = "m1"
executors = 2

[[project]]
name = "ok"
command = "true"

[[project]]
name = "fail"
command = "exit 3"
"#,
            logs = dir.join("logs").display()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap().to_owned();
    let (_ci, lines) = start(&["ci", "--config", &config, "--metrics", "127.0.0.1:0"], 1);
    let metrics = metrics_addr(&lines[0]);

    // Two executors, each registering build:fail and build:ok.
    tokio::task::spawn_blocking(move || {
        common::scrape_until(
            metrics,
            &[
                ("gearman_ci_executors{state=\"idle\"}", 2.0),
                ("gearman_ci_executors{state=\"busy\"}", 0.0),
                ("gearman_ci_registrations_total{request=\"can_do\"}", 4.0),
                ("gearman_ci_registrations_total{request=\"cant_do\"}", 0.0),
                ("gearman_ci_registration_updates_total", 2.0),
                ("gearman_ci_builds_total{result=\"SUCCESS\"}", 0.0),
            ],
            WAIT,
        )
    })
    .await
    .unwrap();

    let client = Client::builder().server(addr.to_string()).spawn().unwrap();
    client.ready(WAIT).await.unwrap();
    // A call waits in the queue until an executor takes it.
    for function in ["build:ok", "build:fail"] {
        let report = client.call(Job::new(f(function), "{}")).await.unwrap();
        assert!(!report.is_empty());
    }
    tokio::task::spawn_blocking(move || {
        common::scrape_until(
            metrics,
            &[
                ("gearman_ci_builds_started_total", 2.0),
                ("gearman_ci_builds_total{result=\"SUCCESS\"}", 1.0),
                ("gearman_ci_builds_total{result=\"FAILURE\"}", 1.0),
                ("gearman_ci_builds_total{result=\"NOT_STARTED\"}", 0.0),
                ("gearman_ci_executors{state=\"busy\"}", 0.0),
            ],
            WAIT,
        )
    })
    .await
    .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
