//! WORK_* packets: the same six types travel from worker to server and from server to client.

use bytes::{BufMut, Bytes};

use super::{parse_i64, span, SignedDecimal};
use crate::{encode_fields, EncodeError, JobHandle, Magic, MessageError, Packet, PacketType};

/// Progress or outcome of a job, keyed by its handle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WorkUpdate {
    /// WORK_STATUS: `numerator / denominator` done. Signed, because the Jenkins gearman plugin
    /// sends `-1` for an unknown estimate and Zuul reads it; gearmand forwards the text as is.
    Status {
        /// Work done.
        handle: JobHandle,
        /// Work done.
        numerator: i64,
        /// Work in all (`-1`: unknown, by the Jenkins plugin's convention).
        denominator: i64,
    },
    /// WORK_DATA: a partial result.
    Data {
        /// The job.
        handle: JobHandle,
        /// The data.
        data: Bytes,
    },
    /// WORK_WARNING: a warning.
    Warning {
        /// The job.
        handle: JobHandle,
        /// The warning.
        data: Bytes,
    },
    /// WORK_COMPLETE: success, terminal.
    Complete {
        /// The job.
        handle: JobHandle,
        /// The result.
        data: Bytes,
    },
    /// WORK_FAIL: failure, terminal. On decode one trailing NUL after the handle is accepted:
    /// gearmand produces `handle\0` when it turns an exception into a failure.
    Fail {
        /// The job.
        handle: JobHandle,
    },
    /// WORK_EXCEPTION: failure with data, terminal.
    Exception {
        /// The job.
        handle: JobHandle,
        /// The exception.
        data: Bytes,
    },
}

impl WorkUpdate {
    /// The job this update is about.
    pub fn handle(&self) -> &JobHandle {
        match self {
            Self::Status { handle, .. }
            | Self::Data { handle, .. }
            | Self::Warning { handle, .. }
            | Self::Complete { handle, .. }
            | Self::Fail { handle }
            | Self::Exception { handle, .. } => handle,
        }
    }

    /// Whether this update ends the job.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Self::Complete { .. } | Self::Fail { .. } | Self::Exception { .. }
        )
    }

    /// The packet type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Self::Status { .. } => PacketType::WORK_STATUS,
            Self::Data { .. } => PacketType::WORK_DATA,
            Self::Warning { .. } => PacketType::WORK_WARNING,
            Self::Complete { .. } => PacketType::WORK_COMPLETE,
            Self::Fail { .. } => PacketType::WORK_FAIL,
            Self::Exception { .. } => PacketType::WORK_EXCEPTION,
        }
    }

    /// Reads a WORK_* packet (the caller has checked type and magic).
    pub(super) fn decode(packet: Packet) -> Result<Self, MessageError> {
        let ty = packet.ty();
        Ok(match ty {
            PacketType::WORK_STATUS => {
                let [handle, num, den] = packet.into_split::<3>();
                Self::Status {
                    handle: JobHandle::from_inner(handle)?,
                    numerator: parse_i64("numerator", &num)?,
                    denominator: parse_i64("denominator", &den)?,
                }
            }
            PacketType::WORK_FAIL => {
                let [mut handle] = packet.into_split::<1>();
                if handle.last() == Some(&0) {
                    handle.truncate(handle.len() - 1);
                }
                Self::Fail {
                    handle: JobHandle::new(handle)?,
                }
            }
            _ => {
                // The length checked first, then the handle cut where it ends up.
                let (h, d) = (packet.bounds(0, 2), packet.bounds(1, 2));
                JobHandle::check_len(span(h))?;
                let handle = JobHandle::from_checked(packet.cut(h));
                let data = packet.into_tail(d.0);
                match ty {
                    PacketType::WORK_DATA => Self::Data { handle, data },
                    PacketType::WORK_WARNING => Self::Warning { handle, data },
                    PacketType::WORK_COMPLETE => Self::Complete { handle, data },
                    PacketType::WORK_EXCEPTION => Self::Exception { handle, data },
                    other => return Err(MessageError::UnknownType(other)),
                }
            }
        })
    }

    /// Appends the packet with the given magic.
    pub(super) fn encode(&self, buf: &mut impl BufMut, magic: Magic) -> Result<(), EncodeError> {
        let ty = self.packet_type();
        match self {
            Self::Status {
                handle,
                numerator,
                denominator,
            } => {
                let (n, d) = (
                    SignedDecimal::new(*numerator),
                    SignedDecimal::new(*denominator),
                );
                encode_fields(
                    buf,
                    magic,
                    ty,
                    &[handle.as_bytes(), n.as_bytes(), d.as_bytes()],
                )
            }
            Self::Fail { handle } => encode_fields(buf, magic, ty, &[handle.as_bytes()]),
            Self::Data { handle, data }
            | Self::Warning { handle, data }
            | Self::Complete { handle, data }
            | Self::Exception { handle, data } => {
                encode_fields(buf, magic, ty, &[handle.as_bytes(), data])
            }
        }
    }
}
