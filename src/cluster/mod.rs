//! The cluster watchers (design.md §2: the only module that watches). kube-runtime watchers on
//! the workload cluster (Pods, ReplicaSets, Deployments, StatefulSets, DaemonSets, Jobs,
//! CronJobs, Events, Nodes, PVCs, LimitRanges, ResourceQuotas, and Argo Rollouts when that CRD is served) and,
//! through a second client because Argo CD may run in a management cluster, on Applications
//! and ApplicationSets in the Argo CD namespace.
//!
//! Each change touches the root of its owner chain; after a short debounce that root's slice is
//! detected alone and new findings go to the runner as [`Inbound::Findings`]. No polling and no
//! whole-cluster detection per event.

mod detect;
mod store;
mod watch;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{LimitRange, Node, PersistentVolumeClaim, Pod, ResourceQuota};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

pub use detect::belongs;
pub use store::{Key, Kind, Ready, Root, Tables};

use crate::clock::Clock;
use crate::incident::event::Inbound;
use crate::objref::ObjectRef;
use crate::state::{ClusterState, slim};
use store::{Change, Stored, Touched};

/// What to watch and how.
#[derive(Clone, Debug)]
pub struct WatchConfig {
    /// Only these namespaces (empty: all); from `policy.include_namespaces`.
    pub include_namespaces: Vec<String>,
    /// Never these; from `policy.exclude_namespaces`.
    pub exclude_namespaces: Vec<String>,
    /// Where the Applications and ApplicationSets live (`argocd.namespace`).
    pub argocd_namespace: String,
    /// Changes to one workload within this window are detected once.
    pub debounce: Duration,
}

impl Default for WatchConfig {
    fn default() -> Self {
        WatchConfig {
            include_namespaces: Vec::new(),
            exclude_namespaces: Vec::new(),
            argocd_namespace: "argocd".into(),
            debounce: Duration::from_millis(200),
        }
    }
}

impl WatchConfig {
    pub fn from_config(config: &crate::config::Config) -> WatchConfig {
        WatchConfig {
            include_namespaces: config.policy.include_namespaces.clone(),
            exclude_namespaces: config.policy.exclude_namespaces.clone(),
            argocd_namespace: config.argocd.namespace.clone(),
            ..WatchConfig::default()
        }
    }
}

/// The namespaces whose objects are stored; cluster-scoped objects always are.
#[derive(Clone, Debug, Default)]
struct NamespaceFilter {
    include: Vec<String>,
    exclude: Vec<String>,
}

impl NamespaceFilter {
    fn allows(&self, namespace: Option<&str>) -> bool {
        let Some(ns) = namespace.filter(|n| !n.is_empty()) else {
            return true;
        };
        let included = self.include.is_empty() || self.include.iter().any(|i| i == ns);
        included && !self.exclude.iter().any(|e| e == ns)
    }
}

/// What the watch tasks and the detection task share.
struct Shared {
    tables: RwLock<Tables>,
    /// Roots waiting for detection, with when they were first touched and whether only
    /// through their context (then their findings are sent again even if unchanged).
    pending: Mutex<HashMap<Root, (Instant, bool)>>,
    wake: Notify,
    ready: Vec<AtomicBool>,
    /// Lists after a watcher's first (a 410 Gone, a desynced watch).
    relists: AtomicU64,
    filter: NamespaceFilter,
    debounce: Duration,
}

/// Roots whose window has passed, and when the next one's does.
struct Due {
    ready: Vec<Touched>,
    next: Option<Instant>,
}

impl Shared {
    fn tables(&self) -> RwLockReadGuard<'_, Tables> {
        self.tables.read().unwrap_or_else(|p| p.into_inner())
    }

    fn feed<T: Stored>(&self, change: Change<T>) {
        let roots = {
            let mut tables = self.tables.write().unwrap_or_else(|p| p.into_inner());
            tables.feed(change)
        };
        if roots.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        // Before every watcher has listed, the first detection sends everything anyway: a
        // context touch then is the initial list, not a change.
        let synced = self.all_ready();
        for t in roots {
            let entry = pending.entry(t.root).or_insert((now, false));
            entry.1 |= t.context && synced;
        }
        drop(pending);
        self.wake.notify_one();
    }

    fn set_ready(&self, slot: usize) {
        if let Some(flag) = self.ready.get(slot) {
            flag.store(true, Ordering::Release);
        }
        self.wake.notify_one();
    }

    fn all_ready(&self) -> bool {
        self.ready.iter().all(|r| r.load(Ordering::Acquire))
    }

    /// Takes the roots due at `now`. Nothing is due before every watcher has listed once: a
    /// slice detected mid-list could miss the owner or the pods of a workload.
    fn take_due(&self, now: Instant) -> Due {
        if !self.all_ready() {
            return Due {
                ready: Vec::new(),
                next: None,
            };
        }
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let mut ready = Vec::new();
        let mut next: Option<Instant> = None;
        pending.retain(|root, (first, context)| {
            let at = *first + self.debounce;
            if at <= now {
                ready.push(Touched {
                    root: root.clone(),
                    context: *context,
                });
                false
            } else {
                next = Some(next.map_or(at, |n| n.min(at)));
                true
            }
        });
        ready.sort();
        Due { ready, next }
    }
}

