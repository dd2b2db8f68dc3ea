//! `gearman-server`: an embeddable Gearman job server, for the demo, for tests, and for tools
//! that want a job queue in-process.
//!
//! - [`ServerCore`] is the sans-IO server: registrations, submissions at three priorities,
//!   background and epoch jobs (woken on time), coalescing by unique with every waiter served,
//!   the grab/sleep/NOOP cycle, WORK_* forwarding with the `exceptions` option, status
//!   queries, CAN_DO_TIMEOUT, re-queueing of a lost worker's jobs with an optional retry cap,
//!   `maxqueue`, and the admin protocol in gearmand 1.1.20's formats.
//! - [`Server`] (feature `tokio`, on by default) serves it over TCP with hard limits on packet
//!   size, unsent output and connections, and `shutdown [graceful]`.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let server = gearman_server::Server::bind("127.0.0.1:0", gearman_server::ServerConfig::default()).await?;
//! println!("serving on {}", server.local_addr());
//! for f in server.stats().await.unwrap_or_default() {
//!     println!("{:?}: {} queued, {} running", f.function, f.queued, f.running);
//! }
//! server.shutdown().await;
//! # Ok(()) }
//! ```

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
