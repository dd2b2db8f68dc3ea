//! The README's first command: `gearmanctl demo` runs on a fresh machine with nothing installed
//! and exits 0 after every build reported, one stopped, and a single-use node taken offline.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn the_demo_runs_and_succeeds() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gearmanctl"))
        .arg("demo")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the demo took over a minute"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("every build reported: true; one stopped and ABORTED: true; single-use node offline: true"), "{text}");
    assert!(
        text.contains("[ci01]") && text.contains("[ci02]"),
        "both masters ran builds: {text}"
    );
}
