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

/// The length of a field from [`Packet::bounds`].
fn span((start, end): (usize, usize)) -> usize {
    end - start
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
    use crate::{FunctionName, JobHandle, PacketType, UniqueId};
    use proptest::prelude::*;

    /// The job packets as decoded before their fields were checked ahead of cutting: split, then
    /// check each field in order.
    fn reference(packet: Packet) -> Result<Vec<Bytes>, MessageError> {
        let ty = packet.ty();
        let fields: Vec<Bytes> = match ty {
            PacketType::JOB_ASSIGN => {
                let [h, f, d] = packet.into_split::<3>();
                JobHandle::from_inner(h.clone())?;
                FunctionName::from_inner(f.clone())?;
                vec![h, f, d]
            }
            PacketType::JOB_ASSIGN_UNIQ => {
                let [h, f, u, d] = packet.into_split::<4>();
                JobHandle::from_inner(h.clone())?;
                FunctionName::from_inner(f.clone())?;
                UniqueId::from_inner(u.clone())?;
                vec![h, f, u, d]
            }
            PacketType::JOB_ASSIGN_ALL => {
                let [h, f, u, r, d] = packet.into_split::<5>();
                JobHandle::from_inner(h.clone())?;
                FunctionName::from_inner(f.clone())?;
                UniqueId::from_inner(u.clone())?;
                FunctionName::from_inner(r.clone())?;
                vec![h, f, u, r, d]
            }
            PacketType::SUBMIT_JOB_BG => {
                let [f, u, d] = packet.into_split::<3>();
                FunctionName::from_inner(f.clone())?;
                UniqueId::from_inner(u.clone())?;
                vec![f, u, d]
            }
            _ => {
                let [h, d] = packet.into_split::<2>();
                JobHandle::from_inner(h.clone())?;
                vec![h, d]
            }
        };
        Ok(fields)
    }

    /// The fields of the typed message, in wire order.
    fn fields_of(packet: &Packet) -> Result<Vec<Bytes>, MessageError> {
        Ok(match packet.magic() {
            Magic::Res => match Response::try_from(packet.clone())? {
                Response::JobAssign(a) => {
                    let mut v = vec![a.handle.into_bytes(), a.function.into_bytes()];
                    v.extend(a.unique.map(UniqueId::into_bytes));
                    v.extend(a.reducer.map(FunctionName::into_bytes));
                    v.push(a.data);
                    v
                }
                Response::Work(WorkUpdate::Complete { handle, data }) => {
                    vec![handle.into_bytes(), data]
                }
                other => panic!("{other:?}"),
            },
            Magic::Req => match Request::try_from(packet.clone())? {
                Request::Submit(s) => vec![s.function.into_bytes(), s.unique.into_bytes(), s.data],
                other => panic!("{other:?}"),
            },
        })
    }

    proptest! {
        #[test]
        fn checked_before_cut_decodes_as_split_then_checked(
            which in 0usize..5,
            lens in prop::collection::vec(0usize..70, 5),
            data in prop::collection::vec(any::<u8>(), 0..20),
        ) {
            let (ty, magic, arity) = [
                (PacketType::JOB_ASSIGN, Magic::Res, 3),
                (PacketType::JOB_ASSIGN_UNIQ, Magic::Res, 4),
                (PacketType::JOB_ASSIGN_ALL, Magic::Res, 5),
                (PacketType::SUBMIT_JOB_BG, Magic::Req, 3),
                (PacketType::WORK_COMPLETE, Magic::Res, 2),
            ][which];
            let mut body = Vec::new();
            for (i, len) in lens.iter().take(arity - 1).enumerate() {
                body.extend(std::iter::repeat_n(b'a' + i as u8, *len));
                body.push(0);
            }
            body.extend_from_slice(&data);
            let packet = Packet::new(magic, ty, Bytes::from(body)).expect("shape");
            prop_assert_eq!(fields_of(&packet), reference(packet.clone()));
            let [first] = packet.clone().into_split::<1>();
            prop_assert_eq!(first, packet.body().clone());
            for k in 0..arity {
                let (start, end) = packet.bounds(k, arity);
                prop_assert!(start <= end && end <= packet.body().len());
            }
        }
    }

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
