//! Scripted scenarios at fixed instants: the exact request sequences and events.

use std::time::{Duration, Instant};

use bytes::Bytes;
use gearman_proto::{
    ClientId, ErrorPacket, FunctionName, GrabKind, JobAssign, JobHandle, PacketType, Request,
    Response, UniqueId, WorkUpdate,
};

use super::*;
use crate::function_set::Timeout;

fn f(name: &str) -> FunctionName {
    FunctionName::try_from(name).unwrap()
}

fn h(name: &str) -> JobHandle {
    JobHandle::try_from(name).unwrap()
}

fn set(names: &[&str]) -> FunctionSet {
    names.iter().map(|n| f(n)).collect()
}

fn sent(m: &mut WorkerMachine) -> Vec<Request> {
    std::iter::from_fn(|| m.poll_transmit()).collect()
}

fn events(m: &mut WorkerMachine) -> Vec<Event> {
    std::iter::from_fn(|| m.poll_event()).collect()
}

fn assign(handle: &str, function: &str) -> Response {
    Response::JobAssign(JobAssign {
        handle: h(handle),
        function: f(function),
        unique: Some(UniqueId::try_from("u").unwrap()),
        reducer: None,
        data: Bytes::from_static(b"data"),
    })
}

const GRAB: Request = Request::Grab(GrabKind::Uniq);

fn connected(slots: usize, functions: &[&str], now: Instant) -> WorkerMachine {
    let mut m = WorkerMachine::new(MachineConfig {
        slots,
        ..MachineConfig::default()
    });
    m.set_functions(set(functions));
    m.handle_connected(now);
    let _ = sent(&mut m);
    m
}

#[test]
fn fresh_connection_names_resets_registers_and_grabs() {
    let now = Instant::now();
    let mut m = WorkerMachine::new(MachineConfig::default());
    m.set_client_id(Some(ClientId::try_from("node-1_exec-0").unwrap()));
    m.set_functions(set(&["b", "a"]));
    assert!(
        sent(&mut m).is_empty(),
        "nothing goes out before a connection"
    );
    m.handle_connected(now);
    assert_eq!(
        sent(&mut m),
        vec![
            Request::SetClientId(ClientId::try_from("node-1_exec-0").unwrap()),
            Request::ResetAbilities,
            Request::CanDo(f("a")),
            Request::CanDo(f("b")),
            GRAB,
        ]
    );
    assert_eq!(m.state(), GrabState::AwaitingJob);
}

#[test]
fn no_job_sleep_noop_cycle_and_stray_noops() {
    let now = Instant::now();
    let mut m = connected(1, &["a"], now);
    m.handle_response(now, Response::Noop).unwrap();
    assert!(
        sent(&mut m).is_empty(),
        "a NOOP while a grab is pending is stray"
    );
    m.handle_response(now, Response::NoJob).unwrap();
    assert_eq!(sent(&mut m), vec![Request::PreSleep]);
    assert_eq!(m.state(), GrabState::Sleeping { since: now });
    m.handle_response(now, Response::Noop).unwrap();
    assert_eq!(sent(&mut m), vec![GRAB]);
    m.handle_response(now, Response::Noop).unwrap();
    m.handle_response(now, Response::Noop).unwrap();
    assert!(sent(&mut m).is_empty(), "never a second GRAB outstanding");
}

#[test]
fn one_slot_holds_one_job_and_grabs_after_finishing() {
    let now = Instant::now();
    let mut m = connected(1, &["a"], now);
    m.handle_response(now, assign("H:1", "a")).unwrap();
    assert!(
        sent(&mut m).is_empty(),
        "no grab while the only slot is busy"
    );
    let ev = events(&mut m);
    assert!(matches!(&ev[..], [Event::Job(a)] if a.handle == h("H:1") && a.deadline.is_none()));
    m.handle_response(now, Response::Noop).unwrap();
    assert!(sent(&mut m).is_empty(), "a NOOP while busy grabs nothing");
    m.update(WorkUpdate::Status {
        handle: h("H:1"),
        numerator: 1,
        denominator: 2,
    })
    .unwrap();
    m.finish(&h("H:1"), Outcome::Complete(Bytes::from_static(b"r")))
        .unwrap();
    assert_eq!(
        sent(&mut m),
        vec![
            Request::Work(WorkUpdate::Status {
                handle: h("H:1"),
                numerator: 1,
                denominator: 2
            }),
            Request::Work(WorkUpdate::Complete {
                handle: h("H:1"),
                data: Bytes::from_static(b"r")
            }),
            GRAB,
        ]
    );
    assert_eq!(
        m.finish(&h("H:1"), Outcome::Fail),
        Err(UsageError::UnknownJob(h("H:1")))
    );
    assert!(sent(&mut m).is_empty(), "a job ends once");
}

