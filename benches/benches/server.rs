//! gearman-server beside gearmand (`--threads 1`, its fastest setting on this machine) under the
//! same load in the same run: gearman-client submitting 100-byte foreground jobs in batches of
//! 100, gearman-worker (4 connections) answering with an empty result. Each server runs on a
//! thread of its own (gearman-server on a current-thread runtime, as gearman-testkit's
//! `Embedded` starts it), apart from the load's runtime. gearmand is measured before and after
//! gearman-server, so that drift of this shared machine shows.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gearman_benches::{runtime, worker_and_client};
use gearman_client::Client;
use gearman_server::ServerConfig;
use gearman_testkit::{Embedded, Gearmand};

const FUNCTION: &str = "bench:server";
const PER_ITER: u64 = 1000;

/// Runs `iters` x PER_ITER jobs and reports the time they took.
fn measure(rt: &tokio::runtime::Runtime, client: &Client, iters: u64) -> Duration {
    gearman_benches::measure_batched(rt, client, FUNCTION, iters * PER_ITER)
}

fn bench_server(c: &mut Criterion) {
    let rt = runtime();
    let mut g = c.benchmark_group("server/foreground_batches_of_100");
    g.throughput(Throughput::Elements(PER_ITER));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(8));

    // gearmand is measured before and after gearman-server: on this shared machine the load
    // drifts, and the bracket shows by how much.
    let ours = Embedded::start(ServerConfig::default(), None).unwrap();
    let (ours_worker, ours_client) =
        rt.block_on(worker_and_client(&ours.addr().to_string(), FUNCTION));
    match Gearmand::builder().threads(1).start() {
        Ok(gearmand) => {
            let (worker, client) =
                rt.block_on(worker_and_client(&gearmand.addr().to_string(), FUNCTION));
            g.bench_function("gearmand --threads 1 (before)", |b| {
                b.iter_custom(|iters| measure(&rt, &client, iters))
            });
            g.bench_function("gearman-server", |b| {
                b.iter_custom(|iters| measure(&rt, &ours_client, iters))
            });
            g.bench_function("gearmand --threads 1 (after)", |b| {
                b.iter_custom(|iters| measure(&rt, &client, iters))
            });
            rt.block_on(worker.shutdown(Duration::from_secs(5)))
                .unwrap();
        }
        Err(e) => {
            eprintln!("*** gearmand not available ({e}): measured gearman-server alone ***");
            g.bench_function("gearman-server", |b| {
                b.iter_custom(|iters| measure(&rt, &ours_client, iters))
            });
        }
    }
    rt.block_on(ours_worker.shutdown(Duration::from_secs(5)))
        .unwrap();
    g.finish();
}

criterion_group!(benches, bench_server);
criterion_main!(benches);
