//! Every program in `examples/` run as a user would run it, against the embedded server with a
//! `reverse` worker of this family, its output checked.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use gearman_client::Bytes;
use gearman_testkit::{run_example, ServerKind, TestServer};
use gearman_worker::{JobResult, Worker};

const DEADLINE: Duration = Duration::from_secs(60);

async fn reverse(job: gearman_worker::Job) -> JobResult {
    let mut v = job.data().to_vec();
    v.reverse();
    Ok(Bytes::from(v))
}

/// The server and a `reverse` worker; examples run on blocking threads beside them.
async fn with_worker(test: &str) -> (TestServer, Worker, String) {
    let server = TestServer::start_or_skip(ServerKind::GearmanServer, test).unwrap();
    let addr = server.addr().to_string();
    let worker = Worker::builder()
        .server(addr.clone())
        .concurrency(8)
        .function(
            gearman_client::FunctionName::try_from("reverse").unwrap(),
            reverse,
        )
        .spawn()
        .unwrap();
    (server, worker, addr)
}

async fn run(
    name: &'static str,
    addr: &str,
    args: &'static [&'static str],
) -> gearman_testkit::ExampleRun {
    let addr = addr.to_string();
    tokio::task::spawn_blocking(move || run_example(name, &addr, args, DEADLINE))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn call_prints_the_reversed_word() {
    let (_server, worker, addr) = with_worker("example_call").await;
    let out = run("call", &addr, &["gearman"]).await;
    assert!(out.success(), "{out:?}");
    assert_eq!(out.stdout, "namraeg\n");
    worker.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn call_against_nothing_says_why() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    drop(l);
    let out = run("call", &addr, &["x"]).await;
    assert!(!out.success());
    assert!(out.stderr.contains("refused"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_completes_every_job() {
    let (_server, worker, addr) = with_worker("example_batch").await;
    let out = run("batch", &addr, &["500"]).await;
    assert!(out.success(), "{out:?}");
    assert!(
        out.stdout.starts_with("500 of 500 jobs completed"),
        "{out:?}"
    );
    worker.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn background_prints_handles_and_status() {
    // No worker: the jobs stay queued and known.
    let server =
        TestServer::start_or_skip(ServerKind::GearmanServer, "example_background").unwrap();
    let out = run("background", &server.addr().to_string(), &["3"]).await;
    assert!(out.success(), "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{out:?}");
    assert!(lines[0].ends_with("known=true running=false"), "{out:?}");
    for (i, line) in lines[1..4].iter().enumerate() {
        assert!(line.starts_with(&format!("job {i}: ")), "{line}");
    }
    assert_eq!(lines[4], "background-example: known=true waiting clients=0");
}
