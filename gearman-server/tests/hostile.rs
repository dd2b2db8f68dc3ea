//! Hostile and broken input against gearman-server: the kinds of bytes the probes of
//! protocol.md threw at gearmand (unknown types, bad magic, lying sizes, a 4 GiB header,
//! missing separators, oversize fields, odd admin lines, pipelined grabs, fragments, garbage).
//! After each, the same connection is either still in step (an ECHO sent next comes back) or
//! closed, never silent; a bystander connection keeps getting answers within a second
//! throughout; and at the end a job still runs end to end.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gearman_server::ServerConfig;
use gearman_testkit::{raw_packet, read_packet, Embedded};

const ECHO_REQ: u32 = 16;
const ECHO_RES: u32 = 17;

fn header(magic: &[u8; 4], ty: u32, len: u32) -> Vec<u8> {
    let mut v = magic.to_vec();
    v.extend_from_slice(&ty.to_be_bytes());
    v.extend_from_slice(&len.to_be_bytes());
    v
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// A deterministic scramble (xorshift), so a failure can be replayed.
fn garbage(n: usize, mut seed: u64) -> Vec<u8> {
    (0..n)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed.to_le_bytes()[0]
        })
        .collect()
}

/// What may follow a case: the ECHO check, or nothing (the server rightly waits for more).
#[derive(Clone, Copy, PartialEq)]
enum After {
    InStepOrClosed,
    /// An admin line: its text reply first, then in step (or closed).
    Text,
    Incomplete,
}

fn cases() -> Vec<(&'static str, Vec<u8>, After)> {
    use After::*;
    let long_fn = vec![b'f'; 600];
    let unique64 = vec![b'u'; 64];
    let mut cases = vec![
        ("type 0", header(b"\0REQ", 0, 0), InStepOrClosed),
        ("type 43", header(b"\0REQ", 43, 0), InStepOrClosed),
        ("type 99", header(b"\0REQ", 99, 0), InStepOrClosed),
        (
            "type u32::MAX",
            header(b"\0REQ", u32::MAX, 0),
            InStepOrClosed,
        ),
        ("bad magic", header(b"\0XXX", ECHO_REQ, 0), InStepOrClosed),
        (
            "RES magic",
            cat(&[&header(b"\0RES", ECHO_RES, 2), b"hi"]),
            InStepOrClosed,
        ),
        (
            "4 GiB header",
            cat(&[&header(b"\0REQ", ECHO_REQ, u32::MAX), &[b'x'; 4096]]),
            InStepOrClosed,
        ),
        (
            "SUBMIT_JOB with no separators",
            cat(&[&header(b"\0REQ", 7, 3), b"abc"]),
            InStepOrClosed,
        ),
        (
            "size shorter than the fields",
            cat(&[&header(b"\0REQ", 7, 2), b"f\0\0u\0data"]),
            InStepOrClosed,
        ),
        (
            "NOOP with a body",
            cat(&[&header(b"\0REQ", 6, 4), b"body"]),
            InStepOrClosed,
        ),
        (
            "PRE_SLEEP with a body",
            cat(&[&header(b"\0REQ", 4, 1), b"x"]),
            InStepOrClosed,
        ),
        (
            "function of 600 bytes",
            raw_packet(7, &[&long_fn, b"", b"x"]),
            InStepOrClosed,
        ),
        (
            "unique of 64 bytes",
            raw_packet(7, &[b"h:f", &unique64, b"x"]),
            InStepOrClosed,
        ),
        (
            "empty function",
            raw_packet(18, &[b"", b"u", b"x"]),
            InStepOrClosed,
        ),
        (
            "CAN_DO with a NUL",
            raw_packet(1, &[b"h:f", b""]),
            InStepOrClosed,
        ),
        (
            "CAN_DO_TIMEOUT of 25 digits",
            raw_packet(23, &[b"h:t", b"1234567890123456789012345"]),
            InStepOrClosed,
        ),
        (
            "epoch not a number",
            raw_packet(36, &[b"h:e", b"", b"soon", b"x"]),
            InStepOrClosed,
        ),
        (
            "epoch past u64",
            raw_packet(36, &[b"h:e", b"", b"99999999999999999999999", b"x"]),
            InStepOrClosed,
        ),
        (
            "WORK_COMPLETE unknown handle",
            raw_packet(13, &[b"H:none:1", b"x"]),
            InStepOrClosed,
        ),
        (
            "WORK_STATUS huge numbers",
            raw_packet(12, &[b"H:none:1", b"4294967296", b"-5"]),
            InStepOrClosed,
        ),
        (
            "GET_STATUS handle of 72 bytes",
            raw_packet(15, &[&[b'h'; 72]]),
            InStepOrClosed,
        ),
        (
            "OPTION_REQ unknown",
            raw_packet(26, &[b"no-such-option"]),
            InStepOrClosed,
        ),
        (
            "100 pipelined GRAB_JOB, nothing registered",
            raw_packet(9, &[]).repeat(100),
            InStepOrClosed,
        ),
        ("admin: empty line", b"\r\n".to_vec(), Text),
        ("admin: spaces", b"   \n".to_vec(), Text),
        (
            "admin: many words",
            b"a b c d e f g h i j\r\n".to_vec(),
            Text,
        ),
        (
            "admin: shutdown (switched off here)",
            b"shutdown graceful\r\n".to_vec(),
            Text,
        ),
        ("admin: cancel junk", b"cancel job\r\n".to_vec(), Text),
        (
            "admin: maxqueue junk",
            b"maxqueue f x y z\r\n".to_vec(),
            Text,
        ),
        (
            "admin: 9000 bytes, no newline",
            vec![b'a'; 9000],
            InStepOrClosed,
        ),
        ("admin: no newline yet", b"status".to_vec(), Incomplete),
        (
            "half a header",
            header(b"\0REQ", ECHO_REQ, 10)[..7].to_vec(),
            Incomplete,
        ),
        (
            "a body still to come",
            header(b"\0REQ", ECHO_REQ, 10),
            Incomplete,
        ),
    ];
    for seed in 1..=8u64 {
        let name: &'static str = Box::leak(format!("garbage seed {seed}").into_boxed_str());
        cases.push((name, garbage(64 * 1024, seed), InStepOrClosed));
    }
    cases
}

