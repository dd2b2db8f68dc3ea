//! `gearmanctl ci`: a CI host that runs shell commands, behind the Jenkins plugin's contract.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ci_functions::{
    AbortOutcome, BuildBook, BuildRequest, BuildResult, CiHost, Expr, Generation, HostNode, Label,
    ManagerName, NodeInfo, NodeMode, ProjectInfo, ProjectName, Runner, RunningBuild,
};
use clap::Args;
use gearman_client::{AdminClient, Client};
use serde::Deserialize;
use tokio::sync::oneshot;

/// Options of `gearmanctl ci`.
#[derive(Debug, Args)]
pub(crate) struct CiArgs {
    /// The host's TOML configuration (re-read on SIGHUP).
    #[arg(long)]
    config: PathBuf,
    /// Only check the configured servers (ECHO and admin `version`) and exit.
    #[arg(long)]
    check: bool,
    /// Serve Prometheus metrics (builds by result, executors busy and idle, registrations) on
    /// `GET http://ADDR/metrics`; port 0 picks a free one, printed as `metrics on URL`.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GearmanSection {
    servers: Vec<String>,
    manager: String,
    url: Option<String>,
    log_dir: Option<PathBuf>,
    /// `[gearman.tls]`: `ca`, optional `cert` and `key`, optional `server_name`.
    tls: Option<crate::tls::TlsArgs>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeSection {
    name: String,
    #[serde(default)]
    labels: Vec<String>,
    #[serde(default = "one")]
    executors: usize,
    #[serde(default)]
    mode: Mode,
    #[serde(default = "yes")]
    online: bool,
}

#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Mode {
    #[default]
    Normal,
    Exclusive,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectSection {
    name: String,
    label: Option<String>,
    #[serde(default)]
    disabled: bool,
    command: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    gearman: GearmanSection,
    #[serde(default, rename = "node")]
    nodes: Vec<NodeSection>,
    #[serde(default, rename = "project")]
    projects: Vec<ProjectSection>,
}

fn one() -> usize {
    1
}

fn yes() -> bool {
    true
}

/// A validated configuration.
#[derive(Clone, Debug)]
struct Loaded {
    servers: Vec<String>,
    tls: Option<gearman_client::TlsOptions>,
    manager: ManagerName,
    url: Option<String>,
    log_dir: PathBuf,
    nodes: Vec<HostNode>,
    projects: Vec<(ProjectInfo, String)>,
}

fn load(path: &Path) -> Result<Loaded, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let c: Config = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let manager = ManagerName::new(c.gearman.manager.clone()).map_err(|e| e.to_string())?;
    let mut nodes = Vec::new();
    for n in c.nodes {
        let labels = n
            .labels
            .iter()
            .map(|l| Label::new(l.clone()))
            .collect::<Result<BTreeSet<_>, _>>()
            .map_err(|e| format!("node {}: {e}", n.name))?;
        nodes.push(HostNode {
            info: NodeInfo {
                name: Label::new(n.name.clone()).map_err(|e| e.to_string())?,
                labels,
                mode: match n.mode {
                    Mode::Normal => NodeMode::Normal,
                    Mode::Exclusive => NodeMode::Exclusive,
                },
                online: n.online,
            },
            executors: n.executors,
        });
    }
    let mut projects = Vec::new();
    for p in c.projects {
        let label = match &p.label {
            Some(l) => Some(Expr::parse(l).map_err(|e| format!("project {}: {e}", p.name))?),
            None => None,
        };
        let info = ProjectInfo {
            name: ProjectName::new(p.name.clone()).map_err(|e| e.to_string())?,
            label,
            disabled: p.disabled,
        };
        projects.push((info, p.command));
    }
    let log_dir = c
        .gearman
        .log_dir
        .unwrap_or_else(|| std::env::temp_dir().join(format!("gearmanctl-ci-{manager}")));
    let tls = match &c.gearman.tls {
        Some(t) if t.ca.is_none() => {
            return Err(format!("{}: [gearman.tls] needs ca", path.display()))
        }
        Some(t) => t
            .options()
            .map_err(|e| format!("{}: {e}", path.display()))?,
        None => None,
    };
    Ok(Loaded {
        servers: c.gearman.servers,
        tls,
        manager,
        url: c.gearman.url,
        log_dir,
        nodes,
        projects,
    })
}

