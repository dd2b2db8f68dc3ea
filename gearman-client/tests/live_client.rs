//! The client against both job servers (gearmand and gearman-server) with this family's worker: thousands of jobs in
//! flight, a server killed under running jobs, failover, deadlines, exceptions, coalescing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gearman_client::{Client, Error, Failure, Job, JobEvent, JobOutcome};
use gearman_proto::{FunctionName, UniqueId, WorkUpdate};
use gearman_testkit::{ServerKind, TestServer};
use gearman_worker::{Job as WorkerJob, JobError, JobResult, Worker};
use tokio::sync::Semaphore;

const WAIT: Duration = Duration::from_secs(10);

fn f(name: &str) -> FunctionName {
    FunctionName::try_from(name).unwrap()
}

async fn reverse(job: WorkerJob) -> JobResult {
    let mut v = job.data().to_vec();
    v.reverse();
    Ok(Bytes::from(v))
}

fn worker(
    addr: &str,
    function: &str,
    concurrency: usize,
    handler: impl gearman_worker::Handler,
) -> Worker {
    Worker::builder()
        .server(addr.to_string())
        .concurrency(concurrency)
        .function(f(function), handler)
        .spawn()
        .unwrap()
}

async fn client(addrs: &[String]) -> Client {
    let mut b = Client::builder().request_timeout(Duration::from_secs(5));
    for a in addrs {
        b = b.server(a.clone());
    }
    let c = b.spawn().unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while c.connected() < addrs.len() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "client never connected"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    c
}

async fn ten_thousand_jobs_with_500_in_flight_each_get_their_own_result(kind: ServerKind) {
    let Some(g) = TestServer::start_or_skip(kind, "ten_thousand_jobs") else {
        return;
    };
    let addr = g.addr().to_string();
    let w = worker(&addr, "c:rev", 8, reverse);
    let c = client(std::slice::from_ref(&addr)).await;
    let window = Arc::new(Semaphore::new(500));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..10_000u32 {
        let permit = window.clone().acquire_owned().await.unwrap();
        let c = c.clone();
        tasks.spawn(async move {
            let input = format!("job-{i}-payload");
            let out = c.call(Job::new(f("c:rev"), input.clone())).await;
            drop(permit);
            let want: String = input.chars().rev().collect();
            assert_eq!(out, Ok(Bytes::from(want)), "job {i}");
        });
    }
    let all = tokio::time::timeout(Duration::from_secs(120), async {
        let mut n = 0;
        while let Some(r) = tasks.join_next().await {
            r.unwrap();
            n += 1;
        }
        n
    })
    .await
    .expect("10,000 jobs within 2 minutes");
    assert_eq!(all, 10_000);
    w.shutdown(WAIT).await.unwrap();
}