#[test]
fn n_slots_hold_at_most_n_jobs() {
    let now = Instant::now();
    let mut m = connected(3, &["a"], now);
    for i in 0..3 {
        m.handle_response(now, assign(&format!("H:{i}"), "a"))
            .unwrap();
        let out = sent(&mut m);
        if i < 2 {
            assert_eq!(out, vec![GRAB]);
        } else {
            assert!(out.is_empty());
        }
    }
    assert_eq!(m.held(), 3);
    assert!(
        m.handle_response(now, assign("H:9", "a")).is_err(),
        "no grab was outstanding"
    );
}

#[test]
fn delta_registration_after_connect() {
    let now = Instant::now();
    let mut m = connected(1, &["a", "b"], now);
    m.set_functions(set(&["b", "c"]));
    assert_eq!(
        sent(&mut m),
        vec![Request::CanDo(f("c")), Request::CantDo(f("a"))]
    );
    m.set_functions(set(&["b", "c"]));
    assert!(sent(&mut m).is_empty());
}

#[test]
fn removal_waits_for_the_running_job() {
    let now = Instant::now();
    let mut m = connected(1, &["a", "b"], now);
    m.handle_response(now, assign("H:1", "a")).unwrap();
    let _ = events(&mut m);
    m.set_functions(set(&[]));
    assert_eq!(
        sent(&mut m),
        vec![Request::CantDo(f("b"))],
        "never CANT_DO a held job's function"
    );
    assert!(m.registered().contains(&f("a")));
    m.finish(&h("H:1"), Outcome::Fail).unwrap();
    assert_eq!(
        sent(&mut m),
        vec![
            Request::Work(WorkUpdate::Fail { handle: h("H:1") }),
            Request::ResetAbilities
        ]
    );
    assert!(m.registered().is_empty());
}

#[test]
fn job_for_a_dropped_function_is_failed_at_once() {
    let now = Instant::now();
    let mut m = connected(1, &["a", "b"], now);
    // The GRAB went out before the function was dropped.
    m.set_functions(set(&["b"]));
    assert_eq!(sent(&mut m), vec![Request::CantDo(f("a"))]);
    m.handle_response(now, assign("H:7", "a")).unwrap();
    assert_eq!(
        sent(&mut m),
        vec![Request::Work(WorkUpdate::Fail { handle: h("H:7") }), GRAB]
    );
    assert_eq!(
        events(&mut m),
        vec![Event::JobRefused {
            handle: h("H:7"),
            function: f("a")
        }]
    );
    assert_eq!(m.held(), 0);
}

#[test]
fn adding_a_function_wakes_a_sleeping_connection() {
    let now = Instant::now();
    let mut m = connected(1, &["a"], now);
    m.handle_response(now, Response::NoJob).unwrap();
    let _ = sent(&mut m);
    m.set_functions(set(&["a", "b"]));
    assert_eq!(sent(&mut m), vec![Request::CanDo(f("b")), GRAB]);
}

#[test]
fn protocol_violations_are_typed() {
    let now = Instant::now();
    let mut m = connected(1, &["a"], now);
    m.handle_response(now, Response::NoJob).unwrap();
    assert_eq!(
        m.handle_response(now, Response::NoJob),
        Err(ProtocolError::Inappropriate {
            expected: NOT_AWAITING,
            got: PacketType::NO_JOB
        })
    );
    let created = Response::JobCreated(h("H:1"));
    assert!(matches!(
        m.handle_response(now, created),
        Err(ProtocolError::Inappropriate {
            got: PacketType::JOB_CREATED,
            ..
        })
    ));
    let err = ErrorPacket {
        code: Bytes::from_static(b"JOB_NOT_FOUND"),
        text: Bytes::from_static(b"x"),
    };
    m.handle_response(now, Response::Error(err.clone()))
        .unwrap();
    assert_eq!(events(&mut m), vec![Event::ServerError(err)]);
}

