//! Helpers shared by the live runner tests: hosts' nodes and projects, admin `workers` read as
//! registrations, and reading a build job's events.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use ci_functions::{Expr, HostNode, Label, NodeInfo, NodeMode, ProjectInfo, ProjectName};
use gearman_client::{AdminClient, JobEvent, JobOutcome, JobStream};
use gearman_proto::FunctionName;
use serde_json::Value;

pub(crate) const WAIT: Duration = Duration::from_secs(10);

pub(crate) fn node(name: &str, labels: &[&str], executors: usize) -> HostNode {
    HostNode {
        info: NodeInfo {
            name: Label::new(name).unwrap(),
            labels: labels.iter().map(|l| Label::new(*l).unwrap()).collect(),
            mode: NodeMode::Normal,
            online: true,
        },
        executors,
    }
}

pub(crate) fn project(name: &str, label: Option<&str>) -> ProjectInfo {
    ProjectInfo {
        name: ProjectName::new(name).unwrap(),
        label: label.map(|l| Expr::parse(l).unwrap()),
        disabled: false,
    }
}

pub(crate) fn pn(name: &str) -> ProjectName {
    ProjectName::new(name).unwrap()
}

pub(crate) fn label(name: &str) -> Label {
    Label::new(name).unwrap()
}

pub(crate) fn f(name: &str) -> FunctionName {
    FunctionName::try_from(name).unwrap()
}

pub(crate) fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// Functions registered per client id, from the admin `workers` listing (connections without
/// a client id left out).
pub(crate) async fn registrations(addr: SocketAddr) -> Vec<(String, BTreeSet<String>)> {
    let admin = AdminClient::new(addr.to_string(), WAIT);
    let mut out: Vec<(String, BTreeSet<String>)> = admin
        .workers()
        .await
        .unwrap()
        .into_iter()
        .filter_map(|w| {
            let id = String::from_utf8_lossy(w.client_id.as_deref()?).into_owned();
            let fs = w
                .functions
                .iter()
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect();
            Some((id, fs))
        })
        .collect();
    out.sort();
    out
}

/// The client ids registered whose name starts with `prefix`.
pub(crate) async fn ids_of(addr: SocketAddr, prefix: &str) -> Vec<String> {
    registrations(addr)
        .await
        .into_iter()
        .filter(|(id, _)| id.starts_with(prefix))
        .map(|(id, _)| id)
        .collect()
}

/// The first WORK_DATA of a build job: its start report.
pub(crate) async fn start_report(stream: &mut JobStream) -> Value {
    loop {
        match tokio::time::timeout(WAIT, stream.next()).await.unwrap() {
            Some(JobEvent::Progress(gearman_proto::WorkUpdate::Data { data, .. })) => {
                return serde_json::from_slice(&data).unwrap()
            }
            Some(JobEvent::Created(_) | JobEvent::Progress(_)) => {}
            other => panic!("expected the start WORK_DATA, got {other:?}"),
        }
    }
}

/// Every event until the stream ends: the terminal ones (Done, Failed) counted, the final
/// report (WORK_COMPLETE) parsed.
pub(crate) async fn ending(stream: &mut JobStream) -> (usize, Option<Value>) {
    let mut terminal = 0;
    let mut report = None;
    while let Some(e) = tokio::time::timeout(WAIT, stream.next()).await.unwrap() {
        match e {
            JobEvent::Done(JobOutcome::Complete(d)) => {
                terminal += 1;
                report = Some(serde_json::from_slice(&d).unwrap());
            }
            JobEvent::Done(_) | JobEvent::Failed(_) => terminal += 1,
            JobEvent::Created(_) | JobEvent::Progress(_) => {}
        }
    }
    (terminal, report)
}
