//! A condition outside the worker on when its connections may grab: the Jenkins plugin's node
//! lock (ci-plugin.md §5.1), where all executors of a node share one lock and the CI host can
//! say "no idle executor now".

use std::any::Any;

use super::handler::BoxFuture;

/// Decides when a connection may send GRAB_JOB. Set with
/// [`WorkerBuilder::gate`](super::WorkerBuilder::gate); several workers may share one gate.
///
/// A connection that wants to grab first takes its worker's slot, then awaits
/// [`pass`](Self::pass). The [`GatePass`] is held while the GRAB is outstanding and dropped at
/// NO_JOB (or when a job for a function no longer offered is failed, or the connection drops).
/// When a job comes, the pass goes with it to the handler
/// ([`Job::take_gate_pass`](super::Job::take_gate_pass)); a handler that does not take it
/// holds it until it returns.
pub trait GrabGate: Send + Sync + 'static {
    /// Resolves with a pass once a connection may grab. The future may be dropped before it
    /// resolves (the connection had something else to do): it must then hold nothing.
    fn pass(&self) -> BoxFuture<GatePass>;
}

/// Permission to grab, from a [`GrabGate`]: whatever it holds is released when it is dropped.
pub struct GatePass {
    _guard: Box<dyn Any + Send + Sync>,
}

impl GatePass {
    /// A pass that holds `guard` until it is dropped.
    pub fn new(guard: impl Any + Send + Sync) -> Self {
        Self {
            _guard: Box::new(guard),
        }
    }
}

impl std::fmt::Debug for GatePass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatePass").finish_non_exhaustive()
    }
}
