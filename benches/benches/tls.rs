//! Jobs/s over TLS beside plaintext, same run, same load: gearman-client submitting 100-byte
//! foreground jobs in batches of 100 to gearman-server, gearman-worker (4 connections)
//! answering with an empty result. TLS is mutual (client certificates required, rcgen test
//! certificates, ECDSA P-256); plaintext is measured before and after TLS, so that drift of
//! this shared machine shows.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gearman_benches::runtime;
use gearman_client::{Client, TlsOptions};
use gearman_proto::FunctionName;
use gearman_server::{ServerConfig, ServerTls};
use gearman_testkit::{Embedded, Pki};
use gearman_worker::Worker;

const FUNCTION: &str = "bench:tls";
const PER_ITER: u64 = 1000;

/// Runs `iters` x PER_ITER jobs and reports the time they took.
fn measure(rt: &tokio::runtime::Runtime, client: &Client, iters: u64) -> Duration {
    gearman_benches::measure_batched(rt, client, FUNCTION, iters * PER_ITER)
}

/// A worker (4 connections) and a client at `addr`, over TLS when `tls` is set.
async fn pair(addr: &str, tls: Option<(TlsOptions, TlsOptions)>) -> (Worker, Client) {
    let mut wb = Worker::builder()
        .server(addr.to_string())
        .concurrency(4)
        .connections_per_server(4);
    let mut cb = Client::builder().server(addr.to_string());
    if let Some((w, c)) = tls {
        wb = wb.tls(w);
        cb = cb.tls(c);
    }
    let worker = wb
        .function(
            FunctionName::try_from(FUNCTION).unwrap(),
            |job: gearman_worker::Job| async move {
                std::hint::black_box(job.data());
                Ok(Bytes::new())
            },
        )
        .spawn()
        .unwrap();
    let client = cb.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.connected() == 0 || worker.connected() < 4 {
        assert!(Instant::now() < deadline, "could not connect to {addr}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (worker, client)
}

fn bench_tls(c: &mut Criterion) {
    let rt = runtime();
    let mut g = c.benchmark_group("tls/foreground_batches_of_100");
    g.throughput(Throughput::Elements(PER_ITER));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(8));

    let pki = Pki::new("bench");
    let files = pki.server("server", &[]);
    let plain = Embedded::start(ServerConfig::default(), None).unwrap();
    let tls = Embedded::start(
        ServerConfig {
            tls: Some(ServerTls::new(&files.cert, &files.key).client_ca(pki.ca())),
            ..ServerConfig::default()
        },
        None,
    )
    .unwrap();
    let identity = |cn: &str| {
        let id = pki.client(cn);
        TlsOptions::from_files(&pki.ca(), Some((&id.cert, &id.key))).unwrap()
    };
    let (plain_worker, plain_client) = rt.block_on(pair(&plain.addr().to_string(), None));
    let (tls_worker, tls_client) = rt.block_on(pair(
        &tls.addr().to_string(),
        Some((identity("worker"), identity("client"))),
    ));
    g.bench_function("plaintext (before)", |b| {
        b.iter_custom(|iters| measure(&rt, &plain_client, iters))
    });
    g.bench_function("TLS 1.3, mutual", |b| {
        b.iter_custom(|iters| measure(&rt, &tls_client, iters))
    });
    g.bench_function("plaintext (after)", |b| {
        b.iter_custom(|iters| measure(&rt, &plain_client, iters))
    });
    g.finish();
    for w in [plain_worker, tls_worker] {
        rt.block_on(w.shutdown(Duration::from_secs(5))).unwrap();
    }
}

criterion_group!(benches, bench_tls);
criterion_main!(benches);
