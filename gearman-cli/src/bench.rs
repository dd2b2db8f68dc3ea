//! `gearmanctl bench`: N jobs against any server, one at a time, in a sliding window, in
//! batches, or in the background; jobs/s, latency percentiles and this process's CPU per job.
//!
//! The modes and the JSON keys match the C peer used for the project's speed figures
//! (`gm_client`: `seq`, `pipe`, `batch`, `bgseq`, `bg`), so the two can be run side by side.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::{Args, ValueEnum};
use futures_util::stream::{FuturesUnordered, StreamExt};
use gearman_client::{Client, Job};
use gearman_worker::Worker;

use crate::bench_stats::{cpu_seconds, Summary};

/// How jobs are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Mode {
    /// One foreground job at a time.
    Seq,
    /// A sliding window of foreground jobs: each completion sends the next.
    Pipe,
    /// Foreground jobs in batches of WINDOW (`call_all`), each batch to its end.
    Batch,
    /// Background submissions one at a time.
    Bgseq,
    /// Background submissions in batches of WINDOW (`submit_all`).
    Bg,
}

/// Options of `gearmanctl bench`.
#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    #[command(flatten)]
    servers: crate::servers::ServerList,
    /// Function to call (served by --workers, or by workers already there).
    #[arg(long, short = 'f', default_value = "gearmanctl:bench")]
    function: String,
    /// How jobs are sent.
    #[arg(long, value_enum, default_value = "pipe")]
    mode: Mode,
    /// Jobs in all.
    #[arg(long, short = 'n', default_value_t = 10_000)]
    jobs: usize,
    /// Workload bytes per job.
    #[arg(long, default_value_t = 100)]
    size: usize,
    /// Jobs in flight for pipe, batch and bg.
    #[arg(long, short = 'w', default_value_t = 100)]
    window: usize,
    /// Start this many echo worker connections in this process first (0: use the workers that
    /// serve FUNCTION already; their results are checked against the workload only with
    /// --check).
    #[arg(long, default_value_t = 0)]
    workers: usize,
    /// Check every foreground result equals its workload (echo workers); on with --workers.
    #[arg(long)]
    check: bool,
    /// Seconds each job may take.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
    /// Print one JSON line instead of the summary.
    #[arg(long)]
    json: bool,
    /// Run on a current-thread tokio runtime instead of the default multi-thread one.
    #[arg(long)]
    pub(crate) current_thread: bool,
}

async fn echo_workers(servers: &[String], function: &str, n: usize) -> Result<Worker, String> {
    let name = gearman_proto::FunctionName::try_from(function).map_err(|e| e.to_string())?;
    let mut b = Worker::builder().concurrency(n).connections_per_server(n);
    for s in servers {
        b = b.server(s.clone());
    }
    b.function(name, |job: gearman_worker::Job| async move {
        Ok(job.data().clone())
    })
    .spawn()
    .map_err(|e| e.to_string())
}

/// Waits until the server lists `function` with a worker (admin `status`), at most 10 s.
async fn wait_registered(server: &str, function: &str) -> Result<(), String> {
    let admin = gearman_client::AdminClient::new(server, Duration::from_secs(2));
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(rows) = admin.status().await {
            if rows
                .iter()
                .any(|r| r.function[..] == *function.as_bytes() && r.workers > 0)
            {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err(format!("{function} has no worker on {server} after 10 s"))
}

/// Counts finished jobs and shows them on a terminal.
fn progress(done: Arc<AtomicUsize>, total: usize) -> Option<tokio::task::JoinHandle<()>> {
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return None;
    }
    Some(tokio::spawn(async move {
        let start = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let n = done.load(Ordering::Relaxed);
            let rate = n as f64 / start.elapsed().as_secs_f64();
            eprint!("\r{n}/{total} jobs, {rate:.0}/s   ");
            if n >= total {
                break;
            }
        }
    }))
}

