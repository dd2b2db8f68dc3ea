//! Random traffic against the client machine, checked by a model of what the caller is owed:
//! every request ends exactly once (an outcome, an answer or a typed failure), nothing is said
//! about it afterwards, and nothing is left hanging once the connection is gone.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gearman_client::{ClientConfig, ClientMachine, Event, JobKind, NewJob, RequestId};
use gearman_proto::{
    ErrorPacket, FunctionName, JobHandle, JobStatus, OptionName, Priority, Request, Response,
    UniqueId, WorkUpdate,
};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Submit {
        unique: u8,
        background: bool,
        deadline: bool,
    },
    Created,
    Refused,
    Work {
        job: u8,
        kind: u8,
    },
    Status(u8),
    Echo,
    AnswerQueries,
    Advance(u16),
    Unsubscribe(u8),
    Reconnect,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..4, any::<bool>(), any::<bool>())
            .prop_map(|(unique, background, deadline)| Op::Submit { unique, background, deadline }),
        5 => Just(Op::Created),
        1 => Just(Op::Refused),
        6 => (any::<u8>(), 0u8..5).prop_map(|(job, kind)| Op::Work { job, kind }),
        1 => any::<u8>().prop_map(Op::Status),
        1 => Just(Op::Echo),
        1 => Just(Op::AnswerQueries),
        2 => (0u16..6000).prop_map(Op::Advance),
        1 => any::<u8>().prop_map(Op::Unsubscribe),
        1 => Just(Op::Reconnect),
    ]
}

/// What the caller is owed.
#[derive(Default)]
struct Model {
    /// Requests not yet ended, and whether each is a background submission.
    open: BTreeMap<RequestId, bool>,
    ended: BTreeSet<RequestId>,
    muted: BTreeSet<RequestId>,
    /// Submissions the server has not answered yet, in order (what the fake server will do).
    unanswered: usize,
    handles: Vec<JobHandle>,
    next_handle: u32,
    queries: Vec<Request>,
}

impl Model {
    fn drain(&mut self, m: &mut ClientMachine) -> Result<bool, TestCaseError> {
        let mut out_of_step = false;
        while let Some(e) = m.poll_event() {
            let (id, ends) = match &e {
                Event::Created { id, .. } => (*id, self.open.get(id).copied().unwrap_or(false)),
                Event::Progress { id, .. } => (*id, false),
                Event::Done { id, .. } | Event::Failed { id, .. } => (*id, true),
                Event::Status { id, .. }
                | Event::UniqueStatus { id, .. }
                | Event::Echo { id, .. } => (*id, true),
                Event::OutOfStep | Event::ConnectionDead => {
                    out_of_step = true;
                    continue;
                }
                Event::ExceptionsUnavailable => continue,
            };
            prop_assert!(!self.ended.contains(&id), "{e:?} after the end of {id:?}");
            prop_assert!(
                !self.muted.contains(&id),
                "{e:?} for an unsubscribed {id:?}"
            );
            prop_assert!(self.open.contains_key(&id), "{e:?} for an unknown {id:?}");
            if ends {
                self.open.remove(&id);
                self.ended.insert(id);
            }
        }
        while let Some(req) = m.poll_transmit() {
            match req {
                Request::Submit(_) => self.unanswered += 1,
                Request::GetStatus(_) | Request::Echo(_) => self.queries.push(req),
                _ => {}
            }
        }
        Ok(out_of_step)
    }
}

