//! Responses: every packet the server sends to a client or worker.

use bytes::{BufMut, Bytes, BytesMut};

use super::{
    check_direction, flag, opt_bytes, opt_decimal, parse_flag, parse_opt_u32, parse_u32, span,
    text_field, Decimal, WorkUpdate,
};
use crate::{
    encode_fields, EncodeError, FunctionName, JobHandle, Magic, MessageError, OptionName, Packet,
    PacketType, UniqueId,
};

/// A job handed to a worker: JOB_ASSIGN, JOB_ASSIGN_UNIQ or JOB_ASSIGN_ALL.
///
/// The variant on the wire follows from the fields: no unique means JOB_ASSIGN, a unique without
/// a reducer JOB_ASSIGN_UNIQ, a reducer JOB_ASSIGN_ALL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobAssign {
    /// The job's handle.
    pub handle: JobHandle,
    /// The function to run.
    pub function: FunctionName,
    /// The unique id (JOB_ASSIGN_UNIQ and JOB_ASSIGN_ALL).
    pub unique: Option<UniqueId>,
    /// The reducer (JOB_ASSIGN_ALL).
    pub reducer: Option<FunctionName>,
    /// The workload.
    pub data: Bytes,
}

impl JobAssign {
    /// The packet type.
    pub fn packet_type(&self) -> PacketType {
        match (&self.unique, &self.reducer) {
            (_, Some(_)) => PacketType::JOB_ASSIGN_ALL,
            (Some(_), None) => PacketType::JOB_ASSIGN_UNIQ,
            (None, None) => PacketType::JOB_ASSIGN,
        }
    }
}

/// An ERROR packet: `CODE\0TEXT`. A reply, not a broken connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorPacket {
    /// The code, e.g. `JOB_NOT_FOUND` (libgearman's return code without `GEARMAN_`).
    pub code: Bytes,
    /// Human-readable text.
    pub text: Bytes,
}

/// STATUS_RES: `HANDLE\0KNOWN\0RUNNING\0NUM\0DEN`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobStatus {
    /// The handle asked about.
    pub handle: JobHandle,
    /// Whether the server has the job.
    pub known: bool,
    /// Whether a worker holds it.
    pub running: bool,
    /// Last WORK_STATUS numerator (`None` when the server sent an empty field, as python gear's does).
    pub numerator: Option<u32>,
    /// Last WORK_STATUS denominator (`None` when empty).
    pub denominator: Option<u32>,
}

/// STATUS_RES_UNIQUE: `UNIQ\0KNOWN\0RUNNING\0NUM\0DEN\0CLIENT_COUNT`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UniqueStatus {
    /// The unique id asked about.
    pub unique: UniqueId,
    /// Whether the server has the job.
    pub known: bool,
    /// Whether a worker holds it.
    pub running: bool,
    /// Last WORK_STATUS numerator (`None` when empty).
    pub numerator: Option<u32>,
    /// Last WORK_STATUS denominator (`None` when empty).
    pub denominator: Option<u32>,
    /// Foreground clients waiting on the job.
    pub waiting_clients: u32,
}

/// A packet from the server (`\0RES`), typed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Response {
    /// NOOP: wake up and grab.
    Noop,
    /// JOB_CREATED: the handle of a submission.
    JobCreated(JobHandle),
    /// NO_JOB: nothing to grab.
    NoJob,
    /// JOB_ASSIGN*: a job to run.
    JobAssign(JobAssign),
    /// WORK_*: forwarded progress or outcome.
    Work(WorkUpdate),
    /// ECHO_RES.
    Echo(Bytes),
    /// ERROR.
    Error(ErrorPacket),
    /// STATUS_RES.
    Status(JobStatus),
    /// STATUS_RES_UNIQUE.
    StatusUnique(UniqueStatus),
    /// OPTION_RES: the option that was set.
    Option(OptionName),
}

