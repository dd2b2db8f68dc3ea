//! Client throughput through gearmand (`--threads 1`): sequential foreground jobs, foreground
//! jobs in batches of 100, and background submissions in batches of 100, for gearman-client and
//! for libgearman's client (a small C program on its public API, `peers/libgearman_client.c`,
//! built by build.rs where libgearman-dev is installed), in the same run against the same
//! server and the same workers (gearman-worker, 4 connections, answering with an empty result).
//! Workloads are 100 bytes. The batches run both as concurrent calls joined and through the batch
//! API (`call_all`, `submit_all`).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures_util::future::join_all;
use gearman_benches::{runtime, worker_and_client};
use gearman_client::Job;
use gearman_proto::FunctionName;
use gearman_testkit::Gearmand;

const FUNCTION: &str = "bench:client";
const WINDOW: usize = 100;

fn job() -> Job {
    Job::new(
        FunctionName::try_from(FUNCTION).unwrap(),
        Bytes::from(vec![b'x'; 100]),
    )
}

#[cfg(libgearman_peer)]
fn peer(port: u16, mode: &str, count: u64) -> Duration {
    let out = std::process::Command::new(env!("LIBGEARMAN_CLIENT"))
        .args([
            "127.0.0.1",
            &port.to_string(),
            FUNCTION,
            mode,
            &count.to_string(),
            &WINDOW.to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "libgearman peer: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let secs: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    Duration::from_secs_f64(secs)
}

fn bench_client(c: &mut Criterion) {
    let Ok(server) = Gearmand::builder().threads(1).start() else {
        eprintln!("*** client benchmark skipped: needs gearmand ***");
        return;
    };
    #[cfg(not(libgearman_peer))]
    eprintln!("*** libgearman-dev missing: the client benchmark runs without its peer ***");
    let rt = runtime();
    let addr = server.addr();
    let (worker, client) = rt.block_on(worker_and_client(&addr.to_string(), FUNCTION));

    let cases: [(&str, &str, u64); 3] = [
        ("sequential", "seq", 200),
        ("window_100", "window", 1000),
        ("background_batches_of_100", "background", 1000),
    ];
    for (name, mode, per_iter) in cases {
        let mut g = c.benchmark_group(format!("client/{name}"));
        g.throughput(Throughput::Elements(per_iter));
        g.sample_size(20);
        g.measurement_time(Duration::from_secs(8));
        g.bench_function("ours", |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let n = iters * per_iter;
                    let start = Instant::now();
                    match mode {
                        "seq" => {
                            for _ in 0..n {
                                client.call(job()).await.unwrap();
                            }
                        }
                        "window" => {
                            for _ in 0..n / WINDOW as u64 {
                                for r in join_all((0..WINDOW).map(|_| client.call(job()))).await {
                                    r.unwrap();
                                }
                            }
                        }
                        _ => {
                            for _ in 0..n / WINDOW as u64 {
                                let subs = (0..WINDOW).map(|_| client.submit(job().background()));
                                for r in join_all(subs).await {
                                    r.unwrap();
                                }
                            }
                        }
                    }
                    start.elapsed()
                })
            })
        });
        // The batch API: the same batches through call_all / submit_all.
        if mode != "seq" {
            g.bench_function("ours_batch_api", |b| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let n = iters * per_iter;
                        let start = Instant::now();
                        for _ in 0..n / WINDOW as u64 {
                            if mode == "window" {
                                for r in client.call_all((0..WINDOW).map(|_| job())).await {
                                    r.unwrap();
                                }
                            } else {
                                let jobs = (0..WINDOW).map(|_| job().background());
                                for r in client.submit_all(jobs).await {
                                    r.unwrap();
                                }
                            }
                        }
                        start.elapsed()
                    })
                })
            });
        }
        #[cfg(libgearman_peer)]
        g.bench_function("libgearman", |b| {
            b.iter_custom(|iters| peer(addr.port(), mode, iters * per_iter))
        });
        g.finish();
    }
    rt.block_on(worker.shutdown(Duration::from_secs(5)))
        .unwrap();
}

criterion_group!(benches, bench_client);
criterion_main!(benches);
