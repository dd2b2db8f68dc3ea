//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`). Each asserts an invariant,
//! not only the absence of a panic.

use bytes::BytesMut;

use crate::admin::{AdminCommand, AdminReply, ReplyReader};
use crate::{Decoder, Frame, Packet, PacketType, Request, Response};

const SMALL_CAP: u32 = 1 << 20;

/// Decodes `input` fed in pieces of `chunk` bytes, stopping at the first fatal error; returns the
/// frames (errors as `Err(fatal)`) and how many bytes were consumed.
fn decode_all(decoder: &Decoder, input: &[u8], chunk: usize) -> (Vec<Result<Frame, bool>>, usize) {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut fed = 0;
    for piece in input.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        fed += piece.len();
        loop {
            match decoder.decode_frame(&mut buf) {
                Ok(Some(frame)) => out.push(Ok(frame)),
                Ok(None) => break,
                Err(e) if e.is_fatal() => {
                    out.push(Err(true));
                    return (out, fed - buf.len());
                }
                Err(_) => out.push(Err(false)),
            }
        }
    }
    (out, fed - buf.len())
}

/// Framing: every decoded packet re-encodes to exactly the bytes it consumed, and decoding in
/// chunks of any size gives the same frames as decoding at once.
pub fn framing(data: &[u8]) {
    let Some((&chunk, input)) = data.split_first() else {
        return;
    };
    let decoder = Decoder::new().with_max_body(SMALL_CAP).with_max_line(256);
    let (whole, consumed) = decode_all(&decoder, input, input.len());
    let (pieces, consumed_chunked) = decode_all(&decoder, input, usize::from(chunk));
    assert_eq!(whole, pieces, "chunked decoding differs");
    assert_eq!(consumed, consumed_chunked);
    // Re-encode and compare with the consumed input, frame by frame.
    let mut rebuilt = Vec::new();
    let mut buf = BytesMut::from(input);
    for frame in &whole {
        match frame {
            Ok(Frame::Packet(p)) => {
                p.encode(&mut rebuilt).expect("a decoded packet encodes");
                let _ = decoder.decode_frame(&mut buf);
            }
            Ok(Frame::Text(_)) | Err(_) => {
                // Text lines drop their line ending and bad packets are skipped: re-sync on the
                // input itself.
                let before = buf.len();
                let _ = decoder.decode_frame(&mut buf);
                let taken = &input[input.len() - before..input.len() - buf.len()];
                rebuilt.extend_from_slice(taken);
            }
        }
    }
    assert_eq!(&rebuilt[..], &input[..consumed]);
}

fn strip_fail_nul(packet: &Packet, wire: &[u8]) -> Vec<u8> {
    let mut expected = wire.to_vec();
    if packet.ty() == PacketType::WORK_FAIL && packet.body().last() == Some(&0) {
        expected.pop();
        let len = (expected.len() - 12) as u32;
        expected[8..12].copy_from_slice(&len.to_be_bytes());
    }
    expected
}

/// Typed layer: a packet that parses as a request or response encodes back to its own bytes
/// (a WORK_FAIL loses its tolerated trailing NUL) and parses again to the same message.
pub fn message(data: &[u8]) {
    let decoder = Decoder::new().with_max_body(SMALL_CAP);
    let mut buf = BytesMut::from(data);
    loop {
        let packet = match decoder.decode(&mut buf) {
            Ok(Some(packet)) => packet,
            Ok(None) => return,
            Err(e) if e.is_fatal() => return,
            Err(_) => continue,
        };
        let mut wire = Vec::new();
        packet.encode(&mut wire).expect("a decoded packet encodes");
        let expected = strip_fail_nul(&packet, &wire);
        if let Ok(req) = Request::from_packet(&packet) {
            let bytes = req.to_bytes().expect("a decoded request encodes");
            assert_eq!(&bytes[..], &expected[..], "{req:?}");
            let again = decoder
                .decode(&mut BytesMut::from(&bytes[..]))
                .expect("re-decodes");
            assert_eq!(again.map(|p| Request::from_packet(&p)), Some(Ok(req)));
        }
        if let Ok(res) = Response::from_packet(&packet) {
            let bytes = res.to_bytes().expect("a decoded response encodes");
            assert_eq!(&bytes[..], &expected[..], "{res:?}");
            let again = decoder
                .decode(&mut BytesMut::from(&bytes[..]))
                .expect("re-decodes");
            assert_eq!(again.map(|p| Response::from_packet(&p)), Some(Ok(res)));
        }
    }
}

fn commands() -> Vec<AdminCommand> {
    let f = crate::FunctionName::try_from("f").expect("valid");
    let h = crate::JobHandle::try_from("H:x:1").expect("valid");
    vec![
        AdminCommand::Status,
        AdminCommand::PriorityStatus,
        AdminCommand::Workers,
        AdminCommand::ShowJobs,
        AdminCommand::ShowUniqueJobs,
        AdminCommand::Version,
        AdminCommand::CancelJob(h),
        AdminCommand::DropFunction(f),
    ]
}

/// Whether the last field of some line ends in `\r`, which the text format cannot carry.
fn ends_in_cr(reply: &AdminReply) -> bool {
    let cr = |b: &[u8]| b.last() == Some(&b'\r');
    match reply {
        AdminReply::Workers(rows) => rows
            .iter()
            .any(|r| r.functions.last().is_some_and(|f| cr(f))),
        AdminReply::UniqueJobs(lines) => lines.iter().any(|l| cr(l)),
        AdminReply::Ok(text) => cr(text),
        AdminReply::Err(e) => cr(&e.text) || (e.text.is_empty() && cr(&e.code)),
        _ => false,
    }
}

/// Admin text: a reply that parses writes back to text that parses to the same reply, and a
/// command line that parses encodes to a line that parses to the same command.
pub fn admin(data: &[u8]) {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    let cmds = commands();
    let cmd = &cmds[usize::from(selector) % cmds.len()];
    let mut reader = ReplyReader::with_max(1 << 16);
    let mut buf = BytesMut::from(input);
    if let Ok(Some(reply)) = reader.read(cmd, &mut buf) {
        if ends_in_cr(&reply) {
            // A value ending in CR cannot be told from a CRLF line ending: not representable.
            return;
        }
        let mut text = BytesMut::new();
        reply.encode(&mut text);
        let again = ReplyReader::new().read(cmd, &mut text);
        assert_eq!(again, Ok(Some(reply)));
        assert!(text.is_empty(), "encoding left bytes unread");
    }
    let line = input.split(|&b| b == b'\n').next().unwrap_or_default();
    if let Ok(Some(parsed)) = AdminCommand::parse(line) {
        let mut text = Vec::new();
        if parsed.encode(&mut text).is_ok() {
            let reparsed = AdminCommand::parse(&text[..text.len() - 2]);
            assert_eq!(reparsed, Ok(Some(parsed)));
        }
    }
}
