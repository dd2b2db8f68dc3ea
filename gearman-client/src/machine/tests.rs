//! Scripted scenarios at fixed instants: exact requests out, exact events back.

use std::time::{Duration, Instant};

use bytes::Bytes;
use gearman_proto::{
    ErrorPacket, FunctionName, JobHandle, JobStatus, OptionName, PacketType, Priority, Request,
    Response, Submit, UniqueId, WorkUpdate,
};

use super::*;

fn h(s: &str) -> JobHandle {
    JobHandle::try_from(s).unwrap()
}

fn job(unique: &str, kind: JobKind) -> NewJob {
    NewJob {
        function: FunctionName::try_from("f").unwrap(),
        unique: UniqueId::try_from(unique).unwrap(),
        data: Bytes::from_static(b"d"),
        priority: Priority::Normal,
        kind,
        deadline: None,
    }
}

fn fg(unique: &str) -> NewJob {
    job(unique, JobKind::Foreground)
}

fn sent(m: &mut ClientMachine) -> Vec<Request> {
    std::iter::from_fn(|| m.poll_transmit()).collect()
}

fn events(m: &mut ClientMachine) -> Vec<Event> {
    std::iter::from_fn(|| m.poll_event()).collect()
}

fn ready(now: Instant) -> ClientMachine {
    let mut m = ClientMachine::new(ClientConfig::default());
    m.handle_connected(now);
    let _ = sent(&mut m);
    m.handle_response(now, Response::Option(OptionName::exceptions()))
        .unwrap();
    m
}

fn work(handle: &str, kind: &str) -> Response {
    let handle = h(handle);
    let data = Bytes::from_static(b"x");
    Response::Work(match kind {
        "data" => WorkUpdate::Data { handle, data },
        "complete" => WorkUpdate::Complete { handle, data },
        "fail" => WorkUpdate::Fail { handle },
        "exception" => WorkUpdate::Exception { handle, data },
        _ => WorkUpdate::Status {
            handle,
            numerator: 1,
            denominator: 2,
        },
    })
}

fn submit_packet(unique: &str, background: bool) -> Request {
    Request::Submit(Submit {
        function: FunctionName::try_from("f").unwrap(),
        unique: UniqueId::try_from(unique).unwrap(),
        data: Bytes::from_static(b"d"),
        priority: Priority::Normal,
        background,
    })
}

#[test]
fn option_is_negotiated_before_anything_else() {
    let now = Instant::now();
    let mut m = ClientMachine::new(ClientConfig::default());
    m.handle_connected(now);
    let id = m.submit(now, fg("u"));
    assert_eq!(
        sent(&mut m),
        vec![Request::Option(OptionName::exceptions())]
    );
    m.handle_response(now, Response::Option(OptionName::exceptions()))
        .unwrap();
    assert_eq!(sent(&mut m), vec![submit_packet("u", false)]);
    m.handle_response(now, Response::JobCreated(h("H:1")))
        .unwrap();
    assert_eq!(
        events(&mut m),
        vec![Event::Created {
            id,
            handle: h("H:1")
        }]
    );
}

#[test]
fn refused_option_is_reported_and_requests_go_on() {
    let now = Instant::now();
    let mut m = ClientMachine::new(ClientConfig::default());
    m.handle_connected(now);
    let _ = m.submit(now, fg(""));
    let _ = sent(&mut m);
    let err = ErrorPacket {
        code: Bytes::from_static(b"UNKNOWN_OPTION"),
        text: Bytes::from_static(b"Server does not recognize given option"),
    };
    m.handle_response(now, Response::Error(err)).unwrap();
    assert_eq!(events(&mut m), vec![Event::ExceptionsUnavailable]);
    assert_eq!(sent(&mut m), vec![submit_packet("", false)]);
}

#[test]
fn unanswered_option_times_out_without_blocking() {
    let now = Instant::now();
    let mut m = ClientMachine::new(ClientConfig::default());
    m.handle_connected(now);
    let _ = m.submit(now, fg(""));
    let _ = sent(&mut m);
    let t = now + ClientConfig::default().request_timeout;
    assert_eq!(m.poll_timeout(), Some(t));
    m.handle_timeout(t);
    assert_eq!(events(&mut m), vec![Event::ExceptionsUnavailable]);
    assert_eq!(sent(&mut m), vec![submit_packet("", false)]);
}

