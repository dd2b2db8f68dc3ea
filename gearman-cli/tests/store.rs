//! `gearmanctl serve --store FILE`: acknowledged background jobs survive SIGKILL (none lost,
//! none extra), epoch jobs keep their time, a damaged store is refused, gearmand's sqlite queue
//! is taken over, and a full disk refuses submissions with an ERROR while the server stays up.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Kill;
use gearman_client::{AdminClient, Client, Job};
use gearman_testkit::{raw_packet, read_packet, until};
use gearman_worker::{Job as WorkerJob, Worker};

const WAIT: Duration = Duration::from_secs(30);

/// A fresh directory under the system's temporary one, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(test: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("gearmanctl-store-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn file(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn serve(store: &str) -> (Kill, SocketAddr) {
    common::gearmanctl_serve(&["--store", store])
}

/// SIGKILL, as a crash.
fn crash(mut server: Kill) {
    server.0.kill().unwrap();
    server.0.wait().unwrap();
}

/// SIGTERM, and waits (bounded) for the exit.
fn stop(mut server: Kill) {
    let pid = server.0.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let start = Instant::now();
    while server.0.try_wait().unwrap().is_none() {
        assert!(start.elapsed() < WAIT, "gearmanctl serve ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn queued(addr: SocketAddr, function: &str) -> u32 {
    let admin = AdminClient::new(addr.to_string(), WAIT);
    admin
        .status()
        .await
        .unwrap()
        .iter()
        .find(|r| r.function == function.as_bytes())
        .map_or(0, |r| r.total)
}

/// Runs a worker for `function` until `want` jobs arrived (bounded), then a little longer to
/// see any extra; what each job carried, with how often it came.
async fn drain(addr: SocketAddr, function: &'static str, want: usize) -> HashMap<Vec<u8>, usize> {
    let seen: Arc<Mutex<HashMap<Vec<u8>, usize>>> = Arc::default();
    let worker = Worker::builder()
        .server(addr.to_string())
        .concurrency(8)
        .function(function, {
            let seen = seen.clone();
            move |job: WorkerJob| {
                let seen = seen.clone();
                async move {
                    *seen.lock().unwrap().entry(job.data().to_vec()).or_default() += 1;
                    Ok(job.data().clone())
                }
            }
        })
        .spawn()
        .unwrap();
    let count = || seen.lock().unwrap().values().sum::<usize>();
    until("the stored jobs ran", WAIT, || async { count() >= want }).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    until("the queue is empty", WAIT, || async {
        queued(addr, function).await == 0
    })
    .await;
    worker.shutdown(WAIT).await.unwrap();
    let seen = seen.lock().unwrap().clone();
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_acknowledged_jobs_survive_sigkill_none_lost_none_extra() {
    let dir = Dir::new("sigkill");
    let store = dir.file("jobs.sqlite3");
    let (server, addr) = serve(&store);
    let client = Client::builder().server(addr.to_string()).spawn().unwrap();
    client.ready(WAIT).await.unwrap();
    for batch in 0..10 {
        let jobs =
            (0..500).map(|i| Job::new("durable", format!("job-{}", batch * 500 + i)).background());
        for r in client.submit_all(jobs).await {
            r.expect("acknowledged");
        }
    }
    drop(client);
    crash(server);

    // Restarted with metrics: the scrape shows the queue too.
    let (server, lines) = common::start(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--store",
            &store,
            "--metrics",
            "127.0.0.1:0",
        ],
        2,
    );
    let addr: SocketAddr = lines[0]
        .strip_prefix("listening on ")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        queued(addr, "durable").await,
        5000,
        "all acknowledged jobs queued again"
    );
    common::scrape_until(
        common::metrics_addr(&lines[1]),
        &[("gearman_function_queued{function=\"durable\"}", 5000.0)],
        WAIT,
    );
    let seen = drain(addr, "durable", 5000).await;
    assert_eq!(seen.len(), 5000, "every job ran");
    assert!(seen.values().all(|&n| n == 1), "none ran twice");
    assert!((0..5000).all(|i| seen.contains_key(format!("job-{i}").as_bytes())));
    // The removals of the jobs that ran were committed, and timed.
    let (_, text) = common::get(common::metrics_addr(&lines[1]), "/metrics");
    let commits = common::value(&text, "gearman_store_commit_seconds_count").unwrap_or(0.0);
    assert!(commits >= 1.0, "store commits timed: {commits}");
    // Jobs that completed left the store: a restart finds none.
    stop(server);
    let (server, addr) = serve(&store);
    assert_eq!(
        queued(addr, "durable").await,
        0,
        "completed jobs left the store"
    );
    stop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_epoch_job_survives_a_crash_and_runs_at_its_time() {
    let dir = Dir::new("epoch");
    let store = dir.file("jobs.sqlite3");
    let (server, addr) = serve(&store);
    let due = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3;
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(WAIT)).unwrap();
    // SUBMIT_JOB_EPOCH (36): function, unique, epoch, data.
    let epoch = due.to_string();
    std::io::Write::write_all(
        &mut conn,
        &raw_packet(
            36,
            &[b"later", b"u-later", epoch.as_bytes(), b"at-its-time"],
        ),
    )
    .unwrap();
    let created = read_packet(&mut conn).unwrap();
    assert_eq!(created.ty, 8, "JOB_CREATED");
    crash(server);

    let (server, addr) = serve(&store);
    assert_eq!(queued(addr, "later").await, 1, "scheduled again");
    let seen = drain(addr, "later", 1).await;
    let ran_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(ran_at >= due, "ran before its time ({ran_at} < {due})");
    assert_eq!(seen.get(b"at-its-time".as_slice()), Some(&1));
    stop(server);
}

#[test]
fn a_damaged_store_is_refused_and_left_as_it_was() {
    let dir = Dir::new("damaged");
    let store = dir.file("jobs.sqlite3");
    let junk: Vec<u8> = (0..8192u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&store, &junk).unwrap();
    let (out, took) = common::ctl_within(
        &["serve", "--listen", "127.0.0.1:0", "--store", &store],
        Duration::from_secs(10),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("damaged") && err.contains(&store), "{err}");
    assert!(
        out.stdout.is_empty(),
        "never listened: {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(took < Duration::from_secs(5));
    assert_eq!(
        std::fs::read(&store).unwrap(),
        junk,
        "the file is untouched"
    );
}

#[test]
fn a_second_server_on_the_same_store_is_refused() {
    let dir = Dir::new("locked");
    let store = dir.file("jobs.sqlite3");
    let (server, _) = serve(&store);
    let (out, _) = common::ctl_within(
        &["serve", "--listen", "127.0.0.1:0", "--store", &store],
        Duration::from_secs(10),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use by another server"), "{err}");
    stop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gearmands_sqlite_queue_is_taken_over() {
    let dir = Dir::new("gearmand");
    let store = dir.file("gearmand-queue.sqlite3");
    let Some(mut gearmand) = gearman_testkit::Gearmand::builder()
        .arg("--queue-type=libsqlite3")
        .arg(format!("--libsqlite3-db={store}"))
        .start_or_skip("gearmands_sqlite_queue_is_taken_over")
    else {
        return;
    };
    let client = Client::builder()
        .server(gearmand.addr().to_string())
        .spawn()
        .unwrap();
    client.ready(WAIT).await.unwrap();
    // Each with a unique, as libgearman clients give them: gearmand's table is keyed by
    // (unique, function) and keeps one row for all jobs sent without one.
    let jobs = (0..50).map(|i| {
        Job::new("moved", format!("from-gearmand-{i}"))
            .unique(format!("u{i}"))
            .background()
    });
    for r in client.submit_all(jobs).await {
        r.unwrap();
    }
    drop(client);
    gearmand.kill();

    let (server, addr) = serve(&store);
    assert_eq!(queued(addr, "moved").await, 50);
    let seen = drain(addr, "moved", 50).await;
    assert_eq!(seen.len(), 50);
    assert!((0..50).all(|i| seen.get(format!("from-gearmand-{i}").as_bytes()) == Some(&1)));
    stop(server);
    // Taken over once: gearmand's table was emptied in the same transaction.
    let (server, addr) = serve(&store);
    assert_eq!(queued(addr, "moved").await, 0);
    stop(server);
}

/// Submits a background job: `Ok` once acknowledged, else what the refusal said.
async fn stored(client: &Client, job: Job) -> Result<(), String> {
    let mut job = client
        .submit(job.background())
        .await
        .map_err(|e| format!("{e:?}"))?;
    job.created()
        .await
        .map(|_| ())
        .map_err(|e| format!("{e:?}"))
}

/// A small tmpfs, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Self> {
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Self(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_submissions_with_an_error_and_the_server_stays_up() {
    let dir = Dir::new("full");
    let Some(_fs) = Tmpfs::mount(&dir.0, "512k") else {
        gearman_testkit::skip(
            "a_full_disk_refuses_submissions",
            "mounting a small tmpfs needs root",
        );
        return;
    };
    let store = dir.file("jobs.sqlite3");
    // Room that an operator frees later.
    let ballast = dir.file("ballast");
    std::fs::write(&ballast, vec![0u8; 128 * 1024]).unwrap();
    let (server, addr) = serve(&store);
    let client = Client::builder().server(addr.to_string()).spawn().unwrap();
    client.ready(WAIT).await.unwrap();
    let payload = "x".repeat(16 * 1024);
    let (mut accepted, mut refused) = (0, None);
    for i in 0..100 {
        let job = Job::new("big", payload.clone()).unique(format!("big-{i}"));
        match stored(&client, job).await {
            Ok(()) => accepted += 1,
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    let refused = refused.expect("a 512 KiB disk fills up within 100 jobs of 16 KiB");
    assert!(
        refused.contains("QUEUE_ERROR") && refused.contains("could not be stored"),
        "{refused}"
    );
    assert!(
        accepted > 5,
        "jobs were stored before the disk filled ({accepted})"
    );
    // Still up: it answers, and what it acknowledged is queued.
    assert_eq!(client.echo("still here").await.unwrap(), "still here");
    assert_eq!(queued(addr, "big").await, accepted);
    // Room again: submissions are taken again, and everything acknowledged runs.
    std::fs::remove_file(&ballast).unwrap();
    let mut again = Err(String::new());
    for _ in 0..50 {
        again = stored(&client, Job::new("big", "small")).await;
        if again.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(again, Ok(()), "submissions taken again once there is room");
    let seen = drain(addr, "big", accepted as usize + 1).await;
    assert_eq!(seen.values().sum::<usize>(), accepted as usize + 1);
    drop(client);
    stop(server);
}
