//! `gearmanctl serve`: a job server of its own that this family's tools use, that stops on an
//! admin `shutdown` (or refuses it with `--no-admin-shutdown`) and on SIGTERM.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{gearmanctl_work, Kill};

const WAIT: Duration = Duration::from_secs(10);

fn serve(extra: &[&str]) -> (Kill, SocketAddr) {
    common::gearmanctl_serve(extra)
}

fn admin_line(addr: SocketAddr, line: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(format!("{line}\r\n").as_bytes()).unwrap();
    let mut out = Vec::new();
    let mut byte = [0u8; 1];
    while !out.ends_with(b"\n") {
        assert_eq!(s.read(&mut byte).unwrap(), 1, "reply cut off");
        out.push(byte[0]);
    }
    String::from_utf8(out).unwrap().trim_end().to_string()
}

/// Waits (bounded) for the process to exit; its status.
fn exits(child: &mut Kill) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            return status;
        }
        assert!(start.elapsed() < WAIT, "still running");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn ctl(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gearmanctl"))
        .env("RUST_LOG", "warn")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn serves_jobs_and_stops_on_an_admin_shutdown() {
    let (mut server, addr) = serve(&[]);
    let s = addr.to_string();
    let _worker = gearmanctl_work(addr, "upper", &["--", "tr", "a-z", "A-Z"]);
    let start = Instant::now();
    let out = loop {
        let out = ctl(&["submit", "--server", &s, "--function", "upper", "hello"]);
        if out.status.success() || start.elapsed() > WAIT {
            break out;
        }
        std::thread::sleep(Duration::from_millis(50)); // the worker may not have registered yet
    };
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "HELLO");
    let table = ctl(&["admin", "--server", &s, "status"]);
    assert!(String::from_utf8_lossy(&table.stdout).contains("upper"));

    assert_eq!(admin_line(addr, "shutdown"), "OK");
    let status = exits(&mut server);
    assert!(status.success(), "{status}");
    assert!(TcpStream::connect(addr).is_err(), "no longer listening");
}

#[test]
fn no_admin_shutdown_refuses_it_and_sigterm_stops_it() {
    let (mut server, addr) = serve(&["--no-admin-shutdown", "--job-retries", "2"]);
    assert_eq!(
        admin_line(addr, "shutdown"),
        "ERR UNKNOWN_COMMAND Unknown+server+commandshutdown"
    );
    assert!(admin_line(addr, "version").starts_with("OK gearman-rs "));
    let pid = server.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = exits(&mut server);
    assert!(status.success(), "{status}");
}

