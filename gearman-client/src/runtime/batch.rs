//! Many jobs in flight from one call: [`Client::call_all`] and [`Client::submit_all`], the
//! counterpart of libgearman's `add_task` + `run_tasks`.
//!
//! A batch goes to each server as one command, all its submissions leave in one write, and their
//! answers come back on one channel tagged with each job's place: no task, stream or channel per
//! job.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;

use bytes::Bytes;
use gearman_proto::JobHandle;
use tokio::sync::mpsc;

use super::driver::Command;
use super::{Client, ClientError, Job};
use crate::event::{Event, Failure, JobOutcome};
use crate::machine::NewJob;

/// What a job of a batch ended in.
enum Ending {
    Created(JobHandle),
    Done(JobOutcome),
    Failed(Failure),
}

impl Client {
    /// Runs foreground jobs side by side and returns each one's result, in the order given.
    /// Every job ends exactly as [`call`](Self::call) would end it; jobs that were never sent
    /// (their server went down first) are tried on the next server, as `call` does.
    pub async fn call_all(
        &self,
        jobs: impl IntoIterator<Item = Job>,
    ) -> Vec<Result<Bytes, ClientError>> {
        self.batch(jobs, false)
            .await
            .into_iter()
            .map(|r| {
                r.and_then(|ending| match ending {
                    Ending::Done(JobOutcome::Complete(data)) => Ok(data),
                    Ending::Done(JobOutcome::Fail) => Err(ClientError::JobFailed),
                    Ending::Done(JobOutcome::Exception(data)) => {
                        Err(ClientError::JobException(data))
                    }
                    Ending::Failed(f) => Err(ClientError::Failed(f)),
                    Ending::Created(_) => Err(ClientError::Closed),
                })
            })
            .collect()
    }

    /// Submits background jobs side by side and returns each one's handle once the server has
    /// acknowledged it, in the order given. A foreground job in the list is refused with
    /// [`ClientError::InvalidArgument`] (use [`call_all`](Self::call_all)).
    pub async fn submit_all(
        &self,
        jobs: impl IntoIterator<Item = Job>,
    ) -> Vec<Result<JobHandle, ClientError>> {
        self.batch(jobs, true)
            .await
            .into_iter()
            .map(|r| {
                r.and_then(|ending| match ending {
                    Ending::Created(handle) => Ok(handle),
                    Ending::Failed(f) => Err(ClientError::Failed(f)),
                    Ending::Done(_) => Err(ClientError::Closed),
                })
            })
            .collect()
    }

