//! Writing packets from their fields, straight into the send buffer.

use bytes::BufMut;

use crate::header::Header;
use crate::{EncodeError, Magic, PacketType};

/// Appends a packet made of `fields`, joined by single NULs and never followed by one.
///
/// The fields must match the type's shape in number, and no field may hold a NUL except the opaque
/// data part of a data-carrying type (the last field). Everything is checked before the first
/// byte is written, so on error `buf` is unchanged. Nothing is allocated besides what `buf` grows by.
pub fn encode_fields(
    buf: &mut impl BufMut,
    magic: Magic,
    ty: PacketType,
    fields: &[&[u8]],
) -> Result<(), EncodeError> {
    let data_last = match ty.shape() {
        Some(shape) => {
            if fields.len() != usize::from(shape.arity) {
                return Err(EncodeError::Arity {
                    ty,
                    expected: shape.arity,
                    got: fields.len(),
                });
            }
            shape.data
        }
        None => true,
    };
    let mut len = fields.len().saturating_sub(1);
    for (index, field) in fields.iter().enumerate() {
        let opaque = data_last && index + 1 == fields.len();
        if !opaque && memchr::memchr(0, field).is_some() {
            return Err(EncodeError::NulInField { ty, index });
        }
        len += field.len();
    }
    let len32 = u32::try_from(len).map_err(|_| EncodeError::BodyTooLarge { len })?;
    Header {
        magic,
        ty,
        len: len32,
    }
    .encode(buf);
    for (index, field) in fields.iter().enumerate() {
        if index > 0 {
            buf.put_u8(0);
        }
        buf.put_slice(field);
    }
    Ok(())
}

/// A decimal number rendered on the stack.
pub(crate) struct Decimal {
    digits: [u8; 20],
    start: usize,
}

impl Decimal {
    pub(crate) fn new(mut n: u64) -> Self {
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        loop {
            start -= 1;
            digits[start] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        Self { digits, start }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.digits[self.start..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_without_trailing_nul() {
        let mut out = Vec::new();
        encode_fields(
            &mut out,
            Magic::Req,
            PacketType::WORK_STATUS,
            &[b"H:1", b"3", b"10"],
        )
        .unwrap();
        assert_eq!(out, b"\0REQ\0\0\0\x0c\0\0\0\x08H:1\x003\x0010");
    }

    #[test]
    fn refuses_nul_outside_data_and_leaves_buffer_untouched() {
        let mut out = Vec::new();
        let err = encode_fields(&mut out, Magic::Req, PacketType::CAN_DO, &[b"fn\0"]).unwrap_err();
        assert_eq!(
            err,
            EncodeError::NulInField {
                ty: PacketType::CAN_DO,
                index: 0
            }
        );
        assert!(out.is_empty());
        encode_fields(
            &mut out,
            Magic::Req,
            PacketType::SUBMIT_JOB,
            &[b"f", b"", b"a\0b"],
        )
        .unwrap();
        assert_eq!(&out[12..], b"f\0\0a\0b");
    }

    #[test]
    fn arity_must_match() {
        let mut out = Vec::new();
        assert!(matches!(
            encode_fields(&mut out, Magic::Req, PacketType::GRAB_JOB, &[b""]),
            Err(EncodeError::Arity { .. })
        ));
        encode_fields(&mut out, Magic::Req, PacketType::GRAB_JOB, &[]).unwrap();
        assert_eq!(out, b"\0REQ\0\0\0\x09\0\0\0\0");
    }

    #[test]
    fn decimals() {
        for n in [0u64, 7, 10, 4294967295, u64::MAX] {
            assert_eq!(Decimal::new(n).as_bytes(), n.to_string().as_bytes());
        }
    }
}
