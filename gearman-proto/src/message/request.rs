//! Requests: every packet a client or worker sends to the server.

use bytes::{BufMut, Bytes, BytesMut};

use super::{check_direction, parse_u32, parse_u64, span, Decimal, WorkUpdate};
use crate::{
    encode_fields, ClientId, EncodeError, FunctionName, JobHandle, Magic, MessageError, OptionName,
    Packet, PacketType, UniqueId,
};

/// Job priority: three queues per function.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Priority {
    /// Served first.
    High,
    /// The default.
    #[default]
    Normal,
    /// Served last.
    Low,
}

/// Which GRAB_JOB variant a worker sends, and so which JOB_ASSIGN variant comes back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum GrabKind {
    /// GRAB_JOB: JOB_ASSIGN without the unique id.
    Plain,
    /// GRAB_JOB_UNIQ: JOB_ASSIGN_UNIQ.
    #[default]
    Uniq,
    /// GRAB_JOB_ALL: JOB_ASSIGN_ALL for reduce jobs, JOB_ASSIGN_UNIQ otherwise.
    All,
}

impl GrabKind {
    /// The packet type.
    pub fn packet_type(self) -> PacketType {
        match self {
            Self::Plain => PacketType::GRAB_JOB,
            Self::Uniq => PacketType::GRAB_JOB_UNIQ,
            Self::All => PacketType::GRAB_JOB_ALL,
        }
    }
}

/// One of the six SUBMIT_JOB* types: `FUNC\0UNIQ\0DATA`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submit {
    /// The function to run.
    pub function: FunctionName,
    /// Coalescing key; empty never coalesces.
    pub unique: UniqueId,
    /// The workload.
    pub data: Bytes,
    /// Which queue.
    pub priority: Priority,
    /// Background: the submitter gets JOB_CREATED and nothing else.
    pub background: bool,
}

impl Submit {
    /// The packet type for this priority and mode.
    pub fn packet_type(&self) -> PacketType {
        match (self.priority, self.background) {
            (Priority::Normal, false) => PacketType::SUBMIT_JOB,
            (Priority::Normal, true) => PacketType::SUBMIT_JOB_BG,
            (Priority::High, false) => PacketType::SUBMIT_JOB_HIGH,
            (Priority::High, true) => PacketType::SUBMIT_JOB_HIGH_BG,
            (Priority::Low, false) => PacketType::SUBMIT_JOB_LOW,
            (Priority::Low, true) => PacketType::SUBMIT_JOB_LOW_BG,
        }
    }
}

/// SUBMIT_REDUCE_JOB(_BACKGROUND): four NUL-terminated fields, then data (protocol.md §2.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubmitReduce {
    /// The mapper function.
    pub function: FunctionName,
    /// Coalescing key.
    pub unique: UniqueId,
    /// The reducer function.
    pub reducer: FunctionName,
    /// Aggregator: libgearman sends it empty and gearmand ignores it.
    pub aggregator: Bytes,
    /// The workload.
    pub data: Bytes,
    /// Background mode.
    pub background: bool,
}

/// The cron-like fields of SUBMIT_JOB_SCHED, kept as text (gearmand rejects the packet).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Schedule {
    /// Minute field.
    pub minute: Bytes,
    /// Hour field.
    pub hour: Bytes,
    /// Day-of-month field.
    pub day_of_month: Bytes,
    /// Month field.
    pub month: Bytes,
    /// Day-of-week field.
    pub day_of_week: Bytes,
}

/// A packet to the server (`\0REQ`), typed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Request {
    /// CAN_DO: register a function.
    CanDo(FunctionName),
    /// CAN_DO_TIMEOUT: register a function with a server-side timeout in milliseconds.
    CanDoTimeout {
        /// The function.
        function: FunctionName,
        /// Milliseconds (gearmand >= 1.1.19; 0 means none, 1..999 are raised to 1000).
        timeout_ms: u32,
    },
    /// CANT_DO: unregister a function.
    CantDo(FunctionName),
    /// RESET_ABILITIES: unregister everything.
    ResetAbilities,
    /// PRE_SLEEP: sleep until a NOOP.
    PreSleep,
    /// GRAB_JOB, GRAB_JOB_UNIQ or GRAB_JOB_ALL.
    Grab(GrabKind),
    /// The SUBMIT_JOB family.
    Submit(Submit),
    /// SUBMIT_JOB_EPOCH: a background job runnable at or after `epoch` (unix seconds).
    SubmitEpoch {
        /// The function.
        function: FunctionName,
        /// Coalescing key.
        unique: UniqueId,
        /// When the job becomes runnable.
        epoch: u64,
        /// The workload.
        data: Bytes,
    },
    /// SUBMIT_JOB_SCHED (defined by the protocol, rejected by gearmand).
    SubmitSched {
        /// The function.
        function: FunctionName,
        /// Coalescing key.
        unique: UniqueId,
        /// The schedule.
        schedule: Schedule,
        /// The workload.
        data: Bytes,
    },
    /// SUBMIT_REDUCE_JOB or SUBMIT_REDUCE_JOB_BACKGROUND.
    SubmitReduce(SubmitReduce),
    /// WORK_*: a worker reports on a job.
    Work(WorkUpdate),
    /// GET_STATUS.
    GetStatus(JobHandle),
    /// GET_STATUS_UNIQUE.
    GetStatusUnique(UniqueId),
    /// ECHO_REQ.
    Echo(Bytes),
    /// SET_CLIENT_ID.
    SetClientId(ClientId),
    /// ALL_YOURS (not implemented by gearmand).
    AllYours,
    /// OPTION_REQ.
    Option(OptionName),
}

