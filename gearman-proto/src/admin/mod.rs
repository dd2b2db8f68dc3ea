//! The admin text protocol (protocol.md §5): commands with CRLF, and every reply form of
//! gearmand 1.1.20, read tolerantly of `\n` and `\r\n`.
//!
//! ```
//! use bytes::BytesMut;
//! use gearman_proto::admin::{AdminCommand, AdminReply, ReplyReader};
//!
//! let mut out = BytesMut::new();
//! AdminCommand::Status.encode(&mut out).unwrap();
//! assert_eq!(&out[..], b"status\r\n");
//!
//! let mut input = BytesMut::from(&b"build:py27\t2\t1\t3\n.\n"[..]);
//! let reply = ReplyReader::new().read(&AdminCommand::Status, &mut input).unwrap().unwrap();
//! let AdminReply::Status(rows) = reply else { panic!("not a status reply") };
//! assert_eq!((rows[0].total, rows[0].running, rows[0].workers), (2, 1, 3));
//! ```

mod command;
mod reply;
mod rows;

pub use command::{AdminCommand, MaxQueueSizes, ReplyForm};
pub use reply::{AdminReply, ErrReply, ReplyReader, DEFAULT_MAX_REPLY};
pub use rows::{JobRow, PriorityStatusRow, StatusRow, WorkerRow};
