//! The typed layer: requests (to the server) and responses (from it), with packet families
//! folded into one variant and decimal fields parsed.

mod request;
mod response;
mod work;

pub use request::{GrabKind, Priority, Request, Schedule, Submit, SubmitReduce};
pub use response::{ErrorPacket, JobAssign, JobStatus, Response, UniqueStatus};
pub use work::WorkUpdate;

use bytes::Bytes;

use crate::encode::Decimal;
use crate::{Direction, FieldError, Magic, MessageError, Packet};

/// Checks that `packet` may be read as a message travelling with `magic`.
fn check_direction(packet: &Packet, magic: Magic) -> Result<(), MessageError> {
    let ty = packet.ty();
    match ty.direction() {
        None | Some(Direction::None) => Err(MessageError::UnknownType(ty)),
        Some(dir) if dir.allows(magic) && packet.magic() == magic => Ok(()),
        Some(_) => Err(MessageError::WrongMagic {
            ty,
            magic: packet.magic(),
        }),
    }
}

/// Parses canonical decimal text: digits only, no sign, no leading zero (but `0` itself).
fn parse_decimal(field: &'static str, text: &[u8], max: u64) -> Result<u64, MessageError> {
    let bad = MessageError::BadNumber { field };
    if text.is_empty() || text.len() > 20 || (text.len() > 1 && text[0] == b'0') {
        return Err(bad);
    }
    let mut n: u64 = 0;
    for &b in text {
        if !b.is_ascii_digit() {
            return Err(bad);
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
            .ok_or_else(|| bad.clone())?;
    }
    if n > max {
        return Err(bad);
    }
    Ok(n)
}

fn parse_u32(field: &'static str, text: &[u8]) -> Result<u32, MessageError> {
    parse_decimal(field, text, u64::from(u32::MAX)).map(|n| n as u32)
}

fn parse_u64(field: &'static str, text: &[u8]) -> Result<u64, MessageError> {
    parse_decimal(field, text, u64::MAX)
}

/// Canonical signed decimal text: an optional `-`, then digits without a leading zero (`-0` is
/// refused, so every value has one spelling).
fn parse_i64(field: &'static str, text: &[u8]) -> Result<i64, MessageError> {
    let bad = || MessageError::BadNumber { field };
    match text.strip_prefix(b"-") {
        Some(digits) => {
            let n = parse_decimal(field, digits, 1u64 << 63)?;
            if n == 0 {
                return Err(bad());
            }
            // 1 <= n <= 2^63, so -n fits.
            Ok(0i64.wrapping_sub_unsigned(n))
        }
        None => parse_decimal(field, text, i64::MAX as u64).map(|n| n as i64),
    }
}

/// A signed decimal rendered on the stack.
pub(crate) struct SignedDecimal {
    buf: [u8; 21],
    len: usize,
}

impl SignedDecimal {
    pub(crate) fn new(n: i64) -> Self {
        let digits = Decimal::new(n.unsigned_abs());
        let digits = digits.as_bytes();
        let sign = usize::from(n < 0);
        let mut buf = [b'-'; 21];
        buf[sign..sign + digits.len()].copy_from_slice(digits);
        Self {
            buf,
            len: sign + digits.len(),
        }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// `None` for an empty field (python gear's server leaves them empty), else a number.
fn parse_opt_u32(field: &'static str, text: &[u8]) -> Result<Option<u32>, MessageError> {
    if text.is_empty() {
        return Ok(None);
    }
    parse_u32(field, text).map(Some)
}

fn parse_flag(field: &'static str, text: &[u8]) -> Result<bool, MessageError> {
    match text {
        b"0" => Ok(false),
        b"1" => Ok(true),
        _ => Err(MessageError::BadNumber { field }),
    }
}

/// A free-text field: anything but NUL.
fn text_field(what: &'static str, bytes: Bytes) -> Result<Bytes, FieldError> {
    crate::types::check_field(what, &bytes, 0, usize::MAX)?;
    Ok(bytes)
}

fn flag(b: bool) -> &'static [u8] {
    if b {
        b"1"
    } else {
        b"0"
    }
}

fn opt_decimal(n: Option<u32>) -> Option<Decimal> {
    n.map(|n| Decimal::new(u64::from(n)))
}

fn opt_bytes(d: &Option<Decimal>) -> &[u8] {
    d.as_ref().map_or(&[], Decimal::as_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_canonical() {
        assert_eq!(parse_u32("n", b"0"), Ok(0));
        assert_eq!(parse_u32("n", b"4294967295"), Ok(u32::MAX));
        for bad in [
            &b""[..],
            b"4294967296",
            b"01",
            b"+1",
            b"-1",
            b" 1",
            b"1x",
            b"50%",
        ] {
            assert!(parse_u32("n", bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_u64("n", b"18446744073709551615"), Ok(u64::MAX));
        assert!(parse_u64("n", b"18446744073709551616").is_err());
        assert_eq!(parse_opt_u32("n", b""), Ok(None));
        assert_eq!(parse_i64("n", b"-1"), Ok(-1));
        for n in [0i64, 5, -1, -12345, i64::MIN, i64::MAX] {
            assert_eq!(SignedDecimal::new(n).as_bytes(), n.to_string().as_bytes());
        }
        assert_eq!(parse_i64("n", b"-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(parse_i64("n", b"9223372036854775807"), Ok(i64::MAX));
        for bad in [
            &b"-0"[..],
            b"-",
            b"--1",
            b"-01",
            b"9223372036854775808",
            b"-9223372036854775809",
        ] {
            assert!(parse_i64("n", bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_flag("f", b"1"), Ok(true));
        assert!(parse_flag("f", b"2").is_err());
    }
}
