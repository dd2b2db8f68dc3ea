//! `gearmanctl demo`: everything in one process, nothing to install. An embedded job server,
//! two CI masters sharing it, and a Zuul-like scheduler that submits a burst of builds, stops
//! one, and marks a node single-use; it prints who ran what, then a summary.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ci_functions::memory::MemoryHost;
use ci_functions::{
    BuildResult, Expr, HostNode, Label, ManagerName, NodeInfo, NodeMode, ProjectInfo, ProjectName,
    Runner,
};
use gearman_client::{AdminClient, Client, Job, JobEvent, JobOutcome};
use gearman_proto::{FunctionName, UniqueId, WorkUpdate};
use gearman_server::{CoreConfig, Server};
use serde_json::Value;

fn node(name: &str, labels: &[&str], executors: usize) -> Result<HostNode, String> {
    Ok(HostNode {
        info: NodeInfo {
            name: Label::new(name).map_err(|e| e.to_string())?,
            labels: labels
                .iter()
                .map(|l| Label::new(*l).map_err(|e| e.to_string()))
                .collect::<Result<_, _>>()?,
            mode: NodeMode::Normal,
            online: true,
        },
        executors,
    })
}

fn projects() -> Result<Vec<ProjectInfo>, String> {
    [
        ("py27", Some("trusty || xenial")),
        ("docs", None),
        ("pep8", None),
        ("integration", Some("xenial && !bare")),
    ]
    .into_iter()
    .map(|(name, label)| {
        Ok(ProjectInfo {
            name: ProjectName::new(name).map_err(|e| e.to_string())?,
            label: label
                .map(Expr::parse)
                .transpose()
                .map_err(|e| e.to_string())?,
            disabled: false,
        })
    })
    .collect()
}

