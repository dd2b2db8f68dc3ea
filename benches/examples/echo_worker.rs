//! An echo worker as a user writes one on gearman-worker: `#[tokio::main]` (the multi-thread
//! runtime), the default builder, one function answering every job with its workload. The Rust
//! counterpart of `../shared/peers/gm_worker.c` (same arguments), for CPU-per-job comparisons
//! (`benches/peers/compare.py`).
//!
//! Usage: `echo_worker PORT FUNCTION [MAX_JOBS] [IDLE_TIMEOUT_MS]`; exits after MAX_JOBS jobs or
//! IDLE_TIMEOUT_MS without one, and prints `echo_worker done N`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gearman_worker::{Job, Worker};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [port, function, rest @ ..] = args.as_slice() else {
        eprintln!("usage: echo_worker PORT FUNCTION [MAX_JOBS] [IDLE_TIMEOUT_MS]");
        std::process::exit(2);
    };
    let max_jobs: u64 = rest.first().map_or(Ok(10_000_000), |s| s.parse())?;
    let idle = Duration::from_millis(rest.get(1).map_or(Ok(30_000), |s| s.parse())?);
    let done = Arc::new(AtomicU64::new(0));
    let worker = Worker::builder()
        .server(format!("127.0.0.1:{port}"))
        .function(function.as_str(), {
            let done = done.clone();
            move |job: Job| {
                done.fetch_add(1, Ordering::Relaxed);
                async move { Ok(job.data().clone()) }
            }
        })
        .spawn()?;
    let mut last = 0;
    loop {
        tokio::time::sleep(idle.min(Duration::from_millis(50))).await;
        let now = done.load(Ordering::Relaxed);
        if now >= max_jobs {
            break;
        }
        if now == last {
            // No job for a tick: wait out the rest of the idle timeout, in ticks.
            let mut quiet = Duration::ZERO;
            while done.load(Ordering::Relaxed) == now && quiet < idle {
                tokio::time::sleep(Duration::from_millis(50)).await;
                quiet += Duration::from_millis(50);
            }
            if done.load(Ordering::Relaxed) == now {
                break;
            }
        }
        last = done.load(Ordering::Relaxed);
    }
    worker.shutdown(Duration::from_secs(5)).await?;
    println!("echo_worker done {}", done.load(Ordering::Relaxed));
    Ok(())
}
