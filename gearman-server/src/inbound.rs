//! What a connection does with each frame it decodes, without IO: a request or admin command
//! for the core, an answer of its own (an ERROR for a packet it refuses, gearmand's text for an
//! unknown admin command), or a close. The listener and the fuzz target share it.

use bytes::Bytes;
use gearman_proto::admin::AdminCommand;
use gearman_proto::{
    DecodeError, ErrorPacket, FieldError, Frame, Magic, MessageError, Request, Response,
};

/// One decoded frame, sorted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inbound {
    /// A request for the core.
    Request(Box<Request>),
    /// An admin command for the core.
    Admin(AdminCommand),
    /// Answer with this (an ERROR), in order with the core's answers; the stream is in step.
    Reply(Box<Response>),
    /// Answer with this admin text.
    Text(Bytes),
    /// Close the connection: nothing after this can be trusted.
    Close(&'static str),
}

fn error(code: &'static str, text: &'static str) -> Inbound {
    Inbound::Reply(Box::new(Response::Error(ErrorPacket {
        code: Bytes::from_static(code.as_bytes()),
        text: Bytes::from_static(text.as_bytes()),
    })))
}

/// Sorts the decoder's result for one frame. `admin_shutdown` says whether `shutdown` goes to
/// the core or is answered as gearmand 1.1.20 answers it.
pub fn classify(decoded: Result<Frame, DecodeError>, admin_shutdown: bool) -> Inbound {
    match decoded {
        Ok(Frame::Text(line)) => admin(&line, admin_shutdown),
        Ok(Frame::Packet(p)) => match Request::try_from(p) {
            Ok(req) => Inbound::Request(Box::new(req)),
            // A response sent with RES magic: answered as gearmand does.
            Err(MessageError::WrongMagic {
                magic: Magic::Res, ..
            }) => error("INVALID_MAGIC", "Request magic expected"),
            // A server-to-client type with REQ magic.
            Err(MessageError::WrongMagic { .. }) => {
                error("INVALID_COMMAND", "Command not expected")
            }
            Err(MessageError::UnknownType(_)) => Inbound::Close("unknown packet type"),
            // A number field that is not one (gearmand reads it as 0).
            Err(MessageError::BadNumber { .. }) => {
                error("INVALID_ARGUMENT", "Not a decimal number in range")
            }
            // A field past a limit (a 64-byte unique, say).
            Err(MessageError::Field(FieldError::TooLong { .. })) => {
                error("ARGUMENT_TOO_LARGE", "Argument refused")
            }
            // An empty name, or a NUL inside one (gearmand would register another function).
            Err(_) => error("INVALID_ARGUMENT", "Empty or NUL-bearing argument"),
        },
        // A malformed packet was consumed whole: answered, and the stream goes on.
        Err(e) if !e.is_fatal() => error("INVALID_PACKET", "Malformed packet"),
        // Bad magic, a body past the cap, an endless admin line.
        Err(_) => Inbound::Close("fatal framing error"),
    }
}

fn admin(line: &[u8], shutdown_allowed: bool) -> Inbound {
    match AdminCommand::parse(line) {
        Ok(Some(AdminCommand::Shutdown { .. })) if !shutdown_allowed => Inbound::Text(
            Bytes::from_static(b"ERR UNKNOWN_COMMAND Unknown+server+commandshutdown\r\n"),
        ),
        Ok(Some(cmd)) => Inbound::Admin(cmd),
        Ok(None) => {
            let word = line.split(|&b| b == b' ').next().unwrap_or_default();
            let mut text = b"ERR UNKNOWN_COMMAND Unknown+server+command".to_vec();
            text.extend_from_slice(word);
            text.extend_from_slice(b"\r\n");
            Inbound::Text(Bytes::from(text))
        }
        Err(_) => Inbound::Text(Bytes::from_static(
            b"ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command\r\n",
        )),
    }
}
