//! `gearmanctl`: the command-line face of the Gearman crate family.

mod admin;
mod bench;
mod bench_stats;
mod ci;
mod demo;
mod metrics;
mod servers;
mod submit;
mod tls;
mod top;
mod work;

use clap::{Parser, Subcommand};

/// Command-line tools for Gearman job servers.
#[derive(Debug, Parser)]
#[command(name = "gearmanctl", version, about)]
struct Cli {
    /// Log more: -v info, -vv debug, -vvv trace (before the command: `gearmanctl -v serve`).
    /// Warnings and errors only by default; `RUST_LOG` overrides both.
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a worker: each job runs COMMAND with the workload on stdin and returns its stdout.
    Work(work::WorkArgs),
    /// Submit a job and print its result (exit status tells how it ended).
    Submit(submit::SubmitArgs),
    /// Ask a server for a job's status.
    Status(submit::StatusArgs),
    /// Run an admin command and print the answer.
    Admin(admin::AdminArgs),
    /// Run a CI host whose builds are shell commands, behind the Jenkins plugin's contract.
    Ci(ci::CiArgs),
    /// Everything in one process: a job server, two CI masters, a Zuul-like scheduler.
    Demo,
    /// Run the embedded job server.
    Serve(ServeArgs),
    /// Run N jobs against a server and print jobs/s, latency percentiles and CPU per job.
    Bench(bench::BenchArgs),
    /// A live view of a server's functions: queued, running, workers, queue rate.
    Top(top::TopArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    // The job server is one core behind a loop of small reads and writes: on one thread it
    // costs less per job than spread over several (no cross-thread wake-ups).
    let one_thread = match &cli.command {
        Command::Serve(_) => true,
        Command::Bench(args) => args.current_thread,
        _ => false,
    };
    let runtime = if one_thread {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Runtime::new()
    };
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("gearmanctl: cannot start the runtime: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Work(args) => work::run(args)
                .await
                .map(|()| std::process::ExitCode::SUCCESS),
            Command::Submit(args) => submit::submit(args).await,
            Command::Status(args) => submit::status(args).await,
            Command::Admin(args) => admin::run(args).await,
            Command::Ci(args) => ci::run(args).await,
            Command::Demo => demo::run().await,
            Command::Serve(args) => serve(args).await,
            Command::Bench(args) => bench::run(args).await,
            Command::Top(args) => top::run(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("gearmanctl: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

/// The log level for `-v` given `verbose` times: warnings and errors only when all is well.
fn default_level(verbose: u8) -> &'static str {
    match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    }
}

/// Logs to stderr: `RUST_LOG` when it is set and valid, else the level from `-v`.
fn init_logging(verbose: u8) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| tracing_subscriber::EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new(default_level(verbose)));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// Options of `gearmanctl serve`.
#[derive(clap::Args, Debug)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:4730")]
    listen: String,
    /// Re-queues of a job (its worker lost, or its CAN_DO_TIMEOUT run out) after which it fails
    /// to its clients, like gearmand's --job-retries; unlimited when absent.
    #[arg(long)]
    job_retries: Option<u32>,
    /// The largest packet body accepted, in bytes.
    #[arg(long, default_value_t = gearman_proto::DEFAULT_MAX_BODY)]
    max_packet: u32,
    /// Job handles are PREFIX:N.
    #[arg(long, default_value = "H:gearman-rs")]
    handle_prefix: String,
    /// Answer the admin `shutdown` command as gearmand 1.1.20 does (unknown) instead of obeying.
    #[arg(long)]
    no_admin_shutdown: bool,
    /// Serve TLS only, with this certificate chain (PEM; re-read on SIGHUP).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The private key of --tls-cert (PEM; re-read on SIGHUP).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// Require client certificates signed by a CA of this PEM file (re-read on SIGHUP).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_client_ca: Option<std::path::PathBuf>,
    /// Access control by client certificate subject (geard's ACL file: `[SUBJECT]` sections
    /// with `register = REGEX`, `invoke = REGEX`, and `admin = true`).
    #[arg(long, value_name = "FILE")]
    acl: Option<std::path::PathBuf>,
    /// Seconds a TLS handshake may take before the peer is dropped.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    tls_handshake_timeout: f64,
    /// Keep background jobs in this SQLite file (created if missing): a background submission
    /// is acknowledged once it is stored, and the stored jobs are queued again at start. A
    /// file of gearmand's libsqlite3 queue is taken over with its queued jobs.
    #[arg(long, value_name = "FILE")]
    store: Option<std::path::PathBuf>,
    /// When a store write counts as done: `always` (on disk, fsync, before the job is
    /// acknowledged) or an interval such as `1s` (acknowledged once the OS has it, which
    /// survives the server being killed; on disk within the interval).
    #[arg(
        long,
        value_name = "always|INTERVAL",
        default_value = "always",
        requires = "store"
    )]
    store_sync: gearman_server::store::StoreSync,
    /// Serve Prometheus metrics (per-function queues, job outcomes, timings, connections) on
    /// `GET http://ADDR/metrics`, plain HTTP; port 0 picks a free one, printed as
    /// `metrics on URL` after the `listening on` line.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<String>,
    /// Which sleeping workers a new job wakes: `as-needed` (one per job no woken worker is
    /// coming for yet, in turn; another after 500 ms if it does not come) or `all` (every
    /// sleeping worker of the function, as gearmand does by default).
    #[arg(long, value_enum, default_value_t = WakeUpArg::AsNeeded)]
    wake_up: WakeUpArg,
}

