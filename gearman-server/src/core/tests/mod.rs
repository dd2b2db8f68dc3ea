//! Scripted scenarios: requests in, exactly these responses out, to exactly these connections.

use bytes::Bytes;
use gearman_proto::{
    FunctionName, GrabKind, JobAssign, JobHandle, OptionName, Priority, Request, Response, Submit,
    UniqueId, WorkUpdate,
};

use gearman_proto::admin::{AdminCommand, AdminReply};

use super::*;

fn f(s: &str) -> FunctionName {
    FunctionName::try_from(s).unwrap()
}

fn u(s: &str) -> UniqueId {
    UniqueId::try_from(s).unwrap()
}

fn h(n: u64) -> JobHandle {
    JobHandle::try_from(format!("H:gearman-rs:{n}")).unwrap()
}

fn submit(
    function: &str,
    unique: &str,
    data: &str,
    priority: Priority,
    background: bool,
) -> Request {
    Request::Submit(Submit {
        function: f(function),
        unique: u(unique),
        data: Bytes::copy_from_slice(data.as_bytes()),
        priority,
        background,
    })
}

fn out(core: &mut ServerCore) -> Vec<(ConnId, Response)> {
    std::iter::from_fn(|| core.poll_output()).collect()
}

fn assigned(core: &mut ServerCore, worker: ConnId) -> JobAssign {
    core.handle(worker, Request::Grab(GrabKind::Uniq));
    match out(core).pop() {
        Some((w, Response::JobAssign(a))) if w == worker => a,
        other => panic!("expected an assignment, got {other:?}"),
    }
}

#[test]
fn submit_grab_complete_reaches_the_client() {
    let mut s = ServerCore::default();
    let (c, w) = (s.connect(), s.connect());
    s.handle(w, Request::CanDo(f("rev")));
    s.handle(c, submit("rev", "u1", "abc", Priority::Normal, false));
    assert_eq!(out(&mut s), vec![(c, Response::JobCreated(h(1)))]);
    let a = assigned(&mut s, w);
    assert_eq!(
        (a.handle.clone(), a.unique.clone(), &a.data[..]),
        (h(1), Some(u("u1")), &b"abc"[..])
    );
    s.handle(
        w,
        Request::Work(WorkUpdate::Complete {
            handle: h(1),
            data: Bytes::from_static(b"cba"),
        }),
    );
    assert_eq!(
        out(&mut s),
        vec![(
            c,
            Response::Work(WorkUpdate::Complete {
                handle: h(1),
                data: Bytes::from_static(b"cba")
            })
        )]
    );
    assert_eq!(s.job_count(), 0);
    s.handle(w, Request::Work(WorkUpdate::Fail { handle: h(1) }));
    assert!(
        matches!(&out(&mut s)[..], [(x, Response::Error(e))] if *x == w && &e.code[..] == b"JOB_NOT_FOUND")
    );
}

#[test]
fn same_unique_is_one_job_and_every_waiter_gets_every_packet() {
    let mut s = ServerCore::default();
    let (c1, c2, c3, w) = (s.connect(), s.connect(), s.connect(), s.connect());
    s.handle(w, Request::CanDo(f("f")));
    s.handle(c1, submit("f", "same", "x", Priority::Normal, false));
    s.handle(c2, submit("f", "same", "ignored", Priority::High, false));
    s.handle(c3, submit("f", "same", "", Priority::Low, true));
    let created: Vec<_> = out(&mut s).into_iter().map(|(_, r)| r).collect();
    assert_eq!(created, vec![Response::JobCreated(h(1)); 3]);
    let a = assigned(&mut s, w);
    assert_eq!(&a.data[..], b"x");
    s.handle(
        w,
        Request::Work(WorkUpdate::Data {
            handle: h(1),
            data: Bytes::from_static(b"d"),
        }),
    );
    s.handle(
        w,
        Request::Work(WorkUpdate::Complete {
            handle: h(1),
            data: Bytes::new(),
        }),
    );
    let to: Vec<ConnId> = out(&mut s).into_iter().map(|(c, _)| c).collect();
    assert_eq!(
        to,
        vec![c1, c2, c1, c2],
        "the background submitter gets nothing"
    );
}

#[test]
fn priorities_are_served_high_normal_low() {
    let mut s = ServerCore::default();
    let (c, w) = (s.connect(), s.connect());
    s.handle(w, Request::CanDo(f("f")));
    for (p, d) in [
        (Priority::Low, "low"),
        (Priority::Normal, "normal"),
        (Priority::High, "high"),
    ] {
        s.handle(c, submit("f", "", d, p, true));
    }
    let _ = out(&mut s);
    let order: Vec<Bytes> = (0..3)
        .map(|_| {
            let a = assigned(&mut s, w);
            s.handle(
                w,
                Request::Work(WorkUpdate::Complete {
                    handle: a.handle,
                    data: Bytes::new(),
                }),
            );
            a.data
        })
        .collect();
    assert_eq!(order, ["high", "normal", "low"]);
}

