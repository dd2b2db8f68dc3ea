//! The embedded default store: one SQLite file (the library is compiled in, nothing to set
//! up), in WAL mode, one transaction per group commit.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use gearman_proto::{FunctionName, Priority, UniqueId};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use super::{JobStore, StoreError, StoreOp, StoreSync, StoredJob};

/// The layout version this code writes (`PRAGMA user_version`).
const VERSION: i64 = 1;

/// gearmand's queue table (its `libsqlite3` queue), read once and emptied on open.
const GEARMAND_TABLE: &str = "gearman_queue";

/// Background jobs in a SQLite file.
///
/// [`open`](Self::open) creates the file if needed and refuses one that is damaged or is not a
/// store. A file of gearmand's `libsqlite3` queue (`gearmand -q libsqlite3
/// --libsqlite3-db FILE`, table `gearman_queue`) is taken over: its jobs move into this
/// store's table in the same transaction that empties gearmand's, so a gearmand user keeps
/// their queued jobs.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    sync: StoreSync,
    imported: usize,
}

fn priority_code(p: Priority) -> i64 {
    match p {
        Priority::High => 0,
        Priority::Normal => 1,
        Priority::Low => 2,
    }
}

fn priority_of(code: i64) -> Option<Priority> {
    match code {
        0 => Some(Priority::High),
        1 => Some(Priority::Normal),
        2 => Some(Priority::Low),
        _ => None,
    }
}

impl SqliteStore {
    /// Opens (or creates) the store at `path` and checks it: a file that is not a SQLite
    /// database, fails SQLite's integrity check, or was written by a newer version is
    /// refused with [`StoreError::Corrupt`].
    pub fn open(path: impl AsRef<Path>, sync: StoreSync) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let corrupt = |e: rusqlite::Error| classify(&path, e);
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| StoreError::Open {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        // The first read of the file: "file is not a database" shows here.
        let check: String = conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(corrupt)?;
        if check != "ok" {
            return Err(StoreError::Corrupt {
                path,
                reason: format!("integrity check: {check}"),
            });
        }
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(corrupt)?;
        if version > VERSION {
            return Err(StoreError::Corrupt {
                path,
                reason: format!(
                    "written by a newer version (layout {version}, this reads {VERSION})"
                ),
            });
        }
        let write = |e: rusqlite::Error| StoreError::Open {
            path: path.clone(),
            reason: e.to_string(),
        };
        // One server per store: two would both load, and run, the same jobs. The lock is
        // taken by the first write and held while the connection is open.
        conn.execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; COMMIT;")
            .map_err(|e| classify(&path, e))?;
        // WAL: a commit appends to one file; `synchronous` decides whether it waits for fsync.
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(write)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Open {
                path,
                reason: format!("the file system does not allow WAL journaling (got {mode})"),
            });
        }
        let synchronous = match sync {
            StoreSync::Always => "FULL",
            StoreSync::Interval(_) => "NORMAL",
        };
        conn.execute_batch(&format!("PRAGMA synchronous = {synchronous};"))
            .map_err(write)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS gearman_rs_jobs (
                 id INTEGER PRIMARY KEY,
                 function BLOB NOT NULL,
                 unique_key BLOB NOT NULL,
                 priority INTEGER NOT NULL,
                 run_at INTEGER,
                 data BLOB NOT NULL
             );
             PRAGMA user_version = 1;",
        )
        .map_err(write)?;
        let mut store = Self {
            conn,
            path,
            sync,
            imported: 0,
        };
        store.imported = store.import_gearmand()?;
        Ok(store)
    }

    /// The jobs taken over from gearmand's `gearman_queue` table when the store was opened.
    pub fn imported_from_gearmand(&self) -> usize {
        self.imported
    }

    /// The store's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn corrupt(&self, reason: impl ToString) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            reason: reason.to_string(),
        }
    }

    /// Moves gearmand's queued jobs into this store's table, all in one transaction.
    fn import_gearmand(&mut self) -> Result<usize, StoreError> {
        let exists = self
            .conn
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [GEARMAND_TABLE],
                |_| Ok(()),
            )
            .optional()
            .map_err(|e| self.corrupt(e))?
            .is_some();
        if !exists {
            return Ok(0);
        }
        let path = self.path.clone();
        let fail = |e: rusqlite::Error| StoreError::Corrupt {
            path: path.clone(),
            reason: format!("reading gearmand's {GEARMAND_TABLE} table: {e}"),
        };
        let tx = self.conn.transaction().map_err(fail)?;
        let rows = {
            let mut stmt = tx
                .prepare(&format!(
                    "SELECT unique_key, function_name, priority, data, when_to_run \
                     FROM {GEARMAND_TABLE}"
                ))
                .map_err(fail)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        blob_or_text(r, 0)?,
                        blob_or_text(r, 1)?,
                        r.get::<_, Option<i64>>(2)?,
                        blob_or_text(r, 3)?,
                        r.get::<_, Option<i64>>(4)?,
                    ))
                })
                .map_err(fail)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(fail)?
        };
        let count = rows.len();
        {
            let mut insert = tx
                .prepare(
                    "INSERT INTO gearman_rs_jobs (function, unique_key, priority, run_at, data) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(fail)?;
            for (unique, function, priority, data, when) in rows {
                let run_at = when.filter(|&t| t > 0).map(|t| t.saturating_mul(1000));
                insert
                    .execute(params![
                        function,
                        unique,
                        priority.unwrap_or(1),
                        run_at,
                        data
                    ])
                    .map_err(fail)?;
            }
        }
        tx.execute(&format!("DELETE FROM {GEARMAND_TABLE}"), [])
            .map_err(fail)?;
        tx.commit().map_err(fail)?;
        Ok(count)
    }
}

