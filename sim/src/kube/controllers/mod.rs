//! Controllers that make the simulated apiserver behave like a cluster: Deployment ->
//! ReplicaSet -> Pod, StatefulSet, Job, CronJob, a scheduler, a kubelet whose containers
//! behave as the scenario says (`behaviour`), owner-reference garbage collection and the pod
//! GC of pods whose node is gone, and the ResourceQuota controller (quota admission is the
//! store's, on pod create).
//!
//! All controllers run in one control loop over the `Store`, on a `SimClock`. A pass runs
//! every controller once at the clock's current time; `settle` repeats passes until one
//! writes nothing; `step(d)` moves the clock forward, stopping at every instant a
//! controller asked to be woken (a probe, a back-off expiry, a deadline), so stepping a
//! manual clock is deterministic and as fast as the work it does. A background task settles
//! after every store change (a kube-rs patch, say) and, for a running clock, at wake-ups.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use std::time::Duration;
//! use suture_sim::kube::{Config, SimKube};
//! use suture_sim::kube::controllers::{Behaviour, ControllerConfig};
//! let sim = SimKube::start(Config {
//!     controllers: Some(ControllerConfig::default()),
//!     ..Config::default()
//! })
//! .await?;
//! let ctl = sim.controllers().expect("controllers configured");
//! ctl.behaviours().set("shop/web:1.4", Behaviour { working_set: Some("600Mi".into()), ..Default::default() });
//! ctl.step(Duration::from_secs(60)); // one simulated minute, instantly
//! # Ok(()) }
//! ```
//!
//! Simplifications, documented: one pass sees the store as it is (no informer lag); pods are
//! deleted at once (no graceful termination); probes run exactly every period from
//! `initialDelaySeconds` (no jitter); no ControllerRevisions, DaemonSets, volumes or
//! preemption.

mod behaviour;
mod clock;
mod cronjob;
mod deployment;
mod events;
mod gc;
mod job;
mod kubelet;
mod meta;
mod podgc;
mod replicaset;
mod resourcequota;
mod runtime;
mod scheduler;
mod statefulset;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use behaviour::{Behaviour, BehaviourBook, Behaviours, normalize};
pub use clock::SimClock;
pub use events::{Note, Recorder, Source};

use super::{ApiError, ListOptions, ResId, Store, Subresource, WriteOptions};

/// How the simulated cluster runs.
#[derive(Clone, Debug)]
pub struct ControllerConfig {
    /// `None`: a manual clock (moves only with `step`/`advance`); `Some(f)`: runs `f` times
    /// faster than the wall clock.
    pub speed: Option<f64>,
    /// Simulated start time (default: now on the wall clock, whole seconds).
    pub start: Option<Timestamp>,
    /// Nodes created at start (default: three 4-cpu, 8Gi nodes).
    pub nodes: Vec<NodeSpec>,
    pub behaviours: Behaviours,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            speed: None,
            start: None,
            nodes: (1..=3)
                .map(|i| NodeSpec::new(&format!("sim-node-{i}"), "4", "8Gi"))
                .collect(),
            behaviours: Behaviours::default(),
        }
    }
}

/// A node to create: allocatable cpu and memory, pod capacity, taints.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeSpec {
    pub name: String,
    pub cpu: String,
    pub memory: String,
    pub pods: u32,
    /// `(key, value, effect)`, e.g. `("dedicated", "gpu", "NoSchedule")`.
    pub taints: Vec<(String, String, String)>,
}

impl NodeSpec {
    pub fn new(name: &str, cpu: &str, memory: &str) -> Self {
        NodeSpec {
            name: name.into(),
            cpu: cpu.into(),
            memory: memory.into(),
            pods: 110,
            taints: Vec::new(),
        }
    }

    fn object(&self, index: usize, now: Timestamp) -> Value {
        let at = meta::ts(now);
        let cond = |t: &str, status: &str, reason: &str, msg: &str| {
            json!({"type": t, "status": status, "reason": reason, "message": msg,
                   "lastHeartbeatTime": at, "lastTransitionTime": at})
        };
        let resources = json!({"cpu": self.cpu, "memory": self.memory, "pods": self.pods.to_string(),
                               "ephemeral-storage": "100Gi"});
        let taints: Vec<Value> = self
            .taints
            .iter()
            .map(|(k, v, e)| json!({"key": k, "value": v, "effect": e}))
            .collect();
        json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": self.name, "labels": {
                "kubernetes.io/hostname": self.name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
            }},
            "spec": {"podCIDR": format!("10.244.{index}.0/24"), "taints": taints},
            "status": {
                "capacity": resources,
                "allocatable": resources,
                "addresses": [
                    {"type": "InternalIP", "address": format!("10.0.0.{}", index + 10)},
                    {"type": "Hostname", "address": self.name},
                ],
                "conditions": [
                    cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                    cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                    cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                    cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
                ],
                "nodeInfo": {
                    "kubeletVersion": "v1.33.1", "kubeProxyVersion": "v1.33.1",
                    "containerRuntimeVersion": "containerd://1.7.27", "operatingSystem": "linux",
                    "architecture": "amd64", "osImage": "Debian GNU/Linux 12 (bookworm)",
                    "kernelVersion": "6.1.0-31-amd64", "machineID": "", "systemUUID": "", "bootID": "",
                },
            },
        })
    }
}

