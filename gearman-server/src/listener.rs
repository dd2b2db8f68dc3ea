//! The tokio listener: one task per connection, one task owning the core; bounded output per
//! connection, so a reader that stops reading is disconnected instead of growing the server.

use std::collections::HashMap;
use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use gearman_proto::admin::AdminCommand;
use gearman_proto::{Decoder, Frame, Magic, MessageError, Request, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::debug;

use crate::core::{ConnId, CoreConfig, ServerCore};

/// Responses a connection may have unsent before it counts as a reader that stopped reading.
pub const OUTPUT_QUEUE: usize = 4096;

enum ToCore {
    Open(SocketAddr, mpsc::Sender<Bytes>, oneshot::Sender<ConnId>),
    Request(ConnId, Box<Request>),
    Admin(ConnId, AdminCommand),
    /// Bytes for a connection, sent in order with the core's own answers.
    Raw(ConnId, Bytes),
    Closed(ConnId),
}

/// A running server; stopped by [`shutdown`](Self::shutdown) or on drop.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    accept: JoinHandle<()>,
    core: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.accept.abort();
        self.core.abort();
    }
}

impl Server {
    /// Binds `addr` (port 0 picks a free one) and starts serving.
    pub async fn bind(addr: impl ToSocketAddrs, config: CoreConfig) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (to_core, from_conns) = mpsc::channel(8192);
        let core = tokio::spawn(run_core(ServerCore::new(config), from_conns));
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve(stream, peer, to_core.clone()));
            }
        });
        Ok(Self { addr, accept, core })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and drops every connection.
    pub fn shutdown(self) {
        drop(self);
    }
}

async fn run_core(mut core: ServerCore, mut rx: mpsc::Receiver<ToCore>) {
    let mut outputs: HashMap<ConnId, mpsc::Sender<Bytes>> = HashMap::new();
    let mut buf = BytesMut::new();
    while let Some(msg) = rx.recv().await {
        match msg {
            ToCore::Open(peer, out, reply) => {
                let id = core.connect();
                core.set_peer(id, peer);
                outputs.insert(id, out);
                let _ = reply.send(id);
            }
            ToCore::Request(id, req) => core.handle(id, *req),
            ToCore::Admin(id, cmd) => {
                let reply = core.admin(&cmd);
                let mut text = BytesMut::new();
                reply.encode(&mut text);
                if let Some(out) = outputs.get(&id) {
                    let _ = out.try_send(text.freeze());
                }
            }
            ToCore::Raw(id, bytes) => {
                if let Some(out) = outputs.get(&id) {
                    let _ = out.try_send(bytes);
                }
            }
            ToCore::Closed(id) => {
                core.disconnect(id);
                outputs.remove(&id);
            }
        }
        while let Some((to, res)) = core.poll_output() {
            buf.clear();
            if res.encode(&mut buf).is_err() {
                continue;
            }
            let full = match outputs.get(&to) {
                Some(out) => out.try_send(buf.split().freeze()).is_err(),
                None => false,
            };
            if full {
                // It stopped reading: drop it (its jobs are re-queued) rather than buffer more.
                debug!(conn = to.0, "output queue full: disconnecting");
                outputs.remove(&to);
                core.disconnect(to);
            }
        }
    }
}

async fn serve(stream: TcpStream, peer: SocketAddr, core: mpsc::Sender<ToCore>) {
    let (mut rd, mut wr) = stream.into_split();
    let (out_tx, mut out_rx) = mpsc::channel::<Bytes>(OUTPUT_QUEUE);
    let (id_tx, id_rx) = oneshot::channel();
    if core.send(ToCore::Open(peer, out_tx, id_tx)).await.is_err() {
        return;
    }
    let Ok(id) = id_rx.await else { return };
    let writer = tokio::spawn(async move {
        while let Some(bytes) = out_rx.recv().await {
            if wr.write_all(&bytes).await.is_err() {
                break;
            }
        }
    });
    let decoder = Decoder::new();
    let mut buf = BytesMut::with_capacity(16 * 1024);
    'conn: loop {
        match rd.read_buf(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        loop {
            let msg = match decoder.decode_frame(&mut buf) {
                Ok(None) => break,
                Ok(Some(Frame::Text(line))) => match AdminCommand::parse(&line) {
                    Ok(Some(cmd)) => ToCore::Admin(id, cmd),
                    Ok(None) => {
                        let word = line.split(|&b| b == b' ').next().unwrap_or_default();
                        let mut text = b"ERR UNKNOWN_COMMAND Unknown+server+command".to_vec();
                        text.extend_from_slice(word);
                        text.extend_from_slice(b"\r\n");
                        ToCore::Raw(id, Bytes::from(text))
                    }
                    Err(_) => ToCore::Raw(id, Bytes::from_static(b"ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command\r\n")),
                },
                Ok(Some(Frame::Packet(p))) => match Request::try_from(p) {
                    Ok(req) => ToCore::Request(id, Box::new(req)),
                    // A response type with REQ magic, or a response sent with RES magic: answer
                    // like gearmand and go on; the stream is in step.
                    Err(MessageError::WrongMagic { magic: Magic::Res, .. }) => {
                        ToCore::Raw(id, error_packet("INVALID_MAGIC", "Request magic expected"))
                    }
                    Err(MessageError::UnknownType(_)) => break 'conn,
                    Err(MessageError::WrongMagic { .. }) => {
                        ToCore::Raw(id, error_packet("INVALID_COMMAND", "Command not expected"))
                    }
                    // A field past a limit (a 64-byte unique, say): refused, the stream in step.
                    Err(_) => ToCore::Raw(id, error_packet("ARGUMENT_TOO_LARGE", "Argument refused")),
                },
                // A malformed packet was consumed: answer and go on.
                Err(e) if !e.is_fatal() => ToCore::Raw(id, error_packet("INVALID_PACKET", "Malformed packet")),
                Err(_) => break 'conn,
            };
            if core.send(msg).await.is_err() {
                break 'conn;
            }
        }
    }
    let _ = core.send(ToCore::Closed(id)).await;
    writer.abort();
}

/// An ERROR packet, encoded.
fn error_packet(code: &'static str, text: &'static str) -> Bytes {
    let res = Response::Error(gearman_proto::ErrorPacket {
        code: Bytes::from_static(code.as_bytes()),
        text: Bytes::from_static(text.as_bytes()),
    });
    res.to_bytes().unwrap_or_default()
}
