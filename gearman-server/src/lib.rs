//! `gearman-server` will be an embeddable Gearman job server for the demo and the tests. It
//! holds, so far, the sans-IO [`ServerCore`]: registrations, submissions at three priorities,
//! coalescing by unique with every waiter served, the grab/sleep/NOOP cycle, WORK_* forwarding
//! with the `exceptions` option, status queries, re-queueing of a lost worker's jobs, and the
//! admin protocol; and [`Server`], a tokio listener over it with bounded output per connection.
//! Timers (epoch jobs, CAN_DO_TIMEOUT), `maxqueue` and `gearmanctl serve` follow.

mod core;
#[cfg(feature = "tokio")]
mod listener;

pub use crate::core::{ConnId, CoreConfig, ServerCore};
#[cfg(feature = "tokio")]
pub use listener::{Server, OUTPUT_QUEUE};

pub use gearman_proto as proto;
