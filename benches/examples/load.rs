//! The server benchmark's load against any job server, for profiling it from outside:
//! `cargo run --release -p gearman-benches --example load -- 127.0.0.1:4730 100000`
//! runs that many 100-byte foreground jobs (batches of 100 from one client, a worker with 4
//! connections answering) and prints the rate.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::future::join_all;
use gearman_benches::{runtime, worker_and_client};
use gearman_client::Job;
use gearman_proto::FunctionName;

const BATCH: usize = 100;

fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:4730".into());
    let jobs: usize = args
        .next()
        .map_or(100_000, |n| n.parse().expect("a job count"));
    let rt = runtime();
    rt.block_on(async {
        let function = FunctionName::try_from("bench:load").unwrap();
        let (worker, client) = worker_and_client(&addr, "bench:load").await;
        let data = Bytes::from(vec![b'x'; 100]);
        let start = Instant::now();
        for _ in 0..jobs / BATCH {
            let batch = (0..BATCH).map(|_| client.call(Job::new(function.clone(), data.clone())));
            for r in join_all(batch).await {
                r.unwrap();
            }
        }
        let took = start.elapsed();
        println!(
            "{jobs} jobs in {took:.2?}: {:.0} jobs/s",
            jobs as f64 / took.as_secs_f64()
        );
        worker.shutdown(Duration::from_secs(5)).await.unwrap();
    });
}
