//! Errors of the codec, split by layer: framing, typed messages, encoding, admin text.

use crate::{Magic, PacketType};

/// The bytes on the wire do not form a valid packet.
///
/// [`is_fatal`](Self::is_fatal) tells whether the stream can go on: a fatal error leaves the
/// offending bytes in the buffer, because where the next packet starts is unknown; a non-fatal one
/// has consumed exactly the bad packet, so the next decode starts on the packet after it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The first four bytes are neither `\0REQ` nor `\0RES`.
    #[error("bad magic {0:02x?}")]
    BadMagic([u8; 4]),
    /// The header declares a payload larger than the configured cap.
    #[error("packet payload of {len} bytes exceeds the cap of {max} bytes")]
    TooLarge {
        /// Declared payload size.
        len: u32,
        /// The configured cap.
        max: u32,
    },
    /// The payload has fewer NUL-separated fields than the packet type needs.
    #[error("{ty} needs {expected} fields, the payload has {got}")]
    Arity {
        /// The packet type.
        ty: PacketType,
        /// Fields the type needs.
        expected: u8,
        /// Fields found.
        got: u8,
    },
    /// A packet type that takes no payload came with one.
    #[error("{ty} takes no payload, got {len} bytes")]
    UnexpectedBody {
        /// The packet type.
        ty: PacketType,
        /// The payload size.
        len: u32,
    },
    /// An admin text line ran past the configured cap without a newline.
    #[error("admin text line longer than {max} bytes")]
    LineTooLong {
        /// The configured cap.
        max: usize,
    },
}

impl DecodeError {
    /// Whether the stream is lost: the caller should close the connection.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Self::BadMagic(_) | Self::TooLarge { .. } | Self::LineTooLong { .. }
        )
    }
}

/// A field value breaks a limit of the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FieldError {
    /// The field must not be empty.
    #[error("{what} is empty")]
    Empty {
        /// The field's name.
        what: &'static str,
    },
    /// The field is longer than the protocol allows.
    #[error("{what} is {len} bytes, more than {max}")]
    TooLong {
        /// The field's name.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The field holds a NUL byte, which would end it on the wire.
    #[error("{what} contains a NUL byte")]
    Nul {
        /// The field's name.
        what: &'static str,
    },
}

/// A well-framed packet is not a valid typed message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// The packet type is outside the table, or never valid on the wire (TEXT, UNUSED).
    #[error("unknown packet type {0}")]
    UnknownType(PacketType),
    /// The packet type may not travel with this magic (a response sent to the server, say).
    #[error("{ty} may not carry {magic:?} magic")]
    WrongMagic {
        /// The packet type.
        ty: PacketType,
        /// The magic it came with.
        magic: Magic,
    },
    /// A decimal field is not a number in range.
    #[error("field {field} is not a decimal number in range")]
    BadNumber {
        /// The field's name.
        field: &'static str,
    },
    /// A field breaks a limit.
    #[error(transparent)]
    Field(#[from] FieldError),
}

/// A packet cannot be encoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A field that the wire ends with NUL holds a NUL byte.
    #[error("field {index} of {ty} contains a NUL byte")]
    NulInField {
        /// The packet type.
        ty: PacketType,
        /// Index of the field.
        index: usize,
    },
    /// The number of fields does not match the packet type's shape.
    #[error("{ty} takes {expected} fields, {got} given")]
    Arity {
        /// The packet type.
        ty: PacketType,
        /// Fields the type takes.
        expected: u8,
        /// Fields given.
        got: usize,
    },
    /// The payload does not fit the 32-bit size field.
    #[error("payload of {len} bytes does not fit a packet")]
    BodyTooLarge {
        /// The payload size.
        len: usize,
    },
}

/// An admin text reply or command is malformed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// A line does not have the form this reply needs.
    #[error("malformed admin line {line:?}: {expected}")]
    Malformed {
        /// The offending line, lossily decoded.
        line: String,
        /// What the parser expected.
        expected: &'static str,
    },
    /// A reply line ran past the configured cap without a newline, or a list past its line cap.
    #[error("admin reply exceeds {max} bytes")]
    TooLong {
        /// The cap.
        max: usize,
    },
    /// A command argument holds a space, CR or LF, which would change the command.
    #[error("admin argument {0:?} contains whitespace")]
    BadArgument(String),
}
