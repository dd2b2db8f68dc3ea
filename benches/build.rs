//! Builds the libgearman peer of the client benchmark where Debian's libgearman-dev is
//! installed; elsewhere the benchmark says so and measures only this family's client.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=peers/libgearman_client.c");
    println!("cargo:rustc-check-cfg=cfg(libgearman_peer)");
    let header = std::path::Path::new("/usr/include/libgearman-1.0/gearman.h");
    if !header.exists() {
        println!("cargo:warning=libgearman-dev not installed: the client benchmark runs without its libgearman peer");
        return;
    }
    let out =
        PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("libgearman_client");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(cc)
        .args(["-O2", "-o"])
        .arg(&out)
        .arg("peers/libgearman_client.c")
        .arg("-lgearman")
        .status();
    match status {
        Ok(s) if s.success() => {
            println!("cargo:rustc-env=LIBGEARMAN_CLIENT={}", out.display());
            println!("cargo:rustc-cfg=libgearman_peer");
        }
        _ => println!("cargo:warning=could not build the libgearman peer; the client benchmark runs without it"),
    }
}
