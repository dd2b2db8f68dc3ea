//! `gearman-server` will hold an embeddable job server for the demo and the tests.
//!
//! It is a skeleton for now; the codec it builds on is [`gearman_proto`].

pub use gearman_proto as proto;