#[test]
fn replies_match_submissions_in_order_and_work_by_handle() {
    let now = Instant::now();
    let mut m = ready(now);
    let a = m.submit(now, fg(""));
    let b = m.submit(now, fg(""));
    m.handle_response(now, Response::JobCreated(h("H:1")))
        .unwrap();
    m.handle_response(now, Response::JobCreated(h("H:2")))
        .unwrap();
    m.handle_response(now, work("H:2", "data")).unwrap();
    m.handle_response(now, work("H:1", "complete")).unwrap();
    m.handle_response(now, work("H:2", "exception")).unwrap();
    let x = Bytes::from_static(b"x");
    assert_eq!(
        events(&mut m),
        vec![
            Event::Created {
                id: a,
                handle: h("H:1")
            },
            Event::Created {
                id: b,
                handle: h("H:2")
            },
            Event::Progress {
                id: b,
                update: WorkUpdate::Data {
                    handle: h("H:2"),
                    data: x.clone()
                }
            },
            Event::Done {
                id: a,
                outcome: JobOutcome::Complete(x.clone())
            },
            Event::Done {
                id: b,
                outcome: JobOutcome::Exception(x)
            },
        ]
    );
    assert_eq!(m.in_flight(), 0);
}

#[test]
fn same_unique_is_coalesced_and_every_submitter_sees_every_event_once() {
    let now = Instant::now();
    let mut m = ready(now);
    let ids: Vec<RequestId> = (0..3).map(|_| m.submit(now, fg("u1"))).collect();
    assert_eq!(sent(&mut m), vec![submit_packet("u1", false)], "asked once");
    m.handle_response(now, Response::JobCreated(h("H:1")))
        .unwrap();
    let late = m.submit(now, fg("u1"));
    assert!(sent(&mut m).is_empty(), "joins the running job");
    m.handle_response(now, work("H:1", "status")).unwrap();
    m.handle_response(now, work("H:1", "complete")).unwrap();
    let ev = events(&mut m);
    for id in ids.iter().copied().chain([late]) {
        let mine: Vec<&Event> = ev
            .iter()
            .filter(|e| matches!(e, Event::Created { id: i, .. } | Event::Progress { id: i, .. } | Event::Done { id: i, .. } if *i == id))
            .collect();
        assert_eq!(mine.len(), 3, "{id:?}: {mine:?}");
    }
    // After the end, the same unique is a new job.
    let _ = m.submit(now, fg("u1"));
    assert_eq!(sent(&mut m), vec![submit_packet("u1", false)]);
}

#[test]
fn server_side_coalescing_on_one_connection_is_delivered_once() {
    let now = Instant::now();
    let mut m = ready(now);
    // "-" coalesces on the data at the server: two registrations, every packet comes twice.
    let a = m.submit(now, fg("-"));
    let b = m.submit(now, fg("-"));
    assert_eq!(sent(&mut m).len(), 2);
    m.handle_response(now, Response::JobCreated(h("H:7")))
        .unwrap();
    m.handle_response(now, Response::JobCreated(h("H:7")))
        .unwrap();
    for _ in 0..2 {
        m.handle_response(now, work("H:7", "data")).unwrap();
    }
    for _ in 0..2 {
        m.handle_response(now, work("H:7", "complete")).unwrap();
    }
    let ev = events(&mut m);
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, Event::Progress { .. }))
            .count(),
        2
    );
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, Event::Done { id, .. } if *id == a))
            .count(),
        1
    );
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, Event::Done { id, .. } if *id == b))
            .count(),
        1
    );
}

#[test]
fn error_refuses_the_oldest_submission() {
    let now = Instant::now();
    let mut m = ready(now);
    let a = m.submit(now, fg(""));
    let b = m.submit(now, fg(""));
    let err = ErrorPacket {
        code: Bytes::from_static(b"QUEUE_ERROR"),
        text: Bytes::from_static(b"Job queue is full"),
    };
    m.handle_response(now, Response::Error(err)).unwrap();
    m.handle_response(now, Response::JobCreated(h("H:2")))
        .unwrap();
    assert_eq!(
        events(&mut m),
        vec![
            Event::Failed {
                id: a,
                failure: Failure::Refused {
                    code: "QUEUE_ERROR".into(),
                    text: "Job queue is full".into()
                }
            },
            Event::Created {
                id: b,
                handle: h("H:2")
            },
        ]
    );
}

#[test]
fn queries_are_matched_by_content_and_an_unanswered_one_only_times_out() {
    let now = Instant::now();
    let mut m = ready(now);
    let lost = m.echo(now, Bytes::from_static(b"a"));
    let later = now + Duration::from_secs(1);
    let echo = m.echo(later, Bytes::from_static(b"b"));
    let st = m.get_status(later, h("H:9"));
    let status = JobStatus {
        handle: h("H:9"),
        known: false,
        running: false,
        numerator: Some(0),
        denominator: Some(0),
    };
    m.handle_response(later, Response::Status(status.clone()))
        .unwrap();
    m.handle_response(later, Response::Echo(Bytes::from_static(b"b")))
        .unwrap();
    let t = now + ClientConfig::default().request_timeout;
    m.handle_timeout(t);
    assert_eq!(
        events(&mut m),
        vec![
            Event::Status { id: st, status },
            Event::Echo {
                id: echo,
                data: Bytes::from_static(b"b")
            },
            Event::Failed {
                id: lost,
                failure: Failure::TimedOut
            },
        ]
    );
    assert!(
        m.is_usable(),
        "a lost query does not put the connection out of step"
    );
}

