//! Every program in `examples/` run as a user runs it, with its output checked (cargo test builds
//! the examples before these tests).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::time::Duration;

use gearman_testkit::{run_standalone_example, ExampleRun};

const DEADLINE: Duration = Duration::from_secs(30);

/// The lines `embedded` prints after `listening on ADDR`, given the job handle it was told.
fn expected_after_listening(handle: &str) -> Vec<String> {
    let mut lines: Vec<String> = (0..10)
        .map(|i| {
            let input = format!("job-{i}");
            let reversed: String = input.chars().rev().collect();
            format!("reverse({input}) = {reversed}")
        })
        .collect();
    lines.extend([
        format!("queued a background job: {handle}"),
        "stats:".to_owned(),
        "  nobody-serves-this: 1 queued, 0 running, 0 workers".to_owned(),
        "  reverse: 0 queued, 0 running, 1 workers".to_owned(),
        "server stopped".to_owned(),
    ]);
    lines
}

/// Checks a successful run of `embedded` and returns the address it listened on.
fn check_embedded(run: &ExampleRun) -> String {
    assert!(run.success(), "embedded failed: {run:?}");
    assert_eq!(run.stderr, "", "embedded wrote to stderr");
    let lines: Vec<&str> = run.stdout.lines().collect();
    let addr = lines
        .first()
        .and_then(|l| l.strip_prefix("listening on "))
        .unwrap_or_else(|| panic!("no `listening on` line: {}", run.stdout))
        .to_owned();
    let handle = lines
        .iter()
        .find_map(|l| l.strip_prefix("queued a background job: "))
        .unwrap_or_else(|| panic!("no background job: {}", run.stdout));
    assert!(handle.starts_with("H:gearman-rs:"), "{handle}");
    assert_eq!(lines[1..], expected_after_listening(handle)[..]);
    addr
}

#[test]
fn embedded_runs_jobs_prints_stats_and_stops_on_a_free_port() {
    let run = run_standalone_example("embedded", &[], DEADLINE);
    let addr = check_embedded(&run);
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    assert!(addr.ip().is_loopback());
    assert_ne!(
        addr.port(),
        0,
        "the port the server got, not the one asked for"
    );
}

#[test]
fn embedded_listens_on_the_address_given() {
    let free = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = free.local_addr().unwrap().to_string();
    drop(free);
    let run = run_standalone_example("embedded", &[&addr], DEADLINE);
    assert_eq!(check_embedded(&run), addr);
}

#[test]
fn embedded_fails_on_an_address_in_use() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let run = run_standalone_example("embedded", &[&addr], DEADLINE);
    assert_eq!(run.status.and_then(|s| s.code()), Some(1), "{run:?}");
    assert_eq!(run.stdout, "", "nothing ran");
    assert!(run.stderr.contains("AddrInUse"), "{run:?}");
    drop(taken);
}
