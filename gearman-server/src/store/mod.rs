//! Durable background jobs: what the core asks a store to keep, the [`JobStore`] trait a store
//! implements, and (with the `sqlite` feature) [`SqliteStore`], the embedded default.
//!
//! Only background jobs are stored, as in gearmand: a foreground job's client waits on its
//! connection, which a restart ends anyway. A stored job's submission is acknowledged
//! (JOB_CREATED) only once the store says it is durable, and it leaves the store when it
//! completes, fails for good, or is cancelled or dropped. A job that was running when the
//! server died runs again after the restart (at least once, never lost).

#[cfg(feature = "sqlite")]
mod sqlite;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use gearman_proto::{FunctionName, Priority, UniqueId};

#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

/// A background job as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredJob {
    /// The store's key for the job, given by the core: unique among the jobs stored.
    pub id: u64,
    /// The function it was submitted to.
    pub function: FunctionName,
    /// Its unique ID (empty if the client gave none).
    pub unique: UniqueId,
    /// Its priority.
    pub priority: Priority,
    /// An epoch job: when it may run (unix milliseconds).
    pub run_at: Option<u64>,
    /// The job's data.
    pub data: Bytes,
}

/// One change to the store, in the order the core made them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreOp {
    /// A new background job: its submitter is answered once this is durable.
    Add(StoredJob),
    /// The job with this id ended (or was never stored): forget it.
    Remove(u64),
}

/// How hard a store works to keep what it acknowledged (like Redis's `appendfsync`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum StoreSync {
    /// Every commit is on disk (fsync) before its submissions are acknowledged: nothing
    /// acknowledged is lost, even to a power cut. The default.
    #[default]
    Always,
    /// Commits reach the operating system before they are acknowledged (they survive the
    /// server being killed), and reach the disk at least once per interval: an OS crash or a
    /// power cut may lose the jobs of the last interval.
    Interval(Duration),
}

impl std::str::FromStr for StoreSync {
    type Err = String;

    /// `always`, or an interval in milliseconds or seconds: `500ms`, `1s`.
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "always" {
            return Ok(Self::Always);
        }
        let parsed = if let Some(ms) = s.strip_suffix("ms") {
            ms.parse().map(Duration::from_millis)
        } else if let Some(secs) = s.strip_suffix('s') {
            secs.parse().map(Duration::from_secs)
        } else {
            return Err(format!(
                "{s:?}: expected `always` or an interval such as `1s` or `200ms`"
            ));
        };
        match parsed {
            Ok(d) if !d.is_zero() => Ok(Self::Interval(d)),
            _ => Err(format!(
                "{s:?}: the interval must be a positive whole number"
            )),
        }
    }
}

/// Why a store could not be opened, read or written.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// The file could not be opened or created.
    Open {
        /// The store's file.
        path: PathBuf,
        /// What the database library said.
        reason: String,
    },
    /// The file is not a store, or is damaged: the server refuses it rather than start
    /// without the jobs it holds.
    Corrupt {
        /// The store's file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// A write failed (a full or read-only disk, say): the submissions it carried are
    /// refused with `ERROR QUEUE_ERROR`.
    Write(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Open { path, reason } => {
                write!(f, "cannot open the job store {}: {reason}", path.display())
            }
            Self::Corrupt { path, reason } => write!(
                f,
                "the job store {} is damaged or not a job store ({reason}); refusing to start \
                 without its jobs: move it aside or repair it",
                path.display()
            ),
            Self::Write(reason) => write!(f, "the job store could not be written: {reason}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// Where background jobs are kept. The server calls it from a thread of its own, so it may
/// block; [`commit`](Self::commit) gets everything that arrived since the last one (group
/// commit), and should make all of it durable at once or none of it.
pub trait JobStore: Send + 'static {
    /// Every job stored, read once at start.
    fn load(&mut self) -> Result<Vec<StoredJob>, StoreError>;

    /// Makes `ops` durable, in order, all or nothing. On an error none of them took effect.
    fn commit(&mut self, ops: &[StoreOp]) -> Result<(), StoreError>;

    /// Called about once per [`sync_interval`](Self::sync_interval) when idle or busy: push
    /// what was committed to the disk. The default does nothing.
    fn sync(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    /// How often [`sync`](Self::sync) is wanted; `None` (the default): never.
    fn sync_interval(&self) -> Option<Duration> {
        None
    }
}
