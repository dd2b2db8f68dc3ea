//! The runtime against a scripted server on loopback: exact requests in, chosen responses out,
//! including a job for a function the worker does not offer.

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
