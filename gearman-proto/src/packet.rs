//! Framed packets: a borrowed view ([`PacketRef`]) and an owned, cheaply cloned [`Packet`].

use bytes::{Buf, BufMut, Bytes};

use crate::header::{Header, HEADER_LEN};
use crate::{DecodeError, EncodeError, Magic, PacketType};

/// Where the NUL separators of a payload are, as found when its shape was checked, so that
/// splitting into fields does not search again. At most 7 (SUBMIT_JOB_SCHED has 8 fields).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Separators {
    count: u8,
    at: [u32; 7],
}

/// Checks that `body` has the field shape of `ty` and records its separators. Types outside the
/// table pass unchecked, with none.
#[inline]
pub(crate) fn check_shape(ty: PacketType, body: &[u8]) -> Result<Separators, DecodeError> {
    let mut seps = Separators::default();
    let Some(shape) = ty.shape() else {
        return Ok(seps);
    };
    if shape.arity == 0 {
        if body.is_empty() {
            return Ok(seps);
        }
        return Err(DecodeError::UnexpectedBody {
            ty,
            len: u32::try_from(body.len()).unwrap_or(u32::MAX),
        });
    }
    // At most 7 separators (the table's largest arity is 8): one short search each, from the
    // byte after the previous one.
    let needed = (usize::from(shape.arity) - 1).min(seps.at.len());
    let mut from = 0usize;
    while usize::from(seps.count) < needed {
        let Some(i) = body.get(from..).and_then(find_nul) else {
            return Err(DecodeError::Arity {
                ty,
                expected: shape.arity,
                got: seps.count + 1,
            });
        };
        // The payload fits a u32: its size came from one.
        seps.at[usize::from(seps.count)] = u32::try_from(from + i).unwrap_or(u32::MAX);
        seps.count += 1;
        from += i + 1;
    }
    Ok(seps)
}