/// The running watchers and their stores.
pub struct Cluster {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

/// Readiness slots, one per watcher.
const WATCHERS: usize = 15;

impl Cluster {
    /// Starts every watcher (on the current tokio runtime); findings go to `tx` as
    /// [`Inbound::Findings`]. `argocd` is the client of the cluster Argo CD runs in.
    pub fn start(
        workloads: kube::Client,
        argocd: kube::Client,
        cfg: WatchConfig,
        clock: Clock,
        tx: tokio::sync::mpsc::Sender<Inbound>,
    ) -> Cluster {
        let shared = Arc::new(Shared {
            tables: RwLock::new(Tables::default()),
            pending: Mutex::new(HashMap::new()),
            wake: Notify::new(),
            ready: (0..WATCHERS).map(|_| AtomicBool::new(false)).collect(),
            relists: AtomicU64::new(0),
            filter: NamespaceFilter {
                include: cfg.include_namespaces.clone(),
                exclude: cfg.exclude_namespaces.clone(),
            },
            debounce: cfg.debounce,
        });
        let mut tasks = Vec::new();
        let w = &workloads;
        let s = &shared;
        let mut spawn = |f: Watching| tasks.push(tokio::spawn(f));
        spawn(Box::pin(watch::run(
            Api::<Pod>::all(w.clone()),
            s.clone(),
            0,
            true,
            |o| Some(slim::pod(o)),
        )));
        spawn(Box::pin(watch::run(
            Api::<ReplicaSet>::all(w.clone()),
            s.clone(),
            1,
            true,
            |o| Some(slim::replica_set(o)),
        )));
        spawn(Box::pin(watch::run(
            Api::<Deployment>::all(w.clone()),
            s.clone(),
            2,
            true,
            |o| Some(slim::deployment(o)),
        )));
        spawn(Box::pin(watch::run(
            Api::<StatefulSet>::all(w.clone()),
            s.clone(),
            3,
            true,
            |o| Some(slim::stateful_set(o)),
        )));
        spawn(Box::pin(watch::run(
            Api::<DaemonSet>::all(w.clone()),
            s.clone(),
            4,
            true,
            |o| Some(slim::daemon_set(o)),
        )));
        spawn(Box::pin(watch::run(
            Api::<Job>::all(w.clone()),
            s.clone(),
            5,
            true,
            |o| Some(slim::job(o)),
        )));
        spawn(Box::pin(watch::run(
            Api::<CronJob>::all(w.clone()),
            s.clone(),
            6,
            true,
            |o| Some(slim::cron_job(o)),
        )));
        spawn(Box::pin(watch::run(
            Api::all(w.clone()),
            s.clone(),
            7,
            true,
            watch::event,
        )));
        spawn(Box::pin(watch::run(
            Api::<Node>::all(w.clone()),
            s.clone(),
            8,
            false,
            watch::node,
        )));
        spawn(Box::pin(watch::run(
            Api::<PersistentVolumeClaim>::all(w.clone()),
            s.clone(),
            9,
            true,
            |o| Some(slim::meta_of(o)),
        )));
        spawn(Box::pin(watch::run(
            Api::<LimitRange>::all(w.clone()),
            s.clone(),
            10,
            true,
            |o| Some(slim::meta_of(o)),
        )));
        let ns = cfg.argocd_namespace.as_str();
        let apps = ApiResource::from_gvk(&argo_gvk("Application"));
        spawn(Box::pin(watch::run(
            Api::<DynamicObject>::namespaced_with(argocd.clone(), ns, &apps),
            s.clone(),
            11,
            false,
            watch::custom::<crate::gitops::argocd::Application>,
        )));
        let sets = ApiResource::from_gvk(&argo_gvk("ApplicationSet"));
        spawn(Box::pin(watch::run(
            Api::<DynamicObject>::namespaced_with(argocd, ns, &sets),
            s.clone(),
            12,
            false,
            watch::custom::<crate::gitops::argocd::ApplicationSet>,
        )));
        spawn(Box::pin(watch::run(
            Api::<ResourceQuota>::all(w.clone()),
            s.clone(),
            14,
            true,
            |o| Some(slim::meta_of(o)),
        )));
        spawn(Box::pin(rollouts(workloads, s.clone(), 13)));
        spawn(Box::pin(detect::run(shared.clone(), clock, tx)));
        Cluster { shared, tasks }
    }

