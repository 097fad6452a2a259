//! The object store: JSON objects keyed by (resource, namespace, name), one global
//! resourceVersion like etcd's, and a bounded history of changes that watches replay.
//!
//! Everything the HTTP layer does goes through `Store`, so in-process controllers (later:
//! Deployment -> ReplicaSet -> Pod, kubelet, Argo CD) use the same calls and produce the same
//! watch events: `create`, `get`, `list`, `update`, `update_with`, `patch`, `delete`, `watch`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::watch as notify;

use super::defaults;
use super::patch::{self, PatchType};
use super::registry::{Registry, ResId, ResourceType};
use super::selectors::Selectors;
use super::status::{ApiError, Reason, cause};
use super::validate::{self, FieldValidation};
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
struct Key {
    res: ResId,
    ns: String,
    name: String,
}

pub(crate) struct State {
    objects: BTreeMap<Key, Value>,
    pub(crate) rv: u64,
    pub(crate) history: VecDeque<Arc<Change>>,
    history_limit: usize,
    /// Changes after this version are all in `history`; watching from older ones is 410.
    pub(crate) oldest: u64,
    seq: u64,
}

struct Shared {
    registry: Arc<Registry>,
    state: Mutex<State>,
    changed: notify::Sender<u64>,
    seed: String,
    namespaces: Option<ResId>,
}

