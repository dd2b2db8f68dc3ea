//! `gearmanctl bench` against both job servers, with its own echo workers: every mode runs every
//! job, checks every result, and reports figures that add up.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;
use std::time::Duration;

use gearman_testkit::{ServerKind, TestServer};

const WAIT: Duration = Duration::from_secs(60);

fn bench(addr: &str, args: &[&str]) -> serde_json::Value {
    let all: Vec<&str> = ["bench", "-s", addr, "--json"]
        .into_iter()
        .chain(args.iter().copied())
        .collect();
    let (out, _) = common::ctl_within(&all, WAIT);
    assert!(out.status.success(), "bench {args:?}: {out:?}");
    assert!(out.stderr.is_empty(), "quiet when all is well: {out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn every_mode_runs_every_job(kind: ServerKind) {
    let Some(server) = TestServer::start_or_skip(kind, "bench_modes") else {
        return;
    };
    let addr = server.addr().to_string();
    for mode in ["seq", "pipe", "batch", "bgseq", "bg"] {
        let v = bench(
            &addr,
            &[
                "--workers",
                "2",
                "--mode",
                mode,
                "-n",
                "300",
                "-w",
                "32",
                "--size",
                "64",
            ],
        );
        assert_eq!(v["mode"], mode);
        assert_eq!(
            (v["jobs"].as_u64(), v["done"].as_u64(), v["bad"].as_u64()),
            (Some(300), Some(300), Some(0)),
            "{v}"
        );
        let rate = v["jobs_per_s"].as_f64().unwrap();
        let elapsed = v["elapsed_s"].as_f64().unwrap();
        assert!((rate * elapsed - 300.0).abs() < 1.0, "{v}");
        let (p50, p99, max) = (
            v["p50_ms"].as_f64().unwrap(),
            v["p99_ms"].as_f64().unwrap(),
            v["max_ms"].as_f64().unwrap(),
        );
        assert!(0.0 < p50 && p50 <= p99 && p99 <= max, "{v}");
    }
    // The background jobs left queued are there for a worker to take: they count in status.
    let admin = Command::new(env!("CARGO_BIN_EXE_gearmanctl"))
        .args(["admin", "-s", &addr, "status"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&admin.stdout).contains("gearmanctl:bench"));
}

gearman_testkit::on_both_servers_blocking!(every_mode_runs_every_job);

#[test]
fn no_server_is_a_clear_error() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    drop(l);
    let out = Command::new(env!("CARGO_BIN_EXE_gearmanctl"))
        .args(["bench", "-s", &addr, "-n", "10"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("refused"),
        "{out:?}"
    );
}
