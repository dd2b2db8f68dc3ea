//! `ci-functions` will hold the Jenkins gearman plugin's contract as a library: label
//! expressions, the function-set policy, the `CiHost` trait and the executor and management
//! workers.
//!
//! It is a skeleton for now; the codec it builds on is [`gearman_proto`].

pub use gearman_proto as proto;