/// A handle to the store; cheap to clone, shared by the HTTP layer and in-process controllers.
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
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
                state: Mutex::new(state),
                changed: notify::channel(1).0,
                seed,
                namespaces,
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

    fn key(&self, res: ResId, ns: Option<&str>, name: &str) -> Result<Key, ApiError> {
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

    fn to_storage(&self, res: ResId, obj: Value) -> Value {
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

    pub fn create(
        &self,
        res: ResId,
        ns: Option<&str>,
        mut obj: Value,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        let rt = self.resource(res)?;
        check_body(rt, ns, &mut obj)?;
        let mut state = self.lock();
        let name = str_at(&obj, "/metadata/name").to_string();
        let name = if name.is_empty() {
            let prefix = str_at(&obj, "/metadata/generateName").to_string();
            if prefix.is_empty() {
                return Err(ApiError::invalid(
                    rt,
                    "",
                    vec![cause(
                        "FieldValueRequired",
                        "metadata.name",
                        "Required value: name or generateName is required",
                    )],
                ));
            }
            self.generate_name(&mut state, res, ns, &prefix)?
        } else {
            name
        };
        obj["metadata"]["name"] = json!(name);
        let key = self.key(res, ns, &name)?;
        if rt.namespaced {
            self.require_namespace(&state, &key.ns)?;
        }
        // Like the real server: a create must not carry a resourceVersion (exported objects).
        let rv = str_at(&obj, "/metadata/resourceVersion");
        if !rv.is_empty() {
            let msg = format!("Invalid value: \"{rv}\": must be empty");
            let c = cause("FieldValueInvalid", "metadata.resourceVersion", msg);
            return Err(ApiError::invalid(rt, &name, vec![c]));
        }
        let metadata = obj["metadata"].as_object_mut();
        if let Some(meta) = metadata {
            for system in [
                "uid",
                "resourceVersion",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
                "managedFields",
                "selfLink",
            ] {
                meta.remove(system);
            }
        }
        if rt.status_subresource
            && let Some(map) = obj.as_object_mut()
        {
            map.remove("status");
        }
        defaults::apply(rt, &mut obj);
        if rt.group.is_empty() && rt.kind == "Pod" {
            obj["status"] = defaults::new_pod_status(&obj);
        }
        let warnings = validate::shape(rt, &mut obj, opts.field_validation)?;
        validate::semantics(rt, &obj, None)?;
        if state.objects.contains_key(&key) {
            return Err(ApiError::already_exists(rt, &name));
        }
        state.seq += 1;
        let uid = uid(&self.shared.seed, state.seq);
        let meta = &mut obj["metadata"];
        meta["uid"] = json!(uid);
        meta["creationTimestamp"] = json!(now());
        if rt.generation {
            meta["generation"] = json!(1);
        }
        if opts.dry_run {
            return Ok(Written {
                object: obj,
                warnings,
            });
        }
        let stored = self.commit(
            &mut state,
            key,
            ChangeType::Added,
            self.to_storage(res, obj),
            None,
        );
        Ok(Written {
            object: self.to_view(res, stored),
            warnings,
        })
    }

    /// PUT: replaces the object (or only its status), checking `metadata.resourceVersion`.
    pub fn update(
        &self,
        res: ResId,
        ns: Option<&str>,
        name: &str,
        mut obj: Value,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        let rt = self.resource(res)?;
        check_body(rt, ns, &mut obj)?;
        let mut state = self.lock();
        self.update_locked(&mut state, res, ns, name, obj, opts)
    }

    /// Read-modify-write under the store lock, for in-process controllers: `f` edits the current
    /// object; no conflict is possible.
    pub fn update_with(
        &self,
        res: ResId,
        ns: Option<&str>,
        name: &str,
        sub: Subresource,
        f: impl FnOnce(&mut Value),
    ) -> Result<Written, ApiError> {
        let key = self.key(res, ns, name)?;
        let mut state = self.lock();
        let rt = self.resource(res)?;
        let mut obj = match state.objects.get(&key) {
            Some(o) => self.to_view(res, o.clone()),
            None => return Err(ApiError::not_found(rt, name)),
        };
        f(&mut obj);
        check_body(rt, ns, &mut obj)?;
        let opts = WriteOptions {
            subresource: sub,
            ..WriteOptions::default()
        };
        self.update_locked(&mut state, res, ns, name, obj, &opts)
    }

    pub fn patch(
        &self,
        res: ResId,
        ns: Option<&str>,
        name: &str,
        body: &Value,
        kind: PatchType,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        let rt = self.resource(res)?;
        let key = self.key(res, ns, name)?;
        let mut state = self.lock();
        let current = match state.objects.get(&key) {
            Some(o) => self.to_view(res, o.clone()),
            None => return Err(ApiError::not_found(rt, name)),
        };
        let mut patched = patch::apply(&current, body, kind, rt.typed.is_some())?;
        check_body(rt, ns, &mut patched)?;
        self.update_locked(&mut state, res, ns, name, patched, opts)
    }

    fn update_locked(
        &self,
        state: &mut State,
        res: ResId,
        ns: Option<&str>,
        name: &str,
        mut obj: Value,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        let rt = self.resource(res)?;
        let body_name = str_at(&obj, "/metadata/name").to_string();
        if body_name.is_empty() {
            obj["metadata"]["name"] = json!(name);
        } else if body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        let key = self.key(res, ns, name)?;
        let old = match state.objects.get(&key) {
            Some(o) => self.to_view(res, o.clone()),
            None => return Err(ApiError::not_found(rt, name)),
        };
        let old_rv = str_at(&old, "/metadata/resourceVersion").to_string();
        let body_rv = str_at(&obj, "/metadata/resourceVersion").to_string();
        if !body_rv.is_empty() && body_rv != old_rv {
            return Err(ApiError::conflict(rt, name));
        }
        let mut new = match opts.subresource {
            Subresource::Main => {
                if rt.status_subresource {
                    set_or_remove(&mut obj, "status", old.get("status").cloned());
                }
                obj
            }
            Subresource::Status => {
                let mut merged = old.clone();
                set_or_remove(&mut merged, "status", obj.get("status").cloned());
                merged
            }
        };
        // System metadata is owned by the server.
        for field in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ] {
            let kept = old.pointer(&format!("/metadata/{field}")).cloned();
            if let Some(meta) = new.get_mut("metadata") {
                set_or_remove(meta, field, kept);
            }
        }
        new["metadata"]["resourceVersion"] = json!(old_rv);
        defaults::apply(rt, &mut new);
        let warnings = validate::shape(rt, &mut new, opts.field_validation)?;
        validate::semantics(rt, &new, Some(&old))?;
        if rt.generation && without_meta_status(&new) != without_meta_status(&old) {
            let generation = old
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            new["metadata"]["generation"] = json!(generation + 1);
        }
        // A no-op write stores nothing and emits no event, like etcd's GuaranteedUpdate.
        if new == old || opts.dry_run {
            return Ok(Written {
                object: new,
                warnings,
            });
        }
        let terminating = new.pointer("/metadata/deletionTimestamp").is_some();
        let kind = if terminating && finalizers_empty(&new) {
            ChangeType::Deleted
        } else {
            ChangeType::Modified
        };
        let prev = self.to_storage(res, old);
        let stored = self.commit(state, key, kind, self.to_storage(res, new), Some(prev));
        Ok(Written {
            object: self.to_view(res, stored),
            warnings,
        })
    }

    /// DELETE: removes the object, or marks it with `deletionTimestamp` while finalizers remain.
    /// Deleting a namespace deletes everything in it first.
    pub fn delete(
        &self,
        res: ResId,
        ns: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Value, ApiError> {
        let rt = self.resource(res)?;
        let key = self.key(res, ns, name)?;
        let mut state = self.lock();
        let Some(current) = state.objects.get(&key).cloned() else {
            return Err(ApiError::not_found(rt, name));
        };
        if let Some(uid) = &opts.uid {
            let have = str_at(&current, "/metadata/uid");
            if uid != have {
                return Err(ApiError::conflict_because(
                    rt,
                    name,
                    &format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {have}"
                    ),
                ));
            }
        }
        if let Some(rv) = &opts.resource_version {
            let have = str_at(&current, "/metadata/resourceVersion");
            if rv != have {
                return Err(ApiError::conflict_because(
                    rt,
                    name,
                    &format!(
                        "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {have}"
                    ),
                ));
            }
        }
        if opts.dry_run {
            return Ok(self.to_view(res, current));
        }
        if Some(key.res) == self.shared.namespaces {
            self.delete_namespace_contents(&mut state, name);
        }
        let out = self.delete_locked(&mut state, key, current);
        Ok(self.to_view(res, out))
    }

    fn delete_locked(&self, state: &mut State, key: Key, current: Value) -> Value {
        if finalizers_empty(&current) {
            return self.commit(state, key, ChangeType::Deleted, current, None);
        }
        if current.pointer("/metadata/deletionTimestamp").is_some() {
            return current;
        }
        let mut marked = current.clone();
        marked["metadata"]["deletionTimestamp"] = json!(now());
        marked["metadata"]["deletionGracePeriodSeconds"] = json!(0);
        self.commit(state, key, ChangeType::Modified, marked, Some(current))
    }

    fn delete_namespace_contents(&self, state: &mut State, ns: &str) {
        let keys: Vec<(Key, Value)> = state
            .objects
            .iter()
            .filter(|(k, _)| k.ns == ns)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (key, obj) in keys {
            self.delete_locked(state, key, obj);
        }
    }

    /// Lists `res` in `ns` (all namespaces when `None`), in key order, with pagination.
    pub fn list(
        &self,
        res: ResId,
        ns: Option<&str>,
        opts: &ListOptions,
    ) -> Result<ListResult, ApiError> {
        let rt = self.resource(res)?;
        let storage = self.shared.registry.storage_of(res);
        let ns = if rt.namespaced {
            ns.filter(|n| !n.is_empty())
        } else {
            None
        };
        let state = self.lock();
        let token = opts
            .continue_token
            .as_deref()
            .filter(|t| !t.is_empty())
            .map(decode_continue)
            .transpose()?;
        let list_rv = match &token {
            Some((rv, _, _)) => {
                if *rv < state.oldest {
                    return Err(ApiError::expired(
                        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
                    ));
                }
                *rv
            }
            None => {
                check_list_rv(&state, opts)?;
                state.rv
            }
        };
        let start = match &token {
            Some((_, tns, tname)) => Key {
                res: storage,
                ns: tns.clone(),
                name: tname.clone(),
            },
            None => Key {
                res: storage,
                ns: ns.unwrap_or("").to_string(),
                name: String::new(),
            },
        };
        let limit = opts.limit.filter(|l| *l > 0);
        let mut items = Vec::new();
        let mut last: Option<Key> = None;
        let mut more = 0u64;
        for (key, obj) in state.objects.range(start..) {
            if key.res != storage || ns.is_some_and(|n| n != key.ns) {
                break;
            }
            if token
                .as_ref()
                .is_some_and(|(_, tns, tname)| key.ns == *tns && key.name == *tname)
            {
                continue;
            }
            let view = self.to_view(res, obj.clone());
            if !opts.selectors.matches(&view) {
                continue;
            }
            if limit.is_some_and(|l| items.len() >= l) {
                more += 1;
                continue;
            }
            last = Some(key.clone());
            items.push(view);
        }
        let continue_token = match (more, last) {
            (0, _) | (_, None) => None,
            (_, Some(k)) => Some(encode_continue(list_rv, &k.ns, &k.name)),
        };
        let remaining = (continue_token.is_some() && opts.selectors.is_empty()).then_some(more);
        Ok(ListResult {
            items,
            resource_version: list_rv,
            continue_token,
            remaining,
        })
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

    fn commit(
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

    fn require_namespace(&self, state: &State, ns: &str) -> Result<(), ApiError> {
        let Some(ns_res) = self.shared.namespaces else {
            return Ok(());
        };
        let key = Key {
            res: ns_res,
            ns: String::new(),
            name: ns.to_string(),
        };
        if state.objects.contains_key(&key) {
            return Ok(());
        }
        let rt = self.resource(ns_res)?;
        Err(ApiError::not_found(rt, ns))
    }

    fn generate_name(
        &self,
        state: &mut State,
        res: ResId,
        ns: Option<&str>,
        prefix: &str,
    ) -> Result<String, ApiError> {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        for _ in 0..16 {
            state.seq += 1;
            let digest = Sha256::digest(format!("{}-{}", self.shared.seed, state.seq));
            let suffix: String = digest
                .iter()
                .take(5)
                .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
                .collect();
            let name = format!("{prefix}{suffix}");
            if !state.objects.contains_key(&self.key(res, ns, &name)?) {
                return Ok(name);
            }
        }
        Err(ApiError::new(
            Reason::AlreadyExists,
            "could not generate a unique name",
        ))
    }
}

/// Checks apiVersion/kind/namespace of a request body against the URL and fills them in.
fn check_body(rt: &ResourceType, ns: Option<&str>, obj: &mut Value) -> Result<(), ApiError> {
    let Some(map) = obj.as_object_mut() else {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    };
    let api_version = rt.api_version();
    match map.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("apiVersion".into(), json!(api_version));
        }
        Some(v) if v == api_version => {}
        Some(v) => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({api_version})"
            )));
        }
    }
    match map.get("kind").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("kind".into(), json!(rt.kind));
        }
        Some(k) if k == rt.kind => {}
        Some(k) => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                rt.kind
            )));
        }
    }
    let meta = map.entry("metadata").or_insert_with(|| json!({}));
    let Some(meta) = meta.as_object_mut() else {
        return Err(ApiError::bad_request("metadata must be an object"));
    };
    if rt.namespaced {
        let url_ns = ns.unwrap_or("");
        match meta.get("namespace").and_then(Value::as_str) {
            None | Some("") => {
                meta.insert("namespace".into(), json!(url_ns));
            }
            Some(body_ns) if body_ns == url_ns => {}
            Some(_) => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
        }
    } else {
        meta.remove("namespace");
    }
    Ok(())
}

