//! One connection's driver: owns the socket and the machine, runs handlers; reconnects through
//! gearman-io's [`run_session`](gearman_io::run_session), which keeps its server state current.

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_util::future::{AbortHandle, Abortable};
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use gearman_io::{sleep_until, Closed, ConnectionOptions, ResponseReader, ServerStates, Session};
use gearman_proto::{ClientId, JobHandle, WorkUpdate};
use tokio::io::AsyncReadExt;
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tracing::{debug, info, warn, Instrument};

use super::gate::GatePass;
use super::handler::{Job, JobError};
use super::GrabGate;
use super::{Phase, Shared};
use crate::event::Event;
use crate::function_set::FunctionSet;
use crate::machine::{MachineConfig, Outcome, WorkerMachine};

/// Socket-level settings shared by every driver.
pub(crate) type RuntimeConfig = ConnectionOptions;

/// From a job's handler to its driver. `epoch` names the connection the job came on: updates of a
/// job from an earlier connection are dropped, even if a restarted server reuses its handle.
#[derive(Debug)]
pub(crate) struct JobMsg {
    pub(crate) epoch: u64,
    pub(crate) update: WorkUpdate,
}

struct Running {
    abort: AbortHandle,
    _permit: Option<OwnedSemaphorePermit>,
    /// Shared with the job's [`Job`]: raised when the connection no longer holds the job.
    gone: Arc<AtomicBool>,
}

impl Drop for Running {
    /// Every way a job leaves the connection (finished, abandoned, connection lost) drops its
    /// entry: from then on its progress updates fail with `JobGone`.
    fn drop(&mut self) {
        self.gone.store(true, Ordering::Relaxed);
    }
}

/// A job's handler future, run on its connection's task; it yields the job's outcome.
type JobFuture = Abortable<Pin<Box<dyn Future<Output = (JobHandle, Outcome)> + Send>>>;

pub(crate) struct Driver {
    addr: String,
    /// This driver's slot in `states`.
    slot: usize,
    states: Arc<ServerStates>,
    machine: WorkerMachine,
    config: Arc<RuntimeConfig>,
    shared: Arc<Shared>,
    functions: watch::Receiver<FunctionSet>,
    phase: watch::Receiver<Phase>,
    permits: Arc<Semaphore>,
    grab_permit: Option<OwnedSemaphorePermit>,
    /// The [`GrabGate`](super::GrabGate)'s pass, held with `grab_permit`.
    gate_pass: Option<GatePass>,
    running: HashMap<JobHandle, Running>,
    jobs: FuturesUnordered<JobFuture>,
    job_tx: mpsc::Sender<JobMsg>,
    job_rx: mpsc::Receiver<JobMsg>,
    epoch: u64,
    drained: bool,
    client_id: Option<ClientId>,
    _alive: super::AliveGuard,
}

fn now() -> std::time::Instant {
    Instant::now().into_std()
}

impl Session for Driver {
    /// Serves one connection; `run_session` logs why it ended (WARN) and marks the server down.
    async fn serve(&mut self, stream: gearman_io::Stream) -> Closed {
        self.serve_connection(stream).await
    }

    /// Waits out the delay, or until the worker starts stopping.
    async fn pause(&mut self, delay: std::time::Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = self.phase.changed() => {}
        }
        !self.stopping()
    }

    fn stopping(&self) -> bool {
        *self.phase.borrow() != Phase::Running
    }
}