async fn killing_gearmand_ends_every_running_job_with_a_typed_error_and_new_jobs_fail_over(
    kind: ServerKind,
) {
    let (Some(mut a), Some(b)) = (
        TestServer::start_or_skip(kind, "kill_a"),
        TestServer::start_or_skip(kind, "kill_b"),
    ) else {
        return;
    };
    let (addr_a, addr_b) = (a.addr().to_string(), b.addr().to_string());
    let stuck = worker(&addr_a, "c:stuck", 100, |_job: WorkerJob| async {
        std::future::pending::<()>().await;
        Ok(Bytes::new())
    });
    let live = worker(&addr_b, "c:stuck", 4, |_job: WorkerJob| async {
        Ok(Bytes::from_static(b"from b"))
    });
    let ca = client(std::slice::from_ref(&addr_a)).await;
    let mut streams = Vec::new();
    for i in 0..100 {
        let s = ca
            .submit(Job::new(f("c:stuck"), format!("{i}")))
            .await
            .unwrap();
        streams.push(s);
    }
    a.kill();
    let ends = tokio::time::timeout(Duration::from_secs(5), async {
        let mut ends = Vec::new();
        for s in streams {
            ends.push(s.outcome().await);
        }
        ends
    })
    .await
    .expect("every job ends within 5 s of the kill");
    assert_eq!(ends.len(), 100);
    assert!(
        ends.iter()
            .all(|e| *e == Err(Error::Failed(Failure::Disconnected))),
        "{:?}",
        &ends[..3]
    );

    // A client of both servers sends new work to the one that is alive.
    let both = Client::builder()
        .server(addr_a.clone())
        .server(addr_b.clone())
        .spawn()
        .unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while both.connected() < 1 {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for i in 0..5 {
        let out = both.call(Job::new(f("c:stuck"), format!("{i}"))).await;
        assert_eq!(out, Ok(Bytes::from_static(b"from b")));
    }
    live.shutdown(WAIT).await.unwrap();
    drop(stuck);
}

async fn a_job_nobody_serves_ends_at_its_deadline(kind: ServerKind) {
    let Some(g) = TestServer::start_or_skip(kind, "nobody_serves") else {
        return;
    };
    let c = client(&[g.addr().to_string()]).await;
    let started = tokio::time::Instant::now();
    let out = c
        .call(Job::new(f("c:nobody"), "x").timeout(Duration::from_millis(300)))
        .await;
    assert_eq!(out, Err(Error::Failed(Failure::TimedOut)));
    assert!(started.elapsed() < Duration::from_secs(2));
}

async fn exceptions_arrive_as_exceptions_also_after_a_reconnect(kind: ServerKind) {
    let Some(mut g) = TestServer::start_or_skip(kind, "exceptions") else {
        return;
    };
    let addr = g.addr().to_string();
    let boom = |_job: WorkerJob| async {
        Err::<Bytes, _>(JobError::Exception(Bytes::from_static(b"boom")))
    };
    let w = worker(&addr, "c:boom", 1, boom);
    let c = client(std::slice::from_ref(&addr)).await;
    let out = c.call(Job::new(f("c:boom"), "")).await;
    assert_eq!(out, Err(Error::JobException(Bytes::from_static(b"boom"))));
    g.kill();
    g.restart().unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match c.call(Job::new(f("c:boom"), "")).await {
            Err(Error::JobException(data)) => {
                assert_eq!(data, "boom");
                break;
            }
            other => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "never served again: {other:?}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    w.shutdown(WAIT).await.unwrap();
}

async fn three_submitters_of_one_unique_each_see_every_event_once(kind: ServerKind) {
    let Some(g) = TestServer::start_or_skip(kind, "coalescing") else {
        return;
    };
    let addr = g.addr().to_string();
    let gate = Arc::new(Semaphore::new(0));
    let gate2 = gate.clone();
    let w = worker(&addr, "c:shared", 1, move |job: WorkerJob| {
        let gate = gate2.clone();
        async move {
            gate.acquire().await.unwrap().forget();
            job.send_status(1, 2).await.unwrap();
            job.send_data("half").await.unwrap();
            Ok(Bytes::from_static(b"whole"))
        }
    });
    // Three clients: three connections, coalesced by gearmand.
    let mut streams = Vec::new();
    let mut handles = Vec::new();
    for _ in 0..3 {
        let c = client(std::slice::from_ref(&addr)).await;
        let job = Job::new(f("c:shared"), "x").unique(UniqueId::try_from("one-build").unwrap());
        let s = c.submit(job).await.unwrap();
        handles.push(s.handle().unwrap().clone());
        streams.push((c, s));
    }
    assert!(
        handles.windows(2).all(|w| w[0] == w[1]),
        "one job: {handles:?}"
    );
    gate.add_permits(1);
    for (_c, mut s) in streams {
        let mut seen = Vec::new();
        while let Some(e) = tokio::time::timeout(WAIT, s.next()).await.unwrap() {
            seen.push(e);
        }
        let h = handles[0].clone();
        assert_eq!(
            seen,
            vec![
                JobEvent::Progress(WorkUpdate::Status {
                    handle: h.clone(),
                    numerator: 1,
                    denominator: 2
                }),
                JobEvent::Progress(WorkUpdate::Data {
                    handle: h.clone(),
                    data: Bytes::from_static(b"half")
                }),
                JobEvent::Done(JobOutcome::Complete(Bytes::from_static(b"whole"))),
            ]
        );
    }
    w.shutdown(WAIT).await.unwrap();
}

async fn status_and_echo_answer_through_the_client(kind: ServerKind) {
    let Some(g) = TestServer::start_or_skip(kind, "status_and_echo") else {
        return;
    };
    let c = client(&[g.addr().to_string()]).await;
    assert_eq!(
        c.echo("ping\0pong").await,
        Ok(Bytes::from_static(b"ping\0pong"))
    );
    let unique = UniqueId::try_from("queued-1").unwrap();
    let mut s = c
        .submit(
            Job::new(f("c:queued"), "x")
                .unique(unique.clone())
                .background(),
        )
        .await
        .unwrap();
    let handle = s.created().await.unwrap();
    assert_eq!(
        s.next().await,
        None,
        "a background job ends at its creation"
    );
    let st = c.status(s.server(), handle.clone()).await.unwrap();
    assert_eq!((st.handle, st.known, st.running), (handle, true, false));
    let su = c.status_unique(unique).await.unwrap();
    assert!(su.known && !su.running && su.waiting_clients == 0);
    let gone = c
        .status(0, gearman_proto::JobHandle::try_from("H:none:1").unwrap())
        .await
        .unwrap();
    assert!(!gone.known);
}

async fn an_unread_stream_is_cut_off_without_stalling_other_jobs(kind: ServerKind) {
    let Some(g) = TestServer::start_or_skip(kind, "unread_stream") else {
        return;
    };
    let addr = g.addr().to_string();
    let chatty = worker(&addr, "c:chatty", 1, |job: WorkerJob| async move {
        for i in 0..(gearman_client::STREAM_BUFFER + 100) {
            job.send_data(format!("{i}")).await.unwrap();
        }
        Ok(Bytes::from_static(b"done"))
    });
    let quick = worker(&addr, "c:quick", 1, reverse);
    let c = client(std::slice::from_ref(&addr)).await;
    let mut unread = c.submit(Job::new(f("c:chatty"), "")).await.unwrap();
    // The chatty job floods its stream, which nobody reads. Once gearmand has finished it, all
    // its packets are on the client's connection ahead of anything else.
    let admin = gearman_client::AdminClient::new(addr.clone(), WAIT);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let status = admin.status().await.unwrap();
        let row = status.iter().find(|r| &r.function[..] == b"c:chatty");
        if row.is_some_and(|r| r.total == 0) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the chatty job never finished"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Another job on the same connection still completes.
    let out = tokio::time::timeout(WAIT, c.call(Job::new(f("c:quick"), "abc")))
        .await
        .unwrap();
    assert_eq!(out, Ok(Bytes::from_static(b"cba")));
    let mut last = None;
    let mut n = 0;
    while let Some(e) = tokio::time::timeout(WAIT, unread.next()).await.unwrap() {
        n += 1;
        last = Some(e);
    }
    assert_eq!(last, Some(JobEvent::Failed(Failure::Abandoned)));
    assert!(
        n <= gearman_client::STREAM_BUFFER + 1,
        "{n} events buffered"
    );
    chatty.shutdown(WAIT).await.unwrap();
    quick.shutdown(WAIT).await.unwrap();
}

gearman_testkit::on_both_servers!(
    ten_thousand_jobs_with_500_in_flight_each_get_their_own_result,
    killing_gearmand_ends_every_running_job_with_a_typed_error_and_new_jobs_fail_over,
    a_job_nobody_serves_ends_at_its_deadline,
    exceptions_arrive_as_exceptions_also_after_a_reconnect,
    three_submitters_of_one_unique_each_see_every_event_once,
    status_and_echo_answer_through_the_client,
    an_unread_stream_is_cut_off_without_stalling_other_jobs,
);