#[test]
fn can_do_timeout_abandons_the_job_locally_and_never_finishes_it() {
    let now = Instant::now();
    let mut m = WorkerMachine::new(MachineConfig::default());
    let mut fs = FunctionSet::new();
    fs.insert(f("slow"), Timeout::from_millis(300));
    m.set_functions(fs);
    m.handle_connected(now);
    assert_eq!(
        sent(&mut m),
        vec![
            Request::ResetAbilities,
            Request::CanDoTimeout {
                function: f("slow"),
                timeout_ms: 300
            },
            GRAB
        ]
    );
    m.handle_response(now, assign("H:1", "slow")).unwrap();
    let deadline = now + Duration::from_secs(1); // gearmand raises 300 ms to 1 s
    assert!(matches!(&events(&mut m)[..], [Event::Job(a)] if a.deadline == Some(deadline)));
    assert_eq!(m.poll_timeout(), Some(deadline));
    m.handle_timeout(deadline - Duration::from_millis(1));
    assert!(events(&mut m).is_empty());
    m.handle_timeout(deadline);
    assert_eq!(
        events(&mut m),
        vec![Event::JobAbandoned {
            handle: h("H:1"),
            reason: AbandonReason::TimedOut
        }]
    );
    assert_eq!(
        sent(&mut m),
        vec![GRAB],
        "the slot is free again; nothing sent for the job"
    );
    assert_eq!(
        m.finish(&h("H:1"), Outcome::Complete(Bytes::new())),
        Err(UsageError::UnknownJob(h("H:1")))
    );
    assert!(sent(&mut m).is_empty(), "the late result is never sent");
}

#[test]
fn sleeping_connection_regrabs_on_its_timer() {
    let now = Instant::now();
    let mut m = connected(1, &["a"], now);
    m.handle_response(now, Response::NoJob).unwrap();
    let _ = sent(&mut m);
    let regrab = now + MachineConfig::default().regrab_after;
    assert_eq!(m.poll_timeout(), Some(regrab));
    m.handle_timeout(regrab);
    assert_eq!(sent(&mut m), vec![GRAB]);
    // A NOOP that finally arrives for the old sleep is stray now.
    m.handle_response(regrab, Response::Noop).unwrap();
    assert!(sent(&mut m).is_empty());
}

#[test]
fn heartbeat_detects_a_dead_connection() {
    let now = Instant::now();
    let cfg = MachineConfig::default();
    let mut m = connected(1, &["a"], now);
    m.handle_response(now, Response::NoJob).unwrap();
    assert_eq!(sent(&mut m), vec![Request::PreSleep]);
    // Silence: the re-grab timer fires first, then the heartbeat.
    let beat = now + cfg.heartbeat_after.unwrap();
    m.handle_timeout(beat);
    let heartbeat = Request::Echo(Bytes::from_static(HEARTBEAT_PAYLOAD));
    assert_eq!(sent(&mut m), vec![heartbeat, GRAB]);
    assert_eq!(m.poll_timeout(), Some(beat + cfg.heartbeat_timeout));
    m.handle_timeout(beat + cfg.heartbeat_timeout);
    assert_eq!(events(&mut m), vec![Event::ConnectionDead]);
}

#[test]
fn answered_heartbeat_keeps_the_connection() {
    let now = Instant::now();
    // The first GRAB stays unanswered throughout: no answer deadline for it here.
    let cfg = MachineConfig {
        grab_answer_timeout: None,
        ..MachineConfig::default()
    };
    let mut m = WorkerMachine::new(cfg.clone());
    m.set_functions(set(&["a"]));
    m.handle_connected(now);
    let _ = sent(&mut m);
    let t = now + cfg.heartbeat_after.unwrap();
    m.handle_timeout(t);
    assert!(sent(&mut m).iter().any(|r| matches!(r, Request::Echo(_))));
    m.handle_response(t, Response::Echo(Bytes::new())).unwrap();
    m.handle_timeout(t + cfg.heartbeat_timeout);
    assert!(events(&mut m).is_empty());
}

