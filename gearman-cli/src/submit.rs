//! `gearmanctl submit` and `gearmanctl status`: a client from the shell.

use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use clap::{Args, ValueEnum};
use gearman_client::{Client, ClientError, Failure, Job, JobEvent, JobOutcome};
use gearman_proto::{FunctionName, JobHandle, Priority, UniqueId, WorkUpdate};

/// Exit status: the job completed (its result is on stdout).
pub(crate) const EXIT_COMPLETE: u8 = 0;
/// Exit status: WORK_FAIL.
pub(crate) const EXIT_FAIL: u8 = 10;
/// Exit status: WORK_EXCEPTION (its data is on stderr).
pub(crate) const EXIT_EXCEPTION: u8 = 11;
/// Exit status: no server took the request; nothing was submitted.
pub(crate) const EXIT_NOT_SENT: u8 = 20;
/// Exit status: sent but not acknowledged; the job may or may not exist.
pub(crate) const EXIT_AMBIGUOUS: u8 = 21;
/// Exit status: the connection dropped while the job ran; its outcome is unknown.
pub(crate) const EXIT_DISCONNECTED: u8 = 22;
/// Exit status: `--timeout` passed first.
pub(crate) const EXIT_TIMED_OUT: u8 = 23;
/// Exit status: the server refused the submission (ERROR).
pub(crate) const EXIT_REFUSED: u8 = 24;

/// Job priority.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum PriorityArg {
    High,
    Normal,
    Low,
}

/// Options of `gearmanctl submit`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 0 complete (result on stdout), 10 WORK_FAIL, \
11 WORK_EXCEPTION (data on stderr), 20 not sent, 21 sent but not acknowledged (the job may \
exist), 22 disconnected while running, 23 --timeout passed, 24 refused by the server, 2 usage."
)]
pub(crate) struct SubmitArgs {
    #[command(flatten)]
    servers: crate::servers::ServerList,
    /// Function to run.
    #[arg(long, short = 'f')]
    function: String,
    /// Unique id (coalescing key, at most 63 bytes).
    #[arg(long, short = 'u')]
    unique: Option<String>,
    /// Submit in the background: print the handle and exit.
    #[arg(long, short = 'b')]
    background: bool,
    /// Priority.
    #[arg(long, value_enum, default_value = "normal")]
    priority: PriorityArg,
    /// Run no earlier than this unix time (a background epoch job).
    #[arg(long, value_name = "SECONDS")]
    epoch: Option<u64>,
    /// Give up waiting after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<f64>,
    /// Print WORK_DATA, WORK_WARNING and WORK_STATUS to stderr as they come.
    #[arg(long, short = 'v')]
    verbose: bool,
    #[command(flatten)]
    tls: crate::tls::TlsArgs,
    /// The workload; read from stdin when absent.
    data: Option<String>,
}

fn failure_code(failure: &Failure) -> u8 {
    match failure {
        Failure::NotSent => EXIT_NOT_SENT,
        Failure::Ambiguous => EXIT_AMBIGUOUS,
        Failure::Refused { .. } => EXIT_REFUSED,
        Failure::TimedOut => EXIT_TIMED_OUT,
        _ => EXIT_DISCONNECTED,
    }
}

/// A client for `servers`. Its calls wait for the first connection themselves, up to
/// `connect_timeout` or the job's own deadline, whichever comes first.
pub(crate) fn connect(
    servers: &[String],
    connect_timeout: Duration,
    tls: &crate::tls::TlsArgs,
) -> Result<Client, String> {
    let mut b = Client::builder().connect_timeout(connect_timeout);
    if let Some(tls) = tls.options()? {
        b = b.tls(tls);
    }
    for s in servers {
        b = b.server(s.clone());
    }
    b.spawn().map_err(|e| e.to_string())
}

/// How long to wait for a connection: 5 s, or less when `--timeout` is shorter.
fn connect_timeout(timeout: Option<Duration>) -> Duration {
    let default = Duration::from_secs(5);
    timeout.map_or(default, |t| t.min(default))
}

