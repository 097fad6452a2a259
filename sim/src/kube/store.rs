//! The object store: JSON objects keyed by (resource, namespace, name), one global
//! resourceVersion like etcd's, and a bounded history of changes that watches replay.
//!
//! Everything the HTTP layer does goes through `Store`, so in-process controllers (later:
//! Deployment -> ReplicaSet -> Pod, kubelet, Argo CD) use the same calls and produce the same
//! watch events: `create`, `get`, `list`, `update`, `update_with`, `patch`, `delete`, `watch`.
//! Writes live in `write.rs`, lists in `list.rs`, watches in `watch.rs`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::watch as notify;

use super::admission::AdmissionPolicy;
use super::registry::{Registry, ResId, ResourceType};
use super::selectors::Selectors;
use super::status::ApiError;
use super::validate::FieldValidation;
use super::watch::{ChangeType, Watcher};

/// Options of create, update and patch.
#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    /// `dryRun=All`: validate and answer, store nothing, emit no event.
    pub dry_run: bool,
    pub field_validation: FieldValidation,
    /// `Status` writes only `status` (the `/status` subresource); `Main` keeps the stored status
    /// for kinds with a status subresource.
    pub subresource: Subresource,
}

/// The stored (or, for dry runs, would-be) object and the warnings for the client.
#[derive(Clone, Debug)]
pub struct Written {
    pub object: Value,
    pub warnings: Vec<String>,
}

#[derive(Clone, Debug, Default)]
pub struct DeleteOptions {
    pub dry_run: bool,
    /// Preconditions: delete only if the stored object still has this uid / resourceVersion.
    pub uid: Option<String>,
    pub resource_version: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct ListOptions {
    pub selectors: Selectors,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
    pub resource_version: Option<String>,
    pub resource_version_match: Option<String>,
}

#[derive(Clone, Debug)]
pub struct ListResult {
    pub items: Vec<Value>,
    pub resource_version: u64,
    pub continue_token: Option<String>,
    pub remaining: Option<u64>,
}

/// Which part of an object a write targets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Subresource {
    #[default]
    Main,
    Status,
}

/// One committed change, as kept in the history.
#[derive(Clone, Debug)]
pub struct Change {
    pub rv: u64,
    /// The storage resource (views such as events.k8s.io are converted when read).
    pub res: ResId,
    pub namespace: String,
    pub name: String,
    pub kind: ChangeType,
    pub object: Value,
    /// The object before a modification (watches with selectors need it).
    pub prev: Option<Value>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Key {
    pub(crate) res: ResId,
    pub(crate) ns: String,
    pub(crate) name: String,
}

pub(crate) struct State {
    pub(crate) objects: BTreeMap<Key, Value>,
    pub(crate) rv: u64,
    pub(crate) history: VecDeque<Arc<Change>>,
    history_limit: usize,
    /// Changes after this version are all in `history`; watching from older ones is 410.
    pub(crate) oldest: u64,
    pub(crate) seq: u64,
}

/// The time source for timestamps the server writes (`creationTimestamp`, ...).
pub type TimeSource = Arc<dyn Fn() -> jiff::Timestamp + Send + Sync>;

pub(crate) struct Shared {
    pub(crate) registry: Arc<Registry>,
    /// `None`: the wall clock. Controllers install their simulated clock here.
    clock: std::sync::RwLock<Option<TimeSource>>,
    state: Mutex<State>,
    changed: notify::Sender<u64>,
    pub(crate) seed: String,
    pub(crate) namespaces: Option<ResId>,
    /// Validating admission policies every main-resource create and update passes.
    admission: std::sync::RwLock<Arc<Vec<AdmissionPolicy>>>,
}

/// A handle to the store; cheap to clone, shared by the HTTP layer and in-process controllers.
#[derive(Clone)]
pub struct Store {
    pub(crate) shared: Arc<Shared>,
}

/// Default bound on retained watch history.
pub const DEFAULT_HISTORY_LIMIT: usize = 10_000;

impl Store {
    pub fn new(registry: Registry, history_limit: usize) -> Self {
        let namespaces = registry.find("", "v1", "namespaces");
        let seed = format!(
            "{}-{}",
            std::process::id(),
            jiff::Timestamp::now().as_nanosecond()
        );
        let state = State {
            objects: BTreeMap::new(),
            rv: 1,
            history: VecDeque::new(),
            history_limit: history_limit.max(1),
            oldest: 1,
            seq: 0,
        };
        Store {
            shared: Arc::new(Shared {
                registry: Arc::new(registry),
                clock: std::sync::RwLock::new(None),
                state: Mutex::new(state),
                changed: notify::channel(1).0,
                seed,
                namespaces,
                admission: std::sync::RwLock::new(Arc::new(Vec::new())),
            }),
        }
    }

    pub fn registry(&self) -> &Registry {
        &self.shared.registry
    }

    /// The resource type of `res`, or the generic 404.
    pub fn resource(&self, res: ResId) -> Result<&ResourceType, ApiError> {
        self.shared
            .registry
            .get(res)
            .ok_or_else(ApiError::no_such_resource)
    }

