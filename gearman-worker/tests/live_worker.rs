//! The worker against both job servers, gearmand and gearman-server (started by gearman-testkit
//! on free loopback ports; each scenario runs once per server): Debian's client, restarts, the
//! concurrency limit, CAN_DO_TIMEOUT overruns, panicking handlers, graceful shutdown.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{eventually, f, status_of, RawClient, WAIT};
use gearman_proto::admin::{AdminCommand, AdminReply};
use gearman_proto::{ClientId, WorkUpdate};
use gearman_testkit::{skip, ServerKind, TestServer};
use gearman_worker::{Job, JobError, JobResult, Timeout, Worker};
use tokio::sync::Semaphore;

async fn reverse(job: Job) -> JobResult {
    let mut v = job.data().to_vec();
    v.reverse();
    Ok(Bytes::from(v))
}

fn debian_gearman() -> Option<std::path::PathBuf> {
    let found = ["/usr/bin/gearman", "/usr/local/bin/gearman"]
        .into_iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.is_file());
    if found.is_none() {
        skip(
            "debian_client_jobs_come_back_right",
            "the Debian gearman client is not installed (apt-get install -y gearman-tools)",
        );
    }
    found
}

async fn debian_client_jobs_come_back_right(kind: ServerKind) {
    let Some(g) = TestServer::start_or_skip(kind, "debian_client_jobs_come_back_right") else {
        return;
    };
    let worker = Worker::builder()
        .server(g.addr().to_string())
        .function(f("live:rev"), reverse)
        .client_id(ClientId::try_from("rev worker").unwrap())
        .spawn()
        .unwrap();
    let Some(gearman) = debian_gearman() else {
        return;
    };
    for input in ["hello", "gearman worker", "x"] {
        let out = tokio::time::timeout(
            WAIT,
            tokio::process::Command::new(&gearman)
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &g.port().to_string(),
                    "-f",
                    "live:rev",
                    input,
                ])
                .kill_on_drop(true)
                .output(),
        )
        .await
        .expect("the gearman client finished in time")
        .unwrap();
        assert!(out.status.success(), "{out:?}");
        let want: String = input.chars().rev().collect();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), want);
    }
    let AdminReply::Workers(rows) = common::admin(g.addr(), AdminCommand::Workers).await else {
        panic!("not a workers reply")
    };
    let ours = rows
        .iter()
        .find(|r| r.client_id.as_deref() == Some(&b"rev worker"[..]))
        .expect("our connection is listed under its client id");
    assert_eq!(ours.functions, vec![Bytes::from_static(b"live:rev")]);
    worker.shutdown(WAIT).await.unwrap();
}

async fn reregisters_and_serves_within_5s_of_a_gearmand_restart(kind: ServerKind) {
    let Some(mut g) = TestServer::start_or_skip(
        kind,
        "reregisters_and_serves_within_5s_of_a_gearmand_restart",
    ) else {
        return;
    };
    let worker = Worker::builder()
        .server(g.addr().to_string())
        .function(
            f("live:echo"),
            |job: Job| async move { Ok(job.data().clone()) },
        )
        .client_id(ClientId::try_from("restart-survivor").unwrap())
        .spawn()
        .unwrap();
    let mut c = RawClient::connect(g.addr()).await;
    let done = c.call("live:echo", b"before").await;
    assert!(matches!(done, WorkUpdate::Complete { data, .. } if data == "before"));

    g.kill();
    assert!(
        eventually(WAIT, || async { worker.connected() == 0 }).await,
        "the worker noticed"
    );
    tokio::time::sleep(Duration::from_millis(500)).await; // a real outage, several reconnect attempts
    g.restart().unwrap();
    let back = Instant::now();
    let mut c = RawClient::connect(g.addr()).await;
    let h = c.submit("live:echo", b"after", false).await;
    let out = c.outcome(&h).await;
    let served = back.elapsed();
    assert!(matches!(out.last(), Some(WorkUpdate::Complete { data, .. }) if data == "after"));
    assert!(
        served < Duration::from_secs(5),
        "served {served:?} after the restart"
    );
    // The client id was replayed on the new connection.
    let AdminReply::Workers(rows) = common::admin(g.addr(), AdminCommand::Workers).await else {
        panic!("not a workers reply")
    };
    assert!(rows
        .iter()
        .any(|r| r.client_id.as_deref() == Some(&b"restart-survivor"[..])
            && r.functions == vec![Bytes::from_static(b"live:echo")]));
    worker.shutdown(WAIT).await.unwrap();
}

