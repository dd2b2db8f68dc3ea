//! A worker whose jobs take a while and report how far they are, and that stops cleanly.
//!
//! Function `progress`: the job's data is a number of steps (default 5). Each step sends
//! WORK_STATUS (`step` of `steps`) and WORK_DATA (`step i/n`), then takes `--step-ms` (default
//! 200 ms); the result is `done N steps`.
//!
//! On SIGINT (Ctrl-C) or SIGTERM it stops taking jobs, lets the running ones finish within
//! `--grace-secs` (default 10), sends their results, and exits 0; jobs still running after the
//! grace period are given back to the server (it re-queues them) and it exits 2. With
//! `--jobs N` it also stops by itself after N jobs.
//!
//! ```text
//! GEARMAN_SERVER=127.0.0.1:4730 cargo run -p gearman-worker --example progress
//! gearman -h 127.0.0.1 -p 4730 -f progress 10
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gearman_worker::{JobError, Worker, WorkerError};
use tokio::sync::Notify;

struct Options {
    step: Duration,
    grace: Duration,
    jobs: Option<usize>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let server = std::env::var("GEARMAN_SERVER").unwrap_or_else(|_| "127.0.0.1:4730".into());
    let options = options()?;

    let mut signals = StopSignals::new()?;
    let served = Arc::new(AtomicUsize::new(0));
    let enough = Arc::new(Notify::new());
    let (count, notify, step, jobs) = (served.clone(), enough.clone(), options.step, options.jobs);
    let worker = Worker::builder()
        .server(server)
        .concurrency(2)
        .function("progress", move |job| {
            let (count, notify) = (count.clone(), notify.clone());
            async move {
                let text = std::str::from_utf8(job.data()).map_err(|_| JobError::Fail)?;
                let steps: i64 = match text.trim() {
                    "" => 5,
                    n => n.parse().map_err(|_| JobError::Fail)?,
                };
                for i in 1..=steps {
                    tokio::time::sleep(step).await;
                    // `?`: if the job is gone (connection lost, timed out), stop working on it.
                    job.send_status(i, steps).await?;
                    job.send_data(format!("step {i}/{steps}\n")).await?;
                }
                if jobs.is_some_and(|n| count.fetch_add(1, Ordering::SeqCst) + 1 >= n) {
                    notify.notify_one();
                }
                Ok(format!("done {steps} steps").into())
            }
        })
        .spawn()?;
    println!("serving progress");

    let why = tokio::select! {
        s = signals.recv() => s,
        _ = enough.notified() => "enough jobs",
    };
    println!("stopping ({why}): {} job(s) running", worker.running());
    match worker.shutdown(options.grace).await {
        Ok(()) => {
            println!("stopped cleanly");
            Ok(())
        }
        Err(WorkerError::ShutdownTimedOut(n)) => {
            eprintln!("grace period over: {n} connection(s) gave their jobs back");
            std::process::exit(2)
        }
        Err(e) => Err(e.into()),
    }
}

/// SIGINT and SIGTERM, caught from the moment this is created (before the worker says it is
/// serving, so that a signal sent right after that line stops it cleanly rather than killing it).
struct StopSignals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn new() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Self {
                int: signal(SignalKind::interrupt())?,
                term: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// The first signal to come, by name.
    async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.int.recv() => "SIGINT",
                _ = self.term.recv() => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}

/// `--step-ms MS`, `--grace-secs S`, `--jobs N`.
fn options() -> Result<Options, String> {
    let mut o = Options {
        step: Duration::from_millis(200),
        grace: Duration::from_secs(10),
        jobs: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().ok_or(format!("{arg} needs a number"))?;
        let n: u64 = value.parse().map_err(|e| format!("{arg} {value}: {e}"))?;
        match arg.as_str() {
            "--step-ms" => o.step = Duration::from_millis(n),
            "--grace-secs" => o.grace = Duration::from_secs(n),
            "--jobs" => o.jobs = Some(usize::try_from(n).map_err(|e| e.to_string())?),
            _ => {
                return Err(format!(
                    "unknown argument {arg} (usage: progress [--step-ms MS] [--grace-secs S] [--jobs N])"
                ))
            }
        }
    }
    Ok(o)
}
