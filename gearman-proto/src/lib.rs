#![doc = include_str!("../README.md")]

pub mod admin;
#[cfg(feature = "tokio-codec")]
pub mod codec;
mod decode;
mod encode;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod header;
mod magic;
mod message;
mod packet;
mod packet_type;
mod types;

pub use decode::{Decoder, Frame, DEFAULT_MAX_BODY, DEFAULT_MAX_LINE};
pub use encode::encode_fields;
pub use error::{AdminError, DecodeError, EncodeError, FieldError, MessageError};
pub use header::{Header, HEADER_LEN};
pub use magic::{Magic, REQ_MAGIC, RES_MAGIC};
pub use message::{
    ErrorPacket, GrabKind, JobAssign, JobStatus, Priority, Request, Response, Schedule, Submit,
    SubmitReduce, UniqueStatus, WorkUpdate,
};
pub use packet::{Fields, Packet, PacketRef};
pub use packet_type::{Direction, PacketType, Shape};
pub use types::{
    ClientId, FunctionName, JobHandle, OptionName, UniqueId, MAX_CLIENT_ID_LEN, MAX_FUNCTION_LEN,
    MAX_HANDLE_LEN, MAX_OPTION_LEN, MAX_UNIQUE_LEN,
};
