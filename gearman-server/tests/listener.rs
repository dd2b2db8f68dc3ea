//! The tokio server's own promises: hard limits against bad or greedy peers (a 4 GiB header, a
//! reader that stops reading, too many connections), other connections unaffected meanwhile,
//! per-function counts from the handle, and both kinds of shutdown.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gearman_client::{Client, Job};
use gearman_proto::FunctionName;
use gearman_server::{Server, ServerConfig};
use gearman_testkit::{raw_packet, read_packet};
use gearman_worker::{Job as WorkerJob, Worker};

const WAIT: Duration = Duration::from_secs(10);
const ECHO_REQ: u32 = 16;
const ECHO_RES: u32 = 17;
const SUBMIT_JOB_BG: u32 = 18;
const CAN_DO: u32 = 1;
const GRAB_JOB: u32 = 9;

fn f(s: &str) -> FunctionName {
    FunctionName::try_from(s).unwrap()
}

fn open(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

/// An ECHO round trip on its own connection, in a blocking thread; false if the server
/// closed the connection instead.
async fn echo_ok(addr: SocketAddr, payload: &'static [u8]) -> bool {
    tokio::task::spawn_blocking(move || {
        let mut s = open(addr);
        if s.write_all(&raw_packet(ECHO_REQ, &[payload])).is_err() {
            return false;
        }
        read_packet(&mut s).is_ok_and(|p| p.ty == ECHO_RES && p.body == payload)
    })
    .await
    .unwrap()
}

/// Whether the peer closed within 5 s.
fn closed(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 64];
    for _ in 0..1000 {
        match s.read(&mut b) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
    false
}

fn config() -> ServerConfig {
    ServerConfig {
        max_packet: 1024 * 1024,
        max_output: 256 * 1024,
        max_connections: 16,
        ..ServerConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_4_gib_header_is_refused_at_once_and_others_carry_on() {
    let server = Server::bind("127.0.0.1:0", config()).await.unwrap();
    let addr = server.local_addr();
    let mut bad = open(addr);
    // An ECHO_REQ announcing 4 GiB - 1, and a little of it.
    let mut header = b"\0REQ".to_vec();
    header.extend_from_slice(&ECHO_REQ.to_be_bytes());
    header.extend_from_slice(&u32::MAX.to_be_bytes());
    header.extend_from_slice(&[b'x'; 1000]);
    bad.write_all(&header).unwrap();
    let started = Instant::now();
    assert!(
        tokio::task::spawn_blocking(move || closed(&mut bad))
            .await
            .unwrap(),
        "closed"
    );
    assert!(started.elapsed() < Duration::from_secs(2), "at once");
    // A packet at the cap still works; one byte over does not.
    let at_cap = vec![b'a'; 1024 * 1024];
    let mut s = open(addr);
    s.write_all(&raw_packet(ECHO_REQ, &[&at_cap])).unwrap();
    let p = read_packet(&mut s).unwrap();
    assert_eq!((p.ty, p.body.len()), (ECHO_RES, at_cap.len()));
    let mut over = b"\0REQ".to_vec();
    over.extend_from_slice(&ECHO_REQ.to_be_bytes());
    over.extend_from_slice(&(1024 * 1024 + 1u32).to_be_bytes());
    s.write_all(&over).unwrap();
    assert!(closed(&mut s));
    assert!(echo_ok(addr, b"others carry on").await);
    server.shutdown().await;
}

/// The largest buffer the kernel may give one TCP socket in `direction` (`rmem` or `wmem`),
/// from `/proc/sys/net/ipv4/tcp_{direction}` (its third figure).
fn tcp_buffer_max(direction: &str) -> usize {
    let text = std::fs::read_to_string(format!("/proc/sys/net/ipv4/tcp_{direction}")).unwrap();
    text.split_whitespace().nth(2).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_stops_reading_is_dropped_not_buffered_for() {
    let server = Server::bind("127.0.0.1:0", config()).await.unwrap();
    let addr = server.local_addr();
    // What the kernel can hold between the two ends, in both directions: each socket's send
    // and receive buffers, grown by autotuning up to these limits (32 MiB + 4 MiB here).
    let kernel = 2 * (tcp_buffer_max("rmem") + tcp_buffer_max("wmem"));
    let packet_size = 64 * 1024;
    let held = kernel / packet_size + 256 * 1024 / packet_size + 1;
    // Twice that many 64 KiB echoes, never read: a server that kept buffering them would take
    // them all; this one holds at most 256 KiB of output and then drops the connection.
    let tries = 2 * held;
    let greedy = tokio::task::spawn_blocking(move || {
        let mut s = open(addr);
        s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
        let big = vec![b'e'; packet_size];
        let packet = raw_packet(ECHO_REQ, &[&big]);
        let mut sent = 0usize;
        for _ in 0..tries {
            if s.write_all(&packet).is_err() {
                break;
            }
            sent += 1;
        }
        sent
    });
    let sent = tokio::time::timeout(WAIT, greedy).await.unwrap().unwrap();
    eprintln!("cut off after {sent} x 64 KiB (the kernel could hold {held})");
    assert!(
        sent <= held,
        "cut off after {sent} x 64 KiB: more than the kernel's buffers ({held}) and the bound"
    );
    assert!(echo_ok(addr, b"still serving").await);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_limit_are_closed() {
    let server = Server::bind("127.0.0.1:0", config()).await.unwrap();
    let addr = server.local_addr();
    let held = tokio::task::spawn_blocking(move || {
        let mut held = Vec::new();
        for _ in 0..16 {
            let mut s = open(addr);
            s.write_all(&raw_packet(ECHO_REQ, &[b"in"])).unwrap();
            assert_eq!(read_packet(&mut s).unwrap().ty, ECHO_RES);
            held.push(s);
        }
        let mut extra = open(addr);
        let refused = closed(&mut extra);
        (held, refused)
    })
    .await
    .unwrap();
    assert!(held.1, "the 17th connection was closed");
    drop(held);
    // Once they are gone there is room again (bounded wait for the server to notice).
    let deadline = Instant::now() + WAIT;
    while !echo_ok(addr, b"room").await {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_queued_and_running_jobs_per_function() {
    let server = Server::bind("127.0.0.1:0", ServerConfig::default())
        .await
        .unwrap();
    let addr = server.local_addr();
    // The worker connection stays open until the end of the test.
    let _worker = tokio::task::spawn_blocking(move || {
        let mut c = open(addr);
        for i in 0..3 {
            let data = format!("{i}");
            c.write_all(&raw_packet(SUBMIT_JOB_BG, &[b"st:a", b"", data.as_bytes()]))
                .unwrap();
            read_packet(&mut c).unwrap();
        }
        let mut w = open(addr);
        w.write_all(&raw_packet(CAN_DO, &[b"st:a"])).unwrap();
        w.write_all(&raw_packet(CAN_DO, &[b"st:b"])).unwrap();
        w.write_all(&raw_packet(GRAB_JOB, &[])).unwrap();
        read_packet(&mut w).unwrap();
        w
    })
    .await
    .unwrap();
    let stats = server.stats().await.unwrap();
    let rows: Vec<(String, usize, usize, usize)> = stats
        .iter()
        .map(|s| (s.function.to_string(), s.queued, s.running, s.workers))
        .collect();
    assert_eq!(
        rows,
        vec![("st:a".into(), 2, 1, 1), ("st:b".into(), 0, 0, 1)]
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_everything_and_graceful_lets_connections_finish() {
    let server = Server::bind("127.0.0.1:0", ServerConfig::default())
        .await
        .unwrap();
    let addr = server.local_addr();
    let worker = Worker::builder()
        .server(addr.to_string())
        .function(f("sd:slow"), |job: WorkerJob| async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok(job.data().clone())
        })
        .spawn()
        .unwrap();
    let client = Client::builder().server(addr.to_string()).spawn().unwrap();
    let deadline = Instant::now() + WAIT;
    while client.connected() == 0 || worker.connected() == 0 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let running = tokio::spawn({
        let client = client.clone();
        async move { client.call(Job::new(f("sd:slow"), "kept")).await }
    });
    let deadline = Instant::now() + WAIT;
    while server.stats().await.unwrap().iter().all(|s| s.running == 0) {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Graceful: no new connections, but the job in flight completes over the old ones.
    let graceful = tokio::spawn(server.shutdown_graceful());
    let deadline = Instant::now() + WAIT;
    while TcpStream::connect(addr).is_ok() {
        assert!(Instant::now() < deadline, "still accepting");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let done = running.await.unwrap().unwrap();
    assert_eq!(done, Bytes::from_static(b"kept"));
    assert!(!graceful.is_finished(), "waits for the connections");
    worker.shutdown(WAIT).await.unwrap();
    drop(client);
    tokio::time::timeout(WAIT, graceful).await.unwrap().unwrap();

    // Now: every connection closes at once.
    let server = Server::bind("127.0.0.1:0", ServerConfig::default())
        .await
        .unwrap();
    let addr = server.local_addr();
    let mut conn = open(addr);
    conn.write_all(&raw_packet(ECHO_REQ, &[b"hi"])).unwrap();
    read_packet(&mut conn).unwrap();
    tokio::time::timeout(WAIT, server.shutdown()).await.unwrap();
    assert!(closed(&mut conn));
    assert!(TcpStream::connect(addr).is_err());
}
