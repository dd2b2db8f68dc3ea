#![doc = include_str!("../README.md")]

#[cfg(feature = "tls")]
mod acl;
#[cfg(feature = "tokio")]
mod config;
mod core;
pub mod inbound;
#[cfg(feature = "tokio")]
mod listener;
#[cfg(feature = "metrics")]
pub mod metrics;
pub mod store;
#[cfg(feature = "tls")]
mod tls;

pub use crate::core::{
    ConnId, CoreConfig, FunctionStats, JobEvent, JobOutcome, ServerCore, WakeUp, ASK_GONE_AFTER_MS,
    WAKE_GRACE_MS,
};
#[cfg(feature = "tls")]
pub use acl::{Acl, AclError};
#[cfg(feature = "tokio")]
pub use config::ServerConfig;
#[cfg(feature = "tokio")]
pub use listener::{Server, Stopped};
#[cfg(feature = "metrics")]
pub use metrics::ServerMetrics;
#[cfg(feature = "tls")]
pub use tls::ServerTls;

pub use gearman_proto as proto;
