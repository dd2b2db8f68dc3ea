//! The admin text protocol over its own connection, with a deadline on every command.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use gearman_io::ConnectOptions;
use gearman_proto::admin::{
    AdminCommand, AdminReply, ErrReply, JobRow, PriorityStatusRow, ReplyReader, StatusRow,
    WorkerRow,
};
use gearman_proto::{AdminError, FunctionName, JobHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Why an admin command failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminClientError {
    /// The server could not be reached (refused, timed out, ...): nothing was sent.
    #[error(transparent)]
    Connect(#[from] gearman_io::ConnectError),
    /// Writing or reading failed.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// The whole command took longer than the deadline.
    #[error("no complete answer within {0:?}")]
    TimedOut(Duration),
    /// The server closed the connection before answering (gearmand does so for lines of more
    /// than five words).
    #[error("the server closed the connection")]
    Closed,
    /// The answer was not in the form the command has.
    #[error(transparent)]
    Malformed(#[from] AdminError),
    /// The server answered `ERR ...`.
    #[error("ERR {} {}", String::from_utf8_lossy(&.0.code), .0.message())]
    Refused(ErrReply),
    /// The server answered, but not with the kind of reply the command has.
    #[error("unexpected reply {0:?}")]
    Unexpected(Box<AdminReply>),
}

/// An admin client for one server: each command on a fresh connection (as `gearadmin` does),
/// bounded by a deadline from connect to the last byte.
#[derive(Clone, Debug)]
pub struct AdminClient {
    addr: String,
    timeout: Duration,
    #[cfg(feature = "tls")]
    tls: Option<gearman_io::TlsOptions>,
}

impl AdminClient {
    /// An admin client for `host:port`; every command may take `timeout` in all.
    pub fn new(addr: impl Into<String>, timeout: Duration) -> Self {
        Self {
            addr: addr.into(),
            timeout,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// Connects over TLS with these settings.
    #[cfg(feature = "tls")]
    pub fn with_tls(mut self, tls: gearman_io::TlsOptions) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Sends one command and reads its reply; `ERR` replies come back as
    /// [`AdminReply::Err`].
    pub async fn command(&self, cmd: &AdminCommand) -> Result<AdminReply, AdminClientError> {
        tokio::time::timeout(self.timeout, self.exchange(cmd))
            .await
            .map_err(|_| AdminClientError::TimedOut(self.timeout))?
    }

    async fn exchange(&self, cmd: &AdminCommand) -> Result<AdminReply, AdminClientError> {
        let options = ConnectOptions {
            timeout: self.timeout,
            keepalive: None,
            #[cfg(feature = "tls")]
            tls: self.tls.clone(),
            ..ConnectOptions::default()
        };
        let mut stream = gearman_io::connect(&self.addr, &options)
            .await
            .map_err(|e| gearman_io::ConnectError::from_io(&self.addr, &e))?;
        let mut line = Vec::new();
        cmd.encode(&mut line)?;
        stream.write_all(&line).await?;
        let mut reader = ReplyReader::new();
        let mut buf = BytesMut::with_capacity(4096);
        loop {
            if let Some(reply) = reader.read(cmd, &mut buf)? {
                return Ok(reply);
            }
            if stream.read_buf(&mut buf).await? == 0 {
                return Err(AdminClientError::Closed);
            }
        }
    }

    async fn expect<T>(
        &self,
        cmd: AdminCommand,
        pick: impl FnOnce(AdminReply) -> Result<T, AdminReply>,
    ) -> Result<T, AdminClientError> {
        match self.command(&cmd).await? {
            AdminReply::Err(e) => Err(AdminClientError::Refused(e)),
            reply => pick(reply).map_err(|r| AdminClientError::Unexpected(Box::new(r))),
        }
    }

    /// `status`.
    pub async fn status(&self) -> Result<Vec<StatusRow>, AdminClientError> {
        self.expect(AdminCommand::Status, |r| match r {
            AdminReply::Status(rows) => Ok(rows),
            other => Err(other),
        })
        .await
    }

    /// `prioritystatus`.
    pub async fn priority_status(&self) -> Result<Vec<PriorityStatusRow>, AdminClientError> {
        self.expect(AdminCommand::PriorityStatus, |r| match r {
            AdminReply::PriorityStatus(rows) => Ok(rows),
            other => Err(other),
        })
        .await
    }

    /// `workers`.
    pub async fn workers(&self) -> Result<Vec<WorkerRow>, AdminClientError> {
        self.expect(AdminCommand::Workers, |r| match r {
            AdminReply::Workers(rows) => Ok(rows),
            other => Err(other),
        })
        .await
    }

    /// `show jobs`.
    pub async fn jobs(&self) -> Result<Vec<JobRow>, AdminClientError> {
        self.expect(AdminCommand::ShowJobs, |r| match r {
            AdminReply::Jobs(rows) => Ok(rows),
            other => Err(other),
        })
        .await
    }

    /// `show unique jobs`.
    pub async fn unique_jobs(&self) -> Result<Vec<Bytes>, AdminClientError> {
        self.expect(AdminCommand::ShowUniqueJobs, |r| match r {
            AdminReply::UniqueJobs(rows) => Ok(rows),
            other => Err(other),
        })
        .await
    }

    async fn ok(&self, cmd: AdminCommand) -> Result<Bytes, AdminClientError> {
        self.expect(cmd, |r| match r {
            AdminReply::Ok(text) => Ok(text),
            other => Err(other),
        })
        .await
    }

    /// `version`.
    pub async fn version(&self) -> Result<String, AdminClientError> {
        Ok(String::from_utf8_lossy(&self.ok(AdminCommand::Version).await?).into_owned())
    }

    /// `getpid`.
    pub async fn pid(&self) -> Result<String, AdminClientError> {
        Ok(String::from_utf8_lossy(&self.ok(AdminCommand::GetPid).await?).into_owned())
    }

    /// `verbose`.
    pub async fn verbose(&self) -> Result<String, AdminClientError> {
        Ok(String::from_utf8_lossy(&self.ok(AdminCommand::Verbose).await?).into_owned())
    }

    /// `cancel job HANDLE`.
    pub async fn cancel(&self, handle: JobHandle) -> Result<(), AdminClientError> {
        self.ok(AdminCommand::CancelJob(handle)).await.map(drop)
    }

    /// `create function NAME`.
    pub async fn create_function(&self, name: FunctionName) -> Result<(), AdminClientError> {
        self.ok(AdminCommand::CreateFunction(name)).await.map(drop)
    }

    /// `drop function NAME`.
    pub async fn drop_function(&self, name: FunctionName) -> Result<(), AdminClientError> {
        self.ok(AdminCommand::DropFunction(name)).await.map(drop)
    }

    /// `shutdown` (`graceful`: `shutdown graceful`, which lets running jobs finish). gearmand
    /// removed the command in 1.1.15 and answers [`AdminClientError::Refused`] with
    /// `UNKNOWN_COMMAND`; gearman-server answers OK (unless started without admin shutdown),
    /// closes every connection and stops listening.
    pub async fn shutdown(&self, graceful: bool) -> Result<(), AdminClientError> {
        self.ok(AdminCommand::Shutdown { graceful }).await.map(drop)
    }

    /// `maxqueue FUNC [sizes]`.
    pub async fn max_queue(
        &self,
        function: FunctionName,
        sizes: gearman_proto::admin::MaxQueueSizes,
    ) -> Result<(), AdminClientError> {
        self.ok(AdminCommand::MaxQueue { function, sizes })
            .await
            .map(drop)
    }
}