impl Response {
    /// The packet type this response is sent as.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Self::Noop => PacketType::NOOP,
            Self::JobCreated(_) => PacketType::JOB_CREATED,
            Self::NoJob => PacketType::NO_JOB,
            Self::JobAssign(a) => a.packet_type(),
            Self::Work(w) => w.packet_type(),
            Self::Echo(_) => PacketType::ECHO_RES,
            Self::Error(_) => PacketType::ERROR,
            Self::Status(_) => PacketType::STATUS_RES,
            Self::StatusUnique(_) => PacketType::STATUS_RES_UNIQUE,
            Self::Option(_) => PacketType::OPTION_RES,
        }
    }

    /// Reads a response from a framed packet, which must carry `\0RES`. `TryFrom<Packet>` does
    /// the same without cloning the packet.
    pub fn from_packet(packet: &Packet) -> Result<Self, MessageError> {
        Self::decode(packet.clone())
    }

    fn decode(packet: Packet) -> Result<Self, MessageError> {
        check_direction(&packet, Magic::Res)?;
        Ok(match packet.ty() {
            PacketType::NOOP => Self::Noop,
            PacketType::NO_JOB => Self::NoJob,
            PacketType::JOB_CREATED => Self::JobCreated(JobHandle::new(packet.into_body())?),
            // The job packets: every length checked first, then each field cut where it ends
            // up, so that no handle is copied right after it was written.
            PacketType::JOB_ASSIGN => {
                let (h, f, d) = (
                    packet.bounds(0, 3),
                    packet.bounds(1, 3),
                    packet.bounds(2, 3),
                );
                JobHandle::check_len(span(h))?;
                FunctionName::check_len(span(f))?;
                Self::JobAssign(JobAssign {
                    handle: JobHandle::from_checked(packet.cut(h)),
                    function: FunctionName::from_checked(packet.cut(f)),
                    unique: None,
                    reducer: None,
                    data: packet.into_tail(d.0),
                })
            }
            PacketType::JOB_ASSIGN_UNIQ => {
                let (h, f, u) = (
                    packet.bounds(0, 4),
                    packet.bounds(1, 4),
                    packet.bounds(2, 4),
                );
                JobHandle::check_len(span(h))?;
                FunctionName::check_len(span(f))?;
                UniqueId::check_len(span(u))?;
                let d = packet.bounds(3, 4);
                Self::JobAssign(JobAssign {
                    handle: JobHandle::from_checked(packet.cut(h)),
                    function: FunctionName::from_checked(packet.cut(f)),
                    unique: Some(UniqueId::from_checked(packet.cut(u))),
                    reducer: None,
                    data: packet.into_tail(d.0),
                })
            }
            PacketType::JOB_ASSIGN_ALL => {
                let (h, f, u) = (
                    packet.bounds(0, 5),
                    packet.bounds(1, 5),
                    packet.bounds(2, 5),
                );
                let (r, d) = (packet.bounds(3, 5), packet.bounds(4, 5));
                JobHandle::check_len(span(h))?;
                FunctionName::check_len(span(f))?;
                UniqueId::check_len(span(u))?;
                FunctionName::check_len(span(r))?;
                Self::JobAssign(JobAssign {
                    handle: JobHandle::from_checked(packet.cut(h)),
                    function: FunctionName::from_checked(packet.cut(f)),
                    unique: Some(UniqueId::from_checked(packet.cut(u))),
                    reducer: Some(FunctionName::from_checked(packet.cut(r))),
                    data: packet.into_tail(d.0),
                })
            }
            PacketType::ECHO_RES => Self::Echo(packet.into_body()),
            PacketType::ERROR => {
                let [code, text] = packet.into_split::<2>();
                Self::Error(ErrorPacket {
                    code,
                    text: text_field("error text", text)?,
                })
            }
            PacketType::STATUS_RES => {
                let [handle, known, running, num, den] = packet.into_split::<5>();
                Self::Status(JobStatus {
                    handle: JobHandle::from_inner(handle)?,
                    known: parse_flag("known", &known)?,
                    running: parse_flag("running", &running)?,
                    numerator: parse_opt_u32("numerator", &num)?,
                    denominator: parse_opt_u32("denominator", &den)?,
                })
            }
            PacketType::STATUS_RES_UNIQUE => {
                let [unique, known, running, num, den, clients] = packet.into_split::<6>();
                Self::StatusUnique(UniqueStatus {
                    unique: UniqueId::from_inner(unique)?,
                    known: parse_flag("known", &known)?,
                    running: parse_flag("running", &running)?,
                    numerator: parse_opt_u32("numerator", &num)?,
                    denominator: parse_opt_u32("denominator", &den)?,
                    waiting_clients: parse_u32("client count", &clients)?,
                })
            }
            PacketType::OPTION_RES => Self::Option(OptionName::new(packet.into_body())?),
            _ => Self::Work(WorkUpdate::decode(packet)?),
        })
    }

    /// Appends the encoded packet to `buf`.
    pub fn encode(&self, buf: &mut impl BufMut) -> Result<(), EncodeError> {
        let ty = self.packet_type();
        let put = |buf: &mut _, fields: &[&[u8]]| encode_fields(buf, Magic::Res, ty, fields);
        match self {
            Self::Noop | Self::NoJob => put(buf, &[]),
            Self::JobCreated(h) => put(buf, &[h.as_bytes()]),
            Self::JobAssign(a) => {
                let (h, f, d) = (a.handle.as_bytes(), a.function.as_bytes(), &a.data[..]);
                let unique = a.unique.as_ref().map_or(&[][..], UniqueId::as_bytes);
                match &a.reducer {
                    Some(r) => put(buf, &[h, f, unique, r.as_bytes(), d]),
                    None if a.unique.is_some() => put(buf, &[h, f, unique, d]),
                    None => put(buf, &[h, f, d]),
                }
            }
            Self::Work(w) => w.encode(buf, Magic::Res),
            Self::Echo(data) => put(buf, &[data]),
            Self::Error(e) => put(buf, &[&e.code, &e.text]),
            Self::Status(s) => {
                let (n, d) = (opt_decimal(s.numerator), opt_decimal(s.denominator));
                put(
                    buf,
                    &[
                        s.handle.as_bytes(),
                        flag(s.known),
                        flag(s.running),
                        opt_bytes(&n),
                        opt_bytes(&d),
                    ],
                )
            }
            Self::StatusUnique(s) => {
                let (n, d) = (opt_decimal(s.numerator), opt_decimal(s.denominator));
                let clients = Decimal::new(u64::from(s.waiting_clients));
                put(
                    buf,
                    &[
                        s.unique.as_bytes(),
                        flag(s.known),
                        flag(s.running),
                        opt_bytes(&n),
                        opt_bytes(&d),
                        clients.as_bytes(),
                    ],
                )
            }
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

impl TryFrom<Packet> for Response {
    type Error = MessageError;
    fn try_from(packet: Packet) -> Result<Self, MessageError> {
        Self::decode(packet)
    }
}

impl TryFrom<&Packet> for Response {
    type Error = MessageError;
    fn try_from(packet: &Packet) -> Result<Self, MessageError> {
        Self::from_packet(packet)
    }
}
