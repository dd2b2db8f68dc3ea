//! `gearmanctl work` against both job servers (gearmand and gearman-server): commands per job,
//! failures, clean stop.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use common::gearmanctl_work;
use gearman_proto::{
    Decoder, FunctionName, Priority, Request, Response, Submit, UniqueId, WorkUpdate,
};
use gearman_testkit::{ServerKind, TestServer};

const WAIT: Duration = Duration::from_secs(10);

fn status_workers(addr: SocketAddr, function: &str) -> u32 {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(b"status\r\n").unwrap();
    let mut text = Vec::new();
    while !text.ends_with(b"\n.\n") && text != b".\n" {
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0);
        text.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8_lossy(&text)
        .lines()
        .filter_map(|l| {
            l.split('\t')
                .collect::<Vec<_>>()
                .get(..4)
                .map(|v| v.to_vec())
        })
        .find(|cols| cols[0] == function)
        .map_or(0, |cols| cols[3].parse().unwrap())
}

fn wait_registered(addr: SocketAddr, function: &str) {
    let start = Instant::now();
    while status_workers(addr, function) == 0 {
        assert!(start.elapsed() < WAIT, "{function} never registered");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Submits one foreground job and returns its WORK_* packets up to the terminal one.
fn call(addr: SocketAddr, function: &str, data: &[u8]) -> Vec<WorkUpdate> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let submit = Request::Submit(Submit {
        function: FunctionName::try_from(function).unwrap(),
        unique: UniqueId::empty(),
        data: Bytes::copy_from_slice(data),
        priority: Priority::Normal,
        background: false,
    });
    s.write_all(&submit.to_bytes().unwrap()).unwrap();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for _ in 0..100 {
        while let Some(p) = Decoder::new().decode(&mut buf).unwrap() {
            match Response::try_from(p).unwrap() {
                Response::JobCreated(_) => {}
                Response::Work(w) => {
                    let done = w.is_terminal();
                    out.push(w);
                    if done {
                        return out;
                    }
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).expect("a reply within the wait");
        assert!(n > 0, "gearmand closed the connection");
        buf.extend_from_slice(&chunk[..n]);
    }
    panic!("no terminal packet after 100 reads");
}

fn runs_a_command_per_job_and_reports_failures(kind: ServerKind) {
    let Some(g) = TestServer::start_or_skip(kind, "runs_a_command_per_job_and_reports_failures")
    else {
        return;
    };
    let _up = gearmanctl_work(g.addr(), "cli:up", &["--", "tr", "a-z", "A-Z"]);
    let _fail = gearmanctl_work(
        g.addr(),
        "cli:fail",
        &["--", "sh", "-c", "echo oops >&2; exit 3"],
    );
    wait_registered(g.addr(), "cli:up");
    wait_registered(g.addr(), "cli:fail");

    let out = call(g.addr(), "cli:up", b"hello\0world");
    assert!(
        matches!(out.as_slice(), [WorkUpdate::Complete { data, .. }] if data == "HELLO\0WORLD"),
        "{out:?}"
    );
    let out = call(g.addr(), "cli:fail", b"");
    assert!(
        matches!(out.as_slice(), [WorkUpdate::Warning { data, .. }, WorkUpdate::Fail { .. }] if data == "oops\n"),
        "{out:?}"
    );
}

fn stops_cleanly_on_sigterm(kind: ServerKind) {
    let Some(g) = TestServer::start_or_skip(kind, "stops_cleanly_on_sigterm") else {
        return;
    };
    let mut w = gearmanctl_work(g.addr(), "cli:echo", &["--", "cat"]);
    wait_registered(g.addr(), "cli:echo");
    let out = call(g.addr(), "cli:echo", b"ping");
    assert!(matches!(out.as_slice(), [WorkUpdate::Complete { data, .. }] if data == "ping"));
    let pid = w.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let start = Instant::now();
    let status = loop {
        if let Some(status) = w.0.try_wait().unwrap() {
            break status;
        }
        assert!(start.elapsed() < WAIT, "gearmanctl did not stop");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    let start = Instant::now();
    while status_workers(g.addr(), "cli:echo") != 0 {
        assert!(start.elapsed() < WAIT, "still registered after exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

gearman_testkit::on_both_servers_blocking!(
    runs_a_command_per_job_and_reports_failures,
    stops_cleanly_on_sigterm,
);
