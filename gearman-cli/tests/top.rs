//! `gearmanctl top` against both servers: `--once` prints the table; the live view runs in a
//! pseudo-terminal (util-linux `script`), shows the functions, and quits on `q`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gearman_testkit::{ServerKind, TestServer};

const WAIT: Duration = Duration::from_secs(20);

/// Queues `n` background jobs for `function` (nobody serves it).
fn queue(addr: &str, function: &str, n: usize) {
    for _ in 0..n {
        let out = Command::new(env!("CARGO_BIN_EXE_gearmanctl"))
            .args(["submit", "-s", addr, "-f", function, "--background", "x"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }
}

fn once_prints_every_function(kind: ServerKind) {
    let Some(server) = TestServer::start_or_skip(kind, "top_once") else {
        return;
    };
    let addr = server.addr().to_string();
    queue(&addr, "top:few", 1);
    queue(&addr, "top:many", 3);
    let out = Command::new(env!("CARGO_BIN_EXE_gearmanctl"))
        .args(["top", "-s", &addr, "--once"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["FUNCTION", "QUEUED", "RUNNING", "WORKERS"]);
    // Sorted by queued, largest first.
    let many = lines.iter().position(|l| l[0] == "top:many").unwrap();
    let few = lines.iter().position(|l| l[0] == "top:few").unwrap();
    assert!(many < few, "{text}");
    assert_eq!(lines[many][1..], ["3", "0", "0"]);
    assert_eq!(lines[few][1..], ["1", "0", "0"]);
}

fn live_view_shows_functions_and_quits_on_q(kind: ServerKind) {
    let Some(server) = TestServer::start_or_skip(kind, "top_live") else {
        return;
    };
    let addr = server.addr().to_string();
    queue(&addr, "top:live", 2);
    let cmd = format!(
        "stty cols 100 rows 20; exec {} top -s {addr} --interval 0.2",
        env!("CARGO_BIN_EXE_gearmanctl")
    );
    let mut child = Command::new("script")
        .args(["-qefc", &cmd, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux script");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut stdout = child.stdout.take().unwrap();
    let reader = {
        let seen = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        })
    };
    let shows = |text: &str| String::from_utf8_lossy(&seen.lock().unwrap()).contains(text);
    let start = Instant::now();
    while !(shows("top:live") && shows("QUEUED")) {
        assert!(
            start.elapsed() < WAIT,
            "top never showed the function: {}",
            String::from_utf8_lossy(&seen.lock().unwrap())
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.stdin.as_mut().unwrap().write_all(b"q").unwrap();
    let quit = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            quit.elapsed() < Duration::from_secs(5),
            "top did not quit on q"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(child.wait().unwrap().success());
    reader.join().unwrap();
}

gearman_testkit::on_both_servers_blocking!(
    once_prints_every_function,
    live_view_shows_functions_and_quits_on_q
);

#[test]
fn without_a_terminal_it_says_to_use_once() {
    let out = Command::new(env!("CARGO_BIN_EXE_gearmanctl"))
        .args(["top", "-s", "127.0.0.1:1"])
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--once"),
        "{out:?}"
    );
}
