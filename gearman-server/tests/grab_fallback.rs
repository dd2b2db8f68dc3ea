//! Servers that know only GRAB_JOB (or GRAB_JOB_UNIQ): gearman-server with
//! `CoreConfig::newest_grab` standing in for one; Debian's `gearman-server` package, the Perl
//! Gearman::Server 1.130, which knows only GRAB_JOB and answers the others with
//! `ERROR server_error`; and python gear's server, which predates GRAB_JOB_ALL and leaves it
//! unanswered. This family's worker falls back to the grab the server knows and, with this
//! family's client, serves every job exactly once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use gearman_client::{Client, ClientBuilder, Job};
use gearman_proto::{FunctionName, GrabKind};
use gearman_server::{CoreConfig, ServerConfig};
use gearman_testkit::{skip, until, Embedded};
use gearman_worker::{Job as WorkerJob, Worker, WorkerBuilder};
use tokio::io::{AsyncBufReadExt, BufReader};

const WAIT: Duration = Duration::from_secs(30);
const JOBS: usize = 20;
/// Where Debian's `gearman-server` package puts the Perl server.
const PERL_GEARMAND: &str = "/usr/bin/gearmand";
const GEAR_SERVER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/gear_server.py");

fn f(s: &str) -> FunctionName {
    FunctionName::try_from(s).unwrap()
}

fn server_knowing(newest: GrabKind) -> Embedded {
    let config = ServerConfig::from(CoreConfig {
        newest_grab: newest,
        ..CoreConfig::default()
    });
    Embedded::start(config, None).unwrap()
}

/// 20 jobs with distinct uniques through `addr`, served by a worker that starts with `first`
/// grab: every one completes with its own result, and the worker ran each exactly once.
async fn twenty_jobs(server: GrabKind, first: GrabKind, want_unique: bool) {
    let s = server_knowing(server);
    let addr = s.addr().to_string();
    // Only the ERROR can make it fall back here.
    let worker = Worker::builder().grab(first).grab_answer_timeout(None);
    twenty_jobs_through(&addr, worker, Client::builder(), want_unique).await;
}

async fn twenty_jobs_through(
    addr: &str,
    worker: WorkerBuilder,
    client: ClientBuilder,
    want_unique: bool,
) {
    let runs: Arc<Mutex<BTreeMap<Bytes, (usize, bool)>>> = Arc::default();
    let seen = runs.clone();
    let worker = worker
        .server(addr.to_string())
        .concurrency(4)
        .connections_per_server(2)
        .function(f("old:upper"), move |job: WorkerJob| {
            {
                let mut runs = seen.lock().unwrap();
                let entry = runs.entry(job.data().clone()).or_insert((0, false));
                entry.0 += 1;
                entry.1 = job.unique().is_some_and(|u| !u.as_bytes().is_empty());
            }
            async move { Ok(Bytes::from(job.data().to_ascii_uppercase())) }
        })
        .spawn()
        .unwrap();
    let client = client.server(addr.to_string()).spawn().unwrap();
    until("the client's connection", WAIT, || async {
        client.connected() > 0
    })
    .await;
    let calls: Vec<_> = (0..JOBS)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                let input = format!("job {i}");
                let job = Job::new(f("old:upper"), input.clone()).unique(format!("u{i}"));
                let out = tokio::time::timeout(WAIT, client.call(job)).await;
                (input, out)
            })
        })
        .collect();
    let mut served = 0;
    for call in calls {
        let (input, out) = call.await.unwrap();
        let out = out
            .unwrap_or_else(|_| panic!("{input} hung"))
            .unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(out, Bytes::from(input.to_ascii_uppercase()));
        served += 1;
    }
    assert_eq!(served, JOBS);
    let runs = runs.lock().unwrap().clone();
    assert_eq!(runs.len(), JOBS, "every job reached the handler");
    for (data, (count, had_unique)) in runs.iter() {
        assert_eq!(*count, 1, "{data:?} ran {count} times");
        assert_eq!(
            *had_unique, want_unique,
            "{data:?}: unique seen by the worker"
        );
    }
    worker.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_knowing_only_grab_job_serves_20_of_20_from_a_grab_all_worker() {
    twenty_jobs(GrabKind::Plain, GrabKind::All, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_knowing_only_grab_job_serves_20_of_20_from_a_default_worker() {
    twenty_jobs(GrabKind::Plain, GrabKind::Uniq, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_grab_all_keeps_uniques() {
    twenty_jobs(GrabKind::Uniq, GrabKind::All, true).await;
}

/// Python gear's server knows GRAB_JOB_UNIQ but not GRAB_JOB_ALL, which it ignores: the worker's
/// GRAB_JOB_ALL goes unanswered, the connection is replaced, and GRAB_JOB_UNIQ serves every job
/// with its unique. (gear's server answers neither ECHO nor OPTION_REQ: no heartbeats, no
/// exceptions option.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_gear_s_server_serves_20_of_20_from_a_grab_all_worker() {
    let Ok(mut server) = tokio::process::Command::new("python3")
        .arg(GEAR_SERVER)
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
    else {
        skip("python_gear_s_server", "python3 is missing");
        return;
    };
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(WAIT, lines.next_line())
        .await
        .expect("gear's server started in time")
        .unwrap();
    let Some(port) = first.as_deref().and_then(|l| l.strip_prefix("PORT ")) else {
        skip(
            "python_gear_s_server",
            "python gear is missing (pip install gear==0.16.0)",
        );
        return;
    };
    let addr = format!("127.0.0.1:{port}");
    let worker = Worker::builder()
        .grab(GrabKind::All)
        .grab_answer_timeout(Some(Duration::from_millis(500)))
        .heartbeat(None, Duration::from_secs(10));
    let client = Client::builder()
        .exceptions(false)
        .heartbeat(None, Duration::from_secs(10));
    twenty_jobs_through(&addr, worker, client, true).await;
    drop(server.stdin.take());
    let status = tokio::time::timeout(WAIT, server.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
}

/// The Perl Gearman::Server from Debian's `gearman-server` package, on a free loopback port:
/// the server of the issue, which knows only GRAB_JOB.
async fn perl_gearman_server() -> Option<(tokio::process::Child, String)> {
    let is_perl = std::fs::read_to_string(PERL_GEARMAND)
        .is_ok_and(|script| script.starts_with("#!") && script.contains("Gearman::Server"));
    if !is_perl {
        skip(
            "perl_gearman_server",
            "Debian's Perl Gearman::Server is missing (apt-get install -y gearman-server)",
        );
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = tokio::process::Command::new(PERL_GEARMAND)
        .args(["--port", &port.to_string(), "--listen", "127.0.0.1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{port}");
    until("the Perl server listens", WAIT, || async {
        tokio::net::TcpStream::connect(&addr).await.is_ok()
    })
    .await;
    Some((child, addr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debian_s_perl_server_serves_20_of_20_from_a_grab_all_worker() {
    let Some((_server, addr)) = perl_gearman_server().await else {
        return;
    };
    // Only the ERROR can make it fall back here.
    let worker = Worker::builder()
        .grab(GrabKind::All)
        .grab_answer_timeout(None);
    twenty_jobs_through(&addr, worker, Client::builder(), false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debian_s_perl_server_serves_20_of_20_from_a_default_worker() {
    let Some((_server, addr)) = perl_gearman_server().await else {
        return;
    };
    let worker = Worker::builder().grab_answer_timeout(None);
    twenty_jobs_through(&addr, worker, Client::builder(), false).await;
}
