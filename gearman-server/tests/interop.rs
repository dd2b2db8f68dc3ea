//! The embedded server with this family's client and worker, and with tools nobody here wrote:
//! Debian's `gearman` client and worker (libgearman) and `gearadmin`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use gearman_client::{Client, Error, Job};
use gearman_proto::FunctionName;
use gearman_server::{CoreConfig, Server};
use gearman_testkit::{skip, until};
use gearman_worker::{Job as WorkerJob, JobError, Worker};

const WAIT: Duration = Duration::from_secs(10);

fn f(s: &str) -> FunctionName {
    FunctionName::try_from(s).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_and_worker_through_the_embedded_server() {
    let server = Server::bind("127.0.0.1:0", CoreConfig::default())
        .await
        .unwrap();
    let addr = server.local_addr().to_string();
    let worker = Worker::builder()
        .server(addr.clone())
        .concurrency(4)
        .connections_per_server(4)
        .function(f("srv:rev"), |job: WorkerJob| async move {
            let mut v = job.data().to_vec();
            v.reverse();
            Ok(Bytes::from(v))
        })
        .function(f("srv:boom"), |_job: WorkerJob| async {
            Err::<Bytes, _>(JobError::Exception(Bytes::from_static(b"boom")))
        })
        .spawn()
        .unwrap();
    let client = Client::builder().server(addr.clone()).spawn().unwrap();
    until("the connections", WAIT, || async {
        client.connected() == 1 && worker.connected() == 4
    })
    .await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..500 {
        let c = client.clone();
        tasks.spawn(async move {
            let input = format!("job-{i}");
            let out = c.call(Job::new(f("srv:rev"), input.clone())).await.unwrap();
            assert_eq!(out, Bytes::from(input.chars().rev().collect::<String>()));
        });
    }
    while let Some(r) = tokio::time::timeout(WAIT, tasks.join_next()).await.unwrap() {
        r.unwrap();
    }
    let boom = client.call(Job::new(f("srv:boom"), "")).await;
    assert_eq!(boom, Err(Error::JobException(Bytes::from_static(b"boom"))));
    assert_eq!(client.echo("ping").await, Ok(Bytes::from_static(b"ping")));
    worker.shutdown(WAIT).await.unwrap();
}

/// Debian's `name` tool, or a visible skip of `test` (a failure where CI demands the tools).
fn tool(test: &str, name: &str) -> Option<String> {
    let path = format!("/usr/bin/{name}");
    if std::path::Path::new(&path).is_file() {
        return Some(path);
    }
    skip(
        test,
        &format!("{name} is not installed (apt-get install -y gearman-tools)"),
    );
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debian_gearman_tools_work_against_the_embedded_server() {
    let test = "debian_gearman_tools_work_against_the_embedded_server";
    let (Some(gearman), Some(gearadmin)) = (tool(test, "gearman"), tool(test, "gearadmin")) else {
        return;
    };
    let server = Server::bind("127.0.0.1:0", CoreConfig::default())
        .await
        .unwrap();
    let port = server.local_addr().port().to_string();
    // libgearman's worker (it grabs with GRAB_JOB_ALL) running `tr a-z A-Z` per job.
    let mut worker = Command::new(&gearman)
        .args([
            "-w",
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-f",
            "srv:upper",
            "--",
            "tr",
            "a-z",
            "A-Z",
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let status = || {
        let out = Command::new(&gearadmin)
            .args(["-h", "127.0.0.1", "-p", &port, "--status"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    until("the Debian worker's registration", WAIT, || async {
        status()
            .lines()
            .any(|l| l.starts_with("srv:upper\t") && l.ends_with("\t1"))
    })
    .await;
    let out = tokio::time::timeout(
        WAIT,
        tokio::process::Command::new(&gearman)
            .args(["-h", "127.0.0.1", "-p", &port, "-f", "srv:upper", "hello"])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), "HELLO");
    let workers = Command::new(&gearadmin)
        .args(["-h", "127.0.0.1", "-p", &port, "--workers"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&workers.stdout).contains("srv:upper"));
    let _ = worker.kill();
    let _ = worker.wait();
}
