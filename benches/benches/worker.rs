//! Worker throughput: jobs per second through gearmand (`--threads 1`) for our worker and for
//! libgearman's (Debian's `gearman -w`), driven by the same pipelined client in the same run.
//!
//! Each iteration pushes a batch of foreground jobs with 100-byte workloads through
//! client -> gearmand -> worker -> gearmand -> client, keeping a window of submissions in flight.
//! Both workers consume the workload and answer with an empty result (`gearman -w` without a
//! command prints the workload and returns nothing), one job at a time on one connection.
//! Skipped, with a notice, where gearmand or the Debian `gearman` tool is missing.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gearman_proto::{
    Decoder, FunctionName, Priority, Request, Response, Submit, UniqueId, WorkUpdate,
};
use gearman_testkit::Gearmand;
use gearman_worker::{Job, Worker};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BATCH: usize = 500;
const WINDOW: usize = 100;
const FUNCTION: &str = "bench:worker";

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `n` jobs through `addr` with `WINDOW` in flight; returns when every one has completed.
async fn run_batch(stream: &mut TcpStream, n: usize) {
    let submit = Request::Submit(Submit {
        function: FunctionName::try_from(FUNCTION).unwrap(),
        unique: UniqueId::empty(),
        data: Bytes::from(vec![b'x'; 100]),
        priority: Priority::Normal,
        background: false,
    })
    .to_bytes()
    .unwrap();
    let decoder = Decoder::new();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let (mut sent, mut done) = (0usize, 0usize);
    let mut out = BytesMut::new();
    while sent < n.min(WINDOW) {
        out.extend_from_slice(&submit);
        sent += 1;
    }
    stream.write_all(&out).await.unwrap();
    while done < n {
        let read = tokio::time::timeout(Duration::from_secs(30), stream.read_buf(&mut buf))
            .await
            .expect("jobs keep completing")
            .unwrap();
        assert!(read > 0, "gearmand closed the connection");
        out.clear();
        while let Some(p) = decoder.decode(&mut buf).unwrap() {
            match Response::try_from(p).unwrap() {
                Response::JobCreated(_) => {}
                Response::Work(WorkUpdate::Complete { .. }) => {
                    done += 1;
                    if sent < n {
                        out.extend_from_slice(&submit);
                        sent += 1;
                    }
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        if !out.is_empty() {
            stream.write_all(&out).await.unwrap();
        }
    }
}

async fn client(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    s
}

fn bench_worker(c: &mut Criterion) {
    let gearman_tool = ["/usr/bin/gearman", "/usr/local/bin/gearman"]
        .into_iter()
        .find(|p| std::path::Path::new(p).is_file());
    let (Ok(_probe), Some(tool)) = (Gearmand::start(), gearman_tool) else {
        eprintln!("*** worker benchmark skipped: needs gearmand and the Debian gearman tool ***");
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("worker/100B_jobs_window_100");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(10));

    {
        let server = Gearmand::builder().threads(1).start().unwrap();
        let addr = server.addr();
        let worker = rt.block_on(async {
            Worker::builder()
                .server(addr.to_string())
                .function(
                    FunctionName::try_from(FUNCTION).unwrap(),
                    |job: Job| async move {
                        std::hint::black_box(job.data());
                        Ok(Bytes::new())
                    },
                )
                .spawn()
                .unwrap()
        });
        let mut stream = rt.block_on(client(addr));
        rt.block_on(run_batch(&mut stream, 50));
        g.bench_function("ours", |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    rt.block_on(run_batch(&mut stream, BATCH));
                }
                start.elapsed()
            })
        });
        rt.block_on(worker.shutdown(Duration::from_secs(5)))
            .unwrap();
    }
    {
        let server = Gearmand::builder().threads(1).start().unwrap();
        let addr = server.addr();
        let _peer = Kill(
            Command::new(tool)
                .args([
                    "-w",
                    "-f",
                    FUNCTION,
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &addr.port().to_string(),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let mut stream = rt.block_on(client(addr));
        rt.block_on(run_batch(&mut stream, 50));
        g.bench_function("libgearman (gearman -w)", |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    rt.block_on(run_batch(&mut stream, BATCH));
                }
                start.elapsed()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_worker);
criterion_main!(benches);