/// The resources the controllers work on.
#[derive(Clone, Copy)]
pub(crate) struct Kinds {
    pub pod: ResId,
    pub node: ResId,
    pub deployment: ResId,
    pub replica_set: ResId,
    pub stateful_set: ResId,
    pub job: ResId,
    pub cron_job: ResId,
    /// `None` when the registry serves no ResourceQuotas.
    pub resource_quota: Option<ResId>,
}

impl Kinds {
    fn resolve(store: &Store) -> Result<Kinds, ApiError> {
        Ok(Kinds {
            pod: store.res("v1", "Pod")?,
            node: store.res("v1", "Node")?,
            deployment: store.res("apps/v1", "Deployment")?,
            replica_set: store.res("apps/v1", "ReplicaSet")?,
            stateful_set: store.res("apps/v1", "StatefulSet")?,
            job: store.res("batch/v1", "Job")?,
            cron_job: store.res("batch/v1", "CronJob")?,
            resource_quota: store.res("v1", "ResourceQuota").ok(),
        })
    }
}

/// What one pass sees and collects: the store, the time, the recorder, the next wake-up.
pub(crate) struct Cx<'a> {
    pub store: &'a Store,
    pub now: Timestamp,
    pub kinds: Kinds,
    pub events: &'a mut Recorder,
    pub behaviours: &'a Behaviours,
    wake: Option<Timestamp>,
}

impl Cx<'_> {
    /// Asks for a pass at `t` (ignored unless in the future).
    pub fn wake_at(&mut self, t: Timestamp) {
        if t > self.now && self.wake.is_none_or(|w| t < w) {
            self.wake = Some(t);
        }
    }

    /// Every object of `res` in all namespaces.
    pub fn list(&self, res: ResId) -> Vec<Value> {
        self.store
            .list(res, None, &ListOptions::default())
            .map(|l| l.items)
            .unwrap_or_default()
    }

    pub fn event(&mut self, at: Timestamp, note: Note<'_>) {
        self.events.record(self.store, at, note);
    }
}

/// Logs a failed write; controllers retry on the next pass, as real ones requeue.
pub(crate) fn log_err<T>(what: &str, r: Result<T, ApiError>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::debug!("sim controllers: {what}: {e}");
            None
        }
    }
}

/// Controller state that lives outside the store (the kubelet's containers, mostly).
#[derive(Default)]
struct Engine {
    recorder: Recorder,
    kubelet: kubelet::Kubelet,
    scheduler: scheduler::Scheduler,
    pod_gc: podgc::PodGc,
    replica_sets: replicaset::Backoff,
}

/// Bounds: passes per settle (a fixpoint comes in a handful), stops per step.
const MAX_PASSES: usize = 64;
const MAX_STOPS: usize = 100_000;

struct Inner {
    store: Store,
    clock: SimClock,
    behaviours: BehaviourBook,
    kinds: Kinds,
    engine: Mutex<Engine>,
    stop: Mutex<Option<oneshot::Sender<()>>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

/// A handle to the running controllers; cheap to clone.
#[derive(Clone)]
pub struct Controllers {
    inner: Arc<Inner>,
}

impl Controllers {
    /// Creates the configured nodes, points the store's timestamps at the simulated clock and
    /// starts the control loop (needs a tokio runtime).
    pub fn start(store: Store, config: ControllerConfig) -> Result<Controllers, ApiError> {
        let start = config.start.unwrap_or_else(SimClock::wall_start);
        let clock = match config.speed {
            Some(factor) => SimClock::scaled(start, factor),
            None => SimClock::manual(start),
        };
        let time = clock.clone();
        store.set_clock(Some(Arc::new(move || time.now())));
        let kinds = Kinds::resolve(&store)?;
        for (i, node) in config.nodes.iter().enumerate() {
            let obj = node.object(i + 1, clock.now());
            let status = obj.get("status").cloned().unwrap_or_default();
            match store.create(kinds.node, None, obj, &WriteOptions::default()) {
                Ok(_) => {}
                Err(e) if e.code == 409 => continue,
                Err(e) => return Err(e),
            }
            // The status subresource drops `status` on create; the node's kubelet posts it.
            store.update_with(kinds.node, None, &node.name, Subresource::Status, |n| {
                n["status"] = status
            })?;
        }
        let controllers = Controllers {
            inner: Arc::new(Inner {
                store,
                clock,
                behaviours: BehaviourBook::new(config.behaviours),
                kinds,
                engine: Mutex::new(Engine::default()),
                stop: Mutex::new(None),
                task: Mutex::new(None),
            }),
        };
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(run(controllers.clone(), rx));
        *lock(&controllers.inner.stop) = Some(tx);
        *lock(&controllers.inner.task) = Some(task);
        Ok(controllers)
    }