pub(crate) async fn run(args: BenchArgs) -> Result<std::process::ExitCode, String> {
    if args.jobs == 0 || args.window == 0 {
        return Err("--jobs and --window must be at least 1".into());
    }
    let timeout = Duration::try_from_secs_f64(args.timeout).map_err(|e| e.to_string())?;
    let workers = if args.workers > 0 {
        let w = echo_workers(&args.servers.servers, &args.function, args.workers).await?;
        for s in &args.servers.servers {
            wait_registered(s, &args.function).await?;
        }
        Some(w)
    } else {
        None
    };
    let check = args.check || workers.is_some();
    let mut b = Client::builder();
    for s in &args.servers.servers {
        b = b.server(s.clone());
    }
    let client = b.spawn().map_err(|e| e.to_string())?;
    client
        .ready(Duration::from_secs(5))
        .await
        .map_err(|e| e.to_string())?;
    let payload = Bytes::from(vec![b'x'; args.size]);
    let job = Job::new(args.function.as_str(), payload.clone()).timeout(timeout);

    let done = Arc::new(AtomicUsize::new(0));
    let ticker = progress(done.clone(), args.jobs);
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(args.jobs);
    let mut bad = 0usize;
    let ok = |r: &Result<Bytes, gearman_client::ClientError>| match r {
        Ok(data) => !check || *data == payload,
        Err(_) => false,
    };
    match args.mode {
        Mode::Seq => {
            for _ in 0..args.jobs {
                let t = Instant::now();
                let r = client.call(job.clone()).await;
                latencies.push(t.elapsed());
                bad += usize::from(!ok(&r));
                done.fetch_add(1, Ordering::Relaxed);
            }
        }
        Mode::Pipe => {
            let mut in_flight = FuturesUnordered::new();
            let mut sent = 0;
            while sent < args.jobs || !in_flight.is_empty() {
                while sent < args.jobs && in_flight.len() < args.window {
                    let (client, job) = (client.clone(), job.clone());
                    in_flight.push(async move {
                        let t = Instant::now();
                        let r = client.call(job).await;
                        (t.elapsed(), r)
                    });
                    sent += 1;
                }
                if let Some((took, r)) = in_flight.next().await {
                    latencies.push(took);
                    bad += usize::from(!ok(&r));
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        Mode::Batch | Mode::Bg => {
            let mut left = args.jobs;
            while left > 0 {
                let n = left.min(args.window);
                let t = Instant::now();
                if args.mode == Mode::Batch {
                    for r in client.call_all((0..n).map(|_| job.clone())).await {
                        bad += usize::from(!ok(&r));
                    }
                } else {
                    let jobs = (0..n).map(|_| job.clone().background());
                    bad += client
                        .submit_all(jobs)
                        .await
                        .iter()
                        .filter(|r| r.is_err())
                        .count();
                }
                let took = t.elapsed();
                latencies.extend(std::iter::repeat_n(took, n));
                done.fetch_add(n, Ordering::Relaxed);
                left -= n;
            }
        }
        Mode::Bgseq => {
            for _ in 0..args.jobs {
                let t = Instant::now();
                let r = client.submit(job.clone().background()).await;
                latencies.push(t.elapsed());
                bad += usize::from(r.is_err());
                done.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    let elapsed = started.elapsed();
    let cpu = cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    if let Some(t) = ticker {
        t.abort();
        eprintln!();
    }
    if let Some(w) = workers {
        w.shutdown(Duration::from_secs(5))
            .await
            .map_err(|e| e.to_string())?;
    }
    let summary = Summary::new(args.jobs, bad, elapsed, latencies, cpu);
    if args.json {
        println!(
            "{}",
            summary.json(&format!("{:?}", args.mode).to_lowercase(), args.size)
        );
    } else {
        println!(
            "{}",
            summary.text(&format!("{:?}", args.mode).to_lowercase(), args.size)
        );
    }
    Ok(if bad == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::from(1)
    })
}
