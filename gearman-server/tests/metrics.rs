//! The metrics over HTTP, live on loopback: a server with jobs of every outcome, scraped over a
//! plain TcpStream; per-function gauges, outcome counters, histogram counts, connection and
//! byte counters, the store hook, and the responder's refusals.

#![cfg(feature = "metrics")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use bytes::Bytes;
use gearman_client::{Client, Job};
use gearman_proto::FunctionName;
use gearman_server::{Server, ServerConfig};
use gearman_testkit::{raw_packet, read_packet, until};
use gearman_worker::{Job as WorkerJob, JobError, Worker};

const WAIT: Duration = Duration::from_secs(10);
const CAN_DO: u32 = 1;
const GRAB_JOB: u32 = 9;
const JOB_ASSIGN: u32 = 11;

fn f(s: &str) -> FunctionName {
    FunctionName::try_from(s).unwrap()
}

/// One HTTP request over a fresh connection, in a blocking thread: the status line and the
/// body.
async fn http(addr: SocketAddr, request: Vec<u8>) -> (String, String) {
    tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(&request).unwrap();
        let mut answer = Vec::new();
        s.read_to_end(&mut answer).unwrap();
        let answer = String::from_utf8(answer).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
        let status = head.lines().next().unwrap_or_default().to_owned();
        if status.contains("200") {
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .expect("a length");
            assert_eq!(length.parse::<usize>().unwrap(), body.len());
            assert!(head.contains("Content-Type: application/openmetrics-text"));
        }
        (status, body.to_owned())
    })
    .await
    .unwrap()
}

async fn scrape(addr: SocketAddr) -> String {
    let (status, body) = http(
        addr,
        b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n".to_vec(),
    )
    .await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    body
}

/// The value of `series` (name and labels exactly as written), if the text has it.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
}

