//! `gearmanctl ci --metrics ADDR`: the CI host's metrics, kept with the Prometheus client that
//! gearman-server re-exports and served by its one-endpoint responder (`GET /metrics`).
//!
//! | metric | type | what |
//! | --- | --- | --- |
//! | `gearman_ci_builds_started_total` | counter | builds started on the host |
//! | `gearman_ci_builds_total{result}` | counter | builds ended: `SUCCESS`, `UNSTABLE`, `FAILURE`, `NOT_BUILT`, `ABORTED`, or `NOT_STARTED` (the host refused it, or its job was lost first) |
//! | `gearman_ci_executors{state}` | gauge | executors `busy` (running a build) and `idle` |
//! | `gearman_ci_registrations_total{request}` | counter | functions added (`can_do`) and removed (`cant_do`) per executor |
//! | `gearman_ci_registration_updates_total` | counter | changes of an executor's function set (its start included) |

use std::net::SocketAddr;
use std::sync::Arc;

use ci_functions::{BuildResult, CiHost, ExecutorCounts, Label, Runner, RunnerObserver};
use gearman_server::metrics::prometheus_client::encoding::text::encode;
use gearman_server::metrics::prometheus_client::metrics::counter::Counter;
use gearman_server::metrics::prometheus_client::metrics::family::Family;
use gearman_server::metrics::prometheus_client::metrics::gauge::Gauge;
use gearman_server::metrics::prometheus_client::registry::Registry;
use tokio::net::TcpListener;

/// One label, of a fixed set of values.
type Label1 = [(&'static str, &'static str); 1];

/// What a build that never ran is counted as.
const NOT_STARTED: &str = "NOT_STARTED";

const RESULTS: [BuildResult; 5] = [
    BuildResult::Success,
    BuildResult::Unstable,
    BuildResult::Failure,
    BuildResult::NotBuilt,
    BuildResult::Aborted,
];

/// The registry of a CI host, fed as the runner's observer.
#[derive(Debug)]
pub(crate) struct CiMetrics {
    registry: Registry,
    started: Counter,
    builds: Family<Label1, Counter>,
    executors: Family<Label1, Gauge>,
    registrations: Family<Label1, Counter>,
    updates: Counter,
}

impl CiMetrics {
    pub(crate) fn new() -> Self {
        let mut registry = Registry::with_prefix("gearman_ci");
        let started = Counter::default();
        registry.register(
            "builds_started",
            "Builds started on the host",
            started.clone(),
        );
        let builds = Family::<Label1, Counter>::default();
        for r in RESULTS
            .map(BuildResult::as_str)
            .into_iter()
            .chain([NOT_STARTED])
        {
            let _ = builds.get_or_create(&[("result", r)]);
        }
        registry.register(
            "builds",
            "Builds ended, by result (NOT_STARTED: refused by the host, or its job lost first)",
            builds.clone(),
        );
        let executors = Family::<Label1, Gauge>::default();
        registry.register(
            "executors",
            "Executors running a build (busy) and free (idle)",
            executors.clone(),
        );
        let registrations = Family::<Label1, Counter>::default();
        for r in ["can_do", "cant_do"] {
            let _ = registrations.get_or_create(&[("request", r)]);
        }
        registry.register(
            "registrations",
            "Functions added (can_do) and removed (cant_do), per executor",
            registrations.clone(),
        );
        let updates = Counter::default();
        registry.register(
            "registration_updates",
            "Changes of an executor's function set, its start included",
            updates.clone(),
        );
        Self {
            registry,
            started,
            builds,
            executors,
            registrations,
            updates,
        }
    }

    /// The text format, with the executor gauges set to `counts`.
    fn encode(&self, counts: ExecutorCounts) -> String {
        let n = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
        self.executors
            .get_or_create(&[("state", "busy")])
            .set(n(counts.busy));
        self.executors
            .get_or_create(&[("state", "idle")])
            .set(n(counts.idle()));
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}

impl RunnerObserver for CiMetrics {
    fn build_started(&self, _node: &Label) {
        self.started.inc();
    }

    fn build_ended(&self, _node: &Label, result: Option<BuildResult>) {
        let result = result.map_or(NOT_STARTED, BuildResult::as_str);
        self.builds.get_or_create(&[("result", result)]).inc();
    }

    fn registrations(&self, can_do: usize, cant_do: usize) {
        self.updates.inc();
        for (request, n) in [("can_do", can_do), ("cant_do", cant_do)] {
            self.registrations
                .get_or_create(&[("request", request)])
                .inc_by(n as u64);
        }
    }
}

/// Binds the metrics address (before the runner starts, so a bad one fails at once).
pub(crate) async fn bind(addr: &str) -> Result<TcpListener, String> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| format!("--metrics {addr}: {e}"))
}

/// Serves `metrics` on `listener` (`GET /metrics`) while the process runs; returns the address.
pub(crate) fn serve<H: CiHost>(
    listener: TcpListener,
    metrics: Arc<CiMetrics>,
    runner: Arc<Runner<H>>,
) -> Result<SocketAddr, String> {
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let render = move || {
        let (metrics, runner) = (metrics.clone(), runner.clone());
        async move { Some(metrics.encode(runner.executors().await)) }
    };
    tokio::spawn(gearman_server::metrics::serve_http(listener, render));
    Ok(addr)
}
