//! What the CLI tests share: child processes that are killed with the test.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::process::{Child, Command};

/// A child process killed (and reaped) on drop.
pub struct Kill(pub Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `gearmanctl work --server ADDR --function FUNCTION REST...`, quiet unless it warns.
pub fn gearmanctl_work(addr: SocketAddr, function: &str, rest: &[&str]) -> Kill {
    Kill(
        Command::new(env!("CARGO_BIN_EXE_gearmanctl"))
            .env("RUST_LOG", "warn")
            .args([
                "work",
                "--server",
                &addr.to_string(),
                "--function",
                function,
            ])
            .args(rest)
            .spawn()
            .unwrap(),
    )
}
