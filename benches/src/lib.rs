//! What the benchmarks (`benches/`) and the `load` example share: the load's runtime, and the
//! worker and client pair that runs the server and client benchmarks' jobs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use gearman_client::Client;
use gearman_proto::FunctionName;
use gearman_worker::{Job, Worker};

/// The load's runtime: two threads, like the machine's two cores.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A worker with 4 connections answering `function` with an empty result, and a client, both
/// connected to `addr`.
///
/// # Panics
/// When they are not connected within 10 s.
pub async fn worker_and_client(addr: &str, function: &str) -> (Worker, Client) {
    let worker = Worker::builder()
        .server(addr.to_string())
        .concurrency(4)
        .connections_per_server(4)
        .function(
            FunctionName::try_from(function).unwrap(),
            |job: Job| async move {
                std::hint::black_box(job.data());
                Ok(Bytes::new())
            },
        )
        .spawn()
        .unwrap();
    let client = Client::builder().server(addr.to_string()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.connected() == 0 || worker.connected() < 4 {
        assert!(Instant::now() < deadline, "could not connect to {addr}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (worker, client)
}

/// Jobs a batch of [`batched_load`] has in flight.
pub const BATCH: usize = 100;

/// `n` foreground jobs of `function` with 100-byte workloads, [`BATCH`] at a time awaited
/// together, each result checked to be there.
pub async fn batched_load(client: &Client, function: &str, n: u64) {
    let function = FunctionName::try_from(function).unwrap();
    let data = Bytes::from(vec![b'x'; 100]);
    for _ in 0..n / BATCH as u64 {
        let batch = (0..BATCH)
            .map(|_| client.call(gearman_client::Job::new(function.clone(), data.clone())));
        for r in futures_util::future::join_all(batch).await {
            r.unwrap();
        }
    }
}

/// How long [`batched_load`] of `n` jobs takes on `rt`.
pub fn measure_batched(
    rt: &tokio::runtime::Runtime,
    client: &Client,
    function: &str,
    n: u64,
) -> Duration {
    rt.block_on(async {
        let start = Instant::now();
        batched_load(client, function, n).await;
        start.elapsed()
    })
}
