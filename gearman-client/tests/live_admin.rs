//! The admin client against both job servers (gearmand and gearman-server): typed results,
//! refusals, deadlines.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bytes::Bytes;
use gearman_client::{AdminClient, AdminClientError, Client, Job};
use gearman_proto::{FunctionName, JobHandle};
use gearman_testkit::{ServerKind, TestServer};
use tokio::net::TcpListener;

fn f(name: &str) -> FunctionName {
    FunctionName::try_from(name).unwrap()
}

async fn typed_admin_results(kind: ServerKind) {
    let Some(g) = TestServer::start_or_skip(kind, "typed_admin_results") else {
        return;
    };
    let admin = AdminClient::new(g.addr().to_string(), Duration::from_secs(5));
    let version = admin.version().await.unwrap();
    assert!(version.starts_with(kind.version_prefix()), "{version}");
    assert!(admin.pid().await.unwrap().parse::<u32>().is_ok());
    assert!(!admin.verbose().await.unwrap().is_empty());

    let c = Client::builder()
        .server(g.addr().to_string())
        .spawn()
        .unwrap();
    for _ in 0..200 {
        if c.connected() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut s = c
        .submit(Job::new(f("adm:queued"), "x").background())
        .await
        .unwrap();
    let handle = s.created().await.unwrap();

    let status = admin.status().await.unwrap();
    let row = status
        .iter()
        .find(|r| &r.function[..] == b"adm:queued")
        .unwrap();
    assert_eq!((row.total, row.running, row.workers), (1, 0, 0));
    let prio = admin.priority_status().await.unwrap();
    assert!(prio
        .iter()
        .any(|r| &r.function[..] == b"adm:queued" && r.normal == 1));
    let jobs = admin.jobs().await.unwrap();
    assert!(jobs
        .iter()
        .any(|j| j.handle == *handle.as_shared() && j.queued));
    assert!(!admin.workers().await.unwrap().is_empty());
    // The job has an empty unique, listed by gearmand as an empty line.
    assert!(admin.unique_jobs().await.unwrap().contains(&Bytes::new()));

    admin.cancel(handle.clone()).await.unwrap();
    let missing = admin
        .cancel(JobHandle::try_from("H:none:99").unwrap())
        .await;
    assert!(matches!(missing, Err(AdminClientError::Refused(e)) if &e.code[..] == b"UNKNOWN_JOB"));
    admin.create_function(f("adm:made")).await.unwrap();
    assert!(admin
        .status()
        .await
        .unwrap()
        .iter()
        .any(|r| &r.function[..] == b"adm:made"));
    admin.drop_function(f("adm:made")).await.unwrap();
    assert!(matches!(
        admin.drop_function(f("adm:never")).await,
        Err(AdminClientError::Refused(_))
    ));
}

#[tokio::test]
async fn a_silent_server_is_a_typed_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(s);
    });
    let admin = AdminClient::new(addr.to_string(), Duration::from_millis(200));
    let started = std::time::Instant::now();
    assert!(matches!(
        admin.status().await,
        Err(AdminClientError::TimedOut(_))
    ));
    assert!(started.elapsed() < Duration::from_secs(2));
    held.abort();
}

async fn shutdown_is_obeyed_or_refused_with_a_typed_error(kind: ServerKind) {
    let Some(g) = TestServer::start_or_skip(kind, "admin_shutdown") else {
        return;
    };
    let admin = AdminClient::new(g.addr().to_string(), Duration::from_secs(5));
    let out = admin.shutdown(true).await;
    match kind {
        ServerKind::Gearmand => {
            // Removed in gearmand 1.1.15: refused, and the server goes on.
            let Err(AdminClientError::Refused(e)) = out else {
                panic!("expected a refusal, got {out:?}");
            };
            assert_eq!(&e.code[..], b"UNKNOWN_COMMAND");
            assert!(admin.version().await.is_ok());
        }
        ServerKind::GearmanServer => {
            out.unwrap();
            let gone = gearman_testkit::eventually(Duration::from_secs(5), || async {
                matches!(admin.version().await, Err(AdminClientError::Connect(_)))
            })
            .await;
            assert!(gone, "the server still answers after shutdown");
        }
    }
}

gearman_testkit::on_both_servers!(
    typed_admin_results,
    shutdown_is_obeyed_or_refused_with_a_typed_error
);
