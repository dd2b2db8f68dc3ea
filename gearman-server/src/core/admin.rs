//! The admin text protocol over the core's state, in gearmand 1.1.20's reply formats.

use std::net::SocketAddr;

use bytes::Bytes;
use gearman_proto::admin::{
    AdminCommand, AdminReply, ErrReply, JobRow, PriorityStatusRow, StatusRow, WorkerRow,
};
use gearman_proto::{JobHandle, Priority, Response, WorkUpdate};

use super::{ConnId, ServerCore};

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
            AdminCommand::Status => {
                let mut rows: Vec<StatusRow> = self
                    .known_functions()
                    .into_iter()
                    .map(|f| {
                        let running = self
                            .jobs
                            .values()
                            .filter(|j| j.function == f && j.worker.is_some())
                            .count();
                        StatusRow {
                            total: (self.queued(&f) + running) as u32,
                            running: running as u32,
                            workers: self.workers_of(&f) as u32,
                            function: f.into_bytes(),
                        }
                    })
                    .collect();
                rows.sort_by(|a, b| a.function.cmp(&b.function));
                AdminReply::Status(rows)
            }
            AdminCommand::PriorityStatus => {
                let mut rows: Vec<PriorityStatusRow> = self
                    .known_functions()
                    .into_iter()
                    .map(|f| {
                        let q = self.queues.get(&f).cloned().unwrap_or_default();
                        PriorityStatusRow {
                            high: q.len_at(Priority::High) as u32,
                            normal: q.len_at(Priority::Normal) as u32,
                            low: q.len_at(Priority::Low) as u32,
                            workers: self.workers_of(&f) as u32,
                            function: f.into_bytes(),
                        }
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
                            functions: c.functions.iter().map(|f| f.as_shared().clone()).collect(),
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
                self.queues.entry(f.clone()).or_default();
                AdminReply::Ok(Bytes::new())
            }
            AdminCommand::DropFunction(f) => {
                let busy = self.workers_of(f) > 0
                    || self
                        .jobs
                        .values()
                        .any(|j| &j.function == f && j.worker.is_some());
                match (self.queues.contains_key(f), busy) {
                    (false, _) => err("function", "not found"),
                    (true, true) => {
                        err("there", "are still connected workers or executing clients")
                    }
                    (true, false) => {
                        self.queues.remove(f);
                        AdminReply::Ok(Bytes::new())
                    }
                }
            }
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

    fn known_functions(&self) -> Vec<gearman_proto::FunctionName> {
        let mut fs: std::collections::BTreeSet<_> = self.queues.keys().cloned().collect();
        for c in self.conns.values() {
            fs.extend(c.functions.iter().cloned());
        }
        fs.into_iter().collect()
    }

    fn workers_of(&self, f: &gearman_proto::FunctionName) -> usize {
        self.conns
            .values()
            .filter(|c| c.functions.contains(f))
            .count()
    }
}
