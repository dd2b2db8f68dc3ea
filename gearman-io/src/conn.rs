//! What both drivers share around one connection: the options, why a connection ended, reading
//! typed responses off the socket, and the reconnect loop.

use std::future::Future;

use bytes::BytesMut;
use gearman_proto::codec::{CodecError, GearmanCodec};
use gearman_proto::{DecodeError, MessageError, Response};
use tokio_util::codec::Decoder as _;

use crate::{ConnectError, ConnectOptions, ReconnectOptions, ServerStates};

/// How a runtime opens and re-opens its connections.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnectionOptions {
    /// Opening one connection.
    pub connect: ConnectOptions,
    /// The delays between attempts.
    pub reconnect: ReconnectOptions,
}

/// The server sent something that is not a response this side can read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// Bytes that are not a packet (bad magic, a header over the size cap).
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A packet that is not a valid response (unknown type, wrong magic, a bad field).
    #[error(transparent)]
    Message(#[from] MessageError),
    /// The codec failed otherwise (it reads no socket, so this does not happen in practice).
    #[error("io: {0}")]
    Io(std::io::Error),
}

/// Why a connection ended.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Closed {
    /// The server closed it.
    #[error("closed by the server")]
    ByServer,
    /// Reading or writing failed.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// The server sent something unreadable.
    #[error("unreadable response: {0}")]
    Read(#[from] ReadError),
    /// The server sent a response the connection's state does not allow.
    #[error("protocol: {0}")]
    Protocol(String),
    /// A request went unanswered past its deadline: replies can no longer be matched.
    #[error("a request went unacknowledged: replies can no longer be matched")]
    OutOfStep,
    /// The heartbeat ECHO went unanswered.
    #[error("no answer to the heartbeat")]
    HeartbeatTimeout,
    /// The runtime is shutting down (or its handle was dropped): no reconnect.
    #[error("shut down")]
    Finished,
}

/// Reads typed responses from a connection's read buffer, through `gearman_proto`'s tokio codec.
#[derive(Clone, Copy, Debug, Default)]
pub struct ResponseReader {
    codec: GearmanCodec,
}

impl ResponseReader {
    /// A reader with the default packet size cap.
    pub fn new() -> Self {
        Self::default()
    }

    /// The next whole response in `buf`; `Ok(None)` while it is incomplete. An error means the
    /// server broke the protocol and the connection should be closed.
    pub fn next(&mut self, buf: &mut BytesMut) -> Result<Option<Response>, ReadError> {
        match self.codec.decode(buf) {
            Ok(Some(packet)) => Ok(Some(Response::try_from(packet)?)),
            Ok(None) => Ok(None),
            Err(CodecError::Decode(e)) => Err(ReadError::Decode(e)),
            Err(CodecError::Io(e)) => Err(ReadError::Io(e)),
            Err(e) => Err(ReadError::Io(std::io::Error::other(e.to_string()))),
        }
    }
}

/// One driver of the reconnect loop: what it does with a connection, and while it has none.
pub trait Session {
    /// A connection is open: get ready to use it (the runtime's callers see the server as up
    /// right after this returns).
    fn connected(&mut self) {}

    /// Serves one connection until it ends.
    fn serve(&mut self, stream: crate::Stream) -> impl Future<Output = Closed> + Send;

    /// Waits out the pause before the next attempt, answering what comes meanwhile (a client
    /// refuses requests at once so they can go to another server). Returns `false` to stop for
    /// good.
    fn pause(&mut self, delay: std::time::Duration) -> impl Future<Output = bool> + Send;

    /// Whether to stop before the next attempt (the runtime is shutting down).
    fn stopping(&self) -> bool {
        false
    }
}

/// Connects to `addr`, serves, and reconnects with backoff until the session stops, keeping
/// `states[slot]` current (which logs the first failure of each kind at WARN).
pub async fn run_session<S: Session + Send>(
    session: &mut S,
    addr: &str,
    options: &ConnectionOptions,
    states: &ServerStates,
    slot: usize,
) {
    serve_until_stopped(session, addr, options, states, slot).await;
    states.set_closed(slot);
}

async fn serve_until_stopped<S: Session + Send>(
    session: &mut S,
    addr: &str,
    options: &ConnectionOptions,
    states: &ServerStates,
    slot: usize,
) {
    let mut backoff = options.reconnect.backoff(addr);
    loop {
        if session.stopping() {
            return;
        }
        match crate::connect(addr, &options.connect).await {
            Ok(stream) => {
                backoff.reset();
                session.connected();
                states.set_up(slot);
                match session.serve(stream).await {
                    Closed::Finished => return,
                    other => states.set_down(slot, ConnectError::lost(addr, other)),
                }
            }
            Err(e) => states.set_down(slot, ConnectError::from_io(addr, &e)),
        }
        if session.stopping() || !session.pause(backoff.next_delay()).await {
            return;
        }
    }
}
