//! Prometheus metrics of a [`Server`](crate::Server) (feature `metrics`, on by default), kept
//! with the official Prometheus client, [`prometheus_client`], and encoded in its text format.
//!
//! Every server has one [`ServerMetrics`] ([`Server::metrics`](crate::Server::metrics));
//! [`Server::render_metrics`](crate::Server::render_metrics) refreshes the per-function gauges
//! from the core and encodes the whole registry, and
//! [`Server::serve_metrics`](crate::Server::serve_metrics) serves that on `GET /metrics` over
//! HTTP ([`serve_http`] is the responder, usable for other registries too).
//!
//! | metric | type | what |
//! | --- | --- | --- |
//! | `gearman_function_queued{function}` | gauge | jobs waiting for a worker (epoch jobs not yet due included) |
//! | `gearman_function_running{function}` | gauge | jobs held by workers |
//! | `gearman_function_workers{function}` | gauge | connections that registered the function |
//! | `gearman_jobs_submitted_total` | counter | submissions that created a job |
//! | `gearman_job_outcomes_total{outcome}` | counter | `complete`, `fail`, `exception` (the worker's result), `requeued` (worker lost or CANT_DO), `timed_out` (CAN_DO_TIMEOUT ran out; re-queued), `retries_exhausted` (failed by the server after `max_retries` re-queues) |
//! | `gearman_job_queue_wait_seconds` | histogram | from being queued (submitted, come due or re-queued) to a worker taking the job |
//! | `gearman_job_run_seconds` | histogram | from a worker taking the job to its complete, fail or exception |
//! | `gearman_connections_open` | gauge | connections being served |
//! | `gearman_connections_accepted_total` | counter | connections accepted (those closed at the connection limit included) |
//! | `gearman_connections_rejected_total` | counter | connections closed at once: the connection limit was reached |
//! | `gearman_bytes_read_total` | counter | bytes read from connections (the plaintext, inside TLS) |
//! | `gearman_bytes_written_total` | counter | bytes written to connections (the plaintext, inside TLS) |
//! | `gearman_store_commit_seconds` | histogram | commit latency of the durable job store, fed by [`ServerMetrics::observe_store_commit`] |
//!
//! Durations are measured on the core's clock, which the server advances once per round of
//! requests, in milliseconds.

mod http;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

pub use http::{serve_http, CONTENT_TYPE};
/// The Prometheus client the registry is built with, for registering more metrics or
/// encoding it another way.
pub use prometheus_client;

use crate::core::{JobEvent, JobOutcome};
use crate::FunctionStats;

