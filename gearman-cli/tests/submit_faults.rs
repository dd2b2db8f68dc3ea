//! `gearmanctl submit` when the server is not there or frozen: exact outcomes, deadlines kept.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Output};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(40);

fn ctl(args: &[&str]) -> (Output, Duration) {
    common::ctl_within(args, WAIT)
}

#[test]
fn a_closed_port_exits_not_sent_within_the_timeout_and_says_why() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    drop(l);
    let (out, took) = ctl(&["submit", "-s", &addr, "-f", "f", "--timeout", "1", "x"]);
    assert_eq!(out.status.code(), Some(20), "{out:?}");
    assert!(took < Duration::from_millis(1500), "{took:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refused"), "{err}");
    assert!(out.stdout.is_empty());
}

/// gearmand's pid, asked over the admin protocol.
fn gearmand_pid(addr: &str) -> i32 {
    let (out, _) = ctl(&["admin", "-s", addr, "pid"]);
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("getpid said {text:?}"))
}

fn signal(pid: i32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig} {pid}");
}

#[test]
fn a_frozen_gearmand_leaves_the_submission_ambiguous() {
    let Some(g) = gearman_testkit::gearmand_or_skip("frozen_gearmand") else {
        return;
    };
    let addr = g.addr().to_string();
    let pid = gearmand_pid(&addr);
    signal(pid, "-STOP");
    // With a deadline: the call ends at it. The submission was still held behind the
    // connection's first request (the exceptions option, never answered), so it was never
    // sent: 20, not a plain timeout (23).
    let (out, took) = ctl(&["submit", "-s", &addr, "-f", "f", "--timeout", "1", "x"]);
    let with_deadline = (out.status.code(), took);
    // Without one: the server's silence ends it (the option answer, then JOB_CREATED, each
    // within the 10 s request timeout), also as 21.
    let (out, took) = ctl(&["submit", "-s", &addr, "-f", "f", "x"]);
    signal(pid, "-CONT");
    assert_eq!(with_deadline.0, Some(20), "--timeout 1");
    assert!(
        with_deadline.1 < Duration::from_secs(3),
        "{:?}",
        with_deadline.1
    );
    assert_eq!(out.status.code(), Some(21), "{out:?}");
    assert!(took < Duration::from_secs(25), "{took:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("may or may not exist"));
}