/// The first NUL of `bytes`. Fields before a separator are mostly short (handles, function
/// names, unique ids): the first 64 bytes are searched eight at a time in a register, which costs
/// less than setting up a vector search; longer fields go on with `memchr`.
#[inline]
fn find_nul(bytes: &[u8]) -> Option<usize> {
    const LOW: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let head = bytes.len().min(64);
    let mut words = bytes[..head].chunks_exact(8);
    let mut at = 0;
    for word in words.by_ref() {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let w = u64::from_le_bytes(w);
        // Exact for the lowest zero byte: a borrow only ever runs upwards from one.
        let zero = w.wrapping_sub(LOW) & !w & HIGH;
        if zero != 0 {
            return Some(at + (zero.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let rest = words.remainder();
    if let Some(i) = rest.iter().position(|&b| b == 0) {
        return Some(at + i);
    }
    at += rest.len();
    memchr::memchr(0, &bytes[at..]).map(|i| at + i)
}

/// Iterator over the fields of a payload: split at the first `arity - 1` NULs.
#[derive(Clone, Debug)]
pub struct Fields<'a> {
    rest: Option<&'a [u8]>,
    separators_left: usize,
}

impl<'a> Fields<'a> {
    fn new(ty: PacketType, body: &'a [u8]) -> Self {
        match ty.shape() {
            Some(shape) if shape.arity == 0 => Self {
                rest: None,
                separators_left: 0,
            },
            Some(shape) => Self {
                rest: Some(body),
                separators_left: usize::from(shape.arity) - 1,
            },
            None => Self {
                rest: Some(body),
                separators_left: 0,
            },
        }
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.rest?;
        if self.separators_left == 0 {
            self.rest = None;
            return Some(rest);
        }
        self.separators_left -= 1;
        match memchr::memchr(0, rest) {
            Some(i) => {
                self.rest = Some(&rest[i + 1..]);
                Some(&rest[..i])
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

/// A packet borrowed from a buffer; its payload has been checked against the type's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketRef<'a> {
    magic: Magic,
    ty: PacketType,
    body: &'a [u8],
}

impl<'a> PacketRef<'a> {
    /// Checks `body` against the shape of `ty` and wraps it.
    pub fn new(magic: Magic, ty: PacketType, body: &'a [u8]) -> Result<Self, DecodeError> {
        check_shape(ty, body)?;
        Ok(Self { magic, ty, body })
    }

    /// Parses one whole packet from the start of `input` without copying: `Ok(None)` while
    /// incomplete, otherwise the packet and the number of bytes it spans.
    pub fn parse(input: &'a [u8], max_body: u32) -> Result<Option<(Self, usize)>, DecodeError> {
        let Some(header) = Header::parse(input)? else {
            return Ok(None);
        };
        if header.len > max_body {
            return Err(DecodeError::TooLarge {
                len: header.len,
                max: max_body,
            });
        }
        let total = HEADER_LEN + header.len as usize;
        let Some(body) = input.get(HEADER_LEN..total) else {
            return Ok(None);
        };
        Ok(Some((Self::new(header.magic, header.ty, body)?, total)))
    }

    /// The magic.
    pub fn magic(&self) -> Magic {
        self.magic
    }

    /// The packet type.
    pub fn ty(&self) -> PacketType {
        self.ty
    }

    /// The whole payload.
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// The payload's fields, split by the type's shape (a type outside the table has one field).
    pub fn fields(&self) -> Fields<'a> {
        Fields::new(self.ty, self.body)
    }

    /// The encoded size: header plus payload.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.body.len()
    }

    /// Appends the packet to `buf`.
    pub fn encode(&self, buf: &mut impl BufMut) -> Result<(), EncodeError> {
        let len = u32::try_from(self.body.len()).map_err(|_| EncodeError::BodyTooLarge {
            len: self.body.len(),
        })?;
        Header {
            magic: self.magic,
            ty: self.ty,
            len,
        }
        .encode(buf);
        buf.put_slice(self.body);
        Ok(())
    }
}

/// An owned packet: its payload is one `Bytes` cut from the receive buffer, and every field handed
/// out is a slice of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    magic: Magic,
    ty: PacketType,
    body: Bytes,
    seps: Separators,
}

impl Packet {
    /// Checks `body` against the shape of `ty` and wraps it.
    pub fn new(magic: Magic, ty: PacketType, body: Bytes) -> Result<Self, DecodeError> {
        let seps = check_shape(ty, &body)?;
        Ok(Self {
            magic,
            ty,
            body,
            seps,
        })
    }

    /// Wraps a payload whose shape the caller has already checked.
    pub(crate) fn from_checked(
        magic: Magic,
        ty: PacketType,
        body: Bytes,
        seps: Separators,
    ) -> Self {
        Self {
            magic,
            ty,
            body,
            seps,
        }
    }

    /// The magic.
    pub fn magic(&self) -> Magic {
        self.magic
    }

    /// The packet type.
    pub fn ty(&self) -> PacketType {
        self.ty
    }

    /// The whole payload.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Gives back the payload.
    pub fn into_body(self) -> Bytes {
        self.body
    }

    /// A borrowed view.
    pub fn as_ref(&self) -> PacketRef<'_> {
        PacketRef {
            magic: self.magic,
            ty: self.ty,
            body: &self.body,
        }
    }

    /// The payload's fields as borrowed slices.
    pub fn fields(&self) -> Fields<'_> {
        Fields::new(self.ty, &self.body)
    }

    /// The first `N` fields as `Bytes` slices of the payload (no copy): split at the first
    /// `N - 1` separators, the rest in the last one. Fields past the payload's are empty.
    pub fn split<const N: usize>(&self) -> [Bytes; N] {
        self.clone().into_split()
    }

    /// Like [`split`](Self::split), consuming the packet: the separators found when the shape
    /// was checked are reused, and the last field keeps the payload's own handle.
    #[inline]
    pub fn into_split<const N: usize>(self) -> [Bytes; N] {
        let mut out = [const { Bytes::new() }; N];
        let Some(last) = N.checked_sub(1) else {
            return out;
        };
        let count = usize::from(self.seps.count).min(last);
        let mut start = 0usize;
        for (slot, &at) in out.iter_mut().zip(&self.seps.at[..count]) {
            let at = at as usize;
            // Separators were found in this payload, in increasing order: the range is in it.
            // The slot holds an empty static `Bytes`, which needs no drop.
            std::mem::forget(std::mem::replace(slot, self.body.slice(start..at)));
            start = at + 1;
        }
        let mut rest = self.body;
        rest.advance(start);
        std::mem::forget(std::mem::replace(&mut out[count], rest));
        out
    }

    /// Where field `k` of `n` starts and ends (the last runs to the end of the payload), as
    /// [`into_split`](Self::into_split) would cut them: for checking fields before cutting.
    #[inline]
    pub(crate) fn bounds(&self, k: usize, n: usize) -> (usize, usize) {
        let count = usize::from(self.seps.count).min(n.saturating_sub(1));
        let start = match k.checked_sub(1) {
            None => 0,
            Some(prev) if prev < count => self.seps.at[prev] as usize + 1,
            Some(_) => self.body.len(),
        };
        let end = if k < count {
            self.seps.at[k] as usize
        } else {
            self.body.len()
        };
        (start, end.max(start))
    }

    /// The field within `bounds` as a slice of the payload (no copy).
    #[inline]
    pub(crate) fn cut(&self, (start, end): (usize, usize)) -> Bytes {
        self.body.slice(start..end)
    }

    /// The payload from `start` on, keeping the payload's own handle.
    #[inline]
    pub(crate) fn into_tail(self, start: usize) -> Bytes {
        let mut body = self.body;
        body.advance(start);
        body
    }

    /// Appends the packet to `buf`.
    pub fn encode(&self, buf: &mut impl BufMut) -> Result<(), EncodeError> {
        self.as_ref().encode(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_nul_agrees_with_memchr() {
        let mut bytes = vec![1u8; 150];
        assert_eq!(find_nul(&bytes), None);
        for len in 0..150 {
            for at in 0..len {
                let mut b = bytes[..len].to_vec();
                b[at] = 0;
                // Bytes that borrow across words (0x01 after the zero, 0x80 and 0xff before).
                if at + 1 < len {
                    b[at + 1] = 1;
                }
                if at > 0 {
                    b[at - 1] = if at % 2 == 0 { 0x80 } else { 0xff };
                }
                assert_eq!(find_nul(&b), memchr::memchr(0, &b), "len {len} at {at}");
            }
        }
        bytes[149] = 0;
        bytes[100] = 0;
        assert_eq!(find_nul(&bytes), Some(100));
        assert_eq!(find_nul(&[]), None);
    }

    #[test]
    fn fields_keep_nuls_in_data() {
        let p = PacketRef::new(Magic::Req, PacketType::SUBMIT_JOB, b"f\0u\0a\0b\0").unwrap();
        let fields: Vec<&[u8]> = p.fields().collect();
        assert_eq!(fields, vec![&b"f"[..], b"u", b"a\0b\0"]);
    }

    #[test]
    fn arity_checked() {
        assert_eq!(
            PacketRef::new(Magic::Req, PacketType::SUBMIT_REDUCE_JOB, b"f\0u\0r\0data"),
            Err(DecodeError::Arity {
                ty: PacketType::SUBMIT_REDUCE_JOB,
                expected: 5,
                got: 4
            })
        );
        assert_eq!(
            PacketRef::new(Magic::Req, PacketType::GRAB_JOB, b"x"),
            Err(DecodeError::UnexpectedBody {
                ty: PacketType::GRAB_JOB,
                len: 1
            })
        );
        let empty = PacketRef::new(Magic::Res, PacketType::NOOP, b"").unwrap();
        assert_eq!(empty.fields().count(), 0);
        let unknown = PacketRef::new(Magic::Req, PacketType(99), b"a\0b").unwrap();
        assert_eq!(unknown.fields().collect::<Vec<_>>(), vec![&b"a\0b"[..]]);
    }

    #[test]
    fn split_is_zero_copy() {
        let body = Bytes::from_static(b"H:1\0f\0u\0data");
        let p = Packet::new(Magic::Res, PacketType::JOB_ASSIGN_UNIQ, body.clone()).unwrap();
        let [h, f, u, d] = p.split::<4>();
        assert_eq!(
            (&h[..], &f[..], &u[..], &d[..]),
            (&b"H:1"[..], &b"f"[..], &b"u"[..], &b"data"[..])
        );
        assert_eq!(d.as_ptr(), body[8..].as_ptr());
        assert_eq!(p.clone().into_split::<4>(), p.split::<4>());
        assert_eq!(
            p.clone().into_split::<2>(),
            [h, Bytes::from_static(b"f\0u\0data")]
        );
        let empty = Packet::new(
            Magic::Res,
            PacketType::WORK_COMPLETE,
            Bytes::from_static(b"H\0"),
        );
        assert_eq!(
            empty.unwrap().into_split::<2>(),
            [Bytes::from_static(b"H"), Bytes::new()]
        );
    }
}
