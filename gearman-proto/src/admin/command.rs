//! Admin commands: encoding for clients, parsing for servers.

use bytes::{BufMut, Bytes};

use crate::encode::Decimal;
use crate::{AdminError, FunctionName, JobHandle};

/// Queue limits of `maxqueue`: none (unlimited), one for all priorities, or high/normal/low.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaxQueueSizes {
    /// `maxqueue FUNC`: unlimited.
    Unlimited,
    /// `maxqueue FUNC N`: one size for every priority (0 or negative: unlimited).
    All(i32),
    /// `maxqueue FUNC H N L`.
    PerPriority {
        /// High priority.
        high: i32,
        /// Normal priority.
        normal: i32,
        /// Low priority.
        low: i32,
    },
}

/// Whether a reply is a single line (`OK ...`, `ERR ...`) or a list ended by `.`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyForm {
    /// One `OK` or `ERR` line.
    Line,
    /// Lines ended by a line holding `.`, or one `ERR` line.
    List,
}

/// An admin command.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdminCommand {
    /// `status`: per function queued+running, running, workers.
    Status,
    /// `prioritystatus`: per function queued high, normal, low, workers.
    PriorityStatus,
    /// `workers`: one line per connection.
    Workers,
    /// `show jobs`.
    ShowJobs,
    /// `show unique jobs`.
    ShowUniqueJobs,
    /// `version`.
    Version,
    /// `getpid`.
    GetPid,
    /// `verbose`.
    Verbose,
    /// `cancel job HANDLE`.
    CancelJob(JobHandle),
    /// `create function NAME`.
    CreateFunction(FunctionName),
    /// `drop function NAME`.
    DropFunction(FunctionName),
    /// `maxqueue FUNC [sizes]`.
    MaxQueue {
        /// The function.
        function: FunctionName,
        /// The limits.
        sizes: MaxQueueSizes,
    },
    /// `shutdown [graceful]` (removed from gearmand in 1.1.15; served by our server).
    Shutdown {
        /// Let running jobs finish first.
        graceful: bool,
    },
}

