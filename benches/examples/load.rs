//! The server benchmark's load against any job server, for profiling it from outside:
//! `cargo run --release -p gearman-benches --example load -- 127.0.0.1:4730 100000`
//! runs that many 100-byte foreground jobs (batches of 100 from one client, a worker with 4
//! connections answering) and prints the rate.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::future::join_all;
use gearman_client::{Client, Job};
use gearman_proto::FunctionName;
use gearman_worker::{Job as WorkerJob, Worker};

const BATCH: usize = 100;

fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:4730".into());
    let jobs: usize = args
        .next()
        .map_or(100_000, |n| n.parse().expect("a job count"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let function = FunctionName::try_from("bench:load").unwrap();
        let worker = Worker::builder()
            .server(addr.clone())
            .concurrency(4)
            .connections_per_server(4)
            .function(function.clone(), |job: WorkerJob| async move {
                std::hint::black_box(job.data());
                Ok(Bytes::new())
            })
            .spawn()
            .unwrap();
        let client = Client::builder().server(addr).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while client.connected() == 0 || worker.connected() < 4 {
            assert!(Instant::now() < deadline, "could not connect");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
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
