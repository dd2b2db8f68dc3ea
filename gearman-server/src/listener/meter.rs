//! What the listener counts for the metrics (feature `metrics`): a no-op without it.

use crate::core::ServerCore;

/// The listener's handle on the server's metrics.
#[derive(Clone, Debug, Default)]
pub(crate) struct Meter {
    #[cfg(feature = "metrics")]
    pub(crate) metrics: crate::metrics::ServerMetrics,
}

/// Keeps a connection counted as open until dropped.
#[derive(Debug)]
pub(crate) struct Open {
    #[cfg(feature = "metrics")]
    _open: crate::metrics::OpenConnection,
}

impl Meter {
    /// The core starts keeping job events for the metrics.
    pub(crate) fn start(&self, core: &mut ServerCore) {
        #[cfg(feature = "metrics")]
        core.record_events(true);
        #[cfg(not(feature = "metrics"))]
        let _ = core;
    }

    /// One commit of the job store took `took`.
    pub(crate) fn store_commit(&self, took: std::time::Duration) {
        #[cfg(feature = "metrics")]
        self.metrics.observe_store_commit(took);
        #[cfg(not(feature = "metrics"))]
        let _ = took;
    }

    /// Counts the job events the core recorded since last time.
    pub(crate) fn take_events(&self, core: &mut ServerCore) {
        #[cfg(feature = "metrics")]
        {
            let events = core.take_events();
            if !events.is_empty() {
                self.metrics.observe(&events);
            }
        }
        #[cfg(not(feature = "metrics"))]
        let _ = core;
    }

    pub(crate) fn accepted(&self) {
        #[cfg(feature = "metrics")]
        self.metrics.accepted();
    }

    pub(crate) fn rejected(&self) {
        #[cfg(feature = "metrics")]
        self.metrics.rejected();
    }

    pub(crate) fn read(&self, n: usize) {
        #[cfg(feature = "metrics")]
        self.metrics.read(n);
        #[cfg(not(feature = "metrics"))]
        let _ = n;
    }

    pub(crate) fn written(&self, n: usize) {
        #[cfg(feature = "metrics")]
        self.metrics.written(n);
        #[cfg(not(feature = "metrics"))]
        let _ = n;
    }

    pub(crate) fn open(&self) -> Open {
        Open {
            #[cfg(feature = "metrics")]
            _open: self.metrics.open(),
        }
    }
}