/// The label set of the per-function gauges.
type FunctionLabel = [(&'static str, String); 1];
/// The label set of the outcome counters.
type OutcomeLabel = [(&'static str, &'static str); 1];

/// Bucket bounds of the job histograms, in seconds: a millisecond (the core's resolution) to an
/// hour (a CI build).
const JOB_BUCKETS: [f64; 14] = [
    0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];
/// Bucket bounds of the store commit histogram, in seconds: 100 µs to a second.
const STORE_BUCKETS: [f64; 13] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

/// The metrics of one server: its registry and handles to every metric in it. Cheap to clone
/// (the clones share the metrics).
#[derive(Clone, Debug)]
pub struct ServerMetrics {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    registry: Registry,
    queued: Family<FunctionLabel, Gauge>,
    running: Family<FunctionLabel, Gauge>,
    workers: Family<FunctionLabel, Gauge>,
    submitted: Counter,
    outcomes: Family<OutcomeLabel, Counter>,
    queue_wait: Histogram,
    run_time: Histogram,
    open: Gauge,
    accepted: Counter,
    rejected: Counter,
    read: Counter,
    written: Counter,
    store_commit: Histogram,
    /// One refresh-and-encode at a time, so that a scrape never sees another's half-refreshed
    /// gauges.
    scrape: Mutex<()>,
}

impl Default for ServerMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerMetrics {
    /// A registry (prefix `gearman_`) with every metric of the table above, at zero.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("gearman");
        let queued = Family::<FunctionLabel, Gauge>::default();
        let running = Family::<FunctionLabel, Gauge>::default();
        let workers = Family::<FunctionLabel, Gauge>::default();
        registry.register(
            "function_queued",
            "Jobs of the function waiting for a worker (epoch jobs not yet due included)",
            queued.clone(),
        );
        registry.register(
            "function_running",
            "Jobs of the function held by workers",
            running.clone(),
        );
        registry.register(
            "function_workers",
            "Connections that registered the function",
            workers.clone(),
        );
        let submitted = Counter::default();
        registry.register(
            "jobs_submitted",
            "Submissions that created a job",
            submitted.clone(),
        );
        let outcomes = Family::<OutcomeLabel, Counter>::default();
        // Every outcome is shown from the start, at zero.
        for o in JobOutcome::ALL {
            let _ = outcomes.get_or_create(&[("outcome", o.as_str())]);
        }
        registry.register(
            "job_outcomes",
            "How runs of jobs ended: complete, fail, exception (the worker's result), requeued \
             (worker lost or CANT_DO), timed_out (CAN_DO_TIMEOUT; re-queued), retries_exhausted",
            outcomes.clone(),
        );
        let queue_wait = Histogram::new(JOB_BUCKETS);
        registry.register_with_unit(
            "job_queue_wait",
            "Time from a job being queued to a worker taking it",
            Unit::Seconds,
            queue_wait.clone(),
        );
        let run_time = Histogram::new(JOB_BUCKETS);
        registry.register_with_unit(
            "job_run",
            "Time from a worker taking a job to its complete, fail or exception",
            Unit::Seconds,
            run_time.clone(),
        );
        let open = Gauge::default();
        registry.register("connections_open", "Connections being served", open.clone());
        let accepted = Counter::default();
        registry.register(
            "connections_accepted",
            "Connections accepted",
            accepted.clone(),
        );
        let rejected = Counter::default();
        registry.register(
            "connections_rejected",
            "Connections closed at once because the connection limit was reached",
            rejected.clone(),
        );
        let read = Counter::default();
        registry.register(
            "bytes_read",
            "Bytes read from connections (the plaintext, inside TLS)",
            read.clone(),
        );
        let written = Counter::default();
        registry.register(
            "bytes_written",
            "Bytes written to connections (the plaintext, inside TLS)",
            written.clone(),
        );
        let store_commit = Histogram::new(STORE_BUCKETS);
        registry.register_with_unit(
            "store_commit",
            "Commit latency of the durable job store",
            Unit::Seconds,
            store_commit.clone(),
        );
        Self {
            inner: Arc::new(Inner {
                registry,
                queued,
                running,
                workers,
                submitted,
                outcomes,
                queue_wait,
                run_time,
                open,
                accepted,
                rejected,
                read,
                written,
                store_commit,
                scrape: Mutex::new(()),
            }),
        }
    }

    /// The registry, to encode it another way.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// One commit of the durable job store took `took` (`gearman_store_commit_seconds`).
    pub fn observe_store_commit(&self, took: Duration) {
        self.inner.store_commit.observe(took.as_secs_f64());
    }

    /// The registry in the text format (OpenMetrics 1.0, which Prometheus reads; serve it as
    /// [`CONTENT_TYPE`]). The per-function gauges are as last set by
    /// [`set_functions`](Self::set_functions).
    pub fn encode(&self) -> String {
        let _one = self.inner.scrape.lock().unwrap_or_else(|e| e.into_inner());
        self.encode_locked()
    }

    fn encode_locked(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail; the encoder fails only on its writer's errors.
        let _ = encode(&mut text, &self.inner.registry);
        text
    }

    /// Sets the per-function gauges to `stats` (functions not in it are dropped) and encodes
    /// the registry, in one step.
    pub fn encode_with(&self, stats: &[FunctionStats]) -> String {
        let _one = self.inner.scrape.lock().unwrap_or_else(|e| e.into_inner());
        self.set_functions_locked(stats);
        self.encode_locked()
    }

    /// Sets the per-function gauges to `stats` (functions not in it are dropped).
    pub fn set_functions(&self, stats: &[FunctionStats]) {
        let _one = self.inner.scrape.lock().unwrap_or_else(|e| e.into_inner());
        self.set_functions_locked(stats);
    }

    fn set_functions_locked(&self, stats: &[FunctionStats]) {
        let i = &self.inner;
        i.queued.clear();
        i.running.clear();
        i.workers.clear();
        for s in stats {
            let label = [("function", s.function.to_string())];
            let n = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
            i.queued.get_or_create(&label).set(n(s.queued));
            i.running.get_or_create(&label).set(n(s.running));
            i.workers.get_or_create(&label).set(n(s.workers));
        }
    }

    /// Counts what the core reports happened to jobs.
    pub(crate) fn observe(&self, events: &[JobEvent]) {
        let i = &self.inner;
        for e in events {
            match *e {
                JobEvent::Submitted => {
                    i.submitted.inc();
                }
                JobEvent::Assigned { waited_ms } => i.queue_wait.observe(seconds(waited_ms)),
                JobEvent::Ended { outcome, ran_ms } => {
                    i.outcomes
                        .get_or_create(&[("outcome", outcome.as_str())])
                        .inc();
                    if let (true, Some(ms)) = (outcome.is_terminal_result(), ran_ms) {
                        i.run_time.observe(seconds(ms));
                    }
                }
            }
        }
    }

    pub(crate) fn accepted(&self) {
        self.inner.accepted.inc();
    }

    pub(crate) fn rejected(&self) {
        self.inner.rejected.inc();
    }

    pub(crate) fn read(&self, n: usize) {
        self.inner.read.inc_by(n as u64);
    }

    pub(crate) fn written(&self, n: usize) {
        self.inner.written.inc_by(n as u64);
    }

    /// Counts a connection open until the guard is dropped.
    pub(crate) fn open(&self) -> OpenConnection {
        self.inner.open.inc();
        OpenConnection(self.inner.open.clone())
    }
}

fn seconds(ms: u64) -> f64 {
    // Exact for any duration below 2^53 ms.
    ms as f64 / 1000.0
}

/// Counts one connection in `gearman_connections_open` while alive.
#[derive(Debug)]
pub(crate) struct OpenConnection(Gauge);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gearman_proto::FunctionName;

    #[test]
    fn every_metric_is_encoded_with_its_name() {
        let m = ServerMetrics::new();
        m.observe(&[
            JobEvent::Submitted,
            JobEvent::Assigned { waited_ms: 3 },
            JobEvent::Ended {
                outcome: JobOutcome::Complete,
                ran_ms: Some(20),
            },
            JobEvent::Ended {
                outcome: JobOutcome::TimedOut,
                ran_ms: Some(1000),
            },
        ]);
        m.observe_store_commit(Duration::from_micros(300));
        let stats = [FunctionStats {
            function: FunctionName::try_from("resize \"big\"").expect("a name"),
            queued: 4,
            running: 1,
            workers: 2,
        }];
        let text = m.encode_with(&stats);
        for line in [
            "gearman_function_queued{function=\"resize \\\"big\\\"\"} 4",
            "gearman_function_running{function=\"resize \\\"big\\\"\"} 1",
            "gearman_function_workers{function=\"resize \\\"big\\\"\"} 2",
            "gearman_jobs_submitted_total 1",
            "gearman_job_outcomes_total{outcome=\"complete\"} 1",
            "gearman_job_outcomes_total{outcome=\"timed_out\"} 1",
            "gearman_job_outcomes_total{outcome=\"fail\"} 0",
            "gearman_job_queue_wait_seconds_count 1",
            "gearman_job_run_seconds_count 1",
            "gearman_store_commit_seconds_count 1",
            "gearman_connections_open 0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from\n{text}"
            );
        }
        let text = m.encode_with(&[]);
        assert!(!text.contains("function=\""), "functions gone: {text}");
    }
}
