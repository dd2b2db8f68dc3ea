//! Test support shared by the crates of this workspace (unpublished).
//!
//! [`Gearmand`] starts the real job server from Debian's `gearman-job-server` on 127.0.0.1 at a
//! free port, waits until it answers an ECHO, and stops it on drop. Where gearmand is missing,
//! [`gearmand_or_skip`] says so with a visible notice and lets the test pass, unless
//! `GEARMAN_REQUIRE_GEARMAND=1` (set by CI) is in the environment: then a missing gearmand fails
//! the test. Every other missing peer (Debian's gearman tools, python `gear`) goes through
//! [`skip`] the same way, which writes past libtest's output capture so the skip shows in a
//! normal `cargo test` run.
//!
//! [`TestServer`] is the one fixture for both servers: gearmand, or gearman-server in a thread of
//! its own, with the same `addr`/`kill`/`restart`. [`on_both_servers!`] turns a scenario
//! `async fn(ServerKind)` into one test per server.
//!
//! [`Pki`] makes throw-away certificates (rcgen) for the TLS tests: a CA, a server certificate for
//! `localhost` and 127.0.0.1, client certificates, an expired one, and a second CA.

mod examples;
mod gearmand;
mod raw;
mod server;
mod skip;
mod tls;
mod wait;

pub use examples::{build_example, run_example, run_standalone_example, ExampleRun};
pub use gearmand::{find_gearmand, gearmand_or_skip, Gearmand, GearmandBuilder};
pub use raw::{raw_packet, read_packet, RawPacket};
pub use server::{Embedded, ServerKind, TestServer};
pub use skip::{required, skip};
pub use tls::{Pki, PkiFiles};
pub use wait::{eventually, until};

/// Why a gearmand could not be provided.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestkitError {
    /// No gearmand binary was found (set `GEARMAND` to its path, or install gearman-job-server).
    #[error("gearmand not found: install gearman-job-server (apt-get install -y gearman-job-server) or set GEARMAND")]
    NotInstalled,
    /// gearmand was found but did not come up.
    #[error("gearmand did not start: {0}")]
    Start(String),
    /// An IO error while starting or probing it.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}
