//! The server benchmark's load against any job server, for profiling it from outside:
//! `cargo run --release -p gearman-benches --example load -- 127.0.0.1:4730 100000`
//! runs that many 100-byte foreground jobs (batches of 100 from one client, a worker with 4
//! connections answering) and prints the rate.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use gearman_benches::{batched_load, runtime, worker_and_client};

fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:4730".into());
    let jobs: usize = args
        .next()
        .map_or(100_000, |n| n.parse().expect("a job count"));
    let rt = runtime();
    rt.block_on(async {
        let (worker, client) = worker_and_client(&addr, "bench:load").await;
        let start = Instant::now();
        batched_load(&client, "bench:load", jobs as u64).await;
        let took = start.elapsed();
        println!(
            "{jobs} jobs in {took:.2?}: {:.0} jobs/s",
            jobs as f64 / took.as_secs_f64()
        );
        worker.shutdown(Duration::from_secs(5)).await.unwrap();
    });
}
