//! A minimal client on gearman-proto for the worker's live tests: submits jobs, collects their
//! packets, asks the admin protocol. Every wait is bounded.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use gearman_proto::admin::{AdminCommand, AdminReply, ReplyReader};
use gearman_proto::{
    Decoder, FunctionName, JobHandle, OptionName, Priority, Request, Response, Submit, UniqueId,
    WorkUpdate,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const WAIT: Duration = Duration::from_secs(10);

pub fn f(name: &str) -> FunctionName {
    FunctionName::try_from(name).unwrap()
}

pub struct RawClient {
    stream: TcpStream,
    buf: BytesMut,
    decoder: Decoder,
}

impl RawClient {
    pub async fn connect(addr: SocketAddr) -> Self {
        let stream = tokio::time::timeout(WAIT, TcpStream::connect(addr))
            .await
            .unwrap()
            .unwrap();
        stream.set_nodelay(true).unwrap();
        let mut c = Self {
            stream,
            buf: BytesMut::new(),
            decoder: Decoder::new(),
        };
        c.send(&Request::Option(OptionName::exceptions())).await;
        assert_eq!(c.recv().await, Response::Option(OptionName::exceptions()));
        c
    }

    pub async fn send(&mut self, req: &Request) {
        self.stream
            .write_all(&req.to_bytes().unwrap())
            .await
            .unwrap();
    }

    /// The next response, within [`WAIT`].
    pub async fn recv(&mut self) -> Response {
        self.recv_within(WAIT)
            .await
            .expect("a response within the wait")
    }

    pub async fn recv_within(&mut self, wait: Duration) -> Option<Response> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(p) = self.decoder.decode(&mut self.buf).unwrap() {
                return Some(Response::try_from(p).unwrap());
            }
            let read = tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf)).await;
            match read {
                Err(_) => return None,
                Ok(Ok(0)) => panic!("server closed the connection"),
                Ok(r) => {
                    r.unwrap();
                }
            }
        }
    }

    pub async fn submit(&mut self, function: &str, data: &[u8], background: bool) -> JobHandle {
        self.send(&Request::Submit(Submit {
            function: f(function),
            unique: UniqueId::empty(),
            data: Bytes::copy_from_slice(data),
            priority: Priority::Normal,
            background,
        }))
        .await;
        match self.recv().await {
            Response::JobCreated(h) => h,
            other => panic!("expected JOB_CREATED, got {other:?}"),
        }
    }

    /// Every WORK_* packet of `handle` up to and including the terminal one.
    pub async fn outcome(&mut self, handle: &JobHandle) -> Vec<WorkUpdate> {
        let mut out = Vec::new();
        loop {
            match self.recv().await {
                Response::Work(w) if w.handle() == handle => {
                    let done = w.is_terminal();
                    out.push(w);
                    if done {
                        return out;
                    }
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    /// Submits and waits for the terminal packet.
    pub async fn call(&mut self, function: &str, data: &[u8]) -> WorkUpdate {
        let h = self.submit(function, data, false).await;
        self.outcome(&h).await.pop().unwrap()
    }
}

/// Sends one admin command on a fresh connection and reads the reply.
pub async fn admin(addr: SocketAddr, cmd: AdminCommand) -> AdminReply {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut line = Vec::new();
    cmd.encode(&mut line).unwrap();
    s.write_all(&line).await.unwrap();
    let mut buf = BytesMut::new();
    let mut reader = ReplyReader::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(r) = reader.read(&cmd, &mut buf).unwrap() {
            return r;
        }
        let n = tokio::time::timeout_at(deadline, s.read_buf(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "admin connection closed");
    }
}

/// `(total, running, workers)` of `function` in the admin `status`.
pub async fn status_of(addr: SocketAddr, function: &str) -> Option<(u32, u32, u32)> {
    let AdminReply::Status(rows) = admin(addr, AdminCommand::Status).await else {
        panic!("not a status reply")
    };
    rows.iter()
        .find(|r| &r.function[..] == function.as_bytes())
        .map(|r| (r.total, r.running, r.workers))
}

/// Polls `check` every 20 ms until it holds, for at most `wait`.
#[allow(unused_imports)] // not every test binary that includes this module polls
pub use gearman_testkit::eventually;
