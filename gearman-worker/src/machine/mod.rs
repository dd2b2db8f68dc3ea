//! The sans-IO worker machine of one server connection.

mod grab;
mod jobs;
#[cfg(test)]
mod tests;

pub use grab::GrabState;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gearman_proto::{
    ClientId, ErrorPacket, GrabKind, JobHandle, PacketType, Request, Response, WorkUpdate,
};

use crate::event::{AbandonReason, Assignment, Event};
use crate::function_set::FunctionSet;
use crate::registration;
use crate::{ProtocolError, UsageError};
use jobs::{HeldJob, Jobs};

/// How a job ended, as its handler reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// WORK_COMPLETE with the result.
    Complete(Bytes),
    /// WORK_FAIL.
    Fail,
    /// WORK_EXCEPTION with data (clients without the `exceptions` option see a WORK_FAIL).
    Exception(Bytes),
}

/// Settings of one connection's machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MachineConfig {
    /// Jobs this connection may hold at once; it grabs only while one is free.
    pub slots: usize,
    /// Which GRAB variant to send first. A server that answers it with ERROR before ever
    /// answering it with a job or NO_JOB does not know it: the connection falls back to the next
    /// older one (GRAB_JOB_ALL, then GRAB_JOB_UNIQ, then GRAB_JOB) and keeps that for good
    /// (see [`Event::GrabFallback`]).
    pub grab: GrabKind,
    /// How long a GRAB_JOB_ALL or GRAB_JOB_UNIQ the server has never answered may go without
    /// an answer before the server counts as not knowing it (`None`: wait forever). Then the
    /// connection is replaced and the next older variant used (some servers ignore packets they
    /// do not know). Once a variant has been answered, it never times out like this again.
    pub grab_answer_timeout: Option<Duration>,
    /// While asleep, grab again after this long even without a NOOP: covers wake-ups that never
    /// come (epoch jobs on gearmand 1.1.20, NOOPs lost on a dead link).
    pub regrab_after: Duration,
    /// Send an ECHO after this long without hearing from the server (`None`: never).
    pub heartbeat_after: Option<Duration>,
    /// How long an ECHO may go unanswered before the connection counts as dead.
    pub heartbeat_timeout: Duration,
    /// Each GRAB needs a [`grant_grab`](WorkerMachine::grant_grab) first: lets a driver share
    /// a concurrency limit across connections (the node lock of the Jenkins plugin).
    pub gated: bool,
}

impl Default for MachineConfig {
    fn default() -> Self {
        Self {
            slots: 1,
            grab: GrabKind::Uniq,
            grab_answer_timeout: Some(Duration::from_secs(10)),
            regrab_after: Duration::from_secs(5),
            heartbeat_after: Some(Duration::from_secs(30)),
            heartbeat_timeout: Duration::from_secs(10),
            gated: false,
        }
    }
}

/// `now + d`, saturating about 30 years ahead instead of overflowing (a configured
/// `Duration::MAX` means "never", not a panic).
fn later(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(30 * 365 * 86_400))
}

const HEARTBEAT_PAYLOAD: &[u8] = b"gearman-worker heartbeat";

const WORKER_EXPECTS: &[PacketType] = &[
    PacketType::NOOP,
    PacketType::NO_JOB,
    PacketType::JOB_ASSIGN,
    PacketType::JOB_ASSIGN_UNIQ,
    PacketType::JOB_ASSIGN_ALL,
    PacketType::ECHO_RES,
    PacketType::ERROR,
];
/// ERROR codes gearmand answers other packets with (a late WORK_* result, a client id or
/// field too long, a full queue, an unknown option, bad magic), and an ACL's refusal of a
/// CAN_DO (geard, gearman-server): never taken for a refused GRAB.
const NOT_ABOUT_A_GRAB: &[&[u8]] = &[
    b"PERMISSION_DENIED",
    b"JOB_NOT_FOUND",
    b"ARGUMENT_TOO_LARGE",
    b"QUEUE_ERROR",
    b"UNKNOWN_OPTION",
    b"INVALID_MAGIC",
];
const NOT_AWAITING: &[PacketType] = &[PacketType::NOOP, PacketType::ECHO_RES, PacketType::ERROR];