#[test]
fn out_of_descriptors_the_accept_failure_is_logged_once_per_interval_and_service_resumes() {
    use std::io::BufRead;
    use std::process::Stdio;
    // 40 descriptors: the runtime and the listener take a few; the connections below the rest.
    let mut child = Kill(
        Command::new("sh")
            .args([
                "-c",
                "ulimit -n 40 && exec \"$0\" serve --listen 127.0.0.1:0",
            ])
            .arg(env!("CARGO_BIN_EXE_gearmanctl"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    std::io::BufReader::new(child.0.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr: SocketAddr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .parse()
        .unwrap();
    // More connections than descriptors: the rest wait in the listen backlog while accept
    // fails, every 50 ms, for 3 s.
    let conns: Vec<TcpStream> = (0..60)
        .filter_map(|_| TcpStream::connect(addr).ok())
        .collect();
    assert!(conns.len() > 40, "the backlog took the connections");
    std::thread::sleep(Duration::from_secs(3));
    drop(conns);
    // Descriptors free again: it serves.
    let start = Instant::now();
    let echoed = loop {
        let reply = TcpStream::connect(addr).ok().and_then(|mut s| {
            s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
            s.write_all(&gearman_testkit::raw_packet(16, &[b"back"]))
                .ok()?;
            gearman_testkit::read_packet(&mut s).ok()
        });
        if let Some(p) = reply {
            break p;
        }
        assert!(start.elapsed() < WAIT, "never served again");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(echoed.ty, 17, "ECHO_RES");
    let _ = child.0.kill();
    let _ = child.0.wait();
    let mut log = String::new();
    child
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    let failures = log.matches("accept failed").count();
    assert_eq!(
        failures, 1,
        "one report in 3 s, not one per attempt:\n{log}"
    );
}

#[test]
fn after_a_freeze_a_foreground_job_whose_clients_left_is_not_run() {
    use gearman_testkit::{raw_packet, read_packet};
    let (server, addr) = serve(&[]);
    let pid = server.0.id().to_string();
    let signal = |sig: &str| {
        assert!(Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap()
            .success());
    };
    // Four clients each wait for a foreground job; a worker is registered, not grabbing.
    let clients: Vec<TcpStream> = (0..4)
        .map(|i| {
            let mut c = TcpStream::connect(addr).unwrap();
            c.set_read_timeout(Some(WAIT)).unwrap();
            c.write_all(&raw_packet(
                7,
                &[b"frozen", format!("u{i}").as_bytes(), b"data"],
            ))
            .unwrap();
            assert_eq!(read_packet(&mut c).unwrap().ty, 8, "JOB_CREATED");
            c
        })
        .collect();
    let mut worker = TcpStream::connect(addr).unwrap();
    worker.set_read_timeout(Some(WAIT)).unwrap();
    worker.write_all(&raw_packet(1, &[b"frozen"])).unwrap();
    worker.write_all(&raw_packet(16, &[b"registered"])).unwrap();
    assert_eq!(read_packet(&mut worker).unwrap().ty, 17, "ECHO_RES");

    // The server freezes; the clients give up and close; the worker asks for work.
    signal("-STOP");
    drop(clients);
    let grabs: Vec<u8> = (0..4).flat_map(|_| raw_packet(30, &[])).collect();
    worker.write_all(&grabs).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    signal("-CONT");

    // Every grab is answered NO_JOB: nobody waits for those jobs any more.
    for _ in 0..4 {
        let p = read_packet(&mut worker).unwrap();
        assert_eq!(p.ty, 10, "NO_JOB, not JOB_ASSIGN_UNIQ (31): got {}", p.ty);
    }
    assert_eq!(
        admin_line(addr, "status"),
        "frozen\t0\t0\t1",
        "no job left queued or running, the worker still registered"
    );
    drop(server);
}

/// Three workers asleep on `f`, one background job: how many are sent a NOOP, and whether the
/// one woken first is given the job.
fn woken_by_one_job(extra: &[&str]) -> usize {
    use gearman_testkit::{raw_packet, read_packet};
    let (server, addr) = serve(extra);
    let workers: Vec<TcpStream> = (0..3)
        .map(|_| {
            let mut w = TcpStream::connect(addr).unwrap();
            w.set_read_timeout(Some(WAIT)).unwrap();
            w.write_all(&raw_packet(1, &[b"f"])).unwrap();
            w.write_all(&raw_packet(30, &[])).unwrap();
            assert_eq!(read_packet(&mut w).unwrap().ty, 10, "NO_JOB");
            w.write_all(&raw_packet(4, &[])).unwrap();
            w.write_all(&raw_packet(16, &[b"asleep"])).unwrap();
            assert_eq!(
                read_packet(&mut w).unwrap().ty,
                17,
                "ECHO_RES after PRE_SLEEP"
            );
            w
        })
        .collect();
    let mut client = TcpStream::connect(addr).unwrap();
    client.set_read_timeout(Some(WAIT)).unwrap();
    client
        .write_all(&raw_packet(18, &[b"f", b"", b"data"]))
        .unwrap();
    assert_eq!(read_packet(&mut client).unwrap().ty, 8, "JOB_CREATED");
    // Any NOOP went out in the round that answered the submission, before the server reads
    // what follows: an ECHO sent now comes back after it, on each worker's connection.
    let mut woken = Vec::new();
    for mut w in workers {
        w.write_all(&raw_packet(16, &[b"after"])).unwrap();
        let mut noops = 0;
        loop {
            match read_packet(&mut w).unwrap().ty {
                6 => noops += 1,
                17 => break,
                other => panic!("expected NOOP or ECHO_RES, got {other}"),
            }
        }
        assert!(noops <= 1, "one NOOP per sleep");
        if noops == 1 {
            woken.push(w);
        }
    }
    let first = woken.first_mut().expect("no worker was woken");
    first.write_all(&raw_packet(30, &[])).unwrap();
    assert_eq!(read_packet(first).unwrap().ty, 31, "JOB_ASSIGN_UNIQ");
    drop(server);
    woken.len()
}

#[test]
fn a_job_wakes_one_sleeping_worker_and_wake_up_all_wakes_every_one() {
    assert_eq!(woken_by_one_job(&[]), 1, "as many as the jobs need");
    assert_eq!(woken_by_one_job(&["--wake-up", "all"]), 3, "gearmand's way");
}
