//! The rows of list replies, each parsed from and written back to one line.

use bytes::{BufMut, Bytes};

use crate::encode::Decimal;
use crate::AdminError;

fn malformed(line: &[u8], expected: &'static str) -> AdminError {
    AdminError::Malformed {
        line: String::from_utf8_lossy(line).into_owned(),
        expected,
    }
}

fn number(line: &[u8], text: &[u8], expected: &'static str) -> Result<u32, AdminError> {
    std::str::from_utf8(text)
        .ok()
        .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| malformed(line, expected))
}

/// Splits off the last `N` tab-separated fields; the rest (which may hold tabs) comes first.
fn rsplit_tabs<const N: usize>(line: &Bytes) -> Option<(Bytes, [Bytes; N])> {
    let mut parts = line.rsplitn(N + 1, |&b| b == b'\t');
    let mut tail: [Bytes; N] = std::array::from_fn(|_| Bytes::new());
    for slot in tail.iter_mut().rev() {
        *slot = line.slice_ref(parts.next()?);
    }
    Some((line.slice_ref(parts.next()?), tail))
}

fn put_num(buf: &mut impl BufMut, n: u32) {
    buf.put_slice(Decimal::new(u64::from(n)).as_bytes());
}

/// A row of `status`: `FUNC\tTOTAL\tRUNNING\tWORKERS`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusRow {
    /// The function.
    pub function: Bytes,
    /// Queued plus running jobs.
    pub total: u32,
    /// Jobs held by workers.
    pub running: u32,
    /// Registered workers (duplicates counted).
    pub workers: u32,
}

impl StatusRow {
    /// Parses one line.
    pub fn parse(line: &Bytes) -> Result<Self, AdminError> {
        const WHAT: &str = "FUNC\\tTOTAL\\tRUNNING\\tWORKERS";
        let (function, [t, r, w]) = rsplit_tabs::<3>(line).ok_or_else(|| malformed(line, WHAT))?;
        Ok(Self {
            function,
            total: number(line, &t, WHAT)?,
            running: number(line, &r, WHAT)?,
            workers: number(line, &w, WHAT)?,
        })
    }

    /// Writes the line with its `\n`.
    pub fn encode(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.function);
        for n in [self.total, self.running, self.workers] {
            buf.put_u8(b'\t');
            put_num(buf, n);
        }
        buf.put_u8(b'\n');
    }
}

/// A row of `prioritystatus`: `FUNC\tHIGH\tNORMAL\tLOW\tWORKERS` (queued jobs per priority).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriorityStatusRow {
    /// The function.
    pub function: Bytes,
    /// Queued high-priority jobs.
    pub high: u32,
    /// Queued normal-priority jobs.
    pub normal: u32,
    /// Queued low-priority jobs.
    pub low: u32,
    /// Registered workers.
    pub workers: u32,
}

impl PriorityStatusRow {
    /// Parses one line.
    pub fn parse(line: &Bytes) -> Result<Self, AdminError> {
        const WHAT: &str = "FUNC\\tHIGH\\tNORMAL\\tLOW\\tWORKERS";
        let (function, [h, n, l, w]) =
            rsplit_tabs::<4>(line).ok_or_else(|| malformed(line, WHAT))?;
        Ok(Self {
            function,
            high: number(line, &h, WHAT)?,
            normal: number(line, &n, WHAT)?,
            low: number(line, &l, WHAT)?,
            workers: number(line, &w, WHAT)?,
        })
    }

    /// Writes the line with its `\n`.
    pub fn encode(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.function);
        for n in [self.high, self.normal, self.low, self.workers] {
            buf.put_u8(b'\t');
            put_num(buf, n);
        }
        buf.put_u8(b'\n');
    }
}

/// A row of `workers`: `FD IP ID : FUNC FUNC ...`, one per connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerRow {
    /// The server's descriptor (or connection number); gearmand shows `-1` for a connection
    /// it is closing.
    pub fd: i64,
    /// The peer address.
    pub ip: Bytes,
    /// The SET_CLIENT_ID value; `None` where the server printed `-`. May hold spaces.
    pub client_id: Option<Bytes>,
    /// Registered functions.
    pub functions: Vec<Bytes>,
}

impl WorkerRow {
    /// Parses one line. The id runs from after the address to the first ` :` that ends the line
    /// or is followed by a space, so ids with spaces survive.
    pub fn parse(line: &Bytes) -> Result<Self, AdminError> {
        const WHAT: &str = "FD IP ID : FUNCTIONS";
        let bad = || malformed(line, WHAT);
        let mut it = line.splitn(3, |&b| b == b' ');
        let (fd, ip, rest) = match (it.next(), it.next(), it.next()) {
            (Some(fd), Some(ip), Some(rest)) if !ip.is_empty() => (fd, ip, rest),
            _ => return Err(bad()),
        };
        let sep = (1..rest.len())
            .find(|&i| {
                rest[i - 1] == b' '
                    && rest[i] == b':'
                    && (i + 1 == rest.len() || rest[i + 1] == b' ')
            })
            .ok_or_else(bad)?;
        let id = &rest[..sep - 1];
        let functions = rest[sep + 1..]
            .split(|&b| b == b' ')
            .filter(|f| !f.is_empty())
            .map(|f| line.slice_ref(f))
            .collect();
        let fd = std::str::from_utf8(fd)
            .ok()
            .filter(|s| !s.starts_with('+'))
            .and_then(|s| s.parse().ok())
            .ok_or_else(bad)?;
        Ok(Self {
            fd,
            ip: line.slice_ref(ip),
            client_id: (id != b"-").then(|| line.slice_ref(id)),
            functions,
        })
    }

