//! `suture serve`: the live loop wired together. Watchers feed the runner's queue, the server
//! feeds it webhooks, a ticker feeds it reconciles; the runner is the only one that acts on
//! incidents. The notifier sends escalations from the ledger's outbox on its own ticker.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::mpsc;

use crate::clock::Clock;
use crate::cluster::{Cluster, WatchConfig};
use crate::config::Settings;
use crate::forge::body::Templates;
use crate::forge::{ForgeSettings, ForgeStats};
use crate::gitops::argocd::ArgoSettings;
use crate::gitops::sync::ArgoApps;
use crate::incident::event::Inbound;
use crate::incident::machine;
use crate::incident::runner::{ForgeEntry, GitIdentity, Runner, RunnerConfig};
use crate::ledger::Ledger;
use crate::notify::Notifier;
use crate::server::{self, AppState, Metrics, Readiness, WebhookSecrets};

/// How often the reconcile runs (missed webhooks, expired pauses, half-done effects), in the
/// clock's time.
const RECONCILE_EVERY: Duration = Duration::from_secs(60);
/// Queue depth between the inputs and the runner; a full queue answers webhooks with 503.
const QUEUE: usize = 1024;

/// A kube client from a kubeconfig file and context, or the default chain (in-cluster, then
/// `$KUBECONFIG`).
pub async fn kube_client(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> anyhow::Result<kube::Client> {
    let options = kube::config::KubeConfigOptions {
        context: context.map(str::to_string),
        ..Default::default()
    };
    let config = match kubeconfig {
        Some(path) => {
            let file = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("reading kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(file, &options).await?
        }
        None if context.is_some() => kube::Config::from_kubeconfig(&options).await?,
        None => kube::Config::infer().await?,
    };
    Ok(kube::Client::try_from(config)?)
}

/// The runner's policy from the configuration.
pub fn runner_config(settings: &Settings, base_dir: &Path) -> RunnerConfig {
    let c = &settings.config;
    let cache_dir = base_dir.join(&c.git.cache_dir);
    RunnerConfig {
        cluster: c.cluster.name.clone(),
        machine: machine::Policy {
            max_open_prs: c.policy.max_open_prs,
            max_new_prs_per_hour: c.policy.max_new_prs_per_hour,
            comment_interval: settings.comment_interval,
            declined_cooldown: settings.declined_cooldown,
        },
        proposal: crate::proposal::Policy {
            cluster: c.cluster.name.clone(),
            ..crate::proposal::Policy::default()
        },
        argo: ArgoSettings {
            instance_label_key: c.argocd.instance_label_key.clone(),
            control_plane_namespace: c.argocd.namespace.clone(),
        },
        pause_ttl: settings.pause_ttl,
        dry_run: c.policy.dry_run,
        include_namespaces: c.policy.include_namespaces.clone(),
        exclude_namespaces: c.policy.exclude_namespaces.clone(),
        forbidden_kinds: c.policy.forbidden_kinds.clone(),
        git: GitIdentity {
            cache_dir,
            author_name: c.git.author_name.clone(),
            author_email: c.git.author_email.clone(),
        },
        windows: crate::incident::verify::Windows {
            window: settings.verification_window,
            deploy_timeout: settings.deploy_timeout,
        },
        auto_merge_reverts: c.policy.auto_merge_reverts,
    }
}

/// The bundled templates, overridden by the configured directory's files of the same names.
pub fn templates(settings: &Settings, base_dir: &Path) -> anyhow::Result<Templates> {
    let Some(dir) = &settings.config.templates_dir else {
        return Ok(Templates::bundled());
    };
    let dir = base_dir.join(dir);
    let mut overrides = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type()?.is_file() {
            overrides.insert(name, std::fs::read_to_string(entry.path())?);
        }
    }
    Ok(Templates::new(overrides)?)
}

/// Everything `suture serve` runs, started.
pub struct Service {
    pub addr: std::net::SocketAddr,
    pub ledger: Ledger,
    pub metrics: Metrics,
    queue: mpsc::Sender<Inbound>,
    cluster: Arc<Cluster>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Service {
    /// Connect, migrate, start the watchers, the runner, the reconcile ticker and the server.
    /// `clock` overrides the configured one (an in-process simulated world).
    pub async fn start(
        settings: &Settings,
        base_dir: &Path,
        clock: Option<Clock>,
        listener: tokio::net::TcpListener,
    ) -> anyhow::Result<Service> {
        let c = &settings.config;
        let clock = clock.unwrap_or_else(|| settings.clock.clone());
        let ledger = Ledger::open(&c.ledger)
            .await
            .context("opening the ledger")?;
        let resolve = |p: &Option<std::path::PathBuf>| p.as_ref().map(|p| base_dir.join(p));
        let workloads = kube_client(
            resolve(&c.cluster.kubeconfig).as_deref(),
            c.cluster.context.as_deref(),
        )
        .await
        .context("connecting to the workload cluster")?;
        let argocd = match (&c.argocd.kubeconfig, &c.argocd.context) {
            (None, None) => workloads.clone(),
            (file, context) => kube_client(resolve(file).as_deref(), context.as_deref())
                .await
                .context("connecting to the Argo CD cluster")?,
        };

        let stats = Arc::new(ForgeStats::default());
        let forges = ForgeSettings::from_settings(settings, &stats)?
            .into_iter()
            .map(ForgeEntry::new)
            .collect::<Result<Vec<_>, _>>()?;
        let metrics = Metrics::new();
        let forge_stats = stats.clone();
        metrics.set_forge_stats(move || {
            vec![server::ForgeStats {
                forge: "all".into(),
                api_calls: forge_stats.calls(),
                rate_limit_remaining: forge_stats
                    .rate_limit_remaining()
                    .and_then(|r| u64::try_from(r).ok()),
            }]
        });

        let (tx, rx) = mpsc::channel(QUEUE);
        let cluster = Arc::new(Cluster::start(
            workloads.clone(),
            argocd.clone(),
            WatchConfig::from_config(c),
            clock.clone(),
            tx.clone(),
        ));
        let slices = cluster.clone();
        let runner = Runner::new(
            runner_config(settings, base_dir),
            ledger.clone(),
            clock.clone(),
            ArgoApps::new(argocd),
            forges,
            templates(settings, base_dir)?,
        )
        .with_slices(Arc::new(move |object| slices.slice(object)))
        .with_nodes({
            let cluster = cluster.clone();
            Arc::new(move || cluster.nodes())
        })
        .with_metrics(metrics.clone())
        .with_workload_client(workloads);
        let runner = match &settings.prometheus {
            Some(p) => runner.with_prometheus(
                crate::prometheus::Prometheus::from_settings(p)
                    .map_err(|e| anyhow::anyhow!("prometheus: {e}"))?,
            ),
            None => runner,
        };
        let mut tasks = vec![tokio::spawn(Arc::new(runner).run(rx))];

        let ticker = tx.clone();
        let wall = clock.wall(RECONCILE_EVERY);
        tasks.push(tokio::spawn(async move {
            let mut every = tokio::time::interval(wall);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                if ticker.send(Inbound::Reconcile).await.is_err() {
                    break;
                }
            }
        }));

        // Notifications run beside the runner, never in it: a receiver that is down delays
        // only its own notifications.
        if let Some(notifier) = Notifier::from_settings(settings, ledger.clone(), clock.clone()) {
            tasks.push(tokio::spawn(Arc::new(notifier).run(crate::notify::EVERY)));
        }

        let ready = Readiness::new();
        let synced = ready.clone();
        let watched = cluster.clone();
        tasks.push(tokio::spawn(async move {
            while !watched.ready() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            synced.set_synced(true);
        }));

        let addr = listener.local_addr()?;
        let state = AppState {
            ledger: ledger.clone(),
            webhooks: WebhookSecrets::from_settings(settings),
            queue: tx.clone(),
            clock,
            ready,
            metrics: metrics.clone(),
            max_body_bytes: usize::try_from(c.webhooks.max_body_bytes).unwrap_or(usize::MAX),
            ack_tokens: settings
                .ack_token
                .iter()
                .map(|t| t.secret.clone())
                .collect(),
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(server::serve(listener, server::router(state), async {
            let _ = stopped.await;
        }));
        Ok(Service {
            addr,
            ledger,
            metrics,
            queue: tx,
            cluster,
            tasks,
            stop: Some(stop),
            server: Some(server),
        })
    }

    /// Ask the runner to reconcile now (tests, and `SIGHUP`-style nudges).
    pub async fn reconcile(&self) {
        let _ = self.queue.send(Inbound::Reconcile).await;
    }

    /// Whether every watcher has listed once.
    pub fn ready(&self) -> bool {
        self.cluster.ready()
    }

    /// Stop serving (in-flight requests finish), then stop the runner and the watchers.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        for task in &self.tasks {
            task.abort();
        }
        if let Ok(cluster) = Arc::try_unwrap(self.cluster) {
            cluster.shutdown().await;
        }
        self.ledger.close().await;
    }
}
