//! The whole simulated world in one process (`suture sim`, tests, later `suture demo`): the
//! Kubernetes API server with controllers on a scaled clock, the simulated Argo CD, and one
//! `RepoStore` served by the Git remote, the GitHub simulator and the GitLab simulator, seeded
//! from a [`Scenario`]; the scenario's [`events`] happen as their triggers come true.

pub mod events;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::argocd::{self, ArgoSim, Settings};
use super::git::RepoStore;
use super::github::GitHubSim;
use super::gitlab::GitLabSim;
use super::kube::controllers::ControllerConfig;
use super::kube::metrics::KubeStateMetrics;
use super::kube::{Config, SimKube, WriteOptions};
use super::scenarios::Scenario;
use super::serve::Sim;

/// The token both forges accept for the bot account.
pub const BOT: &str = "suture-bot";

#[derive(Clone, Debug)]
pub struct Options {
    /// Simulated seconds per wall-clock second.
    pub speed: f64,
    /// Where the Kubernetes API listens; `None`: an ephemeral port on 127.0.0.1.
    pub listen: Option<SocketAddr>,
    /// Where the kubeconfig is written; `None`: a temporary directory kept while running.
    pub dir: Option<PathBuf>,
    /// Which forge hosts the GitOps repository the Application reads (both serve it; this one's
    /// clone URL is the `repoURL`).
    pub forge: Forge,
    /// Changes the API server retains for watches (`None`: the default). A real API server
    /// compacts its history within minutes; a small value makes a watch that falls behind
    /// get 410 Gone and relist, as it would there.
    pub watch_history: Option<usize>,
}

/// The forge whose clone URL the scenario's Application points at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Forge {
    #[default]
    GitHub,
    GitLab,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            speed: 20.0,
            listen: None,
            dir: None,
            forge: Forge::GitHub,
            watch_history: None,
        }
    }
}

/// Every address and credential the world made, for printing and for clients.
#[derive(Clone, Debug)]
pub struct Endpoints {
    pub kube_url: String,
    pub kubeconfig: PathBuf,
    /// kube-state-metrics' `/metrics` for the simulated cluster, for Prometheus to scrape.
    pub metrics_url: String,
    pub github_api: String,
    pub github_token: String,
    pub github_clone_url: String,
    pub gitlab_api: String,
    pub gitlab_token: String,
    pub gitlab_clone_url: String,
    pub git_remote: String,
    pub webhook_secret: String,
    /// `owner/name` and branch of the GitOps repository.
    pub repo: String,
    pub branch: String,
    /// The Application's `spec.source.repoURL`.
    pub repo_url: String,
}

impl std::fmt::Display for Endpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "kubernetes api:   {}", self.kube_url)?;
        writeln!(f, "kubeconfig:       {}", self.kubeconfig.display())?;
        writeln!(f, "metrics:          {}", self.metrics_url)?;
        writeln!(f, "github api:       {}", self.github_api)?;
        writeln!(f, "github token:     {}", self.github_token)?;
        writeln!(f, "github clone url: {}", self.github_clone_url)?;
        writeln!(f, "gitlab api:       {}/api/v4", self.gitlab_api)?;
        writeln!(f, "gitlab token:     {}", self.gitlab_token)?;
        writeln!(f, "gitlab clone url: {}", self.gitlab_clone_url)?;
        writeln!(f, "git remote:       {}", self.git_remote)?;
        writeln!(f, "webhook secret:   {}", self.webhook_secret)?;
        write!(f, "gitops repo:      {} ({})", self.repo, self.branch)
    }
}

pub struct World {
    pub scenario: Scenario,
    pub kube: SimKube,
    pub metrics: KubeStateMetrics,
    pub argo: ArgoSim,
    pub github: GitHubSim,
    pub gitlab: GitLabSim,
    pub repos: RepoStore,
    /// The scenario's seeded commits, in order (anything else on the branch came from outside).
    pub seeded: Vec<String>,
    events: Option<events::EventRunner>,
    endpoints: Endpoints,
    _tmp: Option<tempfile::TempDir>,
}

type Error = Box<dyn std::error::Error + Send + Sync>;

