//! `examples/load.rs` run as a user would run it, against the embedded server: every job it
//! sends comes back and it reports the rate.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use gearman_testkit::{run_standalone_example, ServerKind, TestServer};

#[test]
fn load_runs_its_jobs_and_reports_the_rate() {
    let server = TestServer::start_or_skip(ServerKind::GearmanServer, "example_load").unwrap();
    let addr = server.addr().to_string();
    let out = run_standalone_example("load", &[&addr, "2000"], Duration::from_secs(120));
    assert!(out.success(), "{out:?}");
    let line = out.stdout.trim();
    assert!(line.starts_with("2000 jobs in "), "{line}");
    let rate: f64 = line
        .rsplit(": ")
        .next()
        .and_then(|r| r.strip_suffix(" jobs/s"))
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("no rate in {line:?}"));
    assert!(rate > 0.0, "{line}");
}

#[test]
fn echo_worker_answers_jobs_with_their_workload_and_stops_after_max_jobs() {
    let server =
        TestServer::start_or_skip(ServerKind::GearmanServer, "example_echo_worker").unwrap();
    let port = server.port().to_string();
    let worker = std::thread::spawn(move || {
        run_standalone_example(
            "echo_worker",
            &[&port, "echo:example", "20", "10000"],
            Duration::from_secs(60),
        )
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = gearman_client::Client::builder()
            .server(server.addr().to_string())
            .spawn()
            .unwrap();
        for i in 0..20 {
            let data = format!("payload-{i}");
            let got = client
                .call(gearman_client::Job::new("echo:example", data.clone()))
                .await
                .unwrap();
            assert_eq!(got, data.as_bytes());
        }
    });
    let out = worker.join().unwrap();
    assert!(out.success(), "{out:?}");
    assert_eq!(out.stdout.trim(), "echo_worker done 20");
}
