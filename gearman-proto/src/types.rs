//! Validated newtypes for the fields the protocol limits, each a cheap `Bytes` handle.

use std::fmt;

use bytes::Bytes;

use crate::FieldError;

/// Longest function name accepted, as libgearman (`GEARMAN_FUNCTION_MAX_SIZE`).
pub const MAX_FUNCTION_LEN: usize = 512;
/// Longest unique id that gearmand stores correctly (protocol.md §4.1).
pub const MAX_UNIQUE_LEN: usize = 63;
/// Longest job handle (gearmand's 64-byte buffer holds 63 bytes and a NUL).
pub const MAX_HANDLE_LEN: usize = 63;
/// Longest client id accepted, as libgearman (`GEARMAN_MAX_IDENTIFIER`); gearmand shows 127.
pub const MAX_CLIENT_ID_LEN: usize = 254;
/// Longest option name accepted by gearmand.
pub const MAX_OPTION_LEN: usize = 63;

fn check_len(what: &'static str, len: usize, min: usize, max: usize) -> Result<(), FieldError> {
    if len < min {
        return Err(FieldError::Empty { what });
    }
    if len > max {
        return Err(FieldError::TooLong { what, len, max });
    }
    Ok(())
}

pub(crate) fn check_field(
    what: &'static str,
    bytes: &[u8],
    min: usize,
    max: usize,
) -> Result<(), FieldError> {
    check_len(what, bytes.len(), min, max)?;
    if memchr::memchr(0, bytes).is_some() {
        return Err(FieldError::Nul { what });
    }
    Ok(())
}

/// Writes bytes as a quoted string with escapes, the form every type here uses for `Debug`.
pub(crate) fn fmt_bytes(bytes: &[u8], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    f.write_str("\"")?;
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            write!(f, "{}", c.escape_debug())?;
        }
        for b in chunk.invalid() {
            write!(f, "\\x{b:02x}")?;
        }
    }
    f.write_str("\"")
}

macro_rules! field_type {
    ($(#[$doc:meta])* $name:ident, $what:literal, min = $min:expr, max = $max:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Bytes);

        impl $name {
            /// Validates `bytes` against this field's limits.
            pub fn new(bytes: impl Into<Bytes>) -> Result<Self, FieldError> {
                let bytes = bytes.into();
                check_field($what, &bytes, $min, $max)?;
                Ok(Self(bytes))
            }

            /// Wraps a field cut from a payload before a NUL separator: it cannot hold a NUL, so
            /// only the length is checked.
            #[allow(dead_code)] // not every field type stands before a separator
            pub(crate) fn from_inner(bytes: Bytes) -> Result<Self, FieldError> {
                check_len($what, bytes.len(), $min, $max)?;
                Ok(Self(bytes))
            }

            /// Checks a length against this field's limits, before the field is cut.
            #[allow(dead_code)] // not every field type is decoded this way
            #[inline]
            pub(crate) fn check_len(len: usize) -> Result<(), FieldError> {
                check_len($what, len, $min, $max)
            }

            /// Wraps a field whose length [`check_len`](Self::check_len) accepted, cut before a
            /// NUL separator.
            #[allow(dead_code)] // not every field type is decoded this way
            #[inline]
            pub(crate) fn from_checked(bytes: Bytes) -> Self {
                Self(bytes)
            }

            /// The raw bytes.
            pub fn as_bytes(&self) -> &[u8] {
                &self.0
            }

            /// The bytes as a cheap `Bytes` handle.
            pub fn as_shared(&self) -> &Bytes {
                &self.0
            }

            /// A copy in an allocation of its own. A field decoded from a packet shares the
            /// read buffer it came in, and keeps all of it alive; a server that stores the
            /// field for long stores this instead.
            #[must_use]
            pub fn detached(&self) -> Self {
                Self(Bytes::copy_from_slice(&self.0))
            }

            /// Gives back the `Bytes`.
            pub fn into_bytes(self) -> Bytes {
                self.0
            }

            /// The length in bytes.
            pub fn len(&self) -> usize {
                self.0.len()
            }

            /// Whether it is empty.
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt_bytes(&self.0, f)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&String::from_utf8_lossy(&self.0))
            }
        }

        impl AsRef<[u8]> for $name {
            fn as_ref(&self) -> &[u8] {
                &self.0
            }
        }

        impl TryFrom<&str> for $name {
            type Error = FieldError;
            fn try_from(s: &str) -> Result<Self, FieldError> {
                Self::new(Bytes::copy_from_slice(s.as_bytes()))
            }
        }

        impl TryFrom<String> for $name {
            type Error = FieldError;
            fn try_from(s: String) -> Result<Self, FieldError> {
                Self::new(s)
            }
        }

        impl TryFrom<&[u8]> for $name {
            type Error = FieldError;
            fn try_from(s: &[u8]) -> Result<Self, FieldError> {
                Self::new(Bytes::copy_from_slice(s))
            }
        }

        impl TryFrom<Vec<u8>> for $name {
            type Error = FieldError;
            fn try_from(s: Vec<u8>) -> Result<Self, FieldError> {
                Self::new(s)
            }
        }

        impl TryFrom<Bytes> for $name {
            type Error = FieldError;
            fn try_from(s: Bytes) -> Result<Self, FieldError> {
                Self::new(s)
            }
        }

        impl std::str::FromStr for $name {
            type Err = FieldError;
            fn from_str(s: &str) -> Result<Self, FieldError> {
                Self::try_from(s)
            }
        }
    };
}

