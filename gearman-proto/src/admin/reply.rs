//! Reading admin replies out of a receive buffer, and writing them as gearmand does.

use bytes::{BufMut, Bytes, BytesMut};

use super::{AdminCommand, JobRow, PriorityStatusRow, ReplyForm, StatusRow, WorkerRow};
use crate::AdminError;

/// Default cap on one admin reply: 16 MiB.
pub const DEFAULT_MAX_REPLY: usize = 16 * 1024 * 1024;

/// An `ERR CODE text+with+plus` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrReply {
    /// The first word, e.g. `UNKNOWN_JOB` (for `ERR function not found` it is `function`).
    pub code: Bytes,
    /// The rest of the line as sent, `+` for spaces.
    pub text: Bytes,
}

impl ErrReply {
    /// The text with `+` turned back into spaces.
    pub fn message(&self) -> String {
        String::from_utf8_lossy(&self.text).replace('+', " ")
    }
}

/// A typed admin reply.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdminReply {
    /// Reply to `status`.
    Status(Vec<StatusRow>),
    /// Reply to `prioritystatus`.
    PriorityStatus(Vec<PriorityStatusRow>),
    /// Reply to `workers`.
    Workers(Vec<WorkerRow>),
    /// Reply to `show jobs`.
    Jobs(Vec<JobRow>),
    /// Reply to `show unique jobs`: one unique per line (empty for an empty unique).
    UniqueJobs(Vec<Bytes>),
    /// `OK` with the rest of the line: the version, the pid, the level, or empty.
    Ok(Bytes),
    /// `ERR ...`.
    Err(ErrReply),
}

impl AdminReply {
    /// Writes the reply in gearmand 1.1.20's format: lists with `\n` and a final `.\n`, a bare
    /// `OK` and every `ERR` with `\r\n`, `OK text` with `\n`.
    pub fn encode(&self, buf: &mut impl BufMut) {
        match self {
            Self::Status(rows) => rows.iter().for_each(|r| r.encode(buf)),
            Self::PriorityStatus(rows) => rows.iter().for_each(|r| r.encode(buf)),
            Self::Workers(rows) => rows.iter().for_each(|r| r.encode(buf)),
            Self::Jobs(rows) => rows.iter().for_each(|r| r.encode(buf)),
            Self::UniqueJobs(rows) => rows.iter().for_each(|r| {
                buf.put_slice(r);
                buf.put_u8(b'\n');
            }),
            Self::Ok(text) if text.is_empty() => return buf.put_slice(b"OK\r\n"),
            Self::Ok(text) => {
                buf.put_slice(b"OK ");
                buf.put_slice(text);
                return buf.put_u8(b'\n');
            }
            Self::Err(e) => {
                buf.put_slice(b"ERR ");
                buf.put_slice(&e.code);
                if !e.text.is_empty() {
                    buf.put_u8(b' ');
                    buf.put_slice(&e.text);
                }
                return buf.put_slice(b"\r\n");
            }
        }
        buf.put_slice(b".\n");
    }

    fn from_lines(cmd: &AdminCommand, lines: &[Bytes]) -> Result<Self, AdminError> {
        fn all<T>(
            lines: &[Bytes],
            f: fn(&Bytes) -> Result<T, AdminError>,
        ) -> Result<Vec<T>, AdminError> {
            lines.iter().map(f).collect()
        }
        Ok(match cmd {
            AdminCommand::Status => Self::Status(all(lines, StatusRow::parse)?),
            AdminCommand::PriorityStatus => {
                Self::PriorityStatus(all(lines, PriorityStatusRow::parse)?)
            }
            AdminCommand::Workers => Self::Workers(all(lines, WorkerRow::parse)?),
            AdminCommand::ShowJobs => Self::Jobs(all(lines, JobRow::parse)?),
            _ => Self::UniqueJobs(lines.to_vec()),
        })
    }

    fn from_line(line: Bytes) -> Result<Self, AdminError> {
        if line.starts_with(b"ERR ") {
            let rest = line.slice(4..);
            let (code, text) = match memchr::memchr(b' ', &rest) {
                Some(i) => (rest.slice(..i), rest.slice(i + 1..)),
                None => (rest, Bytes::new()),
            };
            if !code.is_empty() {
                return Ok(Self::Err(ErrReply { code, text }));
            }
        } else if &line[..] == b"OK" {
            return Ok(Self::Ok(Bytes::new()));
        } else if line.starts_with(b"OK ") {
            return Ok(Self::Ok(line.slice(3..)));
        }
        Err(AdminError::Malformed {
            line: String::from_utf8_lossy(&line).into_owned(),
            expected: "OK or ERR",
        })
    }
}

fn strip_cr(mut line: Bytes) -> Bytes {
    if line.last() == Some(&b'\r') {
        line.truncate(line.len() - 1);
    }
    line
}

/// Reads one admin reply from a receive buffer, across as many reads as it takes.
///
/// Keeps how far it has looked, so a long list arriving in pieces is scanned once. Use one reader
/// per connection and one reply at a time.
#[derive(Clone, Debug)]
pub struct ReplyReader {
    max: usize,
    scanned: usize,
}

impl Default for ReplyReader {
    fn default() -> Self {
        Self::new()
    }
}

impl ReplyReader {
    /// A reader with the default cap.
    pub fn new() -> Self {
        Self::with_max(DEFAULT_MAX_REPLY)
    }

