#![doc = include_str!("../README.md")]

mod error;
mod event;
mod machine;
mod ring;
#[cfg(feature = "tokio")]
mod runtime;

pub use error::ProtocolError;
pub use event::{Event, Failure, JobOutcome, RequestId};
#[cfg(feature = "tokio")]
pub use gearman_io::{ConnState, ConnectError, ServerState, TlsError, Unreachable};
#[cfg(feature = "tls")]
pub use gearman_io::{TlsConfigError, TlsOptions};
pub use machine::{ClientConfig, ClientMachine, JobKind, NewJob};
pub use ring::Ring;
#[cfg(feature = "tokio")]
pub use runtime::{
    AdminClient, AdminClientError, Client, ClientBuilder, ClientError, Error, Job, JobEvent,
    JobStream, Payload, STREAM_BUFFER,
};

pub use bytes::Bytes;
pub use gearman_proto::{
    ClientId, FieldError, FunctionName, JobHandle, JobStatus, Priority, UniqueId, UniqueStatus,
    WorkUpdate,
};

pub use gearman_proto as proto;