#[test]
fn unacknowledged_submission_puts_the_connection_out_of_step() {
    let now = Instant::now();
    let mut m = ready(now);
    let a = m.submit(now, fg(""));
    let t = now + ClientConfig::default().request_timeout;
    m.handle_timeout(t);
    assert_eq!(
        events(&mut m),
        vec![
            Event::Failed {
                id: a,
                failure: Failure::Ambiguous
            },
            Event::OutOfStep
        ]
    );
    let b = m.submit(t, fg(""));
    assert_eq!(
        events(&mut m),
        vec![Event::Failed {
            id: b,
            failure: Failure::NotSent
        }]
    );
}

#[test]
fn disconnect_fails_each_request_as_precisely_as_known() {
    let now = Instant::now();
    let mut m = ClientMachine::new(ClientConfig::default());
    m.handle_connected(now);
    let unsent = m.submit(now, fg("")); // held behind the option
    m.handle_disconnected(now);
    assert_eq!(
        events(&mut m),
        vec![Event::Failed {
            id: unsent,
            failure: Failure::NotSent
        }]
    );

    let mut m = ready(now);
    let running = m.submit(now, fg(""));
    m.handle_response(now, Response::JobCreated(h("H:1")))
        .unwrap();
    let waiting = m.submit(now, fg(""));
    let query = m.get_status(now, h("H:1"));
    let _ = events(&mut m);
    m.handle_disconnected(now);
    let mut ev = events(&mut m);
    ev.sort_by_key(|e| format!("{e:?}"));
    let mut want = vec![
        Event::Failed {
            id: waiting,
            failure: Failure::Ambiguous,
        },
        Event::Failed {
            id: running,
            failure: Failure::Disconnected,
        },
        Event::Failed {
            id: query,
            failure: Failure::Disconnected,
        },
    ];
    want.sort_by_key(|e| format!("{e:?}"));
    assert_eq!(ev, want);
    assert_eq!(m.in_flight(), 0);
}

#[test]
fn packets_after_the_end_are_ignored() {
    let now = Instant::now();
    let mut m = ready(now);
    let a = m.submit(now, fg(""));
    m.handle_response(now, Response::JobCreated(h("H:1")))
        .unwrap();
    // `cancel job` of a running job: WORK_FAIL, then the worker's WORK_COMPLETE.
    m.handle_response(now, work("H:1", "fail")).unwrap();
    m.handle_response(now, work("H:1", "complete")).unwrap();
    m.handle_response(now, work("H:404", "data")).unwrap();
    assert_eq!(
        events(&mut m),
        vec![
            Event::Created {
                id: a,
                handle: h("H:1")
            },
            Event::Done {
                id: a,
                outcome: JobOutcome::Fail
            },
        ]
    );
}

#[test]
fn job_deadline_gives_up_waiting() {
    let now = Instant::now();
    let mut m = ready(now);
    let mut j = fg("");
    j.deadline = Some(now + Duration::from_secs(3));
    let a = m.submit(now, j);
    m.handle_response(now, Response::JobCreated(h("H:1")))
        .unwrap();
    assert_eq!(m.poll_timeout(), Some(now + Duration::from_secs(3)));
    m.handle_timeout(now + Duration::from_secs(3));
    m.handle_response(now, work("H:1", "complete")).unwrap();
    assert_eq!(
        events(&mut m),
        vec![
            Event::Created {
                id: a,
                handle: h("H:1")
            },
            Event::Failed {
                id: a,
                failure: Failure::TimedOut
            },
        ]
    );
}

#[test]
fn dropped_request_keeps_its_place_but_says_nothing() {
    let now = Instant::now();
    let mut m = ready(now);
    let a = m.submit(now, fg(""));
    let b = m.submit(now, fg(""));
    m.unsubscribe(a);
    m.handle_response(now, Response::JobCreated(h("H:1")))
        .unwrap();
    m.handle_response(now, Response::JobCreated(h("H:2")))
        .unwrap();
    m.handle_response(now, work("H:1", "complete")).unwrap();
    assert_eq!(
        events(&mut m),
        vec![Event::Created {
            id: b,
            handle: h("H:2")
        }]
    );
}

