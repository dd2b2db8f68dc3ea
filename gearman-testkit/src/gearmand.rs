//! A real gearmand on 127.0.0.1 at a free port.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::TestkitError;

const START_TIMEOUT: Duration = Duration::from_secs(10);
const PROBE_INTERVAL: Duration = Duration::from_millis(20);
const PORT_ATTEMPTS: usize = 5;

/// The gearmand binary: `$GEARMAND`, else `gearmand` on `PATH`, else `/usr/sbin/gearmand`.
/// A `gearmand` that is a script is passed over: Debian's `gearman-server` package (the Perl
/// Gearman::Server, another server altogether) installs one as `/usr/bin/gearmand`.
pub fn find_gearmand() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("GEARMAND") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>());
    on_path
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join("gearmand"))
        .find(|p| p.is_file() && !is_script(p))
}

/// Whether the file starts with `#!`.
fn is_script(path: &Path) -> bool {
    use std::io::Read;
    let mut start = [0u8; 2];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut start))
        .is_ok_and(|()| &start == b"#!")
}

/// Starts a default gearmand for `test`, or, where none is installed and CI does not demand one,
/// says so with a visible [`skip`](crate::skip) notice and returns `None`.
///
/// # Panics
/// When gearmand is missing and [`required`](crate::required) is true, or when it is installed
/// but fails to start.
pub fn gearmand_or_skip(test: &str) -> Option<Gearmand> {
    Gearmand::builder().start_or_skip(test)
}

fn started_or_skip(started: Result<Gearmand, TestkitError>, test: &str) -> Option<Gearmand> {
    match started {
        Ok(g) => Some(g),
        Err(TestkitError::NotInstalled) => {
            crate::skip(
                test,
                "gearmand is not installed (apt-get install -y gearman-job-server, or set GEARMAND)",
            );
            None
        }
        Err(e) => panic!("{test}: {e}"),
    }
}

/// Options for a gearmand.
#[derive(Clone, Debug, Default)]
pub struct GearmandBuilder {
    threads: Option<u32>,
    args: Vec<String>,
}

impl GearmandBuilder {
    /// I/O threads (`--threads`); gearmand's default is 4.
    pub fn threads(mut self, n: u32) -> Self {
        self.threads = Some(n);
        self
    }

    /// An extra command-line argument, such as `--job-retries=2`.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Starts it as [`start`](Self::start) does; when gearmand is missing, says so as
    /// [`gearmand_or_skip`] does and returns `None`.
    ///
    /// # Panics
    /// As [`gearmand_or_skip`].
    pub fn start_or_skip(self, test: &str) -> Option<Gearmand> {
        started_or_skip(self.start(), test)
    }

    /// Starts it on a free loopback port.
    pub fn start(self) -> Result<Gearmand, TestkitError> {
        let bin = find_gearmand().ok_or(TestkitError::NotInstalled)?;
        let mut last = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port()?;
            match spawn(&bin, port, &self) {
                Ok(child) => {
                    let mut g = Gearmand {
                        child: Some(child),
                        addr: SocketAddr::from(([127, 0, 0, 1], port)),
                        bin: bin.clone(),
                        options: self.clone(),
                    };
                    match g.wait_ready() {
                        Ok(()) => return Ok(g),
                        Err(e) => last = e.to_string(),
                    }
                }
                Err(e) => last = e.to_string(),
            }
        }
        Err(TestkitError::Start(last))
    }
}

fn free_port() -> Result<u16, TestkitError> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

fn spawn(bin: &Path, port: u16, opts: &GearmandBuilder) -> std::io::Result<Child> {
    let dir = std::env::temp_dir();
    let mut cmd = Command::new(bin);
    cmd.arg(format!("--port={port}"))
        .arg("--listen=127.0.0.1")
        .arg(format!(
            "--log-file={}",
            dir.join(format!("gearmand-{port}.log")).display()
        ))
        .arg(format!(
            "--pid-file={}",
            dir.join(format!("gearmand-{port}.pid")).display()
        ))
        .args(opts.threads.map(|t| format!("--threads={t}")))
        .args(&opts.args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd.spawn()
}

/// A running gearmand, killed when dropped.
#[derive(Debug)]
pub struct Gearmand {
    child: Option<Child>,
    addr: SocketAddr,
    bin: PathBuf,
    options: GearmandBuilder,
}

impl Gearmand {
    /// Starts a gearmand with default options.
    pub fn start() -> Result<Self, TestkitError> {
        Self::builder().start()
    }

    /// Options for a gearmand.
    pub fn builder() -> GearmandBuilder {
        GearmandBuilder::default()
    }

    /// Its address, `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Kills it (SIGKILL) and waits for it to exit: every connection drops, every job is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether it is running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(Child::try_wait), Some(Ok(None)))
    }

    /// Starts it again on the same port (after [`kill`](Self::kill)) and waits until it answers.
    pub fn restart(&mut self) -> Result<(), TestkitError> {
        self.kill();
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            self.child = Some(spawn(&self.bin, self.addr.port(), &self.options)?);
            match self.wait_ready() {
                Ok(()) => return Ok(()),
                // The port may linger for a moment after the kill.
                Err(_) if Instant::now() < deadline => {
                    self.kill();
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn wait_ready(&mut self) -> Result<(), TestkitError> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    self.child = None;
                    return Err(TestkitError::Start(format!("gearmand exited: {status}")));
                }
            }
            if self.probe().unwrap_or(false) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                self.kill();
                return Err(TestkitError::Start(format!(
                    "no ECHO answer on {} within {START_TIMEOUT:?}",
                    self.addr
                )));
            }
            std::thread::sleep(PROBE_INTERVAL);
        }
    }

    fn probe(&self) -> std::io::Result<bool> {
        let mut s = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200))?;
        s.set_read_timeout(Some(Duration::from_millis(500)))?;
        crate::raw::echo(&mut s, b"testkit")
    }
}

impl Drop for Gearmand {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::echo;

    #[test]
    fn starts_answers_restarts_and_stops() {
        let Some(mut g) = gearmand_or_skip("testkit::starts_answers_restarts_and_stops") else {
            return;
        };
        let addr = g.addr();
        assert!(addr.ip().is_loopback());
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert!(echo(&mut s, b"a\0b").unwrap());
        g.kill();
        assert!(!g.is_running());
        assert!(TcpStream::connect(addr).is_err());
        g.restart().unwrap();
        assert_eq!(g.addr(), addr);
        assert!(g.is_running());
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert!(echo(&mut s, b"again").unwrap());
        drop(g);
        assert!(TcpStream::connect(addr).is_err());
    }
}
