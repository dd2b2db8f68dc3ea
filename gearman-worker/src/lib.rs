//! `gearman-worker` will hold the sans-IO worker machine (grab/sleep cycle, delta registration)
//! and its tokio runtime.
//!
//! It is a skeleton for now; the codec it builds on is [`gearman_proto`].

pub use gearman_proto as proto;