    async fn batch(
        &self,
        jobs: impl IntoIterator<Item = Job>,
        background: bool,
    ) -> Vec<Result<Ending, ClientError>> {
        let now = std::time::Instant::now();
        let mut results: Vec<Option<Result<Ending, ClientError>>> = Vec::new();
        // (index, job, the servers it may go to, in order)
        let mut pending: Vec<(usize, NewJob, std::vec::IntoIter<usize>)> = Vec::new();
        let mut earliest: Option<std::time::Instant> = None;
        // The latest deadline, when every job has one: past it (and the grace) the batch ends on
        // the caller's side even if a driver is stuck.
        let mut latest: Option<Option<std::time::Instant>> = None;
        for (index, job) in jobs.into_iter().enumerate() {
            results.push(None);
            if job.is_background() != background {
                let what = if background {
                    "background"
                } else {
                    "foreground"
                };
                results[index] = Some(Err(ClientError::InvalidArgument {
                    what: "job kind",
                    reason: format!("this batch takes {what} jobs only"),
                }));
                continue;
            }
            match job.prepare(now) {
                Ok(new) => {
                    if let Some(d) = new.deadline {
                        earliest = Some(earliest.map_or(d, |e| e.min(d)));
                    }
                    latest = Some(match (latest, new.deadline) {
                        (None, d) => d,
                        (Some(Some(l)), Some(d)) => Some(l.max(d)),
                        _ => None,
                    });
                    let order = self.order(&new.unique).into_iter();
                    pending.push((index, new, order));
                }
                Err(e) => results[index] = Some(Err(e)),
            }
        }
        if !pending.is_empty() {
            if let Err(e) = self.first_contact(earliest).await {
                for (index, _, _) in pending.drain(..) {
                    results[index] = Some(Err(e.clone()));
                }
            }
        }
        let until = latest.flatten().map(super::with_grace);
        // Each round sends every pending job to its next live server; what comes back NotSent
        // goes round again, until it runs out of servers.
        while !pending.is_empty() {
            let mut per_server: Vec<Vec<(usize, NewJob)>> =
                vec![Vec::new(); self.inner.servers.len()];
            let mut retained = HashMap::new();
            for (index, job, mut order) in pending.drain(..) {
                let next = order.find(|&i| self.inner.servers[i].up.load(Ordering::Relaxed));
                match next {
                    Some(i) => {
                        per_server[i].push((index, job.clone()));
                        retained.insert(index, (job, order));
                    }
                    None => results[index] = Some(Err(self.none_took_it())),
                }
            }
            // A channel per round, and only the drivers hold its senders: if one let go of its
            // jobs without ending them, the wait below still ends.
            let (tx, mut rx) = mpsc::unbounded_channel();
            let mut open = HashSet::new();
            for (i, jobs) in per_server.into_iter().enumerate() {
                if jobs.is_empty() {
                    continue;
                }
                let indexes: Vec<usize> = jobs.iter().map(|(index, _)| *index).collect();
                let cmd = Command::Batch {
                    jobs,
                    events: tx.clone(),
                };
                let commands = &self.inner.servers[i].commands;
                let queued = match until {
                    Some(until) => tokio::time::timeout_at(until, commands.send(cmd))
                        .await
                        .map_err(|_| ClientError::Failed(Failure::NotSent)),
                    None => Ok(commands.send(cmd).await),
                };
                match queued {
                    Ok(Ok(())) => open.extend(indexes),
                    // The driver is gone: the client is closing.
                    Ok(Err(_)) => indexes
                        .into_iter()
                        .for_each(|index| results[index] = Some(Err(ClientError::Closed))),
                    // Every deadline passed while the queue was full: nothing was sent.
                    Err(e) => indexes
                        .into_iter()
                        .for_each(|index| results[index] = Some(Err(e.clone()))),
                }
            }
            drop(tx);
            let mut created = HashSet::new();
            while !open.is_empty() {
                let received = match until {
                    Some(until) => tokio::time::timeout_at(until, rx.recv())
                        .await
                        .ok()
                        .flatten(),
                    None => rx.recv().await,
                };
                let Some((index, event)) = received else {
                    // Past every deadline (a driver is stuck), or the drivers let go: what was
                    // acknowledged timed out, the rest may or may not exist.
                    for index in open.drain() {
                        let failure = match created.contains(&index) {
                            true => Failure::TimedOut,
                            false => Failure::Ambiguous,
                        };
                        results[index] = Some(Err(ClientError::Failed(failure)));
                    }
                    break;
                };
                let ending = match event {
                    Event::Created { handle, .. } if background => Ending::Created(handle),
                    Event::Created { .. } => {
                        created.insert(index);
                        continue;
                    }
                    Event::Failed {
                        failure: Failure::NotSent,
                        ..
                    } => {
                        if open.remove(&index) {
                            if let Some((job, order)) = retained.remove(&index) {
                                pending.push((index, job, order));
                            }
                        }
                        continue;
                    }
                    Event::Done { outcome, .. } => Ending::Done(outcome),
                    Event::Failed { failure, .. } => Ending::Failed(failure),
                    _ => continue,
                };
                if open.remove(&index) {
                    results[index] = Some(Ok(ending));
                }
            }
            for index in open {
                results[index] = Some(Err(ClientError::Closed));
            }
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or(Err(ClientError::Closed)))
            .collect()
    }
}