type Builds = BuildBook<oneshot::Sender<()>>;

/// Runs each build as `sh -c COMMAND` with its parameters in the environment.
struct ShellHost {
    config: Mutex<Loaded>,
    offline: Mutex<BTreeSet<Label>>,
    builds: Arc<Mutex<Builds>>,
    generation: Generation,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct HostError(String);

impl ShellHost {
    fn config(&self) -> std::sync::MutexGuard<'_, Loaded> {
        self.config.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn builds(&self) -> std::sync::MutexGuard<'_, Builds> {
        self.builds.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new configuration. A node a single-use build took offline stays offline (nodepool
    /// deletes such nodes; the file may list it until then) unless this file re-enables it:
    /// it was missing or `online = false` in the old file and is listed online in the new one.
    fn reload(&self, loaded: Loaded) {
        let mut config = self.config();
        let was_listed_online = |name: &Label| {
            config
                .nodes
                .iter()
                .any(|n| n.info.name == *name && n.info.online)
        };
        let re_enabled: BTreeSet<Label> = loaded
            .nodes
            .iter()
            .filter(|n| n.info.online && !was_listed_online(&n.info.name))
            .map(|n| n.info.name.clone())
            .collect();
        let listed: BTreeSet<Label> = loaded.nodes.iter().map(|n| n.info.name.clone()).collect();
        *config = loaded;
        drop(config);
        self.offline
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|name| listed.contains(name) && !re_enabled.contains(name));
        self.generation.bump();
    }
}

#[async_trait::async_trait]
impl CiHost for ShellHost {
    type Error = HostError;

    fn manager(&self) -> ManagerName {
        self.config().manager.clone()
    }

    async fn projects(&self) -> Result<Vec<ProjectInfo>, HostError> {
        Ok(self
            .config()
            .projects
            .iter()
            .map(|(p, _)| p.clone())
            .collect())
    }

    async fn nodes(&self) -> Result<Vec<HostNode>, HostError> {
        let offline = self
            .offline
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut nodes = self.config().nodes.clone();
        for n in nodes.iter_mut().filter(|n| offline.contains(&n.info.name)) {
            n.info.online = false;
        }
        Ok(nodes)
    }

    async fn start_build(&self, request: BuildRequest) -> Result<RunningBuild, HostError> {
        let (command, url, log_dir) = {
            let c = self.config();
            let command = c
                .projects
                .iter()
                .find(|(p, _)| p.name == request.project && !p.disabled)
                .map(|(_, cmd)| cmd.clone())
                .ok_or_else(|| HostError(format!("no buildable project {}", request.project)))?;
            (command, c.url.clone(), c.log_dir.clone())
        };
        let project = request.project.clone();
        let (abort_tx, abort_rx) = oneshot::channel();
        let number = self.builds().start(&project, abort_tx);
        let log_path = log_dir.join(project.as_str()).join(format!("{number}.log"));
        let files = std::fs::create_dir_all(log_dir.join(project.as_str()))
            .and_then(|()| std::fs::File::create(&log_path))
            .and_then(|log| Ok((log.try_clone()?, log)));
        let (err, log) = match files {
            Ok(files) => files,
            Err(e) => {
                self.builds().ended(&project, number);
                return Err(HostError(format!("{}: {e}", log_path.display())));
            }
        };
        let mut cmd = tokio::process::Command::new("sh");
        cmd.arg("-c")
            .arg(&command)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .kill_on_drop(true);
        for (k, v) in &request.params {
            let valid = !k.is_empty() && !k.contains('=') && !k.contains('\0');
            if let (true, Some(v)) = (valid, v.as_ref().filter(|v| !v.contains('\0'))) {
                cmd.env(k, v);
            }
        }
        cmd.env("JOB_NAME", project.as_str())
            .env("BUILD_NUMBER", number.to_string())
            .env("NODE_NAME", request.node.as_str());
        let mut child = match cmd.spawn() {
            Ok(child) => child,
            Err(e) => {
                self.builds().ended(&project, number);
                return Err(HostError(format!("sh: {e}")));
            }
        };
        let builds = self.builds.clone();
        let ended = project.clone();
        Ok(RunningBuild {
            number,
            url: url.map(|u| {
                format!(
                    "{}job/{project}/{number}/",
                    u.trim_end_matches('/').to_owned() + "/"
                )
            }),
            estimated: None,
            finished: Box::pin(async move {
                let result = tokio::select! {
                    status = child.wait() => match status {
                        Ok(s) if s.success() => BuildResult::Success,
                        _ => BuildResult::Failure,
                    },
                    Ok(()) = abort_rx => {
                        let _ = child.kill().await;
                        BuildResult::Aborted
                    }
                };
                builds
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .ended(&ended, number);
                result
            }),
        })
    }

