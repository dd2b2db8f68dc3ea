//! The one table of packet types (protocol.md §2), from which every number, name, direction and
//! field shape is derived.

use std::fmt;

/// Which magic a packet type may travel with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Only to the server (`\0REQ`).
    Req,
    /// Only from the server (`\0RES`).
    Res,
    /// Both: worker to server as a request, server to client as a response (the WORK_* family).
    Both,
    /// Never valid on the wire (TEXT, UNUSED).
    None,
}

impl Direction {
    /// Whether a packet of this direction may carry `magic`.
    pub fn allows(self, magic: crate::Magic) -> bool {
        matches!(
            (self, magic),
            (Self::Both, _) | (Self::Req, crate::Magic::Req) | (Self::Res, crate::Magic::Res)
        )
    }
}

/// The field shape of a packet type (protocol.md §1.2).
///
/// A payload of `arity` parts is split at its first `arity - 1` NUL bytes; the last part is the
/// remainder. For `data` shapes the remainder is opaque and may hold NULs; for plain shapes it is
/// one more text field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shape {
    /// Number of parts, the final remainder included. Zero means the payload must be empty.
    pub arity: u8,
    /// Whether the last part is opaque data (may hold NULs and be empty).
    pub data: bool,
}

/// A packet type number. Open: numbers outside the table are kept, so framing never fails on
/// them; the typed layer rejects them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PacketType(pub u32);

macro_rules! packet_types {
    ($( $(#[$doc:meta])* $name:ident = $num:literal, $dir:ident, $arity:literal, $data:literal; )*) => {
        impl PacketType {
            $( $(#[$doc])* pub const $name: Self = Self($num); )*

            /// Every packet type of the table, in number order.
            pub const ALL: &'static [Self] = &[$(Self::$name),*];

            /// The protocol's name for this type, or `None` for a number outside the table.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( $num => Some(stringify!($name)), )*
                    _ => None,
                }
            }

            /// The magic this type may carry, or `None` for a number outside the table.
            pub const fn direction(self) -> Option<Direction> {
                match self.0 {
                    $( $num => Some(Direction::$dir), )*
                    _ => None,
                }
            }

            /// The field shape, or `None` for a number outside the table.
            pub const fn shape(self) -> Option<Shape> {
                match self.0 {
                    $( $num => Some(Shape { arity: $arity, data: $data }), )*
                    _ => None,
                }
            }
        }
    };
}

packet_types! {
    /// Internal id of admin text lines; never valid in a binary header.
    TEXT = 0, None, 0, false;
    /// Worker registers a function: `FUNC`.
    CAN_DO = 1, Req, 1, false;
    /// Worker unregisters a function: `FUNC`.
    CANT_DO = 2, Req, 1, false;
    /// Worker unregisters everything.
    RESET_ABILITIES = 3, Req, 0, false;
    /// Worker goes to sleep until a NOOP.
    PRE_SLEEP = 4, Req, 0, false;
    /// Unused number.
    UNUSED = 5, None, 0, false;
    /// Wake-up for a sleeping worker.
    NOOP = 6, Res, 0, false;
    /// Foreground job at normal priority: `FUNC\0UNIQ\0DATA`.
    SUBMIT_JOB = 7, Req, 3, true;
    /// Reply to any submission: `HANDLE`.
    JOB_CREATED = 8, Res, 1, false;
    /// Worker asks for a job.
    GRAB_JOB = 9, Req, 0, false;
    /// No job for this worker.
    NO_JOB = 10, Res, 0, false;
    /// A job for the worker: `HANDLE\0FUNC\0DATA`.
    JOB_ASSIGN = 11, Res, 3, true;
    /// Progress: `HANDLE\0NUMERATOR\0DENOMINATOR`.
    WORK_STATUS = 12, Both, 3, false;
    /// Success, terminal: `HANDLE\0DATA`.
    WORK_COMPLETE = 13, Both, 2, true;
    /// Failure, terminal: `HANDLE`.
    WORK_FAIL = 14, Both, 1, false;
    /// Ask for a job's status: `HANDLE`.
    GET_STATUS = 15, Req, 1, false;
    /// Ask the server to echo: `DATA`.
    ECHO_REQ = 16, Req, 1, true;
    /// The echo: `DATA`.
    ECHO_RES = 17, Res, 1, true;
    /// Background job at normal priority: `FUNC\0UNIQ\0DATA`.
    SUBMIT_JOB_BG = 18, Req, 3, true;
    /// Server error: `CODE\0TEXT`.
    ERROR = 19, Res, 2, false;
    /// Status reply: `HANDLE\0KNOWN\0RUNNING\0NUM\0DEN`.
    STATUS_RES = 20, Res, 5, false;
    /// Foreground job at high priority: `FUNC\0UNIQ\0DATA`.
    SUBMIT_JOB_HIGH = 21, Req, 3, true;
    /// Name this connection: `ID`.
    SET_CLIENT_ID = 22, Req, 1, false;
    /// Register a function with a timeout: `FUNC\0TIMEOUT_MS`.
    CAN_DO_TIMEOUT = 23, Req, 2, false;
    /// Not implemented by gearmand.
    ALL_YOURS = 24, Req, 0, false;
    /// Exception, terminal: `HANDLE\0DATA`.
    WORK_EXCEPTION = 25, Both, 2, true;
    /// Ask for a connection option: `OPTION`.
    OPTION_REQ = 26, Req, 1, false;
    /// The option was set: `OPTION`.
    OPTION_RES = 27, Res, 1, false;
    /// Partial result: `HANDLE\0DATA`.
    WORK_DATA = 28, Both, 2, true;
    /// Warning: `HANDLE\0DATA`.
    WORK_WARNING = 29, Both, 2, true;
    /// Worker asks for a job with its unique id.
    GRAB_JOB_UNIQ = 30, Req, 0, false;
    /// A job with its unique id: `HANDLE\0FUNC\0UNIQ\0DATA`.
    JOB_ASSIGN_UNIQ = 31, Res, 4, true;
    /// Background job at high priority: `FUNC\0UNIQ\0DATA`.
    SUBMIT_JOB_HIGH_BG = 32, Req, 3, true;
    /// Foreground job at low priority: `FUNC\0UNIQ\0DATA`.
    SUBMIT_JOB_LOW = 33, Req, 3, true;
    /// Background job at low priority: `FUNC\0UNIQ\0DATA`.
    SUBMIT_JOB_LOW_BG = 34, Req, 3, true;
    /// Cron-like job (rejected by gearmand): `FUNC\0UNIQ\0MIN\0HOUR\0MDAY\0MONTH\0WDAY\0DATA`.
    SUBMIT_JOB_SCHED = 35, Req, 8, true;
    /// Background job runnable at a time: `FUNC\0UNIQ\0EPOCH\0DATA`.
    SUBMIT_JOB_EPOCH = 36, Req, 4, true;
    /// Foreground map/reduce job: `FUNC\0UNIQ\0REDUCER\0AGGREGATOR\0DATA`.
    SUBMIT_REDUCE_JOB = 37, Req, 5, true;
    /// Background map/reduce job: `FUNC\0UNIQ\0REDUCER\0AGGREGATOR\0DATA`.
    SUBMIT_REDUCE_JOB_BACKGROUND = 38, Req, 5, true;
    /// Worker asks for a job with unique id and reducer.
    GRAB_JOB_ALL = 39, Req, 0, false;
    /// A job with unique id and reducer: `HANDLE\0FUNC\0UNIQ\0REDUCER\0DATA`.
    JOB_ASSIGN_ALL = 40, Res, 5, true;
    /// Ask for a job's status by unique id: `UNIQ`.
    GET_STATUS_UNIQUE = 41, Req, 1, false;
    /// Status by unique: `UNIQ\0KNOWN\0RUNNING\0NUM\0DEN\0CLIENT_COUNT`.
    STATUS_RES_UNIQUE = 42, Res, 6, false;
}

impl fmt::Debug for PacketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "Unknown({})", self.0),
        }
    }
}

