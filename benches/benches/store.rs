//! Durable background submissions: gearman-server with its SQLite store (`StoreSync::Always`,
//! fsync before each acknowledgement, and `Interval(1s)`) beside gearmand `--threads 1` with its
//! libsqlite3 queue, and both in memory, in the same run. gearman-client submits 100-byte
//! background jobs, each with a unique ID (as libgearman clients send them; gearmand's queue
//! table keeps one row per unique), one at a time and in batches of 100 (`submit_all`). No
//! worker runs: the queues grow by what is submitted. Each store is a new file in the system's
//! temporary directory, so the figures depend on that disk.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use gearman_benches::runtime;
use gearman_client::{Client, Job};
use gearman_server::store::{SqliteStore, StoreSync};
use gearman_server::{Server, ServerConfig};
use gearman_testkit::Gearmand;
use tokio::runtime::Runtime;

const FUNCTION: &str = "bench:store";
const PER_ITER: u64 = 200;
const BATCH: u64 = 100;

static UNIQUE: AtomicU64 = AtomicU64::new(0);

fn job() -> Job {
    let n = UNIQUE.fetch_add(1, Ordering::Relaxed);
    Job::new(FUNCTION, vec![b'x'; 100])
        .unique(format!("b-{n}"))
        .background()
}

fn one_at_a_time(rt: &Runtime, client: &Client, iters: u64) -> Duration {
    rt.block_on(async {
        let start = Instant::now();
        for _ in 0..iters * PER_ITER {
            client.submit(job()).await.unwrap();
        }
        start.elapsed()
    })
}

fn batches(rt: &Runtime, client: &Client, iters: u64) -> Duration {
    rt.block_on(async {
        let start = Instant::now();
        for _ in 0..iters * PER_ITER / BATCH {
            for r in client.submit_all((0..BATCH).map(|_| job())).await {
                r.unwrap();
            }
        }
        start.elapsed()
    })
}

/// gearman-server, with or without a store, on a thread and runtime of its own (as
/// gearman-testkit's `Embedded`); stopped when the sender is dropped.
fn ours(store: Option<(PathBuf, StoreSync)>) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            // No worker drains the queue: let it hold everything submitted.
            let mut config = ServerConfig::default();
            config.core.max_jobs = usize::MAX;
            let server = match store {
                Some((path, sync)) => {
                    let store = SqliteStore::open(path, sync).unwrap();
                    Server::bind_with_store("127.0.0.1:0", config, store).await
                }
                None => Server::bind("127.0.0.1:0", config).await,
            }
            .unwrap();
            ready_tx.send(server.local_addr()).unwrap();
            let _ = stop_rx.await;
            server.shutdown().await;
        });
    });
    (ready_rx.recv().unwrap(), stop_tx)
}

fn temp_file(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("gearman-bench-{}-{name}", std::process::id()));
    remove(&path);
    path
}

fn remove(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

fn client(rt: &Runtime, addr: SocketAddr) -> Client {
    rt.block_on(async {
        let client = Client::builder().server(addr.to_string()).spawn().unwrap();
        client.ready(Duration::from_secs(10)).await.unwrap();
        client
    })
}

fn both(g: &mut BenchmarkGroup<'_, WallTime>, rt: &Runtime, name: &str, client: &Client) {
    g.bench_function(format!("{name}/one_at_a_time"), |b| {
        b.iter_custom(|iters| one_at_a_time(rt, client, iters))
    });
    g.bench_function(format!("{name}/batches_of_100"), |b| {
        b.iter_custom(|iters| batches(rt, client, iters))
    });
}

fn bench_store(c: &mut Criterion) {
    let rt = runtime();
    let mut g = c.benchmark_group("store/background_submits");
    g.throughput(Throughput::Elements(PER_ITER));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(5));

    let gearmand_file = temp_file("gearmand.sqlite3");
    let started = Gearmand::builder()
        .threads(1)
        .arg("--queue-type=libsqlite3")
        .arg(format!("--libsqlite3-db={}", gearmand_file.display()))
        .start();
    match started {
        Ok(gearmand) => {
            let c = client(&rt, gearmand.addr());
            both(&mut g, &rt, "gearmand libsqlite3", &c);
            drop((c, gearmand));
            remove(&gearmand_file);
        }
        Err(e) => eprintln!("*** gearmand not available ({e}): its rows are missing ***"),
    }
    for (name, sync) in [
        ("gearman-server store always", StoreSync::Always),
        (
            "gearman-server store 1s",
            StoreSync::Interval(Duration::from_secs(1)),
        ),
    ] {
        let file = temp_file(&format!("{}.sqlite3", sync_name(sync)));
        let (addr, stop) = ours(Some((file.clone(), sync)));
        let c = client(&rt, addr);
        both(&mut g, &rt, name, &c);
        drop((c, stop));
        remove(&file);
    }
    if let Ok(gearmand) = Gearmand::builder().threads(1).start() {
        let c = client(&rt, gearmand.addr());
        both(&mut g, &rt, "gearmand in memory", &c);
    }
    let (addr, stop) = ours(None);
    let c = client(&rt, addr);
    both(&mut g, &rt, "gearman-server in memory", &c);
    drop((c, stop));
    g.finish();
}

fn sync_name(sync: StoreSync) -> &'static str {
    match sync {
        StoreSync::Always => "always",
        StoreSync::Interval(_) => "interval",
    }
}

criterion_group!(benches, bench_store);
criterion_main!(benches);
