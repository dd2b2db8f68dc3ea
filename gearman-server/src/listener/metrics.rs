//! The server's metrics on its handle (feature `metrics`), and served over HTTP.

use std::net::SocketAddr;

use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::{mpsc, oneshot};
use tracing::info;

use super::{reached, Phase, Server, Stopped, ToCore};
use crate::metrics::{serve_http, ServerMetrics};

/// Asks the core for its per-function stats, then refreshes and encodes the metrics.
async fn render(
    to_core: &mpsc::Sender<ToCore>,
    metrics: &ServerMetrics,
) -> Result<String, Stopped> {
    let (tx, rx) = oneshot::channel();
    to_core.send(ToCore::Stats(tx)).await.map_err(|_| Stopped)?;
    let stats = rx.await.map_err(|_| Stopped)?;
    Ok(metrics.encode_with(&stats))
}

impl Server {
    /// The server's metrics: counters and histograms as they stand, the per-function gauges
    /// as of the last [`render_metrics`](Self::render_metrics) (or scrape). See
    /// [`metrics`](crate::metrics) for the names.
    pub fn metrics(&self) -> &ServerMetrics {
        &self.meter.metrics
    }

    /// Every metric in the Prometheus text format, the per-function gauges refreshed from the
    /// core first: what `GET /metrics` answers.
    pub async fn render_metrics(&self) -> Result<String, Stopped> {
        render(&self.to_core, &self.meter.metrics).await
    }

    /// Serves [`render_metrics`](Self::render_metrics) on `GET /metrics` over HTTP at `addr`
    /// (port 0 picks a free one) until the server stops; returns the address bound. Requests
    /// for other paths get 404; a request head must arrive within 5 s and be at most 8 KiB.
    /// Plain HTTP, without access control: bind a loopback or otherwise private address.
    pub async fn serve_metrics(&self, addr: impl ToSocketAddrs) -> std::io::Result<SocketAddr> {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let to_core = self.to_core.downgrade();
        let metrics = self.meter.metrics.clone();
        let mut phase = self.phase.clone();
        tokio::spawn(async move {
            let render = move || {
                let (to_core, metrics) = (to_core.upgrade(), metrics.clone());
                async move { render(&to_core?, &metrics).await.ok() }
            };
            tokio::select! {
                () = serve_http(listener, render) => {}
                () = reached(&mut phase, |p| p == Phase::Stopped) => {}
            }
        });
        info!(addr = %local, "metrics served on /metrics");
        Ok(local)
    }
}