field_type!(
    /// A function name: 1 to 512 bytes, no NUL.
    FunctionName, "function name", min = 1, max = MAX_FUNCTION_LEN
);
field_type!(
    /// A client-chosen unique id: 0 to 63 bytes, no NUL. Empty means "never coalesce".
    UniqueId, "unique id", min = 0, max = MAX_UNIQUE_LEN
);
field_type!(
    /// A server-assigned job handle: 1 to 63 bytes, no NUL. Opaque: never parse it.
    JobHandle, "job handle", min = 1, max = MAX_HANDLE_LEN
);
field_type!(
    /// A connection's name for the admin `workers` listing: 1 to 254 bytes, no NUL (spaces allowed).
    ClientId, "client id", min = 1, max = MAX_CLIENT_ID_LEN
);
field_type!(
    /// A connection option name, such as `exceptions`: 1 to 63 bytes, no NUL.
    OptionName, "option name", min = 1, max = MAX_OPTION_LEN
);

impl OptionName {
    /// The `exceptions` option: WORK_EXCEPTION is forwarded instead of turned into WORK_FAIL.
    pub fn exceptions() -> Self {
        Self(Bytes::from_static(b"exceptions"))
    }
}

impl UniqueId {
    /// The empty unique id.
    pub fn empty() -> Self {
        Self(Bytes::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        assert!(UniqueId::new(vec![b'u'; 63]).is_ok());
        assert_eq!(
            UniqueId::new(vec![b'u'; 64]),
            Err(FieldError::TooLong {
                what: "unique id",
                len: 64,
                max: 63
            })
        );
        assert!(JobHandle::new(vec![b'h'; 63]).is_ok());
        assert!(JobHandle::new(vec![b'h'; 64]).is_err());
        assert_eq!(
            JobHandle::try_from(""),
            Err(FieldError::Empty { what: "job handle" })
        );
        assert_eq!(
            FunctionName::try_from("a\0b"),
            Err(FieldError::Nul {
                what: "function name"
            })
        );
        assert!(ClientId::try_from("worker with spaces").is_ok());
        assert!(UniqueId::try_from("").is_ok());
    }

    #[test]
    fn debug_escapes() {
        let h = FunctionName::new(&b"a\"\xff\n"[..]).unwrap();
        assert_eq!(format!("{h:?}"), "\"a\\\"\\xff\\n\"");
    }
}
