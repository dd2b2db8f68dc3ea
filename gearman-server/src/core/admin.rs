//! The admin text protocol over the core's state, in gearmand 1.1.20's reply formats.

use std::net::SocketAddr;

use bytes::Bytes;
use gearman_proto::admin::{
    AdminCommand, AdminReply, ErrReply, JobRow, MaxQueueSizes, PriorityStatusRow, StatusRow,
    WorkerRow,
};
use gearman_proto::{FunctionName, JobHandle, Priority, Response, WorkUpdate};

use super::job::FnState;
use super::{ConnId, ServerCore};

/// A count as the u32 the reply formats carry.
fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn err(code: &'static str, text: &'static str) -> AdminReply {
    AdminReply::Err(ErrReply {
        code: Bytes::from_static(code.as_bytes()),
        text: Bytes::from_static(text.as_bytes()),
    })
}

impl ServerCore {
    /// Records a connection's peer address for the `workers` listing.
    pub fn set_peer(&mut self, conn: ConnId, peer: SocketAddr) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.peer = Some(peer);
        }
    }

    /// Answers an admin command (`shutdown` is the caller's to act on; it answers OK here).
    pub fn admin(&mut self, cmd: &AdminCommand) -> AdminReply {
        match cmd {
            AdminCommand::Status => AdminReply::Status(
                self.stats()
                    .into_iter()
                    .map(|st| StatusRow {
                        total: count(st.queued + st.running),
                        running: count(st.running),
                        workers: count(st.workers),
                        function: st.function.into_bytes(),
                    })
                    .collect(),
            ),
            AdminCommand::PriorityStatus => {
                let mut rows: Vec<PriorityStatusRow> = self
                    .functions
                    .iter()
                    .map(|(f, q)| PriorityStatusRow {
                        high: count(q.queued_at(Priority::High)),
                        normal: count(q.queued_at(Priority::Normal)),
                        low: count(q.queued_at(Priority::Low)),
                        workers: count(self.workers_of(f)),
                        function: f.as_shared().clone(),
                    })
                    .collect();
                rows.sort_by(|a, b| a.function.cmp(&b.function));
                AdminReply::PriorityStatus(rows)
            }
            AdminCommand::Workers => {
                let mut ids: Vec<&ConnId> = self.conns.keys().collect();
                ids.sort();
                let rows = ids
                    .into_iter()
                    .map(|id| {
                        let c = &self.conns[id];
                        WorkerRow {
                            fd: i64::try_from(id.0).unwrap_or(i64::MAX),
                            ip: Bytes::from(
                                c.peer
                                    .map_or_else(|| "-".to_string(), |p| p.ip().to_string()),
                            ),
                            client_id: c.client_id.as_ref().map(|i| i.as_shared().clone()),
                            functions: self
                                .functions_of(*id)
                                .iter()
                                .map(|f| f.as_shared().clone())
                                .collect(),
                        }
                    })
                    .collect();
                AdminReply::Workers(rows)
            }
            AdminCommand::ShowJobs => {
                let mut rows: Vec<JobRow> = self
                    .jobs
                    .iter()
                    .map(|(h, j)| JobRow {
                        handle: h.as_shared().clone(),
                        retries: j.retries,
                        ignore: j.foreground && j.waiters.is_empty(),
                        queued: !j.foreground,
                    })
                    .collect();
                rows.sort_by(|a, b| a.handle.cmp(&b.handle));
                AdminReply::Jobs(rows)
            }
            AdminCommand::ShowUniqueJobs => {
                let mut rows: Vec<Bytes> = self
                    .jobs
                    .values()
                    .map(|j| j.unique.as_shared().clone())
                    .collect();
                rows.sort();
                AdminReply::UniqueJobs(rows)
            }
            AdminCommand::Version => AdminReply::Ok(Bytes::from(format!(
                "gearman-rs {}",
                env!("CARGO_PKG_VERSION")
            ))),
            AdminCommand::GetPid => AdminReply::Ok(Bytes::from(std::process::id().to_string())),
            AdminCommand::Verbose => AdminReply::Ok(Bytes::from_static(b"INFO")),
            AdminCommand::CancelJob(handle) => self.cancel(handle),
            AdminCommand::CreateFunction(f) => {
                self.fn_state(&f.detached());
                AdminReply::Ok(Bytes::new())
            }
            AdminCommand::DropFunction(f) => self.drop_function(f),
            AdminCommand::MaxQueue { function, sizes } => {
                // OK even for an unknown function, which it leaves alone (as gearmand does).
                if let Some(state) = self.functions.get_mut(function) {
                    let limit = |n: i32| usize::try_from(n).ok().filter(|&n| n > 0);
                    state.max = match *sizes {
                        MaxQueueSizes::Unlimited => [None; 3],
                        MaxQueueSizes::All(n) => [limit(n); 3],
                        MaxQueueSizes::PerPriority { high, normal, low } => {
                            [limit(high), limit(normal), limit(low)]
                        }
                    };
                }
                AdminReply::Ok(Bytes::new())
            }
            // The driver acts on it (it owns the listener and the connections).
            AdminCommand::Shutdown { .. } => AdminReply::Ok(Bytes::new()),
            _ => err("UNKNOWN_COMMAND", "Not+supported+by+this+server"),
        }
    }

    /// `cancel job`: waiters get WORK_FAIL; a queued job is dropped, a running one runs on and
    /// its result is dropped.
    fn cancel(&mut self, handle: &JobHandle) -> AdminReply {
        let Some(job) = self.jobs.get_mut(handle) else {
            return err("UNKNOWN_JOB", "");
        };
        let waiters = std::mem::take(&mut job.waiters);
        job.foreground = true;
        for w in waiters {
            if let Some(c) = self.conns.get_mut(&w) {
                c.waiting_on.remove(handle);
            }
            self.send(
                w,
                Response::Work(WorkUpdate::Fail {
                    handle: handle.clone(),
                }),
            );
        }
        AdminReply::Ok(Bytes::new())
    }
}

impl ServerCore {
    /// `drop function`: refused while workers have it or jobs of it run. gearmand then orphans
    /// the queued jobs (never handed out, never answered); here they fail to their waiters
    /// and are forgotten, so every job still ends.
    fn drop_function(&mut self, f: &FunctionName) -> AdminReply {
        let busy = self.workers_of(f) > 0 || self.functions.get(f).is_some_and(|s| s.running > 0);
        if !self.functions.contains_key(f) {
            return err("function", "not found");
        }
        if busy {
            return err("there", "are still connected workers or executing clients");
        }
        let scheduled: Vec<JobHandle> = self
            .scheduled
            .iter()
            .filter(|(_, h)| self.jobs.get(h).is_some_and(|j| &j.function == f))
            .map(|(_, h)| h.clone())
            .collect();
        // Jobs still waiting for the store to take them end as the queued ones do.
        let unstored: Vec<JobHandle> = self
            .by_store_id
            .values()
            .filter(|h| {
                self.jobs
                    .get(*h)
                    .is_some_and(|j| &j.function == f && j.store.as_ref().is_some_and(|s| s.gated))
            })
            .cloned()
            .collect();
        let queued = self
            .functions
            .get_mut(f)
            .map(FnState::drain)
            .unwrap_or_default();
        self.ready.remove(f);
        for h in queued.iter().chain(&scheduled).chain(&unstored) {
            self.fail(h);
        }
        self.forget_wakes_for(f);
        self.functions.remove(f);
        AdminReply::Ok(Bytes::new())
    }
}
