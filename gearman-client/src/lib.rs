//! `gearman-client` is the client layer of the Gearman crate family. It holds, so far, the
//! sans-IO [`ClientMachine`]: matching of replies that carry no request id, fan-out of WORK_*
//! packets to every submission waiting on a job, local coalescing, and deadlines on every request,
//! with typed failures that say whether a job may exist. The tokio runtime, the admin client and
//! `gearmanctl submit` build on it next.

mod error;
mod event;
mod machine;
#[cfg(feature = "tokio")]
mod runtime;

pub use error::ProtocolError;
pub use event::{Event, Failure, JobOutcome, RequestId};
#[cfg(feature = "tokio")]
pub use gearman_io::{ConnState, ConnectError, ServerState, Unreachable};
pub use machine::{ClientConfig, ClientMachine, JobKind, NewJob};
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
