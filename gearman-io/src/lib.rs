#![doc = include_str!("../README.md")]

mod backoff;
mod conn;
mod state;
mod stream;
#[cfg(feature = "tls")]
mod tls;

pub use backoff::{seed, Backoff};
pub use conn::{run_session, Closed, ConnectionOptions, ReadError, ResponseReader, Session};
pub use state::{ConnState, ConnectError, ServerState, ServerStates, TlsError, Unreachable};
pub use stream::{ReadHalf, Stream, WriteHalf};
#[cfg(feature = "tls")]
pub use tls::{
    parse_certs, parse_key, parse_roots, provider, read_pem_file, TlsConfigError, TlsOptions,
};
#[cfg(feature = "tls")]
pub use {rustls, tokio_rustls};

use std::time::Duration;

use tokio::net::TcpStream;

/// How connections are opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectOptions {
    /// How long an attempt may take.
    pub timeout: Duration,
    /// TCP keepalive idle time (probes then every third of it); `None` turns it off.
    pub keepalive: Option<Duration>,
    /// How long one write may wait for the peer to take the bytes: a server that stopped
    /// reading (frozen, its window full) is declared dead after this, so that no caller waits
    /// on a stuck write forever.
    pub write_timeout: Duration,
    /// TLS: `None` connects in plain TCP. The handshake (and a first ECHO round trip that
    /// proves the server accepted this side) counts against `timeout`.
    #[cfg(feature = "tls")]
    pub tls: Option<TlsOptions>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            keepalive: Some(Duration::from_secs(30)),
            write_timeout: Duration::from_secs(10),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

/// Reconnect delays: from `initial`, doubling, capped at `max`, with jitter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReconnectOptions {
    /// The first delay.
    pub initial: Duration,
    /// The cap.
    pub max: Duration,
}

impl Default for ReconnectOptions {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
        }
    }
}

impl ReconnectOptions {
    /// A backoff for the connection to `addr` (its jitter seeded from the address and the time).
    pub fn backoff(&self, addr: &str) -> Backoff {
        Backoff::new(self.initial, self.max, seed(addr))
    }
}

/// The instant `after` from now, saturating far in the future instead of overflowing (a caller's
/// `Duration::MAX` means "no limit", never a panic).
pub fn deadline_in(after: Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    now.checked_add(after)
        .unwrap_or_else(|| now + Duration::from_secs(30 * 365 * 86_400))
}

/// Sleeps until `deadline`, or forever without one: the timer branch of a driver's `select!`.
pub async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Encodes `requests` into `buf` and writes them in one write, failing with `TimedOut` when the
/// peer takes no bytes for `timeout` (it stopped reading); a request that cannot be encoded (a machine bug)
/// is logged and dropped rather than sent half-made. `buf` is left empty.
pub async fn write_requests<W: tokio::io::AsyncWrite + Unpin>(
    wr: &mut W,
    buf: &mut bytes::BytesMut,
    requests: impl Iterator<Item = gearman_proto::Request>,
    timeout: Duration,
) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    for req in requests {
        let mark = buf.len();
        if let Err(e) = req.encode(buf) {
            buf.truncate(mark);
            tracing::warn!(error = %e, "dropping a request that cannot be encoded");
        }
    }
    if buf.is_empty() {
        return Ok(());
    }
    // The timeout bounds each wait for the peer to take bytes, not the whole write: a slow
    // reader that keeps taking bytes is not a dead one.
    let mut written = 0;
    let result = loop {
        if written == buf.len() {
            // A TLS stream may hold the last record until flushed (a no-op on TCP).
            break match tokio::time::timeout(timeout, wr.flush()).await {
                Ok(flushed) => flushed,
                Err(_) => Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("the peer took no bytes for {timeout:?}"),
                )),
            };
        }
        match tokio::time::timeout(timeout, wr.write(&buf[written..])).await {
            Ok(Ok(0)) => break Err(std::io::ErrorKind::WriteZero.into()),
            Ok(Ok(n)) => written += n,
            Ok(Err(e)) => break Err(e),
            Err(_) => {
                break Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("the peer took no bytes for {timeout:?}"),
                ))
            }
        }
    };
    buf.clear();
    result
}

