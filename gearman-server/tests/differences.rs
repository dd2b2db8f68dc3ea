//! Where gearman-server and gearmand 1.1.20 legitimately differ. Each scenario runs against
//! both (raw packets over std sockets, independent of this family's codec) and says what it
//! expects of each, and why: gearmand's behaviour is as protocol.md records it; ours is the fix.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gearman_testkit::{raw_packet, read_packet, RawPacket, ServerKind, TestServer};

const CAN_DO: u32 = 1;
const PRE_SLEEP: u32 = 4;
const NOOP: u32 = 6;
const SUBMIT_JOB: u32 = 7;
const JOB_CREATED: u32 = 8;
const GRAB_JOB: u32 = 9;
const NO_JOB: u32 = 10;
const JOB_ASSIGN: u32 = 11;
const WORK_FAIL: u32 = 14;
const ECHO_REQ: u32 = 16;
const ECHO_RES: u32 = 17;
const ERROR: u32 = 19;
const SUBMIT_JOB_EPOCH: u32 = 36;

struct Raw(TcpStream);

impl Raw {
    fn open(addr: SocketAddr) -> Self {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        Self(s)
    }

    fn send(&mut self, ty: u32, fields: &[&[u8]]) {
        self.0.write_all(&raw_packet(ty, fields)).unwrap();
    }

    fn recv(&mut self) -> RawPacket {
        read_packet(&mut self.0).expect("a packet within 5 s")
    }

    /// The next packet if one comes within `wait`.
    fn recv_within(&mut self, wait: Duration) -> Option<RawPacket> {
        self.0.set_read_timeout(Some(wait)).unwrap();
        let got = match read_packet(&mut self.0) {
            Ok(p) => Some(p),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => None,
            Err(e) => panic!("read failed: {e}"),
        };
        self.0
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        got
    }

    /// Whether the server closed the connection (within 5 s).
    fn closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        matches!(self.0.read(&mut byte), Ok(0))
            || matches!(self.0.read(&mut byte), Err(e) if e.kind() == ErrorKind::ConnectionReset)
    }

    /// Sends an admin line and reads one reply line.
    fn admin_line(&mut self, line: &str) -> String {
        self.0.write_all(format!("{line}\r\n").as_bytes()).unwrap();
        let mut out = Vec::new();
        let mut byte = [0u8; 1];
        while !out.ends_with(b"\n") {
            assert_eq!(self.0.read(&mut byte).unwrap(), 1, "reply cut off");
            out.push(byte[0]);
        }
        String::from_utf8(out).unwrap().trim_end().to_string()
    }

    /// The WORKERS column of `status` for `function`.
    fn workers_of(&mut self, function: &str) -> u32 {
        self.0.write_all(b"status\r\n").unwrap();
        let mut text = Vec::new();
        let mut byte = [0u8; 1];
        while !(text.ends_with(b"\n.\n") || text == b".\n") {
            assert_eq!(self.0.read(&mut byte).unwrap(), 1);
            text.push(byte[0]);
        }
        let text = String::from_utf8(text).unwrap();
        let row = text
            .lines()
            .find(|l| l.split('\t').next() == Some(function))
            .expect("listed");
        row.split('\t').nth(3).unwrap().parse().unwrap()
    }
}

fn server(kind: ServerKind, test: &str) -> Option<TestServer> {
    TestServer::start_or_skip(kind, test)
}

/// protocol.md §3.12: gearmand 1.1.20 never wakes a sleeping worker when an epoch job comes
/// due (fixed in gearmand 2.0); gearman-server sends the NOOP on time. (gearmand does send a
/// NOOP at submission, when the job is not yet due; the worker's GRAB then gets NO_JOB.) Both
/// hand the job out to a GRAB once it is due.
fn a_sleeping_worker_is_woken_when_an_epoch_job_comes_due(kind: ServerKind) {
    let Some(g) = server(kind, "epoch_wake") else {
        return;
    };
    let mut w = Raw::open(g.addr());
    w.send(CAN_DO, &[b"d:epoch"]);
    let mut c = Raw::open(g.addr());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let at = (now + 2).to_string();
    c.send(SUBMIT_JOB_EPOCH, &[b"d:epoch", b"", at.as_bytes(), b"data"]);
    assert_eq!(c.recv().ty, JOB_CREATED);
    w.send(GRAB_JOB, &[]);
    // Bounded: a NOOP or two at most before the NO_JOB.
    let mut got = w.recv();
    for _ in 0..3 {
        if got.ty != NOOP {
            break;
        }
        got = w.recv();
    }
    assert_eq!(got.ty, NO_JOB, "not due yet");
    w.send(PRE_SLEEP, &[]);
    let woken = w.recv_within(Duration::from_secs(4));
    match kind {
        ServerKind::Gearmand => assert!(woken.is_none(), "1.1.20 does not wake: {woken:?}"),
        ServerKind::GearmanServer => assert_eq!(woken.map(|p| p.ty), Some(NOOP)),
    }
    w.send(GRAB_JOB, &[]);
    let job = w.recv();
    assert_eq!(job.ty, JOB_ASSIGN);
    assert!(job.body.ends_with(b"\0d:epoch\0data"));
}