    pub fn clock(&self) -> &SimClock {
        &self.inner.clock
    }

    pub fn behaviours(&self) -> &BehaviourBook {
        &self.inner.behaviours
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    /// Runs passes at the current time until the controllers write nothing more. Returns
    /// the next instant a controller wants to act at.
    pub fn settle(&self) -> Option<Timestamp> {
        let mut engine = lock(&self.inner.engine);
        self.settle_locked(&mut engine)
    }

    fn settle_locked(&self, engine: &mut Engine) -> Option<Timestamp> {
        let behaviours = self.inner.behaviours.snapshot();
        let mut wake = None;
        for _ in 0..MAX_PASSES {
            let before = self.inner.store.resource_version();
            wake = self.pass(engine, &behaviours);
            if self.inner.store.resource_version() == before {
                return wake;
            }
        }
        tracing::warn!("sim controllers: no fixpoint after {MAX_PASSES} passes");
        wake
    }

    fn pass(&self, engine: &mut Engine, behaviours: &Behaviours) -> Option<Timestamp> {
        let Engine {
            recorder,
            kubelet,
            scheduler,
            pod_gc,
            replica_sets,
        } = engine;
        let mut cx = Cx {
            store: &self.inner.store,
            now: self.inner.clock.now(),
            kinds: self.inner.kinds,
            events: recorder,
            behaviours,
            wake: None,
        };
        pod_gc.sync(&mut cx);
        gc::sync(&mut cx);
        cronjob::sync(&mut cx);
        job::sync(&mut cx);
        deployment::sync(&mut cx);
        replicaset::sync(&mut cx, replica_sets);
        statefulset::sync(&mut cx);
        scheduler.sync(&mut cx);
        kubelet.sync(&mut cx);
        resourcequota::sync(&mut cx);
        cx.wake
    }

    /// Moves the clock forward by `d`, settling at every wake-up on the way; the controllers
    /// are quiescent at the end.
    pub fn step(&self, d: Duration) {
        let mut engine = lock(&self.inner.engine);
        let target = clock::plus(self.inner.clock.now(), d.as_secs_f64());
        for _ in 0..MAX_STOPS {
            match self.settle_locked(&mut engine) {
                Some(next) if next <= target => self.inner.clock.advance_to(next),
                _ => break,
            }
        }
        self.inner.clock.advance_to(target);
        self.settle_locked(&mut engine);
    }

    /// Starts a Job from CronJob `ns/name` now, like `kubectl create job --from=cronjob/...`.
    /// Returns the Job's name.
    pub fn trigger(&self, ns: &str, name: &str) -> Result<String, ApiError> {
        let mut engine = lock(&self.inner.engine);
        let behaviours = self.inner.behaviours.snapshot();
        let mut cx = Cx {
            store: &self.inner.store,
            now: self.inner.clock.now(),
            kinds: self.inner.kinds,
            events: &mut engine.recorder,
            behaviours: &behaviours,
            wake: None,
        };
        let job = cronjob::trigger(&mut cx, ns, name)?;
        self.settle_locked(&mut engine);
        Ok(job)
    }

    /// Stops the control loop (objects stay as they are).
    pub async fn shutdown(&self) {
        if let Some(tx) = lock(&self.inner.stop).take() {
            let _ = tx.send(());
        }
        let task = lock(&self.inner.task).take();
        if let Some(task) = task {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }

    /// Stops the loop without waiting (for `Drop`).
    pub fn stop(&self) {
        if let Some(tx) = lock(&self.inner.stop).take() {
            let _ = tx.send(());
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The background loop: settle after every store change or clock move, and at wake-ups of a
/// running clock.
async fn run(ctl: Controllers, mut stop: oneshot::Receiver<()>) {
    let mut changes = ctl.inner.store.subscribe();
    let mut moves = ctl.inner.clock.subscribe();
    loop {
        changes.borrow_and_update();
        moves.borrow_and_update();
        let next = ctl.settle();
        // A manual clock never reaches a wake-up by itself; an hour is "until told".
        let idle = next
            .and_then(|t| ctl.inner.clock.wall_delay_until(t))
            .unwrap_or(Duration::from_secs(3600));
        tokio::select! {
            _ = &mut stop => return,
            r = changes.changed() => if r.is_err() { return },
            r = moves.changed() => if r.is_err() { return },
            _ = tokio::time::sleep(idle) => {}
        }
    }
}
