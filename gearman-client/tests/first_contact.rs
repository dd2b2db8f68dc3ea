//! A client as a new user meets it: the first call right after `spawn()`, a server that is not
//! there, a server that takes the connection and never answers, a job used as a template, and
//! many jobs in one batch.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use gearman_client::{Bytes, Client, ClientError, ConnState, Failure, Job};
use gearman_testkit::{ServerKind, TestServer};
use gearman_worker::{JobResult, Worker};

async fn reverse(job: gearman_worker::Job) -> JobResult {
    let mut v = job.data().to_vec();
    v.reverse();
    Ok(Bytes::from(v))
}

fn reverse_worker(addr: &str, function: &str) -> Worker {
    Worker::builder()
        .server(addr.to_string())
        .concurrency(4)
        .function(
            gearman_client::FunctionName::try_from(function).unwrap(),
            reverse,
        )
        .spawn()
        .unwrap()
}

async fn the_first_call_right_after_spawn_completes(kind: ServerKind) {
    let Some(server) = TestServer::start_or_skip(kind, "first_call") else {
        return;
    };
    let addr = server.addr().to_string();
    let worker = reverse_worker(&addr, "fc:reverse");
    let client = Client::builder().server(addr.as_str()).spawn().unwrap();
    // No wait of any kind between spawn and the call.
    let out = client.call(Job::new("fc:reverse", "hello")).await;
    assert_eq!(out, Ok(Bytes::from_static(b"olleh")));
    assert_eq!(client.connected(), 1);
    assert!(client.servers()[0].is_up());
    // A borrowed payload from a local works as well as a literal.
    let local = String::from("abc");
    let out = client.call(Job::new("fc:reverse", local.as_str())).await;
    assert_eq!(out, Ok(Bytes::from_static(b"cba")));
    worker.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn a_template_job_outlives_its_timeout_length(kind: ServerKind) {
    let Some(server) = TestServer::start_or_skip(kind, "template_job") else {
        return;
    };
    let addr = server.addr().to_string();
    let worker = reverse_worker(&addr, "tj:reverse");
    let client = Client::builder().server(addr.as_str()).spawn().unwrap();
    // Once the worker is registered (this first call waits for it), each call takes
    // milliseconds: far less than the template's timeout.
    assert_eq!(
        client.call(Job::new("tj:reverse", "warm")).await,
        Ok(Bytes::from_static(b"mraw"))
    );
    let template = Job::new("tj:reverse", "ab").timeout(Duration::from_secs(1));
    assert_eq!(
        client.call(template.clone()).await,
        Ok(Bytes::from_static(b"ba"))
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // The timeout counts from this submission, not from when the template was built.
    assert_eq!(
        client.call(template.clone()).await,
        Ok(Bytes::from_static(b"ba"))
    );
    assert_eq!(
        client.call_resubmitting(template, 2).await,
        Ok(Bytes::from_static(b"ba"))
    );
    worker.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn a_batch_runs_every_job_once_in_order(kind: ServerKind) {
    let Some(server) = TestServer::start_or_skip(kind, "batch") else {
        return;
    };
    let addr = server.addr().to_string();
    let worker = reverse_worker(&addr, "b:reverse");
    let client = Client::builder().server(addr.as_str()).spawn().unwrap();
    let inputs: Vec<String> = (0..2_000).map(|i| format!("job-{i}")).collect();
    let results = client
        .call_all(inputs.iter().map(|s| Job::new("b:reverse", s)))
        .await;
    assert_eq!(results.len(), inputs.len());
    for (input, result) in inputs.iter().zip(&results) {
        let expected: Vec<u8> = input.bytes().rev().collect();
        assert_eq!(result.as_ref().map(|b| b.to_vec()), Ok(expected));
    }
    // Background submissions: each acknowledged, each with its own handle; an invalid entry
    // and a foreground entry are refused alone.
    let mut jobs: Vec<Job> = (0..200)
        .map(|i| Job::new("b:reverse", format!("bg-{i}")).background())
        .collect();
    jobs.push(
        Job::new("b:reverse", "x")
            .unique("u".repeat(64))
            .background(),
    );
    jobs.push(Job::new("b:reverse", "x"));
    let handles = client.submit_all(jobs).await;
    assert_eq!(handles.len(), 202);
    let ok: std::collections::HashSet<_> = handles[..200]
        .iter()
        .map(|h| h.clone().expect("acknowledged"))
        .collect();
    assert_eq!(ok.len(), 200, "every job got its own handle");
    assert!(matches!(
        handles[200],
        Err(ClientError::InvalidArgument {
            what: "unique id",
            ..
        })
    ));
    assert!(matches!(
        handles[201],
        Err(ClientError::InvalidArgument {
            what: "job kind",
            ..
        })
    ));
    worker.shutdown(Duration::from_secs(10)).await.unwrap();
}

gearman_testkit::on_both_servers!(
    the_first_call_right_after_spawn_completes,
    a_template_job_outlives_its_timeout_length,
    a_batch_runs_every_job_once_in_order,
);

/// A port with nothing listening.
fn closed_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    drop(l);
    addr
}

#[tokio::test]
async fn a_server_that_is_not_there_fails_fast_with_the_reason() {
    let addr = closed_port();
    let client = Client::builder().server(addr.as_str()).spawn().unwrap();
    let started = Instant::now();
    let err = client.call(Job::new("f", "x")).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let ClientError::Unreachable(u) = &err else {
        panic!("expected Unreachable, got {err:?}");
    };
    assert_eq!(u.servers.len(), 1);
    assert_eq!(u.servers[0].addr, addr);
    assert_eq!(u.servers[0].kind, std::io::ErrorKind::ConnectionRefused);
    assert!(err.to_string().contains("refused"), "{err}");
    assert!(err.is_not_sent());
    assert!(matches!(client.servers()[0].state, ConnState::Down(_)));
    // The same for queries, and for `ready`.
    assert!(matches!(
        client.echo("x").await,
        Err(ClientError::Unreachable(_))
    ));
    assert!(matches!(
        client.ready(Duration::from_secs(1)).await,
        Err(ClientError::Unreachable(_))
    ));
}

#[tokio::test]
async fn no_server_configured_is_not_unreachable() {
    assert!(matches!(
        Client::builder().spawn(),
        Err(ClientError::NoServer)
    ));
}

/// A server that accepts connections and reads everything, but never answers (a frozen
/// gearmand, as under SIGSTOP, to the client).
async fn frozen_server() -> (String, tokio::task::JoinHandle<()>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut s, _)) = l.accept().await {
            held.push(tokio::spawn(async move {
                let mut sink = tokio::io::sink();
                let _ = tokio::io::copy(&mut s, &mut sink).await;
            }));
        }
    });
    (addr, task)
}

