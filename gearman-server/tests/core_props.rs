//! Random request sequences against the sans-IO core, from several clients and workers that
//! come and go, with the clock moving: the indexes stay consistent after every step, and
//! every foreground submission of a client still connected ends exactly once (per time it was
//! submitted) once a last worker has drained the server. With a store, whose writes commit
//! or fail in random order with everything else: every background submission is answered in
//! order too, and the store is empty once the server is.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use bytes::Bytes;
use gearman_proto::admin::{AdminCommand, MaxQueueSizes};
use gearman_proto::{
    FunctionName, GrabKind, JobHandle, Priority, Request, Response, Submit, UniqueId, WorkUpdate,
};
use gearman_server::store::{StoreOp, StoredJob};
use gearman_server::{ConnId, CoreConfig, ServerCore};
use proptest::prelude::*;

const FUNCTIONS: [&str; 3] = ["a", "b", "c"];
const T0: u64 = 1_800_000_000_000;

#[derive(Clone, Debug)]
enum Op {
    Submit {
        client: usize,
        f: usize,
        unique: Option<u8>,
        prio: u8,
        bg: bool,
    },
    Epoch {
        client: usize,
        f: usize,
        in_secs: u8,
    },
    CanDo {
        worker: usize,
        f: usize,
        timeout: Option<u32>,
    },
    CantDo {
        worker: usize,
        f: usize,
    },
    Grab {
        worker: usize,
    },
    Sleep {
        worker: usize,
    },
    Finish {
        worker: usize,
        how: u8,
    },
    Reconnect {
        who: usize,
    },
    Advance {
        ms: u16,
    },
    Cancel {
        n: u8,
    },
    MaxQueue {
        f: usize,
        n: i8,
    },
    Drop {
        f: usize,
    },
    /// The store finishes its oldest write (if the store is in use).
    Commit {
        ok: bool,
    },
}

/// The store as the core sees it: writes handed over, in order, and what they made durable.
#[derive(Default)]
struct StoreModel {
    writes: std::collections::VecDeque<Vec<StoreOp>>,
    rows: HashMap<u64, StoredJob>,
}

impl StoreModel {
    /// Finishes the oldest write; its added ids.
    fn commit(&mut self, ok: bool) -> Result<Option<Vec<u64>>, TestCaseError> {
        let Some(ops) = self.writes.pop_front() else {
            return Ok(None);
        };
        let added = ops
            .iter()
            .filter_map(|op| match op {
                StoreOp::Add(j) => Some(j.id),
                StoreOp::Remove(_) => None,
            })
            .collect();
        if ok {
            for op in ops {
                match op {
                    StoreOp::Add(j) => {
                        prop_assert!(self.rows.insert(j.id, j).is_none(), "an id stored twice");
                    }
                    StoreOp::Remove(id) => {
                        self.rows.remove(&id);
                    }
                }
            }
        } else {
            // A failed write's removals are tried again with the next one.
            let removes: Vec<StoreOp> = ops
                .into_iter()
                .filter(|op| matches!(op, StoreOp::Remove(_)))
                .collect();
            if !removes.is_empty() {
                match self.writes.front_mut() {
                    Some(next) => {
                        next.splice(0..0, removes);
                    }
                    None => self.writes.push_back(removes),
                }
            }
        }
        Ok(Some(added))
    }
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3usize, 0..3usize, proptest::option::of(0..3u8), 0..3u8, any::<bool>())
            .prop_map(|(client, f, unique, prio, bg)| Op::Submit { client, f, unique, prio, bg }),
        1 => (0..3usize, 0..3usize, 0..5u8).prop_map(|(client, f, in_secs)| Op::Epoch { client, f, in_secs }),
        2 => (0..3usize, 0..3usize, proptest::option::of(0..2000u32))
            .prop_map(|(worker, f, timeout)| Op::CanDo { worker, f, timeout }),
        1 => (0..3usize, 0..3usize).prop_map(|(worker, f)| Op::CantDo { worker, f }),
        4 => (0..3usize).prop_map(|worker| Op::Grab { worker }),
        1 => (0..3usize).prop_map(|worker| Op::Sleep { worker }),
        4 => (0..3usize, 0..4u8).prop_map(|(worker, how)| Op::Finish { worker, how }),
        1 => (0..6usize).prop_map(|who| Op::Reconnect { who }),
        2 => (0..3000u16).prop_map(|ms| Op::Advance { ms }),
        1 => (1..20u8).prop_map(|n| Op::Cancel { n }),
        1 => (0..3usize, -1..3i8).prop_map(|(f, n)| Op::MaxQueue { f, n }),
        1 => (0..3usize).prop_map(|f| Op::Drop { f }),
        3 => (0..8u8).prop_map(|n| Op::Commit { ok: n != 0 }),
    ]
}

