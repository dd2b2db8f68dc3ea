//! The codec against both job servers, the real gearmand (Debian `gearman-job-server`) and
//! gearman-server, started on free loopback ports by gearman-testkit; each scenario runs once
//! per server. Skips the gearmand half loudly where gearmand is missing, fails in CI
//! (`GEARMAN_REQUIRE_GEARMAND=1`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use gearman_proto::admin::{AdminCommand, AdminReply, ReplyReader};
use gearman_proto::{
    ClientId, Decoder, FunctionName, GrabKind, JobAssign, OptionName, Priority, Request, Response,
    Submit, SubmitReduce, UniqueId, WorkUpdate,
};
use gearman_testkit::{ServerKind, TestServer};

const IO_TIMEOUT: Duration = Duration::from_secs(5);

struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    decoder: Decoder,
}

impl Conn {
    fn open(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        Self {
            stream,
            buf: BytesMut::new(),
            decoder: Decoder::new(),
        }
    }

    fn send(&mut self, req: &Request) {
        self.stream.write_all(&req.to_bytes().unwrap()).unwrap();
    }

    fn fill(&mut self) {
        let mut chunk = [0u8; 4096];
        let n = self
            .stream
            .read(&mut chunk)
            .expect("read within the timeout");
        assert!(n > 0, "gearmand closed the connection");
        self.buf.extend_from_slice(&chunk[..n]);
    }

    fn recv(&mut self) -> Response {
        // Bounded: each fill waits at most IO_TIMEOUT and gearmand's replies are small.
        for _ in 0..64 {
            if let Some(p) = self.decoder.decode(&mut self.buf).unwrap() {
                return Response::from_packet(&p).unwrap();
            }
            self.fill();
        }
        panic!("no whole packet after 64 reads");
    }

    fn admin(&mut self, cmd: &AdminCommand) -> AdminReply {
        let mut line = Vec::new();
        cmd.encode(&mut line).unwrap();
        self.stream.write_all(&line).unwrap();
        let mut reader = ReplyReader::new();
        for _ in 0..64 {
            if let Some(reply) = reader.read(cmd, &mut self.buf).unwrap() {
                return reply;
            }
            self.fill();
        }
        panic!("no whole admin reply after 64 reads");
    }
}

fn f(name: &str) -> FunctionName {
    FunctionName::try_from(name).unwrap()
}

fn u(name: &str) -> UniqueId {
    UniqueId::try_from(name).unwrap()
}

fn echo_keeps_nuls_and_empty_payloads(kind: ServerKind) {
    let Some(g) = TestServer::start_or_skip(kind, "echo_keeps_nuls_and_empty_payloads") else {
        return;
    };
    let mut c = Conn::open(g.addr());
    for payload in [&b"hello\0world"[..], b"", &[0u8; 70_000][..]] {
        c.send(&Request::Echo(Bytes::copy_from_slice(payload)));
        assert_eq!(c.recv(), Response::Echo(Bytes::copy_from_slice(payload)));
    }
}

