//! gearmanctl over TLS with real peers: python gear 0.16's TLS worker serves a job that
//! `gearmanctl submit` sends over mutual TLS through `gearmanctl serve`; clients with no
//! certificate or one from another CA are refused in under a second with a non-zero exit; a
//! plaintext peer on the TLS port gets nothing and the server keeps serving; `gearmanctl work`
//! over TLS serves gear's TLS client through geard (gear's own server, which requires client
//! certificates), and `gearmanctl submit` reaches gear's TLS worker there too; gear's TLS client
//! goes through `gearmanctl serve` too; `gearmanctl ci` with `[gearman.tls]` builds through both
//! servers; `serve --acl` refuses what the ACL does not allow; SIGHUP re-reads the certificate
//! and keeps live connections. The certificates are made by the test (rcgen).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use common::Kill;
use gearman_testkit::{raw_packet, skip, Pki, PkiFiles};

const WAIT: Duration = Duration::from_secs(20);
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/gear_tls.py");

fn gear_installed(test: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import gear"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        skip(test, "python gear is missing (pip install gear==0.16.0)");
    }
    ok
}

/// Reads lines of `out` until one starts with `prefix` (bounded by the child's own waits: it
/// exits, closing stdout, when they run out); the rest of that line.
fn line_with(out: &mut BufReader<ChildStdout>, prefix: &str) -> String {
    for _ in 0..100 {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if let Some(rest) = line.trim_end().strip_prefix(prefix) {
            return rest.to_string();
        }
    }
    panic!("no line starting with {prefix:?}");
}

/// A python gear peer in `mode`, its stdin held open (closing it stops the peer).
fn gear(mode: &str, args: &[&str]) -> (Kill, BufReader<ChildStdout>) {
    let mut child: Child = Command::new("python3")
        .arg(SCRIPT)
        .arg(mode)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = BufReader::new(child.stdout.take().unwrap());
    (Kill(child), out)
}

fn path(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

/// A gear worker or client at `addr` with identity `id` trusting `ca`, then `rest`.
fn gear_peer(
    mode: &str,
    addr: SocketAddr,
    id: &PkiFiles,
    ca: &std::path::Path,
    rest: &[&str],
) -> (Kill, BufReader<ChildStdout>) {
    let (host, port) = (addr.ip().to_string(), addr.port().to_string());
    let mut args = vec![
        host.as_str(),
        port.as_str(),
        path(&id.key),
        path(&id.cert),
        path(ca),
    ];
    args.extend_from_slice(rest);
    gear(mode, &args)
}

fn serve(extra: &[&str]) -> (Kill, SocketAddr) {
    common::gearmanctl_serve(extra)
}

/// `gearmanctl submit` with `tls` options; its output and how long it took.
fn submit(addr: SocketAddr, function: &str, tls: &[&str]) -> (std::process::Output, Duration) {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_gearmanctl"))
        .env("RUST_LOG", "error")
        .args(["submit", "--server", &addr.to_string(), "--timeout", "15"])
        .args(["-f", function])
        .args(tls)
        .arg("hello tls")
        .output()
        .unwrap();
    (out, started.elapsed())
}

#[test]
fn gear_tls_worker_serves_gearmanctl_submit_through_gearmanctl_serve() {
    if !gear_installed("gear_tls_worker_serves_gearmanctl_submit_through_gearmanctl_serve") {
        return;
    }
    let pki = Pki::new("serve");
    let other = Pki::new("stranger");
    let server = pki.server("server", &[]);
    let (_serve, addr) = serve(&[
        "--tls-cert",
        path(&server.cert),
        "--tls-key",
        path(&server.key),
        "--tls-client-ca",
        path(&pki.ca()),
    ]);
    let worker_id = pki.client("py-worker");
    let (_worker, mut out) = gear_peer("worker", addr, &worker_id, &pki.ca(), &["py:rev"]);
    line_with(&mut out, "READY");

    let me = pki.client("submitter");
    let ca = pki.ca();
    let mutual = [
        "--tls-ca",
        path(&ca),
        "--tls-cert",
        path(&me.cert),
        "--tls-key",
        path(&me.key),
    ];
    let (ok, _) = submit(addr, "py:rev", &mutual);
    assert!(ok.status.success(), "{ok:?}");
    assert_eq!(ok.stdout, b"slt olleh");

    // No client certificate, or one from another CA: refused fast, non-zero, saying why.
    let stranger = other.client("stranger");
    for tls in [
        vec!["--tls-ca", path(&ca)],
        vec![
            "--tls-ca",
            path(&ca),
            "--tls-cert",
            path(&stranger.cert),
            "--tls-key",
            path(&stranger.key),
        ],
    ] {
        let (out, took) = submit(addr, "py:rev", &tls);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(20), "{stderr}");
        assert!(stderr.contains("TLS: refused by the server"), "{stderr}");
        assert!(took < Duration::from_secs(1), "{took:?}");
        assert!(out.stdout.is_empty());
    }

    // A plaintext peer on the TLS port gets no gearman answer; the server keeps serving.
    let mut plain = TcpStream::connect(addr).unwrap();
    plain.set_read_timeout(Some(WAIT)).unwrap();
    plain.write_all(&raw_packet(16, &[b"plain"])).unwrap();
    let mut got = Vec::new();
    let _ = plain.read_to_end(&mut got);
    assert!(!got.windows(4).any(|w| w == b"\0RES"), "{got:?}");
    let (again, _) = submit(addr, "py:rev", &mutual);
    assert!(again.status.success(), "{again:?}");
    assert_eq!(again.stdout, b"slt olleh");

    // gear's TLS client through gearmanctl serve to gear's TLS worker.
    let py_client = pki.client("py-client");
    let (_c, mut out) = gear_peer("client", addr, &py_client, &ca, &["py:rev", "abc"]);
    assert_eq!(line_with(&mut out, "RESULT "), "cba");
}