fn fname(i: usize) -> FunctionName {
    FunctionName::try_from(FUNCTIONS[i]).unwrap()
}

struct World {
    core: ServerCore,
    now: u64,
    clients: Vec<ConnId>,
    workers: Vec<ConnId>,
    /// Jobs each worker was assigned and has not finished.
    held: HashMap<ConnId, Vec<JobHandle>>,
    /// Per (client, handle): foreground JOB_CREATED received, terminal packets received.
    created: HashMap<(ConnId, JobHandle), (u32, u32)>,
    /// Submissions awaiting their JOB_CREATED or ERROR, per client, in order (foreground?).
    awaiting: HashMap<ConnId, std::collections::VecDeque<bool>>,
    /// The store, when the core uses one.
    store: Option<StoreModel>,
}

impl World {
    fn drain(&mut self) -> Result<(), TestCaseError> {
        while let Some((to, res)) = self.core.poll_output() {
            match res {
                Response::JobCreated(h) => {
                    let fg = self.awaiting.get_mut(&to).and_then(|q| q.pop_front());
                    prop_assert!(fg.is_some(), "JOB_CREATED nobody asked for");
                    if fg == Some(true) {
                        self.created.entry((to, h)).or_default().0 += 1;
                    }
                }
                Response::Error(e) if &e.code[..] == b"QUEUE_ERROR" => {
                    let fg = self.awaiting.get_mut(&to).and_then(|q| q.pop_front());
                    prop_assert!(fg.is_some(), "QUEUE_ERROR nobody asked for");
                }
                Response::Work(u) if u.is_terminal() => {
                    let e = self.created.entry((to, u.handle().clone())).or_default();
                    e.1 += 1;
                    prop_assert!(e.1 <= e.0, "more endings than submissions: {:?}", u);
                }
                Response::JobAssign(a) => self.held.entry(to).or_default().push(a.handle),
                _ => {}
            }
        }
        if let Some(store) = &mut self.store {
            let ops = self.core.take_store_ops();
            if !ops.is_empty() {
                store.writes.push_back(ops);
            }
        }
        self.core.check_consistency().map_err(TestCaseError::fail)
    }

    /// Finishes every store write, successfully.
    fn settle(&mut self) -> Result<(), TestCaseError> {
        for _ in 0..1000 {
            let Some(added) = self
                .store
                .as_mut()
                .map(|s| s.commit(true))
                .transpose()?
                .flatten()
            else {
                return Ok(());
            };
            self.core.store_done(&added, true);
            self.drain()?;
        }
        Err(TestCaseError::fail("store writes never settle"))
    }