fn word(arg: &[u8]) -> Result<&[u8], AdminError> {
    if arg.is_empty()
        || arg
            .iter()
            .any(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
    {
        return Err(AdminError::BadArgument(
            String::from_utf8_lossy(arg).into_owned(),
        ));
    }
    Ok(arg)
}

fn put_i32(buf: &mut impl BufMut, n: i32) {
    if n < 0 {
        buf.put_u8(b'-');
    }
    buf.put_slice(Decimal::new(u64::from(n.unsigned_abs())).as_bytes());
}

impl AdminCommand {
    /// The form of the reply to expect.
    pub fn reply_form(&self) -> ReplyForm {
        match self {
            Self::Status
            | Self::PriorityStatus
            | Self::Workers
            | Self::ShowJobs
            | Self::ShowUniqueJobs => ReplyForm::List,
            _ => ReplyForm::Line,
        }
    }

    /// Appends the command line, ended by `\r\n` (a bare `\n` makes gearmand cut the last byte of
    /// `create function` names). Arguments holding whitespace cannot be sent and are refused.
    pub fn encode(&self, buf: &mut impl BufMut) -> Result<(), AdminError> {
        let arg: Option<&[u8]> = match self {
            Self::CancelJob(h) => Some(word(h.as_bytes())?),
            Self::CreateFunction(f) | Self::DropFunction(f) => Some(word(f.as_bytes())?),
            Self::MaxQueue { function, .. } => Some(word(function.as_bytes())?),
            _ => None,
        };
        let head: &[u8] = match self {
            Self::Status => b"status",
            Self::PriorityStatus => b"prioritystatus",
            Self::Workers => b"workers",
            Self::ShowJobs => b"show jobs",
            Self::ShowUniqueJobs => b"show unique jobs",
            Self::Version => b"version",
            Self::GetPid => b"getpid",
            Self::Verbose => b"verbose",
            Self::CancelJob(_) => b"cancel job ",
            Self::CreateFunction(_) => b"create function ",
            Self::DropFunction(_) => b"drop function ",
            Self::MaxQueue { .. } => b"maxqueue ",
            Self::Shutdown { graceful: false } => b"shutdown",
            Self::Shutdown { graceful: true } => b"shutdown graceful",
        };
        buf.put_slice(head);
        if let Some(arg) = arg {
            buf.put_slice(arg);
        }
        if let Self::MaxQueue { sizes, .. } = self {
            match *sizes {
                MaxQueueSizes::Unlimited => {}
                MaxQueueSizes::All(n) => {
                    buf.put_u8(b' ');
                    put_i32(buf, n);
                }
                MaxQueueSizes::PerPriority { high, normal, low } => {
                    for n in [high, normal, low] {
                        buf.put_u8(b' ');
                        put_i32(buf, n);
                    }
                }
            }
        }
        buf.put_slice(b"\r\n");
        Ok(())
    }

    /// Parses a command line (without its line ending) as gearmand does: words split on spaces,
    /// keywords case-insensitive, extra words ignored. `Ok(None)` for a line that is not a known
    /// command; `Err` for a known command with bad arguments.
    pub fn parse(line: &[u8]) -> Result<Option<Self>, AdminError> {
        let words: Vec<&[u8]> = line
            .split(|&b| b == b' ')
            .filter(|w| !w.is_empty())
            .collect();
        let lower = |i: usize| -> Vec<u8> {
            words
                .get(i)
                .map(|w| w.to_ascii_lowercase())
                .unwrap_or_default()
        };
        let arg = |i: usize| -> Result<Bytes, AdminError> {
            words
                .get(i)
                .map(|w| Bytes::copy_from_slice(w))
                .ok_or_else(|| malformed(line, "an argument"))
        };
        if line.first() == Some(&b' ') {
            return Ok(None);
        }
        let cmd = match (
            lower(0).as_slice(),
            lower(1).as_slice(),
            lower(2).as_slice(),
        ) {
            (b"status", ..) => Self::Status,
            (b"prioritystatus", ..) => Self::PriorityStatus,
            (b"workers", ..) => Self::Workers,
            (b"show", b"jobs", _) => Self::ShowJobs,
            (b"show", b"unique", b"jobs") => Self::ShowUniqueJobs,
            (b"version", ..) => Self::Version,
            (b"getpid", ..) => Self::GetPid,
            (b"verbose", ..) => Self::Verbose,
            (b"cancel", b"job", _) => Self::CancelJob(
                JobHandle::new(arg(2)?).map_err(|_| malformed(line, "a job handle"))?,
            ),
            (b"create", b"function", _) => Self::CreateFunction(function(line, arg(2)?)?),
            (b"drop", b"function", _) => Self::DropFunction(function(line, arg(2)?)?),
            (b"maxqueue", ..) => {
                let function = function(line, arg(1)?)?;
                let n = |i: usize| -> Result<i32, AdminError> {
                    std::str::from_utf8(words[i])
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .ok_or_else(|| malformed(line, "a queue size"))
                };
                let sizes = match words.len() {
                    0..=2 => MaxQueueSizes::Unlimited,
                    3 | 4 => MaxQueueSizes::All(n(2)?),
                    _ => MaxQueueSizes::PerPriority {
                        high: n(2)?,
                        normal: n(3)?,
                        low: n(4)?,
                    },
                };
                Self::MaxQueue { function, sizes }
            }
            (b"shutdown", b"graceful", _) => Self::Shutdown { graceful: true },
            (b"shutdown", ..) => Self::Shutdown { graceful: false },
            _ => return Ok(None),
        };
        Ok(Some(cmd))
    }
}

fn malformed(line: &[u8], expected: &'static str) -> AdminError {
    AdminError::Malformed {
        line: String::from_utf8_lossy(line).into_owned(),
        expected,
    }
}

fn function(line: &[u8], name: Bytes) -> Result<FunctionName, AdminError> {
    FunctionName::new(name).map_err(|_| malformed(line, "a function name"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(c: &AdminCommand) -> Vec<u8> {
        let mut v = Vec::new();
        c.encode(&mut v).unwrap();
        v
    }

    #[test]
    fn encodes_as_gearadmin() {
        assert_eq!(enc(&AdminCommand::ShowUniqueJobs), b"show unique jobs\r\n");
        let h = JobHandle::try_from("H:vm:1").unwrap();
        assert_eq!(enc(&AdminCommand::CancelJob(h)), b"cancel job H:vm:1\r\n");
        let f = FunctionName::try_from("f").unwrap();
        let per = MaxQueueSizes::PerPriority {
            high: 1,
            normal: -2,
            low: 0,
        };
        let mq = AdminCommand::MaxQueue {
            function: f.clone(),
            sizes: per,
        };
        assert_eq!(enc(&mq), b"maxqueue f 1 -2 0\r\n");
        let spaced = FunctionName::try_from("a b").unwrap();
        assert!(AdminCommand::DropFunction(spaced)
            .encode(&mut Vec::new())
            .is_err());
    }

    #[test]
    fn parses_what_it_encodes() {
        let f = FunctionName::try_from("build:py27").unwrap();
        let cmds = [
            AdminCommand::Status,
            AdminCommand::PriorityStatus,
            AdminCommand::Workers,
            AdminCommand::ShowJobs,
            AdminCommand::ShowUniqueJobs,
            AdminCommand::Version,
            AdminCommand::GetPid,
            AdminCommand::Verbose,
            AdminCommand::CancelJob(JobHandle::try_from("H:x:9").unwrap()),
            AdminCommand::CreateFunction(f.clone()),
            AdminCommand::DropFunction(f.clone()),
            AdminCommand::MaxQueue {
                function: f.clone(),
                sizes: MaxQueueSizes::Unlimited,
            },
            AdminCommand::MaxQueue {
                function: f.clone(),
                sizes: MaxQueueSizes::All(5),
            },
            AdminCommand::MaxQueue {
                function: f,
                sizes: MaxQueueSizes::PerPriority {
                    high: 1,
                    normal: 2,
                    low: -3,
                },
            },
            AdminCommand::Shutdown { graceful: false },
            AdminCommand::Shutdown { graceful: true },
        ];
        for c in cmds {
            let line = enc(&c);
            let parsed = AdminCommand::parse(&line[..line.len() - 2]).unwrap();
            assert_eq!(parsed, Some(c));
        }
    }

    #[test]
    fn parses_like_gearmand() {
        assert_eq!(
            AdminCommand::parse(b"VERSION").unwrap(),
            Some(AdminCommand::Version)
        );
        assert_eq!(
            AdminCommand::parse(b"status extra").unwrap(),
            Some(AdminCommand::Status)
        );
        assert_eq!(AdminCommand::parse(b" status").unwrap(), None);
        assert_eq!(AdminCommand::parse(b"").unwrap(), None);
        assert_eq!(AdminCommand::parse(b"show").unwrap(), None);
        assert_eq!(AdminCommand::parse(b"gladiator").unwrap(), None);
        assert!(AdminCommand::parse(b"cancel job").is_err());
        assert!(AdminCommand::parse(b"maxqueue f x").is_err());
    }
}
