//! The HTTP side of the metrics: one endpoint, `GET /metrics`, answered with a freshly encoded
//! text and `Connection: close`. Written on tokio alone, as one endpoint that is read by a
//! scraper needs no HTTP framework: the request head is read up to [`MAX_HEAD`] bytes within
//! [`READ_TIMEOUT`], its request line checked, and the body written; any other path gets 404,
//! any other method 405, a head too large 431, and a malformed one 400.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tracing::{debug, warn};

/// The media type of the text: OpenMetrics 1.0, which Prometheus scrapes natively.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The largest request head read; a larger one is answered 431.
const MAX_HEAD: usize = 8 * 1024;
/// How long a client may take to send its request head.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How long writing the answer may take.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// What is read of a request after answering it, at most.
const LINGER_BYTES: usize = 64 * 1024;
/// How long that reading may take.
const LINGER_TIME: Duration = Duration::from_secs(1);
/// Requests served at once; more connections are closed as soon as they are accepted.
const MAX_CONNECTIONS: usize = 32;

/// Serves `GET /metrics` on `listener`, each answer the text `render` returns (`None`: 503,
/// the source is gone), until the future is dropped. Other paths are answered 404.
pub async fn serve_http<F, Fut>(listener: TcpListener, render: F)
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Option<String>> + Send,
{
    let render = Arc::new(render);
    let mut conns = JoinSet::new();
    let mut accept_errors = crate::listener::throttle::Throttle::default();
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                while conns.try_join_next().is_some() {}
                if conns.len() >= MAX_CONNECTIONS {
                    debug!(%peer, "metrics: too many requests at once: closing");
                    continue;
                }
                let render = render.clone();
                conns.spawn(async move {
                    if let Err(e) = answer(stream, &*render).await {
                        debug!(%peer, error = %e, "metrics request");
                    }
                });
            }
            Err(e) => {
                if let Some(unlogged) = accept_errors.hit(std::time::Instant::now()) {
                    warn!(error = %e, unlogged, "metrics: accept failed (logged at most once per 10 s)");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Why a request head could not be taken.
enum Head {
    /// The head, up to its blank line.
    Complete(Vec<u8>),
    TooLarge,
    /// The peer closed or timed out before the blank line.
    Incomplete,
}

async fn read_head(stream: &mut TcpStream) -> std::io::Result<Head> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let read = async {
        loop {
            if let Some(end) = head_end(&buf) {
                buf.truncate(end);
                return Ok(Head::Complete(std::mem::take(&mut buf)));
            }
            if buf.len() > MAX_HEAD {
                return Ok(Head::TooLarge);
            }
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(Head::Incomplete);
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    match tokio::time::timeout(READ_TIMEOUT, read).await {
        Ok(head) => head,
        Err(_) => Ok(Head::Incomplete),
    }
}

/// Where the head ends (its blank line), if it has.
fn head_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n");
    let lf = buf.windows(2).position(|w| w == b"\n\n");
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// What a request line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    Metrics,
    NotFound,
    BadMethod,
    Malformed,
}

fn route(head: &[u8]) -> Route {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let Ok(line) = std::str::from_utf8(line) else {
        return Route::Malformed;
    };
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Route::Malformed;
    };
    if !version.starts_with("HTTP/1.") {
        return Route::Malformed;
    }
    let path = target.split('?').next().unwrap_or_default();
    match (method, path) {
        ("GET", "/metrics") => Route::Metrics,
        ("GET", _) => Route::NotFound,
        _ => Route::BadMethod,
    }
}

async fn answer<F, Fut>(mut stream: TcpStream, render: &F) -> std::io::Result<()>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Option<String>>,
{
    let (status, body, content_type) = match read_head(&mut stream).await? {
        Head::Incomplete => return Ok(()),
        Head::TooLarge => (
            "431 Request Header Fields Too Large",
            "request head too large\n".to_owned(),
            "text/plain",
        ),
        Head::Complete(head) => match route(&head) {
            Route::Metrics => match render().await {
                Some(text) => ("200 OK", text, CONTENT_TYPE),
                None => (
                    "503 Service Unavailable",
                    "stopped\n".to_owned(),
                    "text/plain",
                ),
            },
            Route::NotFound => (
                "404 Not Found",
                "only /metrics is served here\n".to_owned(),
                "text/plain",
            ),
            Route::BadMethod => (
                "405 Method Not Allowed",
                "only GET is served here\n".to_owned(),
                "text/plain",
            ),
            Route::Malformed => ("400 Bad Request", "bad request\n".to_owned(), "text/plain"),
        },
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if status.starts_with("405") {
        out.push_str("Allow: GET\r\n");
    }
    out.push_str("\r\n");
    out.push_str(&body);
    let write = async {
        stream.write_all(out.as_bytes()).await?;
        stream.shutdown().await
    };
    tokio::time::timeout(WRITE_TIMEOUT, write)
        .await
        .unwrap_or(Ok(()))?;
    linger(&mut stream).await;
    Ok(())
}

/// Reads (and drops) what the client still sends, until it closes, a bound of bytes or a
/// second: closing with unread input would reset the connection, and the client could lose the
/// answer (a 431, say) before reading it.
async fn linger(stream: &mut TcpStream) {
    let mut left = LINGER_BYTES;
    let mut chunk = [0u8; 4096];
    let drain = async {
        while left > 0 {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    };
    let _ = tokio::time::timeout(LINGER_TIME, drain).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(route(b"GET /metrics HTTP/1.1\r\nHost: x"), Route::Metrics);
        assert_eq!(route(b"GET /metrics?x=1 HTTP/1.0"), Route::Metrics);
        assert_eq!(route(b"GET / HTTP/1.1"), Route::NotFound);
        assert_eq!(route(b"GET /metricsx HTTP/1.1"), Route::NotFound);
        assert_eq!(route(b"POST /metrics HTTP/1.1"), Route::BadMethod);
        assert_eq!(route(b"GET /metrics"), Route::Malformed);
        assert_eq!(route(b"GET /metrics SPDY/3"), Route::Malformed);
        assert_eq!(route(b"\xff\xfe"), Route::Malformed);
    }

    #[test]
    fn head_ends_at_the_blank_line() {
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nA: b\r\n\r\nrest"), Some(20));
        assert_eq!(head_end(b"GET / HTTP/1.0\n\n"), Some(14));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n"), None);
    }
}
