//! Cutting packets (and admin text lines) out of a receive buffer.

use bytes::{Buf, Bytes, BytesMut};

use crate::header::{Header, HEADER_LEN};
use crate::packet::check_shape;
use crate::{DecodeError, Packet};

/// Default cap on a packet payload: 64 MiB.
pub const DEFAULT_MAX_BODY: u32 = 64 * 1024 * 1024;
/// Default cap on an admin text line: gearmand's 8 KiB receive buffer.
pub const DEFAULT_MAX_LINE: usize = 8192;

/// What a server reads from a connection: a binary packet or an admin text line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// A binary packet.
    Packet(Packet),
    /// An admin text line, without its `\n` or `\r\n`.
    Text(Bytes),
}

/// Cuts packets out of a `BytesMut` receive buffer.
///
/// The header is checked first, and the declared size is held against the cap before anything
/// else happens; the decoder itself never reserves memory, so a peer that claims 4 GiB costs
/// nothing beyond the bytes it really sends. Each packet is split off the buffer once and frozen:
/// its fields are slices of that one allocation.
#[derive(Clone, Copy, Debug)]
pub struct Decoder {
    max_body: u32,
    max_line: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// A decoder with the default caps.
    pub const fn new() -> Self {
        Self {
            max_body: DEFAULT_MAX_BODY,
            max_line: DEFAULT_MAX_LINE,
        }
    }

    /// Sets the largest payload accepted.
    pub const fn with_max_body(mut self, max_body: u32) -> Self {
        self.max_body = max_body;
        self
    }

    /// Sets the longest admin text line accepted.
    pub const fn with_max_line(mut self, max_line: usize) -> Self {
        self.max_line = max_line;
        self
    }

    /// The payload cap.
    pub const fn max_body(&self) -> u32 {
        self.max_body
    }

    /// Decodes one binary packet: `Ok(None)` while it is incomplete.
    ///
    /// On a non-fatal error ([`DecodeError::is_fatal`]) the bad packet has been consumed.
    #[inline]
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<Packet>, DecodeError> {
        let Some(header) = Header::parse(buf)? else {
            return Ok(None);
        };
        if header.len > self.max_body {
            return Err(DecodeError::TooLarge {
                len: header.len,
                max: self.max_body,
            });
        }
        let len = header.len as usize;
        let Some(body) = buf.get(HEADER_LEN..HEADER_LEN + len) else {
            return Ok(None);
        };
        let seps = match check_shape(header.ty, body) {
            Ok(seps) => seps,
            Err(e) => {
                buf.advance(HEADER_LEN + len);
                return Err(e);
            }
        };
        buf.advance(HEADER_LEN);
        // An empty payload needs no share of the buffer.
        let body = if len == 0 {
            Bytes::new()
        } else {
            buf.split_to(len).freeze()
        };
        Ok(Some(Packet::from_checked(
            header.magic,
            header.ty,
            body,
            seps,
        )))
    }

    /// Decodes one frame as a server sees them: a packet if the next byte is NUL, otherwise an
    /// admin text line (protocol.md §1.4).
    pub fn decode_frame(&self, buf: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
        match buf.first() {
            None => Ok(None),
            Some(0) => Ok(self.decode(buf)?.map(Frame::Packet)),
            Some(_) => Ok(self.decode_line(buf)?.map(Frame::Text)),
        }
    }

