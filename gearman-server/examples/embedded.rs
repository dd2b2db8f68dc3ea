//! A job server inside a program: binds gearman-server (on `127.0.0.1:0`, or the address given
//! as the first argument), runs jobs through it with gearman-worker and gearman-client in the
//! same process, prints the server's per-function stats, and shuts down gracefully.
//!
//! ```text
//! cargo run -p gearman-server --example embedded              # a free loopback port
//! cargo run -p gearman-server --example embedded -- 127.0.0.1:4730
//! ```
//!
//! It needs no other server, so it does not read `GEARMAN_SERVER`. Every step has a deadline;
//! it exits 0 when every job came back right and the server stopped.

use std::time::Duration;

use bytes::Bytes;
use gearman_client::{Client, Job};
use gearman_proto::FunctionName;
use gearman_server::{Server, ServerConfig};
use gearman_worker::{Job as WorkerJob, JobError, Worker};

/// Jobs submitted, all at once.
const JOBS: usize = 10;
/// The deadline of each step.
const WAIT: Duration = Duration::from_secs(10);

/// How often to look whether the client and worker are connected.
const POLL: Duration = Duration::from_millis(10);

type BoxError = Box<dyn std::error::Error>;

/// The worker's handler for `reverse`: the workload backwards.
async fn reverse(job: WorkerJob) -> Result<Bytes, JobError> {
    let mut v = job.data().to_vec();
    v.reverse();
    Ok(Bytes::from(v))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let server = Server::bind(&listen, ServerConfig::default()).await?;
    let addr = server.local_addr().to_string();
    println!("listening on {addr}");

    let reverse_fn = FunctionName::try_from("reverse")?;
    let empty_fn = FunctionName::try_from("nobody-serves-this")?;
    let worker = Worker::builder()
        .server(addr.clone())
        .function(reverse_fn.clone(), reverse)
        .spawn()?;
    let client = Client::builder().server(addr.clone()).spawn()?;

    // The client submits only through a connection that is up; wait for both to connect.
    for round in 0.. {
        if client.connected() == 1 && worker.connected() == 1 {
            break;
        }
        if round == WAIT.as_millis() / POLL.as_millis() {
            return Err("the client and worker did not connect in time".into());
        }
        tokio::time::sleep(POLL).await;
    }
    // Foreground jobs wait in the server's queue until the worker has registered.
    let mut jobs = tokio::task::JoinSet::new();
    for i in 0..JOBS {
        let (client, function) = (client.clone(), reverse_fn.clone());
        jobs.spawn(async move {
            let input = format!("job-{i}");
            let out = client
                .call(Job::new(function, input.clone()).timeout(WAIT))
                .await;
            (i, input, out)
        });
    }
    let mut results = Vec::with_capacity(JOBS);
    while let Some(done) = tokio::time::timeout(WAIT, jobs.join_next()).await? {
        results.push(done?);
    }
    results.sort_by_key(|(i, _, _)| *i);
    for (_, input, out) in &results {
        let out = out.as_ref().map_err(|e| format!("{input}: {e}"))?;
        let expected: Vec<u8> = input.bytes().rev().collect();
        if out[..] != expected[..] {
            return Err(format!("{input}: wrong result {out:?}").into());
        }
        println!("reverse({input}) = {}", String::from_utf8_lossy(out));
    }

    // A background job nobody serves stays queued: the stats show it.
    let handle = client
        .submit(Job::new(empty_fn, "later").background().timeout(WAIT))
        .await?
        .created()
        .await?;
    println!("queued a background job: {handle}");

    println!("stats:");
    for f in server.stats().await? {
        println!(
            "  {}: {} queued, {} running, {} workers",
            f.function, f.queued, f.running, f.workers
        );
    }

    // Graceful shutdown: our connections close first, then the server stops once none is left.
    worker.shutdown(WAIT).await?;
    drop(client);
    tokio::time::timeout(WAIT, server.shutdown_graceful())
        .await
        .map_err(|_| "the server did not stop in time")?;
    println!("server stopped");
    Ok(())
}