fn submit_grab_work_complete_and_admin(kind: ServerKind) {
    let Some(g) = TestServer::start_or_skip(kind, "submit_grab_work_complete_and_admin") else {
        return;
    };
    let mut worker = Conn::open(g.addr());
    let mut client = Conn::open(g.addr());
    let mut admin = Conn::open(g.addr());

    worker.send(&Request::SetClientId(
        ClientId::try_from("live worker 1").unwrap(),
    ));
    worker.send(&Request::CanDo(f("live:rev")));
    client.send(&Request::Option(OptionName::exceptions()));
    assert_eq!(client.recv(), Response::Option(OptionName::exceptions()));

    let data = Bytes::from_static(b"work\0load");
    client.send(&Request::Submit(Submit {
        function: f("live:rev"),
        unique: u("u-live-1"),
        data: data.clone(),
        priority: Priority::Normal,
        background: false,
    }));
    let Response::JobCreated(handle) = client.recv() else {
        panic!("expected JOB_CREATED")
    };

    // Admin while the job is queued.
    let AdminReply::Status(rows) = admin.admin(&AdminCommand::Status) else {
        panic!("not a status reply")
    };
    let row = rows
        .iter()
        .find(|r| &r.function[..] == b"live:rev")
        .expect("function listed");
    assert_eq!((row.total, row.running, row.workers), (1, 0, 1));
    let AdminReply::Workers(rows) = admin.admin(&AdminCommand::Workers) else {
        panic!("not a workers reply")
    };
    let w = rows
        .iter()
        .find(|r| r.client_id.as_deref() == Some(&b"live worker 1"[..]))
        .expect("worker listed with its spaced id");
    assert_eq!(w.functions, vec![Bytes::from_static(b"live:rev")]);
    assert!(rows.iter().all(|r| &r.ip[..] == b"127.0.0.1"));
    let AdminReply::Jobs(jobs) = admin.admin(&AdminCommand::ShowJobs) else {
        panic!("not a jobs reply")
    };
    assert!(jobs
        .iter()
        .any(|j| j.handle == *handle.as_shared() && !j.queued));
    let AdminReply::UniqueJobs(uniques) = admin.admin(&AdminCommand::ShowUniqueJobs) else {
        panic!("not a unique jobs reply")
    };
    assert!(uniques.contains(&Bytes::from_static(b"u-live-1")));
    let AdminReply::PriorityStatus(prio) = admin.admin(&AdminCommand::PriorityStatus) else {
        panic!("not a prioritystatus reply")
    };
    let p = prio
        .iter()
        .find(|r| &r.function[..] == b"live:rev")
        .unwrap();
    assert_eq!((p.high, p.normal, p.low, p.workers), (0, 1, 0, 1));

    // The worker takes it and reports.
    worker.send(&Request::Grab(GrabKind::Uniq));
    let assigned = worker.recv();
    assert_eq!(
        assigned,
        Response::JobAssign(JobAssign {
            handle: handle.clone(),
            function: f("live:rev"),
            unique: Some(u("u-live-1")),
            reducer: None,
            data,
        })
    );
    let updates = [
        WorkUpdate::Status {
            handle: handle.clone(),
            numerator: 3,
            denominator: 10,
        },
        WorkUpdate::Data {
            handle: handle.clone(),
            data: Bytes::from_static(b"\0partial"),
        },
        WorkUpdate::Warning {
            handle: handle.clone(),
            data: Bytes::from_static(b"careful"),
        },
        WorkUpdate::Complete {
            handle: handle.clone(),
            data: Bytes::from_static(b"daol\0krow"),
        },
    ];
    for up in &updates {
        worker.send(&Request::Work(up.clone()));
    }
    for up in updates {
        assert_eq!(client.recv(), Response::Work(up));
    }

    // Finished jobs are forgotten.
    client.send(&Request::GetStatus(handle.clone()));
    let Response::Status(st) = client.recv() else {
        panic!("expected STATUS_RES")
    };
    assert_eq!((st.handle, st.known, st.running), (handle, false, false));
    client.send(&Request::GetStatusUnique(u("u-live-1")));
    let Response::StatusUnique(su) = client.recv() else {
        panic!("expected STATUS_RES_UNIQUE")
    };
    assert!(!su.known && su.waiting_clients == 0);

    let AdminReply::Ok(version) = admin.admin(&AdminCommand::Version) else {
        panic!("not an OK reply")
    };
    assert!(
        version.starts_with(kind.version_prefix().as_bytes()),
        "{version:?}"
    );
    let AdminReply::Ok(pid) = admin.admin(&AdminCommand::GetPid) else {
        panic!("not an OK reply")
    };
    assert!(std::str::from_utf8(&pid).unwrap().parse::<u32>().is_ok());
    let missing = AdminCommand::DropFunction(f("never-seen"));
    assert!(matches!(admin.admin(&missing), AdminReply::Err(_)));
}

