//! The two 4-byte magics that open every binary packet.

/// `\0REQ`: a packet sent to the server.
pub const REQ_MAGIC: [u8; 4] = *b"\0REQ";
/// `\0RES`: a packet sent by the server.
pub const RES_MAGIC: [u8; 4] = *b"\0RES";

/// The magic of a binary packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Magic {
    /// `\0REQ`, to the server.
    Req,
    /// `\0RES`, from the server.
    Res,
}

impl Magic {
    /// The four bytes on the wire.
    pub const fn bytes(self) -> [u8; 4] {
        match self {
            Self::Req => REQ_MAGIC,
            Self::Res => RES_MAGIC,
        }
    }

    /// Recognise four bytes as a magic.
    pub const fn from_bytes(bytes: [u8; 4]) -> Option<Self> {
        match bytes {
            REQ_MAGIC => Some(Self::Req),
            RES_MAGIC => Some(Self::Res),
            _ => None,
        }
    }
}
