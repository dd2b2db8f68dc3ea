//! `gearman-worker` is the worker layer of the Gearman crate family: a worker that keeps its
//! registrations across reconnects, holds no more jobs than it has slots, and ends every job it
//! takes exactly once.
//!
//! Two layers:
//! - [`WorkerMachine`], sans-IO: the grab/sleep cycle, delta registration with RESET_ABILITIES on
//!   every new connection, held-job tracking, CAN_DO_TIMEOUT deadlines and an ECHO heartbeat, all
//!   driven by `handle_*` inputs with `now` passed in and read back through `poll_*`. It builds
//!   without tokio (`--no-default-features`).
//! - the tokio runtime (feature `tokio`, on by default): a cloneable [`Worker`] handle over one
//!   driver per server connection, with reconnects, keepalive, panicking handlers turned into
//!   failures, and graceful shutdown.
//!
//! ```text
//!   connect ──> [SET_CLIENT_ID] RESET_ABILITIES CAN_DO* ──> GRAB_JOB_UNIQ
//!                                                             │
//!        ┌──────────── JOB_ASSIGN_UNIQ ───────────────────────┤
//!        v                                                    │
//!   run handler ──> WORK_DATA/WARNING/STATUS* ──> one of      NO_JOB ──> PRE_SLEEP ──> asleep
//!                   WORK_COMPLETE / WORK_FAIL / WORK_EXCEPTION            │
//!        │                                                      NOOP or re-grab timer
//!        └────────── slot free ──> GRAB_JOB_UNIQ <────────────────────────┘
//! ```

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
pub use machine::{GrabState, MachineConfig, Outcome, WorkerMachine};
#[cfg(feature = "tokio")]
pub use runtime::*;

pub use gearman_proto as proto;