#[test]
fn disconnect_abandons_jobs_and_reconnect_registers_from_scratch() {
    let now = Instant::now();
    let mut m = connected(2, &["a", "b"], now);
    m.handle_response(now, assign("H:1", "a")).unwrap();
    let _ = (sent(&mut m), events(&mut m));
    m.handle_disconnected(now);
    assert_eq!(
        events(&mut m),
        vec![Event::JobAbandoned {
            handle: h("H:1"),
            reason: AbandonReason::Disconnected
        }]
    );
    assert!(sent(&mut m).is_empty());
    assert_eq!(m.poll_timeout(), None);
    m.handle_connected(now);
    assert_eq!(
        sent(&mut m),
        vec![
            Request::ResetAbilities,
            Request::CanDo(f("a")),
            Request::CanDo(f("b")),
            GRAB
        ]
    );
}

#[test]
fn drain_stops_grabbing_and_reports_when_idle() {
    let now = Instant::now();
    let mut m = connected(1, &["a"], now);
    m.handle_response(now, assign("H:1", "a")).unwrap();
    let _ = events(&mut m);
    m.drain();
    assert!(events(&mut m).is_empty());
    m.finish(&h("H:1"), Outcome::Exception(Bytes::from_static(b"e")))
        .unwrap();
    assert_eq!(
        sent(&mut m),
        vec![Request::Work(WorkUpdate::Exception {
            handle: h("H:1"),
            data: Bytes::from_static(b"e")
        })]
    );
    assert_eq!(events(&mut m), vec![Event::Drained]);
}

#[test]
fn updates_only_for_held_jobs() {
    let now = Instant::now();
    let mut m = connected(1, &["a"], now);
    let data = WorkUpdate::Data {
        handle: h("H:1"),
        data: Bytes::new(),
    };
    assert_eq!(m.update(data), Err(UsageError::UnknownJob(h("H:1"))));
    m.handle_response(now, assign("H:1", "a")).unwrap();
    let done = WorkUpdate::Complete {
        handle: h("H:1"),
        data: Bytes::new(),
    };
    assert_eq!(m.update(done), Err(UsageError::BadUpdate(h("H:1"))));
}

#[test]
fn gated_machine_grabs_only_with_a_grant() {
    let now = Instant::now();
    let mut m = WorkerMachine::new(MachineConfig {
        slots: 2,
        gated: true,
        ..MachineConfig::default()
    });
    m.set_functions(set(&["a"]));
    m.handle_connected(now);
    assert_eq!(
        sent(&mut m),
        vec![Request::ResetAbilities, Request::CanDo(f("a"))]
    );
    assert!(m.wants_grab());
    m.grant_grab();
    assert_eq!(sent(&mut m), vec![GRAB]);
    assert!(!m.wants_grab());
    m.handle_response(now, assign("H:1", "a")).unwrap();
    assert!(
        sent(&mut m).is_empty(),
        "the grant was used by the first GRAB"
    );
    assert!(m.wants_grab());
    m.grant_grab();
    assert_eq!(sent(&mut m), vec![GRAB]);
    m.handle_response(now, Response::NoJob).unwrap();
    assert_eq!(sent(&mut m), vec![Request::PreSleep]);
    assert!(!m.wants_grab(), "asleep until a NOOP");
    m.handle_response(now, Response::Noop).unwrap();
    assert!(sent(&mut m).is_empty() && m.wants_grab());
}

fn invalid_command() -> ErrorPacket {
    ErrorPacket {
        code: Bytes::from_static(b"INVALID_COMMAND"),
        text: Bytes::from_static(b"Command not expected"),
    }
}

fn config_grabbing(grab: GrabKind) -> MachineConfig {
    MachineConfig {
        grab,
        ..MachineConfig::default()
    }
}

