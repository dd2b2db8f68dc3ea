//! Minimal raw packet helpers, independent of gearman-proto so that the codec's own tests can
//! check it against bytes it did not produce.

use std::io::{self, Read, Write};

/// A packet as read off the wire: magic, type and payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawPacket {
    /// The 4-byte magic.
    pub magic: [u8; 4],
    /// The packet type.
    pub ty: u32,
    /// The payload.
    pub body: Vec<u8>,
}

/// Builds a request packet: `\0REQ`, type, size, fields joined by NUL.
pub fn raw_packet(ty: u32, fields: &[&[u8]]) -> Vec<u8> {
    let body = fields.join(&0u8);
    let mut out = Vec::with_capacity(12 + body.len());
    out.extend_from_slice(b"\0REQ");
    out.extend_from_slice(&ty.to_be_bytes());
    out.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// Reads one packet (the stream should have a read timeout set); refuses payloads over 64 MiB.
pub fn read_packet(stream: &mut impl Read) -> io::Result<RawPacket> {
    let mut header = [0u8; 12];
    stream.read_exact(&mut header)?;
    let magic = [header[0], header[1], header[2], header[3]];
    let ty = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
    let len = u32::from_be_bytes([header[8], header[9], header[10], header[11]]);
    if len > 64 << 20 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "payload over 64 MiB",
        ));
    }
    let mut body = vec![0u8; len as usize];
    stream.read_exact(&mut body)?;
    Ok(RawPacket { magic, ty, body })
}

/// Sends an ECHO_REQ and checks the ECHO_RES.
pub(crate) fn echo(stream: &mut (impl Read + Write), payload: &[u8]) -> io::Result<bool> {
    stream.write_all(&raw_packet(16, &[payload]))?;
    let p = read_packet(stream)?;
    Ok(p.magic == *b"\0RES" && p.ty == 17 && p.body == payload)
}