impl World {
    /// Starts every simulator, seeds the scenario and returns once later commits (if any)
    /// have landed on a healthy rollout.
    pub fn start(scenario: Scenario, options: Options) -> Result<World, Error> {
        let repos = RepoStore::temp()?;
        let github = GitHubSim::start_with_store(repos.clone())?;
        let gitlab = GitLabSim::start_with_store(repos.clone())?;
        github.create_repo(scenario.repo, scenario.branch)?;
        gitlab.create_project(scenario.repo, scenario.branch)?;
        // Fresh secrets per run: nothing here is meant to outlive the process.
        let github_token = format!("ghp_{}", uuid::Uuid::new_v4().simple());
        let gitlab_token = format!("glpat-{}", uuid::Uuid::new_v4().simple());
        github.add_token(&github_token, BOT);
        gitlab.add_token(&gitlab_token, BOT);
        let repo_url = match options.forge {
            Forge::GitHub => github.clone_url(scenario.repo),
            Forge::GitLab => gitlab.clone_url(scenario.repo),
        };

        let settings = Settings {
            helm_charts: scenario
                .helm_charts
                .iter()
                .cloned()
                .map(|mut c| {
                    c.repo_url = repo_url.clone();
                    c
                })
                .collect(),
            ..Settings::default()
        };
        let mut namespaces = Config::default().namespaces;
        namespaces.extend(["argocd".to_string(), scenario.namespace.to_string()]);
        let kube = SimKube::start(Config {
            registry: argocd::registry(&settings),
            namespaces,
            controllers: Some(ControllerConfig {
                speed: Some(options.speed),
                nodes: scenario.nodes.clone(),
                behaviours: scenario.behaviours.clone(),
                ..ControllerConfig::default()
            }),
            listen: options.listen,
            admission: scenario.admission.clone(),
            history_limit: options
                .watch_history
                .unwrap_or(super::kube::store::DEFAULT_HISTORY_LIMIT),
            ..Config::default()
        })?;

        let mut seeded = Vec::new();
        let mut commits = scenario.commits.iter();
        if let Some((msg, files)) = commits.next() {
            seeded.push(repos.commit_files(scenario.repo, scenario.branch, files.clone(), msg)?);
        }
        let app_res = kube.store().res("argoproj.io/v1alpha1", "Application")?;
        kube.store().create(
            app_res,
            Some("argocd"),
            scenario.application(&repo_url),
            &WriteOptions::default(),
        )?;
        let argo = ArgoSim::start(kube.store().clone(), repos.clone(), settings);
        for (msg, files) in commits {
            wait_available(&kube, scenario.namespace, scenario.deployment)?;
            seeded.push(repos.commit_files(scenario.repo, scenario.branch, files.clone(), msg)?);
            argo.refresh();
        }
        let clock = kube
            .controllers()
            .map(|c| c.clock().clone())
            .ok_or("the world runs controllers")?;
        let events = events::EventRunner::start(
            kube.store().clone(),
            clock,
            events::Watch {
                app_namespace: "argocd".into(),
                app: scenario.app.into(),
                seeded: seeded.clone(),
            },
            scenario.events.clone(),
        );

        let kube_url = kube.url();
        let metrics = KubeStateMetrics::start(kube.store().clone())?;
        let (dir, tmp) = match options.dir {
            Some(d) => {
                std::fs::create_dir_all(&d)?;
                (d, None)
            }
            None => {
                let t = tempfile::Builder::new().prefix("suture-sim-").tempdir()?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        let kubeconfig = dir.join("kubeconfig");
        std::fs::write(&kubeconfig, kube.kubeconfig(scenario.namespace))?;

        let endpoints = Endpoints {
            kube_url,
            kubeconfig,
            metrics_url: metrics.metrics_url(),
            github_api: github.api_url(),
            github_token,
            github_clone_url: github.clone_url(scenario.repo),
            gitlab_api: gitlab.api_url(),
            gitlab_token,
            gitlab_clone_url: gitlab.clone_url(scenario.repo),
            git_remote: github.git().url(),
            webhook_secret: uuid::Uuid::new_v4().simple().to_string(),
            repo: scenario.repo.to_string(),
            branch: scenario.branch.to_string(),
            repo_url,
        };
        Ok(World {
            scenario,
            kube,
            metrics,
            argo,
            github,
            gitlab,
            repos,
            seeded,
            events,
            endpoints,
            _tmp: tmp,
        })
    }

    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    pub fn kubeconfig_path(&self) -> &Path {
        &self.endpoints.kubeconfig
    }

    /// Stops the world events and Argo CD first (they write to the API server), then the
    /// metrics and the API server, then the forges.
    pub async fn shutdown(self) {
        if let Some(events) = self.events {
            events.shutdown().await;
        }
        self.argo.shutdown().await;
        self.metrics.shutdown().await;
        self.kube.shutdown().await;
        self.github.shutdown().await;
        self.gitlab.shutdown().await;
    }
}

/// Waits (bounded) until the Deployment has an available replica, so the next commit is a
/// rollout from a healthy state.
fn wait_available(kube: &SimKube, ns: &str, name: &str) -> Result<(), Error> {
    let res = kube.store().res("apps/v1", "Deployment")?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let ready = kube
            .store()
            .get(res, Some(ns), name)
            .ok()
            .and_then(|d| {
                d.pointer("/status/availableReplicas")
                    .and_then(Value::as_i64)
            })
            .unwrap_or(0);
        if ready > 0 {
            return Ok(());
        }
        // The cluster runs on the simulators' own threads; this one only waits.
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!("deployment {ns}/{name} did not become available").into())
}