#[test]
fn gearmanctl_work_and_submit_over_tls_through_geard() {
    if !gear_installed("gearmanctl_work_and_submit_over_tls_through_geard") {
        return;
    }
    let pki = Pki::new("geard");
    let ca = pki.ca();
    let server = pki.server("geard", &[]);
    let (_geard, mut out) = gear(
        "server",
        &[path(&server.key), path(&server.cert), path(&ca)],
    );
    let port: u16 = line_with(&mut out, "PORT ").parse().unwrap();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();

    let me = pki.client("rust");
    let tls = [
        "--tls-ca",
        path(&ca),
        "--tls-cert",
        path(&me.cert),
        "--tls-key",
        path(&me.key),
    ];
    let _work = Kill(
        Command::new(env!("CARGO_BIN_EXE_gearmanctl"))
            .env("RUST_LOG", "warn")
            .args([
                "work",
                "--server",
                &addr.to_string(),
                "-f",
                "rs:echo",
                "--echo",
            ])
            .args(tls)
            .spawn()
            .unwrap(),
    );
    // Until geard lists the worker (admin `status` over TLS): then gear's TLS client through
    // geard to gearmanctl work.
    let started = Instant::now();
    loop {
        let status = Command::new(env!("CARGO_BIN_EXE_gearmanctl"))
            .args(["admin", "--server", &addr.to_string()])
            .args(tls)
            .arg("status")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&status.stdout).to_string();
        if text
            .lines()
            .any(|l| l.starts_with("rs:echo") && l.trim_end().ends_with('1'))
        {
            break;
        }
        assert!(
            started.elapsed() < WAIT,
            "the worker never registered: {text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let py_client = pki.client("py-client");
    let (_c, mut out) = gear_peer("client", addr, &py_client, &ca, &["rs:echo", "from gear"]);
    assert_eq!(line_with(&mut out, "RESULT "), "from gear");

    // gearmanctl submit through geard to gear's TLS worker.
    let worker_id = pki.client("py-worker");
    let (_worker, mut wout) = gear_peer("worker", addr, &worker_id, &ca, &["py:rev"]);
    line_with(&mut wout, "READY");
    let (ok, _) = submit(addr, "py:rev", &tls);
    assert!(ok.status.success(), "{ok:?}");
    assert_eq!(ok.stdout, b"slt olleh");
    // geard requires a client certificate: without one, a clear refusal.
    let (no_cert, took) = submit(addr, "py:rev", &["--tls-ca", path(&ca)]);
    assert_eq!(no_cert.status.code(), Some(20), "{no_cert:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
}

/// `gearmanctl ci` with `[gearman.tls]` at `addr`: `--check` passes where the server answers
/// ECHO and `version` (ours), and a build submitted over TLS runs and reports SUCCESS.
fn ci_host_builds_over_tls(pki: &Pki, addr: SocketAddr, check: bool, manager: &str) {
    let me = pki.client(manager);
    let logs = pki.dir().join(format!("logs-{manager}"));
    let config = pki.dir().join(format!("{manager}.toml"));
    let ca = pki.ca();
    std::fs::write(
        &config,
        format!(
            r#"
[gearman]
servers = ["{addr}"]
manager = "{manager}"
log_dir = "{logs}"

[gearman.tls]
ca = "{ca}"
cert = "{cert}"
key = "{key}"

[[node]]
name = "n1"

[[project]]
name = "ok"
command = "echo built"
"#,
            logs = logs.display(),
            ca = ca.display(),
            cert = me.cert.display(),
            key = me.key.display(),
        ),
    )
    .unwrap();
    if check {
        let out = Command::new(env!("CARGO_BIN_EXE_gearmanctl"))
            .args(["ci", "--check", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        assert!(String::from_utf8_lossy(&out.stdout).contains(": ok"));
    }
    let _ci = Kill(
        Command::new(env!("CARGO_BIN_EXE_gearmanctl"))
            .env("RUST_LOG", "warn")
            .args(["ci", "--config"])
            .arg(&config)
            .spawn()
            .unwrap(),
    );
    let submitter = pki.client(&format!("{manager}-submitter"));
    let out = Command::new(env!("CARGO_BIN_EXE_gearmanctl"))
        .env("RUST_LOG", "error")
        .args(["submit", "--server", &addr.to_string(), "--timeout", "15"])
        .args(["-f", "build:ok", "--tls-ca", path(&ca)])
        .args([
            "--tls-cert",
            path(&submitter.cert),
            "--tls-key",
            path(&submitter.key),
        ])
        .arg("{}")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("SUCCESS"), "{report}");
}

#[test]
fn ci_host_over_tls_against_gearmanctl_serve_and_geard() {
    let pki = Pki::new("ci");
    let server = pki.server("server", &[]);
    let (_serve, addr) = serve(&[
        "--tls-cert",
        path(&server.cert),
        "--tls-key",
        path(&server.key),
        "--tls-client-ca",
        path(&pki.ca()),
    ]);
    ci_host_builds_over_tls(&pki, addr, true, "ci-ours");

    if !gear_installed("ci_host_over_tls_against_gearmanctl_serve_and_geard (geard)") {
        return;
    }
    let geard_cert = pki.server("geard", &[]);
    let (_geard, mut out) = gear(
        "server",
        &[
            path(&geard_cert.key),
            path(&geard_cert.cert),
            path(&pki.ca()),
        ],
    );
    let port: u16 = line_with(&mut out, "PORT ").parse().unwrap();
    // geard answers neither ECHO nor `version`: no --check there.
    ci_host_builds_over_tls(&pki, ([127, 0, 0, 1], port).into(), false, "ci-geard");
}

#[test]
fn serve_with_an_acl_refuses_submissions_and_admin_outside_it() {
    let pki = Pki::new("acl");
    let server = pki.server("server", &[]);
    let acl = pki.dir().join("acl.ini");
    std::fs::write(&acl, "[submitter]\ninvoke = allowed:\n").unwrap();
    let (_serve, addr) = serve(&[
        "--tls-cert",
        path(&server.cert),
        "--tls-key",
        path(&server.key),
        "--tls-client-ca",
        path(&pki.ca()),
        "--acl",
        path(&acl),
    ]);
    let me = pki.client("submitter");
    let ca = pki.ca();
    let tls = [
        "--tls-ca",
        path(&ca),
        "--tls-cert",
        path(&me.cert),
        "--tls-key",
        path(&me.key),
    ];
    let (out, _) = submit(addr, "forbidden", &tls);
    assert_eq!(out.status.code(), Some(24), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("PERMISSION_DENIED"));
    let status = Command::new(env!("CARGO_BIN_EXE_gearmanctl"))
        .args(["admin", "--server", &addr.to_string()])
        .args(tls)
        .arg("status")
        .output()
        .unwrap();
    assert!(!status.status.success());
    assert!(
        String::from_utf8_lossy(&status.stderr).contains("PERMISSION_DENIED"),
        "{status:?}"
    );
    // An allowed function is queued (background, so no worker is needed).
    let bg = Command::new(env!("CARGO_BIN_EXE_gearmanctl"))
        .args([
            "submit",
            "--server",
            &addr.to_string(),
            "-b",
            "-f",
            "allowed:x",
        ])
        .args(tls)
        .arg("data")
        .output()
        .unwrap();
    assert!(bg.status.success(), "{bg:?}");
}

#[test]
fn serve_rereads_its_certificate_on_sighup_and_keeps_live_connections() {
    let old = Pki::new("hup-old");
    let new = Pki::new("hup-new");
    let files = old.server("server", &[]);
    let (serve, addr) = serve(&[
        "--tls-cert",
        path(&files.cert),
        "--tls-key",
        path(&files.key),
    ]);
    // A live connection: an echo worker over TLS, trusting the old CA.
    let _work = Kill(
        Command::new(env!("CARGO_BIN_EXE_gearmanctl"))
            .env("RUST_LOG", "error")
            .args([
                "work",
                "--server",
                &addr.to_string(),
                "-f",
                "hup:echo",
                "--echo",
            ])
            .args(["--tls-ca", path(&old.ca())])
            .spawn()
            .unwrap(),
    );
    let (before, _) = submit(addr, "hup:echo", &["--tls-ca", path(&old.ca())]);
    assert!(before.status.success(), "{before:?}");
    let fresh = new.server("server", &[]);
    std::fs::copy(&fresh.cert, &files.cert).unwrap();
    std::fs::copy(&fresh.key, &files.key).unwrap();
    let pid = serve.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    // New connections get the new certificate (bounded wait for the signal to be handled); the
    // job is served by the worker's connection from before the reload (a new one would fail:
    // the worker trusts only the old CA).
    let started = Instant::now();
    loop {
        let (out, _) = submit(addr, "hup:echo", &["--tls-ca", path(&new.ca())]);
        if out.status.success() {
            assert_eq!(out.stdout, b"hello tls");
            break;
        }
        assert!(started.elapsed() < WAIT, "{out:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (stale, _) = submit(addr, "hup:echo", &["--tls-ca", path(&old.ca())]);
    let stderr = String::from_utf8_lossy(&stale.stderr);
    assert_eq!(stale.status.code(), Some(20), "{stderr}");
    assert!(stderr.contains("not from a trusted CA"), "{stderr}");
}
