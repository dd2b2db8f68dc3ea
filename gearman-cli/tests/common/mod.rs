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

/// `gearmanctl ARGS` as a user runs it: no `RUST_LOG`, no stdin, output captured; killed (and
/// the test failed) after `wait`. Returns the output and how long it took.
pub fn ctl_within(
    args: &[&str],
    wait: std::time::Duration,
) -> (std::process::Output, std::time::Duration) {
    use std::process::Stdio;
    let start = std::time::Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gearmanctl"))
        .env_remove("RUST_LOG")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > wait {
            let _ = child.kill();
            panic!("gearmanctl {args:?} did not finish within {wait:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let took = start.elapsed();
    (child.wait_with_output().unwrap(), took)
}

/// Starts `gearmanctl serve --listen 127.0.0.1:0 EXTRA...` and reads the address it prints
/// (`listening on ADDR`, its first line).
pub fn gearmanctl_serve(extra: &[&str]) -> (Kill, SocketAddr) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_gearmanctl"))
        .env("RUST_LOG", "warn")
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .unwrap();
    (Kill(child), addr)
}