impl Driver {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        addr: String,
        (states, slot): (Arc<ServerStates>, usize),
        client_id: Option<ClientId>,
        machine_config: MachineConfig,
        config: Arc<RuntimeConfig>,
        shared: Arc<Shared>,
        functions: watch::Receiver<FunctionSet>,
        phase: watch::Receiver<Phase>,
        permits: Arc<Semaphore>,
    ) -> Self {
        let mut machine = WorkerMachine::new(machine_config);
        machine.set_client_id(client_id.clone());
        let (job_tx, job_rx) = mpsc::channel(1024);
        Self {
            addr,
            slot,
            states,
            _alive: super::AliveGuard::new(shared.clone()),
            machine,
            config,
            shared,
            functions,
            phase,
            permits,
            grab_permit: None,
            gate_pass: None,
            running: HashMap::new(),
            jobs: FuturesUnordered::new(),
            job_tx,
            job_rx,
            epoch: 0,
            drained: false,
            client_id,
        }
    }

    /// Connects, serves, and reconnects until the worker shuts down.
    pub(crate) async fn run(mut self) {
        let (addr, options, states, slot) = (
            self.addr.clone(),
            self.config.clone(),
            self.states.clone(),
            self.slot,
        );
        gearman_io::run_session(&mut self, &addr, &options, &states, slot).await;
    }

    async fn serve_connection(&mut self, stream: gearman_io::Stream) -> Closed {
        self.epoch += 1;
        let (mut rd, mut wr) = stream.into_split();
        let mut reader = ResponseReader::new();
        let mut rbuf = BytesMut::with_capacity(16 * 1024);
        let mut wbuf = BytesMut::with_capacity(16 * 1024);
        self.machine
            .set_functions(self.functions.borrow_and_update().clone());
        self.machine.handle_connected(now());
        if *self.phase.borrow() != Phase::Running {
            self.machine.drain();
        }
        self.shared.connected.fetch_add(1, Ordering::Relaxed);
        info!(server = %self.addr, "connected");
        let closed = loop {
            if let Err(closed) = self.pump_events() {
                break closed;
            }
            self.settle_grab_permit();
            // Take a free permit at once, so that a finished job's WORK_COMPLETE and the next
            // GRAB leave in one write.
            if self.machine.wants_grab() && self.grab_permit.is_none() && self.shared.gate.is_none()
            {
                if let Ok(permit) = self.permits.clone().try_acquire_owned() {
                    self.grab_permit = Some(permit);
                    self.machine.grant_grab();
                }
            }
            let requests = std::iter::from_fn(|| self.machine.poll_transmit());
            if let Err(e) = gearman_io::write_requests(
                &mut wr,
                &mut wbuf,
                requests,
                self.config.connect.write_timeout,
            )
            .await
            {
                break Closed::Io(e);
            }
            if self.drained {
                break Closed::Finished;
            }
            let timer = self.machine.poll_timeout().map(Instant::from_std);
            let want_permit = self.machine.wants_grab() && self.grab_permit.is_none();
            tokio::select! {
                read = rd.read_buf(&mut rbuf) => match read {
                    Ok(0) => break Closed::ByServer,
                    Ok(_) => {
                        if let Err(closed) = self.on_bytes(&mut reader, &mut rbuf) {
                            break closed;
                        }
                    }
                    Err(e) => break Closed::Io(e),
                },
                Some(msg) = self.job_rx.recv() => self.on_job_msg(msg),
                Some(done) = self.jobs.next(), if !self.jobs.is_empty() => {
                    if let Ok((handle, outcome)) = done {
                        self.on_finished(handle, outcome);
                    }
                }
                Ok(()) = self.functions.changed() => {
                    let set = self.functions.borrow_and_update().clone();
                    self.machine.set_functions(set);
                }
                Ok(()) = self.phase.changed() => {
                    let phase = *self.phase.borrow_and_update();
                    match phase {
                        Phase::Running => {}
                        Phase::Draining => self.machine.drain(),
                        Phase::Stop => break Closed::Finished,
                    }
                }
                _ = sleep_until(timer), if timer.is_some() => self.machine.handle_timeout(now()),
                permit = acquire_grab(self.permits.clone(), self.shared.gate.clone()), if want_permit => {
                    if let Some((permit, pass)) = permit {
                        // The gate may have waited on a function change (a node going
                        // offline): apply it before grabbing.
                        if self.functions.has_changed().unwrap_or(false) {
                            let set = self.functions.borrow_and_update().clone();
                            self.machine.set_functions(set);
                        }
                        if self.machine.wants_grab() {
                            self.grab_permit = Some(permit);
                            self.gate_pass = pass;
                            self.machine.grant_grab();
                        }
                    }
                }
            }
        };
        self.shared.connected.fetch_sub(1, Ordering::Relaxed);
        self.machine.handle_disconnected(now());
        let _ = self.pump_events();
        // Abandoned handlers were aborted above; drop them now.
        self.jobs.clear();
        self.grab_permit = None;
        self.gate_pass = None;
        self.machine.revoke_grab();
        closed
    }

    /// A grab permit is held only while a GRAB is outstanding. Once its answer came (a job took
    /// the permit, or NO_JOB, or a refused job), it serves the next GRAB or goes back.
    fn settle_grab_permit(&mut self) {
        if self.grab_permit.is_none() || self.machine.state() == crate::GrabState::AwaitingJob {
            return;
        }
        // A gated connection asks its gate again for every GRAB.
        if self.machine.wants_grab() && self.shared.gate.is_none() {
            self.machine.grant_grab();
        } else {
            self.machine.revoke_grab();
            self.grab_permit = None;
            self.gate_pass = None;
        }
    }

    fn on_bytes(&mut self, reader: &mut ResponseReader, rbuf: &mut BytesMut) -> Result<(), Closed> {
        while let Some(response) = reader.next(rbuf)? {
            self.machine
                .handle_response(now(), response)
                .map_err(|e| Closed::Protocol(e.to_string()))?;
        }
        Ok(())
    }

    fn on_job_msg(&mut self, msg: JobMsg) {
        if msg.epoch != self.epoch {
            debug!("update from a job of an earlier connection dropped");
        } else if let Err(e) = self.machine.update(msg.update) {
            debug!(error = %e, "update for a job no longer held");
        }
    }

    fn on_finished(&mut self, handle: JobHandle, outcome: Outcome) {
        // A handler may have changed the function set just before it returned (a CI build
        // taking its node offline): apply that first, so the freed slot cannot grab for a
        // function that is going away.
        if self.functions.has_changed().unwrap_or(false) {
            let set = self.functions.borrow_and_update().clone();
            self.machine.set_functions(set);
        }
        // The handler awaited its updates into the channel before it returned: send them first.
        while let Ok(msg) = self.job_rx.try_recv() {
            self.on_job_msg(msg);
        }
        if self.running.remove(&handle).is_some() {
            self.shared.running.fetch_sub(1, Ordering::Relaxed);
        }
        if let Err(e) = self.machine.finish(&handle, outcome) {
            debug!(%handle, error = %e, "result of a job no longer held");
        }
    }

    fn pump_events(&mut self) -> Result<(), Closed> {
        while let Some(event) = self.machine.poll_event() {
            match event {
                Event::Job(assignment) => self.start_job(assignment),
                Event::JobAbandoned { handle, reason } => {
                    if let Some(job) = self.running.remove(&handle) {
                        job.abort.abort();
                        self.shared.running.fetch_sub(1, Ordering::Relaxed);
                    }
                    warn!(%handle, ?reason, "job abandoned; the server re-queues it");
                }
                Event::JobRefused { handle, function } => {
                    warn!(%handle, %function, "job for a function no longer offered: failed");
                }
                Event::ServerError(e) => warn!(
                    code = %String::from_utf8_lossy(&e.code),
                    text = %String::from_utf8_lossy(&e.text),
                    "server error"
                ),
                Event::GrabFallback {
                    from,
                    to,
                    error: Some(error),
                } => warn!(
                    server = %self.addr,
                    ?from,
                    ?to,
                    code = %String::from_utf8_lossy(&error.code),
                    "the server does not know this GRAB: using the older one on this connection"
                ),
                Event::GrabFallback {
                    from,
                    to,
                    error: None,
                } => {
                    warn!(
                        server = %self.addr,
                        ?from,
                        ?to,
                        "the server left this GRAB unanswered: reconnecting to use the older one"
                    );
                    return Err(Closed::OutOfStep);
                }
                Event::ConnectionDead => return Err(Closed::HeartbeatTimeout),
                Event::Drained => self.drained = true,
            }
        }
        Ok(())
    }

    fn start_job(&mut self, a: crate::Assignment) {
        let permit = self.grab_permit.take();
        let gate_pass = self.gate_pass.take();
        self.machine.revoke_grab();
        let handler = self
            .shared
            .handlers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&a.function);
        let Some(handler) = handler else {
            warn!(handle = %a.handle, function = %a.function, "no handler: failing the job");
            let _ = self.machine.finish(&a.handle, Outcome::Fail);
            return;
        };
        let span = tracing::info_span!("job", handle = %a.handle, function = %a.function);
        let gone = Arc::new(AtomicBool::new(false));
        let job = Job {
            handle: a.handle.clone(),
            function: a.function,
            unique: a.unique,
            reducer: a.reducer,
            data: a.data,
            connection: self.client_id.clone(),
            epoch: self.epoch,
            updates: self.job_tx.clone(),
            gone: gone.clone(),
            gate_pass,
        };
        let handle = a.handle.clone();
        let run = AssertUnwindSafe(handler.call(job)).catch_unwind();
        let fut: Pin<Box<dyn Future<Output = (JobHandle, Outcome)> + Send>> = Box::pin(
            async move {
                let outcome = match run.await {
                    Ok(Ok(data)) => Outcome::Complete(data),
                    Ok(Err(JobError::Fail)) => Outcome::Fail,
                    Ok(Err(JobError::Exception(data))) => Outcome::Exception(data),
                    Err(panic) => {
                        let text = panic
                            .downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| panic.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "handler panicked".into());
                        warn!(%handle, panic = %text, "handler panicked");
                        Outcome::Exception(Bytes::from(format!("panic: {text}")))
                    }
                };
                (handle, outcome)
            }
            .instrument(span),
        );
        // Aborting (the job was abandoned) drops the handler: nothing is sent for the job.
        let (abort, registration) = AbortHandle::new_pair();
        self.jobs.push(Abortable::new(fut, registration));
        self.shared.running.fetch_add(1, Ordering::Relaxed);
        self.running.insert(
            a.handle,
            Running {
                abort,
                _permit: permit,
                gone,
            },
        );
    }
}

/// A slot, then the gate's pass (when the worker has a gate); `None` if the semaphore closed.
async fn acquire_grab(
    permits: Arc<Semaphore>,
    gate: Option<Arc<dyn GrabGate>>,
) -> Option<(OwnedSemaphorePermit, Option<GatePass>)> {
    let permit = permits.acquire_owned().await.ok()?;
    let pass = match gate {
        Some(gate) => Some(gate.pass().await),
        None => None,
    };
    Some((permit, pass))
}
