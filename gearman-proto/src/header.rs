//! The 12-byte packet header: magic, type and payload size.

use bytes::BufMut;

use crate::{DecodeError, Magic, PacketType};

/// Size of every binary packet header.
pub const HEADER_LEN: usize = 12;

/// A parsed packet header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Request or response.
    pub magic: Magic,
    /// Packet type (possibly outside the table).
    pub ty: PacketType,
    /// Payload size in bytes.
    pub len: u32,
}

impl Header {
    /// Parses a header from the start of `input`: `Ok(None)` while fewer than 12 bytes are there.
    ///
    /// A magic that cannot match is reported as soon as its first differing byte arrives, so a
    /// stream of garbage fails at once instead of waiting for 12 bytes.
    #[inline]
    pub fn parse(input: &[u8]) -> Result<Option<Self>, DecodeError> {
        let Some(bytes) = input.first_chunk::<HEADER_LEN>() else {
            return Self::incomplete(input);
        };
        let [m0, m1, m2, m3, t0, t1, t2, t3, l0, l1, l2, l3] = *bytes;
        let magic = [m0, m1, m2, m3];
        let magic = Magic::from_bytes(magic).ok_or(DecodeError::BadMagic(magic))?;
        Ok(Some(Self {
            magic,
            ty: PacketType(u32::from_be_bytes([t0, t1, t2, t3])),
            len: u32::from_be_bytes([l0, l1, l2, l3]),
        }))
    }

    /// Fewer than 12 bytes: wait for more, unless the magic already cannot match.
    #[cold]
    fn incomplete(input: &[u8]) -> Result<Option<Self>, DecodeError> {
        match input.get(..4).unwrap_or(input) {
            seen if b"\0REQ".starts_with(seen) || b"\0RES".starts_with(seen) => Ok(None),
            seen => {
                let mut bad = [0u8; 4];
                bad[..seen.len()].copy_from_slice(seen);
                Err(DecodeError::BadMagic(bad))
            }
        }
    }

    /// Appends the 12 header bytes to `buf`.
    pub fn encode(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.to_bytes());
    }

    /// The 12 header bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..4].copy_from_slice(&self.magic.bytes());
        out[4..8].copy_from_slice(&self.ty.0.to_be_bytes());
        out[8..].copy_from_slice(&self.len.to_be_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_encodes() {
        let bytes = b"\0REQ\0\0\0\x10\0\0\0\x0b";
        let h = Header::parse(bytes).unwrap().unwrap();
        assert_eq!(
            h,
            Header {
                magic: Magic::Req,
                ty: PacketType::ECHO_REQ,
                len: 11
            }
        );
        let mut out = Vec::new();
        h.encode(&mut out);
        assert_eq!(out, bytes);
    }

    #[test]
    fn incomplete_and_bad() {
        for n in 0..12 {
            assert_eq!(Header::parse(&b"\0RES\0\0\0\x06\0\0\0\0"[..n]), Ok(None));
        }
        assert_eq!(
            Header::parse(b"G"),
            Err(DecodeError::BadMagic([b'G', 0, 0, 0]))
        );
        assert_eq!(
            Header::parse(b"\0REX\0\0\0\x06\0\0\0\0"),
            Err(DecodeError::BadMagic(*b"\0REX"))
        );
    }
}
