//! `gearmanctl admin shutdown [--graceful]` on both servers: gearman-server stops, gearmand
//! (which removed the command in 1.1.15) refuses it and goes on.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

use gearman_testkit::{ServerKind, TestServer};

fn ctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gearmanctl"))
        .env_remove("RUST_LOG")
        .args(args)
        .output()
        .unwrap()
}

fn shutdown_stops_our_server_and_gearmand_refuses(kind: ServerKind) {
    let Some(server) = TestServer::start_or_skip(kind, "cli_admin_shutdown") else {
        return;
    };
    let addr = server.addr().to_string();
    let out = ctl(&["admin", "-s", &addr, "shutdown", "--graceful"]);
    let version = ctl(&["admin", "-s", &addr, "--timeout", "2", "version"]);
    match kind {
        ServerKind::GearmanServer => {
            assert_eq!(
                (out.status.code(), &out.stdout[..]),
                (Some(0), &b"OK\n"[..]),
                "{out:?}"
            );
            assert_eq!(version.status.code(), Some(2), "{version:?}");
            assert!(
                String::from_utf8_lossy(&version.stderr).contains("refused"),
                "{version:?}"
            );
        }
        ServerKind::Gearmand => {
            assert_eq!(out.status.code(), Some(2), "{out:?}");
            assert!(
                String::from_utf8_lossy(&out.stderr).contains("UNKNOWN_COMMAND"),
                "{out:?}"
            );
            assert_eq!(version.status.code(), Some(0), "{version:?}");
        }
    }
}

gearman_testkit::on_both_servers_blocking!(shutdown_stops_our_server_and_gearmand_refuses);
