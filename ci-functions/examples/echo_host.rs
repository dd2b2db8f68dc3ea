//! A CI host in a few lines, run by the runner: one node (`local`, one executor), one project
//! (`hello`), builds that echo their parameters and succeed. It serves `--builds N` builds
//! (default 1), then shuts down and exits 0.
//!
//! ```text
//! GEARMAN_SERVER=127.0.0.1:4730 cargo run -p ci-functions --example echo_host -- --builds 2
//! gearman -f build:hello '{"GREETING":"hi"}'   # twice
//! ```

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ci_functions::{
    AbortOutcome, BuildBook, BuildRequest, BuildResult, CiHost, HostNode, Label, ManagerName,
    NodeInfo, NodeMode, ProjectInfo, ProjectName, Runner, RunningBuild,
};
use tokio::sync::watch;

/// Every build succeeds at once; `done` counts them.
struct EchoHost {
    book: Mutex<BuildBook<()>>,
    done: watch::Sender<usize>,
}

#[derive(Debug, thiserror::Error)]
#[error("echo host: {0}")]
struct EchoError(String);

fn bad(e: impl std::fmt::Display) -> EchoError {
    EchoError(e.to_string())
}

impl EchoHost {
    fn book(&self) -> std::sync::MutexGuard<'_, BuildBook<()>> {
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait::async_trait]
impl CiHost for EchoHost {
    type Error = EchoError;

    fn manager(&self) -> ManagerName {
        ManagerName::new("echo").expect("a valid manager name")
    }

    async fn projects(&self) -> Result<Vec<ProjectInfo>, EchoError> {
        Ok(vec![ProjectInfo {
            name: ProjectName::new("hello").map_err(bad)?,
            label: None,
            disabled: false,
        }])
    }

    async fn nodes(&self) -> Result<Vec<HostNode>, EchoError> {
        Ok(vec![HostNode {
            info: NodeInfo {
                name: Label::new("local").map_err(bad)?,
                labels: BTreeSet::new(),
                mode: NodeMode::Normal,
                online: true,
            },
            executors: 1,
        }])
    }

    async fn start_build(&self, request: BuildRequest) -> Result<RunningBuild, EchoError> {
        let number = self.book().start(&request.project, ());
        let params: Vec<String> = request
            .params
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_deref().unwrap_or("")))
            .collect();
        println!(
            "build {} #{number} on {}: {}",
            request.project,
            request.node,
            params.join(" ")
        );
        self.book().ended(&request.project, number);
        self.done.send_modify(|n| *n += 1);
        Ok(RunningBuild {
            number,
            url: None,
            estimated: None,
            finished: Box::pin(async { BuildResult::Success }),
        })
    }

    async fn abort_build(
        &self,
        project: &ProjectName,
        number: u64,
    ) -> Result<AbortOutcome, EchoError> {
        Ok(self.book().abort(project, number).0)
    }

    async fn set_description(
        &self,
        project: &ProjectName,
        number: u64,
        html: Option<String>,
    ) -> Result<bool, EchoError> {
        Ok(self.book().describe(project, number, html))
    }

    async fn set_node_offline(&self, node: &Label) -> Result<(), EchoError> {
        Err(EchoError(format!("{node} cannot go offline")))
    }
}

fn builds_wanted() -> Result<usize, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => Ok(1),
        [flag, n] if flag == "--builds" => n.parse().map_err(|e| format!("--builds {n}: {e}")),
        _ => Err("usage: echo_host [--builds N]".into()),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let builds = builds_wanted()?;
    let server = std::env::var("GEARMAN_SERVER").unwrap_or_else(|_| "127.0.0.1:4730".into());
    let (done, mut finished) = watch::channel(0);
    let host = Arc::new(EchoHost {
        book: Mutex::new(BuildBook::default()),
        done,
    });
    let runner = Runner::start(host, vec![server.clone()]).await?;
    println!("serving build:hello for manager echo on {server}");
    finished.wait_for(|n| *n >= builds).await?;
    // Lets the last build's WORK_COMPLETE go out before disconnecting.
    runner.shutdown(Duration::from_secs(10)).await;
    println!("served {builds} build(s)");
    Ok(())
}