impl Request {
    /// The packet type this request is sent as.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Self::CanDo(_) => PacketType::CAN_DO,
            Self::CanDoTimeout { .. } => PacketType::CAN_DO_TIMEOUT,
            Self::CantDo(_) => PacketType::CANT_DO,
            Self::ResetAbilities => PacketType::RESET_ABILITIES,
            Self::PreSleep => PacketType::PRE_SLEEP,
            Self::Grab(kind) => kind.packet_type(),
            Self::Submit(s) => s.packet_type(),
            Self::SubmitEpoch { .. } => PacketType::SUBMIT_JOB_EPOCH,
            Self::SubmitSched { .. } => PacketType::SUBMIT_JOB_SCHED,
            Self::SubmitReduce(r) if r.background => PacketType::SUBMIT_REDUCE_JOB_BACKGROUND,
            Self::SubmitReduce(_) => PacketType::SUBMIT_REDUCE_JOB,
            Self::Work(w) => w.packet_type(),
            Self::GetStatus(_) => PacketType::GET_STATUS,
            Self::GetStatusUnique(_) => PacketType::GET_STATUS_UNIQUE,
            Self::Echo(_) => PacketType::ECHO_REQ,
            Self::SetClientId(_) => PacketType::SET_CLIENT_ID,
            Self::AllYours => PacketType::ALL_YOURS,
            Self::Option(_) => PacketType::OPTION_REQ,
        }
    }

    /// Reads a request from a framed packet, which must carry `\0REQ`. `TryFrom<Packet>` does
    /// the same without cloning the packet.
    pub fn from_packet(packet: &Packet) -> Result<Self, MessageError> {
        Self::decode(packet.clone())
    }

    fn decode(packet: Packet) -> Result<Self, MessageError> {
        check_direction(&packet, Magic::Req)?;
        let ty = packet.ty();
        let submit = |packet: Packet, priority, background| -> Result<Self, MessageError> {
            // The lengths checked first, then each field cut where it ends up.
            let (f, u, d) = (
                packet.bounds(0, 3),
                packet.bounds(1, 3),
                packet.bounds(2, 3),
            );
            FunctionName::check_len(span(f))?;
            UniqueId::check_len(span(u))?;
            Ok(Self::Submit(Submit {
                function: FunctionName::from_checked(packet.cut(f)),
                unique: UniqueId::from_checked(packet.cut(u)),
                data: packet.into_tail(d.0),
                priority,
                background,
            }))
        };
        let reduce = |packet: Packet, background| -> Result<Self, MessageError> {
            let [function, unique, reducer, aggregator, data] = packet.into_split::<5>();
            Ok(Self::SubmitReduce(SubmitReduce {
                function: FunctionName::from_inner(function)?,
                unique: UniqueId::from_inner(unique)?,
                reducer: FunctionName::from_inner(reducer)?,
                aggregator,
                data,
                background,
            }))
        };
        Ok(match ty {
            PacketType::CAN_DO => Self::CanDo(FunctionName::new(packet.into_body())?),
            PacketType::CANT_DO => Self::CantDo(FunctionName::new(packet.into_body())?),
            PacketType::CAN_DO_TIMEOUT => {
                let [function, timeout] = packet.into_split::<2>();
                Self::CanDoTimeout {
                    function: FunctionName::from_inner(function)?,
                    timeout_ms: parse_u32("timeout", &timeout)?,
                }
            }
            PacketType::RESET_ABILITIES => Self::ResetAbilities,
            PacketType::PRE_SLEEP => Self::PreSleep,
            PacketType::GRAB_JOB => Self::Grab(GrabKind::Plain),
            PacketType::GRAB_JOB_UNIQ => Self::Grab(GrabKind::Uniq),
            PacketType::GRAB_JOB_ALL => Self::Grab(GrabKind::All),
            PacketType::SUBMIT_JOB => submit(packet, Priority::Normal, false)?,
            PacketType::SUBMIT_JOB_BG => submit(packet, Priority::Normal, true)?,
            PacketType::SUBMIT_JOB_HIGH => submit(packet, Priority::High, false)?,
            PacketType::SUBMIT_JOB_HIGH_BG => submit(packet, Priority::High, true)?,
            PacketType::SUBMIT_JOB_LOW => submit(packet, Priority::Low, false)?,
            PacketType::SUBMIT_JOB_LOW_BG => submit(packet, Priority::Low, true)?,
            PacketType::SUBMIT_JOB_EPOCH => {
                let [function, unique, epoch, data] = packet.into_split::<4>();
                Self::SubmitEpoch {
                    function: FunctionName::from_inner(function)?,
                    unique: UniqueId::from_inner(unique)?,
                    epoch: parse_u64("epoch", &epoch)?,
                    data,
                }
            }
            PacketType::SUBMIT_JOB_SCHED => {
                let [function, unique, minute, hour, day_of_month, month, day_of_week, data] =
                    packet.into_split::<8>();
                Self::SubmitSched {
                    function: FunctionName::from_inner(function)?,
                    unique: UniqueId::from_inner(unique)?,
                    schedule: Schedule {
                        minute,
                        hour,
                        day_of_month,
                        month,
                        day_of_week,
                    },
                    data,
                }
            }
            PacketType::SUBMIT_REDUCE_JOB => reduce(packet, false)?,
            PacketType::SUBMIT_REDUCE_JOB_BACKGROUND => reduce(packet, true)?,
            PacketType::GET_STATUS => Self::GetStatus(JobHandle::new(packet.into_body())?),
            PacketType::GET_STATUS_UNIQUE => {
                Self::GetStatusUnique(UniqueId::new(packet.into_body())?)
            }
            PacketType::ECHO_REQ => Self::Echo(packet.into_body()),
            PacketType::SET_CLIENT_ID => Self::SetClientId(ClientId::new(packet.into_body())?),
            PacketType::ALL_YOURS => Self::AllYours,
            PacketType::OPTION_REQ => Self::Option(OptionName::new(packet.into_body())?),
            _ => Self::Work(WorkUpdate::decode(packet)?),
        })
    }

    /// Appends the encoded packet to `buf`.
    pub fn encode(&self, buf: &mut impl BufMut) -> Result<(), EncodeError> {
        let ty = self.packet_type();
        let put = |buf: &mut _, fields: &[&[u8]]| encode_fields(buf, Magic::Req, ty, fields);
        match self {
            Self::CanDo(f) | Self::CantDo(f) => put(buf, &[f.as_bytes()]),
            Self::CanDoTimeout {
                function,
                timeout_ms,
            } => put(
                buf,
                &[
                    function.as_bytes(),
                    Decimal::new(u64::from(*timeout_ms)).as_bytes(),
                ],
            ),
            Self::ResetAbilities | Self::PreSleep | Self::Grab(_) | Self::AllYours => put(buf, &[]),
            Self::Submit(s) => put(buf, &[s.function.as_bytes(), s.unique.as_bytes(), &s.data]),
            Self::SubmitEpoch {
                function,
                unique,
                epoch,
                data,
            } => put(
                buf,
                &[
                    function.as_bytes(),
                    unique.as_bytes(),
                    Decimal::new(*epoch).as_bytes(),
                    data,
                ],
            ),
            Self::SubmitSched {
                function,
                unique,
                schedule: s,
                data,
            } => put(
                buf,
                &[
                    function.as_bytes(),
                    unique.as_bytes(),
                    &s.minute,
                    &s.hour,
                    &s.day_of_month,
                    &s.month,
                    &s.day_of_week,
                    data,
                ],
            ),
            Self::SubmitReduce(r) => put(
                buf,
                &[
                    r.function.as_bytes(),
                    r.unique.as_bytes(),
                    r.reducer.as_bytes(),
                    &r.aggregator,
                    &r.data,
                ],
            ),
            Self::Work(w) => w.encode(buf, Magic::Req),
            Self::GetStatus(h) => put(buf, &[h.as_bytes()]),
            Self::GetStatusUnique(u) => put(buf, &[u.as_bytes()]),
            Self::Echo(data) => put(buf, &[data]),
            Self::SetClientId(id) => put(buf, &[id.as_bytes()]),
            Self::Option(o) => put(buf, &[o.as_bytes()]),
        }
    }

    /// Encodes into a fresh buffer.
    pub fn to_bytes(&self) -> Result<Bytes, EncodeError> {
        let mut buf = BytesMut::new();
        self.encode(&mut buf)?;
        Ok(buf.freeze())
    }
}

impl TryFrom<Packet> for Request {
    type Error = MessageError;
    fn try_from(packet: Packet) -> Result<Self, MessageError> {
        Self::decode(packet)
    }
}

impl TryFrom<&Packet> for Request {
    type Error = MessageError;
    fn try_from(packet: &Packet) -> Result<Self, MessageError> {
        Self::from_packet(packet)
    }
}