    /// True once every watcher has listed once (for /readyz).
    pub fn ready(&self) -> bool {
        self.shared.all_ready()
    }

    /// How many times a watcher listed again after its first list (410 Gone after falling
    /// behind the API server's history, mostly).
    pub fn relists(&self) -> u64 {
        self.shared.relists.load(Ordering::Relaxed)
    }

    /// The slice of the cluster around one object: the root of its owner chain and everything
    /// that root controls down to pods, their events, the nodes the pods run on, the
    /// namespace's LimitRanges, ResourceQuotas and PVCs, and every Application, ApplicationSet and Rollout.
    pub fn slice(&self, object: &ObjectRef) -> ClusterState {
        let tables = self.shared.tables();
        match tables.root_of_ref(object) {
            Some(root) => tables.slice(&root),
            None => ClusterState::default(),
        }
    }

    /// Every node, for the checks that ask whether some node has room (a workload's slice
    /// holds only the nodes its pods run on).
    pub fn nodes(&self) -> Vec<k8s_openapi::api::core::v1::Node> {
        self.shared
            .tables()
            .nodes
            .all()
            .map(std::borrow::Cow::into_owned)
            .collect()
    }

    /// Names and resourceVersions of the stored objects of `kind`, sorted by namespace/name
    /// (to compare the stores with what the API server lists).
    pub fn versions(&self, kind: Kind) -> Vec<(Key, String)> {
        let t = self.shared.tables();
        match kind {
            Kind::Pod => t.pods.versions(),
            Kind::ReplicaSet => t.replica_sets.versions(),
            Kind::Deployment => t.deployments.versions(),
            Kind::StatefulSet => t.stateful_sets.versions(),
            Kind::DaemonSet => t.daemon_sets.versions(),
            Kind::Job => t.jobs.versions(),
            Kind::CronJob => t.cron_jobs.versions(),
            Kind::Rollout => t.rollouts.versions(),
            Kind::Event => t.events.versions(),
            Kind::Node => t.nodes.versions(),
            Kind::Pvc => t.pvcs.versions(),
            Kind::LimitRange => t.limit_ranges.versions(),
            Kind::ResourceQuota => t.resource_quotas.versions(),
            Kind::Application => t.applications.versions(),
            Kind::ApplicationSet => t.application_sets.versions(),
        }
    }

    /// Stops every watcher and the detection task.
    pub async fn shutdown(self) {
        for task in &self.tasks {
            task.abort();
        }
        for task in self.tasks {
            // Aborted tasks end with a cancellation error; nothing to report.
            let _ = task.await;
        }
    }
}

type Watching = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

fn argo_gvk(kind: &str) -> GroupVersionKind {
    GroupVersionKind::gvk("argoproj.io", "v1alpha1", kind)
}

/// Argo Rollouts, when the workload cluster serves the CRD: discovery first (retried with
/// backoff while the API server does not answer); not served means no watcher, and ready.
async fn rollouts(client: kube::Client, shared: Arc<Shared>, slot: usize) {
    let gvk = argo_gvk("Rollout");
    let mut wait = Duration::from_millis(200);
    let resource = loop {
        match kube::discovery::pinned_kind(&client, &gvk).await {
            Ok((resource, _)) => break resource,
            Err(kube::Error::Api(status)) if status.is_not_found() => {
                return unserved(&shared, slot);
            }
            Err(kube::Error::Discovery(_)) => return unserved(&shared, slot),
            Err(e) => {
                tracing::warn!(error = %e, "discovery of argoproj.io Rollouts failed; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(30));
            }
        }
    };
    let api = Api::<DynamicObject>::all_with(client, &resource);
    tracing::info!("watching argoproj.io Rollouts");
    watch::run(
        api,
        shared,
        slot,
        true,
        watch::custom::<crate::state::Rollout>,
    )
    .await;
}

fn unserved(shared: &Shared, slot: usize) {
    tracing::info!("argoproj.io Rollouts are not served; not watching them");
    shared.set_ready(slot);
}
