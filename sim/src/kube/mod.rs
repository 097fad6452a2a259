//! A simulated Kubernetes API server that speaks the real HTTP API (REST, watch, patch,
//! discovery, `Status` errors), so kube-rs and `kubectl` cannot tell it from a real one.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use suture_sim::kube::{Config, SimKube};
//! use suture_sim::Sim as _;
//! let sim = SimKube::start(Config { token: Some("t0ken".into()), ..Config::default() })?;
//! let url = sim.url(); // http://127.0.0.1:PORT, for kube::Config::new(url.parse()?)
//! let store = sim.store(); // the same objects from Rust: create/get/list/patch/delete/watch
//! let pods = store.res("v1", "Pod").unwrap();
//! let _ = store.list(pods, Some("default"), &Default::default());
//! sim.faults().fail_next("/api/v1/namespaces/default/pods", 2); // next two requests: 500
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Extension points for later simulators (controllers, kubelet, Argo CD):
//! - `Store` is the single source of truth; controllers call it in-process and observe it with
//!   `Store::watch` (the same history that HTTP watches replay), and write with `update_with`
//!   (read-modify-write under the lock) or `update` with `WriteOptions::subresource` =
//!   `Subresource::Status`. Typed helpers: `get_as`, `create_as`, `list_as` (k8s-openapi types).
//! - `Registry::add` registers further kinds before `SimKube::start` (`Config::registry`).
//! - `defaults.rs` and `validate.rs` hold per-kind defaulting and validation rules.
//!
//! - `controllers` (opt in with `Config::controllers`) makes it behave like a cluster.
//!
//! Simplifications, documented: deleting a namespace deletes its contents at once; pods are
//! deleted immediately (no kubelet grace period); garbage collection of owned objects only
//! with controllers; lists
//! with `resourceVersionMatch=Exact` are served only for the newest version (else 410).

pub mod admission;
pub mod controllers;
mod convert;
mod defaults;
pub mod discovery;
mod http;
pub mod inject;
mod list;
pub mod metrics;
mod openapi;
mod params;
pub mod patch;
pub mod quota;
pub mod registry;
mod respond;
pub mod selectors;
pub mod status;
pub mod store;
mod stream;
mod table;
mod typed;
pub mod validate;
pub mod watch;
mod write;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::serve::{Server, Sim};

pub use admission::AdmissionPolicy;
pub use inject::Faults;
pub use patch::PatchType;
pub use registry::{Registry, ResId, ResourceType};
pub use status::{ApiError, Reason};
pub use store::{
    DeleteOptions, ListOptions, ListResult, Store, Subresource, WriteOptions, Written,
};
pub use validate::FieldValidation;
pub use watch::{EventType, WatchEvent, WatchOptions, Watcher};

/// How to start the server.
#[derive(Clone, Debug)]
pub struct Config {
    /// Bearer token every request must carry (health and `/version` excepted); `None` = open.
    pub token: Option<String>,
    /// Changes retained for watches; older start versions get 410 Expired.
    pub history_limit: usize,
    /// How often watches with `allowWatchBookmarks=true` get a BOOKMARK.
    pub bookmark_interval: Duration,
    /// A Swagger 2.0 document to serve as `/openapi/v2` (404 when `None`).
    pub openapi_v2: Option<PathBuf>,
    /// Namespaces that exist from the start.
    pub namespaces: Vec<String>,
    pub registry: Registry,
    /// Run the cluster controllers (Deployments, ReplicaSets, scheduler, kubelet, ...) on a
    /// simulated clock; `None`: objects stay as written, like a bare apiserver.
    pub controllers: Option<controllers::ControllerConfig>,
    /// Where to listen (default: an ephemeral port on 127.0.0.1).
    pub listen: Option<SocketAddr>,
    /// Validating admission webhooks (see `admission`); none by default.
    pub admission: Vec<AdmissionPolicy>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            token: None,
            history_limit: store::DEFAULT_HISTORY_LIMIT,
            bookmark_interval: Duration::from_secs(1),
            openapi_v2: None,
            namespaces: ["default", "kube-system", "kube-public", "kube-node-lease"]
                .map(String::from)
                .to_vec(),
            registry: Registry::standard(),
            controllers: None,
            listen: None,
            admission: Vec::new(),
        }
    }
}

/// A running simulated API server on `127.0.0.1:<ephemeral port>` (or `Config::listen`).
pub struct SimKube {
    server: Server,
    store: Store,
    token: Option<String>,
    running: Running,
}

/// What must stop with the server: the control loop and open watches (dropped last, so a
/// plain drop stops them too).
struct Running {
    controllers: Option<controllers::Controllers>,
    faults: Faults,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(c) = &self.controllers {
            c.stop();
        }
        self.faults.drop_watches();
    }
}

impl SimKube {
    /// Binds, seeds the namespaces, starts the controllers (if configured) and serves until
    /// `shutdown` (or drop).
    pub fn start(config: Config) -> std::io::Result<SimKube> {
        let store = Store::new(config.registry, config.history_limit);
        store.set_admission(config.admission.clone());
        if let Some(ns_res) = store.registry().find("", "v1", "namespaces") {
            for ns in &config.namespaces {
                let obj = json!({"metadata": {"name": ns}});
                store
                    .create(ns_res, None, obj, &WriteOptions::default())
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
            }
        }
        let openapi_v2 = match &config.openapi_v2 {
            Some(path) => Some(std::fs::read(path)?.into()),
            None => None,
        };
        let faults = Faults::default();
        let mut controllers = None;
        let server = Server::start("sim-kube", config.listen, |addr| {
            // On the server's runtime: the control loop runs there, not on the caller's.
            controllers = match config.controllers {
                Some(c) => Some(
                    controllers::Controllers::start(store.clone(), c)
                        .map_err(|e| std::io::Error::other(e.to_string()))?,
                ),
                None => None,
            };
            Ok(http::router(Arc::new(http::App {
                store: store.clone(),
                faults: faults.clone(),
                token: config.token.clone(),
                bookmark_interval: config.bookmark_interval,
                openapi_v2,
                server_address: addr.to_string(),
            })))
        })?;
        Ok(SimKube {
            server,
            store,
            token: config.token,
            running: Running {
                controllers,
                faults,
            },
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The running controllers, when `Config::controllers` was set.
    pub fn controllers(&self) -> Option<&controllers::Controllers> {
        self.running.controllers.as_ref()
    }

    pub fn faults(&self) -> &Faults {
        &self.running.faults
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// A kubeconfig (YAML) for `kubectl --kubeconfig` pointing at this server. Note: kubectl
    /// (client-go) does not send bearer tokens over plain `http://`; start the server without a
    /// token for kubectl. kube-rs sends them.
    pub fn kubeconfig(&self, namespace: &str) -> String {
        let user = match &self.token {
            Some(t) => format!("    token: {t}\n"),
            None => "    {}\n".to_string(),
        };
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: sim\n  cluster:\n    server: {}\ncontexts:\n- name: sim\n  context:\n    cluster: sim\n    user: sim\n    namespace: {namespace}\ncurrent-context: sim\nusers:\n- name: sim\n  user:\n{user}",
            self.url()
        )
    }
}

impl Sim for SimKube {
    fn server(&self) -> &Server {
        &self.server
    }

    /// Stops the controllers, ends open watches, stops accepting connections and waits
    /// (bounded) for the server.
    async fn shutdown(self) {
        let SimKube {
            server, running, ..
        } = self;
        if let Some(c) = &running.controllers {
            c.shutdown().await;
        }
        running.faults.drop_watches();
        server.shutdown().await;
    }
}
