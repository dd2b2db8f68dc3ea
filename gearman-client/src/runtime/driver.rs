//! One server connection's driver: owns the socket and the client machine, routes events to the
//! callers' streams, reconnects.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use gearman_io::{sleep_until, Closed, ConnectionOptions, ResponseReader, ServerStates, Session};
use gearman_proto::{ClientId, JobHandle, UniqueId};
use tokio::io::AsyncReadExt;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::warn;

use crate::event::{Event, RequestId};
use crate::machine::{ClientConfig, ClientMachine, NewJob};

/// Socket-level settings.
pub(crate) type DriverConfig = ConnectionOptions;

/// A request from the [`Client`](super::Client) handle.
#[derive(Debug)]
pub(crate) enum Command {
    Submit {
        job: NewJob,
        events: mpsc::Sender<Event>,
    },
    /// A submission whose caller wants only its ending (a `call`, or a background job's
    /// creation): one event, one wake-up.
    SubmitForEnd {
        job: NewJob,
        end: oneshot::Sender<Event>,
        /// Set at JOB_CREATED, for a caller that may give up at its deadline before the
        /// driver's verdict arrives (it then knows TimedOut from Ambiguous).
        acked: Option<Arc<AtomicBool>>,
    },
    Status {
        handle: JobHandle,
        reply: mpsc::Sender<Event>,
    },
    StatusUnique {
        unique: UniqueId,
        reply: mpsc::Sender<Event>,
    },
    Echo {
        data: Bytes,
        reply: mpsc::Sender<Event>,
    },
    /// Many jobs at once, their events (creation and ending, no progress) tagged with their
    /// place in the batch on one channel.
    Batch {
        jobs: Vec<(usize, NewJob)>,
        events: mpsc::UnboundedSender<(usize, Event)>,
    },
}

/// Where a request's events go.
enum Target {
    /// A stream of its own.
    Stream(mpsc::Sender<Event>),
    /// A batch's shared channel, under this index; progress is not reported.
    Batch(mpsc::UnboundedSender<(usize, Event)>, usize),
    /// Only the ending (a background job's creation, a foreground job's outcome, a failure),
    /// and a flag raised at creation.
    End(Option<oneshot::Sender<Event>>, Option<Arc<AtomicBool>>),
}

/// Where a request's events go, and whether its creation is its end (background jobs).
struct Sink {
    target: Target,
    ends_at_creation: bool,
}

impl Sink {
    fn stream(events: mpsc::Sender<Event>) -> Self {
        Self {
            target: Target::Stream(events),
            ends_at_creation: false,
        }
    }
}

pub(crate) struct Driver {
    addr: String,
    slot: usize,
    states: Arc<ServerStates>,
    machine: ClientMachine,
    config: DriverConfig,
    commands: mpsc::Receiver<Command>,
    up: Arc<AtomicBool>,
    sinks: HashMap<RequestId, Sink>,
}

fn now() -> std::time::Instant {
    Instant::now().into_std()
}