fn open(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(3))).unwrap();
    s
}

/// After the case, an ECHO: it comes back (after any ERRORs), or the connection is closed.
fn in_step_or_closed(s: &mut TcpStream, name: &str) -> &'static str {
    if s.write_all(&raw_packet(ECHO_REQ, &[b"in step?"])).is_err() {
        return "closed";
    }
    // Bounded: each read waits at most 3 s; at most 200 packets come back (100 NO_JOBs above).
    for _ in 0..200 {
        match read_packet(s) {
            Ok(p) if p.ty == ECHO_RES && p.body == b"in step?" => return "in step",
            Ok(p) => assert!(
                p.ty == 19 || p.ty == 10 || p.ty == 6,
                "{name}: unexpected packet {p:?}"
            ),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("{name}: silent, neither in step nor closed")
            }
            // Closed (EOF, reset), or framing the rest of a line we sent as text.
            Err(_) => return "closed",
        }
    }
    panic!("{name}: too many packets")
}

/// One admin reply line (bounded: 8 KiB at most).
fn text_reply(s: &mut TcpStream, name: &str) -> String {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while !line.ends_with(b"\n") {
        assert!(line.len() < 8192, "{name}: no end of line");
        assert_eq!(s.read(&mut b).unwrap(), 1, "{name}: closed mid-reply");
        line.push(b[0]);
    }
    String::from_utf8_lossy(&line).trim_end().to_string()
}