pub(crate) async fn submit(args: SubmitArgs) -> Result<ExitCode, String> {
    let data = match args.data {
        Some(d) => Bytes::from(d),
        None => {
            let mut v = Vec::new();
            std::io::stdin()
                .read_to_end(&mut v)
                .map_err(|e| e.to_string())?;
            Bytes::from(v)
        }
    };
    let function = FunctionName::try_from(args.function.as_str()).map_err(|e| e.to_string())?;
    let mut job = Job::new(function, data).priority(match args.priority {
        PriorityArg::High => Priority::High,
        PriorityArg::Normal => Priority::Normal,
        PriorityArg::Low => Priority::Low,
    });
    if let Some(u) = &args.unique {
        job = job.unique(UniqueId::try_from(u.as_str()).map_err(|e| e.to_string())?);
    }
    if let Some(epoch) = args.epoch {
        job = job.at(epoch);
    } else if args.background {
        job = job.background();
    }
    let timeout = args
        .timeout
        .map(Duration::try_from_secs_f64)
        .transpose()
        .map_err(|e| e.to_string())?;
    if let Some(t) = timeout {
        job = job.timeout(t);
    }
    let client = connect(&args.servers.servers, connect_timeout(timeout), &args.tls)?;
    let mut stream = match client.submit(job).await {
        Ok(s) => s,
        Err(ClientError::Failed(f)) => {
            eprintln!("gearmanctl: {f}");
            return Ok(ExitCode::from(failure_code(&f)));
        }
        Err(e @ ClientError::InvalidArgument { .. }) => return Err(e.to_string()),
        Err(e) => {
            eprintln!("gearmanctl: {e}");
            return Ok(ExitCode::from(EXIT_NOT_SENT));
        }
    };
    if args.background || args.epoch.is_some() {
        if let Some(h) = stream.handle() {
            println!("{h}");
        }
        return Ok(ExitCode::from(EXIT_COMPLETE));
    }
    let mut stdout = std::io::stdout();
    while let Some(event) = stream.next().await {
        match event {
            JobEvent::Created(_) => {}
            JobEvent::Progress(update) if args.verbose => match update {
                WorkUpdate::Data { data, .. } => {
                    eprintln!("data: {}", String::from_utf8_lossy(&data))
                }
                WorkUpdate::Warning { data, .. } => {
                    eprintln!("warning: {}", String::from_utf8_lossy(&data))
                }
                WorkUpdate::Status {
                    numerator,
                    denominator,
                    ..
                } => {
                    eprintln!("status: {numerator}/{denominator}")
                }
                _ => {}
            },
            JobEvent::Progress(_) => {}
            JobEvent::Done(JobOutcome::Complete(data)) => {
                stdout.write_all(&data).map_err(|e| e.to_string())?;
                stdout.flush().map_err(|e| e.to_string())?;
                return Ok(ExitCode::from(EXIT_COMPLETE));
            }
            JobEvent::Done(JobOutcome::Fail) => {
                eprintln!("gearmanctl: the job failed");
                return Ok(ExitCode::from(EXIT_FAIL));
            }
            JobEvent::Done(JobOutcome::Exception(data)) => {
                eprintln!("gearmanctl: exception: {}", String::from_utf8_lossy(&data));
                return Ok(ExitCode::from(EXIT_EXCEPTION));
            }
            JobEvent::Failed(f) => {
                eprintln!("gearmanctl: {f}");
                return Ok(ExitCode::from(failure_code(&f)));
            }
        }
    }
    Ok(ExitCode::from(EXIT_DISCONNECTED))
}

/// Options of `gearmanctl status`.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// The job server that has the job, HOST:PORT.
    #[arg(long = "server", short = 's', value_name = "HOST:PORT")]
    server: String,
    /// The job handle.
    handle: String,
    #[command(flatten)]
    tls: crate::tls::TlsArgs,
}

pub(crate) async fn status(args: StatusArgs) -> Result<ExitCode, String> {
    let handle = JobHandle::try_from(args.handle.as_str()).map_err(|e| e.to_string())?;
    let client = connect(
        std::slice::from_ref(&args.server),
        connect_timeout(None),
        &args.tls,
    )?;
    let st = client.status(0, handle).await.map_err(|e| e.to_string())?;
    let num = |n: Option<u32>| n.map_or_else(|| "-".to_string(), |n| n.to_string());
    println!(
        "{}\tknown={}\trunning={}\tprogress={}/{}",
        st.handle,
        u8::from(st.known),
        u8::from(st.running),
        num(st.numerator),
        num(st.denominator)
    );
    Ok(ExitCode::SUCCESS)
}
