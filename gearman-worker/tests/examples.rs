//! The programs in `examples/`, run as a user runs them, against gearman-server on a free loopback
//! port, with jobs submitted by gearman-client: their results, their progress, how they stop.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use gearman_client::{Client, JobEvent, JobOutcome};
use gearman_testkit::{run_example, ServerKind, TestServer};
use gearman_worker::proto::WorkUpdate;
use gearman_worker::Bytes;

/// Bound on every wait of these tests.
const WAIT: Duration = Duration::from_secs(30);

/// A client connected to `addr`.
async fn client(addr: &str) -> Client {
    let client = Client::builder().server(addr.to_string()).spawn().unwrap();
    client.ready(WAIT).await.unwrap();
    client
}

fn job(function: &str, data: &'static [u8]) -> gearman_client::Job {
    gearman_client::Job::new(function, data)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reverse_serves_the_jobs_it_was_asked_for_then_exits_0() {
    let Some(server) = TestServer::start_or_skip(ServerKind::GearmanServer, "reverse example")
    else {
        return;
    };
    let addr = server.addr().to_string();
    let run = {
        let addr = addr.clone();
        tokio::task::spawn_blocking(move || run_example("reverse", &addr, &["--jobs", "3"], WAIT))
    };
    let client = client(&addr).await;
    let inputs: [&'static [u8]; 3] = [b"hello", b"gearman worker", b"x"];
    let mut outcomes = Vec::new();
    for input in inputs {
        let submitted = client.submit(job("reverse", input)).await.unwrap();
        outcomes.push(tokio::spawn(submitted.outcome()));
    }
    for (input, outcome) in inputs.iter().zip(outcomes) {
        let outcome = tokio::time::timeout(WAIT, outcome)
            .await
            .expect("the job ended in time")
            .unwrap()
            .unwrap();
        let reversed: Vec<u8> = input.iter().rev().copied().collect();
        assert_eq!(outcome, JobOutcome::Complete(Bytes::from(reversed)));
    }
    let run = run.await.unwrap();
    assert!(run.success(), "{run:?}");
    assert!(run.stdout.contains("served 3 jobs"), "{run:?}");
}

/// An example started by hand (rather than by `run_example`, which waits for the exit), so that
/// the test knows its pid and can signal it; its stdout arrives line by line.
struct Started {
    child: Child,
    lines: std_mpsc::Receiver<String>,
}

impl Started {
    /// Builds example `name` of this crate (a filtered `cargo test` does not) and starts it with
    /// `GEARMAN_SERVER=server`.
    fn new(name: &str, server: &str, args: &[&str]) -> Self {
        if let Some(cargo) = std::env::var_os("CARGO") {
            let package = env!("CARGO_PKG_NAME");
            let built = Command::new(cargo)
                .args([
                    "build",
                    "--quiet",
                    "--all-features",
                    "-p",
                    package,
                    "--example",
                    name,
                ])
                .stdin(Stdio::null())
                .status()
                .unwrap();
            assert!(built.success(), "cargo build --example {name}: {built}");
        }
        // Test binaries live in target/<profile>/deps/, examples in target/<profile>/examples/.
        let exe = std::env::current_exe().unwrap();
        let path = exe
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .join("examples")
            .join(name);
        let mut child = Command::new(&path)
            .args(args)
            .env("GEARMAN_SERVER", server)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
        let (tx, lines) = std_mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    /// Waits (bounded) for a line of stdout containing `text`; returns the lines read.
    fn expect_line(&self, text: &str) -> Vec<String> {
        let deadline = Instant::now() + WAIT;
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(text) => {
                    seen.push(line);
                    return seen;
                }
                Ok(line) => seen.push(line),
                Err(_) => break,
            }
        }
        panic!("no line with {text:?} within {WAIT:?}; saw {seen:?}");
    }

    /// Sends `signal` (`-INT`, `-TERM`) with the `kill` command.
    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill {signal} failed");
    }

    /// Waits (bounded) for the exit.
    fn wait(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the example did not exit within {WAIT:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Started {
    /// A failed test leaves no example running.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_reports_every_step_and_finishes_its_job_on_sigterm_then_exits_0() {
    let Some(server) = TestServer::start_or_skip(ServerKind::GearmanServer, "progress example")
    else {
        return;
    };
    let addr = server.addr().to_string();
    let mut example = Started::new(
        "progress",
        &addr,
        &["--step-ms", "150", "--grace-secs", "20"],
    );
    example.expect_line("serving progress");

    let client = client(&addr).await;
    let mut stream = client.submit(job("progress", b"8")).await.unwrap();
    assert!(stream.handle().is_some(), "submit() waited for JOB_CREATED");
    let (mut statuses, mut data, mut outcome, mut signalled) =
        (Vec::new(), Vec::new(), None, false);
    while outcome.is_none() {
        let event = tokio::time::timeout(WAIT, stream.next())
            .await
            .expect("an event in time")
            .expect("the stream ends with the outcome");
        match event {
            JobEvent::Progress(WorkUpdate::Status {
                numerator,
                denominator,
                ..
            }) => {
                statuses.push((numerator, denominator));
                // The job is running: stop the worker under it.
                if !signalled {
                    example.signal("-TERM");
                    signalled = true;
                }
            }
            JobEvent::Progress(WorkUpdate::Data { data: d, .. }) => data.push(d),
            JobEvent::Done(o) => outcome = Some(o),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(statuses, (1..=8).map(|i| (i, 8)).collect::<Vec<_>>());
    let want: Vec<Bytes> = (1..=8)
        .map(|i| Bytes::from(format!("step {i}/8\n")))
        .collect();
    assert_eq!(data, want);
    assert_eq!(
        outcome,
        Some(JobOutcome::Complete(Bytes::from_static(b"done 8 steps")))
    );
    let lines = example.expect_line("stopped cleanly");
    assert!(
        lines.iter().any(|l| l.contains("stopping (SIGTERM)")),
        "{lines:?}"
    );
    let status = example.wait();
    assert!(status.success(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_exits_0_on_sigint_when_idle() {
    let Some(server) = TestServer::start_or_skip(ServerKind::GearmanServer, "progress sigint")
    else {
        return;
    };
    let mut example = Started::new("progress", &server.addr().to_string(), &[]);
    example.expect_line("serving progress");
    example.signal("-INT");
    let lines = example.expect_line("stopped cleanly");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("stopping (SIGINT): 0 job(s) running")),
        "{lines:?}"
    );
    let status = example.wait();
    assert!(status.success(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_with_jobs_n_exits_0_after_serving_them() {
    let Some(server) = TestServer::start_or_skip(ServerKind::GearmanServer, "progress --jobs")
    else {
        return;
    };
    let addr = server.addr().to_string();
    let run = {
        let addr = addr.clone();
        tokio::task::spawn_blocking(move || {
            run_example("progress", &addr, &["--jobs", "2", "--step-ms", "10"], WAIT)
        })
    };
    let client = client(&addr).await;
    for steps in [&b"3"[..], b"1"] {
        let outcome = tokio::time::timeout(
            WAIT,
            client
                .submit(job("progress", steps))
                .await
                .unwrap()
                .outcome(),
        )
        .await
        .expect("the job ended in time")
        .unwrap();
        let n = std::str::from_utf8(steps).unwrap();
        assert_eq!(
            outcome,
            JobOutcome::Complete(Bytes::from(format!("done {n} steps")))
        );
    }
    let run = run.await.unwrap();
    assert!(run.success(), "{run:?}");
    assert!(run.stdout.contains("stopping (enough jobs)"), "{run:?}");
}