/// Waits until every `(series, value)` is in a scrape; returns that scrape.
async fn scrape_until(addr: SocketAddr, want: &[(&str, f64)]) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let text = scrape(addr).await;
        if want.iter().all(|(s, v)| value(&text, s) == Some(*v)) {
            return text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "wanted {want:?} in\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_shows_queues_outcomes_and_timings() {
    let server = Server::bind("127.0.0.1:0", ServerConfig::default())
        .await
        .unwrap();
    let addr = server.local_addr();
    let metrics = server.serve_metrics("127.0.0.1:0").await.unwrap();
    assert!(metrics.ip().is_loopback());

    // Before any job: every outcome at zero, no function yet.
    let text = scrape(metrics).await;
    assert_eq!(
        value(&text, "gearman_job_outcomes_total{outcome=\"complete\"}"),
        Some(0.0)
    );
    assert_eq!(
        value(&text, "gearman_store_commit_seconds_count"),
        Some(0.0)
    );
    assert!(text.ends_with("# EOF\n"), "{text}");

    let worker = Worker::builder()
        .server(addr.to_string())
        .function(f("m:ok"), |job: WorkerJob| async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok(job.data().clone())
        })
        .function(
            f("m:fail"),
            |_job: WorkerJob| async move { Err(JobError::Fail) },
        )
        .function(f("m:exc"), |_job: WorkerJob| async move {
            Err(JobError::Exception(Bytes::from_static(b"boom")))
        })
        .spawn()
        .unwrap();
    let client = Client::builder()
        .server(addr.to_string())
        .exceptions(true)
        .spawn()
        .unwrap();
    client.ready(WAIT).await.unwrap();
    until("the worker's registrations", WAIT, || async {
        server
            .stats()
            .await
            .unwrap()
            .iter()
            .filter(|s| s.workers == 1)
            .count()
            == 3
    })
    .await;

    for i in 0..3 {
        client
            .submit(Job::new(f("m:queued"), format!("{i}")).background())
            .await
            .unwrap();
    }
    for i in 0..2 {
        let got = client.call(Job::new(f("m:ok"), format!("ok{i}"))).await;
        assert_eq!(got.unwrap(), Bytes::from(format!("ok{i}")));
    }
    assert!(client.call(Job::new(f("m:fail"), "x")).await.is_err());
    assert!(client.call(Job::new(f("m:exc"), "x")).await.is_err());

    // A worker that takes a job and goes away: the job is re-queued.
    client
        .submit(Job::new(f("m:lost"), "again").background())
        .await
        .unwrap();
    tokio::task::spawn_blocking(move || {
        let mut w = TcpStream::connect(addr).unwrap();
        w.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        w.write_all(&raw_packet(CAN_DO, &[b"m:lost"])).unwrap();
        w.write_all(&raw_packet(GRAB_JOB, &[])).unwrap();
        assert_eq!(read_packet(&mut w).unwrap().ty, JOB_ASSIGN);
    })
    .await
    .unwrap();

    let text = scrape_until(
        metrics,
        &[
            ("gearman_function_queued{function=\"m:queued\"}", 3.0),
            ("gearman_function_workers{function=\"m:queued\"}", 0.0),
            ("gearman_function_queued{function=\"m:lost\"}", 1.0),
            ("gearman_function_running{function=\"m:lost\"}", 0.0),
            ("gearman_function_workers{function=\"m:ok\"}", 1.0),
            ("gearman_function_queued{function=\"m:ok\"}", 0.0),
            ("gearman_jobs_submitted_total", 8.0),
            ("gearman_job_outcomes_total{outcome=\"complete\"}", 2.0),
            ("gearman_job_outcomes_total{outcome=\"fail\"}", 1.0),
            ("gearman_job_outcomes_total{outcome=\"exception\"}", 1.0),
            ("gearman_job_outcomes_total{outcome=\"requeued\"}", 1.0),
            ("gearman_job_outcomes_total{outcome=\"timed_out\"}", 0.0),
            // Four calls and the lost job were taken by a worker; four runs ended.
            ("gearman_job_queue_wait_seconds_count", 5.0),
            ("gearman_job_run_seconds_count", 4.0),
        ],
    )
    .await;
    // Two m:ok runs of at least 20 ms each (on the core's millisecond clock).
    let run_sum = value(&text, "gearman_job_run_seconds_sum").unwrap();
    assert!(run_sum >= 0.04, "run time sum {run_sum}\n{text}");
    assert_eq!(
        value(&text, "gearman_job_run_seconds_bucket{le=\"+Inf\"}"),
        Some(4.0)
    );
    // The worker, the client, and the raw worker (now gone).
    assert!(value(&text, "gearman_connections_accepted_total").unwrap() >= 3.0);
    assert!(value(&text, "gearman_connections_open").unwrap() >= 2.0);
    assert!(value(&text, "gearman_bytes_read_total").unwrap() > 0.0);
    assert!(value(&text, "gearman_bytes_written_total").unwrap() > 0.0);

    // The store's hook, and the same registry from the handle.
    server
        .metrics()
        .observe_store_commit(Duration::from_micros(700));
    scrape_until(metrics, &[("gearman_store_commit_seconds_count", 1.0)]).await;
    let from_handle = server.render_metrics().await.unwrap();
    assert_eq!(
        value(
            &from_handle,
            "gearman_function_queued{function=\"m:queued\"}"
        ),
        Some(3.0)
    );
    assert!(server
        .metrics()
        .encode()
        .contains("gearman_store_commit_seconds_bucket"));

    worker.shutdown(WAIT).await.unwrap();
    drop(client);
    scrape_until(
        metrics,
        &[
            ("gearman_function_workers{function=\"m:ok\"}", 0.0),
            ("gearman_connections_open", 0.0),
        ],
    )
    .await;
    server.shutdown().await;
    until("the metrics port to close", WAIT, || async {
        TcpStream::connect(metrics).is_err()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_get_metrics_is_served_and_a_silent_client_blocks_no_one() {
    let server = Server::bind("127.0.0.1:0", ServerConfig::default())
        .await
        .unwrap();
    let metrics = server.serve_metrics("127.0.0.1:0").await.unwrap();
    // A client that connects and says nothing does not hold up the others.
    let silent = TcpStream::connect(metrics).unwrap();
    let (status, _) = http(metrics, b"GET / HTTP/1.1\r\n\r\n".to_vec()).await;
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    let (status, _) = http(metrics, b"GET /metrics/x HTTP/1.1\r\n\r\n".to_vec()).await;
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    let (status, _) = http(metrics, b"POST /metrics HTTP/1.1\r\n\r\n".to_vec()).await;
    assert_eq!(status, "HTTP/1.1 405 Method Not Allowed");
    let (status, _) = http(metrics, b"hello\r\n\r\n".to_vec()).await;
    assert_eq!(status, "HTTP/1.1 400 Bad Request");
    let mut huge = b"GET /metrics HTTP/1.1\r\nX-Fill: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 20_000));
    huge.extend_from_slice(b"\r\n\r\n");
    let (status, _) = http(metrics, huge).await;
    assert_eq!(status, "HTTP/1.1 431 Request Header Fields Too Large");
    let text = scrape(metrics).await;
    assert!(
        text.contains("# TYPE gearman_job_outcomes counter"),
        "{text}"
    );
    // The silent client is dropped after the read timeout (5 s).
    let closed = tokio::task::spawn_blocking(move || {
        let mut silent = silent;
        silent
            .set_read_timeout(Some(Duration::from_secs(8)))
            .unwrap();
        let mut b = [0u8; 16];
        matches!(silent.read(&mut b), Ok(0))
    })
    .await
    .unwrap();
    assert!(closed, "closed after the read timeout");
    server.shutdown().await;
}
