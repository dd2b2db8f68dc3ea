//! A plain TCP connection shared by its reader, its writer and the core's task: the core's
//! task can ask, without reading, whether the peer has closed (a FIN waiting to be read),
//! before it hands a foreground job to a worker. After a freeze, the closes of clients that
//! gave up and the grabs of workers arrive together, in no particular order; asking the socket
//! itself means a job nobody waits for any more is not run.

use std::future::Future;
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::BytesMut;
use tokio::io::AsyncWrite;
use tokio::io::Interest;
#[cfg(feature = "tls")]
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::TcpStream;

/// One end of a shared stream (reader or writer; both hold the same socket).
#[derive(Clone, Debug)]
pub(crate) struct Shared(Arc<TcpStream>);

/// Asks a connection's socket whether its peer closed.
#[derive(Clone, Debug)]
pub(crate) struct Probe(Arc<TcpStream>);

/// The reader, the writer and the probe of one stream.
pub(crate) fn share(stream: TcpStream) -> (Shared, Shared, Probe) {
    let s = Arc::new(stream);
    (Shared(s.clone()), Shared(s.clone()), Probe(s))
}

impl Probe {
    /// Writes what the socket takes at once, without waiting (0 bytes: it would block).
    pub(crate) fn try_write(&self, data: &[u8]) -> io::Result<usize> {
        match self.0.try_write(data) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            other => other,
        }
    }

    /// Whether the peer has closed its side (or reset): a peek, without waiting, finds the
    /// end of the stream. Data not yet read means it may still be there: not gone.
    pub(crate) fn peer_gone(&self) -> bool {
        let mut byte = [MaybeUninit::<u8>::uninit(); 1];
        // The socket is non-blocking (tokio's): this answers at once.
        match socket2::SockRef::from(&*self.0).peek(&mut byte) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => !matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
            ),
        }
    }
}

/// Reads what is there into a buffer: a connection's read half.
pub(crate) trait ReadSome: Send {
    /// Appends what one read brings to `buf`; 0 at the end of the stream.
    fn read_some<'a>(
        &'a mut self,
        buf: &'a mut BytesMut,
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a;
}

impl ReadSome for Shared {
    /// A read that leaves room in `buf` took all the socket had: its readiness is cleared then
    /// (as tokio's own `poll_read` does), so the next read waits for the next data instead of
    /// first failing with `WouldBlock`, one system call less per read. Data that arrives in
    /// between is not missed: the reactor marks the socket ready again.
    async fn read_some(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        loop {
            self.0.readable().await?;
            let mut got = 0;
            let read = self.0.try_io(Interest::READABLE, || {
                let room = buf.capacity() - buf.len();
                got = self.0.try_read_buf(buf)?;
                if got > 0 && got < room {
                    // Not a failed read: the signal for try_io to clear the readiness.
                    Err(io::ErrorKind::WouldBlock.into())
                } else {
                    Ok(got)
                }
            });
            match read {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && got > 0 => return Ok(got),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                other => return other,
            }
        }
    }
}

/// Any other stream's read half (a TLS stream's).
#[cfg(feature = "tls")]
pub(crate) struct Reader<R>(pub(crate) R);

#[cfg(feature = "tls")]
impl<R: AsyncRead + Unpin + Send> ReadSome for Reader<R> {
    async fn read_some(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        self.0.read_buf(buf).await
    }
}

impl AsyncWrite for Shared {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.0.poll_write_ready(cx))?;
            match self.0.try_write(data) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                other => return Poll::Ready(other),
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        let done = socket2::SockRef::from(&*self.0).shutdown(std::net::Shutdown::Write);
        Poll::Ready(match done {
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            other => other,
        })
    }
}