async fn serves_several_servers_at_once(kind: ServerKind) {
    let (Some(a), Some(b)) = (
        TestServer::start_or_skip(kind, "serves_several_servers_at_once"),
        TestServer::start_or_skip(kind, "serves_several_servers_at_once"),
    ) else {
        return;
    };
    let worker = Worker::builder()
        .server(a.addr().to_string())
        .server(b.addr().to_string())
        .concurrency(2)
        .function(f("live:where"), reverse)
        .spawn()
        .unwrap();
    let mut ca = RawClient::connect(a.addr()).await;
    let mut cb = RawClient::connect(b.addr()).await;
    for i in 0..5 {
        let (da, db) = (format!("a{i}"), format!("b{i}"));
        let (ra, rb) = tokio::join!(
            ca.call("live:where", da.as_bytes()),
            cb.call("live:where", db.as_bytes())
        );
        let want_a: String = da.chars().rev().collect();
        let want_b: String = db.chars().rev().collect();
        assert!(matches!(ra, WorkUpdate::Complete { data, .. } if data == want_a.as_str()));
        assert!(matches!(rb, WorkUpdate::Complete { data, .. } if data == want_b.as_str()));
    }
    assert_eq!(worker.connected(), 2);
    // One server going away leaves the other served.
    drop(a);
    assert!(eventually(WAIT, || async { worker.connected() == 1 }).await);
    let r = cb.call("live:where", b"still").await;
    assert!(matches!(r, WorkUpdate::Complete { data, .. } if data == "llits"));
    worker.shutdown(WAIT).await.unwrap();
}

async fn concurrency_case(kind: ServerKind, per_slot: bool) {
    let Some(g) = TestServer::start_or_skip(kind, "concurrency_limit") else {
        return;
    };
    let gate = Arc::new(Semaphore::new(0));
    let now_running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (g2, now2, most2) = (gate.clone(), now_running.clone(), most.clone());
    let mut builder = Worker::builder()
        .server(g.addr().to_string())
        .concurrency(4)
        .function(f("live:held"), move |_job: Job| {
            let (gate, now_running, most) = (g2.clone(), now2.clone(), most2.clone());
            async move {
                let n = now_running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(n, Ordering::SeqCst);
                let permit = gate.acquire().await.map_err(|_| JobError::Fail)?;
                permit.forget();
                now_running.fetch_sub(1, Ordering::SeqCst);
                Ok(Bytes::from_static(b"done"))
            }
        });
    if per_slot {
        builder = builder.connections_per_server(4);
    }
    let worker = builder.spawn().unwrap();
    let mut c = RawClient::connect(g.addr()).await;
    for i in 0..10 {
        c.submit("live:held", format!("{i}").as_bytes(), true).await;
    }
    let addr = g.addr();
    assert!(
        eventually(WAIT, || async {
            status_of(addr, "live:held").await.map(|s| s.1) == Some(4)
        })
        .await,
        "four jobs running"
    );
    for _ in 0..10 {
        let (total, running, _) = status_of(addr, "live:held").await.unwrap();
        assert!(running <= 4, "{} sees {running} running", kind.name());
        assert_eq!(total, 10);
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert_eq!(most.load(Ordering::SeqCst), 4);
    gate.add_permits(10);
    assert!(
        eventually(WAIT, || async {
            status_of(addr, "live:held").await.map(|s| s.0) == Some(0)
        })
        .await,
        "every job finished"
    );
    assert!(
        most.load(Ordering::SeqCst) <= 4,
        "never more than 4 at once"
    );
    worker.shutdown(WAIT).await.unwrap();
}

async fn concurrency_4_never_holds_more_than_4_jobs(kind: ServerKind) {
    concurrency_case(kind, false).await;
}

async fn connection_per_slot_never_holds_more_than_4_jobs(kind: ServerKind) {
    concurrency_case(kind, true).await;
}

async fn can_do_timeout_overrun_is_abandoned_and_not_completed_twice(kind: ServerKind) {
    let Some(g) = TestServer::start_or_skip(kind, "can_do_timeout_overrun") else {
        return;
    };
    let calls = Arc::new(AtomicUsize::new(0));
    let late_finished = Arc::new(AtomicBool::new(false));
    let (calls2, late2) = (calls.clone(), late_finished.clone());
    let worker = Worker::builder()
        .server(g.addr().to_string())
        .function_with_timeout(
            f("live:slow"),
            Timeout::from_millis(1000),
            move |_job: Job| {
                let (calls, late) = (calls2.clone(), late2.clone());
                async move {
                    if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                        tokio::time::sleep(Duration::from_millis(2500)).await;
                        late.store(true, Ordering::SeqCst);
                        return Ok(Bytes::from_static(b"late"));
                    }
                    Ok(Bytes::from_static(b"fast"))
                }
            },
        )
        .spawn()
        .unwrap();
    let mut c = RawClient::connect(g.addr()).await;
    let h = c.submit("live:slow", b"", false).await;
    let out = c.outcome(&h).await;
    assert_eq!(
        out,
        vec![WorkUpdate::Complete {
            handle: h.clone(),
            data: Bytes::from_static(b"fast")
        }]
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "re-queued once, run again once"
    );
    // The first run would have ended 2.5 s after it began; by then it must have been cancelled.
    tokio::time::sleep(Duration::from_millis(1800)).await;
    assert!(
        !late_finished.load(Ordering::SeqCst),
        "the abandoned run was cancelled"
    );
    assert!(
        c.recv_within(Duration::from_millis(100)).await.is_none(),
        "nothing more for the client"
    );
    worker.shutdown(WAIT).await.unwrap();
}

