//! The runtime against a scripted server on loopback: exact requests in, chosen responses out,
//! including a job for a function the worker does not offer, and a server that refuses one GRAB
//! and ignores the next.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use gearman_proto::{
    Decoder, FunctionName, GrabKind, JobAssign, JobHandle, Request, Response, UniqueId, WorkUpdate,
};
use gearman_worker::{Job, Worker};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

struct Peer {
    stream: TcpStream,
    buf: BytesMut,
}

impl Peer {
    async fn expect(&mut self, want: Request) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(p) = Decoder::new().decode(&mut self.buf).unwrap() {
                assert_eq!(Request::try_from(p).unwrap(), want);
                return;
            }
            let n = tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf))
                .await
                .unwrap_or_else(|_| panic!("no {want:?} within 5 s"))
                .unwrap();
            assert!(n > 0, "worker closed while {want:?} was expected");
        }
    }

    async fn send(&mut self, res: Response) {
        self.stream
            .write_all(&res.to_bytes().unwrap())
            .await
            .unwrap();
    }
}

fn f(name: &str) -> FunctionName {
    FunctionName::try_from(name).unwrap()
}

fn assign(handle: &str, function: &str) -> Response {
    Response::JobAssign(JobAssign {
        handle: JobHandle::try_from(handle).unwrap(),
        function: f(function),
        unique: Some(UniqueId::empty()),
        reducer: None,
        data: Bytes::from_static(b"in"),
    })
}

#[tokio::test]
async fn refused_job_is_failed_and_the_worker_grabs_again() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let worker = Worker::builder()
        .server(addr.to_string())
        .function(f("mine"), |job: Job| async move { Ok(job.data().clone()) })
        .heartbeat(None, Duration::from_secs(1))
        .spawn()
        .unwrap();
    let (stream, _) = tokio::time::timeout(Duration::from_secs(5), listener.accept())
        .await
        .unwrap()
        .unwrap();
    let mut peer = Peer {
        stream,
        buf: BytesMut::new(),
    };
    let grab = Request::Grab(GrabKind::Uniq);
    peer.expect(Request::ResetAbilities).await;
    peer.expect(Request::CanDo(f("mine"))).await;
    peer.expect(grab.clone()).await;
    // A job for a function this worker never offered.
    peer.send(assign("H:1", "theirs")).await;
    let h1 = JobHandle::try_from("H:1").unwrap();
    peer.expect(Request::Work(WorkUpdate::Fail { handle: h1 }))
        .await;
    peer.expect(grab.clone()).await;
    // A job it does offer, answered; then the next GRAB comes in the same write.
    peer.send(assign("H:2", "mine")).await;
    let h2 = JobHandle::try_from("H:2").unwrap();
    peer.expect(Request::Work(WorkUpdate::Complete {
        handle: h2,
        data: Bytes::from_static(b"in"),
    }))
    .await;
    peer.expect(grab.clone()).await;
    peer.send(Response::NoJob).await;
    peer.expect(Request::PreSleep).await;
    // A NOOP wakes it; stray NOOPs after that change nothing.
    peer.send(Response::Noop).await;
    peer.expect(grab).await;
    peer.send(Response::Noop).await;
    peer.send(Response::Noop).await;
    peer.send(Response::NoJob).await;
    peer.expect(Request::PreSleep).await;
    worker.shutdown(Duration::from_secs(2)).await.unwrap();
}

/// A server that answers GRAB_JOB_ALL with ERROR and leaves GRAB_JOB_UNIQ unanswered: the
/// worker sends GRAB_JOB_UNIQ on the same connection, gives up waiting after its answer
/// timeout, connects again and grabs with GRAB_JOB from the start, once per GRAB.
#[tokio::test]
async fn refused_then_ignored_grabs_fall_back_to_grab_job() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let worker = Worker::builder()
        .server(addr.to_string())
        .grab(GrabKind::All)
        .grab_answer_timeout(Some(Duration::from_millis(300)))
        .function(f("mine"), |job: Job| async move { Ok(job.data().clone()) })
        .heartbeat(None, Duration::from_secs(1))
        .reconnect_backoff(Duration::from_millis(10), Duration::from_millis(50))
        .spawn()
        .unwrap();
    let accept = || async {
        let (stream, _) = tokio::time::timeout(Duration::from_secs(5), listener.accept())
            .await
            .unwrap()
            .unwrap();
        Peer {
            stream,
            buf: BytesMut::new(),
        }
    };
    let mut first = accept().await;
    first.expect(Request::ResetAbilities).await;
    first.expect(Request::CanDo(f("mine"))).await;
    first.expect(Request::Grab(GrabKind::All)).await;
    first
        .send(Response::Error(gearman_proto::ErrorPacket {
            code: Bytes::from_static(b"INVALID_COMMAND"),
            text: Bytes::from_static(b"Command not expected"),
        }))
        .await;
    first.expect(Request::Grab(GrabKind::Uniq)).await;
    // No answer: the worker closes this connection and opens another.
    let mut second = accept().await;
    let mut rest = [0u8; 64];
    let closed = tokio::time::timeout(Duration::from_secs(5), first.stream.read(&mut rest))
        .await
        .expect("the ignored connection was closed");
    assert!(matches!(closed, Ok(0) | Err(_)), "{closed:?}");
    second.expect(Request::ResetAbilities).await;
    second.expect(Request::CanDo(f("mine"))).await;
    second.expect(Request::Grab(GrabKind::Plain)).await;
    let mut job = assign("H:1", "mine");
    if let Response::JobAssign(a) = &mut job {
        a.unique = None;
    }
    second.send(job).await;
    second
        .expect(Request::Work(WorkUpdate::Complete {
            handle: JobHandle::try_from("H:1").unwrap(),
            data: Bytes::from_static(b"in"),
        }))
        .await;
    second.expect(Request::Grab(GrabKind::Plain)).await;
    second.send(Response::NoJob).await;
    second.expect(Request::PreSleep).await;
    worker.shutdown(Duration::from_secs(2)).await.unwrap();
}