    fn apply(&mut self, op: Op) -> Result<(), TestCaseError> {
        match op {
            Op::Submit {
                client,
                f,
                unique,
                prio,
                bg,
            } => {
                let c = self.clients[client];
                self.awaiting.entry(c).or_default().push_back(!bg);
                let unique = unique.map_or(String::new(), |u| format!("u{u}"));
                let priority = [Priority::High, Priority::Normal, Priority::Low][prio as usize];
                self.core.handle(
                    c,
                    Request::Submit(Submit {
                        function: fname(f),
                        unique: UniqueId::try_from(unique).unwrap(),
                        data: Bytes::from_static(b"d"),
                        priority,
                        background: bg,
                    }),
                );
            }
            Op::Epoch { client, f, in_secs } => {
                let c = self.clients[client];
                self.awaiting.entry(c).or_default().push_back(false);
                self.core.handle(
                    c,
                    Request::SubmitEpoch {
                        function: fname(f),
                        unique: UniqueId::try_from("").unwrap(),
                        epoch: self.now / 1000 + u64::from(in_secs),
                        data: Bytes::new(),
                    },
                );
            }
            Op::CanDo { worker, f, timeout } => {
                let w = self.workers[worker];
                let req = match timeout {
                    Some(t) => Request::CanDoTimeout {
                        function: fname(f),
                        timeout_ms: t,
                    },
                    None => Request::CanDo(fname(f)),
                };
                self.core.handle(w, req);
            }
            Op::CantDo { worker, f } => self
                .core
                .handle(self.workers[worker], Request::CantDo(fname(f))),
            Op::Grab { worker } => self
                .core
                .handle(self.workers[worker], Request::Grab(GrabKind::Uniq)),
            Op::Sleep { worker } => self.core.handle(self.workers[worker], Request::PreSleep),
            Op::Finish { worker, how } => {
                let w = self.workers[worker];
                if let Some(handle) = self.held.get_mut(&w).and_then(Vec::pop) {
                    let update = match how {
                        0 => WorkUpdate::Complete {
                            handle,
                            data: Bytes::new(),
                        },
                        1 => WorkUpdate::Fail { handle },
                        2 => WorkUpdate::Exception {
                            handle,
                            data: Bytes::new(),
                        },
                        _ => WorkUpdate::Status {
                            handle,
                            numerator: 1,
                            denominator: 2,
                        },
                    };
                    self.core.handle(w, Request::Work(update));
                }
            }
            Op::Reconnect { who } => {
                let slot = if who < 3 {
                    &mut self.clients[who]
                } else {
                    &mut self.workers[who - 3]
                };
                let old = *slot;
                self.core.disconnect(old);
                *slot = self.core.connect();
                self.held.remove(&old);
                self.awaiting.remove(&old);
                self.created.retain(|(c, _), _| *c != old);
            }
            Op::Advance { ms } => {
                self.now += u64::from(ms);
                self.core.advance(self.now);
            }
            Op::Cancel { n } => {
                let handle = JobHandle::try_from(format!("H:gearman-rs:{n}")).unwrap();
                let _ = self.core.admin(&AdminCommand::CancelJob(handle));
            }
            Op::MaxQueue { f, n } => {
                let _ = self.core.admin(&AdminCommand::MaxQueue {
                    function: fname(f),
                    sizes: MaxQueueSizes::All(i32::from(n)),
                });
            }
            Op::Drop { f } => {
                let _ = self.core.admin(&AdminCommand::DropFunction(fname(f)));
            }
            Op::Commit { ok } => {
                if let Some(store) = &mut self.store {
                    if let Some(added) = store.commit(ok)? {
                        self.core.store_done(&added, ok);
                    }
                }
            }
        }
        self.drain()
    }
}

fn run(ops: Vec<Op>, retries: Option<u32>, durable: bool) -> Result<(), TestCaseError> {
    let mut core = ServerCore::new(CoreConfig {
        max_retries: retries,
        ..CoreConfig::default()
    });
    core.advance(T0);
    if durable {
        core.enable_store(Vec::new());
    }
    let clients = (0..3).map(|_| core.connect()).collect();
    let workers = (0..3).map(|_| core.connect()).collect();
    let mut world = World {
        core,
        now: T0,
        clients,
        workers,
        held: HashMap::new(),
        created: HashMap::new(),
        awaiting: HashMap::new(),
        store: durable.then(StoreModel::default),
    };
    for op in ops {
        world.apply(op)?;
    }
    world.settle()?;
    // Every submission was answered.
    prop_assert!(world.awaiting.values().all(|q| q.is_empty()));
    // The workers leave; the clock runs far ahead; one last worker drains everything.
    for i in 0..3 {
        world.apply(Op::Reconnect { who: 3 + i })?;
    }
    world.now += 10 * 60 * 1000;
    world.core.advance(world.now);
    let last = world.core.connect();
    for f in 0..3 {
        world.core.handle(last, Request::CanDo(fname(f)));
    }
    for _ in 0..10_000 {
        world.core.handle(last, Request::Grab(GrabKind::Uniq));
        world.drain()?;
        world.settle()?;
        let Some(handle) = world.held.get_mut(&last).and_then(Vec::pop) else {
            break;
        };
        world.core.handle(
            last,
            Request::Work(WorkUpdate::Complete {
                handle,
                data: Bytes::new(),
            }),
        );
        world.drain()?;
    }
    world.settle()?;
    prop_assert_eq!(world.core.job_count(), 0, "jobs left behind");
    prop_assert_eq!(world.core.next_deadline(), None);
    for ((c, h), (made, ended)) in &world.created {
        prop_assert_eq!(
            made,
            ended,
            "{:?} {:?}: submitted {} times, ended {} times",
            c,
            h,
            made,
            ended
        );
    }
    if let Some(store) = &world.store {
        prop_assert!(
            store.rows.is_empty(),
            "left in the store: {:?}",
            store.rows.keys()
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn every_foreground_job_ends_exactly_once(
        ops in proptest::collection::vec(op(), 1..120),
        retries in proptest::option::of(1..4u32),
    ) {
        run(ops, retries, false)?;
    }

    #[test]
    fn with_a_store_every_submission_is_answered_in_order_and_the_store_empties(
        ops in proptest::collection::vec(op(), 1..120),
        retries in proptest::option::of(1..4u32),
    ) {
        run(ops, retries, true)?;
    }
}