#[test]
fn hostile_input_gets_an_answer_or_a_close_and_never_stalls_others() {
    let server = Embedded::start(
        ServerConfig {
            admin_shutdown: false,
            max_packet: 1024 * 1024,
            ..ServerConfig::default()
        },
        None,
    )
    .unwrap();
    let addr = server.addr();

    // The bystander: ECHO round trips all along, each within a second.
    let stop = Arc::new(AtomicBool::new(false));
    let worst = Arc::new(AtomicU64::new(0));
    let bystander = std::thread::spawn({
        let (stop, worst) = (stop.clone(), worst.clone());
        move || {
            let mut s = open(addr);
            let mut rounds = 0u32;
            while !stop.load(Ordering::Relaxed) && rounds < 100_000 {
                let t = Instant::now();
                s.write_all(&raw_packet(ECHO_REQ, &[b"bystander"])).unwrap();
                let p = read_packet(&mut s)
                    .unwrap_or_else(|e| panic!("the bystander is answered: {e} after {rounds}"));
                assert_eq!((p.ty, &p.body[..]), (ECHO_RES, &b"bystander"[..]));
                worst.fetch_max(t.elapsed().as_micros() as u64, Ordering::Relaxed);
                rounds += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
            rounds
        }
    });

    let mut outcomes = Vec::new();
    for (name, bytes, after) in cases() {
        let mut s = open(addr);
        let _ = s.write_all(&bytes);
        let outcome = match after {
            After::InStepOrClosed => in_step_or_closed(&mut s, name),
            After::Text => {
                let reply = text_reply(&mut s, name);
                assert!(
                    reply.starts_with("ERR ") || reply.starts_with("OK"),
                    "{name}: {reply}"
                );
                in_step_or_closed(&mut s, name)
            }
            After::Incomplete => {
                let mut b = [0u8; 1];
                s.set_read_timeout(Some(Duration::from_millis(200)))
                    .unwrap();
                match s.read(&mut b) {
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                        "waits for the rest"
                    }
                    other => panic!("{name}: expected the server to wait, got {other:?}"),
                }
            }
        };
        outcomes.push(format!("{name}: {outcome}"));
        // Fragmented delivery of the same bytes, one at a time, must not matter either.
        if bytes.len() <= 64 && after != After::Incomplete {
            let mut s = open(addr);
            s.set_nodelay(true).unwrap();
            for b in &bytes {
                if s.write_all(std::slice::from_ref(b)).is_err() {
                    break;
                }
            }
            if after == After::Text {
                text_reply(&mut s, name);
            }
            in_step_or_closed(&mut s, name);
        }
    }
    eprintln!("{}", outcomes.join("\n"));
    // The ones that must stay in step, by design.
    for must in [
        "SUBMIT_JOB with no separators: in step",
        "unique of 64 bytes: in step",
        "function of 600 bytes: in step",
        "RES magic: in step",
        "admin: shutdown (switched off here): in step",
    ] {
        assert!(outcomes.iter().any(|o| o == must), "{must}");
    }
    for must_close in [
        "4 GiB header: closed",
        "bad magic: closed",
        "type 99: closed",
    ] {
        assert!(outcomes.iter().any(|o| o == must_close), "{must_close}");
    }

    stop.store(true, Ordering::Relaxed);
    let rounds = bystander.join().unwrap();
    let worst = Duration::from_micros(worst.load(Ordering::Relaxed));
    eprintln!("bystander: {rounds} round trips, worst {worst:?}");
    assert!(rounds > 10, "the bystander ran throughout");
    assert!(
        worst < Duration::from_secs(1),
        "a bystander waited {worst:?}"
    );

    // Still a working job server.
    let mut w = open(addr);
    w.write_all(&raw_packet(1, &[b"h:after"])).unwrap();
    let mut c = open(addr);
    c.write_all(&raw_packet(7, &[b"h:after", b"", b"payload"]))
        .unwrap();
    let created = read_packet(&mut c).unwrap();
    assert_eq!(created.ty, 8);
    w.write_all(&raw_packet(9, &[])).unwrap();
    let assign = read_packet(&mut w).unwrap();
    assert_eq!(assign.ty, 11);
    w.write_all(&raw_packet(13, &[&created.body, b"done"]))
        .unwrap();
    let done = read_packet(&mut c).unwrap();
    assert_eq!((done.ty, done.body), (13, cat(&[&created.body, b"\0done"])));
}
