//! `gearman-proto` is the wire layer of the Gearman crate family: a zero-copy codec for every
//! packet type of the binary protocol and for the admin text protocol. It does no IO, keeps no
//! clock and has no unsafe code; the client, worker and server crates build on it, and so can
//! anyone who needs Gearman bytes without our runtimes.
//!
//! ```text
//!  0       4        8        12
//!  +-------+--------+--------+------------------------------------------+
//!  | magic | type   | size   | payload: fields joined by NUL             |
//!  | \0REQ | u32 BE | u32 BE | FUNC \0 UNIQ \0 DATA (last part opaque)  |
//!  | \0RES |        |        |                                          |
//!  +-------+--------+--------+------------------------------------------+
//! ```
//!
//! Three layers, each usable alone:
//! - **framing**: [`Decoder`] cuts [`Packet`]s out of a `BytesMut`, checking the header and a
//!   size cap before anything else, and hands out every field as a slice of the packet;
//!   [`PacketRef`] is the borrowed view; [`encode_fields`] writes packets from fields.
//!   Numbers outside the type table survive framing.
//! - **typed messages**: [`Request`] and [`Response`], with packet families folded into one
//!   variant ([`Submit`] covers six SUBMIT_JOB types, [`WorkUpdate`] the WORK_* packets),
//!   decimal fields parsed, and limited fields in validated newtypes ([`FunctionName`],
//!   [`UniqueId`], [`JobHandle`], [`ClientId`], [`OptionName`]).
//! - **admin text**: [`admin`] commands and replies in gearmand 1.1.20's formats.
//!
//! ```
//! use bytes::BytesMut;
//! use gearman_proto::{Decoder, FunctionName, Priority, Request, Submit, UniqueId};
//!
//! let submit = Request::Submit(Submit {
//!     function: FunctionName::try_from("reverse")?,
//!     unique: UniqueId::try_from("u1")?,
//!     data: "hello".into(),
//!     priority: Priority::High,
//!     background: false,
//! });
//! let mut wire = BytesMut::new();
//! submit.encode(&mut wire)?;
//! let packet = Decoder::new().decode(&mut wire)?.expect("a whole packet");
//! assert_eq!(Request::try_from(packet)?, submit);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! With the `tokio-codec` feature, [`codec::GearmanCodec`] adapts all of this to
//! `tokio_util::codec`.

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
