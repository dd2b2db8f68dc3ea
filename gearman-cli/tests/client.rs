//! `gearmanctl submit`, `status` and `admin` against both job servers (gearmand and
//! gearman-server) and `gearmanctl work`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::gearmanctl_work as worker;
use gearman_testkit::{ServerKind, TestServer};

const WAIT: Duration = Duration::from_secs(20);

fn ctl(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gearmanctl"))
        .env("RUST_LOG", "warn")
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(start.elapsed() < WAIT, "gearmanctl {args:?} did not finish");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

fn wait_for_worker(addr: SocketAddr, function: &str) {
    let start = Instant::now();
    loop {
        let out = ctl(&["admin", "-s", &addr.to_string(), "status"]);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let ready = text.lines().any(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            cols.first() == Some(&function) && cols.get(3).is_some_and(|w| *w != "0")
        });
        if ready {
            return;
        }
        assert!(
            start.elapsed() < WAIT,
            "{function} never registered: {text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn submit_prints_results_and_exit_status_tells_outcomes_apart(kind: ServerKind) {
    let Some(g) = TestServer::start_or_skip(kind, "submit_exit_statuses") else {
        return;
    };
    let addr = g.addr();
    let s = addr.to_string();
    let _echo = worker(addr, "cli:echo", &["--echo"]);
    let _fail = worker(addr, "cli:false", &["--", "false"]);
    wait_for_worker(addr, "cli:echo");
    wait_for_worker(addr, "cli:false");

    let out = ctl(&["submit", "-s", &s, "-f", "cli:echo", "hello there"]);
    assert_eq!(
        (out.status.code(), &out.stdout[..]),
        (Some(0), &b"hello there"[..])
    );
    let out = ctl(&["submit", "-s", &s, "-f", "cli:false", "x"]);
    assert_eq!(out.status.code(), Some(10), "{out:?}");
    let out = ctl(&[
        "submit",
        "-s",
        &s,
        "-f",
        "cli:nobody",
        "--timeout",
        "0.3",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(23), "{out:?}");
    let long = "u".repeat(64);
    let out = ctl(&["submit", "-s", &s, "-f", "cli:echo", "-u", &long, "x"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a 64-byte unique is refused before sending"
    );
}

fn background_submit_status_and_admin_tables(kind: ServerKind) {
    let Some(g) = TestServer::start_or_skip(kind, "background_status_admin") else {
        return;
    };
    let s = g.addr().to_string();
    let out = ctl(&[
        "submit",
        "-s",
        &s,
        "-f",
        "cli:later",
        "--background",
        "payload",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let handle = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(handle.starts_with("H:"), "{handle}");
    let out = ctl(&["status", "-s", &s, &handle]);
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(
        line.contains("known=1") && line.contains("running=0"),
        "{line}"
    );

    let out = ctl(&["admin", "-s", &s, "status"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().next().unwrap().starts_with("FUNCTION"));
    let row: Vec<&str> = text
        .lines()
        .find(|l| l.starts_with("cli:later"))
        .expect("the function is listed")
        .split_whitespace()
        .collect();
    assert_eq!(row, vec!["cli:later", "1", "0", "0"]);
    let out = ctl(&["admin", "-s", &s, "jobs"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(&handle));
    let out = ctl(&["admin", "-s", &s, "cancel", &handle]);
    assert_eq!(out.status.code(), Some(0));
    let out = ctl(&["admin", "-s", &s, "version"]);
    let version = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(version.starts_with(kind.version_prefix()), "{version}");
    let out = ctl(&["admin", "-s", &s, "drop", "cli:never-seen"]);
    assert_ne!(out.status.code(), Some(0));
}

gearman_testkit::on_both_servers_blocking!(
    submit_prints_results_and_exit_status_tells_outcomes_apart,
    background_submit_status_and_admin_tables,
);
