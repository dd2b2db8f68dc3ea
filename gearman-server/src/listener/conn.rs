//! One connection: reads and decodes, hands requests to the core, and keeps the stream in step
//! whatever arrives.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use gearman_proto::admin::AdminCommand;
use gearman_proto::{
    Decoder, ErrorPacket, FieldError, Frame, Magic, MessageError, Request, Response,
};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::debug;

use super::output::{killed, Output};
use super::{Phase, ToCore};

/// How long a closing connection may take to write what it was already answered.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// The limits one connection enforces.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) max_packet: u32,
    pub(crate) max_output: usize,
    pub(crate) admin_shutdown: bool,
}

pub(crate) async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    core: mpsc::Sender<ToCore>,
    mut phase: watch::Receiver<Phase>,
    limits: Limits,
) {
    let (mut rd, wr) = stream.into_split();
    let (output, writer, mut kill) = Output::new(limits.max_output, wr);
    let writer = tokio::spawn(writer);
    let (id_tx, id_rx) = oneshot::channel();
    if core.send(ToCore::Open(peer, output, id_tx)).await.is_err() {
        return;
    }
    let Ok(id) = id_rx.await else { return };
    debug!(conn = id.0, %peer, "connected");
    let decoder = Decoder::new().with_max_body(limits.max_packet);
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let why = 'conn: loop {
        tokio::select! {
            read = rd.read_buf(&mut buf) => match read {
                Ok(0) => break 'conn "closed by peer",
                Err(_) => break 'conn "read error",
                Ok(_) => {}
            },
            () = super::reached(&mut phase, |p| p == Phase::Stopped) => break 'conn "server stopped",
            () = killed(&mut kill) => break 'conn "dropped by the server",
        }
        loop {
            let msg = match decoder.decode_frame(&mut buf) {
                Ok(None) => break,
                Ok(Some(Frame::Text(line))) => admin(id, &line, limits.admin_shutdown),
                Ok(Some(Frame::Packet(p))) => match Request::try_from(p) {
                    Ok(req) => ToCore::Request(id, Box::new(req)),
                    // A response sent with RES magic: answered as gearmand does; the stream
                    // is in step.
                    Err(MessageError::WrongMagic {
                        magic: Magic::Res, ..
                    }) => reply(id, "INVALID_MAGIC", "Request magic expected"),
                    Err(MessageError::UnknownType(_)) => break 'conn "unknown packet type",
                    // A server-to-client type with REQ magic.
                    Err(MessageError::WrongMagic { .. }) => {
                        reply(id, "INVALID_COMMAND", "Command not expected")
                    }
                    // A number field that is not one (gearmand reads it as 0).
                    Err(e @ MessageError::BadNumber { .. }) => {
                        debug!(conn = id.0, error = %e, "refused packet");
                        reply(id, "INVALID_ARGUMENT", "Not a decimal number in range")
                    }
                    // A field past a limit (a 64-byte unique, say): refused, in step.
                    Err(e @ MessageError::Field(FieldError::TooLong { .. })) => {
                        debug!(conn = id.0, error = %e, "refused packet");
                        reply(id, "ARGUMENT_TOO_LARGE", "Argument refused")
                    }
                    // An empty name, or a NUL inside one (gearmand would register a
                    // different function): refused, in step.
                    Err(e) => {
                        debug!(conn = id.0, error = %e, "refused packet");
                        reply(id, "INVALID_ARGUMENT", "Empty or NUL-bearing argument")
                    }
                },
                // A malformed packet was consumed whole: answered, and the stream goes on.
                Err(e) if !e.is_fatal() => {
                    debug!(conn = id.0, error = %e, "malformed packet");
                    reply(id, "INVALID_PACKET", "Malformed packet")
                }
                // Bad magic, or a body past the cap: nothing after it can be trusted.
                Err(e) => {
                    debug!(conn = id.0, error = %e, "closing");
                    break 'conn "fatal framing error";
                }
            };
            if core.send(msg).await.is_err() {
                break 'conn "server stopped";
            }
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

fn reply(id: super::ConnId, code: &'static str, text: &'static str) -> ToCore {
    ToCore::Reply(
        id,
        Box::new(Response::Error(ErrorPacket {
            code: Bytes::from_static(code.as_bytes()),
            text: Bytes::from_static(text.as_bytes()),
        })),
    )
}

/// An admin line: a command for the core, or the error text gearmand gives.
fn admin(id: super::ConnId, line: &[u8], shutdown_allowed: bool) -> ToCore {
    match AdminCommand::parse(line) {
        Ok(Some(AdminCommand::Shutdown { .. })) if !shutdown_allowed => ToCore::Text(
            id,
            Bytes::from_static(b"ERR UNKNOWN_COMMAND Unknown+server+commandshutdown\r\n"),
        ),
        Ok(Some(cmd)) => ToCore::Admin(id, cmd),
        Ok(None) => {
            let word = line.split(|&b| b == b' ').next().unwrap_or_default();
            let mut text = b"ERR UNKNOWN_COMMAND Unknown+server+command".to_vec();
            text.extend_from_slice(word);
            text.extend_from_slice(b"\r\n");
            ToCore::Text(id, Bytes::from(text))
        }
        Err(_) => ToCore::Text(
            id,
            Bytes::from_static(
                b"ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command\r\n",
            ),
        ),
    }
}