/// Ends each running build after a short, varying time, except `integration` builds, which
/// run until stopped.
fn drive(host: MemoryHost) {
    tokio::spawn(async move {
        let mut scheduled = HashSet::new();
        loop {
            for (project, number) in host.running() {
                if project.as_str() == "integration" || !scheduled.insert((project.clone(), number))
                {
                    continue;
                }
                let host = host.clone();
                tokio::spawn(async move {
                    let ms = 150 + (number * 97 + project.as_str().len() as u64 * 31) % 500;
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    let result = if (number + project.as_str().len() as u64).is_multiple_of(3) {
                        BuildResult::Failure
                    } else {
                        BuildResult::Success
                    };
                    host.finish(&project, number, result);
                });
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    });
}

fn f(name: &str) -> Result<FunctionName, String> {
    FunctionName::try_from(name).map_err(|e| e.to_string())
}

#[derive(Default)]
struct Tally {
    by_master: BTreeMap<String, usize>,
    by_node: BTreeMap<String, usize>,
    by_result: BTreeMap<String, usize>,
}

pub(crate) async fn run() -> Result<ExitCode, String> {
    let started = Instant::now();
    let server = Server::bind("127.0.0.1:0", CoreConfig::default())
        .await
        .map_err(|e| e.to_string())?;
    let addr = server.local_addr().to_string();
    println!("embedded job server on {addr}");

    let ci01 = MemoryHost::new(
        ManagerName::new("ci01").map_err(|e| e.to_string())?,
        projects()?,
        vec![
            node("trusty-1", &["trusty"], 2)?,
            node("trusty-2", &["trusty"], 1)?,
        ],
    );
    let ci02 = MemoryHost::new(
        ManagerName::new("ci02").map_err(|e| e.to_string())?,
        projects()?,
        vec![
            node("xenial-1", &["xenial"], 2)?,
            node("bare-1", &["xenial", "bare"], 1)?,
        ],
    );
    let r1 = Runner::start(Arc::new(ci01.clone()), vec![addr.clone()])
        .await
        .map_err(|e| e.to_string())?;
    let r2 = Runner::start(Arc::new(ci02.clone()), vec![addr.clone()])
        .await
        .map_err(|e| e.to_string())?;
    drive(ci01.clone());
    drive(ci02.clone());
    println!(
        "masters ci01 (trusty-1 x2, trusty-2 x1) and ci02 (xenial-1 x2, bare-1 x1) registered"
    );

    let client = Client::builder()
        .server(addr.clone())
        .spawn()
        .map_err(|e| e.to_string())?;
    for _ in 0..250 {
        if client.connected() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // A burst of builds, as Zuul v2 submits them: build:JOB, unique = ZUUL_UUID.
    let burst = [
        "py27",
        "docs",
        "pep8",
        "py27",
        "docs",
        "pep8",
        "py27",
        "docs",
        "integration",
        "pep8",
        "py27",
        "docs",
    ];
    let mut runs = tokio::task::JoinSet::new();
    for (i, project) in burst.iter().enumerate() {
        let uuid = format!("demo{i:04}");
        let params = if i == 6 {
            format!(r#"{{"ZUUL_UUID":"{uuid}","OFFLINE_NODE_WHEN_COMPLETE":"1"}}"#)
        } else {
            format!(r#"{{"ZUUL_UUID":"{uuid}"}}"#)
        };
        // The single-use build goes to a trusty node by its label function, so the node that
        // alone can run `integration` is never the one taken offline.
        let function = if i == 6 {
            format!("build:{project}:trusty")
        } else {
            format!("build:{project}")
        };
        let job = Job::new(f(&function)?, params)
            .unique(UniqueId::try_from(uuid.as_str()).map_err(|e| e.to_string())?)
            .timeout(Duration::from_secs(40));
        let client = client.clone();
        let single_use = i == 6;
        runs.spawn(async move { follow(client, job, single_use).await });
    }

    // Stop the integration build once it runs.
    let mut stopped = false;
    for _ in 0..400 {
        if let Some((_, n)) = ci02
            .running()
            .into_iter()
            .find(|(p, _)| p.as_str() == "integration")
        {
            println!("[zuul] stopping integration #{n} on ci02");
            let stop = Job::new(
                f("stop:ci02")?,
                format!(r#"{{"name":"integration","number":{n}}}"#),
            );
            stopped = client.call(stop).await.is_ok();
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    let mut tally = Tally::default();
    let mut offline_node = None;
    while let Some(done) = runs.join_next().await {
        let Ok(Ok((report, single_use))) = done else {
            println!("[zuul] a build ended without a report: {done:?}");
            continue;
        };
        let s = |k: &str| report[k].as_str().unwrap_or("?").to_string();
        *tally.by_master.entry(s("manager")).or_default() += 1;
        *tally.by_node.entry(s("node_name")).or_default() += 1;
        *tally.by_result.entry(s("result")).or_default() += 1;
        if single_use {
            offline_node = Some(s("node_name"));
        }
    }

    // The single-use node registers nothing any more.
    let admin = AdminClient::new(addr.clone(), Duration::from_secs(5));
    let mut deregistered = false;
    if let Some(node) = &offline_node {
        for _ in 0..200 {
            let rows = admin.workers().await.map_err(|e| e.to_string())?;
            let prefix = format!("{node}_exec-");
            let functions: BTreeSet<String> = rows
                .iter()
                .filter(|r| {
                    r.client_id
                        .as_ref()
                        .is_some_and(|c| c.starts_with(prefix.as_bytes()))
                })
                .flat_map(|r| {
                    r.functions
                        .iter()
                        .map(|f| String::from_utf8_lossy(f).into_owned())
                })
                .collect();
            if functions.is_empty() {
                deregistered = true;
                println!("[{node}] single-use node is offline and registers nothing");
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    println!("\nsummary after {:.1} s", started.elapsed().as_secs_f64());
    for (name, map) in [
        ("master", &tally.by_master),
        ("node", &tally.by_node),
        ("result", &tally.by_result),
    ] {
        let parts: Vec<String> = map.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        println!("  by {name:<7} {}", parts.join(", "));
    }
    r1.shutdown(Duration::from_secs(5)).await;
    r2.shutdown(Duration::from_secs(5)).await;
    let all = tally.by_result.values().sum::<usize>() == burst.len();
    let aborted = tally.by_result.get("ABORTED") == Some(&1);
    let ok = all && aborted && stopped && deregistered;
    println!("  every build reported: {all}; one stopped and ABORTED: {aborted}; single-use node offline: {deregistered}");
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Follows one build and prints its life; returns the final report.
async fn follow(client: Client, job: Job, single_use: bool) -> Result<(Value, bool), String> {
    let mut stream = client.submit(job).await.map_err(|e| e.to_string())?;
    while let Some(event) = stream.next().await {
        match event {
            JobEvent::Progress(WorkUpdate::Data { data, .. }) => {
                let v: Value = serde_json::from_slice(&data).map_err(|e| e.to_string())?;
                println!(
                    "[{}] {} #{} started on {} ({}){}",
                    v["manager"].as_str().unwrap_or("?"),
                    v["name"].as_str().unwrap_or("?"),
                    v["number"],
                    v["node_name"].as_str().unwrap_or("?"),
                    v["worker"].as_str().unwrap_or("?"),
                    if single_use { " [single-use]" } else { "" }
                );
            }
            JobEvent::Done(JobOutcome::Complete(data)) => {
                let v: Value = serde_json::from_slice(&data).map_err(|e| e.to_string())?;
                println!(
                    "[{}] {} #{} on {}: {}",
                    v["manager"].as_str().unwrap_or("?"),
                    v["name"].as_str().unwrap_or("?"),
                    v["number"],
                    v["node_name"].as_str().unwrap_or("?"),
                    v["result"].as_str().unwrap_or("?")
                );
                return Ok((v, single_use));
            }
            JobEvent::Done(other) => return Err(format!("ended {other:?}")),
            JobEvent::Failed(f) => return Err(f.to_string()),
            _ => {}
        }
    }
    Err("no ending".into())
}