/// `--wake-up` of `gearmanctl serve`.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum WakeUpArg {
    /// As many workers as the jobs need.
    AsNeeded,
    /// Every sleeping worker of the function.
    All,
}

/// `gearmanctl serve`: the embedded server until SIGINT, SIGTERM or an admin `shutdown`.
async fn serve(args: ServeArgs) -> Result<std::process::ExitCode, String> {
    let config = gearman_server::ServerConfig {
        core: gearman_server::CoreConfig {
            handle_prefix: args.handle_prefix,
            max_retries: args.job_retries,
            wake_up: match args.wake_up {
                WakeUpArg::AsNeeded => gearman_server::WakeUp::AsNeeded,
                WakeUpArg::All => gearman_server::WakeUp::All,
            },
            ..gearman_server::CoreConfig::default()
        },
        max_packet: args.max_packet,
        admin_shutdown: !args.no_admin_shutdown,
        tls: match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => {
                let mut tls = gearman_server::ServerTls::new(cert, key).handshake_timeout(
                    std::time::Duration::try_from_secs_f64(args.tls_handshake_timeout)
                        .map_err(|e| format!("--tls-handshake-timeout: {e}"))?,
                );
                if let Some(ca) = &args.tls_client_ca {
                    tls = tls.client_ca(ca);
                }
                Some(tls)
            }
            _ => None,
        },
        acl: args
            .acl
            .as_deref()
            .map(gearman_server::Acl::from_file)
            .transpose()
            .map_err(|e| format!("--acl: {e}"))?,
        ..gearman_server::ServerConfig::default()
    };
    let server = match &args.store {
        Some(path) => {
            let store = gearman_server::store::SqliteStore::open(path, args.store_sync)
                .map_err(|e| e.to_string())?;
            let imported = store.imported_from_gearmand();
            if imported > 0 {
                tracing::warn!(jobs = imported, file = %path.display(), "took over gearmand's queued jobs");
            }
            gearman_server::Server::bind_with_store(&args.listen, config, store).await
        }
        None => gearman_server::Server::bind(&args.listen, config).await,
    }
    .map_err(|e| match e.kind() {
        // The store could not be read: its error names the file.
        std::io::ErrorKind::InvalidData => e.to_string(),
        _ => format!("{}: {e}", args.listen),
    })?;
    tracing::info!(addr = %server.local_addr(), "serving");
    println!("listening on {}", server.local_addr());
    if let Some(addr) = &args.metrics {
        let bound = server
            .serve_metrics(addr)
            .await
            .map_err(|e| format!("--metrics {addr}: {e}"))?;
        println!("metrics on http://{bound}/metrics");
    }
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut hup = signal(SignalKind::hangup()).map_err(|e| e.to_string())?;
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
            _ = hup.recv() => match server.reload_tls() {
                Ok(()) => tracing::info!("SIGHUP: TLS certificate and key re-read"),
                Err(e) => tracing::error!(error = %e, "SIGHUP: TLS files not re-read; the old ones stay"),
            },
            () = server.stopped() => {
                println!("stopped by an admin shutdown");
                return Ok(std::process::ExitCode::SUCCESS);
            }
        }
    }
    server.shutdown().await;
    Ok(std::process::ExitCode::SUCCESS)
}
