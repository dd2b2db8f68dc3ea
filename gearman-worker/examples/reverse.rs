//! A worker that reverses its job's data: the smallest useful worker.
//!
//! ```text
//! GEARMAN_SERVER=127.0.0.1:4730 cargo run -p gearman-worker --example reverse -- --jobs 3
//! gearman -h 127.0.0.1 -p 4730 -f reverse hello      # prints olleh
//! ```
//!
//! Serves `--jobs N` jobs and exits 0 (without `--jobs`, until SIGINT/Ctrl-C or SIGTERM).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gearman_worker::Worker;
use tokio::sync::Notify;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let server = std::env::var("GEARMAN_SERVER").unwrap_or_else(|_| "127.0.0.1:4730".into());
    let jobs = jobs_argument()?;

    let served = Arc::new(AtomicUsize::new(0));
    let enough = Arc::new(Notify::new());
    let (count, notify) = (served.clone(), enough.clone());
    let worker = Worker::builder()
        .server(server)
        .function("reverse", move |job| {
            let (count, notify) = (count.clone(), notify.clone());
            async move {
                let mut data = job.data().to_vec();
                data.reverse();
                if jobs.is_some_and(|n| count.fetch_add(1, Ordering::SeqCst) + 1 >= n) {
                    notify.notify_one();
                }
                Ok(data.into())
            }
        })
        .spawn()?;
    println!("serving reverse");

    tokio::select! {
        _ = enough.notified() => {}
        _ = tokio::signal::ctrl_c() => {}
        _ = sigterm() => {}
    }
    // The last job's handler has returned; shutdown sends its WORK_COMPLETE before closing.
    worker.shutdown(Duration::from_secs(10)).await?;
    println!("served {} jobs", served.load(Ordering::SeqCst));
    Ok(())
}

/// Resolves on SIGTERM (never where there is none).
async fn sigterm() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            term.recv().await;
            return;
        }
    }
    std::future::pending::<()>().await
}

/// `--jobs N`: how many jobs to serve before exiting.
fn jobs_argument() -> Result<Option<usize>, String> {
    let mut args = std::env::args().skip(1);
    let mut jobs = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--jobs" => {
                let n = args.next().ok_or("--jobs needs a number")?;
                jobs = Some(n.parse().map_err(|e| format!("--jobs {n}: {e}"))?);
            }
            other => {
                return Err(format!(
                    "unknown argument {other} (usage: reverse [--jobs N])"
                ))
            }
        }
    }
    Ok(jobs)
}
