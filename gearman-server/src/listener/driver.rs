//! The task that owns the core: feeds it requests and the time, routes its responses to the
//! connections' outputs, and carries out shutdowns. It takes whatever messages are waiting (up
//! to a bound) before writing, and gives each connection one write per round.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use gearman_proto::admin::AdminCommand;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{debug, info, warn};

use super::output::Output;
use super::store_task::{Done, StoreLink};
use super::{Phase, ToCore};
use crate::core::{ConnId, ServerCore};
use crate::inbound::Inbound;

/// Messages handled per round before the responses are written.
const ROUND: usize = 128;

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Sleeps until the core's next deadline, or forever if it has none.
async fn until(deadline: Option<u64>) {
    match deadline {
        Some(t) => tokio::time::sleep(Duration::from_millis(t.saturating_sub(unix_ms()))).await,
        None => std::future::pending().await,
    }
}

/// Waits for the store's next finished commit, or forever without a store.
async fn next_commit(store: &mut Option<StoreLink>) -> Option<Done> {
    match store {
        Some(link) => link.done.recv().await,
        None => std::future::pending().await,
    }
}

/// What woke the core's task.
enum Wake {
    Msg(ToCore),
    Clock,
    Stored(Done),
}

/// The driver's state between rounds.
struct Driver {
    core: ServerCore,
    /// The job store's thread, if background jobs are stored.
    store: Option<StoreLink>,
    outputs: HashMap<ConnId, Output>,
    /// What each connection is to be sent at the end of the round, in order.
    pending: HashMap<ConnId, BytesMut>,
}

pub(crate) async fn run(
    core: ServerCore,
    store: Option<StoreLink>,
    mut rx: mpsc::Receiver<ToCore>,
    phase: watch::Sender<Phase>,
    mut unbound: oneshot::Receiver<()>,
    meter: super::meter::Meter,
) {
    let mut d = Driver {
        core,
        store,
        outputs: HashMap::new(),
        pending: HashMap::new(),
    };
    loop {
        let wake = tokio::select! {
            msg = rx.recv() => match msg {
                Some(m) => Wake::Msg(m),
                None => break,
            },
            () = until(d.core.next_deadline()) => Wake::Clock,
            Some(done) = next_commit(&mut d.store) => Wake::Stored(done),
        };
        d.core.advance(unix_ms());
        let first = match wake {
            Wake::Msg(m) => Some(m),
            Wake::Clock => None,
            Wake::Stored(done) => {
                debug!(
                    jobs = done.added.len(),
                    ok = done.ok,
                    took_us = done.took.as_micros(),
                    "store commit"
                );
                meter.store_commit(done.took);
                d.core.store_done(&done.added, done.ok);
                None
            }
        };
        let mut stop = None;
        let (mut next, mut handled) = (first, 0);
        while let Some(msg) = next.take() {
            stop = d.handle(msg);
            handled += 1;
            if stop.is_some() || handled == ROUND {
                break;
            }
            next = rx.try_recv().ok();
        }
        d.flush();
        d.store_writes();
        meter.take_events(&mut d.core);
        match stop {
            Some(false) => {
                // The listener closes first, so no connection is accepted after the others
                // were closed.
                phase.send_replace(Phase::Draining);
                let _ = tokio::time::timeout(Duration::from_secs(1), &mut unbound).await;
                break;
            }
            Some(true) => {
                info!(connections = d.core.connection_count(), "draining");
                phase.send_replace(Phase::Draining);
            }
            None => {}
        }
        if *phase.borrow() == Phase::Draining && d.core.connection_count() == 0 {
            break;
        }
    }
    info!(jobs = d.core.job_count(), "gearman-server stopped");
    d.store_writes();
    let store = d.store.take();
    // Dropping the outputs lets every writer flush what it has and close.
    drop(d);
    if let Some(store) = store {
        store.finish().await;
    }
    phase.send_replace(Phase::Stopped);
}

impl Driver {
    /// Handles one message; `Some(graceful)` if it asks the server to stop.
    fn handle(&mut self, msg: ToCore) -> Option<bool> {
        let mut stop = None;
        match msg {
            ToCore::Open(peer, out, reply) => {
                let id = self.core.connect();
                self.core.set_peer(id, peer);
                self.outputs.insert(id, out);
                let _ = reply.send(id);
            }
            ToCore::Inputs(id, inputs) => {
                for input in inputs {
                    match input {
                        Inbound::Request(req) => {
                            let outputs = &self.outputs;
                            self.core.handle_with(id, *req, &|c| {
                                outputs.get(&c).is_some_and(Output::peer_gone)
                            });
                        }
                        Inbound::Admin(cmd) => {
                            if let AdminCommand::Shutdown { graceful } = cmd {
                                info!(conn = id.0, graceful, "admin shutdown");
                                stop = Some(graceful);
                            }
                            self.collect();
                            let reply = self.core.admin(&cmd);
                            reply.encode(self.pending.entry(id).or_default());
                        }
                        Inbound::Reply(res) => {
                            self.collect();
                            if res.encode(self.pending.entry(id).or_default()).is_err() {
                                warn!(conn = id.0, "an error reply could not be encoded");
                            }
                        }
                        Inbound::Text(text) => {
                            self.collect();
                            self.pending.entry(id).or_default().extend_from_slice(&text);
                        }
                        Inbound::Close(_) => {}
                    }
                }
            }
            ToCore::Closed(id) => {
                self.collect();
                self.core.disconnect(id);
                self.pending.remove(&id);
                self.outputs.remove(&id);
            }
            ToCore::Stats(reply) => {
                let _ = reply.send(self.core.stats());
            }
            ToCore::Shutdown { graceful } => stop = Some(graceful),
        }
        self.collect();
        stop
    }

    /// Hands the core's store writes to the store's thread.
    fn store_writes(&mut self) {
        if let Some(store) = &self.store {
            let ops = self.core.take_store_ops();
            if !ops.is_empty() {
                store.send(ops);
            }
        }
    }

    /// Moves the core's responses into the connections' pending bytes, in order.
    fn collect(&mut self) {
        while let Some((to, res)) = self.core.poll_output() {
            if !self.outputs.contains_key(&to) {
                continue;
            }
            let buf = self.pending.entry(to).or_default();
            let mark = buf.len();
            if res.encode(buf).is_err() {
                buf.truncate(mark);
                warn!(conn = to.0, "response could not be encoded");
            }
        }
    }

    /// One write per connection: what the round gathered for it. Dropping a connection that
    /// stopped reading re-queues its jobs and may wake others, so it goes round until nothing
    /// is left (each round after the first follows a drop, so there are at most as many).
    fn flush(&mut self) {
        loop {
            self.collect();
            let pending: Vec<(ConnId, BytesMut)> = self
                .pending
                .iter_mut()
                .filter(|(_, b)| !b.is_empty())
                .map(|(id, b)| (*id, b.split()))
                .collect();
            for (to, bytes) in pending {
                self.send(to, bytes.freeze());
            }
            if !self.core.poll_output_pending() {
                return;
            }
        }
    }

    /// Queues bytes for a connection; one that stopped reading is dropped (its jobs re-queued)
    /// rather than buffered for without bound.
    fn send(&mut self, to: ConnId, bytes: Bytes) {
        let Some(out) = self.outputs.get(&to) else {
            return;
        };
        if !out.push(bytes) {
            debug!(conn = to.0, "output bound reached: disconnecting");
            out.kill();
            self.outputs.remove(&to);
            self.pending.remove(&to);
            self.core.disconnect(to);
        }
    }
}
