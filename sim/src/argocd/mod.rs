//! A simulated Argo CD: Applications and ApplicationSets are custom resources of the simulated
//! API server; a controller renders each app's source from the simulated Git remote, applies
//! the objects with Argo CD's tracking marks and maintains the status Argo CD writes
//! (`sync`, `health`, `resources`, `operationState`, `history`, `conditions`).
//!
//! ```no_run
//! # async fn demo(repos: suture_sim::git::RepoStore) -> std::io::Result<()> {
//! use suture_sim::argocd::{ArgoSim, Settings, registry};
//! use suture_sim::kube::{Config, SimKube};
//! let settings = Settings::default();
//! let kube = SimKube::start(Config { registry: registry(&settings), ..Config::default() })?;
//! let argo = ArgoSim::start(kube.store().clone(), repos, settings);
//! argo.refresh(); // one deterministic pass over every app (the loop also polls)
//! argo.sync_now("argocd", "web").ok(); // like `argocd app sync web`
//! argo.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Simulation limits, documented: Helm is rendered through declared bindings (`render::helm`);
//! Kustomize supports the features listed in `render::kustomize` and refuses the rest; sync
//! hooks, retries, sync windows and projects are not modelled; the diff is "every manifest
//! field has its value live" (server defaults are not drift); a new commit that renders the
//! same objects leaves the app Synced without a new sync, as in Argo CD.

pub mod apply;
pub mod appset;
pub mod health;
pub mod render;
pub mod settings;
pub mod status;
pub mod sync;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use render::helm::{HelmBinding, HelmChart};
pub use settings::{Settings, TrackingMethod, registry};

use crate::git::RepoStore;
use crate::kube::Store;
use sync::Controller;

/// A running simulated Argo CD: a poll thread rather than a server (it serves through the API
/// server's Application resources), started and stopped like the servers: `start`,
/// `shutdown().await`, or drop.
pub struct ArgoSim {
    controller: Arc<Controller>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ArgoSim {
    /// Starts the controller over `store` (which must serve argoproj.io Applications; start the
    /// API server with [`registry`] for the pre-3.1 CRD and the common manifest kinds).
    pub fn start(store: Store, repos: RepoStore, settings: Settings) -> ArgoSim {
        let app_res = store
            .res("argoproj.io/v1alpha1", "Application")
            .expect("Application kind registered");
        let appset_res = store
            .res("argoproj.io/v1alpha1", "ApplicationSet")
            .expect("ApplicationSet kind registered");
        let interval = settings.poll_interval.max(Duration::from_millis(10));
        let controller = Arc::new(Controller {
            store,
            repos,
            settings,
            app_res,
            appset_res,
            lock: Mutex::new(()),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (c, stop) = (controller.clone(), stop.clone());
            std::thread::Builder::new()
                .name("argocd-sim".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        c.reconcile_all();
                        let until = Instant::now() + interval;
                        while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                            std::thread::sleep(Duration::from_millis(10).min(interval));
                        }
                    }
                })
                .ok()
        };
        ArgoSim {
            controller,
            stop,
            thread,
        }
    }

    /// One full pass: ApplicationSets, then every Application refreshed (and auto-synced).
    pub fn refresh(&self) {
        self.controller.reconcile_all();
    }

    /// Refreshes one app (auto-syncing it if its policy says so).
    pub fn refresh_app(&self, namespace: &str, name: &str) -> Result<(), String> {
        self.controller.reconcile(namespace, name, false)
    }

    /// Syncs one app now, whatever its policy (like `argocd app sync`).
    pub fn sync_now(&self, namespace: &str, name: &str) -> Result<(), String> {
        self.controller.reconcile(namespace, name, true)
    }

    pub fn settings(&self) -> &Settings {
        &self.controller.settings
    }

    /// Stops the poll thread and waits for it (off the async runtime: a pass may be running).
    pub async fn shutdown(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}

impl Drop for ArgoSim {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