impl Driver {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        addr: String,
        slot: usize,
        states: Arc<ServerStates>,
        machine: ClientConfig,
        client_id: Option<ClientId>,
        config: DriverConfig,
        commands: mpsc::Receiver<Command>,
        up: Arc<AtomicBool>,
    ) -> Self {
        let mut machine = ClientMachine::new(machine);
        machine.set_client_id(client_id);
        Self {
            addr,
            slot,
            states,
            machine,
            config,
            commands,
            up,
            sinks: HashMap::new(),
        }
    }

    pub(crate) async fn run(mut self) {
        let (addr, options, states, slot) = (
            self.addr.clone(),
            self.config.clone(),
            self.states.clone(),
            self.slot,
        );
        gearman_io::run_session(&mut self, &addr, &options, &states, slot).await;
    }

    fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Submit { job, events } => {
                let ends_at_creation = !job.kind.is_foreground();
                let id = self.machine.submit(now(), job);
                self.sinks.insert(
                    id,
                    Sink {
                        target: Target::Stream(events),
                        ends_at_creation,
                    },
                );
            }
            Command::SubmitForEnd { job, end, acked } => {
                let ends_at_creation = !job.kind.is_foreground();
                let id = self.machine.submit(now(), job);
                self.sinks.insert(
                    id,
                    Sink {
                        target: Target::End(Some(end), acked),
                        ends_at_creation,
                    },
                );
            }
            Command::Status { handle, reply } => {
                let id = self.machine.get_status(now(), handle);
                self.sinks.insert(id, Sink::stream(reply));
            }
            Command::StatusUnique { unique, reply } => {
                let id = self.machine.get_status_unique(now(), unique);
                self.sinks.insert(id, Sink::stream(reply));
            }
            Command::Echo { data, reply } => {
                let id = self.machine.echo(now(), data);
                self.sinks.insert(id, Sink::stream(reply));
            }
            Command::Batch { jobs, events } => {
                let at = now();
                self.sinks.reserve(jobs.len());
                for (index, job) in jobs {
                    let ends_at_creation = !job.kind.is_foreground();
                    let id = self.machine.submit(at, job);
                    self.sinks.insert(
                        id,
                        Sink {
                            target: Target::Batch(events.clone(), index),
                            ends_at_creation,
                        },
                    );
                }
            }
        }
    }

    /// Delivers the machine's events to their streams.
    fn route_events(&mut self) -> Option<Closed> {
        let mut closed = None;
        while let Some(event) = self.machine.poll_event() {
            let (id, last) = match &event {
                Event::Created { id, .. } => (*id, false),
                Event::Progress { id, .. } => (*id, false),
                Event::Done { id, .. } | Event::Failed { id, .. } => (*id, true),
                Event::ExceptionsUnavailable => {
                    warn!(server = %self.addr, "the exceptions option is not available: exceptions arrive as failures");
                    continue;
                }
                Event::OutOfStep => {
                    closed = Some(Closed::OutOfStep);
                    continue;
                }
                Event::ConnectionDead => {
                    closed = Some(Closed::HeartbeatTimeout);
                    continue;
                }
                Event::Status { id, .. }
                | Event::UniqueStatus { id, .. }
                | Event::Echo { id, .. } => (*id, true),
            };
            let Some(sink) = self.sinks.get_mut(&id) else {
                continue;
            };
            let last = last || (sink.ends_at_creation && matches!(event, Event::Created { .. }));
            // Never wait on one reader (another job's stream may be what its caller waits
            // for): a stream dropped, or so far behind that its buffer is full, is cut off and
            // unsubscribed; its reader then sees `Failure::Abandoned`. A batch holds at most two
            // events per job (no progress), so its channel needs no bound.
            let delivered = match &mut sink.target {
                Target::Stream(tx) => tx.try_send(event).is_ok(),
                Target::Batch(_, _) if matches!(event, Event::Progress { .. }) => true,
                Target::Batch(tx, index) => tx.send((*index, event)).is_ok(),
                Target::End(end, acked) if !last => {
                    if let (Some(acked), Event::Created { .. }) = (acked, &event) {
                        acked.store(true, Ordering::Relaxed);
                    }
                    // A caller that gave up (dropped its future) stops the following here.
                    end.as_ref().is_some_and(|tx| !tx.is_closed())
                }
                Target::End(end, _) => end.take().is_some_and(|tx| tx.send(event).is_ok()),
            };
            if !delivered {
                self.machine.unsubscribe(id);
                self.sinks.remove(&id);
                continue;
            }
            if last {
                self.sinks.remove(&id);
            }
        }
        closed
    }

    async fn serve_connection(&mut self, stream: gearman_io::Stream) -> Closed {
        let (mut rd, mut wr) = stream.into_split();
        let mut reader = ResponseReader::new();
        let write_timeout = self.config.connect.write_timeout;
        let mut rbuf = BytesMut::with_capacity(64 * 1024);
        let mut wbuf = BytesMut::with_capacity(64 * 1024);
        tracing::info!(server = %self.addr, "connected");
        let closed = loop {
            if let Some(closed) = self.route_events() {
                break closed;
            }
            let requests = std::iter::from_fn(|| self.machine.poll_transmit());
            if let Err(e) =
                gearman_io::write_requests(&mut wr, &mut wbuf, requests, write_timeout).await
            {
                break Closed::Io(e);
            }
            let timer = self.machine.poll_timeout().map(Instant::from_std);
            tokio::select! {
                read = rd.read_buf(&mut rbuf) => match read {
                    Ok(0) => break Closed::ByServer,
                    Ok(_) => {
                        if let Err(e) = self.on_bytes(&mut reader, &mut rbuf) {
                            break e;
                        }
                    }
                    Err(e) => break Closed::Io(e),
                },
                cmd = self.commands.recv() => match cmd {
                    Some(cmd) => {
                        self.on_command(cmd);
                        // Take what else is queued, so a burst goes out in one write.
                        while let Ok(cmd) = self.commands.try_recv() {
                            self.on_command(cmd);
                        }
                    }
                    None => break Closed::Finished,
                },
                _ = sleep_until(timer), if timer.is_some() => self.machine.handle_timeout(now()),
            }
        };
        self.up.store(false, Ordering::Relaxed);
        self.machine.handle_disconnected(now());
        self.route_events();
        closed
    }

    fn on_bytes(&mut self, reader: &mut ResponseReader, rbuf: &mut BytesMut) -> Result<(), Closed> {
        while let Some(response) = reader.next(rbuf)? {
            self.machine
                .handle_response(now(), response)
                .map_err(|e| Closed::Protocol(e.to_string()))?;
        }
        Ok(())
    }
}

impl Session for Driver {
    fn connected(&mut self) {
        self.machine.handle_connected(now());
        self.up.store(true, Ordering::Relaxed);
    }

    async fn serve(&mut self, stream: gearman_io::Stream) -> Closed {
        self.serve_connection(stream).await
    }

    /// While down, requests that reach this driver are refused at once (NotSent), so the
    /// client can try another server.
    async fn pause(&mut self, delay: std::time::Duration) -> bool {
        let pause = tokio::time::sleep(delay);
        tokio::pin!(pause);
        loop {
            tokio::select! {
                _ = &mut pause => return true,
                cmd = self.commands.recv() => match cmd {
                    Some(cmd) => self.on_command(cmd),
                    None => return false,
                },
            }
            self.route_events();
        }
    }
}