    async fn abort_build(
        &self,
        project: &ProjectName,
        number: u64,
    ) -> Result<AbortOutcome, HostError> {
        let (outcome, stop) = self.builds().abort(project, number);
        if let Some(tx) = stop {
            let _ = tx.send(());
        }
        Ok(outcome)
    }

    async fn set_description(
        &self,
        project: &ProjectName,
        number: u64,
        html: Option<String>,
    ) -> Result<bool, HostError> {
        Ok(self.builds().describe(project, number, html))
    }

    async fn set_node_offline(&self, node: &Label) -> Result<(), HostError> {
        self.offline
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(node.clone());
        Ok(())
    }

    async fn changed(&self) {
        self.generation.changed().await;
    }
}

/// "Test Connection", done safely: only the configured servers are contacted.
async fn check(loaded: &Loaded) -> ExitCode {
    let mut ok = true;
    for server in &loaded.servers {
        let mut admin = AdminClient::new(server.clone(), Duration::from_secs(5));
        let mut client = Client::builder();
        if let Some(tls) = &loaded.tls {
            admin = admin.with_tls(tls.clone());
            client = client.tls(tls.clone());
        }
        let client = client
            .server(server.clone())
            .connect_timeout(Duration::from_secs(5))
            .request_timeout(Duration::from_secs(5))
            .spawn();
        let echo = match client {
            Ok(c) => {
                for _ in 0..250 {
                    if c.connected() > 0 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                c.echo("gearmanctl ci --check")
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
            Err(e) => Err(e.to_string()),
        };
        let version = admin.version().await.map_err(|e| e.to_string());
        match (&echo, &version) {
            (Ok(()), Ok(v)) => println!("{server}: ok (ECHO answered, version {v})"),
            _ => {
                ok = false;
                println!(
                    "{server}: FAILED (echo: {}, version: {})",
                    echo.as_ref().err().map_or("ok", String::as_str),
                    version.as_ref().err().map_or("ok", String::as_str)
                );
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

pub(crate) async fn run(args: CiArgs) -> Result<ExitCode, String> {
    let loaded = load(&args.config)?;
    if args.check {
        return Ok(check(&loaded).await);
    }
    let servers = loaded.servers.clone();
    let tls = loaded.tls.clone();
    let host = Arc::new(ShellHost {
        config: Mutex::new(loaded),
        offline: Mutex::new(BTreeSet::new()),
        builds: Arc::new(Mutex::new(Builds::default())),
        generation: Generation::new(),
    });
    let configure: ci_functions::ConfigureWorker = Arc::new(move |b| match &tls {
        Some(tls) => b.tls(tls.clone()),
        None => b,
    });
    let runner = match &args.metrics {
        Some(addr) => {
            let listener = crate::metrics::bind(addr).await?;
            let metrics = Arc::new(crate::metrics::CiMetrics::new());
            let runner = Runner::start_observed(host.clone(), servers, configure, metrics.clone())
                .await
                .map_err(|e| e.to_string())?;
            let runner = Arc::new(runner);
            let bound = crate::metrics::serve(listener, metrics, runner.clone())?;
            println!("metrics on http://{bound}/metrics");
            runner
        }
        None => Arc::new(
            Runner::start_with(host.clone(), servers, configure)
                .await
                .map_err(|e| e.to_string())?,
        ),
    };
    tracing::info!(config = %args.config.display(), "ci host running");
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = signal(SignalKind::hangup()).map_err(|e| e.to_string())?;
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    loop {
        tokio::select! {
            _ = hup.recv() => match load(&args.config) {
                Ok(loaded) => {
                    tracing::info!("configuration re-read");
                    host.reload(loaded);
                }
                Err(e) => tracing::warn!(error = %e, "configuration not re-read"),
            },
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    runner.shutdown(Duration::from_secs(30)).await;
    Ok(ExitCode::SUCCESS)
}