#[test]
fn unknown_grab_falls_back_all_to_uniq_to_plain_and_stays_there() {
    let now = Instant::now();
    let mut m = WorkerMachine::new(config_grabbing(GrabKind::All));
    m.set_functions(set(&["a"]));
    m.handle_connected(now);
    assert_eq!(sent(&mut m).last(), Some(&Request::Grab(GrabKind::All)));

    m.handle_response(now, Response::Error(invalid_command()))
        .unwrap();
    assert_eq!(sent(&mut m), vec![Request::Grab(GrabKind::Uniq)]);
    assert_eq!(
        events(&mut m),
        vec![Event::GrabFallback {
            from: GrabKind::All,
            to: GrabKind::Uniq,
            error: Some(invalid_command()),
        }]
    );
    assert_eq!(m.state(), GrabState::AwaitingJob);

    m.handle_response(now, Response::Error(invalid_command()))
        .unwrap();
    assert_eq!(sent(&mut m), vec![Request::Grab(GrabKind::Plain)]);
    assert_eq!(
        events(&mut m),
        vec![Event::GrabFallback {
            from: GrabKind::Uniq,
            to: GrabKind::Plain,
            error: Some(invalid_command()),
        }]
    );
    assert_eq!(m.grab_kind(), GrabKind::Plain);

    // GRAB_JOB refused too: nothing older to try, the error is reported and nothing is sent.
    m.handle_response(now, Response::Error(invalid_command()))
        .unwrap();
    assert_eq!(sent(&mut m), vec![]);
    assert_eq!(events(&mut m), vec![Event::ServerError(invalid_command())]);

    // A job through GRAB_JOB: finished once, and the next grab is GRAB_JOB again.
    let mut job = assign("H:1", "a");
    if let Response::JobAssign(a) = &mut job {
        a.unique = None;
    }
    m.handle_response(now, job).unwrap();
    assert!(matches!(events(&mut m).as_slice(), [Event::Job(_)]));
    assert_eq!(sent(&mut m), vec![]);
    m.finish(&h("H:1"), Outcome::Complete(Bytes::from_static(b"r")))
        .unwrap();
    assert_eq!(
        sent(&mut m),
        vec![
            Request::Work(WorkUpdate::Complete {
                handle: h("H:1"),
                data: Bytes::from_static(b"r"),
            }),
            Request::Grab(GrabKind::Plain),
        ]
    );

    // Remembered through a reconnect: the new connection grabs with GRAB_JOB at once.
    m.handle_disconnected(now);
    m.handle_connected(now);
    assert_eq!(sent(&mut m).last(), Some(&Request::Grab(GrabKind::Plain)));
}

#[test]
fn an_error_after_the_server_answered_the_grab_is_not_a_fallback() {
    let now = Instant::now();
    let mut m = connected(1, &["a"], now);
    m.handle_response(now, Response::NoJob).unwrap();
    let _ = sent(&mut m);
    m.handle_response(now, Response::Noop).unwrap();
    assert_eq!(sent(&mut m), vec![GRAB]);
    m.handle_response(now, Response::Error(invalid_command()))
        .unwrap();
    assert_eq!(sent(&mut m), vec![]);
    assert_eq!(events(&mut m), vec![Event::ServerError(invalid_command())]);
    assert_eq!(m.grab_kind(), GrabKind::Uniq);
}

#[test]
fn errors_that_answer_other_packets_are_never_taken_for_a_refused_grab() {
    let now = Instant::now();
    let mut m = connected(1, &["a"], now);
    for (code, text) in [
        ("JOB_NOT_FOUND", "Job given in work result not found"),
        ("ARGUMENT_TOO_LARGE", "client id too long"),
        ("QUEUE_ERROR", "Job queue is full"),
        ("UNKNOWN_OPTION", "Server does not recognize given option"),
        ("INVALID_MAGIC", "Request magic expected"),
        ("PERMISSION_DENIED", "acl:secret may not be registered"),
    ] {
        let err = ErrorPacket {
            code: Bytes::copy_from_slice(code.as_bytes()),
            text: Bytes::copy_from_slice(text.as_bytes()),
        };
        m.handle_response(now, Response::Error(err.clone()))
            .unwrap();
        assert_eq!(sent(&mut m), vec![], "{code}");
        assert_eq!(events(&mut m), vec![Event::ServerError(err)], "{code}");
        assert_eq!(m.grab_kind(), GrabKind::Uniq, "{code}");
        assert_eq!(m.state(), GrabState::AwaitingJob, "{code}");
    }
}

