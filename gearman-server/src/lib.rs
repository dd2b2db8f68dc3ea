//! `gearman-server` will be an embeddable Gearman job server for the demo and the tests. It
//! holds, so far, the sans-IO [`ServerCore`]: registrations, submissions at three priorities,
//! coalescing by unique with every waiter served, the grab/sleep/NOOP cycle, WORK_* forwarding
//! with the `exceptions` option, status queries, and re-queueing of a lost worker's jobs. The
//! tokio listener, the admin protocol, timers (epoch jobs, CAN_DO_TIMEOUT) and limits follow.

mod core;

pub use crate::core::{ConnId, CoreConfig, ServerCore};

pub use gearman_proto as proto;