async fn panicking_handler_fails_the_job_and_the_worker_keeps_serving(kind: ServerKind) {
    let Some(g) = TestServer::start_or_skip(kind, "panicking_handler") else {
        return;
    };
    let worker = Worker::builder()
        .server(g.addr().to_string())
        .function(f("live:fragile"), |job: Job| async move {
            if job.data() == "boom" {
                panic!("handler exploded");
            }
            job.send_status(1, 2).await.unwrap();
            job.send_data("partial").await.unwrap();
            Ok(Bytes::from_static(b"fine"))
        })
        .spawn()
        .unwrap();
    let mut c = RawClient::connect(g.addr()).await;
    let done = c.call("live:fragile", b"boom").await;
    let WorkUpdate::Exception { data, .. } = done else {
        panic!("expected WORK_EXCEPTION, got {done:?}")
    };
    assert_eq!(data, "panic: handler exploded");
    let h = c.submit("live:fragile", b"ok", false).await;
    assert_eq!(
        c.outcome(&h).await,
        vec![
            WorkUpdate::Status {
                handle: h.clone(),
                numerator: 1,
                denominator: 2
            },
            WorkUpdate::Data {
                handle: h.clone(),
                data: Bytes::from_static(b"partial")
            },
            WorkUpdate::Complete {
                handle: h.clone(),
                data: Bytes::from_static(b"fine")
            },
        ]
    );
    worker.shutdown(WAIT).await.unwrap();
}

async fn graceful_shutdown_lets_the_running_job_finish(kind: ServerKind) {
    let Some(g) = TestServer::start_or_skip(kind, "graceful_shutdown") else {
        return;
    };
    let started = Arc::new(tokio::sync::Notify::new());
    let started2 = started.clone();
    let worker = Worker::builder()
        .server(g.addr().to_string())
        .function(f("live:finish-me"), move |_job: Job| {
            let started = started2.clone();
            async move {
                started.notify_one();
                tokio::time::sleep(Duration::from_millis(300)).await;
                Ok(Bytes::from_static(b"finished"))
            }
        })
        .spawn()
        .unwrap();
    let mut c = RawClient::connect(g.addr()).await;
    let h = c.submit("live:finish-me", b"", false).await;
    tokio::time::timeout(WAIT, started.notified())
        .await
        .unwrap();
    let stopping = tokio::spawn({
        let worker = worker.clone();
        async move { worker.shutdown(WAIT).await }
    });
    let out = c.outcome(&h).await;
    assert!(matches!(out.last(), Some(WorkUpdate::Complete { data, .. }) if data == "finished"));
    stopping.await.unwrap().unwrap();
    assert_eq!(worker.connected(), 0);
    // Nothing grabs jobs any more.
    let h2 = c.submit("live:finish-me", b"", true).await;
    let addr = g.addr();
    assert_eq!(
        status_of(addr, "live:finish-me")
            .await
            .map(|s| (s.0, s.1, s.2)),
        Some((1, 0, 0))
    );
    drop(h2);
}

async fn grab_all_hands_the_reducer_to_the_handler(kind: ServerKind) {
    let Some(g) = TestServer::start_or_skip(kind, "grab_all_reducer") else {
        return;
    };
    let worker = Worker::builder()
        .server(g.addr().to_string())
        .grab(gearman_proto::GrabKind::All)
        .function(f("live:map"), |job: Job| async move {
            let reducer = job.reducer().map(|r| r.to_string()).unwrap_or_default();
            Ok(Bytes::from(reducer))
        })
        .spawn()
        .unwrap();
    let mut c = RawClient::connect(g.addr()).await;
    c.send(&gearman_proto::Request::SubmitReduce(
        gearman_proto::SubmitReduce {
            function: f("live:map"),
            unique: gearman_proto::UniqueId::try_from("r1").unwrap(),
            reducer: f("live:reduce"),
            aggregator: Bytes::new(),
            data: Bytes::from_static(b"x"),
            background: false,
        },
    ))
    .await;
    let gearman_proto::Response::JobCreated(h) = c.recv().await else {
        panic!("expected JOB_CREATED")
    };
    let out = c.outcome(&h).await;
    assert!(matches!(out.last(), Some(WorkUpdate::Complete { data, .. }) if data == "live:reduce"));
    worker.shutdown(WAIT).await.unwrap();
}

gearman_testkit::on_both_servers!(
    debian_client_jobs_come_back_right,
    reregisters_and_serves_within_5s_of_a_gearmand_restart,
    serves_several_servers_at_once,
    concurrency_4_never_holds_more_than_4_jobs,
    connection_per_slot_never_holds_more_than_4_jobs,
    can_do_timeout_overrun_is_abandoned_and_not_completed_twice,
    panicking_handler_fails_the_job_and_the_worker_keeps_serving,
    graceful_shutdown_lets_the_running_job_finish,
    grab_all_hands_the_reducer_to_the_handler,
);
