//! The thread that owns the job store: takes the core's writes as they come, commits all that
//! waited at once (group commit), and reports each commit back to the core's task.

use std::sync::mpsc as std_mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::store::{JobStore, StoreError, StoreOp};

/// Writes per commit at most: a larger backlog is committed in several.
const MAX_OPS: usize = 50_000;

/// How often a store that keeps failing is logged.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// One commit, as reported to the core's task.
#[derive(Debug)]
pub(crate) struct Done {
    /// The jobs it added.
    pub(crate) added: Vec<u64>,
    /// Whether it is durable.
    pub(crate) ok: bool,
    /// How long the commit took.
    pub(crate) took: Duration,
}

/// The core task's end of the store thread.
#[derive(Debug)]
pub(crate) struct StoreLink {
    to_store: Option<std_mpsc::Sender<Vec<StoreOp>>>,
    /// Commits as they finish.
    pub(crate) done: mpsc::UnboundedReceiver<Done>,
    thread: Option<JoinHandle<()>>,
}

impl StoreLink {
    /// Starts the thread.
    pub(crate) fn start(store: Box<dyn JobStore>) -> std::io::Result<Self> {
        let (to_store, ops) = std_mpsc::channel();
        let (done_tx, done) = mpsc::unbounded_channel();
        let thread = std::thread::Builder::new()
            .name("gearman-store".into())
            .spawn(move || run(store, &ops, &done_tx))?;
        Ok(Self {
            to_store: Some(to_store),
            done,
            thread: Some(thread),
        })
    }

    /// Hands writes to the thread.
    pub(crate) fn send(&self, ops: Vec<StoreOp>) {
        if let Some(tx) = &self.to_store {
            let _ = tx.send(ops);
        }
    }

    /// Lets the thread commit what it has, and waits for it to end.
    pub(crate) async fn finish(mut self) {
        self.to_store = None;
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

fn run(
    mut store: Box<dyn JobStore>,
    ops: &std_mpsc::Receiver<Vec<StoreOp>>,
    done: &mpsc::UnboundedSender<Done>,
) {
    let interval = store.sync_interval();
    let mut last_sync = Instant::now();
    // Removals of a failed commit, tried again with the next.
    let mut retry: Vec<StoreOp> = Vec::new();
    let mut failing: Option<(Instant, u64)> = None;
    loop {
        let first = match interval {
            Some(every) => {
                let left = every.saturating_sub(last_sync.elapsed());
                match ops.recv_timeout(left) {
                    Ok(batch) => Some(batch),
                    Err(std_mpsc::RecvTimeoutError::Timeout) => None,
                    Err(std_mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
            None => match ops.recv() {
                Ok(batch) => Some(batch),
                Err(_) => break,
            },
        };
        if let Some(mut batch) = first {
            batch.splice(0..0, retry.drain(..));
            while batch.len() < MAX_OPS {
                match ops.try_recv() {
                    Ok(more) => batch.extend(more),
                    Err(_) => break,
                }
            }
            let started = Instant::now();
            let result = store.commit(&batch);
            let took = started.elapsed();
            let added = batch
                .iter()
                .filter_map(|op| match op {
                    StoreOp::Add(job) => Some(job.id),
                    StoreOp::Remove(_) => None,
                })
                .collect();
            let ok = result.is_ok();
            match result {
                Ok(()) => {
                    if let Some((_, failed)) = failing.take() {
                        info!(failed_commits = failed, "job store writes again");
                    }
                }
                Err(e) => {
                    retry.extend(
                        batch
                            .into_iter()
                            .filter(|op| matches!(op, StoreOp::Remove(_))),
                    );
                    note_failure(&mut failing, &e);
                }
            }
            if done.send(Done { added, ok, took }).is_err() {
                break;
            }
        }
        if interval.is_some_and(|every| last_sync.elapsed() >= every) {
            if let Err(e) = store.sync() {
                note_failure(&mut failing, &e);
            }
            last_sync = Instant::now();
        }
    }
    // The server is stopping: what is left (removals of jobs that ended) is written once.
    if !retry.is_empty() {
        if let Err(e) = store.commit(&retry) {
            warn!(error = %e, "job store: removals of ended jobs not written; they run again after a restart");
        }
    }
    if let Err(e) = store.sync() {
        warn!(error = %e, "job store: final sync failed");
    }
}

/// Logs a failing store at once, then once per [`LOG_EVERY`] while it keeps failing.
fn note_failure(failing: &mut Option<(Instant, u64)>, e: &StoreError) {
    match failing {
        None => {
            warn!(error = %e, "job store write failed: background submissions are refused until it writes again");
            *failing = Some((Instant::now(), 1));
        }
        Some((since, count)) => {
            *count += 1;
            if since.elapsed() >= LOG_EVERY {
                warn!(error = %e, failed_commits = *count, "job store still failing");
                *since = Instant::now();
            }
        }
    }
}
