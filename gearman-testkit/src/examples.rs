//! Runs a crate's `examples/` programs as a user would, against a live server, so that CI runs
//! them rather than only compiling them.
//!
//! `cargo test -p CRATE` builds the crate's examples into `target/<profile>/examples/` before it
//! runs the crate's integration tests; [`run_example`] finds the binary there and runs it with the
//! server's address in `GEARMAN_SERVER` (the convention every example follows: read
//! `GEARMAN_SERVER`, default `127.0.0.1:4730`), a deadline, and its output captured.
//! [`run_standalone_example`] runs one that needs no server (it starts its own, say) with
//! `GEARMAN_SERVER` unset.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What an example printed and how it ended.
#[derive(Debug)]
pub struct ExampleRun {
    /// Its exit status (`None`: killed at the deadline).
    pub status: Option<std::process::ExitStatus>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl ExampleRun {
    /// Whether it exited 0.
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }
}

/// The directory cargo puts example binaries in for the test being run.
fn examples_dir() -> PathBuf {
    // A test binary lives in target/<profile>/deps/; examples in target/<profile>/examples/.
    let exe = std::env::current_exe().expect("the test binary has a path");
    let deps = exe.parent().expect("the test binary is in a directory");
    deps.parent().expect("deps/ has a parent").join("examples")
}

/// Runs example `name` of the crate under test with `GEARMAN_SERVER=server` and `args`, killing
/// it after `deadline`.
///
/// # Panics
/// When the example binary is not there (it is built by `cargo test` of its crate) or cannot be
/// started.
pub fn run_example(name: &str, server: &str, args: &[&str], deadline: Duration) -> ExampleRun {
    run(name, Some(server), args, deadline)
}

/// Runs example `name` of the crate under test with `args` and without `GEARMAN_SERVER`, killing
/// it after `deadline`: for examples that need no external server.
///
/// # Panics
/// As [`run_example`].
pub fn run_standalone_example(name: &str, args: &[&str], deadline: Duration) -> ExampleRun {
    run(name, None, args, deadline)
}

fn run(name: &str, server: Option<&str>, args: &[&str], deadline: Duration) -> ExampleRun {
    let path = example_path(name);
    if !path.is_file() {
        build_example(name);
    }
    assert!(
        path.is_file(),
        "example {name} not built at {} (cargo test builds a crate's examples)",
        path.display()
    );
    let mut command = Command::new(&path);
    match server {
        Some(server) => command.env("GEARMAN_SERVER", server),
        None => command.env_remove("GEARMAN_SERVER"),
    };
    let mut child = command
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("example {name}: cannot start {}: {e}", path.display()));
    let stdout = child.stdout.take().map(read_all);
    let stderr = child.stderr.take().map(read_all);
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if start.elapsed() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let join = |h: Option<std::thread::JoinHandle<String>>| {
        h.map(|h| h.join().unwrap_or_default()).unwrap_or_default()
    };
    ExampleRun {
        status,
        stdout: join(stdout),
        stderr: join(stderr),
    }
}

/// Where example `name` of the crate under test is built.
fn example_path(name: &str) -> PathBuf {
    examples_dir().join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// Builds example `name` of the package under test (`cargo build --example NAME`, same
/// profile and target directory). An unfiltered `cargo test` builds every example before the
/// tests run, so [`run_example`] calls this only for a binary that is missing (a filtered
/// `cargo test --test examples`); a test that times the example from outside calls it first.
/// Does nothing outside cargo (no `CARGO` or `CARGO_PKG_NAME` in the environment).
///
/// # Panics
/// When the build fails.
pub fn build_example(name: &str) {
    if example_path(name).is_file() {
        return;
    }
    build(name);
}

fn build(name: &str) {
    let (Some(cargo), Ok(package)) = (std::env::var_os("CARGO"), std::env::var("CARGO_PKG_NAME"))
    else {
        return;
    };
    let status = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "--all-features",
            "-p",
            &package,
            "--example",
            name,
        ])
        .stdin(Stdio::null())
        .status();
    assert!(
        status.as_ref().is_ok_and(|s| s.success()),
        "cargo build --example {name} failed: {status:?}"
    );
}

fn read_all(mut from: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = from.read_to_string(&mut s);
        s
    })
}