    /// A reader whose replies may not exceed `max` bytes.
    pub fn with_max(max: usize) -> Self {
        Self { max, scanned: 0 }
    }

    /// Reads the reply to `cmd`: `Ok(None)` until it is complete. On success exactly the reply's
    /// bytes are consumed.
    pub fn read(
        &mut self,
        cmd: &AdminCommand,
        buf: &mut BytesMut,
    ) -> Result<Option<AdminReply>, AdminError> {
        let Some(first_end) = memchr::memchr(b'\n', buf) else {
            return self.incomplete(buf.len());
        };
        let first = &buf[..first_end];
        let is_err = first.starts_with(b"ERR ") && memchr::memchr(b'\t', first).is_none();
        if cmd.reply_form() == ReplyForm::Line || is_err {
            let line = strip_cr(buf.split_to(first_end + 1).freeze().slice(..first_end));
            self.scanned = 0;
            return AdminReply::from_line(line).map(Some);
        }
        // A list: find the line holding "." alone.
        let mut start = self.scanned;
        let end = loop {
            let Some(nl) = memchr::memchr(b'\n', &buf[start..]) else {
                self.scanned = start;
                return self.incomplete(buf.len());
            };
            let line = &buf[start..start + nl];
            if line == b"." || line == b".\r" {
                break start;
            }
            start += nl + 1;
        };
        let block = buf.split_to(end).freeze();
        let _terminator = buf.split_to(memchr::memchr(b'\n', buf).map_or(0, |i| i + 1));
        self.scanned = 0;
        let lines: Vec<Bytes> = match block.split_last() {
            None => Vec::new(),
            Some((_newline, body)) => body
                .split(|&b| b == b'\n')
                .map(|l| strip_cr(block.slice_ref(l)))
                .collect(),
        };
        AdminReply::from_lines(cmd, &lines).map(Some)
    }

    fn incomplete(&self, have: usize) -> Result<Option<AdminReply>, AdminError> {
        if have > self.max {
            return Err(AdminError::TooLong { max: self.max });
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::JobHandle;

    fn read_all(cmd: &AdminCommand, wire: &[u8]) -> AdminReply {
        let mut buf = BytesMut::from(wire);
        let reply = ReplyReader::new().read(cmd, &mut buf).unwrap().unwrap();
        assert!(buf.is_empty(), "left over: {buf:?}");
        reply
    }

    #[test]
    fn list_and_line_forms() {
        let AdminReply::UniqueJobs(u) = read_all(&AdminCommand::ShowUniqueJobs, b"\nu1\n.\n")
        else {
            panic!("wrong form")
        };
        assert_eq!(u, vec![Bytes::new(), Bytes::from_static(b"u1")]);
        assert_eq!(
            read_all(&AdminCommand::Status, b".\n"),
            AdminReply::Status(vec![])
        );
        assert_eq!(
            read_all(&AdminCommand::Version, b"OK 1.1.20+ds\n"),
            AdminReply::Ok(Bytes::from_static(b"1.1.20+ds"))
        );
        let cancel = AdminCommand::CancelJob(JobHandle::try_from("H:x:1").unwrap());
        let AdminReply::Err(e) = read_all(&cancel, b"ERR UNKNOWN_JOB\r\n") else {
            panic!("not an error")
        };
        assert_eq!((&e.code[..], &e.text[..]), (&b"UNKNOWN_JOB"[..], &b""[..]));
        let AdminReply::Err(e) = read_all(
            &AdminCommand::Workers,
            b"ERR UNKNOWN_COMMAND Unknown+server+command\r\n",
        ) else {
            panic!("not an error")
        };
        assert_eq!(e.message(), "Unknown server command");
    }

    #[test]
    fn incremental_list() {
        let wire = b"f2\t1\t0\t1\r\nf1\t1\t0\t1\r\n.\r\nOK 1\n";
        let mut reader = ReplyReader::new();
        let mut buf = BytesMut::new();
        let mut got = None;
        for &b in wire.iter() {
            buf.extend_from_slice(&[b]);
            if let Some(r) = reader.read(&AdminCommand::Status, &mut buf).unwrap() {
                got = Some(r);
                break;
            }
        }
        let Some(AdminReply::Status(rows)) = got else {
            panic!("no reply")
        };
        assert_eq!(rows.len(), 2);
        assert!(buf.is_empty());
    }

    #[test]
    fn cap_and_garbage() {
        let mut buf = BytesMut::from(&b"f\t1\t1\t1\n"[..]);
        let mut reader = ReplyReader::with_max(4);
        assert_eq!(
            reader.read(&AdminCommand::Status, &mut buf),
            Err(AdminError::TooLong { max: 4 })
        );
        let mut buf = BytesMut::from(&b"hello\n"[..]);
        assert!(ReplyReader::new()
            .read(&AdminCommand::Version, &mut buf)
            .is_err());
    }

    #[test]
    fn encodes_as_gearmand() {
        let mut out = Vec::new();
        AdminReply::Ok(Bytes::new()).encode(&mut out);
        AdminReply::Ok(Bytes::from_static(b"1.1.20+ds")).encode(&mut out);
        AdminReply::UniqueJobs(vec![Bytes::new()]).encode(&mut out);
        assert_eq!(out, b"OK\r\nOK 1.1.20+ds\n\n.\n");
    }
}
