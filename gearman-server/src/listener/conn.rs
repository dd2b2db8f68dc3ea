//! One connection: reads and decodes, hands requests to the core, and keeps the stream in step
//! whatever arrives.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use gearman_proto::Decoder;
use tokio::io::AsyncWrite;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::debug;

use super::output::{killed, Output};
use super::tcp::ReadSome;
use super::{Phase, ToCore};
use crate::inbound::{classify, Inbound};

/// How long a closing connection may take to write what it was already answered.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// The limits one connection enforces.
#[derive(Clone, Debug)]
pub(crate) struct Limits {
    pub(crate) max_packet: u32,
    pub(crate) max_output: usize,
    pub(crate) admin_shutdown: bool,
    /// What the connection counts for the metrics.
    pub(crate) meter: super::meter::Meter,
}

/// Serves one connection, read from `rd` and written to `wr` (the halves of a TCP or a TLS
/// stream).
pub(crate) async fn serve<R, W>(
    (mut rd, wr): (R, W),
    probe: Option<super::tcp::Probe>,
    peer: SocketAddr,
    core: mpsc::Sender<ToCore>,
    mut phase: watch::Receiver<Phase>,
    limits: Limits,
    mut guard: Option<super::guard::Guard>,
) where
    R: ReadSome,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let _open = limits.meter.open();
    let (output, writer, mut kill) =
        Output::new(limits.max_output, wr, probe, limits.meter.clone());
    let writer = tokio::spawn(writer);
    let (id_tx, id_rx) = oneshot::channel();
    if core.send(ToCore::Open(peer, output, id_tx)).await.is_err() {
        return;
    }
    let Ok(id) = id_rx.await else { return };
    debug!(conn = id.0, %peer, "connected");
    let decoder = Decoder::new().with_max_body(limits.max_packet);
    // Without an ACL, only a loopback peer may stop the server; with one, the ACL decides.
    let shutdown_ok = limits.admin_shutdown && (guard.is_some() || peer.ip().is_loopback());
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let why = 'conn: loop {
        tokio::select! {
            read = rd.read_some(&mut buf) => match read {
                Ok(0) => break 'conn "closed by peer",
                Err(_) => break 'conn "read error",
                Ok(n) => limits.meter.read(n),
            },
            () = super::reached(&mut phase, |p| p == Phase::Stopped) => break 'conn "server stopped",
            () = killed(&mut kill) => break 'conn "dropped by the server",
        }
        // Everything this read brought goes to the core in one message.
        let mut inputs = Vec::new();
        let mut close = None;
        while let Some(frame) = decoder.decode_frame(&mut buf).transpose() {
            let inbound = classify(frame, shutdown_ok);
            let inbound = match guard.as_mut() {
                Some(g) => g.check(inbound),
                None => inbound,
            };
            match inbound {
                Inbound::Close(why) => {
                    close = Some(why);
                    break;
                }
                Inbound::Reply(res) => {
                    debug!(conn = id.0, reply = ?res, "refused input");
                    inputs.push(Inbound::Reply(res));
                }
                other => inputs.push(other),
            }
        }
        if !inputs.is_empty() && core.send(ToCore::Inputs(id, inputs)).await.is_err() {
            break 'conn "server stopped";
        }
        if let Some(why) = close {
            break 'conn why;
        }
    };
    debug!(conn = id.0, why, "disconnected");
    drop(rd);
    let _ = core.send(ToCore::Closed(id)).await;
    // The core drops its side of the output on Closed: the writer flushes and ends.
    let abort = writer.abort_handle();
    if tokio::time::timeout(FLUSH_TIMEOUT, writer).await.is_err() {
        abort.abort();
    }
}