/// An error met opening a store: damage is [`StoreError::Corrupt`], anything else (a
/// missing directory, a read-only disk, a lock held by another server) is
/// [`StoreError::Open`].
fn classify(path: &Path, e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode;
    let path = path.to_path_buf();
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
            path,
            reason: e.to_string(),
        },
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Open {
            path,
            reason: "in use by another server (the store is locked)".into(),
        },
        _ => StoreError::Open {
            path,
            reason: e.to_string(),
        },
    }
}

/// A column gearmand declared TEXT or BLOB, as bytes either way.
fn blob_or_text(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Vec<u8>> {
    use rusqlite::types::ValueRef;
    Ok(match r.get_ref(i)? {
        ValueRef::Text(t) | ValueRef::Blob(t) => t.to_vec(),
        ValueRef::Null => Vec::new(),
        ValueRef::Integer(n) => n.to_string().into_bytes(),
        ValueRef::Real(x) => x.to_string().into_bytes(),
    })
}

impl JobStore for SqliteStore {
    fn load(&mut self) -> Result<Vec<StoredJob>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, function, unique_key, priority, run_at, data FROM gearman_rs_jobs ORDER BY id")
            .map_err(|e| self.corrupt(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                    r.get::<_, Vec<u8>>(5)?,
                ))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>());
        drop(stmt);
        let rows = rows.map_err(|e| self.corrupt(e))?;
        let mut jobs = Vec::with_capacity(rows.len());
        for (id, function, unique, priority, run_at, data) in rows {
            let bad = |what: &str| self.corrupt(format!("job {id}: {what}"));
            jobs.push(StoredJob {
                id: u64::try_from(id).map_err(|_| bad("negative id"))?,
                function: FunctionName::new(function)
                    .map_err(|e| bad(&format!("function name: {e}")))?,
                unique: UniqueId::new(unique).map_err(|e| bad(&format!("unique ID: {e}")))?,
                priority: priority_of(priority).ok_or_else(|| bad("priority"))?,
                run_at: run_at.and_then(|t| u64::try_from(t).ok()),
                data: Bytes::from(data),
            });
        }
        Ok(jobs)
    }

    fn commit(&mut self, ops: &[StoreOp]) -> Result<(), StoreError> {
        let write = |e: rusqlite::Error| StoreError::Write(e.to_string());
        let tx = self.conn.transaction().map_err(write)?;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO gearman_rs_jobs (id, function, unique_key, priority, run_at, data) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(write)?;
            let mut delete = tx
                .prepare_cached("DELETE FROM gearman_rs_jobs WHERE id = ?1")
                .map_err(write)?;
            for op in ops {
                match op {
                    StoreOp::Add(job) => {
                        let id = i64::try_from(job.id)
                            .map_err(|_| StoreError::Write("job id out of range".into()))?;
                        let run_at = job.run_at.and_then(|t| i64::try_from(t).ok());
                        insert
                            .execute(params![
                                id,
                                job.function.as_bytes(),
                                job.unique.as_bytes(),
                                priority_code(job.priority),
                                run_at,
                                &job.data[..]
                            ])
                            .map_err(write)?;
                    }
                    StoreOp::Remove(id) => {
                        if let Ok(id) = i64::try_from(*id) {
                            delete.execute([id]).map_err(write)?;
                        }
                    }
                }
            }
        }
        tx.commit().map_err(write)
    }

    fn sync(&mut self) -> Result<(), StoreError> {
        // In WAL mode with synchronous=NORMAL a checkpoint syncs the log, then the database.
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            .map_err(|e| StoreError::Write(e.to_string()))
    }

    fn sync_interval(&self) -> Option<Duration> {
        match self.sync {
            StoreSync::Always => None,
            StoreSync::Interval(d) => Some(d),
        }
    }
}