    /// Decodes one text line ending in `\n` (a `\r` before it is dropped).
    pub fn decode_line(&self, buf: &mut BytesMut) -> Result<Option<Bytes>, DecodeError> {
        let window = &buf[..buf.len().min(self.max_line + 1)];
        match memchr::memchr(b'\n', window) {
            Some(i) => {
                let mut line = buf.split_to(i + 1).freeze();
                line.truncate(i);
                if line.last() == Some(&b'\r') {
                    line.truncate(i - 1);
                }
                Ok(Some(line))
            }
            None if buf.len() > self.max_line => {
                Err(DecodeError::LineTooLong { max: self.max_line })
            }
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Magic, PacketType};

    #[test]
    fn four_gib_header_is_refused_before_any_allocation() {
        let mut buf = BytesMut::from(&b"\0REQ\0\0\0\x10\xff\xff\xff\xff"[..]);
        let cap_before = buf.capacity();
        let err = Decoder::new().decode(&mut buf).unwrap_err();
        assert_eq!(
            err,
            DecodeError::TooLarge {
                len: u32::MAX,
                max: DEFAULT_MAX_BODY
            }
        );
        assert!(err.is_fatal());
        assert_eq!(buf.capacity(), cap_before);
        assert_eq!(buf.len(), 12);
    }

    #[test]
    fn incomplete_then_complete() {
        let wire = b"\0RES\0\0\0\x11\0\0\0\x03a\0b";
        let d = Decoder::new();
        let mut buf = BytesMut::new();
        for &b in &wire[..wire.len() - 1] {
            buf.extend_from_slice(&[b]);
            assert_eq!(d.decode(&mut buf), Ok(None));
        }
        buf.extend_from_slice(&wire[wire.len() - 1..]);
        let p = d.decode(&mut buf).unwrap().unwrap();
        assert_eq!((p.magic(), p.ty()), (Magic::Res, PacketType::ECHO_RES));
        assert_eq!(&p.body()[..], b"a\0b");
        assert!(buf.is_empty());
    }

    #[test]
    fn bad_shape_consumes_only_that_packet() {
        let mut buf = BytesMut::from(&b"\0REQ\0\0\0\x0c\0\0\0\x01x\0RES\0\0\0\x06\0\0\0\0"[..]);
        let d = Decoder::new();
        let err = d.decode(&mut buf).unwrap_err();
        assert!(!err.is_fatal());
        let next = d.decode(&mut buf).unwrap().unwrap();
        assert_eq!(next.ty(), PacketType::NOOP);
    }

    #[test]
    fn frames_mix_text_and_binary() {
        let mut buf = BytesMut::from(&b"status\r\n\0REQ\0\0\0\x10\0\0\0\0version\n"[..]);
        let d = Decoder::new();
        assert_eq!(
            d.decode_frame(&mut buf).unwrap(),
            Some(Frame::Text(Bytes::from_static(b"status")))
        );
        assert!(matches!(
            d.decode_frame(&mut buf).unwrap(),
            Some(Frame::Packet(_))
        ));
        assert_eq!(
            d.decode_frame(&mut buf).unwrap(),
            Some(Frame::Text(Bytes::from_static(b"version")))
        );
        assert_eq!(d.decode_frame(&mut buf).unwrap(), None);
    }

    #[test]
    fn long_line_is_refused() {
        let d = Decoder::new().with_max_line(8);
        let mut buf = BytesMut::from(&b"123456789"[..]);
        assert_eq!(
            d.decode_line(&mut buf),
            Err(DecodeError::LineTooLong { max: 8 })
        );
        let mut ok = BytesMut::from(&b"12345678\n"[..]);
        assert_eq!(d.decode_line(&mut ok).unwrap().unwrap(), "12345678");
    }
}

#[cfg(test)]
mod every_type {
    use super::*;
    use crate::{encode_fields, Magic, PacketType};

    /// Framing round trip for each of the 43 numbers: encode from fields, decode, same fields.
    #[test]
    fn all_43_types_frame_both_ways() {
        for &ty in PacketType::ALL {
            let shape = ty.shape().expect("in the table");
            let fields: Vec<Vec<u8>> = (0..shape.arity)
                .map(|i| {
                    let mut f = format!("{}-{i}", ty.0).into_bytes();
                    if shape.data && i + 1 == shape.arity {
                        f.extend_from_slice(b"\0with\0nuls");
                    }
                    f
                })
                .collect();
            let refs: Vec<&[u8]> = fields.iter().map(Vec::as_slice).collect();
            for magic in [Magic::Req, Magic::Res] {
                let mut buf = BytesMut::new();
                encode_fields(&mut buf, magic, ty, &refs).unwrap();
                let p = Decoder::new().decode(&mut buf).unwrap().unwrap();
                assert!(buf.is_empty());
                assert_eq!((p.magic(), p.ty()), (magic, ty));
                let got: Vec<&[u8]> = p.fields().collect();
                assert_eq!(got, refs, "{ty:?}");
            }
        }
    }
}
