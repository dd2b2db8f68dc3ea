//! A server that accepts and then never answers (a half-open link, seen from the worker): the
//! ECHO heartbeat notices and the worker replaces the connection, re-registering on the new one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use gearman_proto::{Decoder, FunctionName, GrabKind, Request};
use gearman_worker::{Job, Worker};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

#[tokio::test]
async fn silent_server_is_detected_and_replaced() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<Request>>();
    tokio::spawn(async move {
        // Accept up to three connections; record what each carried until the worker closed it.
        for _ in 0..3 {
            let (mut s, _) = listener.accept().await.unwrap();
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = BytesMut::new();
                while s.read_buf(&mut buf).await.map(|n| n > 0).unwrap_or(false) {}
                let mut reqs = Vec::new();
                while let Ok(Some(p)) = Decoder::new().decode(&mut buf) {
                    reqs.push(Request::try_from(p).unwrap());
                }
                let _ = tx.send(reqs);
            });
        }
    });
    let worker = Worker::builder()
        .server(addr.to_string())
        .function(FunctionName::try_from("f").unwrap(), |_job: Job| async {
            Ok(Bytes::new())
        })
        .heartbeat(Some(Duration::from_millis(200)), Duration::from_millis(200))
        .regrab_after(Duration::from_secs(60))
        .reconnect_backoff(Duration::from_millis(10), Duration::from_millis(50))
        .spawn()
        .unwrap();
    // The first connection is given up within heartbeat + timeout (+ slack), not hung on.
    let first = tokio::time::timeout(Duration::from_secs(3), rx.recv())
        .await
        .expect("the dead connection was closed by the worker")
        .unwrap();
    let f = FunctionName::try_from("f").unwrap();
    assert_eq!(
        first[..3],
        [
            Request::ResetAbilities,
            Request::CanDo(f),
            Request::Grab(GrabKind::Uniq)
        ]
    );
    assert!(matches!(first.last(), Some(Request::Echo(_))), "{first:?}");
    // And a new connection registered from scratch took its place.
    let second = tokio::time::timeout(Duration::from_secs(3), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.first(), Some(&Request::ResetAbilities));
    worker.shutdown(Duration::from_secs(1)).await.unwrap();
}
