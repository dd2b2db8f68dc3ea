//! The node lock (ci-plugin.md §5.1): an executor grabs only while no other executor of its
//! node holds the lock and the host has an idle executor there; a single-use build holds it to
//! the end, so nothing lands on a node about to go offline.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use gearman_worker::{BoxFuture, GatePass, GrabGate};
use tokio::sync::Notify;
use tracing::warn;

use crate::host::CiHost;
use crate::label::Label;

/// How often a waiting executor asks the host again (the plugin waits up to 5 s).
const RECHECK: Duration = Duration::from_millis(250);

#[derive(Debug, Default)]
struct State {
    held: bool,
    closed: bool,
}

/// One node's lock, shared by all its executors.
#[derive(Debug, Default)]
pub(crate) struct NodeLock {
    state: Mutex<State>,
    wake: Notify,
}

impl NodeLock {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The node is gone or offline: no executor of it grabs again.
    pub(crate) fn close(&self) {
        self.state().closed = true;
        self.wake.notify_waiters();
    }

    fn free(&self) -> bool {
        let s = self.state();
        !s.held && !s.closed
    }

    fn try_take(self: &Arc<Self>) -> Option<Held> {
        let mut s = self.state();
        if s.held || s.closed {
            return None;
        }
        s.held = true;
        Some(Held(self.clone()))
    }
}

/// The lock, held; released (and waiters woken) when dropped.
#[derive(Debug)]
struct Held(Arc<NodeLock>);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.state().held = false;
        self.0.wake.notify_waiters();
    }
}

/// The gate every executor worker of a node is built with.
pub(crate) struct NodeGate<H: CiHost> {
    pub(crate) lock: Arc<NodeLock>,
    pub(crate) host: Arc<H>,
    pub(crate) node: Label,
}

impl<H: CiHost> GrabGate for NodeGate<H> {
    fn pass(&self) -> BoxFuture<GatePass> {
        let (lock, host, node) = (self.lock.clone(), self.host.clone(), self.node.clone());
        Box::pin(async move {
            loop {
                let wake = lock.wake.notified();
                tokio::pin!(wake);
                wake.as_mut().enable();
                if lock.free() {
                    let idle = match host.idle_executors(&node).await {
                        Ok(idle) => idle,
                        Err(e) => {
                            warn!(%node, error = %e, "the host could not count idle executors");
                            Some(0)
                        }
                    };
                    if idle != Some(0) {
                        if let Some(held) = lock.try_take() {
                            return GatePass::new(held);
                        }
                    }
                }
                tokio::select! {
                    () = &mut wake => {}
                    () = tokio::time::sleep(RECHECK) => {}
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_none_once_closed() {
        let lock = Arc::new(NodeLock::default());
        let held = lock.try_take();
        assert!(held.is_some());
        assert!(lock.try_take().is_none(), "held by another executor");
        drop(held);
        assert!(lock.try_take().is_some(), "released on drop");
        lock.close();
        assert!(lock.try_take().is_none(), "a closed node never grabs");
    }
}