#[tokio::test]
async fn an_unacknowledged_submission_is_ambiguous_not_timed_out() {
    let (addr, task) = frozen_server().await;
    let client = Client::builder()
        .server(addr.as_str())
        .request_timeout(Duration::from_millis(300))
        .spawn()
        .unwrap();
    let started = Instant::now();
    let out = client.call(Job::new("f", "x")).await;
    assert_eq!(out, Err(ClientError::Failed(Failure::Ambiguous)));
    // The option answer waited 300 ms, then the submission 300 ms more.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // With a deadline of its own, the call ends at that deadline. Sent (no option to wait
    // for): ambiguous.
    let client = Client::builder()
        .server(addr.as_str())
        .exceptions(false)
        .spawn()
        .unwrap();
    let started = Instant::now();
    let out = client
        .call(Job::new("f", "x").timeout(Duration::from_millis(300)))
        .await;
    assert_eq!(out, Err(ClientError::Failed(Failure::Ambiguous)));
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(2),
        "{took:?}"
    );
    // Still held behind the unanswered option request at its deadline: taken back, never
    // sent.
    let client = Client::builder().server(addr.as_str()).spawn().unwrap();
    let out = client
        .call(Job::new("f", "x").timeout(Duration::from_millis(300)))
        .await;
    assert_eq!(out, Err(ClientError::Failed(Failure::NotSent)));
    task.abort();
}

/// A listener whose backlog is full and which never accepts: further connects hang (the kernel
/// drops their SYNs), as they do to a host that has gone away.
fn black_hole() -> (String, socket2::Socket, Vec<std::net::TcpStream>) {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    s.bind(
        &"127.0.0.1:0"
            .parse::<std::net::SocketAddr>()
            .unwrap()
            .into(),
    )
    .unwrap();
    s.listen(0).unwrap();
    let addr = s.local_addr().unwrap().as_socket().unwrap();
    // Fill the backlog (a few connections; each attempt bounded).
    let mut fillers = Vec::new();
    for _ in 0..4 {
        if let Ok(c) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            fillers.push(c);
        }
    }
    (addr.to_string(), s, fillers)
}