    /// Writes the line with its `\n`.
    pub fn encode(&self, buf: &mut impl BufMut) {
        buf.put_slice(self.fd.to_string().as_bytes());
        buf.put_u8(b' ');
        buf.put_slice(&self.ip);
        buf.put_u8(b' ');
        buf.put_slice(self.client_id.as_deref().unwrap_or(b"-"));
        buf.put_slice(b" :");
        for f in &self.functions {
            buf.put_u8(b' ');
            buf.put_slice(f);
        }
        buf.put_u8(b'\n');
    }
}

/// A row of `show jobs`: `HANDLE\tRETRIES\tIGNORE\tQUEUED`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobRow {
    /// The job handle.
    pub handle: Bytes,
    /// How often the job was re-queued.
    pub retries: u32,
    /// Cancelled or abandoned, to be discarded.
    pub ignore: bool,
    /// Recorded in the persistent queue (background jobs).
    pub queued: bool,
}

impl JobRow {
    /// Parses one line.
    pub fn parse(line: &Bytes) -> Result<Self, AdminError> {
        const WHAT: &str = "HANDLE\\tRETRIES\\tIGNORE\\tQUEUED";
        let (handle, [r, i, q]) = rsplit_tabs::<3>(line).ok_or_else(|| malformed(line, WHAT))?;
        let flag = |t: &Bytes| match &t[..] {
            b"0" => Ok(false),
            b"1" => Ok(true),
            _ => Err(malformed(line, WHAT)),
        };
        Ok(Self {
            handle,
            retries: number(line, &r, WHAT)?,
            ignore: flag(&i)?,
            queued: flag(&q)?,
        })
    }

    /// Writes the line with its `\n`.
    pub fn encode(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.handle);
        buf.put_u8(b'\t');
        put_num(buf, self.retries);
        for f in [self.ignore, self.queued] {
            buf.put_slice(if f { b"\t1" } else { b"\t0" });
        }
        buf.put_u8(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &'static [u8]) -> Bytes {
        Bytes::from_static(s)
    }

    #[test]
    fn worker_rows_from_gearmand() {
        let row = WorkerRow::parse(&b(b"37 127.0.0.1 my worker id : f2 f1")).unwrap();
        assert_eq!(row.fd, 37);
        assert_eq!(row.client_id.as_deref(), Some(&b"my worker id"[..]));
        assert_eq!(row.functions, vec![b(b"f2"), b(b"f1")]);
        let idle = WorkerRow::parse(&b(b"40 127.0.0.1 - :")).unwrap();
        assert_eq!((idle.client_id, idle.functions.len()), (None, 0));
        // gearmand lists a connection it is closing with descriptor -1.
        let closing = WorkerRow::parse(&b(b"-1 127.0.0.1 - :")).unwrap();
        assert_eq!(closing.fd, -1);
        let mut out = Vec::new();
        closing.encode(&mut out);
        assert_eq!(out, b"-1 127.0.0.1 - :\n");
        let mut out = Vec::new();
        row.encode(&mut out);
        assert_eq!(out, b"37 127.0.0.1 my worker id : f2 f1\n");
        assert!(WorkerRow::parse(&b(b"37 127.0.0.1 no separator")).is_err());
        assert!(WorkerRow::parse(&b(b"x 127.0.0.1 - :")).is_err());
    }

    #[test]
    fn status_rows_keep_tabs_in_names() {
        let row = StatusRow::parse(&b(b"a\tb\t2\t0\t1")).unwrap();
        assert_eq!((row.function, row.total, row.workers), (b(b"a\tb"), 2, 1));
        assert!(StatusRow::parse(&b(b"f\t1\t2")).is_err());
        assert!(StatusRow::parse(&b(b"f\t1\t2\t-3")).is_err());
        let p = PriorityStatusRow::parse(&b(b"f1\t0\t1\t0\t1")).unwrap();
        assert_eq!((p.high, p.normal, p.low, p.workers), (0, 1, 0, 1));
        let j = JobRow::parse(&b(b"H:vm:1\t0\t0\t1")).unwrap();
        assert!(j.queued && !j.ignore);
        assert!(JobRow::parse(&b(b"H:vm:1\t0\t2\t1")).is_err());
    }
}
