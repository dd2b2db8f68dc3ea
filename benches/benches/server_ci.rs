//! gearman-server beside gearmand under a CI-shaped registration: 8 workers (one connection
//! each, as a Jenkins executor), each registering 2,000 functions (`build:pJ` for 1,000
//! projects and `build:pJ:nodeI` of its own), a client submitting batches of 100 builds across
//! the projects. Same load, same run; each server on a thread or process of its own.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures_util::future::join_all;
use gearman_client::{AdminClient, Client, Job};
use gearman_proto::FunctionName;
use gearman_server::ServerConfig;
use gearman_testkit::{Embedded, Gearmand};
use gearman_worker::{Job as WorkerJob, JobResult, Worker};

const PROJECTS: usize = 1000;
const WORKERS: usize = 8;
const BATCH: usize = 100;
const PER_ITER: u64 = 1000;

async fn build(job: WorkerJob) -> JobResult {
    std::hint::black_box(job.data());
    Ok(Bytes::new())
}

fn f(name: String) -> FunctionName {
    FunctionName::try_from(name).unwrap()
}

async fn setup(addr: String) -> (Vec<Worker>, Client) {
    let mut workers = Vec::new();
    for i in 0..WORKERS {
        let mut b = Worker::builder().server(addr.clone());
        for j in 0..PROJECTS {
            b = b
                .function(f(format!("build:p{j}")), build)
                .function(f(format!("build:p{j}:node{i}")), build);
        }
        workers.push(b.spawn().unwrap());
    }
    let client = Client::builder().server(addr.clone()).spawn().unwrap();
    // Ready when the server lists every project function with all 8 workers registered.
    let admin = AdminClient::new(addr.clone(), Duration::from_secs(5));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let rows = admin.status().await.unwrap_or_default();
        let shared = rows
            .iter()
            .filter(|r| r.function.iter().filter(|&&b| b == b':').count() == 1)
            .filter(|r| r.workers as usize == WORKERS)
            .count();
        if client.connected() > 0 && shared == PROJECTS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the workers did not register in time"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (workers, client)
}

async fn load(client: &Client, n: u64, next: &mut usize) {
    for _ in 0..n / BATCH as u64 {
        let batch = (0..BATCH).map(|_| {
            *next = (*next + 7) % PROJECTS;
            client.call(Job::new(f(format!("build:p{next}")), "{}"))
        });
        for r in join_all(batch).await {
            r.unwrap();
        }
    }
}

fn bench(c: &mut Criterion) {
    let rt = gearman_benches::runtime();
    let mut g = c.benchmark_group("server/ci_shaped_2000_functions_per_worker");
    g.throughput(Throughput::Elements(PER_ITER));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    let mut next = 0;

    // gearmand is measured before and after gearman-server, so that drift shows.
    let ours = Embedded::start(ServerConfig::default(), None).unwrap();
    let (ours_workers, ours_client) = rt.block_on(setup(ours.addr().to_string()));
    let mut run = |g: &mut criterion::BenchmarkGroup<'_, _>, name: &str, client: &Client| {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    load(client, iters * PER_ITER, &mut next).await;
                    start.elapsed()
                })
            })
        });
    };
    match Gearmand::builder().threads(1).start() {
        Ok(gearmand) => {
            let (workers, client) = rt.block_on(setup(gearmand.addr().to_string()));
            run(&mut g, "gearmand --threads 1 (before)", &client);
            run(&mut g, "gearman-server", &ours_client);
            run(&mut g, "gearmand --threads 1 (after)", &client);
            for w in workers {
                rt.block_on(w.shutdown(Duration::from_secs(5))).unwrap();
            }
        }
        Err(e) => {
            eprintln!("*** gearmand not available ({e}): measured gearman-server alone ***");
            run(&mut g, "gearman-server", &ours_client);
        }
    }
    for w in ours_workers {
        rt.block_on(w.shutdown(Duration::from_secs(5))).unwrap();
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
