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

/// Starts `gearmanctl ARGS` with stdout piped and returns it with the first `lines` lines.
pub fn start(args: &[&str], lines: usize) -> (Kill, Vec<String>) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_gearmanctl"))
        .env("RUST_LOG", "warn")
        .args(args)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let child = Kill(child);
    let got = (0..lines)
        .map(|_| {
            let mut line = String::new();
            std::io::BufRead::read_line(&mut out, &mut line).unwrap();
            line.trim_end().to_owned()
        })
        .collect();
    (child, got)
}

/// The address of a `metrics on http://ADDR/metrics` line.
pub fn metrics_addr(line: &str) -> SocketAddr {
    line.strip_prefix("metrics on http://")
        .and_then(|l| l.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("unexpected line {line:?}"))
        .parse()
        .unwrap()
}

/// `GET path` over a fresh connection: the status line and the body.
pub fn get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    std::io::Write::write_fmt(
        &mut s,
        format_args!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n"),
    )
    .unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut s, &mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

/// The value of `series` (a name with its labels) in a scrape.
pub fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
}

/// Scrapes until every `(series, value)` holds (bounded by `wait`); the last scrape.
pub fn scrape_until(addr: SocketAddr, want: &[(&str, f64)], wait: std::time::Duration) -> String {
    let start = std::time::Instant::now();
    loop {
        let (status, text) = get(addr, "/metrics");
        assert_eq!(status, "HTTP/1.1 200 OK");
        if want.iter().all(|(s, v)| value(&text, s) == Some(*v)) {
            return text;
        }
        assert!(start.elapsed() < wait, "wanted {want:?} in\n{text}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
