//! `gearmanctl` is quiet when all is well: warnings and errors only by default, so a successful
//! `submit` prints its result and nothing else; `-v` turns the info logs on.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Output;
use std::time::Duration;

use common::gearmanctl_work as worker;
use gearman_testkit::{ServerKind, TestServer};

const WAIT: Duration = Duration::from_secs(20);

/// `gearmanctl ARGS` as a user runs it, killed after [`WAIT`].
fn ctl_as_user(args: &[&str]) -> Output {
    common::ctl_within(args, WAIT).0
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
