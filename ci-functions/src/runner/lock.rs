//! The node lock (ci-plugin.md §5.1): an executor grabs only while no other executor of its
//! node holds the lock and the host has an idle executor there; a single-use build holds it to
//! the end, so nothing lands on a node about to go offline.

use std::sync::atomic::{AtomicUsize, Ordering};
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

/// One node's lock, shared by all its executors, and the count of its builds.
#[derive(Debug, Default)]
pub(crate) struct NodeLock {
    state: Mutex<State>,
    wake: Notify,
    /// Builds of this node not yet ended (a build whose job was lost with its connection still
    /// counts until the host has aborted it, though its executor's slot is free again).
    builds: AtomicUsize,
    /// The node's executors: no grab while `builds` has reached it.
    capacity: AtomicUsize,
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
        !s.held && !s.closed && self.builds.load(Ordering::Relaxed) < self.capacity()
    }

    fn capacity(&self) -> usize {
        self.capacity.load(Ordering::Relaxed).max(1)
    }

    /// The node has `executors` executors now.
    pub(crate) fn set_capacity(&self, executors: usize) {
        self.capacity.store(executors, Ordering::Relaxed);
        self.wake.notify_waiters();
    }

    /// Builds of this node not yet ended.
    pub(crate) fn builds(&self) -> usize {
        self.builds.load(Ordering::Relaxed)
    }

    /// Counts a build of this node until the returned guard is dropped (the build ended).
    pub(crate) fn build_slot(self: &Arc<Self>) -> BuildSlot {
        self.builds.fetch_add(1, Ordering::Relaxed);
        BuildSlot(self.clone())
    }

    fn try_take(self: &Arc<Self>) -> Option<Held> {
        let mut s = self.state();
        if s.held || s.closed || self.builds.load(Ordering::Relaxed) >= self.capacity() {
            return None;
        }
        s.held = true;
        Some(Held(self.clone(), false))
    }
}

/// The lock, held; released (and waiters woken) when dropped.
#[derive(Debug)]
struct Held(Arc<NodeLock>, bool);

impl Held {
    /// Releases the lock now (dropping does the same); once only, so that it never releases
    /// another executor's hold taken since.
    fn release(&mut self) {
        if std::mem::replace(&mut self.1, true) {
            return;
        }
        self.0.state().held = false;
        self.0.wake.notify_waiters();
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.release();
    }
}

/// The lock as a gate pass: the host hears when it is taken and released.
struct Reported<H: CiHost> {
    held: Held,
    host: Arc<H>,
    node: Label,
}

impl<H: CiHost> Drop for Reported<H> {
    fn drop(&mut self) {
        // Release first, so the host's scheduler sees the node free when it hears of it.
        let Self { held, host, node } = self;
        held.release();
        host.node_lock_changed(node, false);
    }
}

/// One build of a node, counted until it is dropped.
#[derive(Debug)]
pub(crate) struct BuildSlot(Arc<NodeLock>);

impl Drop for BuildSlot {
    fn drop(&mut self) {
        self.0.builds.fetch_sub(1, Ordering::Relaxed);
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
                            host.node_lock_changed(&node, true);
                            return GatePass::new(Reported { held, host, node });
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

    #[test]
    fn no_grab_while_the_node_runs_as_many_builds_as_it_has_executors() {
        let lock = Arc::new(NodeLock::default());
        lock.set_capacity(2);
        let first = lock.build_slot();
        let second = lock.build_slot();
        assert!(lock.try_take().is_none(), "two builds on two executors");
        drop(first);
        assert!(
            lock.try_take().is_some(),
            "a build ended: room for one more"
        );
        drop(second);
    }
}
