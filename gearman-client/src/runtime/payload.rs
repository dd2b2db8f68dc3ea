//! A job's workload, from whatever the caller has.

use bytes::{Bytes, BytesMut};

/// A job's workload. Owned buffers ([`Bytes`], `Vec<u8>`, `String`) move in without a copy;
/// borrowed ones (`&str`, `&[u8]`, `&String`) are copied once, so a workload borrowed from a
/// local variable works as well as a `'static` one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Payload(pub(crate) Bytes);

impl Payload {
    /// The bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl From<Bytes> for Payload {
    fn from(b: Bytes) -> Self {
        Self(b)
    }
}

impl From<BytesMut> for Payload {
    fn from(b: BytesMut) -> Self {
        Self(b.freeze())
    }
}

impl From<Vec<u8>> for Payload {
    fn from(v: Vec<u8>) -> Self {
        Self(Bytes::from(v))
    }
}

impl From<Box<[u8]>> for Payload {
    fn from(v: Box<[u8]>) -> Self {
        Self(Bytes::from(v))
    }
}

impl From<String> for Payload {
    fn from(s: String) -> Self {
        Self(Bytes::from(s))
    }
}

impl From<&str> for Payload {
    fn from(s: &str) -> Self {
        Self(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl From<&String> for Payload {
    fn from(s: &String) -> Self {
        Self(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl From<&[u8]> for Payload {
    fn from(s: &[u8]) -> Self {
        Self(Bytes::copy_from_slice(s))
    }
}

impl From<&Vec<u8>> for Payload {
    fn from(s: &Vec<u8>) -> Self {
        Self(Bytes::copy_from_slice(s))
    }
}

impl<const N: usize> From<&[u8; N]> for Payload {
    fn from(s: &[u8; N]) -> Self {
        Self(Bytes::copy_from_slice(s))
    }
}

impl From<&Bytes> for Payload {
    fn from(b: &Bytes) -> Self {
        Self(b.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrowed_and_owned() {
        let local = String::from("from a local");
        assert_eq!(Payload::from(local.as_str()).into_bytes(), "from a local");
        assert_eq!(Payload::from(&local).into_bytes(), "from a local");
        assert_eq!(Payload::from(b"raw").into_bytes(), "raw");
        let shared = Bytes::from_static(b"shared");
        assert_eq!(
            Payload::from(&shared).into_bytes().as_ptr(),
            shared.as_ptr()
        );
        assert_eq!(Payload::from(vec![1u8, 2]).into_bytes(), vec![1u8, 2]);
    }
}