/// The worker side of one connection, without IO and without a clock.
///
/// Method kinds, after quinn's `Connection`:
/// - getters: [`state`](Self::state), [`registered`](Self::registered),
///   [`held`](Self::held), [`is_connected`](Self::is_connected);
/// - inputs, each taking `now`: [`handle_connected`](Self::handle_connected),
///   [`handle_response`](Self::handle_response), [`handle_disconnected`](Self::handle_disconnected),
///   [`handle_timeout`](Self::handle_timeout);
/// - commands from the application: [`set_functions`](Self::set_functions),
///   [`set_client_id`](Self::set_client_id), [`update`](Self::update), [`finish`](Self::finish),
///   [`drain`](Self::drain);
/// - outputs: [`poll_transmit`](Self::poll_transmit), [`poll_event`](Self::poll_event),
///   [`poll_timeout`](Self::poll_timeout).
///
/// After every input or command, drain `poll_transmit` (send in order) and `poll_event`, then
/// arm a timer for `poll_timeout` and call `handle_timeout` when it fires.
///
/// ```text
///            connect: [SET_CLIENT_ID] RESET_ABILITIES CAN_DO...
///                                  |
///        +----- slot free ------> GRAB ----- JOB_ASSIGN* ----> run job -> WORK_* ... -+
///        |                         |                                                  |
///        |                       NO_JOB -> PRE_SLEEP -> asleep --NOOP or timer--> GRAB |
///        +---------------------------------------------------------------------------+
/// ```
#[derive(Debug)]
pub struct WorkerMachine {
    config: MachineConfig,
    client_id: Option<ClientId>,
    desired: FunctionSet,
    registered: FunctionSet,
    /// `registered == desired`: nothing for a replan to do. Kept so that the per-job paths
    /// cost nothing for a worker with thousands of functions.
    settled: bool,
    /// Some desired function is registered (there is something to GRAB for).
    offers: bool,
    connected: bool,
    draining: bool,
    grab: GrabState,
    jobs: Jobs,
    outbox: VecDeque<Request>,
    events: VecDeque<Event>,
    last_heard: Option<Instant>,
    echo_deadline: Option<Instant>,
    drained_told: bool,
    granted: bool,
    /// The GRAB variant this connection sends: `config.grab`, or an older one after a fallback.
    grab_kind: GrabKind,
    /// The server has answered `grab_kind` with a job or NO_JOB since the connection came up:
    /// it knows the packet, so an ERROR now answers something else.
    grab_known: bool,
    /// The server has answered `grab_kind` on some connection: it never times out.
    grab_proven: bool,
    /// An unproven GRAB went out: the next `handle_timeout` starts its answer deadline.
    grab_deadline_pending: bool,
    /// When an unproven GRAB outstanding counts as unanswered.
    grab_deadline: Option<Instant>,
}

impl WorkerMachine {
    /// A disconnected machine.
    pub fn new(mut config: MachineConfig) -> Self {
        config.slots = config.slots.max(1);
        let grab_kind = config.grab;
        Self {
            config,
            client_id: None,
            desired: FunctionSet::new(),
            registered: FunctionSet::new(),
            settled: true,
            offers: false,
            connected: false,
            draining: false,
            grab: GrabState::Idle,
            jobs: Jobs::default(),
            outbox: VecDeque::new(),
            events: VecDeque::new(),
            last_heard: None,
            echo_deadline: None,
            drained_told: false,
            granted: false,
            grab_kind,
            grab_known: false,
            grab_proven: false,
            grab_deadline_pending: false,
            grab_deadline: None,
        }
    }

    // ===== getters =====

    /// The grab/sleep state.
    pub fn state(&self) -> GrabState {
        self.grab
    }

    /// What the server has registered for this connection (after the queued packets go out).
    pub fn registered(&self) -> &FunctionSet {
        &self.registered
    }

    /// How many jobs this connection holds.
    pub fn held(&self) -> usize {
        self.jobs.len()
    }

    /// Whether a connection is up.
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// The GRAB variant this connection sends now: the configured one, or an older one the
    /// machine fell back to because the server did not know it.
    pub fn grab_kind(&self) -> GrabKind {
        self.grab_kind
    }

    /// Whether the machine would grab now if it held a grant (gated machines only).
    pub fn wants_grab(&self) -> bool {
        self.config.gated && !self.granted && self.could_grab()
    }

    // ===== inputs =====