#[test]
fn a_gated_fallback_reuses_the_grant_of_the_refused_grab() {
    let now = Instant::now();
    let mut m = WorkerMachine::new(MachineConfig {
        gated: true,
        ..config_grabbing(GrabKind::Uniq)
    });
    m.set_functions(set(&["a"]));
    m.handle_connected(now);
    let _ = sent(&mut m);
    assert!(m.wants_grab());
    m.grant_grab();
    assert_eq!(sent(&mut m), vec![GRAB]);
    m.handle_response(now, Response::Error(invalid_command()))
        .unwrap();
    assert_eq!(sent(&mut m), vec![Request::Grab(GrabKind::Plain)]);
    assert!(!m.wants_grab());
    assert_eq!(m.state(), GrabState::AwaitingJob);
}

#[test]
fn an_unanswered_grab_is_given_up_by_replacing_the_connection() {
    let now = Instant::now();
    let timeout = Duration::from_millis(500);
    let mut m = WorkerMachine::new(MachineConfig {
        grab_answer_timeout: Some(timeout),
        ..config_grabbing(GrabKind::All)
    });
    m.set_functions(set(&["a"]));
    m.handle_connected(now);
    assert_eq!(sent(&mut m).last(), Some(&Request::Grab(GrabKind::All)));
    // The deadline starts at the next timer call, asked for at once.
    assert!(m.poll_timeout().is_some_and(|t| t <= now));
    m.handle_timeout(now);
    assert_eq!(m.poll_timeout(), Some(now + timeout));
    m.handle_timeout(now + timeout - Duration::from_millis(1));
    assert_eq!(events(&mut m), vec![]);
    m.handle_timeout(now + timeout);
    assert_eq!(
        events(&mut m),
        vec![Event::GrabFallback {
            from: GrabKind::All,
            to: GrabKind::Uniq,
            error: None,
        }]
    );
    // Nothing more on this connection: the GRAB may still be answered here.
    assert_eq!(sent(&mut m), vec![]);
    assert_eq!(m.state(), GrabState::AwaitingJob);

    // The next connection grabs with GRAB_JOB_UNIQ, which the server answers: proven, so it
    // never times out, on this connection or the next.
    let later = now + Duration::from_secs(1);
    m.handle_disconnected(later);
    m.handle_connected(later);
    assert_eq!(sent(&mut m).last(), Some(&GRAB));
    m.handle_timeout(later);
    m.handle_response(later, Response::NoJob).unwrap();
    let _ = sent(&mut m);
    m.handle_disconnected(later);
    m.handle_connected(later);
    assert_eq!(sent(&mut m).last(), Some(&GRAB));
    m.handle_timeout(later);
    m.handle_timeout(later + Duration::from_secs(60));
    assert!(events(&mut m)
        .iter()
        .all(|e| !matches!(e, Event::GrabFallback { .. })));
    assert_eq!(m.grab_kind(), GrabKind::Uniq);
}

#[test]
fn an_answer_before_the_deadline_proves_the_grab() {
    let now = Instant::now();
    let mut m = WorkerMachine::new(MachineConfig {
        grab_answer_timeout: Some(Duration::from_millis(500)),
        ..config_grabbing(GrabKind::All)
    });
    m.set_functions(set(&["a"]));
    m.handle_connected(now);
    let _ = sent(&mut m);
    m.handle_timeout(now);
    m.handle_response(now + Duration::from_millis(400), assign("H:1", "a"))
        .unwrap();
    let _ = events(&mut m);
    m.handle_timeout(now + Duration::from_secs(5));
    assert_eq!(events(&mut m), vec![]);
    assert_eq!(m.grab_kind(), GrabKind::All);
}
