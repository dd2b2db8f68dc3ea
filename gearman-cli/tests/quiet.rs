//! `gearmanctl` is quiet when all is well: warnings and errors only by default, so a successful
//! `submit` prints its result and nothing else; `-v` turns the info logs on.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::gearmanctl_work as worker;
use gearman_testkit::{ServerKind, TestServer};

const WAIT: Duration = Duration::from_secs(20);

/// `gearmanctl ARGS` as a user runs it: no `RUST_LOG`, output captured, killed after [`WAIT`].
fn ctl_as_user(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gearmanctl"))
        .env_remove("RUST_LOG")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > WAIT {
            let _ = child.kill();
            panic!("gearmanctl {args:?} did not finish within {WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

fn successful_submit_prints_only_the_result(kind: ServerKind) {
    let Some(g) = TestServer::start_or_skip(kind, "successful_submit_prints_only_the_result")
    else {
        return;
    };
    let s = g.addr().to_string();
    let _echo = worker(g.addr(), "quiet:echo", &["--echo"]);
    // The first submit may come before the worker registers: a foreground job waits for it.
    let out = ctl_as_user(&[
        "submit",
        "-s",
        &s,
        "-f",
        "quiet:echo",
        "--timeout",
        "15",
        "hi",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "",
        "a successful submit prints nothing on stderr"
    );

    // -v: the client's info log ("connected") appears on stderr; the result is unchanged.
    let out = ctl_as_user(&["-v", "submit", "-s", &s, "-f", "quiet:echo", "again"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "again");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("INFO") && stderr.contains("connected"),
        "-v logs at info: {stderr:?}"
    );
    assert!(
        !stderr.contains("DEBUG"),
        "-v is info, not debug: {stderr:?}"
    );
}

gearman_testkit::on_both_servers_blocking!(successful_submit_prints_only_the_result);
