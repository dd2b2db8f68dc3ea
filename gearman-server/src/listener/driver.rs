//! The task that owns the core: feeds it requests and the time, routes its responses to the
//! connections' outputs, and carries out shutdowns.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::BytesMut;
use gearman_proto::admin::AdminCommand;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{debug, info, warn};

use super::output::Output;
use super::{Phase, ToCore};
use crate::core::{ConnId, ServerCore};

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

pub(crate) async fn run(
    mut core: ServerCore,
    mut rx: mpsc::Receiver<ToCore>,
    phase: watch::Sender<Phase>,
    mut unbound: oneshot::Receiver<()>,
) {
    let mut outputs: HashMap<ConnId, Output> = HashMap::new();
    let mut buf = BytesMut::new();
    loop {
        let msg = tokio::select! {
            msg = rx.recv() => match msg {
                Some(m) => Some(m),
                None => break,
            },
            () = until(core.next_deadline()) => None,
        };
        core.advance(unix_ms());
        let mut stop = None;
        match msg {
            None => {}
            Some(ToCore::Open(peer, out, reply)) => {
                let id = core.connect();
                core.set_peer(id, peer);
                outputs.insert(id, out);
                let _ = reply.send(id);
            }
            Some(ToCore::Request(id, req)) => core.handle(id, *req),
            Some(ToCore::Admin(id, cmd)) => {
                if let AdminCommand::Shutdown { graceful } = cmd {
                    info!(conn = id.0, graceful, "admin shutdown");
                    stop = Some(graceful);
                }
                let mut text = BytesMut::new();
                core.admin(&cmd).encode(&mut text);
                send(&mut core, &mut outputs, id, text.freeze());
            }
            Some(ToCore::Reply(id, res)) => {
                buf.clear();
                if res.encode(&mut buf).is_ok() {
                    send(&mut core, &mut outputs, id, buf.split().freeze());
                }
            }
            Some(ToCore::Text(id, text)) => send(&mut core, &mut outputs, id, text),
            Some(ToCore::Closed(id)) => {
                core.disconnect(id);
                outputs.remove(&id);
            }
            Some(ToCore::Stats(reply)) => {
                let _ = reply.send(core.stats());
            }
            Some(ToCore::Shutdown { graceful }) => stop = Some(graceful),
        }
        while let Some((to, res)) = core.poll_output() {
            buf.clear();
            if res.encode(&mut buf).is_err() {
                warn!(conn = to.0, "response could not be encoded");
                continue;
            }
            send(&mut core, &mut outputs, to, buf.split().freeze());
        }
        match stop {
            Some(false) => {
                // The listener closes first, so no connection is accepted after the others
                // were closed.
                phase.send_replace(Phase::Draining);
                let _ = tokio::time::timeout(Duration::from_secs(1), &mut unbound).await;
                break;
            }
            Some(true) => {
                info!(connections = core.connection_count(), "draining");
                phase.send_replace(Phase::Draining);
            }
            None => {}
        }
        if *phase.borrow() == Phase::Draining && core.connection_count() == 0 {
            break;
        }
    }
    info!(jobs = core.job_count(), "gearman-server stopped");
    // Dropping the outputs lets every writer flush what it has and close.
    drop(outputs);
    phase.send_replace(Phase::Stopped);
}

/// Queues bytes for a connection; one that stopped reading is dropped (its jobs re-queued)
/// rather than buffered for without bound.
fn send(
    core: &mut ServerCore,
    outputs: &mut HashMap<ConnId, Output>,
    to: ConnId,
    bytes: bytes::Bytes,
) {
    let Some(out) = outputs.get(&to) else { return };
    if !out.push(bytes) {
        debug!(conn = to.0, "output bound reached: disconnecting");
        out.kill();
        outputs.remove(&to);
        core.disconnect(to);
    }
}