#[test]
fn background_jobs_end_at_job_created() {
    let now = Instant::now();
    let mut m = ready(now);
    let a = m.submit(now, job("bg", JobKind::Background));
    let e = m.submit(now, job("ep", JobKind::Epoch(1_796_000_000)));
    let out = sent(&mut m);
    assert_eq!(out[0], submit_packet("bg", true));
    assert_eq!(out[1].packet_type(), PacketType::SUBMIT_JOB_EPOCH);
    m.handle_response(now, Response::JobCreated(h("H:1")))
        .unwrap();
    m.handle_response(now, Response::JobCreated(h("H:2")))
        .unwrap();
    assert_eq!(
        events(&mut m),
        vec![
            Event::Created {
                id: a,
                handle: h("H:1")
            },
            Event::Created {
                id: e,
                handle: h("H:2")
            }
        ]
    );
    assert_eq!(m.in_flight(), 0);
}

#[test]
fn unexpected_packets_are_protocol_errors() {
    let now = Instant::now();
    let mut m = ready(now);
    assert_eq!(
        m.handle_response(now, Response::Noop),
        Err(ProtocolError::Unexpected(PacketType::NOOP))
    );
    assert_eq!(
        m.handle_response(now, Response::JobCreated(h("H:1"))),
        Err(ProtocolError::Unexpected(PacketType::JOB_CREATED))
    );
}

#[test]
fn idle_heartbeat_detects_a_dead_connection() {
    let now = Instant::now();
    let cfg = ClientConfig::default();
    let mut m = ready(now);
    let due = now + cfg.heartbeat_after.unwrap();
    assert_eq!(m.poll_timeout(), Some(due));
    m.handle_timeout(due);
    assert_eq!(
        sent(&mut m),
        vec![Request::Echo(Bytes::from_static(HEARTBEAT))]
    );
    m.handle_timeout(due + cfg.heartbeat_timeout);
    assert_eq!(events(&mut m), vec![Event::ConnectionDead]);
}

#[test]
fn answered_heartbeat_is_silent_and_rearms() {
    let now = Instant::now();
    let cfg = ClientConfig::default();
    let mut m = ready(now);
    let due = now + cfg.heartbeat_after.unwrap();
    m.handle_timeout(due);
    let _ = sent(&mut m);
    m.handle_response(due, Response::Echo(Bytes::from_static(HEARTBEAT)))
        .unwrap();
    m.handle_timeout(due + cfg.heartbeat_timeout);
    assert!(events(&mut m).is_empty());
    assert_eq!(m.poll_timeout(), Some(due + cfg.heartbeat_after.unwrap()));
}

#[test]
fn reduce_jobs_use_the_four_field_form() {
    let now = Instant::now();
    let mut m = ready(now);
    let reducer = FunctionName::try_from("r").unwrap();
    let _ = m.submit(
        now,
        job(
            "u",
            JobKind::Reduce {
                reducer,
                background: false,
            },
        ),
    );
    let out = sent(&mut m);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].packet_type(), PacketType::SUBMIT_REDUCE_JOB);
    assert_eq!(&out[0].to_bytes().unwrap()[12..], b"f\0u\0r\0\0d");
}

#[test]
fn a_deadline_before_the_acknowledgement_is_ambiguous() {
    let now = Instant::now();
    let mut m = ready(now);
    let mut j = fg("");
    j.deadline = Some(now + Duration::from_secs(1));
    let a = m.submit(now, j);
    m.handle_timeout(now + Duration::from_secs(1));
    assert_eq!(
        events(&mut m),
        vec![Event::Failed {
            id: a,
            failure: Failure::Ambiguous
        }]
    );
    // The late JOB_CREATED and the job's end say nothing more to the caller.
    m.handle_response(now, Response::JobCreated(h("H:1")))
        .unwrap();
    m.handle_response(now, work("H:1", "complete")).unwrap();
    assert_eq!(events(&mut m), vec![]);
    assert!(m.is_usable());
}

#[test]
fn a_submission_held_behind_the_option_answer_is_withdrawn_at_its_deadline() {
    let now = Instant::now();
    let mut m = ClientMachine::new(ClientConfig::default());
    m.handle_connected(now);
    let _option = m.poll_transmit();
    let mut j = fg("");
    j.deadline = Some(now + Duration::from_secs(1));
    let a = m.submit(now, j);
    m.handle_timeout(now + Duration::from_secs(1));
    assert_eq!(
        events(&mut m),
        vec![Event::Failed {
            id: a,
            failure: Failure::NotSent
        }]
    );
    // The option answer releases nothing: the submission was taken back.
    m.handle_response(
        now,
        Response::Option(gearman_proto::OptionName::exceptions()),
    )
    .unwrap();
    assert_eq!(m.poll_transmit(), None);
}

#[test]
fn a_submission_whose_deadline_passed_in_the_queue_is_not_sent() {
    let now = Instant::now();
    let mut m = ready(now);
    let mut j = fg("");
    j.deadline = Some(now);
    let a = m.submit(now, j);
    assert_eq!(m.poll_transmit(), None);
    assert_eq!(
        events(&mut m),
        vec![Event::Failed {
            id: a,
            failure: Failure::NotSent
        }]
    );
}
