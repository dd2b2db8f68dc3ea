//! `gearmanctl work`: a worker that runs a command per job, like Debian's `gearman -w`.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use clap::Args;
use gearman_proto::{ClientId, FunctionName};
use gearman_worker::{Job, JobError, JobResult, Timeout, Worker};
use tokio::io::AsyncWriteExt;

/// Options of `gearmanctl work`.
#[derive(Debug, Args)]
pub(crate) struct WorkArgs {
    #[command(flatten)]
    servers: crate::servers::ServerList,
    /// Function to offer, NAME or NAME:TIMEOUT_MS (repeat for several). With a timeout the
    /// server re-queues a job that runs longer, and the worker stops it.
    #[arg(
        long = "function",
        short = 'f',
        required = true,
        value_name = "NAME[:TIMEOUT_MS]"
    )]
    functions: Vec<String>,
    /// Jobs run at once.
    #[arg(long, short = 'c', default_value_t = 1)]
    concurrency: usize,
    /// Client id shown by the admin `workers` command.
    #[arg(long)]
    id: Option<String>,
    /// Answer every job with its own workload instead of running a command.
    #[arg(long, conflicts_with = "command")]
    echo: bool,
    /// Seconds running jobs may take to finish on SIGINT/SIGTERM.
    #[arg(long, default_value_t = 30)]
    grace: u64,
    #[command(flatten)]
    tls: crate::tls::TlsArgs,
    /// Command run per job: the workload on stdin, the result from stdout; a non-zero exit
    /// fails the job, and what it printed on stderr goes to the client as a warning.
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

/// Parses `NAME` or `NAME:TIMEOUT_MS`; a name may itself hold colons (`build:py27:trusty`), so
/// only an all-digit last part counts as the timeout.
fn parse_function(spec: &str) -> Result<(FunctionName, Option<Timeout>), String> {
    let (name, timeout) = match spec.rsplit_once(':') {
        Some((name, ms)) if !ms.is_empty() && ms.bytes().all(|b| b.is_ascii_digit()) => {
            let ms: u32 = ms
                .parse()
                .map_err(|_| format!("timeout out of range in {spec:?}"))?;
            (name, Timeout::from_millis(ms))
        }
        _ => (spec, None),
    };
    let name = FunctionName::try_from(name).map_err(|e| format!("{spec:?}: {e}"))?;
    Ok((name, timeout))
}

async fn run_command(command: Arc<Vec<String>>, job: Job) -> JobResult {
    let Some((program, args)) = command.split_first() else {
        return Err(JobError::Fail);
    };
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| JobError::Exception(Bytes::from(format!("cannot run {program}: {e}"))))?;
    if let Some(mut stdin) = child.stdin.take() {
        let data = job.data().clone();
        // A command that does not read its input is not an error.
        tokio::spawn(async move {
            let _ = stdin.write_all(&data).await;
        });
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| JobError::Exception(Bytes::from(format!("{program}: {e}"))))?;
    if !out.stderr.is_empty() {
        let _ = job.send_warning(out.stderr).await;
    }
    if out.status.success() {
        Ok(Bytes::from(out.stdout))
    } else {
        tracing::info!(handle = %job.handle(), status = %out.status, "command failed");
        Err(JobError::Fail)
    }
}

pub(crate) async fn run(args: WorkArgs) -> Result<(), String> {
    if args.command.is_empty() && !args.echo {
        return Err("give a command after `--`, or --echo".into());
    }
    let command = Arc::new(args.command);
    let mut builder = Worker::builder().concurrency(args.concurrency);
    if let Some(tls) = args.tls.options()? {
        builder = builder.tls(tls);
    }
    for server in &args.servers.servers {
        builder = builder.server(server.clone());
    }
    if let Some(id) = &args.id {
        builder = builder.client_id(ClientId::try_from(id.as_str()).map_err(|e| e.to_string())?);
    }
    for spec in &args.functions {
        let (name, timeout) = parse_function(spec)?;
        if args.echo {
            builder = builder.function_with_timeout(name, timeout, |job: Job| async move {
                Ok(job.data().clone())
            });
        } else {
            let command = command.clone();
            builder = builder.function_with_timeout(name, timeout, move |job: Job| {
                run_command(command.clone(), job)
            });
        }
    }
    let worker = builder.spawn().map_err(|e| e.to_string())?;
    tracing::info!(servers = ?args.servers.servers, functions = ?args.functions, "worker started");
    wait_for_signal().await;
    tracing::info!("stopping: letting running jobs finish");
    worker
        .shutdown(Duration::from_secs(args.grace))
        .await
        .map_err(|e| e.to_string())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_specs() {
        let (f, t) = parse_function("build:py27:trusty").unwrap();
        assert_eq!((f.to_string(), t), ("build:py27:trusty".into(), None));
        let (f, t) = parse_function("slow:1500").unwrap();
        assert_eq!(
            (f.to_string(), t.map(Timeout::millis)),
            ("slow".into(), Some(1500))
        );
        let (_, t) = parse_function("f:0").unwrap();
        assert_eq!(t, None);
        assert!(parse_function("f:99999999999").is_err());
        assert!(parse_function("").is_err());
    }
}