#[tokio::test]
async fn a_deadline_bounds_the_wait_for_a_first_connection() {
    let (addr, _listener, _fillers) = black_hole();
    let client = Client::builder()
        .server(addr.as_str())
        .connect_timeout(Duration::from_secs(30))
        .spawn()
        .unwrap();
    let started = Instant::now();
    let out = client
        .call(Job::new("f", "x").timeout(Duration::from_millis(300)))
        .await;
    let took = started.elapsed();
    let Err(ClientError::Unreachable(u)) = &out else {
        panic!("expected Unreachable, got {out:?}");
    };
    assert_eq!(u.servers[0].kind, std::io::ErrorKind::TimedOut);
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(2),
        "{took:?}"
    );
    // Without a deadline of its own, `ready` is bounded by what it is given.
    let started = Instant::now();
    assert!(client.ready(Duration::from_millis(200)).await.is_err());
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn ipv6_loopback_works_end_to_end() {
    let server = gearman_server::Server::bind("[::1]:0", gearman_server::ServerConfig::default())
        .await
        .expect("gearman-server listens on [::1]");
    let addr = server.local_addr().to_string();
    assert!(addr.starts_with("[::1]:"), "{addr}");
    let worker = reverse_worker(&addr, "v6:reverse");
    let client = Client::builder().server(addr.as_str()).spawn().unwrap();
    assert_eq!(
        client.call(Job::new("v6:reverse", "six")).await,
        Ok(Bytes::from_static(b"xis"))
    );
    worker.shutdown(Duration::from_secs(5)).await.unwrap();
    server.shutdown().await;
}

/// A server that accepts connections and never reads: the client's writes stall once the socket
/// buffers are full.
async fn deaf_server() -> (String, tokio::task::JoinHandle<()>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    (addr, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stops_reading_cannot_hold_a_call_past_its_deadline() {
    let (addr, task) = deaf_server().await;
    let client = Client::builder()
        .server(addr.as_str())
        .queue(1)
        .exceptions(false)
        .request_timeout(Duration::from_secs(60))
        .spawn()
        .unwrap();
    client.ready(Duration::from_secs(5)).await.unwrap();
    // 40 jobs of 2 MiB: far more than loopback's socket buffers, so the driver's write stalls
    // and the command queue behind it fills.
    let payload = Bytes::from(vec![b'x'; 2 << 20]);
    let started = Instant::now();
    let calls = (0..40).map(|_| {
        let client = client.clone();
        let job = Job::new("deaf", payload.clone()).timeout(Duration::from_millis(800));
        tokio::spawn(async move {
            let out = client.call(job).await;
            (out, started.elapsed())
        })
    });
    let calls: Vec<_> = calls.collect();
    let mut outcomes = Vec::new();
    let mut slowest = Duration::ZERO;
    for call in calls {
        let (out, took) = call.await.unwrap();
        slowest = slowest.max(took);
        outcomes.push(out);
    }
    assert!(slowest < Duration::from_secs(3), "{slowest:?} {outcomes:?}");
    let ambiguous = outcomes
        .iter()
        .filter(|o| **o == Err(ClientError::Failed(Failure::Ambiguous)))
        .count();
    let not_sent = outcomes
        .iter()
        .filter(|o| **o == Err(ClientError::Failed(Failure::NotSent)))
        .count();
    assert_eq!(ambiguous + not_sent, 40, "{outcomes:?}");
    assert!(
        not_sent > 0,
        "the queue behind the stuck write never filled: {outcomes:?}"
    );
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stops_reading_ends_calls_without_a_deadline_too() {
    let (addr, task) = deaf_server().await;
    let client = Client::builder()
        .server(addr.as_str())
        .exceptions(false)
        .write_timeout(Duration::from_millis(500))
        .spawn()
        .unwrap();
    client.ready(Duration::from_secs(5)).await.unwrap();
    let payload = Bytes::from(vec![b'x'; 2 << 20]);
    let started = Instant::now();
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let client = client.clone();
            let job = Job::new("deaf", payload.clone());
            tokio::spawn(async move { client.call(job).await })
        })
        .collect();
    for call in calls {
        let out = call.await.unwrap();
        // Sent and lost with the connection, or never sent (then no server is left).
        assert!(
            matches!(
                out,
                Err(ClientError::Failed(Failure::Ambiguous | Failure::NotSent))
                    | Err(ClientError::Unreachable(_))
            ),
            "{out:?}"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_to_a_server_that_stops_reading_ends_by_its_deadlines() {
    let (addr, task) = deaf_server().await;
    let client = Client::builder()
        .server(addr.as_str())
        .queue(1)
        .exceptions(false)
        .spawn()
        .unwrap();
    client.ready(Duration::from_secs(5)).await.unwrap();
    let payload = Bytes::from(vec![b'x'; 2 << 20]);
    let started = Instant::now();
    // Two batches at once: the second waits behind the first's stuck write.
    let batch = |n| {
        let client = client.clone();
        let jobs: Vec<Job> = (0..n)
            .map(|_| Job::new("deaf", payload.clone()).timeout(Duration::from_millis(800)))
            .collect();
        tokio::spawn(async move { client.call_all(jobs).await })
    };
    let (a, b) = (batch(20), batch(5));
    for out in a.await.unwrap().into_iter().chain(b.await.unwrap()) {
        assert!(
            matches!(
                out,
                Err(ClientError::Failed(Failure::Ambiguous | Failure::NotSent))
            ),
            "{out:?}"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    task.abort();
}