fn job(unique: u8, background: bool, deadline: Option<Instant>) -> NewJob {
    NewJob {
        function: FunctionName::try_from("f").unwrap(),
        unique: if unique == 0 {
            UniqueId::empty()
        } else {
            UniqueId::try_from(format!("u{unique}")).unwrap()
        },
        data: Bytes::from_static(b"d"),
        priority: Priority::Normal,
        kind: if background {
            JobKind::Background
        } else {
            JobKind::Foreground
        },
        deadline,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn every_request_ends_exactly_once(ops in prop::collection::vec(op(), 1..150)) {
        let mut now = Instant::now();
        let mut m = ClientMachine::new(ClientConfig::default());
        let mut model = Model::default();
        m.handle_connected(now);
        m.handle_response(now, Response::Option(OptionName::exceptions())).unwrap();
        model.drain(&mut m)?;
        for op in ops {
            match op {
                Op::Submit { unique, background, deadline } => {
                    let d = deadline.then(|| now + Duration::from_secs(3));
                    let id = m.submit(now, job(unique, background, d));
                    model.open.insert(id, background);
                }
                Op::Created if model.unanswered > 0 => {
                    model.unanswered -= 1;
                    model.next_handle += 1;
                    let h = JobHandle::try_from(format!("H:{}", model.next_handle)).unwrap();
                    model.handles.push(h.clone());
                    m.handle_response(now, Response::JobCreated(h)).unwrap();
                }
                Op::Refused if model.unanswered > 0 => {
                    model.unanswered -= 1;
                    let e = ErrorPacket { code: Bytes::from_static(b"QUEUE_ERROR"), text: Bytes::new() };
                    m.handle_response(now, Response::Error(e)).unwrap();
                }
                Op::Work { job, kind } if !model.handles.is_empty() => {
                    let handle = model.handles[usize::from(job) % model.handles.len()].clone();
                    let data = Bytes::from_static(b"x");
                    let w = match kind {
                        0 => WorkUpdate::Data { handle, data },
                        1 => WorkUpdate::Status { handle, numerator: 1, denominator: 2 },
                        2 => WorkUpdate::Complete { handle, data },
                        3 => WorkUpdate::Fail { handle },
                        _ => WorkUpdate::Exception { handle, data },
                    };
                    m.handle_response(now, Response::Work(w)).unwrap();
                }
                Op::Status(i) => {
                    let h = JobHandle::try_from(format!("H:{}", u32::from(i) % 8 + 1)).unwrap();
                    let id = m.get_status(now, h);
                    model.open.insert(id, false);
                }
                Op::Echo => {
                    let id = m.echo(now, Bytes::from_static(b"e"));
                    model.open.insert(id, false);
                }
                Op::AnswerQueries => {
                    for q in std::mem::take(&mut model.queries) {
                        let res = match q {
                            Request::GetStatus(handle) => Response::Status(JobStatus {
                                handle, known: false, running: false, numerator: Some(0), denominator: Some(0),
                            }),
                            Request::Echo(d) => Response::Echo(d),
                            _ => continue,
                        };
                        m.handle_response(now, res).unwrap();
                    }
                }
                Op::Advance(ms) => {
                    now += Duration::from_millis(u64::from(ms));
                    m.handle_timeout(now);
                }
                Op::Unsubscribe(i) => {
                    let open: Vec<RequestId> = model.open.keys().copied().collect();
                    if let Some(&id) = open.get(usize::from(i) % open.len().max(1)) {
                        m.unsubscribe(id);
                        model.open.remove(&id);
                        model.muted.insert(id);
                    }
                }
                Op::Reconnect => {
                    m.handle_disconnected(now);
                    model.drain(&mut m)?;
                    prop_assert!(model.open.is_empty(), "left hanging after a disconnect: {:?}", model.open);
                    model.unanswered = 0;
                    model.handles.clear();
                    model.queries.clear();
                    m.handle_connected(now);
                    m.handle_response(now, Response::Option(OptionName::exceptions())).unwrap();
                }
                _ => continue,
            }
            if model.drain(&mut m)? {
                // The driver closes an out-of-step or dead connection.
                m.handle_disconnected(now);
                model.drain(&mut m)?;
                prop_assert!(model.open.is_empty(), "left hanging: {:?}", model.open);
                model.unanswered = 0;
                model.handles.clear();
                model.queries.clear();
                m.handle_connected(now);
                m.handle_response(now, Response::Option(OptionName::exceptions())).unwrap();
                model.drain(&mut m)?;
            }
        }
        m.handle_disconnected(now);
        model.drain(&mut m)?;
        prop_assert!(model.open.is_empty(), "left hanging at the end: {:?}", model.open);
        prop_assert_eq!(m.in_flight(), 0);
    }
}