    /// A new connection is up: name it, register the whole set from scratch, start grabbing.
    pub fn handle_connected(&mut self, now: Instant) {
        self.connected = true;
        self.grab = GrabState::Idle;
        self.grab_known = false;
        self.last_heard = Some(now);
        self.echo_deadline = None;
        self.outbox.clear();
        if let Some(id) = &self.client_id {
            self.outbox.push_back(Request::SetClientId(id.clone()));
        }
        let plan = registration::fresh(&self.desired);
        self.outbox.extend(plan.requests);
        self.registered = plan.registered;
        self.registration_changed();
        self.maybe_grab();
    }

    /// The connection is gone: every held job is abandoned (gearmand re-queues them).
    pub fn handle_disconnected(&mut self, _now: Instant) {
        self.connected = false;
        self.grab = GrabState::Idle;
        self.grab_deadline_pending = false;
        self.grab_deadline = None;
        self.outbox.clear();
        self.registered = FunctionSet::new();
        self.registration_changed();
        self.echo_deadline = None;
        for handle in self.jobs.drain() {
            self.events.push_back(Event::JobAbandoned {
                handle,
                reason: AbandonReason::Disconnected,
            });
        }
        self.check_drained();
    }

    /// A packet from the server.
    pub fn handle_response(
        &mut self,
        now: Instant,
        response: Response,
    ) -> Result<(), ProtocolError> {
        self.last_heard = Some(now);
        let got = response.packet_type();
        match response {
            Response::Noop => {
                // One NOOP per sleep; a NOOP in any other state is stray and harmless.
                if matches!(self.grab, GrabState::Sleeping { .. }) {
                    self.grab = GrabState::Idle;
                    self.maybe_grab();
                }
            }
            Response::NoJob => {
                self.expect_awaiting(got)?;
                self.grab_answered();
                self.grab = GrabState::Sleeping { since: now };
                self.outbox.push_back(Request::PreSleep);
            }
            Response::JobAssign(job) => {
                self.expect_awaiting(got)?;
                // A protocol error changes nothing: the driver closes the connection.
                if self.jobs.contains(&job.handle) {
                    return Err(ProtocolError::DuplicateHandle(job.handle));
                }
                self.grab_answered();
                self.grab = GrabState::Idle;
                if !self.desired.contains(&job.function) {
                    self.outbox.push_back(Request::Work(WorkUpdate::Fail {
                        handle: job.handle.clone(),
                    }));
                    self.events.push_back(Event::JobRefused {
                        handle: job.handle,
                        function: job.function,
                    });
                } else {
                    let deadline = self
                        .registered
                        .timeout(&job.function)
                        .map(|t| later(now, t.effective()));
                    self.jobs.insert(
                        job.handle.clone(),
                        HeldJob {
                            function: job.function.clone(),
                            deadline,
                        },
                    );
                    self.events.push_back(Event::Job(Assignment {
                        handle: job.handle,
                        function: job.function,
                        unique: job.unique,
                        reducer: job.reducer,
                        data: job.data,
                        deadline,
                    }));
                }
                self.maybe_grab();
            }
            Response::Echo(_) => self.echo_deadline = None,
            Response::Error(e) => {
                if !self.fall_back(&e) {
                    self.events.push_back(Event::ServerError(e));
                }
            }
            _ => {
                return Err(ProtocolError::Inappropriate {
                    expected: WORKER_EXPECTS,
                    got,
                })
            }
        }
        Ok(())
    }

