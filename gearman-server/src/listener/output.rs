//! A connection's unsent output, bounded in bytes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch};

use super::meter::Meter;

/// What each queued response costs beyond its bytes.
const OVERHEAD: usize = 64;
/// Responses are gathered into writes of about this size.
const WRITE_BATCH: usize = 64 * 1024;

/// The sending side: the core pushes encoded responses into it.
#[derive(Debug)]
pub(crate) struct Output {
    tx: mpsc::UnboundedSender<Bytes>,
    pending: Arc<AtomicUsize>,
    max: usize,
    kill: watch::Sender<bool>,
    /// The socket, to ask whether the peer left and to write to it directly (plain TCP only).
    probe: Option<super::tcp::Probe>,
    meter: Meter,
}

/// Tells a connection's tasks that the server dropped it.
pub(crate) type Killed = watch::Receiver<bool>;

/// Resolves once the connection is killed.
pub(crate) async fn killed(k: &mut Killed) {
    let _ = k.wait_for(|k| *k).await.map(|_| ());
}

impl Output {
    /// An output of at most `max` pending bytes (one response of any size always fits), the
    /// writer that drains it into `wr`, and the signal that the server dropped the connection.
    pub(crate) fn new<W: AsyncWrite + Unpin + Send>(
        max: usize,
        wr: W,
        probe: Option<super::tcp::Probe>,
        meter: Meter,
    ) -> (Self, impl std::future::Future<Output = ()>, Killed) {
        let (tx, rx) = mpsc::unbounded_channel();
        let pending = Arc::new(AtomicUsize::new(0));
        let (kill, killed) = watch::channel(false);
        let writer = write(rx, wr, pending.clone(), killed.clone(), meter.clone());
        (
            Self {
                tx,
                pending,
                max,
                kill,
                probe,
                meter,
            },
            writer,
            killed,
        )
    }

    /// Whether the peer is known to have closed the connection (its close may not have been
    /// read yet). Only plain TCP connections can tell; others answer false.
    pub(crate) fn peer_gone(&self) -> bool {
        self.probe
            .as_ref()
            .is_some_and(super::tcp::Probe::peer_gone)
    }

    /// Drops the connection: its reader stops and its writer stops mid-write.
    pub(crate) fn kill(&self) {
        self.kill.send_replace(true);
    }

    /// Sends `bytes`: on plain TCP with nothing waiting for the writer, straight into the
    /// socket as far as it takes them (no hand-off to the writer task), the rest queued for
    /// the writer. False if the queue would pass the bound, the writer is gone, or the socket
    /// failed. Only the core's task pushes, so nothing can be queued between the check and
    /// the write.
    pub(crate) fn push(&self, mut bytes: Bytes) -> bool {
        if let Some(socket) = &self.probe {
            if self.pending.load(Ordering::Acquire) == 0 {
                match socket.try_write(&bytes) {
                    Ok(n) => {
                        self.meter.written(n);
                        if n == bytes.len() {
                            return true;
                        }
                        bytes = bytes.slice(n..);
                    }
                    Err(_) => return false,
                }
            }
        }
        let cost = bytes.len() + OVERHEAD;
        let before = self.pending.fetch_add(cost, Ordering::AcqRel);
        if before > 0 && before + cost > self.max {
            self.pending.fetch_sub(cost, Ordering::AcqRel);
            return false;
        }
        self.tx.send(bytes).is_ok()
    }
}

/// Writes until every sender is gone and the queue is empty, then shuts the write side; stops
/// at once if the connection is killed.
async fn write<W: AsyncWrite + Unpin>(
    rx: mpsc::UnboundedReceiver<Bytes>,
    wr: W,
    pending: Arc<AtomicUsize>,
    mut kill: Killed,
    meter: Meter,
) {
    tokio::select! {
        () = drain(rx, wr, pending, meter) => {}
        () = killed(&mut kill) => {}
    }
}

async fn drain<W: AsyncWrite + Unpin>(
    mut rx: mpsc::UnboundedReceiver<Bytes>,
    mut wr: W,
    pending: Arc<AtomicUsize>,
    meter: Meter,
) {
    let mut batch = BytesMut::new();
    while let Some(first) = rx.recv().await {
        let mut cost = first.len() + OVERHEAD;
        let result = if first.len() >= WRITE_BATCH {
            meter.written(first.len());
            wr.write_all(&first).await
        } else {
            batch.clear();
            batch.extend_from_slice(&first);
            while batch.len() < WRITE_BATCH {
                let Ok(next) = rx.try_recv() else { break };
                cost += next.len() + OVERHEAD;
                batch.extend_from_slice(&next);
            }
            meter.written(batch.len());
            wr.write_all(&batch).await
        };
        // A TLS stream may hold the last record until flushed (a no-op on TCP).
        let result = match result {
            Ok(()) => wr.flush().await,
            e => e,
        };
        pending.fetch_sub(cost, Ordering::AcqRel);
        if result.is_err() {
            return;
        }
    }
    let _ = wr.shutdown().await;
}