impl fmt::Display for PacketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_covers_every_number_once_in_order() {
        assert_eq!(PacketType::ALL.len(), 43);
        for (i, ty) in PacketType::ALL.iter().enumerate() {
            assert_eq!(ty.0 as usize, i, "{ty:?} out of order");
            assert!(ty.name().is_some());
        }
        assert_eq!(PacketType(43).name(), None);
        assert_eq!(format!("{:?}", PacketType(99)), "Unknown(99)");
    }

    #[test]
    fn shapes_match_protocol_table() {
        let reduce = PacketType::SUBMIT_REDUCE_JOB.shape();
        assert_eq!(
            reduce,
            Some(Shape {
                arity: 5,
                data: true
            })
        );
        let plain = PacketType::WORK_STATUS.shape();
        assert_eq!(
            plain,
            Some(Shape {
                arity: 3,
                data: false
            })
        );
        assert_eq!(PacketType::WORK_FAIL.shape().map(|s| s.arity), Some(1));
        assert_eq!(
            PacketType::STATUS_RES_UNIQUE.shape().map(|s| s.arity),
            Some(6)
        );
        assert_eq!(
            PacketType::SUBMIT_JOB_SCHED.shape().map(|s| s.arity),
            Some(8)
        );
    }

    #[test]
    fn directions() {
        use crate::Magic;
        assert!(Direction::Both.allows(Magic::Req) && Direction::Both.allows(Magic::Res));
        assert!(!Direction::Req.allows(Magic::Res));
        assert!(!Direction::None.allows(Magic::Req));
        assert_eq!(PacketType::WORK_DATA.direction(), Some(Direction::Both));
        assert_eq!(PacketType::NOOP.direction(), Some(Direction::Res));
    }
}