    /// A timer armed from [`poll_timeout`](Self::poll_timeout) fired (early calls are harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        if !self.connected {
            return;
        }
        let expired = self.jobs.take_expired(now);
        if !expired.is_empty() {
            for handle in expired {
                self.events.push_back(Event::JobAbandoned {
                    handle,
                    reason: AbandonReason::TimedOut,
                });
            }
            self.replan();
            self.check_drained();
        }
        self.check_grab_answer(now);
        if let GrabState::Sleeping { since } = self.grab {
            if now >= later(since, self.config.regrab_after) {
                self.grab = GrabState::Idle;
            }
        }
        match self.echo_deadline {
            Some(deadline) if now >= deadline => {
                self.echo_deadline = None;
                self.events.push_back(Event::ConnectionDead);
            }
            Some(_) => {}
            None => {
                if let (Some(after), Some(heard)) = (self.config.heartbeat_after, self.last_heard) {
                    if now >= later(heard, after) {
                        self.outbox
                            .push_back(Request::Echo(Bytes::from_static(HEARTBEAT_PAYLOAD)));
                        self.echo_deadline = Some(later(now, self.config.heartbeat_timeout));
                    }
                }
            }
        }
        self.maybe_grab();
    }

    // ===== commands =====

    /// Sets the functions offered. Connected, the delta goes out at once; a function whose job
    /// is running is dropped only when the job ends.
    pub fn set_functions(&mut self, functions: FunctionSet) {
        self.desired = functions;
        self.registration_changed();
        // A connection asleep is not woken for jobs of functions registered after its
        // PRE_SLEEP: grab again.
        if self.replan() {
            if let GrabState::Sleeping { .. } = self.grab {
                self.grab = GrabState::Idle;
            }
        }
        self.maybe_grab();
    }

    /// Names the connection (SET_CLIENT_ID), now and after every reconnect.
    pub fn set_client_id(&mut self, id: Option<ClientId>) {
        self.client_id = id;
        if let (true, Some(id)) = (self.connected, &self.client_id) {
            self.outbox.push_back(Request::SetClientId(id.clone()));
        }
    }

    /// Sends WORK_DATA, WORK_WARNING or WORK_STATUS for a held job.
    pub fn update(&mut self, update: WorkUpdate) -> Result<(), UsageError> {
        let handle = update.handle();
        if update.is_terminal() {
            return Err(UsageError::BadUpdate(handle.clone()));
        }
        if !self.jobs.contains(handle) {
            return Err(UsageError::UnknownJob(handle.clone()));
        }
        self.outbox.push_back(Request::Work(update));
        Ok(())
    }

    /// Ends a held job with exactly one terminal packet and frees its slot.
    pub fn finish(&mut self, handle: &JobHandle, outcome: Outcome) -> Result<(), UsageError> {
        if self.jobs.remove(handle).is_none() {
            return Err(UsageError::UnknownJob(handle.clone()));
        }
        let handle = handle.clone();
        self.outbox.push_back(Request::Work(match outcome {
            Outcome::Complete(data) => WorkUpdate::Complete { handle, data },
            Outcome::Fail => WorkUpdate::Fail { handle },
            Outcome::Exception(data) => WorkUpdate::Exception { handle, data },
        }));
        self.replan();
        self.check_drained();
        self.maybe_grab();
        Ok(())
    }

    /// Allows one GRAB on a gated machine; it is used by the next GRAB sent.
    pub fn grant_grab(&mut self) {
        self.granted = true;
        self.maybe_grab();
    }

    /// Takes back an unused grant (the driver gives its permit to another connection).
    pub fn revoke_grab(&mut self) {
        self.granted = false;
    }

    /// Stops grabbing; [`Event::Drained`] follows once no job is held.
    pub fn drain(&mut self) {
        self.draining = true;
        self.check_drained();
    }

    // ===== outputs =====

    /// The next packet to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Request> {
        self.outbox.pop_front()
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.connected {
            return None;
        }
        let regrab = match self.grab {
            GrabState::Sleeping { since } => Some(later(since, self.config.regrab_after)),
            _ => None,
        };
        let heartbeat = match (
            self.echo_deadline,
            self.config.heartbeat_after,
            self.last_heard,
        ) {
            (Some(deadline), _, _) => Some(deadline),
            (None, Some(after), Some(heard)) => Some(later(heard, after)),
            _ => None,
        };
        // A pending answer deadline starts at the next handle_timeout: ask for one at once.
        let grab_answer = if self.grab_deadline_pending {
            self.last_heard
        } else {
            self.grab_deadline
        };
        [regrab, heartbeat, self.jobs.next_deadline(), grab_answer]
            .into_iter()
            .flatten()
            .min()
    }

    // ===== internals =====

    fn expect_awaiting(&self, got: PacketType) -> Result<(), ProtocolError> {
        if self.grab == GrabState::AwaitingJob {
            return Ok(());
        }
        Err(ProtocolError::Inappropriate {
            expected: NOT_AWAITING,
            got,
        })
    }

    /// Whether some wanted function is registered (and so worth grabbing for).
    fn offers_any(&self) -> bool {
        self.offers
    }

    /// Recomputes `settled` and `offers` after `registered` or `desired` changed.
    fn registration_changed(&mut self) {
        self.settled = self.registered == self.desired;
        self.offers = self
            .desired
            .iter()
            .any(|(f, _)| self.registered.contains(f));
    }

    /// Sends the registration delta; true if it registered something new. Nothing to do (the
    /// case after almost every job) costs nothing.
    fn replan(&mut self) -> bool {
        if !self.connected || self.settled {
            return false;
        }
        let plan = registration::plan(&self.registered, &self.desired, &self.jobs.functions());
        let added = plan
            .requests
            .iter()
            .any(|r| matches!(r, Request::CanDo(_) | Request::CanDoTimeout { .. }));
        self.outbox.extend(plan.requests);
        self.registered = plan.registered;
        self.registration_changed();
        added
    }

    /// An ERROR that answers a GRAB the server never answered otherwise means the server does
    /// not know that GRAB: send the next older one in its place (same slot, same grant, still
    /// one GRAB outstanding). The worker's other packets before its first job get no answer
    /// from a server (SET_CLIENT_ID, RESET_ABILITIES, CAN_DO, CANT_DO, PRE_SLEEP), and a WORK_*
    /// packet's JOB_NOT_FOUND is never taken for one, nor any other code with which gearmand
    /// answers other packets ([`NOT_ABOUT_A_GRAB`]). True if it fell back.
    fn fall_back(&mut self, error: &ErrorPacket) -> bool {
        if self.grab != GrabState::AwaitingJob
            || self.grab_known
            || NOT_ABOUT_A_GRAB.contains(&error.code.as_ref())
        {
            return false;
        }
        let Some(older) = self.older_grab() else {
            return false;
        };
        self.events.push_back(Event::GrabFallback {
            from: self.grab_kind,
            to: older,
            error: Some(error.clone()),
        });
        self.grab_kind = older;
        self.grab_proven = false;
        self.send_grab();
        true
    }

    /// The older GRAB variant, if there is one.
    fn older_grab(&self) -> Option<GrabKind> {
        match self.grab_kind {
            GrabKind::All => Some(GrabKind::Uniq),
            GrabKind::Uniq => Some(GrabKind::Plain),
            GrabKind::Plain => None,
        }
    }

    /// A job or NO_JOB answered the GRAB: the server knows this variant.
    fn grab_answered(&mut self) {
        self.grab_known = true;
        self.grab_proven = true;
        self.grab_deadline_pending = false;
        self.grab_deadline = None;
    }

    /// Sends the GRAB of `grab_kind`; one the server never answered gets an answer deadline.
    fn send_grab(&mut self) {
        self.outbox.push_back(Request::Grab(self.grab_kind));
        self.grab = GrabState::AwaitingJob;
        if !self.grab_proven
            && self.grab_kind != GrabKind::Plain
            && self.config.grab_answer_timeout.is_some()
        {
            self.grab_deadline_pending = true;
            self.grab_deadline = None;
        }
    }

    /// Starts the answer deadline of an unproven GRAB, or, past it, gives the variant up: the
    /// connection is replaced (the GRAB may still be answered on it) and the next one sends the
    /// older variant.
    fn check_grab_answer(&mut self, now: Instant) {
        let Some(timeout) = self.config.grab_answer_timeout else {
            return;
        };
        if self.grab != GrabState::AwaitingJob || self.grab_proven {
            self.grab_deadline_pending = false;
            self.grab_deadline = None;
            return;
        }
        if std::mem::take(&mut self.grab_deadline_pending) {
            self.grab_deadline = Some(now + timeout);
            return;
        }
        let (Some(deadline), Some(older)) = (self.grab_deadline, self.older_grab()) else {
            return;
        };
        if now < deadline {
            return;
        }
        self.grab_deadline = None;
        self.events.push_back(Event::GrabFallback {
            from: self.grab_kind,
            to: older,
            error: None,
        });
        self.grab_kind = older;
    }

    fn could_grab(&self) -> bool {
        self.connected
            && !self.draining
            && self.grab == GrabState::Idle
            && self.jobs.len() < self.config.slots
            && self.offers_any()
    }

    fn maybe_grab(&mut self) {
        if self.could_grab() && (self.granted || !self.config.gated) {
            self.send_grab();
            self.granted = false;
        }
    }

    fn check_drained(&mut self) {
        if self.draining && !self.drained_told && self.jobs.is_empty() {
            self.drained_told = true;
            self.events.push_back(Event::Drained);
        }
    }
}
