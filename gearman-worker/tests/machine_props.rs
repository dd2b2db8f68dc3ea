//! Random input sequences against the worker machine, checked by an independent model:
//! never two GRABs outstanding, never more jobs than slots, WORK_* only for held jobs and exactly
//! one terminal packet each, never CANT_DO or RESET_ABILITIES that would re-queue a held job.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gearman_proto::{FunctionName, JobAssign, JobHandle, Request, Response, UniqueId, WorkUpdate};
use gearman_worker::{Event, FunctionSet, MachineConfig, Outcome, Timeout, WorkerMachine};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Connect,
    Disconnect,
    Noop,
    NoJob,
    Assign(u8, u8),
    Echo,
    Advance(u16),
    SetFunctions(u8),
    Finish(u8),
    Update(u8),
    Drain,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => Just(Op::Connect),
        1 => Just(Op::Disconnect),
        3 => Just(Op::Noop),
        3 => Just(Op::NoJob),
        6 => (any::<u8>(), 0u8..4).prop_map(|(h, f)| Op::Assign(h, f)),
        1 => Just(Op::Echo),
        3 => (0u16..3000).prop_map(Op::Advance),
        2 => (0u8..16).prop_map(Op::SetFunctions),
        4 => any::<u8>().prop_map(Op::Finish),
        2 => any::<u8>().prop_map(Op::Update),
        1 => Just(Op::Drain),
    ]
}

fn f(i: u8) -> FunctionName {
    FunctionName::try_from(format!("f{i}")).unwrap()
}

/// Functions of bit mask `mask`; f3 has a server timeout.
fn functions(mask: u8) -> FunctionSet {
    (0..4u8)
        .filter(|i| mask & (1 << i) != 0)
        .map(|i| (f(i), (i == 3).then(|| Timeout::from_millis(1000)).flatten()))
        .collect()
}

#[derive(Default)]
struct Model {
    connected: bool,
    grab_outstanding: bool,
    held: BTreeMap<JobHandle, FunctionName>,
    refused: BTreeSet<JobHandle>,
    server: BTreeSet<FunctionName>,
}

impl Model {
    fn check_sent(&mut self, m: &mut WorkerMachine, slots: usize) -> Result<(), TestCaseError> {
        while let Some(req) = m.poll_transmit() {
            prop_assert!(self.connected, "{req:?} sent while disconnected");
            match req {
                Request::Grab(_) => {
                    prop_assert!(!self.grab_outstanding, "a second GRAB outstanding");
                    prop_assert!(self.held.len() < slots, "GRAB with every slot busy");
                    self.grab_outstanding = true;
                }
                Request::ResetAbilities => {
                    prop_assert!(self.held.is_empty(), "RESET_ABILITIES while holding a job");
                    self.server.clear();
                }
                Request::CantDo(fun) => {
                    prop_assert!(
                        !self.held.values().any(|h| *h == fun),
                        "CANT_DO {fun} while held"
                    );
                    self.server.remove(&fun);
                }
                Request::CanDo(fun) | Request::CanDoTimeout { function: fun, .. } => {
                    prop_assert!(self.server.insert(fun), "duplicate CAN_DO");
                }
                Request::Work(w) => {
                    let handle = w.handle().clone();
                    if self.refused.remove(&handle) {
                        let is_fail = matches!(w, WorkUpdate::Fail { .. });
                        prop_assert!(is_fail, "a refused job gets WORK_FAIL");
                    } else {
                        prop_assert!(
                            self.held.contains_key(&handle),
                            "WORK_* for {handle} not held"
                        );
                        if w.is_terminal() {
                            self.held.remove(&handle);
                        }
                    }
                }
                Request::PreSleep | Request::Echo(_) | Request::SetClientId(_) => {}
                other => prop_assert!(false, "unexpected request {other:?}"),
            }
        }
        prop_assert!(self.held.len() <= slots);
        Ok(())
    }

    fn check_events(&mut self, m: &mut WorkerMachine) {
        while let Some(e) = m.poll_event() {
            match e {
                Event::Job(a) => {
                    self.held.insert(a.handle, a.function);
                }
                Event::JobAbandoned { handle, .. } => {
                    self.held.remove(&handle);
                }
                Event::JobRefused { handle, .. } => {
                    self.refused.insert(handle);
                }
                _ => {}
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn invariants_hold_for_any_input(slots in 1usize..4, ops in prop::collection::vec(op(), 1..120)) {
        let mut now = Instant::now();
        let mut m = WorkerMachine::new(MachineConfig { slots, ..MachineConfig::default() });
        let mut model = Model::default();
        m.set_functions(functions(0b0111));
        for op in ops {
            match op {
                Op::Connect if !model.connected => {
                    model = Model { connected: true, ..Model::default() };
                    m.handle_connected(now);
                }
                Op::Connect => continue,
                Op::Disconnect => {
                    m.handle_disconnected(now);
                    model.check_events(&mut m);
                    prop_assert!(model.held.is_empty(), "jobs survive a disconnect");
                    model = Model::default();
                }
                Op::Noop if model.connected => m.handle_response(now, Response::Noop).unwrap(),
                Op::NoJob | Op::Assign(..) if model.connected => {
                    let res = match op {
                        Op::Assign(h, fi) => Response::JobAssign(JobAssign {
                            handle: JobHandle::try_from(format!("H:{h}")).unwrap(),
                            function: f(fi),
                            unique: Some(UniqueId::empty()),
                            reducer: None,
                            data: Bytes::new(),
                        }),
                        _ => Response::NoJob,
                    };
                    let dup = matches!(&res, Response::JobAssign(a) if model.held.contains_key(&a.handle));
                    let result = m.handle_response(now, res);
                    if model.grab_outstanding && !dup {
                        prop_assert!(result.is_ok(), "{result:?}");
                        model.grab_outstanding = false;
                    } else {
                        prop_assert!(result.is_err(), "an answer without a GRAB was accepted");
                        continue;
                    }
                }
                Op::Echo if model.connected => m.handle_response(now, Response::Echo(Bytes::new())).unwrap(),
                Op::Advance(ms) => {
                    now += Duration::from_millis(u64::from(ms));
                    m.handle_timeout(now);
                }
                Op::SetFunctions(mask) => m.set_functions(functions(mask)),
                Op::Finish(i) | Op::Update(i) => {
                    let Some(handle) = model.held.keys().nth(usize::from(i) % model.held.len().max(1)).cloned() else {
                        continue;
                    };
                    if matches!(op, Op::Finish(_)) {
                        m.finish(&handle, Outcome::Complete(Bytes::new())).unwrap();
                    } else {
                        m.update(WorkUpdate::Data { handle, data: Bytes::new() }).unwrap();
                    }
                }
                Op::Drain => m.drain(),
                _ => continue,
            }
            model.check_events(&mut m);
            model.check_sent(&mut m, slots)?;
        }
    }
}