/// `list` with a resourceVersion: any version not newer than ours is served from the current
/// state; `resourceVersionMatch=Exact` can only be served for the current version.
fn check_list_rv(state: &State, opts: &ListOptions) -> Result<(), ApiError> {
    let Some(rv) = opts.resource_version.as_deref().filter(|s| !s.is_empty()) else {
        return Ok(());
    };
    let requested: u64 = rv
        .parse()
        .map_err(|_| ApiError::bad_request(format!("resourceVersion: Invalid value: \"{rv}\"")))?;
    match opts.resource_version_match.as_deref().unwrap_or("") {
        "Exact" if requested != state.rv => Err(ApiError::too_old(requested, state.rv)),
        "" | "NotOlderThan" | "Exact" => Ok(()),
        other => Err(ApiError::bad_request(format!(
            "resourceVersionMatch: Unsupported value: \"{other}\""
        ))),
    }
}

fn encode_continue(rv: u64, ns: &str, name: &str) -> String {
    format!("{rv}:{ns}/{name}")
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn decode_continue(token: &str) -> Result<(u64, String, String), ApiError> {
    let bad = || {
        ApiError::bad_request("continue key is not valid: incorrect encoded start resourceVersion")
    };
    if !token.len().is_multiple_of(2) || !token.is_ascii() {
        return Err(bad());
    }
    let bytes = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&token[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (rv, rest) = text.split_once(':').ok_or_else(bad)?;
    let (ns, name) = rest.split_once('/').ok_or_else(bad)?;
    Ok((
        rv.parse().map_err(|_| bad())?,
        ns.to_string(),
        name.to_string(),
    ))
}

pub(crate) fn str_at<'a>(obj: &'a Value, pointer: &str) -> &'a str {
    obj.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn set_or_remove(obj: &mut Value, key: &str, value: Option<Value>) {
    if let Some(map) = obj.as_object_mut() {
        match value {
            Some(v) => {
                map.insert(key.to_string(), v);
            }
            None => {
                map.remove(key);
            }
        }
    }
}

fn without_meta_status(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(map) = v.as_object_mut() {
        map.remove("metadata");
        map.remove("status");
    }
    v
}

fn finalizers_empty(obj: &Value) -> bool {
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_none_or(|f| f.is_empty())
}

/// RFC 3339 with seconds, as `metav1.Time` is serialized.
pub(crate) fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// A random-looking version 4 UUID, unique per store.
fn uid(seed: &str, seq: u64) -> String {
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