#[test]
fn one_noop_per_sleep_and_an_immediate_one_when_work_waits() {
    let mut s = ServerCore::default();
    let (c, w) = (s.connect(), s.connect());
    s.handle(w, Request::CanDo(f("f")));
    s.handle(w, Request::Grab(GrabKind::Uniq));
    assert_eq!(out(&mut s), vec![(w, Response::NoJob)]);
    s.handle(w, Request::PreSleep);
    assert!(out(&mut s).is_empty());
    s.handle(c, submit("f", "", "1", Priority::Normal, true));
    s.handle(c, submit("f", "", "2", Priority::Normal, true));
    let noops = out(&mut s)
        .into_iter()
        .filter(|(to, r)| *to == w && *r == Response::Noop)
        .count();
    assert_eq!(noops, 1, "one NOOP per sleep");
    // PRE_SLEEP while work is queued: NOOP at once.
    s.handle(w, Request::PreSleep);
    assert_eq!(out(&mut s), vec![(w, Response::Noop)]);
}

#[test]
fn exceptions_reach_only_clients_that_asked() {
    let mut s = ServerCore::default();
    let (plain, opted, w) = (s.connect(), s.connect(), s.connect());
    s.handle(opted, Request::Option(OptionName::exceptions()));
    s.handle(w, Request::CanDo(f("f")));
    s.handle(plain, submit("f", "k", "", Priority::Normal, false));
    s.handle(opted, submit("f", "k", "", Priority::Normal, false));
    let _ = out(&mut s);
    let a = assigned(&mut s, w);
    let data = Bytes::from_static(b"boom");
    s.handle(
        w,
        Request::Work(WorkUpdate::Exception {
            handle: a.handle.clone(),
            data: data.clone(),
        }),
    );
    assert_eq!(
        out(&mut s),
        vec![
            (
                plain,
                Response::Work(WorkUpdate::Fail {
                    handle: a.handle.clone()
                })
            ),
            (
                opted,
                Response::Work(WorkUpdate::Exception {
                    handle: a.handle,
                    data
                })
            ),
        ]
    );
}

#[test]
fn a_lost_worker_s_job_is_requeued_and_a_retry_cap_fails_it() {
    let mut s = ServerCore::new(CoreConfig {
        max_retries: Some(2),
        ..CoreConfig::default()
    });
    let c = s.connect();
    s.handle(c, submit("f", "", "x", Priority::Normal, false));
    let _ = out(&mut s);
    let w1 = s.connect();
    s.handle(w1, Request::CanDo(f("f")));
    let first = assigned(&mut s, w1);
    s.disconnect(w1);
    assert_eq!(s.queued(&f("f")), 1, "back in the queue");
    let w2 = s.connect();
    s.handle(w2, Request::CanDo(f("f")));
    let again = assigned(&mut s, w2);
    assert_eq!(again.handle, first.handle, "same handle");
    s.disconnect(w2);
    assert_eq!(
        out(&mut s),
        vec![(
            c,
            Response::Work(WorkUpdate::Fail {
                handle: first.handle
            })
        )]
    );
    assert_eq!(s.job_count(), 0);
}

#[test]
fn cant_do_while_holding_a_job_requeues_it() {
    let mut s = ServerCore::default();
    let (c, w) = (s.connect(), s.connect());
    s.handle(w, Request::CanDo(f("f")));
    s.handle(c, submit("f", "", "x", Priority::Normal, true));
    let a = assigned(&mut s, w);
    s.handle(w, Request::CantDo(f("f")));
    assert_eq!(s.queued(&f("f")), 1);
    s.handle(
        w,
        Request::Work(WorkUpdate::Complete {
            handle: a.handle,
            data: Bytes::new(),
        }),
    );
    assert!(
        matches!(&out(&mut s)[..], [(_, Response::Error(e))] if &e.code[..] == b"JOB_NOT_FOUND")
    );
}

#[test]
fn a_job_whose_clients_all_left_is_discarded_not_run() {
    let mut s = ServerCore::default();
    let (c, w) = (s.connect(), s.connect());
    s.handle(c, submit("f", "", "x", Priority::Normal, false));
    s.disconnect(c);
    s.handle(w, Request::CanDo(f("f")));
    s.handle(w, Request::Grab(GrabKind::Uniq));
    assert_eq!(out(&mut s).pop(), Some((w, Response::NoJob)));
    assert_eq!(s.job_count(), 0);
}

