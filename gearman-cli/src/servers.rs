//! The `--server` option of the commands that take one or more job servers.

use clap::Args;

/// One or more job servers.
#[derive(Debug, Args)]
pub(crate) struct ServerList {
    /// Job server, HOST:PORT (repeat for several: a client fails over between them, a worker
    /// serves all of them).
    #[arg(
        long = "server",
        short = 's',
        required = true,
        value_name = "HOST:PORT"
    )]
    pub(crate) servers: Vec<String>,
}
