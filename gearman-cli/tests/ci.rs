//! Two `gearmanctl ci` hosts (two managers, different nodes) on one job server (gearmand, and
//! again gearman-server): registrations, builds on both, results, stop, SIGHUP re-registration,
//! `--check`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::Kill;
use gearman_client::{AdminClient, Client, Job, JobEvent, JobOutcome};
use gearman_proto::{FunctionName, UniqueId};
use gearman_testkit::{until, ServerKind, TestServer};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(15);

fn write_config(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn host_a(addr: SocketAddr, dir: &Path, ok_disabled: bool) -> String {
    format!(
        r#"
[gearman]
servers = ["{addr}"]
manager = "ci01"
url = "http://ci01.example/"
log_dir = "{logs}"

[[node]]
name = "a1"
labels = ["trusty"]
executors = 2

[[project]]
name = "ok"
label = "trusty"
disabled = {ok_disabled}
command = 'test "$ZUUL_UUID" = abc && echo "ran on $NODE_NAME"'

[[project]]
name = "fail"
command = "exit 3"

[[project]]
name = "slow"
command = "sleep 30"
"#,
        logs = dir.join("logs-a").display()
    )
}

fn host_b(addr: SocketAddr, dir: &Path) -> String {
    format!(
        r#"
[gearman]
servers = ["{addr}"]
manager = "ci02"
log_dir = "{logs}"

[[node]]
name = "b1"
labels = ["xenial"]

[[project]]
name = "ok"
label = "xenial"
command = "echo b"
"#,
        logs = dir.join("logs-b").display()
    )
}

fn ci(config: &Path) -> Kill {
    Kill(
        Command::new(env!("CARGO_BIN_EXE_gearmanctl"))
            .env("RUST_LOG", "warn")
            .args(["ci", "--config"])
            .arg(config)
            .spawn()
            .unwrap(),
    )
}

async fn registrations(addr: SocketAddr) -> Vec<(String, BTreeSet<String>)> {
    let admin = AdminClient::new(addr.to_string(), WAIT);
    let mut out: Vec<_> = admin
        .workers()
        .await
        .unwrap()
        .into_iter()
        .filter_map(|w| {
            let id = String::from_utf8_lossy(w.client_id.as_deref()?).into_owned();
            Some((
                id,
                w.functions
                    .iter()
                    .map(|f| String::from_utf8_lossy(f).into_owned())
                    .collect(),
            ))
        })
        .collect();
    out.sort();
    out
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn job(function: &str, data: &str) -> Job {
    Job::new(FunctionName::try_from(function).unwrap(), data.to_string())
}

async fn final_report(client: &Client, job: Job) -> Value {
    let out = client.call(job).await.unwrap();
    serde_json::from_slice(&out).unwrap()
}

async fn two_ci_hosts_share_one_server(kind: ServerKind) {
    let Some(g) = TestServer::start_or_skip(kind, "two_ci_hosts_share_one_server") else {
        return;
    };
    let addr = g.addr();
    let dir = std::env::temp_dir().join(format!("gearmanctl-ci-test-{}", addr.port()));
    std::fs::create_dir_all(&dir).unwrap();
    let a_path = write_config(&dir, "a.toml", &host_a(addr, &dir, false));
    let b_path = write_config(&dir, "b.toml", &host_b(addr, &dir));

    let check = Command::new(env!("CARGO_BIN_EXE_gearmanctl"))
        .args(["ci", "--check", "--config"])
        .arg(&a_path)
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");
    assert!(String::from_utf8_lossy(&check.stdout).contains(": ok"));

    let a = ci(&a_path);
    let _b = ci(&b_path);
    let a1 = set(&["build:fail", "build:ok", "build:ok:trusty", "build:slow"]);
    let want = vec![
        ("a1_exec-0".to_string(), a1.clone()),
        ("a1_exec-1".to_string(), a1.clone()),
        (
            "b1_exec-0".to_string(),
            set(&["build:ok", "build:ok:xenial"]),
        ),
        (
            "ci01_manager".to_string(),
            set(&["set_description:ci01", "stop:ci01"]),
        ),
        (
            "ci02_manager".to_string(),
            set(&["set_description:ci02", "stop:ci02"]),
        ),
    ];
    until("both hosts registered", WAIT, || async {
        registrations(addr).await == want
    })
    .await;

    let client = Client::builder().server(addr.to_string()).spawn().unwrap();
    until("the client", WAIT, || async { client.connected() == 1 }).await;
    let on_a =
        job("build:ok:trusty", r#"{"ZUUL_UUID":"abc"}"#).unique(UniqueId::try_from("abc").unwrap());
    let r = final_report(&client, on_a).await;
    assert_eq!(
        (
            r["result"].as_str(),
            r["manager"].as_str(),
            r["node_name"].as_str()
        ),
        (Some("SUCCESS"), Some("ci01"), Some("a1"))
    );
    assert_eq!(r["url"], "http://ci01.example/job/ok/1/");
    let r = final_report(&client, job("build:ok:xenial", "{}")).await;
    assert_eq!(
        (r["result"].as_str(), r["manager"].as_str()),
        (Some("SUCCESS"), Some("ci02"))
    );
    let r = final_report(&client, job("build:fail", "{}")).await;
    assert_eq!(r["result"], "FAILURE");
    let log = std::fs::read_to_string(dir.join("logs-a/ok/1.log")).unwrap();
    assert_eq!(log, "ran on a1\n");

    // stop:ci01 aborts a running build.
    let mut slow = client.submit(job("build:slow", "{}")).await.unwrap();
    let Some(JobEvent::Progress(_)) = slow.next().await else {
        panic!("expected the start report")
    };
    let stop = job("stop:ci01", r#"{"name":"slow","number":"1"}"#);
    assert_eq!(client.call(stop).await.unwrap(), "");
    let end = loop {
        match slow.next().await.unwrap() {
            JobEvent::Done(JobOutcome::Complete(d)) => {
                break serde_json::from_slice::<Value>(&d).unwrap()
            }
            JobEvent::Progress(_) => {}
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(end["result"], "ABORTED");

    // Disable `ok` and send SIGHUP: its functions go, the rest stay.
    write_config(&dir, "a.toml", &host_a(addr, &dir, true));
    let hup = Command::new("kill")
        .args(["-HUP", &a.0.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let after = set(&["build:fail", "build:slow"]);
    until("ok deregistered on a1", WAIT, || async {
        registrations(addr)
            .await
            .iter()
            .filter(|(id, _)| id.starts_with("a1_"))
            .all(|(_, fs)| *fs == after)
    })
    .await;
    let _ = std::fs::remove_dir_all(&dir);
}

fn host_c(addr: SocketAddr, dir: &Path, with_c1: bool) -> String {
    let go = dir.join("go");
    let c1 = if with_c1 {
        "[[node]]\nname = \"c1\"\nlabels = [\"bionic\"]\nexecutors = 2\n"
    } else {
        ""
    };
    format!(
        r#"
[gearman]
servers = ["{addr}"]
manager = "ci03"
log_dir = "{logs}"

{c1}
[[node]]
name = "c2"
labels = ["focal"]

[[project]]
name = "wait"
label = "bionic"
command = 'for i in $(seq 400); do [ -e "{go}" ] && exit 0; sleep 0.05; done; exit 1'
"#,
        logs = dir.join("logs-c").display(),
        go = go.display(),
    )
}

/// `gearmanctl ci` that also counts its "configuration re-read" log lines, so that a test can
/// wait for a SIGHUP to have been taken ([`hup_and_wait`]).
fn ci_counting_reloads(config: &Path) -> (Kill, Arc<AtomicUsize>) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_gearmanctl"))
        .env("RUST_LOG", "warn,gearmanctl::ci=info")
        .args(["ci", "--config"])
        .arg(config)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let reloads = Arc::new(AtomicUsize::new(0));
    let stderr = child.stderr.take().unwrap();
    let counter = reloads.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains("configuration re-read") {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    (Kill(child), reloads)
}

/// SIGHUP, then wait until the configuration was re-read.
async fn hup_and_wait(child: &Kill, reloads: &AtomicUsize) {
    let before = reloads.load(Ordering::SeqCst);
    hup(child);
    until("the configuration re-read", WAIT, || async {
        reloads.load(Ordering::SeqCst) > before
    })
    .await;
}

fn hup(child: &Kill) {
    let hup = Command::new("kill")
        .args(["-HUP", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
}

async fn ids_of(addr: SocketAddr, prefix: &str) -> Vec<String> {
    registrations(addr)
        .await
        .into_iter()
        .filter(|(id, _)| id.starts_with(prefix))
        .map(|(id, _)| id)
        .collect()
}

async fn start_report(stream: &mut gearman_client::JobStream) -> Value {
    loop {
        match tokio::time::timeout(WAIT, stream.next()).await.unwrap() {
            Some(JobEvent::Progress(gearman_proto::WorkUpdate::Data { data, .. })) => {
                return serde_json::from_slice(&data).unwrap()
            }
            Some(JobEvent::Created(_) | JobEvent::Progress(_)) => {}
            other => panic!("expected the start report, got {other:?}"),
        }
    }
}

async fn final_result(stream: &mut gearman_client::JobStream) -> String {
    loop {
        match tokio::time::timeout(WAIT, stream.next()).await.unwrap() {
            Some(JobEvent::Done(JobOutcome::Complete(d))) => {
                let v: Value = serde_json::from_slice(&d).unwrap();
                return v["result"].as_str().unwrap().to_string();
            }
            Some(JobEvent::Created(_) | JobEvent::Progress(_)) => {}
            other => panic!("expected WORK_COMPLETE, got {other:?}"),
        }
    }
}

async fn sighup_retires_a_removed_node_and_brings_back_a_single_use_one(kind: ServerKind) {
    let Some(g) = TestServer::start_or_skip(kind, "ci node removed by SIGHUP") else {
        return;
    };
    let addr = g.addr();
    let dir = std::env::temp_dir().join(format!("gearmanctl-ci-hup-{}", addr.port()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = write_config(&dir, "c.toml", &host_c(addr, &dir, true));
    let (c, reloads) = ci_counting_reloads(&path);
    until("c1's two executors", WAIT, || async {
        ids_of(addr, "c1_").await.len() == 2
    })
    .await;
    let client = Client::builder().server(addr.to_string()).spawn().unwrap();
    until("the client", WAIT, || async { client.connected() == 1 }).await;

    // A build runs on c1 while c1 is deleted from the file.
    let mut build = client.submit(job("build:wait", "{}")).await.unwrap();
    let busy = start_report(&mut build).await["worker"]
        .as_str()
        .unwrap()
        .to_string();
    write_config(&dir, "c.toml", &host_c(addr, &dir, false));
    hup_and_wait(&c, &reloads).await;
    until(
        "c1's idle executor gone",
        Duration::from_secs(1),
        || async { ids_of(addr, "c1_").await == [busy.clone()] },
    )
    .await;
    std::fs::write(dir.join("go"), "").unwrap();
    assert_eq!(final_result(&mut build).await, "SUCCESS");
    until("c1 gone after its build", WAIT, || async {
        ids_of(addr, "c1_").await.is_empty()
    })
    .await;
    until("c2 untouched", WAIT, || async {
        ids_of(addr, "c2_").await == ["c2_exec-0"]
    })
    .await;

    // c1 back in the file: it registers again; a single-use build takes it offline; a SIGHUP
    // that does not re-enable c1 (the file lists it as before) leaves it offline; taking it
    // out of the file and putting it back does.
    write_config(&dir, "c.toml", &host_c(addr, &dir, true));
    hup_and_wait(&c, &reloads).await;
    until("c1 back", WAIT, || async {
        ids_of(addr, "c1_").await.len() == 2
    })
    .await;
    let single = job("build:wait", r#"{"OFFLINE_NODE_WHEN_COMPLETE":"1"}"#);
    let r = final_report(&client, single).await;
    assert_eq!(r["result"], "SUCCESS");
    until("the single-use node gone", WAIT, || async {
        ids_of(addr, "c1_").await.is_empty()
    })
    .await;
    hup_and_wait(&c, &reloads).await;
    // Give a wrong comeback time to show: the re-read is done well within a second.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        ids_of(addr, "c1_").await.is_empty(),
        "a used single-use node came back on a plain SIGHUP"
    );
    write_config(&dir, "c.toml", &host_c(addr, &dir, false));
    hup_and_wait(&c, &reloads).await;
    write_config(&dir, "c.toml", &host_c(addr, &dir, true));
    hup_and_wait(&c, &reloads).await;
    until("c1 re-enabled", WAIT, || async {
        ids_of(addr, "c1_").await == ["c1_exec-0", "c1_exec-1"]
    })
    .await;
    let _ = std::fs::remove_dir_all(&dir);
}

async fn a_server_restart_mid_single_use_build_leaves_the_node_offline(kind: ServerKind) {
    let Some(mut g) = TestServer::start_or_skip(kind, "ci restart mid single-use build") else {
        return;
    };
    let addr = g.addr();
    let dir = std::env::temp_dir().join(format!("gearmanctl-ci-restart-{}", addr.port()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = write_config(&dir, "c.toml", &host_c(addr, &dir, true));
    let _c = ci(&path);
    until("c1's two executors", WAIT, || async {
        ids_of(addr, "c1_").await.len() == 2
    })
    .await;
    let client = Client::builder().server(addr.to_string()).spawn().unwrap();
    until("the client", WAIT, || async { client.connected() == 1 }).await;
    let mut single = client
        .submit(job("build:wait", r#"{"OFFLINE_NODE_WHEN_COMPLETE":"1"}"#))
        .await
        .unwrap();
    start_report(&mut single).await;
    g.kill();
    g.restart().unwrap();
    until(
        "c2 and the manager back on the new server",
        WAIT,
        || async {
            let ids: Vec<String> = registrations(addr)
                .await
                .into_iter()
                .map(|(id, _)| id)
                .collect();
            ids == ["c2_exec-0", "ci03_manager"]
        },
    )
    .await;
    // The aborted build's node stays offline: nothing of c1 registers on the new server.
    assert!(
        !gearman_testkit::eventually(Duration::from_secs(1), || async {
            !ids_of(addr, "c1_").await.is_empty()
        })
        .await,
        "the single-use node registered again after the restart"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

gearman_testkit::on_both_servers!(
    two_ci_hosts_share_one_server,
    sighup_retires_a_removed_node_and_brings_back_a_single_use_one,
    a_server_restart_mid_single_use_build_leaves_the_node_offline,
);