#[test]
fn status_echo_options_and_unexpected_packets() {
    let mut s = ServerCore::default();
    let (c, w) = (s.connect(), s.connect());
    s.handle(w, Request::CanDo(f("f")));
    s.handle(c, submit("f", "u9", "x", Priority::Normal, true));
    let _ = out(&mut s);
    let a = assigned(&mut s, w);
    s.handle(
        w,
        Request::Work(WorkUpdate::Status {
            handle: a.handle.clone(),
            numerator: 3,
            denominator: 10,
        }),
    );
    s.handle(c, Request::GetStatus(a.handle.clone()));
    s.handle(c, Request::GetStatusUnique(u("u9")));
    s.handle(c, Request::Echo(Bytes::from_static(b"e\0e")));
    s.handle(c, Request::AllYours);
    let got: Vec<Response> = out(&mut s).into_iter().map(|(_, r)| r).collect();
    assert_eq!(
        got[0],
        Response::Status(JobStatus {
            handle: a.handle,
            known: true,
            running: true,
            numerator: Some(3),
            denominator: Some(10)
        })
    );
    assert!(
        matches!(&got[1], Response::StatusUnique(st) if st.known && st.running && st.waiting_clients == 0)
    );
    assert_eq!(got[2], Response::Echo(Bytes::from_static(b"e\0e")));
    assert!(matches!(&got[3], Response::Error(e) if &e.code[..] == b"INVALID_COMMAND"));
}

#[test]
fn grab_all_carries_the_reducer() {
    let mut s = ServerCore::default();
    let (c, w) = (s.connect(), s.connect());
    s.handle(w, Request::CanDo(f("map")));
    s.handle(
        c,
        Request::SubmitReduce(gearman_proto::SubmitReduce {
            function: f("map"),
            unique: u("r"),
            reducer: f("reduce"),
            aggregator: Bytes::new(),
            data: Bytes::from_static(b"d"),
            background: true,
        }),
    );
    let _ = out(&mut s);
    s.handle(w, Request::Grab(GrabKind::All));
    let Some((_, Response::JobAssign(a))) = out(&mut s).pop() else {
        panic!("no assignment")
    };
    assert_eq!(a.reducer, Some(f("reduce")));
}

mod events;
mod grabs;
mod limits;
mod store;
mod timers;
mod wakeups;

#[test]
fn a_stored_job_keeps_its_own_bytes_not_the_read_buffer_they_came_in() {
    // As the listener hands them over: fields that are slices of one big read buffer.
    let buffer = Bytes::from(vec![b'x'; 16 * 1024]);
    let range = buffer.as_ptr() as usize..buffer.as_ptr() as usize + buffer.len();
    let within = |b: &[u8]| range.contains(&(b.as_ptr() as usize));
    let mut s = ServerCore::default();
    let (c, w) = (s.connect(), s.connect());
    s.handle(
        c,
        Request::Submit(Submit {
            function: FunctionName::new(buffer.slice(0..3)).unwrap(),
            unique: UniqueId::new(buffer.slice(3..6)).unwrap(),
            data: buffer.slice(6..16),
            priority: Priority::Normal,
            background: true,
        }),
    );
    s.handle(
        w,
        Request::CanDo(FunctionName::new(buffer.slice(100..103)).unwrap()),
    );
    let a = assigned(&mut s, w);
    assert_eq!(
        (a.function.as_bytes(), &a.data[..]),
        (&b"xxx"[..], &b"xxxxxxxxxx"[..])
    );
    assert!(!within(&a.data), "the data was copied out");
    assert!(
        !within(a.function.as_bytes()),
        "the function name was copied out"
    );
    assert!(
        !within(a.unique.as_ref().unwrap().as_bytes()),
        "the unique was copied out"
    );
    let AdminReply::Workers(rows) = s.admin(&AdminCommand::Workers) else {
        panic!("workers")
    };
    assert!(rows.iter().flat_map(|r| &r.functions).all(|f| !within(f)));
}

#[test]
fn status_by_unique_alone_finds_a_job_of_any_function_until_the_last_ends() {
    let mut s = ServerCore::default();
    let (c, w) = (s.connect(), s.connect());
    // A background job of one function; a foreground job of another, submitted twice.
    s.handle(c, submit("one", "shared", "x", Priority::Normal, true));
    s.handle(c, submit("two", "shared", "y", Priority::Normal, false));
    s.handle(c, submit("two", "shared", "y", Priority::Normal, false));
    let _ = out(&mut s);
    let known = |s: &mut ServerCore| {
        s.handle(c, Request::GetStatusUnique(u("shared")));
        match out(s).pop() {
            Some((_, Response::StatusUnique(st))) => (st.known, st.waiting_clients),
            other => panic!("{other:?}"),
        }
    };
    assert!(known(&mut s).0);
    for function in ["one", "two"] {
        s.handle(w, Request::CantDo(f("one")));
        s.handle(w, Request::CantDo(f("two")));
        s.handle(w, Request::CanDo(f(function)));
        let a = assigned(&mut s, w);
        s.handle(
            w,
            Request::Work(WorkUpdate::Complete {
                handle: a.handle,
                data: Bytes::new(),
            }),
        );
        let _ = out(&mut s);
        s.check_consistency().unwrap();
        if function == "one" {
            assert_eq!(
                known(&mut s),
                (true, 2),
                "the other function's job, two waiting"
            );
        }
    }
    assert_eq!(known(&mut s), (false, 0));
}