    /// The resource for `apiVersion` + `kind`, e.g. ("apps/v1", "Deployment").
    pub fn res(&self, api_version: &str, kind: &str) -> Result<ResId, ApiError> {
        self.shared
            .registry
            .by_kind(api_version, kind)
            .ok_or_else(ApiError::no_such_resource)
    }

    /// Makes server-written timestamps follow `clock` (a simulated clock) instead of the wall
    /// clock, so they agree with the timestamps controllers write.
    pub fn set_clock(&self, clock: Option<TimeSource>) {
        let mut slot = self
            .shared
            .clock
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *slot = clock;
    }

    /// Installs the validating admission policies (replacing any before).
    pub fn set_admission(&self, policies: Vec<AdmissionPolicy>) {
        let mut slot = self
            .shared
            .admission
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *slot = Arc::new(policies);
    }

    /// The validating admission policies in force.
    pub fn admission(&self) -> Arc<Vec<AdmissionPolicy>> {
        self.shared
            .admission
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The current time of this store's clock.
    pub fn now(&self) -> jiff::Timestamp {
        let slot = self
            .shared
            .clock
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match slot.as_ref() {
            Some(clock) => clock(),
            None => jiff::Timestamp::now(),
        }
    }

    /// `now()` as `metav1.Time` serializes it (RFC 3339, seconds).
    pub(crate) fn now_string(&self) -> String {
        rfc3339(self.now())
    }

    /// The newest resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.lock().rv
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere must not take the whole server down with a poisoned lock.
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn subscribe(&self) -> notify::Receiver<u64> {
        self.shared.changed.subscribe()
    }

    pub(crate) fn key(&self, res: ResId, ns: Option<&str>, name: &str) -> Result<Key, ApiError> {
        let rt = self.resource(res)?;
        let ns = if rt.namespaced {
            ns.filter(|n| !n.is_empty())
                .ok_or_else(|| ApiError::bad_request("the namespace of the object is required"))?
        } else {
            ""
        };
        Ok(Key {
            res: self.shared.registry.storage_of(res),
            ns: ns.to_string(),
            name: name.to_string(),
        })
    }

    /// Converts a stored object into the shape `res` serves (only views differ).
    pub(crate) fn to_view(&self, res: ResId, obj: Value) -> Value {
        match self.shared.registry.get(res).and_then(|t| t.view.as_ref()) {
            Some(view) => (view.from_storage)(obj),
            None => obj,
        }
    }

    pub(crate) fn to_storage(&self, res: ResId, obj: Value) -> Value {
        match self.shared.registry.get(res).and_then(|t| t.view.as_ref()) {
            Some(view) => (view.to_storage)(obj),
            None => obj,
        }
    }

    pub fn get(&self, res: ResId, ns: Option<&str>, name: &str) -> Result<Value, ApiError> {
        let key = self.key(res, ns, name)?;
        let state = self.lock();
        match state.objects.get(&key) {
            Some(obj) => Ok(self.to_view(res, obj.clone())),
            None => Err(ApiError::not_found(self.resource(res)?, name)),
        }
    }

    /// Starts a watch of `res` in `ns` (all namespaces when `None`); see `Watcher`.
    pub fn watch(
        &self,
        res: ResId,
        ns: Option<&str>,
        opts: super::watch::WatchOptions,
    ) -> Result<Watcher, ApiError> {
        Watcher::start(self.clone(), res, ns, opts)
    }

    /// Objects of the storage resource of `res` in `ns`, for a watch's initial events.
    pub(crate) fn snapshot(&self, state: &State, res: ResId, ns: Option<&str>) -> Vec<Value> {
        let storage = self.shared.registry.storage_of(res);
        let start = Key {
            res: storage,
            ns: ns.unwrap_or("").to_string(),
            name: String::new(),
        };
        state
            .objects
            .range(start..)
            .take_while(|(k, _)| k.res == storage && ns.is_none_or(|n| n == k.ns))
            .map(|(_, v)| self.to_view(res, v.clone()))
            .collect()
    }

    pub(crate) fn commit(
        &self,
        state: &mut State,
        key: Key,
        kind: ChangeType,
        mut obj: Value,
        prev: Option<Value>,
    ) -> Value {
        state.rv += 1;
        let rv = state.rv;
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        match kind {
            ChangeType::Deleted => {
                state.objects.remove(&key);
            }
            _ => {
                state.objects.insert(key.clone(), obj.clone());
            }
        }
        state.history.push_back(Arc::new(Change {
            rv,
            res: key.res,
            namespace: key.ns,
            name: key.name,
            kind,
            object: obj.clone(),
            prev,
        }));
        while state.history.len() > state.history_limit {
            if let Some(dropped) = state.history.pop_front() {
                state.oldest = dropped.rv;
            }
        }
        self.shared.changed.send_replace(rv);
        obj
    }
}

pub(crate) fn finalizers_empty(obj: &Value) -> bool {
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_none_or(|f| f.is_empty())
}

pub(crate) fn str_at<'a>(obj: &'a Value, pointer: &str) -> &'a str {
    obj.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// RFC 3339 with seconds, as `metav1.Time` is serialized.
pub fn rfc3339(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A random-looking version 4 UUID, unique per store.
pub(crate) fn uid(seed: &str, seq: u64) -> String {
    let d = Sha256::digest(format!("uid-{seed}-{seq}"));
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}
