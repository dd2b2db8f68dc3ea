#![cfg_attr(feature = "tokio", doc = include_str!("../README.md"))]
#![cfg_attr(
    not(feature = "tokio"),
    doc = "`gearman-worker` without its `tokio` feature: the sans-IO [`WorkerMachine`] (grab/sleep \
           cycle, delta registration, held jobs, CAN_DO_TIMEOUT deadlines, heartbeat) and the pure \
           [`registration::plan`]. The crate's README, with the tokio runtime, is the full guide."
)]

mod error;
mod event;
mod function_set;
mod machine;
pub mod registration;
#[cfg(feature = "tokio")]
mod runtime;

pub use error::{ProtocolError, UsageError};
pub use event::{AbandonReason, Assignment, Event};
pub use function_set::{FunctionSet, Timeout, MIN_SERVER_TIMEOUT};
/// Connection state, shared with gearman-client (the same types, so a program using both names
/// them once).
#[cfg(feature = "tokio")]
pub use gearman_io::{ConnState, ConnectError, ServerState, TlsError, Unreachable};
#[cfg(feature = "tls")]
pub use gearman_io::{TlsConfigError, TlsOptions};
pub use machine::{GrabState, MachineConfig, Outcome, WorkerMachine};
#[cfg(feature = "tokio")]
pub use runtime::*;

pub use gearman_proto as proto;

/// The byte buffer of job data and results (the `bytes` crate's), so that a worker needs no
/// dependency of its own on it.
pub use bytes::Bytes;
/// The protocol types a worker names, so that a worker needs no dependency on `gearman-proto`.
pub use gearman_proto::{ClientId, FieldError, FunctionName, GrabKind, JobHandle, UniqueId};
