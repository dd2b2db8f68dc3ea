//! The admin reply parser on replies captured from gearmand 1.1.20 (`testdata/admin`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::{Bytes, BytesMut};
use gearman_proto::admin::{AdminCommand, AdminReply, ReplyReader, WorkerRow};
use gearman_proto::{FunctionName, JobHandle};

fn read(name: &str, cmd: &AdminCommand) -> AdminReply {
    let path = format!(
        "{}/../testdata/admin/{name}.reply",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).unwrap();
    let mut buf = BytesMut::from(&bytes[..]);
    let reply = ReplyReader::new()
        .read(cmd, &mut buf)
        .unwrap()
        .expect("a whole reply");
    assert!(buf.is_empty(), "{name}: bytes left over");
    // What we write back is what gearmand wrote.
    let mut out = Vec::new();
    reply.encode(&mut out);
    assert_eq!(out, bytes, "{name}: re-encoded differently");
    reply
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

#[test]
fn list_replies() {
    let AdminReply::Status(rows) = read("status", &AdminCommand::Status) else {
        panic!("status")
    };
    let summary: Vec<_> = rows
        .iter()
        .map(|r| (r.function.clone(), r.total, r.running, r.workers))
        .collect();
    assert_eq!(summary, vec![(b("f2"), 1, 0, 1), (b("f1"), 1, 0, 1)]);

    let AdminReply::PriorityStatus(rows) = read("prioritystatus", &AdminCommand::PriorityStatus)
    else {
        panic!("prioritystatus")
    };
    assert_eq!(
        (rows[0].high, rows[0].normal, rows[1].high, rows[1].normal),
        (1, 0, 0, 1)
    );

    let AdminReply::Workers(rows) = read("workers", &AdminCommand::Workers) else {
        panic!("workers")
    };
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[1],
        WorkerRow {
            fd: 37,
            ip: b("127.0.0.1"),
            client_id: Some(b("my worker id")),
            functions: vec![b("f2"), b("f1")],
        }
    );
    assert!(rows[0].client_id.is_none() && rows[0].functions.is_empty());

    let AdminReply::Jobs(jobs) = read("show-jobs", &AdminCommand::ShowJobs) else {
        panic!("show jobs")
    };
    assert_eq!(jobs.len(), 2);
    assert!(jobs.iter().all(|j| j.queued && !j.ignore && j.retries == 0));

    let AdminReply::UniqueJobs(u) = read("show-unique-jobs", &AdminCommand::ShowUniqueJobs) else {
        panic!("show unique jobs")
    };
    assert_eq!(u, vec![Bytes::new(), b("u1")]);
}

#[test]
fn line_replies() {
    assert_eq!(
        read("version", &AdminCommand::Version),
        AdminReply::Ok(b("1.1.20+ds"))
    );
    assert_eq!(
        read("getpid", &AdminCommand::GetPid),
        AdminReply::Ok(b("3891"))
    );
    assert_eq!(
        read("verbose", &AdminCommand::Verbose),
        AdminReply::Ok(b("ERROR"))
    );
    let f = FunctionName::try_from("f1").unwrap();
    let mq = AdminCommand::MaxQueue {
        function: f.clone(),
        sizes: gearman_proto::admin::MaxQueueSizes::All(5),
    };
    assert_eq!(read("maxqueue", &mq), AdminReply::Ok(Bytes::new()));
    let cancel = AdminCommand::CancelJob(JobHandle::try_from("H:nope:1").unwrap());
    let AdminReply::Err(e) = read("cancel-job-unknown", &cancel) else {
        panic!("cancel")
    };
    assert_eq!(
        (e.code.clone(), e.message()),
        (b("UNKNOWN_JOB"), String::new())
    );
    let AdminReply::Err(e) = read("unknown-command", &AdminCommand::Status) else {
        panic!("unknown")
    };
    assert_eq!(e.message(), "Unknown server commandbogus");
    let AdminReply::Err(e) = read("show-bad-argument", &AdminCommand::ShowJobs) else {
        panic!("show")
    };
    assert_eq!(e.code, b("UNKNOWN_SHOW_ARGUMENTS"));
    let AdminReply::Err(e) = read(
        "drop-function-missing",
        &AdminCommand::DropFunction(f.clone()),
    ) else {
        panic!("drop")
    };
    assert_eq!(e.message(), "not found");
    let AdminReply::Err(e) = read(
        "create-function-incomplete",
        &AdminCommand::CreateFunction(f),
    ) else {
        panic!("create")
    };
    assert_eq!(e.code, b("INVALID_ARGUMENTS"));
    assert!(e.message().starts_with("An incomplete set of arguments"));
}
