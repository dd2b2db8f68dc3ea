//! `gearmanctl admin`: the admin protocol as readable tables.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use gearman_client::AdminClient;
use gearman_proto::admin::MaxQueueSizes;
use gearman_proto::{FunctionName, JobHandle};

/// Options of `gearmanctl admin`.
#[derive(Debug, Args)]
pub(crate) struct AdminArgs {
    /// The job server, HOST:PORT.
    #[arg(long = "server", short = 's', value_name = "HOST:PORT")]
    server: String,
    /// Seconds the command may take in all.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
    #[command(flatten)]
    tls: crate::tls::TlsArgs,
    #[command(subcommand)]
    command: AdminCmd,
}

#[derive(Debug, Subcommand)]
enum AdminCmd {
    /// Jobs queued and running, and workers, per function.
    Status,
    /// Queued jobs per priority, per function.
    Prioritystatus,
    /// One line per connection: descriptor, address, client id, functions.
    Workers,
    /// Every job: handle, retries, ignored, queued.
    Jobs,
    /// The unique ids of jobs.
    Uniques,
    /// The server's version.
    Version,
    /// The server's process id.
    Pid,
    /// The server's log level.
    Verbose,
    /// Cancel a job.
    Cancel {
        /// The job handle.
        handle: String,
    },
    /// Create a function.
    Create {
        /// The function.
        function: String,
    },
    /// Drop a function (fails while workers or running jobs use it).
    Drop {
        /// The function.
        function: String,
    },
    /// Stop the server (gearman-server; gearmand 1.1.15 and later refuse it).
    Shutdown {
        /// Let running jobs finish first.
        #[arg(long)]
        graceful: bool,
    },
    /// Limit a function's queue: one size for all priorities, or high, normal and low.
    Maxqueue {
        /// The function.
        function: String,
        /// Sizes: none (unlimited), one, or three.
        sizes: Vec<i32>,
    },
}

/// Prints rows with columns padded to their widest cell.
fn table(header: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row);
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn function(name: &str) -> Result<FunctionName, String> {
    FunctionName::try_from(name).map_err(|e| e.to_string())
}

pub(crate) async fn run(args: AdminArgs) -> Result<ExitCode, String> {
    let timeout = Duration::try_from_secs_f64(args.timeout).map_err(|e| e.to_string())?;
    let mut admin = AdminClient::new(args.server, timeout);
    if let Some(tls) = args.tls.options()? {
        admin = admin.with_tls(tls);
    }
    let e = |e: gearman_client::AdminClientError| e.to_string();
    match args.command {
        AdminCmd::Status => {
            let mut rows = admin.status().await.map_err(e)?;
            rows.sort_by(|a, b| a.function.cmp(&b.function));
            let rows = rows
                .iter()
                .map(|r| {
                    vec![
                        text(&r.function),
                        r.total.to_string(),
                        r.running.to_string(),
                        r.workers.to_string(),
                    ]
                })
                .collect();
            table(&["FUNCTION", "TOTAL", "RUNNING", "WORKERS"], rows);
        }
        AdminCmd::Prioritystatus => {
            let mut rows = admin.priority_status().await.map_err(e)?;
            rows.sort_by(|a, b| a.function.cmp(&b.function));
            let rows = rows
                .iter()
                .map(|r| {
                    vec![
                        text(&r.function),
                        r.high.to_string(),
                        r.normal.to_string(),
                        r.low.to_string(),
                        r.workers.to_string(),
                    ]
                })
                .collect();
            table(&["FUNCTION", "HIGH", "NORMAL", "LOW", "WORKERS"], rows);
        }
        AdminCmd::Workers => {
            let rows = admin.workers().await.map_err(e)?;
            let rows = rows
                .iter()
                .map(|r| {
                    let fs: Vec<String> = r.functions.iter().map(|f| text(f)).collect();
                    vec![
                        r.fd.to_string(),
                        text(&r.ip),
                        r.client_id.as_deref().map_or_else(|| "-".into(), text),
                        fs.join(" "),
                    ]
                })
                .collect();
            table(&["FD", "ADDRESS", "CLIENT ID", "FUNCTIONS"], rows);
        }
        AdminCmd::Jobs => {
            let rows = admin.jobs().await.map_err(e)?;
            let rows = rows
                .iter()
                .map(|r| {
                    vec![
                        text(&r.handle),
                        r.retries.to_string(),
                        u8::from(r.ignore).to_string(),
                        u8::from(r.queued).to_string(),
                    ]
                })
                .collect();
            table(&["HANDLE", "RETRIES", "IGNORED", "QUEUED"], rows);
        }
        AdminCmd::Uniques => {
            for u in admin.unique_jobs().await.map_err(e)? {
                println!("{}", text(&u));
            }
        }
        AdminCmd::Version => println!("{}", admin.version().await.map_err(e)?),
        AdminCmd::Pid => println!("{}", admin.pid().await.map_err(e)?),
        AdminCmd::Verbose => println!("{}", admin.verbose().await.map_err(e)?),
        AdminCmd::Cancel { handle } => {
            let h = JobHandle::try_from(handle.as_str()).map_err(|e| e.to_string())?;
            admin.cancel(h).await.map_err(e)?;
            println!("OK");
        }
        AdminCmd::Create { function: f } => {
            admin.create_function(function(&f)?).await.map_err(e)?;
            println!("OK");
        }
        AdminCmd::Drop { function: f } => {
            admin.drop_function(function(&f)?).await.map_err(e)?;
            println!("OK");
        }
        AdminCmd::Shutdown { graceful } => {
            admin.shutdown(graceful).await.map_err(e)?;
            println!("OK");
        }
        AdminCmd::Maxqueue { function: f, sizes } => {
            let sizes = match sizes.as_slice() {
                [] => MaxQueueSizes::Unlimited,
                [n] => MaxQueueSizes::All(*n),
                [high, normal, low] => MaxQueueSizes::PerPriority {
                    high: *high,
                    normal: *normal,
                    low: *low,
                },
                _ => return Err("maxqueue takes no size, one, or three".into()),
            };
            admin.max_queue(function(&f)?, sizes).await.map_err(e)?;
            println!("OK");
        }
    }
    Ok(ExitCode::SUCCESS)
}
