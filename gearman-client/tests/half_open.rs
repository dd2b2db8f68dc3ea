//! A server that negotiates and then falls silent (a half-open link): the client's heartbeat
//! notices, and the job in flight ends with a typed failure instead of hanging.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bytes::BytesMut;
use gearman_client::{Client, Error, Failure, Job};
use gearman_proto::{Decoder, FunctionName, OptionName, Request, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[tokio::test]
async fn silent_server_fails_the_job_in_flight_quickly() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = BytesMut::new();
        // Answer the option, then read everything and answer nothing.
        loop {
            if let Some(p) = Decoder::new().decode(&mut buf).unwrap() {
                assert_eq!(
                    Request::try_from(p).unwrap(),
                    Request::Option(OptionName::exceptions())
                );
                let ok = Response::Option(OptionName::exceptions())
                    .to_bytes()
                    .unwrap();
                s.write_all(&ok).await.unwrap();
                break;
            }
            assert!(s.read_buf(&mut buf).await.unwrap() > 0);
        }
        while s.read_buf(&mut buf).await.map(|n| n > 0).unwrap_or(false) {}
    });
    let client = Client::builder()
        .server(addr.to_string())
        .heartbeat(Some(Duration::from_millis(200)), Duration::from_millis(200))
        .request_timeout(Duration::from_secs(30))
        .spawn()
        .unwrap();
    for _ in 0..500 {
        if client.connected() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let started = tokio::time::Instant::now();
    let out = client
        .call(Job::new(FunctionName::try_from("f").unwrap(), "x"))
        .await;
    assert_eq!(
        out,
        Err(Error::Failed(Failure::Ambiguous)),
        "sent, never acknowledged"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    server.abort();
}