/// protocol.md §3.9: gearmand counts a function registered twice as two workers; gearman-server
/// registers it once.
fn a_function_registered_twice_counts_once_here(kind: ServerKind) {
    let Some(g) = server(kind, "double_can_do") else {
        return;
    };
    let mut w = Raw::open(g.addr());
    w.send(CAN_DO, &[b"d:twice"]);
    w.send(CAN_DO, &[b"d:twice"]);
    w.send(ECHO_REQ, &[b"sync"]);
    assert_eq!(w.recv().ty, ECHO_RES);
    let mut admin = Raw::open(g.addr());
    let want = match kind {
        ServerKind::Gearmand => 2,
        ServerKind::GearmanServer => 1,
    };
    assert_eq!(admin.workers_of("d:twice"), want);
}

/// protocol.md §5: `drop function` with a queued job orphans it in gearmand (its client never
/// hears of it again); gearman-server fails it to the client, so every job ends.
fn drop_function_with_a_queued_job(kind: ServerKind) {
    let Some(g) = server(kind, "drop_function") else {
        return;
    };
    let mut c = Raw::open(g.addr());
    c.send(SUBMIT_JOB, &[b"d:drop", b"", b"x"]);
    let created = c.recv();
    assert_eq!(created.ty, JOB_CREATED);
    let mut admin = Raw::open(g.addr());
    assert_eq!(admin.admin_line("drop function d:drop"), "OK");
    let told = c.recv_within(Duration::from_millis(500));
    match kind {
        ServerKind::Gearmand => assert!(told.is_none(), "orphaned: {told:?}"),
        ServerKind::GearmanServer => {
            let p = told.expect("WORK_FAIL");
            assert_eq!((p.ty, p.body), (WORK_FAIL, created.body));
        }
    }
}

/// protocol.md §5: gearmand removed `shutdown` in 1.1.15; gearman-server answers OK, closes
/// every connection and stops listening.
fn admin_shutdown(kind: ServerKind) {
    let Some(g) = server(kind, "admin_shutdown") else {
        return;
    };
    let mut other = Raw::open(g.addr());
    let mut admin = Raw::open(g.addr());
    let reply = admin.admin_line("shutdown");
    match kind {
        ServerKind::Gearmand => {
            assert_eq!(reply, "ERR UNKNOWN_COMMAND Unknown+server+commandshutdown");
            other.send(ECHO_REQ, &[b"still here"]);
            assert_eq!(other.recv().ty, ECHO_RES);
        }
        ServerKind::GearmanServer => {
            assert_eq!(reply, "OK");
            assert!(admin.closed() && other.closed(), "connections closed");
            assert!(TcpStream::connect(g.addr()).is_err(), "not listening");
        }
    }
}

/// protocol.md §4.1: gearmand accepts a 64-byte unique but stores 63 bytes, so the same unique
/// never coalesces; gearman-server refuses uniques over 63 bytes with an ERROR and stays in step.
fn a_64_byte_unique(kind: ServerKind) {
    let Some(g) = server(kind, "unique_64") else {
        return;
    };
    let unique = [b'u'; 64];
    let mut c = Raw::open(g.addr());
    c.send(SUBMIT_JOB, &[b"d:u64", &unique, b"x"]);
    c.send(SUBMIT_JOB, &[b"d:u64", &unique, b"x"]);
    let (a, b) = (c.recv(), c.recv());
    match kind {
        ServerKind::Gearmand => {
            assert_eq!((a.ty, b.ty), (JOB_CREATED, JOB_CREATED));
            assert_ne!(a.body, b.body, "the same unique made two jobs");
        }
        ServerKind::GearmanServer => {
            assert_eq!((a.ty, b.ty), (ERROR, ERROR));
            assert!(a.body.starts_with(b"ARGUMENT_TOO_LARGE\0"));
        }
    }
    c.send(ECHO_REQ, &[b"in step"]);
    assert_eq!(c.recv().body, b"in step");
}

/// protocol.md §3.8/§8.16: a packet missing its NUL separators throws gearmand's parser out of
/// step: it closes the connection without a word when the next packet arrives. gearman-server
/// answers ERROR and the stream stays in step.
fn a_packet_missing_its_separators(kind: ServerKind) {
    let Some(g) = server(kind, "missing_nuls") else {
        return;
    };
    let mut c = Raw::open(g.addr());
    c.send(SUBMIT_JOB, &[b"no separators at all"]);
    c.send(ECHO_REQ, &[b"in step"]);
    match kind {
        ServerKind::Gearmand => assert!(c.closed(), "closed"),
        ServerKind::GearmanServer => {
            let p = c.recv();
            assert_eq!(p.ty, ERROR);
            assert!(p.body.starts_with(b"INVALID_PACKET\0"), "{p:?}");
            assert_eq!(c.recv().body, b"in step");
        }
    }
}

gearman_testkit::on_both_servers_blocking!(
    a_sleeping_worker_is_woken_when_an_epoch_job_comes_due,
    a_function_registered_twice_counts_once_here,
    drop_function_with_a_queued_job,
    admin_shutdown,
    a_64_byte_unique,
    a_packet_missing_its_separators,
);
