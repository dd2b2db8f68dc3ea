#![doc = include_str!("../README.md")]

#[cfg(feature = "tokio")]
mod config;
mod core;
pub mod inbound;
#[cfg(feature = "tokio")]
mod listener;

pub use crate::core::{ConnId, CoreConfig, FunctionStats, ServerCore};
#[cfg(feature = "tokio")]
pub use config::ServerConfig;
#[cfg(feature = "tokio")]
pub use listener::{Server, Stopped};

pub use gearman_proto as proto;