fn exception_without_option_arrives_as_fail_with_trailing_nul(kind: ServerKind) {
    let Some(g) = TestServer::start_or_skip(
        kind,
        "exception_without_option_arrives_as_fail_with_trailing_nul",
    ) else {
        return;
    };
    let mut worker = Conn::open(g.addr());
    let mut plain = Conn::open(g.addr());
    let mut opted = Conn::open(g.addr());
    opted.send(&Request::Option(OptionName::exceptions()));
    assert_eq!(opted.recv(), Response::Option(OptionName::exceptions()));
    worker.send(&Request::CanDo(f("live:boom")));
    for (client, negotiated) in [(&mut plain, false), (&mut opted, true)] {
        client.send(&Request::Submit(Submit {
            function: f("live:boom"),
            unique: u(""),
            data: Bytes::new(),
            priority: Priority::High,
            background: false,
        }));
        let Response::JobCreated(handle) = client.recv() else {
            panic!("expected JOB_CREATED")
        };
        worker.send(&Request::Grab(GrabKind::Plain));
        let Response::JobAssign(job) = worker.recv() else {
            panic!("expected JOB_ASSIGN")
        };
        assert_eq!((job.handle.clone(), job.unique), (handle.clone(), None));
        worker.send(&Request::Work(WorkUpdate::Exception {
            handle: handle.clone(),
            data: Bytes::from_static(b"boom"),
        }));
        // The raw bytes: gearmand turns it into WORK_FAIL "handle\0" without the option.
        let got = client.recv();
        if !negotiated {
            assert_eq!(got, Response::Work(WorkUpdate::Fail { handle }));
        } else {
            let data = Bytes::from_static(b"boom");
            assert_eq!(got, Response::Work(WorkUpdate::Exception { handle, data }));
        }
    }
    worker.send(&Request::Grab(GrabKind::Uniq));
    assert_eq!(worker.recv(), Response::NoJob);
}

fn reduce_job_comes_back_as_job_assign_all(kind: ServerKind) {
    let Some(g) = TestServer::start_or_skip(kind, "reduce_job_comes_back_as_job_assign_all") else {
        return;
    };
    let mut worker = Conn::open(g.addr());
    let mut client = Conn::open(g.addr());
    worker.send(&Request::CanDo(f("live:map")));
    client.send(&Request::SubmitReduce(SubmitReduce {
        function: f("live:map"),
        unique: u("r1"),
        reducer: f("live:reduce"),
        aggregator: Bytes::new(),
        data: Bytes::from_static(b"rdata"),
        background: true,
    }));
    let Response::JobCreated(handle) = client.recv() else {
        panic!("expected JOB_CREATED")
    };
    worker.send(&Request::Grab(GrabKind::All));
    assert_eq!(
        worker.recv(),
        Response::JobAssign(JobAssign {
            handle: handle.clone(),
            function: f("live:map"),
            unique: Some(u("r1")),
            reducer: Some(f("live:reduce")),
            data: Bytes::from_static(b"rdata"),
        })
    );
    worker.send(&Request::Work(WorkUpdate::Fail { handle }));
    // An ERROR reply is typed too: WORK_FAIL again for a finished job.
    worker.send(&Request::Work(WorkUpdate::Fail {
        handle: gearman_proto::JobHandle::try_from("H:none:1").unwrap(),
    }));
    let Response::Error(e) = worker.recv() else {
        panic!("expected ERROR")
    };
    assert_eq!(&e.code[..], b"JOB_NOT_FOUND");
}

gearman_testkit::on_both_servers_blocking!(
    echo_keeps_nuls_and_empty_payloads,
    submit_grab_work_complete_and_admin,
    exception_without_option_arrives_as_fail_with_trailing_nul,
    reduce_job_comes_back_as_job_assign_all,
);