/// Opens a connection with TCP_NODELAY (small packets must not wait on delayed ACKs: python
/// gear's worker falls from about 1,500 to 45 jobs/s without it) and keepalive, then, when
/// `options.tls` is set, shakes hands: a failed handshake or verification is an error that
/// carries a [`TlsError`] (see [`ConnectError::tls`]). The whole attempt is bounded by
/// `options.timeout`.
pub async fn connect(addr: &str, options: &ConnectOptions) -> std::io::Result<Stream> {
    tokio::time::timeout(options.timeout, connect_inner(addr, options))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))?
}

async fn connect_inner(addr: &str, options: &ConnectOptions) -> std::io::Result<Stream> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    if let Some(idle) = options.keepalive {
        let keepalive = socket2::TcpKeepalive::new()
            .with_time(idle)
            .with_interval(idle / 3);
        socket2::SockRef::from(&stream).set_tcp_keepalive(&keepalive)?;
    }
    #[cfg(feature = "tls")]
    if let Some(tls) = &options.tls {
        return tls::handshake(stream, addr, tls).await;
    }
    Ok(Stream::Plain(stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A peer that, over and over, waits `pause` and then reads `burst` bytes as fast as it can;
    /// or, with `None`, reads nothing at all.
    async fn reader(
        burst: Option<usize>,
        pause: Duration,
    ) -> (String, tokio::task::JoinHandle<usize>) {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let task = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let Some(burst) = burst else {
                tokio::time::sleep(Duration::from_secs(30)).await;
                return 0;
            };
            let mut buf = vec![0; burst];
            let mut total = 0;
            loop {
                tokio::time::sleep(pause).await;
                match s.read_exact(&mut buf).await {
                    Ok(_) => total += burst,
                    Err(_) => return total,
                }
            }
        });
        (addr, task)
    }

    fn big_echo(len: usize) -> std::iter::Once<gearman_proto::Request> {
        std::iter::once(gearman_proto::Request::Echo(bytes::Bytes::from(vec![
            b'x';
            len
        ])))
    }

    #[tokio::test]
    async fn a_slow_reader_is_not_a_dead_one_and_a_deaf_one_is() {
        let timeout = Duration::from_secs(1);
        let (addr, task) = reader(Some(4 << 20), Duration::from_millis(500)).await;
        let mut s = connect(&addr, &ConnectOptions::default()).await.unwrap();
        let started = std::time::Instant::now();
        let mut buf = bytes::BytesMut::new();
        // 24 MiB to a reader that stops for half a second every 4 MiB: the whole write takes
        // longer than the timeout, no single stall does.
        write_requests(&mut s, &mut buf, big_echo(24 << 20), timeout)
            .await
            .unwrap();
        assert!(started.elapsed() > timeout, "{:?}", started.elapsed());
        drop(s);
        assert!(task.await.unwrap() >= 12 << 20);

        let (addr, task) = reader(None, Duration::ZERO).await;
        let mut s = connect(&addr, &ConnectOptions::default()).await.unwrap();
        let err = write_requests(&mut s, &mut buf, big_echo(32 << 20), timeout)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        task.abort();
    }

    #[tokio::test]
    async fn a_huge_deadline_saturates() {
        assert!(deadline_in(Duration::MAX) > tokio::time::Instant::now());
        let soon = deadline_in(Duration::from_millis(5));
        assert!(soon <= tokio::time::Instant::now() + Duration::from_millis(5));
    }

    #[tokio::test]
    async fn connect_applies_nodelay_and_keepalive() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let options = ConnectOptions {
            timeout: Duration::from_secs(2),
            keepalive: Some(Duration::from_secs(42)),
            ..ConnectOptions::default()
        };
        let stream = connect(&addr, &options).await.unwrap();
        let stream = stream.tcp();
        let sock = socket2::SockRef::from(stream);
        assert!(stream.nodelay().unwrap());
        assert!(sock.keepalive().unwrap());
        assert_eq!(sock.tcp_keepalive_time().unwrap(), Duration::from_secs(42));
        assert_eq!(
            sock.tcp_keepalive_interval().unwrap(),
            Duration::from_secs(14)
        );

        let off = ConnectOptions {
            keepalive: None,
            ..options
        };
        let stream = connect(&addr, &off).await.unwrap();
        assert!(!socket2::SockRef::from(stream.tcp()).keepalive().unwrap());
    }
}
