//! `gearman-client` will hold the sans-IO client machine and its tokio runtime: FIFO matching of
//! handle-less replies, WORK_* demultiplexing by handle, deadlines and failover.
//!
//! It is a skeleton for now; the codec it builds on is [`gearman_proto`].

pub use gearman_proto as proto;
